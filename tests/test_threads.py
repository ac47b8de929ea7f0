"""Frame analyzers' worker threads yield to an audio-only analyzer (videolens.utils.threads), on a real decode."""

from __future__ import annotations

import os
import sys
import threading

import numpy as np
import pytest
from conftest import SAMPLE

from videolens.core.analyzer import Analyzer
from videolens.stream import run_analyzers
from videolens.utils.threads import WORKER_NICE, worker_pool

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priorities are Linux's")


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


class PooledProbe(Analyzer):
    """Does its work in a worker from worker_pool, as faces, people and ShotNet do, and notes that worker's nice."""

    name, size, stride, batch_size = "probe", 32, 10, 4

    def start(self, info) -> None:
        self.pool, self.seen = worker_pool("probe"), []

    def process(self, frames: np.ndarray, timestamps: np.ndarray, indices: np.ndarray) -> None:
        self.seen.append(self.pool.submit(_nice).result())

    def finish(self) -> list[int]:
        self.pool.shutdown()
        return self.seen


class AudioOnly(Analyzer):
    """Reads no frames, like speech; notes the nice of the thread that runs the loop."""

    name, wants_frames = "audio", False

    def process(self, frames, timestamps, indices) -> None:
        raise AssertionError("an audio-only analyzer gets no frames")

    def finish(self) -> int:
        return _nice()


def test_workers_yield_only_beside_an_audio_only_analyzer():
    base = _nice()
    alone = run_analyzers(SAMPLE, [PooledProbe()], quiet=True).results["probe"]
    assert alone and set(alone) == {base}
    run = run_analyzers(SAMPLE, [PooledProbe(), AudioOnly()], quiet=True)
    assert run.results["probe"] and set(run.results["probe"]) == {min(19, base + WORKER_NICE)}
    assert run.results["audio"] == base and _nice() == base      # the caller's thread is never lowered
    again = run_analyzers(SAMPLE, [PooledProbe()], quiet=True).results["probe"]
    assert set(again) == {base}                                  # nothing carries over to the next run
