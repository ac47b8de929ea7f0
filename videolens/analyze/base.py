"""The analyzer interface (conventions.md) and the one streaming loop that feeds analyzers from one decode pass.

An analyzer is one small class: settings are constructor arguments, frames arrive in batches through ``process``,
and ``finish`` returns its result. ``videolens analyze`` runs many analyzers through :func:`run_analyzers`; a
standalone command (``videolens shots``, ``videolens detect``) runs one through the same function.

>>> import numpy as np
>>> class Brightness(Analyzer):
...     name, size, stride = "brightness", 32, 5
...     def __init__(self):
...         self.values = []
...     def process(self, frames, timestamps, indices):
...         self.values += frames.reshape(len(frames), -1).mean(axis=1).tolist()
...     def finish(self):
...         return {"mean": float(np.mean(self.values))}
>>> run = run_analyzers("samples/sample.mp4", [Brightness()])    # doctest: +SKIP
>>> run.results["brightness"]["mean"]                             # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..io.reader import VideoInfo, VideoReader
from ..utils.progress import progress


class Analyzer:
    """Base class. Subclasses set ``name``, ``size`` and ``stride`` and implement ``process`` and ``finish``.

    - ``size``: the frame size it wants: ``(w, h)``, an int (short side) or None (stored size). The reader scales
      at decode time; analyzers that share a size share the converted array (do not modify frames in place).
    - ``stride``: it sees frames whose index is a multiple of ``stride``.
    - ``gray``: set True to receive ``(N, H, W)`` luma instead of RGB.
    - ``batch_size``: how many frames per ``process`` call (default 16).
    - ``interpolation``: optional scaler for this analyzer's frames ("area" against aliasing at tiny sizes);
      None uses the reader's.
    - ``start(info)``: optional; called once before the first frame with the video's :class:`VideoInfo`.
    - A missing optional dependency should raise :class:`MissingExtra` from the constructor or ``start``.
    """

    name: str = "analyzer"
    size: tuple[int, int] | int | None = None
    stride: int = 1
    gray: bool = False
    batch_size: int = 16
    interpolation: str | None = None

    def start(self, info: VideoInfo) -> None:  # noqa: B027 - optional hook
        """Called once with the video's facts before any frame arrives."""

    def process(self, frames: np.ndarray, timestamps: np.ndarray, indices: np.ndarray) -> None:
        raise NotImplementedError

    def finish(self) -> Any:
        raise NotImplementedError


class MissingExtra(ImportError):
    """An analyzer's optional dependency is not installed; the report says so and how to install it."""

    def __init__(self, analyzer: str, extra: str, package: str):
        self.analyzer, self.extra, self.package = analyzer, extra, package
        super().__init__(f"{analyzer}: needs {package}; install it with: pip install 'videolens[{extra}]'")


@dataclass
class StreamRun:
    """What :func:`run_analyzers` returns: each analyzer's result, and where the time went."""

    results: dict[str, Any]
    info: VideoInfo
    frames_decoded: int
    timings: dict[str, float] = field(default_factory=dict)   # seconds: "decode", then one per analyzer
    bad_frames: int = 0


def _conversion_key(a: Analyzer) -> tuple:
    size = tuple(a.size) if isinstance(a.size, list) else a.size
    return size, bool(a.gray), getattr(a, "interpolation", None)


def _due(stride: int, i: int) -> bool:
    return i % stride == 0


def run_analyzers(source: str | os.PathLike | VideoReader, analyzers: list[Analyzer], *, start: int = 0,
                  end: int | None = None, quiet: bool = False, desc: str | None = None) -> StreamRun:
    """Decode the video once and stream each frame to every analyzer at its own size and stride.

    Frames are decoded only at indices some analyzer wants (the gcd of the strides); each decoded frame is
    converted once per distinct (size, gray) and shared by the analyzers that asked for it.
    """
    reader = source if isinstance(source, VideoReader) else VideoReader(source)
    names = [a.name for a in analyzers]
    if len(set(names)) != len(names):
        raise ValueError(f"analyzer names must be unique, got {names}")
    for a in analyzers:
        if int(a.stride) < 1:
            raise ValueError(f"{a.name}: stride must be >= 1, not {a.stride}")
    timings = {"decode": 0.0, **{a.name: 0.0 for a in analyzers}}
    for a in analyzers:
        t = time.perf_counter()
        a.start(reader.info)
        timings[a.name] += time.perf_counter() - t
    step = math.gcd(*[int(a.stride) for a in analyzers]) if analyzers else 1
    n = len(reader)
    end = n if end is None else min(end, n)
    first = start + (-start) % step               # the first index on the stride grid
    buffers: dict[str, tuple[list, list, list]] = {a.name: ([], [], []) for a in analyzers}
    decoded = 0

    def flush(a: Analyzer) -> None:
        frames, ts, idx = buffers[a.name]
        if not frames:
            return
        t0 = time.perf_counter()
        a.process(np.stack(frames), np.asarray(ts, dtype=np.float64), np.asarray(idx, dtype=np.int64))
        timings[a.name] += time.perf_counter() - t0
        buffers[a.name] = ([], [], [])

    total = max(0, (end - first + step - 1) // step)
    bar = progress(total=total, desc=desc or os.path.basename(reader.path), quiet=quiet, unit="frame")
    frames_iter = reader.iter_decoded(first, end, step)
    ts_all = reader.timestamps
    try:
        while True:
            t0 = time.perf_counter()
            item = next(frames_iter, None)
            if item is None:
                timings["decode"] += time.perf_counter() - t0
                break
            i, frame = item
            converted: dict[tuple, np.ndarray] = {}
            wanting = [a for a in analyzers if _due(int(a.stride), i)]
            for a in wanting:
                key = _conversion_key(a)
                if key not in converted:
                    converted[key] = reader.convert(frame, a.size, a.gray, getattr(a, "interpolation", None))
            timings["decode"] += time.perf_counter() - t0
            decoded += 1
            for a in wanting:
                key = _conversion_key(a)
                buf = buffers[a.name]
                buf[0].append(converted[key])
                buf[1].append(float(ts_all[i]))
                buf[2].append(i)
                if len(buf[0]) >= max(1, int(a.batch_size)):
                    flush(a)
            bar.update(1)
        for a in analyzers:
            flush(a)
    finally:
        bar.close()
    results = {}
    for a in analyzers:
        t0 = time.perf_counter()
        results[a.name] = a.finish()
        timings[a.name] += time.perf_counter() - t0
    return StreamRun(results, reader.info, decoded, {k: round(v, 4) for k, v in timings.items()}, reader.bad_frames)
