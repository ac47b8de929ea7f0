"""``videolens detect``: detection, tracking, counting and anonymisation over a video, streamed to files.

One pass through the video (the analyzer loop of :func:`videolens.stream.run_analyzers`), with bounded memory: rows go
to ``detections.csv``, ``detections.json``, ``tracks.txt`` and ``counts.csv`` as frames are processed, and frames
to ``annotated.mp4`` (with the source's audio). Every file is written under a temporary name; if the run stops
part-way (a damaged file, an interrupt) the files are still completed with what was done, and
``detections.json`` says ``"complete": false`` and why. On a full disk nothing can be completed: the files are
removed and the error (:class:`~videolens.errors.DiskFullError`) names the one that did not fit.

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

import contextlib
import csv
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.analyzer import Analyzer
from ..core.detections import Detections, box_iou
from ..errors import DiskFullError, VideoError, VideolensError, disk_full
from ..report.draw import Anonymizer, BoxAnnotator, draw_line, draw_zone
from ..stream import run_analyzers
from ..utils.files import check_writable, disk_errors, final_name, temp_path_for
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
        with disk_errors(self.path):
            self.f.write(text)

    def close(self) -> None:
        with disk_errors(self.path):
            self.f.close()
            os.replace(self.tmp, self.path)

    def discard(self) -> None:
        try:
            self.f.close()
        except OSError:      # its last buffer would not fit either
            pass
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


class DetectionFiles:
    """``detections.csv``, ``counts.csv``, ``tracks.txt`` and ``detections.json``, written row by row as frames are
    analyzed (a sink of :class:`~videolens.detect.analyzers.ObjectsAnalyzer`), each under a temporary name."""

    def __init__(self, out_dir: Path, files: dict[str, str], head: dict, lines=(), zones=()):
        self.lines, self.zones = list(lines), list(zones)
        self.streams: dict[str, _StreamFile] = {}
        if "csv" in files:
            self.streams["csv"] = _StreamFile(out_dir / files["csv"])
            self.streams["csv"].write(",".join(CSV_COLUMNS) + "\n")
        if "counts" in files:
            cols = ["frame", "time", "objects"]
            for line in self.lines:
                cols += [f"{line.name}_in", f"{line.name}_out"]
            cols += [f"{z.name}_count" for z in self.zones]
            self.streams["counts"] = _StreamFile(out_dir / files["counts"])
            self.streams["counts"].write(",".join(cols) + "\n")
        if "mot" in files:
            self.streams["mot"] = _StreamFile(out_dir / files["mot"])
        if "json" in files:
            self.streams["json"] = _StreamFile(out_dir / files["json"])
            self.streams["json"].write(json.dumps(head)[:-1] + ', "frames": [\n')
        self._json_first = True

    def write(self, d: Detections) -> None:
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
            self.streams["json"].write(("" if self._json_first else ",\n") + json.dumps(rec))
            self._json_first = False

    def close(self, summary: dict, complete: bool, error: str | None) -> None:
        """Complete every file with what was done (also after an error) and move it into place."""
        try:
            if "json" in self.streams:
                tail = {"summary": summary, "complete": complete, "error": error}
                self.streams["json"].write("\n], " + json.dumps(tail)[1:] + "\n")
            while self.streams:
                key = next(iter(self.streams))
                self.streams[key].close()
                del self.streams[key]
        except BaseException:
            self.discard()          # the files not yet moved into place
            raise

    def discard(self) -> None:
        for s in self.streams.values():
            s.discard()
        self.streams = {}


class AnnotatedVideo(Analyzer):
    """``annotated.mp4``: every frame, with the boxes of ``objects`` drawn (interpolated by track between its
    detection frames), lines, zones and trails, and the faces of ``faces`` hidden (interpolated and grown by their
    motion, so no face shows on a frame between detections). The source's audio is kept.

    It sees every frame and holds each one until ``objects`` has analyzed the next detection frame, so the frames
    held are at most one batch of ``objects`` apart.
    """

    name = "annotated_video"
    stride = 1
    batch_size = 8

    def __init__(self, path: Path, source: str, objects, faces=None, anonymize_method: str = "blur",
                 trail: int = 30):
        self.path, self.source = path, source
        self.objects, self.faces = objects, faces
        self.show_boxes = faces is not objects       # anonymising with the face detector itself: no face boxes
        self.anonymizer = Anonymizer(anonymize_method) if faces is not None else None
        self.annotator = BoxAnnotator(trail=trail)
        self.writer = None
        self.faces_hidden = 0
        self._found: dict[int, tuple[Detections, Detections]] = {}   # detection frame -> (objects, faces)
        self._last = {"objects": -1, "faces": -1 if faces is not None and faces is not objects else None}
        self._pending: list[tuple[int, float, np.ndarray]] = []
        self._prev: tuple[int, Detections, Detections] | None = None
        objects.sinks.append(self._on_objects)
        if self._last["faces"] is not None:
            faces.sinks.append(self._on_faces)
        elif faces is objects:      # hide every face found, not only the tracked ones
            objects.raw_sinks.append(self._on_faces)

    def _on_objects(self, d: Detections) -> None:
        faces = self._found.get(d.frame_index, (None, Detections.empty()))[1]
        self._found[d.frame_index] = (d, faces)
        self._last["objects"] = d.frame_index

    def _on_faces(self, d: Detections) -> None:
        objects = self._found.get(d.frame_index, (Detections.empty(), None))[0]
        self._found[d.frame_index] = (objects, d)
        if self._last["faces"] is not None:
            self._last["faces"] = d.frame_index

    def start(self, info) -> None:
        from ..io.writer import VideoWriter

        self.annotator.reset()
        w, h = (info.stored_size[1], info.stored_size[0]) if info.rotation in (90, 270) else info.stored_size
        self.writer = VideoWriter(self.path, fps=float(info.fps or 25.0), size=(w, h),
                                  audio_from=self.source if info.audio else None)

    def process(self, frames: np.ndarray, timestamps: np.ndarray, indices: np.ndarray) -> None:
        self._pending += list(zip(indices.tolist(), timestamps.tolist(), frames))
        self._draw(final=False)

    def _draw(self, final: bool) -> None:
        """Write the pending frames whose boxes are known: up to the last detection frame seen (all, if final)."""
        last = min(v for v in self._last.values() if v is not None)    # both detectors are this far
        while self._pending and (final or self._pending[0][0] <= last):
            i, t, frame = self._pending.pop(0)
            if i in self._found:
                d, f = self._found.pop(i)
                self._write(frame, t, d, f.xyxy, update_trails=True)
                self._prev = (i, d, f)
                continue
            p, prev_d, prev_f = self._prev if self._prev is not None else (i, Detections.empty(), Detections.empty())
            nxt = min((k for k in self._found if k > i), default=None)
            if nxt is None:         # after the last detection: carry the last boxes
                boxes, hide = prev_d, _face_boxes_between(prev_f, prev_f, 1.0, 1) if self.faces is not None else None
            else:
                alpha, steps = (i - p) / (nxt - p), nxt - p
                next_d, next_f = self._found[nxt]
                boxes = _interpolate(prev_d, next_d, alpha)
                hide = _face_boxes_between(prev_f, next_f, alpha, steps) if self.faces is not None else None
            self._write(frame, t, boxes, hide if hide is not None else np.zeros((0, 4), np.float32), False)

    def _write(self, frame: np.ndarray, t: float, d: Detections, face_boxes: np.ndarray, update_trails: bool) -> None:
        out = frame
        if self.anonymizer is not None and len(face_boxes):
            out = self.anonymizer.annotate(out, face_boxes)
            self.faces_hidden += len(face_boxes)
        out = self.annotator.annotate(out, d if self.show_boxes else Detections.empty(), update_trails=update_trails)
        for c in self.objects.lines:
            draw_line(out, c)
        for z in self.objects.zones:
            draw_zone(out, z)
        self.writer.write(out, t)

    def finish(self) -> str:
        self._draw(final=True)
        self.close()
        return str(self.path)

    def abort(self) -> None:
        self.close()

    def close(self) -> None:
        """Finish the file with what was written (also after an error); nothing written: no file."""
        if self.writer is not None:
            try:
                self.writer.close()
            except VideoError:
                pass
            self.writer = None


def detect_video(path: str | os.PathLike, out_dir: str | os.PathLike, detector, *, tracker=None,
                 stride: int = 1, lines=(), zones=(), anonymize: bool = False, anonymize_method: str = "blur",
                 formats=("csv", "json", "mot", "mp4"), overwrite: bool = False, quiet: bool = False,
                 anchor: str = "center", tracker_settings: dict | None = None, face_detector=None,
                 trail: int = 30) -> VideoDetectionResult:
    """Run ``detector`` over a video and write the ``detect`` outputs into ``out_dir``.

    ``tracker``: a name (:data:`videolens.track.TRACKERS`, with ``tracker_settings`` under the detector's own
    suggestions) or a tracker object (``ByteTrack(high_thresh=0.3)``). ``lines``: ``[((x1, y1), (x2, y2)), ...]``
    counting lines; ``zones``: ``[[(x, y), ...], ...]`` polygons.
    ``anonymize`` hides faces (found with the default face detector, or with ``detector`` itself when it is a
    face detector).
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
    from .analyzers import ObjectsAnalyzer

    objects = ObjectsAnalyzer(detector, tracker=tracker, stride=stride, lines=line_counters, zones=zone_counters,
                              keep_frames=False, **(tracker_settings or {}))
    analyzers = [objects]
    faces = None
    if anonymize:
        from .detectors import default_face_model, load_detector

        if face_detector is None and getattr(detector, "finds_faces", False):
            faces = objects
        else:
            faces = ObjectsAnalyzer(face_detector or load_detector(default_face_model()), stride=stride,
                                    keep_frames=False, name="anonymize")
            analyzers.append(faces)
    tracker_name = objects.tracker_name
    head = {"video": reader.info.to_dict(), "model": objects.detector.describe(), "tracker": tracker_name,
            "tracker_settings": objects.tracker_thresholds(), "stride": stride}
    writers = DetectionFiles(out, files, head, line_counters, zone_counters)
    objects.sinks.append(writers.write)
    video = None
    if "mp4" in files:
        video = AnnotatedVideo(out / files["mp4"], path, objects, faces, anonymize_method, trail)
        analyzers.append(video)
    t0, started = time.perf_counter(), time.time()
    try:
        run = run_analyzers(reader, analyzers, quiet=quiet, desc=os.path.basename(path))
    except BaseException as e:
        if isinstance(e, DiskFullError) or disk_full(e):
            # Nothing can be completed on a full disk: what was written goes, so that nothing looks complete
            # (the annotated video too, if the run's abort finished it with the frames it had).
            if video is not None:
                if video.writer is not None:
                    video.writer.abort()
                    video.writer = None
                with contextlib.suppress(OSError):
                    if video.path.stat().st_mtime >= started:
                        video.path.unlink()
            writers.discard()
            if isinstance(e, DiskFullError):
                raise
            raise DiskFullError(final_name(e.filename) if e.filename else out, e) from None
        error = str(e) if isinstance(e, VideolensError) else f"{type(e).__name__}: {e}"
        try:
            writers.close(_summary(objects.totals(), video), False, error)
        except Exception:  # noqa: BLE001 - keep the original error
            writers.discard()
        raise
    result = run.results[objects.name]
    summary = _summary(result, video)
    writers.close(summary, True, None)
    return VideoDetectionResult(
        video=path, frames=len(reader), frames_analyzed=result.frames_analyzed, detections=result.detections,
        classes=summary["classes"], tracks=summary["tracks"], counts=summary["counts"],
        files={k: str(out / v) for k, v in files.items()}, model=objects.detector.name, tracker=tracker_name,
        stride=stride, seconds=time.perf_counter() - t0, faces_hidden=summary["faces_hidden"], timings=run.timings)


def _summary(result, video: AnnotatedVideo | None) -> dict:
    """The ``summary`` of ``detections.json``."""
    return {"frames_analyzed": result.frames_analyzed, "detections": result.detections,
            "classes": dict(sorted(result.classes.items())), "tracks": result.track_list,
            "counts": {"lines": result.lines, "zones": result.zones},
            "faces_hidden": video.faces_hidden if video is not None else 0}
