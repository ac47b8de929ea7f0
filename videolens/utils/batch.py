"""Running one function over many inputs: one failure is recorded and the rest go on."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from ..errors import DiskFullError, VideolensError, disk_full
from .files import final_name
from .progress import progress


@dataclass
class BatchItem:
    """The outcome for one input."""

    input: str
    ok: bool
    result: Any = None
    error: str | None = None      # one line, for the user
    seconds: float = 0.0


@dataclass
class BatchRun:
    """A batch's items (anything with ``ok``), in input order, and what a command's exit code is made of."""

    items: list = field(default_factory=list)

    @property
    def done(self) -> list:
        return [i for i in self.items if i.ok]

    @property
    def ok(self) -> int:
        return len(self.done)

    @property
    def failed(self) -> int:
        return len(self.items) - self.ok


def error_line(item: str, e: Exception) -> str:
    """The one line a batch reports for a failed input; call it in the ``except`` block. A user's mistake
    (:class:`VideolensError`) is its own message; a bug also names its type and where it was raised."""
    if isinstance(e, VideolensError):
        return str(e)
    if disk_full(e):
        return str(DiskFullError(final_name(e.filename) if e.filename else item, e))
    detail = traceback.format_exc(limit=-3).strip().splitlines()[-1]
    return f"{item}: {type(e).__name__}: {e} ({detail})"


def _call(fn: Callable, item: str) -> BatchItem:
    t = time.perf_counter()
    try:
        return BatchItem(item, True, fn(item), None, time.perf_counter() - t)
    except Exception as e:  # noqa: BLE001 - a bug on one input must not stop the batch; keep the trace for it
        return BatchItem(item, False, None, error_line(item, e), time.perf_counter() - t)


def run_batch(inputs: Sequence[str], fn: Callable[[str], Any], jobs: int = 1, desc: str = "inputs",
              quiet: bool = False) -> list[BatchItem]:
    """Apply ``fn`` to each input, in input order; with ``jobs > 1`` in that many worker processes.

    ``fn`` must be picklable (a module-level function or a ``functools.partial`` of one) when ``jobs > 1``.

    >>> [b.ok for b in run_batch(["1", "x"], int, quiet=True)]
    [True, False]
    """
    out: dict[int, BatchItem] = {}
    bar = progress(total=len(inputs), desc=desc, quiet=quiet or len(inputs) < 2, unit="file")
    try:
        if jobs <= 1 or len(inputs) <= 1:
            for k, item in enumerate(inputs):
                out[k] = _call(fn, item)
                bar.update(1)
        else:
            import multiprocessing as mp

            # spawn: forking a process that has torch threads or an open decoder is unsafe
            with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
                futures = {pool.submit(_call, fn, item): k for k, item in enumerate(inputs)}
                for fut in as_completed(futures):
                    k = futures[fut]
                    try:
                        out[k] = fut.result()
                    except Exception as e:  # noqa: BLE001 - the worker process died
                        out[k] = BatchItem(inputs[k], False, None, f"{inputs[k]}: worker died ({e})")
                    bar.update(1)
    finally:
        bar.close()
    return [out[k] for k in range(len(inputs))]
