"""Frame-exact, fast random access and streaming over a video file, on top of PyAV (FFmpeg).

Frame ``i`` is the frame with the ``i``-th smallest presentation timestamp (PTS) of the video stream. The frame count
and the timestamps come from a scan of the packets (no decoding), cached per file, so they are exact where container
headers over- or under-report, and right on variable-frame-rate files and on streams that start late.

A few containers (AVI, raw elementary streams) carry no real PTS: the demuxer guesses them from the decode order, and
a decoder that reorders B-frames hands them back out of order. For those the reader counts frames in the decoder's
output order instead, which FFmpeg guarantees is presentation order.

The work is split: :mod:`videolens.io.index` scans the packets (frame count, PTS, keyframes) and caches the result
per file, :mod:`videolens.io.decoder` decodes and seeks, :mod:`videolens.io.convert` scales and converts frames;
this module is the public face over them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np

from .convert import INTERPOLATIONS, FrameConverter, target_size
from .decoder import Decoder
from .decoder import open_container as _open   # looked up at each use, so that tests can count the opens
from .index import AudioStreamInfo, VideoInfo, index_for

__all__ = ["AudioStreamInfo", "FrameBatch", "VideoInfo", "VideoReader", "probe"]


class FrameBatch(NamedTuple):
    """A batch of decoded frames with their frame indices and presentation times in seconds."""

    frames: np.ndarray       # (N, H, W, 3) uint8 RGB, or (N, H, W) for gray
    indices: np.ndarray      # (N,) int64
    timestamps: np.ndarray   # (N,) float64 seconds


def probe(path: str | os.PathLike) -> VideoInfo:
    """Container, codec, sizes, rotation, frame rate, exact frame count, duration and audio streams of a file.

    >>> info = probe("samples/sample.mp4")  # doctest: +SKIP
    >>> info.frames, info.vfr
    (375, False)
    """
    return index_for(os.fspath(path), opener=_open)[0].info


class VideoReader:
    """Frame-exact random access and bounded-memory streaming over the first video stream of a file.

    Frames come out as uint8 RGB ``(H, W, 3)`` at the stored resolution, rotated upright. ``size`` arguments take
    ``(width, height)`` or an int (the short side); scaling and colour conversion happen in FFmpeg's scaler at
    decode time, with one reused scaler. ``interpolation`` defaults to swscale's fast bilinear (like
    ``cv2.INTER_LINEAR``, ~3x cheaper than "area" at 1080p -> 224); "area" or "bicubic" trade speed for less aliasing.
    ``threads=0`` lets FFmpeg pick (frame + slice threads); use ``threads=1`` inside DataLoader workers.
    ``skip_loop_filter=True`` (opt-in) skips the in-loop deblocking filter of H.264/HEVC/VP9 decoding: ~20 % less
    decoding CPU, but the pixels are not the encoder's (slightly blockier; the error grows until the next
    keyframe). Frame indices and timestamps are unchanged. For analysis at small sizes, not for output video.
    A reader is not thread-safe; it reopens the file after a fork and pickles without its decoder.
    On glibc, the first reader of frames of 2 MB or more tunes malloc for the process so that frame buffers are not
    page-faulted in afresh for every frame, and starts a thread that hands freed heap pages back every 30 s (see
    ``videolens.io.convert.tune_malloc``; ``VIDEOLENS_MALLOC_TUNING=0`` turns both off).

    >>> from videolens import VideoReader
    >>> reader = VideoReader("samples/sample.mp4")            # doctest: +SKIP
    >>> len(reader), reader.fps, reader.size                  # doctest: +SKIP
    (375, 25.0, (360, 288))
    >>> reader.get_frames([0, 100, 50], size=112).shape       # doctest: +SKIP
    (3, 112, 140, 3)
    >>> for batch in reader.iter_frames(step=25, size=224, batch=8):   # doctest: +SKIP
    ...     print(batch.indices, batch.frames.shape)
    """

    def __init__(self, path: str | os.PathLike, threads: int = 0, interpolation: str = "fast_bilinear",
                 skip_loop_filter: bool = False):
        self.path = os.fspath(path)
        self.threads = int(threads)
        self.skip_loop_filter = bool(skip_loop_filter)
        # A first scan of the file leaves its container open, decoder and all, for this reader to rewind and use
        # (not when the decoder needs other options: those must be set before it opens).
        self._index, container, fed = index_for(self.path, self.threads, keep=not self.skip_loop_filter, opener=_open)
        self._decoder = Decoder(self.path, self._index, self.threads, self.skip_loop_filter, container, fed, _open)
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {sorted(INTERPOLATIONS)}, not {interpolation!r}")
        self.interpolation = interpolation
        self._converter = FrameConverter(self._index.rotation, self._index.info.stored_size)

    # ---- metadata -------------------------------------------------------------------------------------------
    @property
    def info(self) -> VideoInfo:
        return self._index.info

    def __len__(self) -> int:
        return int(self._index.pts.size)

    @property
    def fps(self) -> float:
        """Average frames per second: frame count over duration (from PTS)."""
        return self._index.info.fps

    @property
    def duration(self) -> float:
        """Seconds from the first frame's PTS to the end of the last frame."""
        return self._index.info.duration

    @property
    def start_time(self) -> float:
        return self._index.info.start_time

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the frames this reader returns: stored resolution, rotated upright."""
        w, h = self._index.info.stored_size
        return (h, w) if self._index.rotation in (90, 270) else (w, h)

    @property
    def rotation(self) -> int:
        return self._index.rotation

    @property
    def timestamps(self) -> np.ndarray:
        """Presentation time in seconds of every frame, from PTS (read-only float64 array)."""
        return self._index.timestamps

    @property
    def keyframes(self) -> np.ndarray:
        """Indices of the frames that decoding can start at (keyframes, from the packet scan)."""
        return self._decoder.key_rank.copy()

    @property
    def bad_frames(self) -> int:
        """How many frames failed to decode so far (each was replaced by the nearest earlier good frame)."""
        return len(self._decoder.bad)

    @property
    def bad_frame_indices(self) -> list[int]:
        return sorted(self._decoder.bad)

    @property
    def stats(self) -> dict:
        """Decoder work so far: seeks (including the first open), frames decoded, packets that failed to decode."""
        return self._decoder.stats

    # ---- lifetime -------------------------------------------------------------------------------------------
    def close(self) -> None:
        self._decoder.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown, or a constructor that failed
            pass

    # ---- public frame access --------------------------------------------------------------------------------
    def _normalize(self, indices) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        idx = np.where(idx < 0, idx + n, idx)
        bad = (idx < 0) | (idx >= n)
        if np.any(bad):
            raise IndexError(f"{self.path}: frame index {int(np.asarray(indices).reshape(-1)[np.argmax(bad)])} "
                             f"out of range for {n} frames")
        return idx

    def get_frames(self, indices: Sequence[int] | np.ndarray, size=None, gray: bool = False) -> np.ndarray:
        """Frames at the given indices, in the order given: ``(N, H, W, 3)`` uint8 RGB, or ``(N, H, W)`` if gray.

        Indices may come in any order and repeat; decoding visits them in ascending order with the fewest seeks.
        """
        idx = self._normalize(indices)
        out_size = target_size(size, self.size)
        uniq = np.unique(idx)
        decoded: dict[int, np.ndarray] = {}
        for i in uniq.tolist():
            decoded[i] = self._converter(self._decoder.frame(i), out_size, gray, self.interpolation, self.threads)
        if not decoded:
            w, h = out_size or self.size
            return np.zeros((0, h, w) if gray else (0, h, w, 3), dtype=np.uint8)
        return np.stack([decoded[i] for i in idx.tolist()])

    def __getitem__(self, key):
        """``reader[i]`` is one frame ``(H, W, 3)``; a slice or a list of indices gives ``(N, H, W, 3)``."""
        if isinstance(key, slice):
            return self.get_frames(np.arange(len(self))[key])
        if isinstance(key, (int, np.integer)):
            return self.get_frames([int(key)])[0]
        return self.get_frames(key)

    def index_at(self, seconds) -> np.ndarray:
        """Index of the frame on screen at each time (seconds on the stream's PTS clock)."""
        t = np.asarray(seconds, dtype=np.float64).reshape(-1)
        end = float(self._index.end_pts * self._index.time_base)
        if np.any(~np.isfinite(t)) or np.any(t < 0) or np.any(t > end + 1e-9):
            raise IndexError(f"{self.path}: time {t.tolist()} outside the video (0 .. {end:.3f} s)")
        # A tiny tolerance so that t == timestamps[i] computed elsewhere in floating point selects frame i.
        i = np.searchsorted(self._index.timestamps, t + 1e-9, side="right") - 1
        return np.clip(i, 0, len(self) - 1)

    def get_frames_at(self, seconds, size=None, gray: bool = False) -> np.ndarray:
        """The frames on screen at the given times, in seconds on the stream's PTS clock."""
        return self.get_frames(self.index_at(seconds), size=size, gray=gray)

    def iter_frames(self, start: int = 0, end: int | None = None, step: int = 1, size=None, gray: bool = False,
                    batch: int = 1) -> Iterator[FrameBatch]:
        """Stream frames ``start, start+step, ... < end`` as :class:`FrameBatch` es of up to ``batch`` frames.

        Memory stays bounded (one batch plus the decoder's own buffers). Steps wider than a GOP seek instead of
        decoding through.

        >>> for b in VideoReader("samples/sample.mp4").iter_frames(step=5, size=112, batch=16):  # doctest: +SKIP
        ...     b.frames.shape, b.indices[0], b.timestamps[0]
        """
        n = len(self)
        end = n if end is None else min(int(end), n)
        start = int(start) + n if start < 0 else int(start)
        if step < 1 or batch < 1:
            raise ValueError("step and batch must be >= 1")
        out_size = target_size(size, self.size)
        frames: list[np.ndarray] = []
        indices: list[int] = []
        for i in range(start, end, step):
            frames.append(self._converter(self._decoder.frame(i), out_size, gray, self.interpolation, self.threads))
            indices.append(i)
            if len(frames) == batch:
                yield self._batch(frames, indices)
                frames, indices = [], []
        if frames:
            yield self._batch(frames, indices)

    def iter_decoded(self, start: int = 0, end: int | None = None, step: int = 1) -> Iterator[tuple[int, object]]:
        """Yield ``(index, av.VideoFrame)`` without converting: decode once, then :meth:`convert` to several sizes.

        This is what the analyzer loop uses to feed every analyzer its own size from one decode pass.
        """
        n = len(self)
        end = n if end is None else min(int(end), n)
        if step < 1:
            raise ValueError("step must be >= 1")
        for i in range(int(start), end, step):
            yield i, self._decoder.frame(i)

    def convert(self, frame, size=None, gray: bool = False, interpolation: str | None = None) -> np.ndarray:
        """A decoded frame from :meth:`iter_decoded` as an upright uint8 RGB (or gray) array at ``size``.

        ``interpolation`` overrides the reader's own for this call (an analyzer that needs "area" at tiny sizes).
        """
        if interpolation is not None and interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {sorted(INTERPOLATIONS)}, not {interpolation!r}")
        return self._converter(frame, target_size(size, self.size), gray, interpolation or self.interpolation,
                               self.threads)

    def _batch(self, frames: list[np.ndarray], indices: list[int]) -> FrameBatch:
        arr = frames[0][None] if len(frames) == 1 else np.stack(frames)
        idx = np.asarray(indices, dtype=np.int64)
        return FrameBatch(arr, idx, self._index.timestamps[idx])

    def __iter__(self) -> Iterator[np.ndarray]:
        for b in self.iter_frames():
            yield b.frames[0]

    def __repr__(self) -> str:
        w, h = self.size
        return f"VideoReader({self.path!r}, frames={len(self)}, fps={self.fps:.3f}, size={w}x{h})"
