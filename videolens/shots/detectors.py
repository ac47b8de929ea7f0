"""Classical shot detectors: one small streaming class each, all on frames decoded at 48x27 by the reader.

Every detector is an :class:`~videolens.core.Analyzer` (``name = "shots"``): ``videolens shots`` runs one through
the same single-pass loop as ``videolens analyze``. Settings are constructor arguments; each keeps per-frame scores
(written by ``--stats``) and turns them into transitions in ``finish``.

- :class:`ContentDetector`: weighted mean difference of hue, saturation, value (and optionally edges) between
  consecutive frames, against a threshold, like PySceneDetect's ContentDetector.
- :class:`AdaptiveDetector`: the content score divided by its rolling average, so fast motion does not fire.
- :class:`HistogramDetector`: distance between consecutive frames' HSV colour histograms.
- :class:`FadeDetector`: fades to and from black or white, from the mean intensity, with their in and out points.

Thresholds were tuned on the development set (``scripts/select_shots.py``), not on the benchmark's test clips.

>>> from videolens.stream import run_analyzers
>>> run = run_analyzers("samples/sample.mp4", [ContentDetector()], quiet=True)   # doctest: +SKIP
>>> run.results["shots"].cuts                                                     # doctest: +SKIP
[75, 150, 225, 300, 375]
"""

from __future__ import annotations

import os
from array import array
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..core.analyzer import Analyzer
from ..core.events import Event
from ..io.reader import VideoInfo
from .result import ShotsResult, Transition, build_result

DETECT_SIZE = (48, 27)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class ShotDetector(Analyzer):
    """Base class: collects timestamps and per-frame scores; subclasses compute scores and pick transitions.

    Subclasses implement ``_update(frames)`` (append to ``self._scores[name]`` one value per frame) and
    ``_detect(scores, timestamps) -> list[Transition]``. ``min_shot_len`` (seconds) drops the weaker of two
    boundaries that come closer than that.
    """

    name = "shots"
    detector = "base"
    size = DETECT_SIZE
    stride = 1
    batch_size = 64
    interpolation = "area"      # at 48x27 the fast scaler aliases badly; area costs ~0.15 ms more per 720p frame
    default_threshold = 0.0
    report_copies = ("transitions",)
    summary_keys = ("shots", "transitions")

    def __init__(self, threshold: float | None = None, min_shot_len: float = 0.5):
        self.threshold = float(self.default_threshold if threshold is None else threshold)
        if min_shot_len < 0:
            raise ValueError(f"min_shot_len must be >= 0 seconds, not {min_shot_len}")
        self.min_shot_len = float(min_shot_len)
        self._reset(None)

    # ---- the Analyzer interface ------------------------------------------------------------------------------
    def start(self, info: VideoInfo) -> None:
        self._reset(info)

    def process(self, frames: np.ndarray, timestamps: np.ndarray, indices: np.ndarray) -> None:
        if len(frames) == 0:
            return
        self._ts.extend(float(t) for t in timestamps)
        self._update(np.asarray(frames))

    def finish(self) -> ShotsResult:
        ts = np.asarray(self._ts, dtype=np.float64)
        scores = {k: np.asarray(v, dtype=np.float64) for k, v in self._scores.items()}
        transitions = self._detect(scores, ts) if len(ts) else []
        info = self._info
        if info is not None:
            end_time, fps, path = info.start_time + info.duration, info.fps, info.path
        else:
            step = float(np.median(np.diff(ts))) if len(ts) > 1 else 0.04
            end_time, fps, path = (float(ts[-1]) + step if len(ts) else 0.0), 1.0 / step, ""
        result = build_result(path, self.detector, transitions, ts, end_time, fps, scores, self.settings(),
                              self.min_shot_len, self._rank_key())
        # A boundary is final only once the shots around it are: min_shot_len can still drop one, so the
        # transitions become events when the whole result exists.
        self._events = [Event(t.type, t.start_time, t.end_time, t.start, t.end, {"score": round(t.score, 4)})
                        for t in result.transitions]
        return result

    def events(self) -> list[Event]:
        out, self._events = self._events, []
        return out

    def summary(self, result: ShotsResult) -> dict:
        return {"shots": len(result.shots), "transitions": len(result.transitions)}

    def write_files(self, result: ShotsResult, out_dir: str | os.PathLike) -> list[str]:
        from .export import write_outputs

        return [str(p) for p in write_outputs(result, out_dir, formats=("csv",))]

    def fingerprint(self) -> dict:
        from ..utils.files import file_digest

        return {"detector": self.detector, "settings": self.settings(),
                "files": {p.name: file_digest(p) for p in self.model_files()}}

    # ---- for subclasses --------------------------------------------------------------------------------------
    def settings(self) -> dict:
        return {"threshold": self.threshold, "min_shot_len": self.min_shot_len}

    def model_files(self) -> list[Path]:
        """The weight files it loads (none for the classical detectors)."""
        return []

    def _reset(self, info: VideoInfo | None) -> None:
        self._info = info
        self._events: list[Event] = []
        # Per-frame values as packed doubles: 8 bytes each, where a list of floats takes 32 (an hour at 25 fps is
        # 90,000 values per score).
        self._ts: array[float] = array("d")
        self._scores: dict[str, array[float]] = defaultdict(lambda: array("d"))
        self._prev: dict[str, np.ndarray] = {}

    def _update(self, frames: np.ndarray) -> None:
        raise NotImplementedError

    def _rank_key(self):
        """Which of two too-close transitions stays (None: the higher score)."""
        return None

    def _detect(self, scores: dict[str, np.ndarray], timestamps: np.ndarray) -> list[Transition]:
        raise NotImplementedError

    def _diff_prev(self, key: str, values: np.ndarray) -> np.ndarray:
        """Per-frame mean absolute difference with the previous frame (0 for the very first frame)."""
        prev = self._prev.get(key)
        ref = np.concatenate([values[:1] if prev is None else prev[None], values[:-1]], axis=0)
        self._prev[key] = values[-1]
        return np.abs(values - ref).reshape(len(values), -1).mean(axis=1)


def _hsv(frames: np.ndarray) -> np.ndarray:
    """RGB ``(N, H, W, 3)`` uint8 -> HSV float32 with OpenCV's ranges (H 0-179), in one call for the batch."""
    import cv2

    n, h, w, _ = frames.shape
    return cv2.cvtColor(np.ascontiguousarray(frames).reshape(n * h, w, 3), cv2.COLOR_RGB2HSV).reshape(
        n, h, w, 3).astype(np.float32)


def _edges(frames_v: np.ndarray) -> np.ndarray:
    """Canny edges of each frame's value channel (0 or 255), thresholds from the median as PySceneDetect does."""
    import cv2

    out = np.empty(frames_v.shape, dtype=np.float32)
    for k, v in enumerate(frames_v.astype(np.uint8)):
        med = float(np.median(v))
        out[k] = cv2.Canny(v, int(max(0, 0.67 * med)), int(min(255, 1.33 * med)))
    return out


def _cuts_above(score: np.ndarray, threshold: float) -> list[Transition]:
    return [Transition("cut", int(i), int(i), float(score[i])) for i in np.flatnonzero(score >= threshold) if i > 0]


class ContentDetector(ShotDetector):
    """Cuts where the weighted mean HSV difference between consecutive frames reaches ``threshold``.

    ``weights``: hue, saturation, value, edges (edges cost a Canny pass per frame and are off by default).
    Scores are on PySceneDetect's scale (0-255), computed at 48x27, where the downscale already averages noise out.

    >>> ContentDetector(threshold=30).settings()["threshold"]
    30.0
    """

    detector = "content"
    default_threshold = 21.0          # chosen on the development set (scripts/select_shots.py)

    def __init__(self, threshold: float | None = None, min_shot_len: float = 0.5,
                 weights: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 0.0)):
        if len(weights) != 4 or sum(abs(w) for w in weights) == 0:
            raise ValueError(f"weights must be 4 numbers (hue, sat, lum, edges), not all 0: {weights}")
        self.weights = tuple(float(w) for w in weights)
        super().__init__(threshold, min_shot_len)

    def settings(self) -> dict:
        return {**super().settings(), "weights": list(self.weights)}

    def _update(self, frames: np.ndarray) -> None:
        hsv = _hsv(frames)
        deltas = [self._diff_prev(k, hsv[..., c]) for c, k in enumerate(("hue", "sat", "lum"))]
        if self.weights[3]:
            deltas.append(self._diff_prev("edges", _edges(hsv[..., 2])))
        else:
            deltas.append(np.zeros(len(frames)))
        w = np.asarray(self.weights)
        content = sum(wi * d for wi, d in zip(w, deltas)) / np.abs(w).sum()
        for key, d in zip(("delta_hue", "delta_sat", "delta_lum", "delta_edges"), deltas):
            self._scores[key].extend(d.tolist())
        self._scores["content_val"].extend(content.tolist())

    def _detect(self, scores, timestamps) -> list[Transition]:
        return _cuts_above(scores["content_val"], self.threshold)


class AdaptiveDetector(ContentDetector):
    """Cuts where the content score stands out from its neighbours: ``score / mean(score of the window_width
    frames either side) >= threshold``, and the score itself is at least ``min_content_val``.

    Fast camera motion raises every frame's score, so the ratio stays low; a cut is one frame far above its
    neighbours. Like PySceneDetect's AdaptiveDetector (whose defaults are 3.0, 15 and 2).
    """

    detector = "adaptive"
    default_threshold = 3.0           # confirmed on the development set (scripts/select_shots.py)

    def __init__(self, threshold: float | None = None, min_shot_len: float = 0.5, min_content_val: float = 15.0,
                 window_width: int = 2, weights: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 0.0)):
        if window_width < 1:
            raise ValueError(f"window_width must be >= 1, not {window_width}")
        self.min_content_val = float(min_content_val)
        self.window_width = int(window_width)
        super().__init__(threshold, min_shot_len, weights)

    def settings(self) -> dict:
        return {**super().settings(), "min_content_val": self.min_content_val, "window_width": self.window_width}

    def _detect(self, scores, timestamps) -> list[Transition]:
        s = scores["content_val"]
        w = self.window_width
        n = len(s)
        ratio = np.zeros(n)
        for i in range(1, n):
            lo, hi = max(1, i - w), min(n, i + w + 1)
            around = np.concatenate([s[lo:i], s[i + 1:hi]])
            mean = float(around.mean()) if around.size else 0.0
            ratio[i] = s[i] / mean if mean > 1e-6 else (255.0 if s[i] >= self.min_content_val else 0.0)
        scores["adaptive_ratio"] = ratio
        return [Transition("cut", int(i), int(i), float(ratio[i]))
                for i in np.flatnonzero((ratio >= self.threshold) & (s >= self.min_content_val)) if i > 0]


class HistogramDetector(ShotDetector):
    """Cuts where the HSV colour histograms of consecutive frames differ by at least ``threshold``.

    The distance is ``1 - histogram intersection`` of normalised histograms with ``bins`` (hue, saturation,
    value) bins, from 0 (same colours) to 1 (no colour in common). Colour distributions ignore where things are,
    so motion inside a shot barely moves it.
    """

    detector = "histogram"
    default_threshold = 0.25          # chosen on the development set (scripts/select_shots.py)

    def __init__(self, threshold: float | None = None, min_shot_len: float = 0.5,
                 bins: tuple[int, int, int] = (8, 4, 4)):
        if len(bins) != 3 or min(bins) < 1:
            raise ValueError(f"bins must be three positive numbers (hue, saturation, value), not {bins}")
        self.bins = tuple(int(b) for b in bins)
        super().__init__(threshold, min_shot_len)

    def settings(self) -> dict:
        return {**super().settings(), "bins": list(self.bins)}

    def _update(self, frames: np.ndarray) -> None:
        hsv = _hsv(frames)
        bh, bs, bv = self.bins
        q = (np.minimum((hsv[..., 0] * (bh / 180.0)).astype(np.int64), bh - 1) * (bs * bv)
             + np.minimum((hsv[..., 1] * (bs / 256.0)).astype(np.int64), bs - 1) * bv
             + np.minimum((hsv[..., 2] * (bv / 256.0)).astype(np.int64), bv - 1))
        n, nb = len(frames), bh * bs * bv
        q = q.reshape(n, -1) + (np.arange(n) * nb)[:, None]
        hist = np.bincount(q.ravel(), minlength=n * nb).reshape(n, nb).astype(np.float64)
        hist /= hist.sum(axis=1, keepdims=True)
        prev = self._prev.get("hist")
        ref = np.concatenate([hist[:1] if prev is None else prev[None], hist[:-1]], axis=0)
        self._prev["hist"] = hist[-1]
        self._scores["hist_diff"].extend((1.0 - np.minimum(hist, ref).sum(axis=1)).tolist())

    def _detect(self, scores, timestamps) -> list[Transition]:
        return _cuts_above(scores["hist_diff"], self.threshold)


class FadeDetector(ShotDetector):
    """Fades through black (or white), from each frame's mean intensity.

    A frame is *plain* when its mean luma is at most ``threshold`` (black; 0-255 scale) or at least
    ``white_level`` (white), with little spatial variation (std at most ``max_std``). Around each stretch of plain
    frames the detector follows the intensity ramp: a fade-out darkens monotonically into it, a fade-in brightens out
    of it, by at least ``min_step`` per frame for at least ``min_ramp`` frames.

    Every edge of a plain stretch (at least ``min_plain`` frames) is a transition: a ramped edge is a ``fade``, an
    abrupt one a ``cut``. A stretch with ramps on both sides is one ``fade`` from the first darkened frame to the
    last frame before the next shot shows fully (the ``edits`` generator's convention: the hold is part of it); with
    one ramp, the fade runs from the first darkened frame to the first plain one (or from the last plain frame to the
    last one before the shot shows fully). A black leader has only its exit, an ending only its entry.
    """

    detector = "fade"
    default_threshold = 18.0          # black level; the development set scores every value tried alike

    def __init__(self, threshold: float | None = None, min_shot_len: float = 0.5, white_level: float = 240.0,
                 max_std: float = 12.0, min_step: float = 0.5, min_ramp: int = 2, min_plain: int = 2):
        self.min_plain = int(min_plain)
        self.white_level = float(white_level)
        self.max_std = float(max_std)
        self.min_step = float(min_step)
        self.min_ramp = int(min_ramp)
        super().__init__(threshold, min_shot_len)

    def settings(self) -> dict:
        return {**super().settings(), "white_level": self.white_level, "max_std": self.max_std,
                "min_step": self.min_step, "min_ramp": self.min_ramp, "min_plain": self.min_plain}

    def _update(self, frames: np.ndarray) -> None:
        luma = frames.reshape(len(frames), -1, 3).astype(np.float32) @ _LUMA
        self._scores["luma_mean"].extend(luma.mean(axis=1).tolist())
        self._scores["luma_std"].extend(luma.std(axis=1).tolist())

    def _detect(self, scores, timestamps) -> list[Transition]:
        mean, std = scores["luma_mean"], scores["luma_std"]
        n = len(mean)
        flat = std <= self.max_std
        black = flat & (mean <= self.threshold)
        white = flat & (mean >= self.white_level)
        out: list[Transition] = []
        for plain, level in ((black, 0.0), (white, 255.0)):
            dist = np.abs(mean - level)
            i = 0
            while i < n:
                if not plain[i]:
                    i += 1
                    continue
                a = i
                while i + 1 < n and plain[i + 1]:
                    i += 1
                b = i
                i += 1
                if b - a + 1 < self.min_plain or (a == 0 and b == n - 1):
                    continue
                # The threshold lets the first and last frames of slow ramps in: keep the truly plain core.
                core = np.flatnonzero(dist[a:b + 1] <= dist[a:b + 1].min() + 1.5) + a
                for t in self._fade_around(int(core[0]), int(core[-1]), dist, n):
                    # black first: a white fade never overlaps one through black (flat grey ramps are both)
                    if not any(t.start <= o.end and o.start <= t.end for o in out):
                        out.append(t)
        return sorted(out, key=lambda t: t.start)

    def _fade_around(self, a: int, b: int, dist: np.ndarray, n: int) -> list[Transition]:
        """Transitions at the edges of the plain frames ``a .. b``; ``dist``: each frame's distance from plain."""
        out: list[Transition] = []
        depth = 0.0
        entry = exit_ = None                  # (first, last) frames of a ramp, or a cut frame
        if a > 0:
            k = a - 1          # walk back while the picture gets monotonically closer to plain towards a
            while k - 1 >= 0 and dist[k - 1] >= dist[k] + self.min_step:
                k -= 1
            # frame k is the last one shown fully (a-1 itself when nothing darkens)
            entry = ("fade", k + 1, a) if a - (k + 1) >= self.min_ramp else ("cut", a, a)
            depth = max(depth, float(dist[k]))
        if b < n - 1:
            k = b + 1          # walk forward while the picture keeps getting further from plain
            while k + 1 < n and dist[k + 1] >= dist[k] + self.min_step:
                k += 1
            # frame k is the first one shown fully
            exit_ = ("fade", b, k - 1) if (k - 1) - b >= self.min_ramp else ("cut", b + 1, b + 1)
            depth = max(depth, float(dist[k]))
        score = min(1.0, depth / 64.0)
        if entry and exit_ and entry[0] == exit_[0] == "fade":
            return [Transition("fade", entry[1], exit_[2], score)]
        for side in (entry, exit_):
            if side is not None:
                out.append(Transition(side[0], side[1], side[2], score))
        if len(out) == 2 and out[0].end >= out[1].start:     # one plain frame between a ramp and a cut
            return [Transition("fade", out[0].start, max(out[0].end, out[1].end), score)]
        return out
