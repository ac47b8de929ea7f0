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
from dataclasses import dataclass, field

import numpy as np

from ..core.analyzer import Analyzer
from ..core.detections import Detections
from ..core.events import Event


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
            "detections": [{"index": d.frame_index, "time": _r(d.timestamp),
                            "boxes": [[_r(v, 1) for v in b] + [_r(s)] for b, s in zip(d.xyxy.tolist(),
                                                                                     d.scores.tolist())]}
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

    def summary(self, result: FacesResult) -> dict:
        counts = [len(d) for d in result.frames]
        return {"faces": max(counts, default=0), "frames_with_faces": sum(1 for c in counts if c)}


# ---- objects ----------------------------------------------------------------------------------------------------


@dataclass
class ObjectsResult:
    """Objects per analyzed frame, and tracks when a tracker ran.

    ``to_dict()``: ``counts`` (per frame, with ``by_class``), ``classes`` (boxes per class over all analyzed
    frames), ``detections``, and with a tracker ``tracks`` plus ``tracks_by_class`` (distinct tracked objects).
    """

    frames: list[Detections] = field(default_factory=list)
    model: str = ""
    tracker: str | None = None
    stride: int = 1

    def tracks(self) -> list[dict]:
        info: dict[int, dict] = {}
        for d in self.frames:
            for tid, name in zip(d.track_ids.tolist(), d.class_names.tolist()):
                if tid < 0:
                    continue
                t = info.get(tid)
                if t is None:
                    info[tid] = {"id": tid, "class": name, "first_frame": d.frame_index, "last_frame": d.frame_index,
                                 "first_time": _r(d.timestamp), "last_time": _r(d.timestamp), "frames": 1}
                else:
                    t["last_frame"], t["last_time"] = d.frame_index, _r(d.timestamp)
                    t["frames"] += 1
        return [info[k] for k in sorted(info)]

    def to_dict(self) -> dict:
        classes: Counter = Counter()
        counts = []
        for d in self.frames:
            by_class = Counter(d.class_names.tolist())
            classes.update(by_class)
            counts.append({"index": d.frame_index, "time": _r(d.timestamp), "count": len(d),
                           "by_class": dict(sorted(by_class.items()))})
        out = {
            "model": self.model, "tracker": self.tracker, "stride": self.stride, "frames_analyzed": len(self.frames),
            "counts": counts, "classes": dict(sorted(classes.items())),
            "max_count": max((c["count"] for c in counts), default=0),
            "detections": [{"index": d.frame_index, "time": _r(d.timestamp),
                            "boxes": [[_r(v, 1) for v in b] + [_r(s), int(c), int(t)]
                                      for b, s, c, t in zip(d.xyxy.tolist(), d.scores.tolist(), d.class_ids.tolist(),
                                                            d.track_ids.tolist())]}
                           for d in self.frames if len(d)],
        }
        if self.tracker:
            tracks = self.tracks()
            out["tracks"] = tracks
            out["tracks_by_class"] = dict(sorted(Counter(t["class"] for t in tracks).items()))
        return out


class ObjectsAnalyzer(Analyzer):
    """Objects with any detector of :func:`~videolens.detect.detectors.load_detector`, optionally tracked.

    ``model``: a name, a checkpoint path, ``onnx:PATH`` or a ready :class:`~videolens.detect.detectors.Detector`.
    ``tracker``: None, ``bytetrack`` or ``sort`` (ids stay stable across ``stride``). ``conf``: score threshold.
    ``classes``: names (or ids) to keep. ``max_side``: scale frames down so their short side is at most this
    before detection (None: as stored; the detector letterboxes to its own input size anyway).
    """

    name = "objects"
    batch_size = 8
    report_copies = ("tracks",)
    summary_keys = ("objects", "tracks")

    @classmethod
    def from_config(cls, config) -> ObjectsAnalyzer:
        return cls(config.objects, tracker=config.tracker, device=config.device, stride=config.stride or 1)

    def __init__(self, model, tracker: str | None = None, conf: float = 0.25, stride: int = 1,
                 classes=None, device: str = "auto", max_side: int | None = None, **tracker_settings):
        from .detectors import Detector, load_detector

        self.stride = int(stride)
        self.detector = model if isinstance(model, Detector) else load_detector(str(model), conf=conf,
                                                                                classes=classes, device=device)
        self.tracker_name = tracker
        self.tracker_settings = tracker_settings
        self.tracker = None
        if tracker:
            from ..track import create_tracker

            self.tracker = create_tracker(tracker, **tracker_settings)
        self._scale = _Scaled(max_side)
        self.size = None
        self._frames: list[Detections] = []
        self._open: dict[int, dict] = {}        # track id -> the track so far (for track_end events)
        self._events: list[Event] = []

    def start(self, info) -> None:
        self._scale.start(info)
        self.size = self._scale.size
        self._frames = []
        self._open, self._events = {}, []
        if self.tracker is not None:
            self.tracker.reset()
            self.tracker.frame_rate = float(info.fps or 30.0)

    def process(self, frames: np.ndarray, timestamps: np.ndarray, indices: np.ndarray) -> None:
        for f, d, t, i in zip(frames, self.detector.detect(list(frames)), timestamps, indices):
            d = self._scale.back(d, f.shape)
            d.frame_index, d.timestamp = int(i), float(t)
            if self.tracker is not None:
                d = self.tracker.update(d)
                self._follow(d)
            d.data = {}
            self._frames.append(d)

    def _follow(self, d: Detections) -> None:
        """Keep each track's extent; a track the tracker has given up on becomes a ``track_end`` event."""
        for tid, name in zip(d.track_ids.tolist(), d.class_names.tolist()):
            if tid < 0:
                continue
            t = self._open.setdefault(tid, {"id": tid, "class": name, "first_frame": d.frame_index,
                                            "first_time": d.timestamp, "frames": 0})
            t["last_frame"], t["last_time"] = d.frame_index, d.timestamp
            t["frames"] += 1
        lost = getattr(self.tracker, "max_lost_frames", 0)
        for tid in [k for k, t in self._open.items() if d.frame_index - t["last_frame"] > lost]:
            self._end(tid)

    def _end(self, tid: int) -> None:
        t = self._open.pop(tid)
        self._events.append(Event("track_end", t["first_time"], t["last_time"], t["first_frame"], t["last_frame"],
                                  {"track_id": tid, "class": t["class"], "frames": t["frames"]}))

    def finish(self) -> ObjectsResult:
        for tid in list(self._open):
            self._end(tid)
        return ObjectsResult(self._frames, self.detector.name, self.tracker_name, self.stride)

    def events(self) -> list[Event]:
        out, self._events = self._events, []
        return out

    def summary(self, result: ObjectsResult) -> dict:
        return {"objects": sum(len(d) for d in result.frames),
                "tracks": len({int(t) for d in result.frames for t in d.track_ids if t >= 0})
                if result.tracker else None}

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
