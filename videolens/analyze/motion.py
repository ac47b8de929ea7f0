"""Motion activity: how much the picture changes, per second of video. Cheap enough to run on every frame.

Activity is the mean absolute difference between consecutive analyzed frames, on small gray frames (64 px on
the short side by default), as a fraction of full scale (0 = still, 1 = every pixel flips black to white). It is
averaged per second of the stream's PTS clock: second ``s`` covers ``s <= t < s + 1``. A cut shows as a spike;
a talking head is near 0.01, handheld footage or sports 0.05-0.2.

>>> from videolens.analyze import MotionAnalyzer, run_analyzers
>>> run = run_analyzers("samples/sample.mp4", [MotionAnalyzer()], quiet=True)    # doctest: +SKIP
>>> run.results["motion"].to_dict()["per_second"][:2]                            # doctest: +SKIP
[{'second': 0, 'activity': 0.0123}, {'second': 1, 'activity': 0.0101}]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..core.analyzer import Analyzer


@dataclass
class MotionResult:
    """Activity per second (``per_second``), its mean and the most active second."""

    per_second: list[dict] = field(default_factory=list)     # [{second, activity}]
    mean: float = 0.0
    peak_second: int | None = None
    size: int = 64
    stride: int = 1

    def to_dict(self) -> dict:
        return {"per_second": self.per_second, "mean": self.mean, "peak_second": self.peak_second,
                "size": self.size, "stride": self.stride}


class MotionAnalyzer(Analyzer):
    """Mean absolute frame difference on small gray frames, averaged per second.

    Args:
        size: short side of the gray frames compared (default 64 px: motion, not texture or noise).
        stride: compare every ``stride``-th frame with the one ``stride`` frames earlier (default 1).

    Keeps only the previous frame and one running sum per second, so memory does not grow with the video.
    """

    name = "motion"
    gray = True
    batch_size = 32
    summary_keys = ("mean_activity",)

    @classmethod
    def from_config(cls, config) -> MotionAnalyzer:
        return cls(stride=config.stride or 1)

    def __init__(self, size: int = 64, stride: int = 1):
        if int(size) < 4 or int(stride) < 1:
            raise ValueError(f"motion: size must be >= 4 and stride >= 1, not {size}, {stride}")
        self.size, self.stride = int(size), int(stride)
        self._prev: np.ndarray | None = None
        self._sums: dict[int, list[float]] = {}   # second -> [sum of activity, count]

    def process(self, frames: np.ndarray, timestamps: np.ndarray, indices: np.ndarray) -> None:
        # int16 so differences do not wrap; the previous batch's last frame bridges batches.
        cur = frames.astype(np.int16)
        if self._prev is None:      # the very first frame has nothing to compare with
            prev, cur_, times = cur[:-1], cur[1:], timestamps[1:]
        else:
            prev, cur_, times = np.concatenate([self._prev[None], cur[:-1]]), cur, timestamps
        diffs = np.abs(cur_ - prev).reshape(len(cur_), -1).mean(axis=1) / 255.0 if len(cur_) else []
        for d, t in zip(diffs, times):
            acc = self._sums.setdefault(math.floor(float(t)), [0.0, 0])
            acc[0] += float(d)
            acc[1] += 1
        self._prev = cur[-1].copy()

    def finish(self) -> MotionResult:
        per_second = [{"second": s, "activity": round(total / count, 4)}
                      for s, (total, count) in sorted(self._sums.items())]
        values = [p["activity"] for p in per_second]
        peak = per_second[int(np.argmax(values))]["second"] if values else None
        self._prev = None
        return MotionResult(per_second, round(float(np.mean(values)), 4) if values else 0.0, peak, self.size,
                            self.stride)

    def summary(self, result: MotionResult) -> dict:
        return {"mean_activity": result.mean}
