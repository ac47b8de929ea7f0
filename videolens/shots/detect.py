"""The detector registry, the combined and ``auto`` detectors, and ``detect`` / ``detect_shots``.

``auto`` (the default) is the combination of detectors that scored best on the development set
(``scripts/select_shots.py`` writes its choice to ``weights/auto.json``; the benchmark's test files played no part).

>>> DETECTORS.names()
['auto', 'content', 'adaptive', 'histogram', 'fade', 'learned']
>>> make_detector("content", threshold=25).threshold
25.0
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..core.registry import Registry
from ..errors import VideolensError
from .detectors import AdaptiveDetector, ContentDetector, FadeDetector, HistogramDetector, ShotDetector
from .learned import WEIGHTS_DIR, LearnedDetector
from .motioncheck import MotionCheck
from .result import Shot, ShotsResult, Transition

AUTO_CONFIG = WEIGHTS_DIR / "auto.json"
# Used when weights/auto.json is absent (a development checkout before select_shots.py ran).
_FALLBACK_AUTO = {"members": [{"detector": "learned"}, {"detector": "fade"}, {"detector": "content"}]}


class CombinedDetector(ShotDetector):
    """Several detectors on the same frames; their transitions merged in priority order.

    A transition from a later member is kept only where no earlier member reported one within
    ``merge_tolerance`` frames, and where two boundaries come closer than ``min_shot_len`` the earlier member's
    wins. With ``motion_check`` (a :class:`~videolens.shots.motioncheck.MotionCheck`), merged gradual transitions
    whose two sides show the same picture up to a shift are dropped as motion. Per-frame scores of all members go to
    ``stats.csv``.

    >>> det = CombinedDetector([ContentDetector(), FadeDetector()])
    >>> det.settings()["members"][1]["detector"]
    'fade'
    """

    detector = "combined"

    def __init__(self, members: list[ShotDetector], min_shot_len: float = 0.5, merge_tolerance: int = 2,
                 motion_check: MotionCheck | None = None):
        if not members:
            raise ValueError("a combined detector needs at least one member")
        self.members = list(members)
        self.merge_tolerance = int(merge_tolerance)
        self.motion_check = motion_check
        super().__init__(None, min_shot_len)
        self.threshold = self.members[0].threshold

    def settings(self) -> dict:
        out = {"min_shot_len": self.min_shot_len, "merge_tolerance": self.merge_tolerance,
               "members": [{"detector": m.detector, **m.settings()} for m in self.members]}
        if self.motion_check is not None:
            out["motion_check"] = self.motion_check.settings()
        return out

    def _reset(self, info) -> None:
        super()._reset(info)
        if getattr(self, "motion_check", None) is not None:
            self.motion_check.reset()

    def model_files(self) -> list[Path]:
        return list(dict.fromkeys(p for m in self.members for p in m.model_files()))

    def start(self, info) -> None:
        super().start(info)
        for m in self.members:
            m.start(info)

    def abort(self) -> None:
        for m in self.members:
            m.abort()

    def process(self, frames: np.ndarray, timestamps: np.ndarray, indices: np.ndarray) -> None:
        if len(frames) == 0:
            return
        self._ts.extend(float(t) for t in timestamps)
        for m in self.members:
            m.process(frames, timestamps, indices)
        if self.motion_check is not None:
            self.motion_check.add(np.asarray(frames))

    def _detect(self, scores, timestamps) -> list[Transition]:
        found = []
        for m in self.members:
            mine = {k: np.asarray(v, dtype=np.float64) for k, v in m._scores.items()}
            found.append(m._detect(mine, np.asarray(m._ts, dtype=np.float64)) if m._ts else [])
            for k, v in mine.items():
                scores.setdefault(k, v)
        merged, self._key = merge_by_priority(found, self.merge_tolerance)
        if self.motion_check is not None:
            merged = [t for t in merged if not self.motion_check.is_motion(t.start, t.end, t.type)]
            self.motion_check.reset()
        return merged

    def _rank_key(self):
        return getattr(self, "_key", None)


def merge_by_priority(found: list[list[Transition]], tolerance: int = 2):
    """Merge transition lists, earlier lists first: a later one's transition is dropped where an earlier list has
    one within ``tolerance`` frames. Returns the merged list and a ranking key for :func:`suppress_close` that
    prefers earlier lists (then higher scores).
    """
    merged: list[Transition] = []
    rank: dict[int, int] = {}
    for r, items in enumerate(found):
        for t in items:
            if any(t.start <= o.end + tolerance and o.start <= t.end + tolerance for o in merged):
                continue
            merged.append(t)
            rank[id(t)] = r
    n = len(found)
    return sorted(merged, key=lambda t: t.start), (lambda t: (n - rank.get(id(t), n)) + min(max(t.score, 0.0),
                                                                                             1.0) * 0.5)


def auto_config(path: str | os.PathLike = AUTO_CONFIG) -> dict:
    """The ``auto`` detector's recipe: ``{"members": [{"detector": name, **settings}, ...], ...}``."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return dict(_FALLBACK_AUTO)


class AutoDetector(CombinedDetector):
    """The default: the combination chosen on the development set (``weights/auto.json``).

    ``threshold`` overrides the first member's (the learned detector's probability threshold).
    """

    detector = "auto"

    @classmethod
    def from_config(cls, config) -> AutoDetector:
        # Shot boundaries are frame-exact only on every frame: --stride does not apply.
        return cls(device=_ort_device(config.device))

    def __init__(self, threshold: float | None = None, min_shot_len: float = 0.5, device: str = "cpu"):
        cfg = auto_config()
        members = []
        for k, spec in enumerate(cfg["members"]):
            spec = dict(spec)
            name = spec.pop("detector")
            if name in ("auto", "combined") or name not in DETECTORS:
                raise VideolensError(f"{AUTO_CONFIG}: unknown member detector {name!r}")
            if k == 0 and threshold is not None:
                spec["threshold"] = threshold
            if name == "learned":
                spec.setdefault("device", device)
            members.append(DETECTORS[name](min_shot_len=min_shot_len, **spec))
        check = cfg.get("motion_check")
        super().__init__(members, min_shot_len, int(cfg.get("merge_tolerance", 2)),
                         MotionCheck(**check) if check else None)


DETECTORS: Registry = Registry("shot detector", option="--detector")
for _cls in (AutoDetector, ContentDetector, AdaptiveDetector, HistogramDetector, FadeDetector, LearnedDetector):
    DETECTORS.register(_cls.detector, _cls)


def make_detector(name: str = "auto", threshold: float | None = None, min_shot_len: float = 0.5,
                  device: str = "cpu", **settings) -> ShotDetector:
    """A detector by registry name, with its settings (see each class for what they mean)."""
    cls = DETECTORS.get(name)
    if name in ("auto", "learned"):
        settings["device"] = _ort_device(device)
    try:
        return cls(threshold=threshold, min_shot_len=min_shot_len, **settings)
    except (TypeError, ValueError) as e:
        raise VideolensError(f"{name} detector: {e}") from None


def _ort_device(device: str) -> str:
    """``--device`` for ONNX Runtime: auto means CUDA when this onnxruntime has it, else CPU."""
    device = (device or "auto").lower()
    if device in ("auto", "mps"):      # ORT has no MPS provider; CoreML would need another build
        try:
            import onnxruntime as ort

            return "cuda" if "CUDAExecutionProvider" in ort.get_available_providers() else "cpu"
        except ImportError:
            return "cpu"
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise VideolensError(f"--device {device}: unknown device (use auto, cpu, cuda or mps)")
    return device


def detect(path: str | os.PathLike, detector: str | ShotDetector = "auto", *, threshold: float | None = None,
           min_shot_len: float = 0.5, device: str = "cpu", quiet: bool = True, **settings) -> ShotsResult:
    """Run a shot detector over a video in one decoding pass; returns the full :class:`ShotsResult`.

    >>> result = detect("samples/sample.mp4", "content")     # doctest: +SKIP
    >>> result.cuts, result.transitions[0].type              # doctest: +SKIP
    ([75, 150, 225, 300, 375], 'cut')
    """
    from ..stream import run_analyzers

    det = detector if isinstance(detector, ShotDetector) else make_detector(
        detector, threshold=threshold, min_shot_len=min_shot_len, device=device, **settings)
    run = run_analyzers(os.fspath(path), [det], quiet=quiet, desc=f"shots {Path(path).name}")
    result = run.results[det.name]
    result.settings["bad_frames"] = run.bad_frames
    return result


def detect_shots(path: str | os.PathLike, detector: str = "auto", **kwargs) -> list[Shot]:
    """The shots of a video: ``[Shot(index, start_frame, end_frame, start_time, end_time), ...]``.

    ``detector``: auto (default), content, adaptive, histogram, fade or learned; keyword arguments as
    :func:`detect` (``threshold``, ``min_shot_len`` in seconds, ``device``).

    >>> import videolens
    >>> [s.start_frame for s in videolens.detect_shots("samples/sample.mp4")]    # doctest: +SKIP
    [0, 75, 150, 225, 300, 375]
    """
    return detect(path, detector, **kwargs).shots
