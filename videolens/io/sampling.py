"""Which frames to decode: clip samplers for training and inference, in frames and in seconds.

All samplers return int64 frame indices in ``[0, n_frames)``. Videos shorter than a clip repeat their last frame
(MMAction2 and PyTorchVideo pad the same way), so every clip has exactly ``clip_len`` indices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _check(n_frames: int, **positive: int) -> None:
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, not {n_frames}")
    for name, value in positive.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, not {value}")


def uniform_segments(n_frames: int, num_segments: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """TSN sampling: split the video into ``num_segments`` equal segments and take one frame from each.

    Without ``rng`` the middle of each segment (testing); with it a random frame within each (training).

    >>> uniform_segments(100, 4).tolist()
    [12, 37, 62, 87]
    >>> uniform_segments(3, 5).tolist()
    [0, 0, 1, 1, 2]
    """
    _check(n_frames, num_segments=num_segments)
    edges = np.linspace(0, n_frames, num_segments + 1)
    lo, hi = edges[:-1], edges[1:]
    if rng is None:
        pos = (lo + hi) / 2
    else:
        pos = lo + rng.random(num_segments) * (hi - lo)
    return np.clip(np.floor(pos), 0, n_frames - 1).astype(np.int64)


def clip_indices(start: int, clip_len: int, stride: int, n_frames: int) -> np.ndarray:
    """``clip_len`` indices from ``start`` every ``stride`` frames, padded with the last frame past the end."""
    return np.minimum(start + np.arange(clip_len, dtype=np.int64) * stride, n_frames - 1)


def random_clip(n_frames: int, clip_len: int, stride: int = 1, rng: np.random.Generator | None = None) -> np.ndarray:
    """A clip of ``clip_len`` frames ``stride`` apart, at a random start (training).

    >>> random_clip(100, 8, 2, np.random.default_rng(0)).tolist()
    [85, 87, 89, 91, 93, 95, 97, 99]
    """
    _check(n_frames, clip_len=clip_len, stride=stride)
    rng = rng or np.random.default_rng()
    span = (clip_len - 1) * stride + 1
    start = int(rng.integers(0, max(n_frames - span, 0) + 1))
    return clip_indices(start, clip_len, stride, n_frames)


def center_clip(n_frames: int, clip_len: int, stride: int = 1) -> np.ndarray:
    """The clip in the middle of the video (single-view testing)."""
    _check(n_frames, clip_len=clip_len, stride=stride)
    span = (clip_len - 1) * stride + 1
    return clip_indices(max(n_frames - span, 0) // 2, clip_len, stride, n_frames)


def multi_clips(n_frames: int, clip_len: int, stride: int, num_clips: int) -> np.ndarray:
    """``num_clips`` clips with evenly spread starts covering the video (multi-view testing): ``(num_clips, clip_len)``.

    >>> multi_clips(100, 4, 2, 3)[:, 0].tolist()
    [0, 46, 93]
    """
    _check(n_frames, clip_len=clip_len, stride=stride, num_clips=num_clips)
    span = (clip_len - 1) * stride + 1
    starts = np.linspace(0, max(n_frames - span, 0), num_clips).round().astype(np.int64)
    return np.stack([clip_indices(int(s), clip_len, stride, n_frames) for s in starts])


def sliding_windows(n_frames: int, clip_len: int, stride: int = 1, step: int | None = None) -> np.ndarray:
    """Clips every ``step`` frames over the whole video (long-video inference): ``(num_windows, clip_len)``.

    The last window is moved back so that it ends at the last frame; nothing at the end is left out.

    >>> sliding_windows(10, 4, 1, 4).tolist()
    [[0, 1, 2, 3], [4, 5, 6, 7], [6, 7, 8, 9]]
    """
    step = step or clip_len * stride
    _check(n_frames, clip_len=clip_len, stride=stride, step=step)
    span = (clip_len - 1) * stride + 1
    last = max(n_frames - span, 0)
    starts = list(range(0, last + 1, step))
    if starts[-1] != last:
        starts.append(last)
    return np.stack([clip_indices(s, clip_len, stride, n_frames) for s in starts])


@dataclass(frozen=True)
class Window:
    """A time window of a video and the frames sampled in it."""

    start: float          # seconds (stream PTS clock)
    end: float
    indices: np.ndarray   # (clip_len,) frame indices


def _frames_between(timestamps: np.ndarray, t0: float, t1: float, clip_len: int) -> np.ndarray:
    """``clip_len`` frames spread evenly over ``[t0, t1)``: the frame on screen at each sample time."""
    times = t0 + (np.arange(clip_len) + 0.5) * (t1 - t0) / clip_len
    idx = np.searchsorted(timestamps, times + 1e-9, side="right") - 1
    return np.clip(idx, 0, len(timestamps) - 1).astype(np.int64)


def sliding_windows_seconds(timestamps, window: float, hop: float, clip_len: int,
                            duration: float | None = None) -> list[Window]:
    """Windows of ``window`` seconds every ``hop`` seconds, each sampled with ``clip_len`` frames by time.

    Pass ``duration`` (e.g. ``reader.duration``) to end the last window exactly where the video ends.

    Sampling by time (not by frame count) keeps the clip's speed right on variable-frame-rate files. The last
    window ends at the end of the video.

    >>> ts = np.arange(100) / 25.0            # 4 s at 25 fps
    >>> [(w.start, w.end) for w in sliding_windows_seconds(ts, 2.0, 1.0, 8)]
    [(0.0, 2.0), (1.0, 3.0), (2.0, 4.0)]
    """
    ts = np.asarray(timestamps, dtype=np.float64)
    if ts.size == 0:
        raise ValueError("no frames")
    if window <= 0 or hop <= 0 or clip_len < 1:
        raise ValueError("window and hop must be > 0 seconds and clip_len >= 1")
    t_start = float(ts[0])
    # Without the duration, the last frame is taken to last as long as the one before it (the local rate).
    t_end = t_start + duration if duration is not None else float(ts[-1]) + (
        float(ts[-1] - ts[-2]) if ts.size > 1 else 0.04)
    if t_end - t_start <= window:
        return [Window(t_start, t_end, _frames_between(ts, t_start, t_end, clip_len))]
    out = []
    t = t_start
    while t + window < t_end - 1e-9:
        out.append(Window(round(t, 6), round(t + window, 6), _frames_between(ts, t, t + window, clip_len)))
        t += hop
    out.append(Window(round(t_end - window, 6), round(t_end, 6), _frames_between(ts, t_end - window, t_end, clip_len)))
    return out


def random_clip_seconds(timestamps, seconds: float, clip_len: int,
                        rng: np.random.Generator | None = None) -> np.ndarray:
    """``clip_len`` frames spread over a random ``seconds``-long stretch of the video (training, by time)."""
    ts = np.asarray(timestamps, dtype=np.float64)
    rng = rng or np.random.default_rng()
    t0, t1 = float(ts[0]), float(ts[-1])
    start = t0 + rng.random() * max(t1 - t0 - seconds, 0.0)
    return _frames_between(ts, start, start + seconds, clip_len)
