"""The ``text`` analyzer: reads the text on screen (captions, burned-in subtitles, titles, tickers) during the one
decode pass of ``videolens analyze`` (``--text``) or ``videolens ocr``.

Which frames are read: one every ``interval`` seconds (on a grid from the first frame), and the first frame after
every shot cut, so that text that comes with a new shot starts exactly at the cut. The cuts come from a cut
detector of its own, inside this analyzer: the mean absolute difference between consecutive frames scaled to 32x18,
against the recent level of that difference. Why not the shots analyzer's cuts? The shot detectors decide late (the
learned one and ``min_shot_len`` settle a boundary only once the whole video is seen), so their cuts reach other
analyzers after the frames have gone; keeping every frame until then is not possible on a long video, and a second
decode is what ``analyze`` avoids. The detector costs about a millisecond per frame, against hundreds for one OCR.

The frames arrive at the stored resolution (above 1080 lines, scaled to 1080 on the short side; boxes are given
in stored pixels all the same): PP-OCR's detector sees them scaled down, its recogniser reads each line at full
resolution.

>>> from videolens.stream import run_analyzers
>>> run = run_analyzers("news.mp4", [TextAnalyzer()], quiet=True)        # doctest: +SKIP
>>> [(s.text, s.start, s.end) for s in run.results["text"].segments]      # doctest: +SKIP
[('BREAKING: 12:30 market update', 0.0, 6.0)]
"""

from __future__ import annotations

import math
import os
from collections import deque

import numpy as np

from ..core.analyzer import Analyzer
from ..core.events import Event
from ..errors import VideolensError
from .engine import LANGS, MODEL, get_engine, require_ocr
from .segments import SegmentBuilder, TextResult, TextSegment

MAX_SHORT_SIDE = 1080


class CutDetector:
    """A cheap cut detector on 32x18 RGB thumbnails (chosen on the development clips of ``bench/text.py``).

    A frame starts a new shot when its mean absolute difference from the previous thumbnail is at least
    ``threshold`` (0-255) and ``ratio`` times the mean of the last ``window`` differences (fast motion raises that
    mean, so it is not taken for cuts).

    >>> d = CutDetector()
    >>> [d(np.full((18, 32, 3), v, np.uint8)) for v in (0, 0, 0, 200, 200)]
    [False, False, False, True, False]
    """

    def __init__(self, threshold: float = 25.0, ratio: float = 3.0, window: int = 12):
        self.threshold, self.ratio = float(threshold), float(ratio)
        self.recent: deque[float] = deque(maxlen=int(window))
        self.prev: np.ndarray | None = None

    def __call__(self, thumb: np.ndarray) -> bool:
        cur = thumb.astype(np.int16)
        if self.prev is None:
            self.prev = cur
            return False
        score = float(np.abs(cur - self.prev).mean())
        self.prev = cur
        level = sum(self.recent) / len(self.recent) if self.recent else 0.0
        self.recent.append(score)
        return score >= self.threshold and score >= self.ratio * level


class TextAnalyzer(Analyzer):
    """Reads on-screen text on sampled frames and merges it into segments (:class:`TextResult`).

    ``interval``: seconds between regular samples (default 1). ``cuts``: also read the first frame after each cut.
    ``lang``: ``auto`` (Chinese and English), ``ch`` or ``en`` (:mod:`videolens.text.engine`). ``threads``: ONNX
    Runtime threads (0: its default). Raises :class:`~videolens.core.MissingExtra` without rapidocr-onnxruntime.
    """

    name = "text"
    stride = 1                 # every frame reaches the cut detector; only the sampled ones are read
    size = None
    batch_size = 4
    summary_keys = ("text_segments",)

    @classmethod
    def from_config(cls, config) -> TextAnalyzer:
        return cls(threads=int(getattr(config, "threads", 0) or 0))

    def __init__(self, interval: float = 1.0, lang: str = "auto", cuts: bool = True, threads: int = 0,
                 min_confidence: float = 0.6, det_side: int = 960):
        if not (isinstance(interval, (int, float)) and math.isfinite(interval) and interval > 0):
            raise VideolensError(f"--interval must be a number of seconds > 0, not {interval!r}")
        if lang not in LANGS:
            raise VideolensError(f"--lang must be one of {', '.join(LANGS)}, not {lang!r}")
        require_ocr(self.name)
        self.interval, self.lang, self.cuts = float(interval), lang, bool(cuts)
        self.threads, self.min_confidence, self.det_side = int(threads), float(min_confidence), int(det_side)
        self._engine = None
        self._reset()

    def fingerprint(self) -> dict:
        from importlib.metadata import version

        return {"interval": self.interval, "lang": self.lang, "cuts": self.cuts,
                "min_confidence": self.min_confidence, "det_side": self.det_side,
                "ocr": f"rapidocr-onnxruntime {version('rapidocr-onnxruntime')}"}

    def _reset(self) -> None:
        self._builder = SegmentBuilder()
        self._detector = CutDetector()
        self._t0: float | None = None
        self._next: float = -math.inf
        self._last_read = -math.inf
        self._last_t = 0.0
        self._frame_dur = 0.0
        self._scale = 1.0
        self._samples = self._cut_samples = 0
        self._path, self._duration = "", 0.0
        self._emitted = 0

    def start(self, info) -> None:
        self._reset()
        self._engine = get_engine(self.lang, self.threads, min_confidence=self.min_confidence,
                                  det_side=self.det_side)
        w, h = info.stored_size
        short = min(w, h)
        self.size = MAX_SHORT_SIDE if short > MAX_SHORT_SIDE else None
        self._scale = short / MAX_SHORT_SIDE if short > MAX_SHORT_SIDE else 1.0
        self.batch_size = max(1, min(8, int(48e6 // max(1, w * h * 3))))
        self._frame_dur = 1.0 / info.fps if info.fps else 0.0
        self._path, self._duration = info.path, float(info.duration)

    def process(self, frames: np.ndarray, timestamps: np.ndarray, indices: np.ndarray) -> None:
        import cv2

        for frame, t in zip(frames, timestamps):
            t = float(t)
            if self._t0 is None:
                self._t0 = t
            cut = self._detector(cv2.resize(frame, (32, 18), interpolation=cv2.INTER_AREA))
            due = t >= self._next - 1e-6
            if due or (self.cuts and cut and t - self._last_read > 0.5 * self._frame_dur):
                self._read(frame, t)
                self._cut_samples += int(cut and not due)
                if due:
                    k = math.floor((t - self._t0) / self.interval + 1e-6) + 1
                    self._next = self._t0 + k * self.interval
            self._last_t = t

    def _read(self, frame: np.ndarray, t: float) -> None:
        lines = self._engine(frame)
        s = self._scale
        self._builder.add(t, [(ln.text, [v * s for v in ln.box], ln.confidence) for ln in lines])
        self._samples += 1
        self._last_read = t

    def finish(self) -> TextResult:
        end = self._last_t + self._frame_dur if self._t0 is not None else 0.0
        segments = self._builder.finish(end)
        return TextResult(segments, self.interval, self.lang, self._samples, self._cut_samples, MODEL,
                          self._path, self._duration)

    def events(self) -> list[Event]:
        """Text segments that have left the screen (final), as ``Event("text", start, end, -1, -1, {...})``."""
        done = self._builder.done[self._emitted:]
        self._emitted += len(done)
        return [_event(s) for s in done]

    def summary(self, result: TextResult) -> dict:
        return {"text_segments": len(result.segments)}

    def write_files(self, result: TextResult, out_dir: str | os.PathLike) -> list[str]:
        return [str(p) for p in result.save(out_dir)]


def _event(s: TextSegment) -> Event:
    return Event("text", s.start, s.end, -1, -1, {"text": s.text, "box": s.to_dict()["box"],
                                                   "confidence": round(s.confidence, 4)})
