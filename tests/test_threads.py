"""Frame analyzers' worker threads yield to an audio-only analyzer (videolens.utils.threads), on a real decode."""

from __future__ import annotations

import os
import sys
import threading

import numpy as np
import pytest
from conftest import SAMPLE, require

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


class Follower(Analyzer):
    """Wants no frames but is fed by another analyzer, as people is by faces: its work is frame work."""

    name, wants_frames, requires = "follower", False, ("probe",)

    def process(self, frames, timestamps, indices) -> None:
        raise AssertionError("an analyzer that wants no frames gets none")

    def finish(self) -> None:
        return None


def test_workers_yield_only_beside_an_audio_only_analyzer():
    base = _nice()
    alone = run_analyzers(SAMPLE, [PooledProbe()], quiet=True).results["probe"]
    assert alone and set(alone) == {base}
    run = run_analyzers(SAMPLE, [PooledProbe(), AudioOnly()], quiet=True)
    assert run.results["probe"] and set(run.results["probe"]) == {min(19, base + WORKER_NICE)}
    assert run.results["audio"] == base and _nice() == base      # the caller's thread is never lowered
    again = run_analyzers(SAMPLE, [PooledProbe()], quiet=True).results["probe"]
    assert set(again) == {base}                                  # nothing carries over to the next run
    followed = run_analyzers(SAMPLE, [PooledProbe(), Follower()], quiet=True).results["probe"]
    assert set(followed) == {base}                               # people without speech: nothing to yield to


class Broken(Analyzer):
    """Fails on its second batch, after the workers of the others have started."""

    name, size, stride, batch_size = "broken", 32, 5, 4

    def start(self, info) -> None:
        self.batches = 0

    def process(self, frames, timestamps, indices) -> None:
        self.batches += 1
        if self.batches == 2:
            raise RuntimeError("broken on purpose")

    def finish(self) -> None:
        return None


def test_a_failed_run_leaves_no_worker_thread_behind():
    """faces and people (each with its worker thread, lowered beside speech) let their threads go when the run fails,
    so none outlives it or carries its priority into the next run of the same analyzer."""
    require("dlib", "the people analyzer embeds faces with dlib")
    from videolens.detect.analyzers import FacesAnalyzer
    from videolens.people.analyzer import PeopleAnalyzer

    faces, people = FacesAnalyzer(), PeopleAnalyzer()
    people.bind({"faces": faces})
    with pytest.raises(RuntimeError, match="broken on purpose"):
        run_analyzers(SAMPLE, [faces, people, AudioOnly(), Broken()], quiet=True)
    assert faces._pool is None and people._pool is None
    assert not [t.name for t in threading.enumerate() if t.name.startswith(("videolens-faces", "videolens-people"))]
