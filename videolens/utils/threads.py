"""Worker threads of the frame analyzers, and their priority beside an audio-only analyzer.

A frame analyzer that hides its network's time behind the decoder (faces, people, ShotNet) runs it in one worker
thread from :func:`worker_pool`. An audio-only analyzer (speech: Whisper) is one sequential chain that ends last
when the frame work shares the cores with it as an equal. Inside :func:`frame_workers_yield`, which
:func:`videolens.stream.run_analyzers` enters while such an analyzer runs, new workers therefore start at a lower
priority (``WORKER_NICE``): the chain gets a core whenever it is ready, and the frame work fills the rest. Only the
workers are lowered, never the caller's thread or the decoder, and they end with the run. Linux only: there each
thread has its own nice value; elsewhere a priority belongs to the whole process, so nothing is changed.

>>> with frame_workers_yield():
...     pool = worker_pool("example")
>>> pool.submit(lambda: 2 + 2).result()
4
>>> pool.shutdown()
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar

# Analyze's 2-minute 720p benchmark with speech (BENCHMARKS.md): Whisper then finishes with the frames instead of
# 4 s after them. 10 gives a worker about a tenth of a core's share against a thread at the default priority.
WORKER_NICE = 10
_nice: ContextVar[int] = ContextVar("videolens_worker_nice", default=0)


@contextmanager
def frame_workers_yield(nice: int = WORKER_NICE) -> Iterator[None]:
    """Workers made by :func:`worker_pool` inside this block run ``nice`` steps below their creator."""
    token = _nice.set(int(nice))
    try:
        yield
    finally:
        _nice.reset(token)


def worker_pool(name: str) -> ThreadPoolExecutor:
    """One worker thread named ``name``, lowered when made inside :func:`frame_workers_yield`."""
    nice = _nice.get()
    if nice > 0 and sys.platform.startswith("linux"):
        return ThreadPoolExecutor(1, thread_name_prefix=name, initializer=lower_priority, initargs=(nice,))
    return ThreadPoolExecutor(1, thread_name_prefix=name)


def lower_priority(nice: int) -> None:
    """Lower the calling thread's priority by ``nice`` (Linux: this thread only; a no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return      # setpriority(PRIO_PROCESS, id) would take the id for a process there
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + int(nice)))
    except OSError:
        pass        # a sandbox may refuse it; the work is the same, only its order changes
