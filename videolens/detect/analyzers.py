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
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core.analyzer import Analyzer
from ..core.detections import Detections
from ..core.events import Event
from ..errors import VideolensError


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

    def back(self, d: Detections, frame_shape) -> Detections:
        fh, fw = frame_shape[:2]
        w, h = self.full
        if (fw, fh) == (w, h) or fw == 0:
            return d
        return d.scaled(w / fw, h / fh)


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
    """Faces with MTCNN (in ONNX Runtime, see :mod:`videolens.detect.mtcnn`).

    ``stride``: analyze every N-th frame; default None: ``per_second`` looks a second (2), whatever the frame
    rate, which is enough for face counts over time and keeps MTCNN (the costliest default analyzer on CPU) to a
    fraction of decoding. ``max_side``: frames whose short side is larger are scaled down to it before detection
    (default 360), so a 1080p video costs about what a 360p one does; faces smaller than ``min_face`` pixels at that
    size are missed. ``conf``: MTCNN's final probability threshold. ``threads``: the detector's CPU threads (default 1:
    the decoder and the other analyzers keep the other cores busy; None: every core). ``background`` (default True):
    detect in a worker thread while the caller goes on decoding (ONNX Runtime releases the GIL), at most
    ``max_pending`` batches ahead; results are the same, in frame order.
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
                 conf: float = 0.9, min_face: int = 20, device: str = "auto", threads: int | None = 1,
                 background: bool = True, max_pending: int = 2):
        from .detectors import FaceDetector

        if per_second <= 0:
            raise ValueError(f"per_second must be > 0, not {per_second}")
        self._stride, self.per_second = stride, float(per_second)
        self.stride = int(stride) if stride is not None else 1     # set from the frame rate in start()
        self._scale = _Scaled(max_side)
        self.size = None
        self.detector = FaceDetector(conf=conf, device=device, min_face=min_face, threads=threads)
        self.background, self.max_pending = bool(background), max(1, int(max_pending))
        self._frames: list[Detections] = []
        self._pool = None
        self._pending: deque = deque()

    def start(self, info) -> None:
        if self._stride is None:
            self.stride = max(1, round((info.fps or 25.0) / self.per_second))
        self._scale.start(info)
        self.size = self._scale.size
        self._frames = []
        self._pending.clear()
        if self.background and self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(1, thread_name_prefix="videolens-faces")

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
        return FacesResult(self._frames, self.stride)

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
        self.tracker = None
        self.tracker_name = None
        if tracker:
            from ..track import create_tracker

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
                      stacklevel=2)

    def events(self) -> list[Event]:
        out, self._events = self._events, []
        return out

    def summary(self, result: ObjectsResult) -> dict:
        return {"objects": result.detections, "tracks": len(result.track_list) if result.tracker else None}

    def write_files(self, result: ObjectsResult, out_dir: str | os.PathLike) -> list[str]:
        if not result.tracker:
            return []
        path = os.path.join(os.fspath(out_dir), "tracks.txt")
        write_tracks_mot(result, path)
        return [path]


def write_tracks_mot(result: ObjectsResult, path: str | os.PathLike) -> None:
    """Write an :class:`ObjectsResult`'s tracked boxes as MOTChallenge ``tracks.txt`` (1-based frames and pixels)."""
    from ..track.mot import write_mot

    write_mot(result.frames, path)
