"""The one decode loop: every analyzer of a run fed from a single pass over the video, at its own size and stride.

``videolens analyze`` runs all its analyzers through :func:`run_analyzers`; the standalone commands
(``videolens shots``, ``videolens detect``) run their one analyzer through it too, so a part behaves the same
alone and together. It sits above :mod:`videolens.io` (it needs the reader) and below every part.

>>> from videolens.analyze import MotionAnalyzer
>>> run = run_analyzers("samples/sample.mp4", [MotionAnalyzer()], quiet=True)    # doctest: +SKIP
>>> run.results["motion"].mean                                                    # doctest: +SKIP
0.0123
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .core.analyzer import Analyzer
from .core.events import Event
from .io.reader import VideoInfo, VideoReader
from .utils.progress import progress
from .utils.threads import WORKER_NICE, frame_workers_yield


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


def run_analyzers(source: str | os.PathLike | VideoReader, analyzers: list[Analyzer], *, start: int = 0,
                  end: int | None = None, quiet: bool = False, desc: str | None = None,
                  on_event: Callable[[str, Event], None] | None = None) -> StreamRun:
    """Decode the video once and stream each frame to every analyzer at its own size and stride.

    Frames are decoded only at indices some analyzer wants (the gcd of the strides of those with
    ``wants_frames``); each decoded frame is converted once per distinct (size, gray, interpolation) and shared by
    the analyzers that asked for it. With ``on_event``, each analyzer's ``events()`` are passed on as
    ``on_event(analyzer_name, event)`` after each of its batches and once after ``finish``. While an analyzer that
    reads the source itself (``wants_frames`` False and nothing in ``requires``: speech) runs beside frame analyzers,
    the frame analyzers' worker threads run at a lower priority (:mod:`videolens.utils.threads`), so its one
    sequential chain is not the last to end. (``people`` wants no frames either, but it is fed by ``faces``: its work
    is frame work.)
    """
    reader = source if isinstance(source, VideoReader) else VideoReader(source)
    names = [a.name for a in analyzers]
    if len(set(names)) != len(names):
        raise ValueError(f"analyzer names must be unique, got {names}")
    for a in analyzers:
        if int(a.stride) < 1:
            raise ValueError(f"{a.name}: stride must be >= 1, not {a.stride}")
    timings = {"decode": 0.0, **{a.name: 0.0 for a in analyzers}}

    def timed(a: Analyzer, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        try:
            return fn()
        finally:
            timings[a.name] += time.perf_counter() - t0

    def drain(a: Analyzer) -> None:
        if on_event is not None:
            for event in timed(a, a.events):
                on_event(a.name, event)

    started: list[Analyzer] = []
    results = {}
    watching = [a for a in analyzers if getattr(a, "wants_frames", True)]
    listening = any(not getattr(a, "wants_frames", True) and not a.requires for a in analyzers)
    try:
        with frame_workers_yield(nice=WORKER_NICE if listening and watching else 0):
            for a in analyzers:
                timed(a, lambda a=a: a.start(reader.info))
                started.append(a)
            decoded = _feed(reader, watching, start, end, timings, timed, drain, quiet, desc) if watching else 0
        for a in analyzers:
            results[a.name] = timed(a, a.finish)
            started.remove(a)
            drain(a)
    except BaseException:
        for a in started:          # the run failed: let the others go cleanly (threads, files)
            try:
                a.abort()
            except Exception:  # noqa: BLE001 - the first error is the one to report
                pass
        raise
    return StreamRun(results, reader.info, decoded, {k: round(v, 4) for k, v in timings.items()}, reader.bad_frames)


def _feed(reader: VideoReader, analyzers: list[Analyzer], start: int, end: int | None, timings: dict,
          timed: Callable, drain: Callable, quiet: bool, desc: str | None) -> int:
    """The decode pass proper: returns how many frames were decoded."""
    step = math.gcd(*[int(a.stride) for a in analyzers])
    n = len(reader)
    end = n if end is None else min(end, n)
    first = start + (-start) % step               # the first index on the stride grid
    buffers: dict[str, tuple[list, list, list]] = {a.name: ([], [], []) for a in analyzers}

    def flush(a: Analyzer) -> None:
        frames, ts, idx = buffers[a.name]
        if not frames:
            return
        buffers[a.name] = ([], [], [])
        timed(a, lambda: a.process(np.stack(frames), np.asarray(ts, dtype=np.float64),
                                   np.asarray(idx, dtype=np.int64)))
        drain(a)

    decoded = 0
    bar = progress(total=max(0, (end - first + step - 1) // step), desc=desc or os.path.basename(reader.path),
                   quiet=quiet, unit="frame")
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
            wanting = [a for a in analyzers if i % int(a.stride) == 0]
            for a in wanting:
                key = _conversion_key(a)
                if key not in converted:
                    converted[key] = reader.convert(frame, a.size, a.gray, getattr(a, "interpolation", None))
            timings["decode"] += time.perf_counter() - t0
            decoded += 1
            for a in wanting:
                buf = buffers[a.name]
                buf[0].append(converted[_conversion_key(a)])
                buf[1].append(float(ts_all[i]))
                buf[2].append(i)
                if len(buf[0]) >= max(1, int(a.batch_size)):
                    flush(a)
            bar.update(1)
        for a in analyzers:
            flush(a)
    finally:
        bar.close()
    return decoded
