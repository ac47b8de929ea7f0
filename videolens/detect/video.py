"""``videolens detect``: detection, tracking, counting and anonymisation over a video, streamed to files.

One pass through the video (the analyzer loop of :func:`videolens.stream.run_analyzers`), with bounded memory: rows go
to ``detections.csv``, ``detections.json``, ``tracks.txt`` and ``counts.csv`` as frames are processed, and frames
to ``annotated.mp4`` (with the source's audio). Every file is written under a temporary name; if the run stops
part-way (a damaged file, an interrupt) the files are still completed with what was done, and
``detections.json`` says ``"complete": false`` and why.

With ``stride`` N the detector runs on every N-th frame, and the annotated video still has every frame: boxes of
tracked objects are interpolated between detections, others carried. With ``anonymize``, faces are found on the
same frames and hidden on *every* output frame: between two detections each face's box is interpolated (and
grown by the motion in between), and a face seen on only one side of the gap is hidden across all of it.

>>> from videolens.detect import load_detector, detect_video
>>> result = detect_video("street.mp4", "out/street", load_detector("people-hog"), tracker="bytetrack",
...                       lines=[((0, 300), (640, 300))])                   # doctest: +SKIP
>>> result.counts["lines"][0]["in"]                                          # doctest: +SKIP
12
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.analyzer import Analyzer
from ..stream import run_analyzers
from ..errors import VideoError, VideolensError
from ..utils.files import check_writable, temp_path_for
from .annotate import Anonymizer, BoxAnnotator, draw_line, draw_zone
from ..core.detections import Detections, box_iou
from .zones import LineCounter, ZoneCounter

FORMATS = ("csv", "json", "mot", "mp4")
CSV_COLUMNS = ["frame", "time", "track_id", "class", "score", "x1", "y1", "x2", "y2"]


def output_files(formats, tracker: bool, counting: bool) -> dict[str, str]:
    """Which files a run writes: format -> file name."""
    names = {}
    if "csv" in formats:
        names["csv"] = "detections.csv"
        if counting:
            names["counts"] = "counts.csv"
    if "json" in formats:
        names["json"] = "detections.json"
    if "mot" in formats and tracker:
        names["mot"] = "tracks.txt"
    if "mp4" in formats:
        names["mp4"] = "annotated.mp4"
    return names


class _StreamFile:
    """A text file written under a temporary name and moved into place by ``close``."""

    def __init__(self, path: Path):
        self.path = path
        self.tmp = temp_path_for(path)
        self.f = open(self.tmp, "w", encoding="utf-8", newline="")

    def write(self, text: str) -> None:
        self.f.write(text)

    def close(self) -> None:
        self.f.close()
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        self.f.close()
        if os.path.exists(self.tmp):
            os.remove(self.tmp)


@dataclass
class VideoDetectionResult:
    """What ``detect_video`` returns (and ``--json`` prints): counts, tracks, files, timings."""

    video: str
    frames: int
    frames_analyzed: int
    detections: int
    classes: dict[str, int]
    tracks: list[dict]
    counts: dict
    files: dict[str, str]
    model: str
    tracker: str | None
    stride: int
    seconds: float
    complete: bool = True
    error: str | None = None
    faces_hidden: int = 0
    timings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"video": self.video, "complete": self.complete, "error": self.error, "model": self.model,
                "tracker": self.tracker, "stride": self.stride, "frames": self.frames,
                "frames_analyzed": self.frames_analyzed, "detections": self.detections, "classes": self.classes,
                "tracks": self.tracks, "counts": self.counts, "faces_hidden": self.faces_hidden,
                "files": self.files, "seconds": round(self.seconds, 3), "timings": self.timings}


def _interpolate(a: Detections, b: Detections, alpha: float) -> Detections:
    """Boxes at fraction ``alpha`` of the way from ``a`` to ``b``, pairing boxes by track id (others: ``a``)."""
    if len(a) == 0:
        return a
    out = a.copy()
    if len(b) == 0:
        return out
    ids_b = {int(t): k for k, t in enumerate(b.track_ids.tolist()) if t >= 0}
    for k, t in enumerate(a.track_ids.tolist()):
        j = ids_b.get(int(t)) if t >= 0 else None
        if j is not None:
            out.xyxy[k] = (1 - alpha) * a.xyxy[k] + alpha * b.xyxy[j]
    return out


def _face_boxes_between(a: Detections, b: Detections, alpha: float, steps: int) -> np.ndarray:
    """Face boxes to hide on a frame at fraction ``alpha`` between detections ``a`` and ``b``.

    Faces are paired by IoU or, failing that, by centre distance within two face sizes; a pair's box is
    interpolated and grown by one step of its motion on each side; an unpaired face is hidden where it was seen.
    """
    if len(a) == 0 and len(b) == 0:
        return np.zeros((0, 4), np.float32)
    pairs, un_a, un_b = [], set(range(len(a))), set(range(len(b)))
    if len(a) and len(b):
        from ..track.matching import linear_assignment

        ca = (a.xyxy[:, :2] + a.xyxy[:, 2:]) / 2
        cb = (b.xyxy[:, :2] + b.xyxy[:, 2:]) / 2
        size = np.maximum((a.xyxy[:, 2:] - a.xyxy[:, :2]).max(1)[:, None], (b.xyxy[:, 2:] - b.xyxy[:, :2]).max(1)[None])
        dist = np.linalg.norm(ca[:, None] - cb[None], axis=2) / np.maximum(size, 1)
        cost = np.where(box_iou(a.xyxy, b.xyxy) > 0, 0.0, 0.5) + np.minimum(dist, 2.0) / 4
        matches, _, _ = linear_assignment(np.where(dist <= 2.0, cost, 10.0), 1.0)
        for i, j in matches.tolist():
            pairs.append((i, j))
            un_a.discard(i)
            un_b.discard(j)
    boxes = []
    for i, j in pairs:
        box = (1 - alpha) * a.xyxy[i] + alpha * b.xyxy[j]
        step = np.abs(b.xyxy[j] - a.xyxy[i]) / max(steps, 1)
        grow = np.maximum(step[[0, 1]], step[[2, 3]])
        boxes.append(box + np.concatenate([-grow, grow]))
    boxes += [a.xyxy[i] for i in sorted(un_a)] + [b.xyxy[j] for j in sorted(un_b)]
    return np.asarray(boxes, np.float32).reshape(-1, 4)


class VideoDetectionPipeline(Analyzer):
    """Detect (every ``stride``-th frame), track, count, anonymise and write; see :func:`detect_video`."""

    name = "detect"
    batch_size = 8

    def __init__(self, detector, out_dir: Path, files: dict[str, str], *, tracker=None, stride: int = 1,
                 lines: list[LineCounter] = (), zones: list[ZoneCounter] = (), face_detector=None,
                 anonymize_method: str = "blur", source: str = "", trail: int = 30):
        self.detector, self.tracker, self.det_stride = detector, tracker, int(stride)
        self.out_dir, self.files, self.source = out_dir, files, source
        self.lines, self.zones = list(lines), list(zones)
        self.faces = face_detector
        self.anonymizer = Anonymizer(anonymize_method) if face_detector is not None else None
        self.write_video = "mp4" in files
        # Frames between detections are only needed for the annotated video.
        self.stride = 1 if self.write_video else self.det_stride
        self.size = None
        self.annotator = BoxAnnotator(trail=trail)
        self.streams: dict[str, _StreamFile] = {}
        self.writer = None
        self.pending: list[tuple[int, float, np.ndarray]] = []   # frames waiting for the next detection
        self.prev: tuple[Detections, Detections] | None = None  # (objects, faces) at the last detection frame
        self.stats = {"frames_analyzed": 0, "detections": 0, "faces_hidden": 0}
        self.classes: Counter = Counter()
        self.tracks: dict[int, dict] = {}
        self.json_first = True
        self.fps = 25.0

    # ---- lifecycle -------------------------------------------------------------------------------------------
    def start(self, info) -> None:
        self.fps = float(info.fps or 25.0)
        if self.tracker is not None:
            self.tracker.reset()
            self.tracker.frame_rate = self.fps
        for c in self.lines + self.zones:
            c.reset()
        self.annotator.reset()
        self.info = info
        if "csv" in self.files:
            s = self.streams["csv"] = _StreamFile(self.out_dir / self.files["csv"])
            s.write(",".join(CSV_COLUMNS) + "\n")
        if "counts" in self.files:
            s = self.streams["counts"] = _StreamFile(self.out_dir / self.files["counts"])
            cols = ["frame", "time", "objects"]
            for line in self.lines:
                cols += [f"{line.name}_in", f"{line.name}_out"]
            cols += [f"{z.name}_count" for z in self.zones]
            s.write(",".join(cols) + "\n")
        if "mot" in self.files:
            self.streams["mot"] = _StreamFile(self.out_dir / self.files["mot"])
        if "json" in self.files:
            s = self.streams["json"] = _StreamFile(self.out_dir / self.files["json"])
            head = {"video": info.to_dict(), "model": self.detector.describe(),
                    "tracker": self.tracker.name if self.tracker else None, "stride": self.det_stride}
            s.write(json.dumps(head)[:-1] + ', "frames": [\n')
        if self.write_video:
            from ..io.writer import VideoWriter

            w, h = (info.stored_size[1], info.stored_size[0]) if info.rotation in (90, 270) else info.stored_size
            self.writer = VideoWriter(self.out_dir / self.files["mp4"], fps=self.fps, size=(w, h),
                                      audio_from=self.source if info.audio else None)

    def process(self, frames: np.ndarray, timestamps: np.ndarray, indices: np.ndarray) -> None:
        due = [k for k, i in enumerate(indices.tolist()) if i % self.det_stride == 0]
        found = self.detector.detect([frames[k] for k in due]) if due else []
        faces = []
        if self.faces is not None and due:
            faces = found if self.faces is self.detector else self.faces.detect([frames[k] for k in due])
        by_k = dict(zip(due, found))
        faces_by_k = dict(zip(due, faces))
        for k, (frame, t, i) in enumerate(zip(frames, timestamps.tolist(), indices.tolist())):
            if k in by_k:
                self._on_detection(frame, int(i), float(t), by_k[k], faces_by_k.get(k))
            elif self.write_video:
                self.pending.append((int(i), float(t), frame))

    def _on_detection(self, frame, i: int, t: float, d: Detections, faces: Detections | None) -> None:
        d.frame_index, d.timestamp = i, t
        if self.tracker is not None:
            d = self.tracker.update(d)
        self.stats["frames_analyzed"] += 1
        self.stats["detections"] += len(d)
        self.classes.update(d.class_names.tolist())
        for c in self.lines:
            c.trigger(d)
        for z in self.zones:
            z.trigger(d)
        self._write_rows(d)
        faces = faces if faces is not None else Detections.empty()
        if self.write_video:
            self._flush_pending(d, faces)
            self._write_frame(frame, t, d, faces.xyxy, update_trails=True)
        self.prev = (d, faces)

    def _flush_pending(self, nxt: Detections | None, next_faces: Detections | None) -> None:
        """Write the frames between the last detection and ``nxt`` (None: end of video, carry the last boxes)."""
        if not self.pending:
            return
        prev_d, prev_f = self.prev if self.prev is not None else (Detections.empty(), Detections.empty())
        steps = len(self.pending) + 1
        for n, (i, t, frame) in enumerate(self.pending, 1):
            alpha = n / steps
            boxes = _interpolate(prev_d, nxt, alpha) if nxt is not None else prev_d
            face_boxes = (_face_boxes_between(prev_f, next_faces if next_faces is not None else prev_f, alpha, steps)
                          if self.faces is not None else np.zeros((0, 4), np.float32))
            self._write_frame(frame, t, boxes, face_boxes, update_trails=False)
        self.pending = []

    def _write_frame(self, frame, t: float, d: Detections, face_boxes: np.ndarray, update_trails: bool) -> None:
        out = frame
        if self.anonymizer is not None and len(face_boxes):
            out = self.anonymizer.annotate(out, face_boxes)
            self.stats["faces_hidden"] += len(face_boxes)
        shown = d if self.faces is not self.detector else Detections.empty()   # anonymising faces: no face boxes
        out = self.annotator.annotate(out, shown, update_trails=update_trails)
        for c in self.lines:
            draw_line(out, c)
        for z in self.zones:
            draw_zone(out, z)
        self.writer.write(out, t)

    def _write_rows(self, d: Detections) -> None:
        i, t = d.frame_index, d.timestamp
        if "csv" in self.streams:
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            for (x1, y1, x2, y2), s, _, name, tid in d:
                w.writerow([i, f"{t:.3f}", tid, name, f"{s:.4f}", f"{x1:.2f}", f"{y1:.2f}", f"{x2:.2f}", f"{y2:.2f}"])
            self.streams["csv"].write(buf.getvalue())
        if "counts" in self.streams:
            row = [str(i), f"{t:.3f}", str(len(d))]
            for c in self.lines:
                row += [str(c.in_count), str(c.out_count)]
            row += [str(z.current) for z in self.zones]
            self.streams["counts"].write(",".join(row) + "\n")
        if "mot" in self.streams:
            from ..track.mot import mot_lines

            self.streams["mot"].write(mot_lines([d]))
        if "json" in self.streams:
            rec = {"frame": i, "time": round(t, 3), "boxes": d.to_records()}
            self.streams["json"].write(("" if self.json_first else ",\n") + json.dumps(rec))
            self.json_first = False
        for tid, name in zip(d.track_ids.tolist(), d.class_names.tolist()):
            if tid < 0:
                continue
            tr = self.tracks.get(tid)
            if tr is None:
                self.tracks[tid] = {"id": tid, "class": name, "first_frame": i, "last_frame": i,
                                    "first_time": round(t, 3), "last_time": round(t, 3), "frames": 1}
            else:
                tr["last_frame"], tr["last_time"] = i, round(t, 3)
                tr["frames"] += 1

    def finish(self) -> dict:
        if self.write_video:
            self._flush_pending(None, None)
        return self.summary()

    def summary(self) -> dict:
        return {"frames_analyzed": self.stats["frames_analyzed"], "detections": self.stats["detections"],
                "classes": dict(sorted(self.classes.items())), "tracks": [self.tracks[k] for k in sorted(self.tracks)],
                "counts": {"lines": [c.to_dict() for c in self.lines], "zones": [z.to_dict() for z in self.zones]},
                "faces_hidden": self.stats["faces_hidden"]}

    def close(self, complete: bool, error: str | None) -> None:
        """Complete every file with what was done so far (also after an error), and move it into place."""
        if "json" in self.streams:
            tail = {"summary": self.summary(), "complete": complete, "error": error}
            self.streams["json"].write("\n], " + json.dumps(tail)[1:] + "\n")
        for s in self.streams.values():
            s.close()
        self.streams = {}
        if self.writer is not None:
            try:
                self.writer.close()
            except VideoError:   # no frame got written before the error: nothing to keep
                pass
            self.writer = None


def detect_video(path: str | os.PathLike, out_dir: str | os.PathLike, detector, *, tracker: str | None = None,
                 stride: int = 1, lines=(), zones=(), anonymize: bool = False, anonymize_method: str = "blur",
                 formats=("csv", "json", "mot", "mp4"), overwrite: bool = False, quiet: bool = False,
                 anchor: str = "center", tracker_settings: dict | None = None, face_detector=None,
                 trail: int = 30) -> VideoDetectionResult:
    """Run ``detector`` over a video and write the ``detect`` outputs into ``out_dir``.

    ``lines``: ``[((x1, y1), (x2, y2)), ...]`` counting lines; ``zones``: ``[[(x, y), ...], ...]`` polygons.
    ``anonymize`` hides faces (found with MTCNN, or with ``detector`` itself when it is the face detector).
    ``formats``: any of ``csv`` (detections.csv, counts.csv), ``json``, ``mot`` (tracks.txt, with a tracker),
    ``mp4`` (annotated.mp4).
    """
    from ..io.reader import VideoReader

    path = os.fspath(path)
    if stride < 1:
        raise VideolensError(f"--stride must be >= 1, not {stride}")
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise VideolensError(f"--format {','.join(sorted(unknown))}: detect writes {', '.join(FORMATS)} (or all)")
    if anonymize and "mp4" not in formats:
        raise VideolensError("--anonymize hides faces in annotated.mp4: keep mp4 among the formats")
    reader = VideoReader(path)       # a bad or empty file fails here, before any output exists
    out = Path(out_dir)
    line_counters = [c if isinstance(c, LineCounter) else LineCounter(c[0], c[1], anchor=anchor,
                                                                      name=f"line{k + 1}")
                     for k, c in enumerate(lines)]
    zone_counters = [z if isinstance(z, ZoneCounter) else ZoneCounter(z, anchor=anchor, name=f"zone{k + 1}")
                     for k, z in enumerate(zones)]
    if (line_counters or zone_counters) and not tracker:
        raise VideolensError("--line and --zone count tracked objects: add --tracker bytetrack (or sort)")
    files = output_files(formats, bool(tracker), bool(line_counters or zone_counters))
    out.mkdir(parents=True, exist_ok=True)
    for name in files.values():
        check_writable(out / name, overwrite)
    trk = None
    if tracker:
        from ..track import create_tracker

        trk = create_tracker(tracker, **(tracker_settings or {}))
    faces = None
    if anonymize:
        from .detectors import FaceDetector, load_detector

        faces = face_detector or (detector if isinstance(detector, FaceDetector) else load_detector("faces"))
    pipeline = VideoDetectionPipeline(detector, out, files, tracker=trk, stride=stride, lines=line_counters,
                                      zones=zone_counters, face_detector=faces, anonymize_method=anonymize_method,
                                      source=path, trail=trail)
    t0 = time.perf_counter()
    complete, error = True, None
    run = None
    try:
        run = run_analyzers(reader, [pipeline], quiet=quiet, desc=os.path.basename(path))
        summary = run.results[pipeline.name]
    except BaseException as e:
        complete = False
        error = f"{type(e).__name__}: {e}" if not isinstance(e, VideolensError) else str(e)
        try:
            pipeline.close(False, error)
        except Exception:  # noqa: BLE001 - keep the original error
            for s in pipeline.streams.values():
                s.discard()
        raise
    finally:
        if complete:
            pipeline.close(True, None)
    return VideoDetectionResult(
        video=path, frames=len(reader), frames_analyzed=summary["frames_analyzed"], detections=summary["detections"],
        classes=summary["classes"], tracks=summary["tracks"], counts=summary["counts"],
        files={k: str(out / v) for k, v in files.items()}, model=detector.name,
        tracker=tracker, stride=stride, seconds=time.perf_counter() - t0, complete=complete, error=error,
        faces_hidden=summary["faces_hidden"], timings=run.timings if run else {})
