"""The single-pass analyzer loop: one decode per frame, per-analyzer sizes and strides, exact indices and times."""

from __future__ import annotations

import numpy as np
import pytest

from videolens.analyze import Analyzer, run_analyzers
from videolens.datasets.testvideo import make_index_video, read_index
from videolens.io.reader import VideoReader
from videolens.utils.batch import run_batch


class Recorder(Analyzer):
    def __init__(self, name, size, stride, batch_size=5, gray=False):
        self.name, self.size, self.stride, self.batch_size, self.gray = name, size, stride, batch_size, gray
        self.seen, self.shapes, self.times, self.info = [], set(), [], None

    def start(self, info):
        self.info = info

    def process(self, frames, timestamps, indices):
        assert len(frames) <= self.batch_size
        self.shapes.add(frames.shape[1:])
        self.times += timestamps.tolist()
        self.seen += [(int(i), read_index(f if f.ndim == 3 else np.repeat(f[..., None], 3, 2)))
                      for i, f in zip(indices, frames)]

    def finish(self):
        return {"n": len(self.seen)}


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return make_index_video(tmp_path_factory.mktemp("an") / "v.mp4", 60, size=(192, 108), gop=12)


def test_each_analyzer_gets_its_size_and_stride_from_one_decode(video):
    a = Recorder("a", (96, 54), 1)
    b = Recorder("b", 64, 3, batch_size=4)
    c = Recorder("c", None, 4, gray=True)
    reader = VideoReader(video)
    run = run_analyzers(reader, [a, b, c], quiet=True)
    assert [i for i, _ in a.seen] == list(range(60))
    assert [i for i, _ in b.seen] == list(range(0, 60, 3))
    assert [i for i, _ in c.seen] == list(range(0, 60, 4))
    for rec in (a, b, c):
        assert all(i == k for i, k in rec.seen)        # the pixels are the frame the index names
    assert a.shapes == {(54, 96, 3)} and b.shapes == {(64, 114, 3)} and c.shapes == {(108, 192)}
    np.testing.assert_allclose(b.times, reader.timestamps[::3])
    assert run.frames_decoded == 60 and reader.stats["decoded"] == 60   # every frame decoded exactly once
    assert a.info.frames == 60 and run.results["b"] == {"n": 20}
    assert set(run.timings) == {"decode", "a", "b", "c"}


def test_strides_skip_frames_nobody_wants(video):
    b = Recorder("b", 32, 6)
    c = Recorder("c", 32, 9)
    run = run_analyzers(video, [b, c], quiet=True, start=2, end=50)
    assert [i for i, _ in b.seen] == [6, 12, 18, 24, 30, 36, 42, 48]
    assert [i for i, _ in c.seen] == [9, 18, 27, 36, 45]
    assert run.frames_decoded == len(range(3, 50, 3))


def test_run_batch_records_failures_and_keeps_order(tmp_path):
    items = run_batch([str(tmp_path / "missing.mp4"), "samples/sample.mp4"], lambda p: VideoReader(p).fps,
                      quiet=True)
    assert [i.ok for i in items] == [False, True]
    assert "no such file" in items[0].error and items[1].result == 25.0
