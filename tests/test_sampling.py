"""Clip samplers: bounds, lengths, coverage and determinism."""

from __future__ import annotations

import numpy as np
import pytest

from videolens.io.sampling import (center_clip, multi_clips, random_clip, random_clip_seconds, sliding_windows,
                                   sliding_windows_seconds, uniform_segments)


@pytest.mark.parametrize("n", [1, 5, 16, 100, 1001])
@pytest.mark.parametrize("k", [1, 3, 8, 32])
def test_uniform_segments_cover_the_video_in_order(n, k):
    idx = uniform_segments(n, k)
    assert len(idx) == k and idx.min() >= 0 and idx.max() < n
    assert np.all(np.diff(idx) >= 0)
    if n >= k:
        assert len(set(idx.tolist())) == k          # one distinct frame per segment
        edges = np.linspace(0, n, k + 1)
        assert np.all((idx >= np.floor(edges[:-1])) & (idx < np.ceil(edges[1:])))
    rng = np.random.default_rng(0)
    draws = np.stack([uniform_segments(n, k, rng) for _ in range(50)])
    assert draws.min() >= 0 and draws.max() < n and np.all(np.diff(draws, axis=1) >= 0)
    if n >= 4 * k:
        assert len(np.unique(draws[:, 0])) > 1      # training jitter actually varies


def test_random_clip_is_in_bounds_deterministic_and_padded():
    for n in (3, 16, 40, 500):
        for clip_len, stride in ((8, 1), (8, 4), (16, 2)):
            a = random_clip(n, clip_len, stride, np.random.default_rng(5))
            b = random_clip(n, clip_len, stride, np.random.default_rng(5))
            np.testing.assert_array_equal(a, b)
            assert len(a) == clip_len and a.min() >= 0 and a.max() < n
            span = (clip_len - 1) * stride + 1
            if n >= span:
                assert np.all(np.diff(a) == stride)
            else:
                assert a[-1] == n - 1 and np.all(np.diff(a) >= 0)
    starts = {random_clip(100, 8, 1, np.random.default_rng(s))[0] for s in range(40)}
    assert min(starts) >= 0 and max(starts) <= 92 and len(starts) > 10


def test_center_and_multi_clips():
    np.testing.assert_array_equal(center_clip(100, 4, 2), [46, 48, 50, 52])
    clips = multi_clips(100, 8, 2, 5)
    assert clips.shape == (5, 8)
    assert clips[0, 0] == 0 and clips[-1, -1] == 99
    assert multi_clips(5, 8, 1, 3).max() == 4


def test_sliding_windows_reach_the_end():
    for n in (1, 7, 64, 65, 300):
        w = sliding_windows(n, 16, 2, 10)
        assert w.shape[1] == 16 and w.min() >= 0 and w.max() <= n - 1
        assert w[-1, -1] == n - 1                   # nothing at the end is left out
        assert w[0, 0] == 0
    assert len(sliding_windows(100, 10, 1, 10)) == 10


def test_windows_in_seconds_follow_timestamps_on_vfr():
    ts = np.concatenate([np.arange(50) / 25, 2 + np.arange(25) / 12.5])   # 25 fps then 12.5 fps
    wins = sliding_windows_seconds(ts, window=1.0, hop=0.5, clip_len=5)
    assert wins[0].start == 0 and wins[-1].end == pytest.approx(4.0)
    for w in wins:
        assert len(w.indices) == 5
        times = ts[w.indices]
        assert times.min() >= w.start - 1e-9 and times.max() < w.end
    late = [w for w in wins if w.start >= 2.0][0]
    assert np.all(np.diff(late.indices) >= 1)
    assert len(sliding_windows_seconds(ts[:10], 5.0, 1.0, 4)) == 1
    clip = random_clip_seconds(ts, 1.0, 4, np.random.default_rng(0))
    assert len(clip) == 4 and np.ptp(ts[clip]) <= 1.0
