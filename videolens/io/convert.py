"""Decoded frames to upright uint8 RGB or gray arrays, scaled in FFmpeg's swscale.

The reader decodes once and converts each frame to whatever size a caller asks for, so conversion is its own object:
it keeps two swscale contexts alive across frames (building one costs more than converting a small frame) and knows
how to turn a stored frame upright. What it is asked for (size, gray, interpolation, threads) comes with each call.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

INTERPOLATIONS = {"fast_bilinear": Interpolation.FAST_BILINEAR, "bilinear": Interpolation.BILINEAR,
                  "area": Interpolation.AREA, "bicubic": Interpolation.BICUBIC, "point": Interpolation.POINT}
_PLANAR_YUV = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv420p10le", "nv12"}
_SWS_THREADED_PIXELS = 1_500_000   # outputs at least this big (1080p) use swscale's threads; smaller ones: one
# Frames at least this big (bytes of RGB at the stored size) make the reader tune glibc's malloc (see tune_malloc).
_TUNE_MALLOC_BYTES = 2 << 20
_MALLOC_TUNED = False
_LIBC = None                 # glibc, once tune_malloc has changed its settings
_TRIM_EVERY_S = 30.0


def tune_malloc() -> None:
    """Once per process, on glibc: keep freed frame-sized blocks in the heap instead of handing them back to the OS.

    FFmpeg allocates every converted frame with ``posix_memalign``. While the previous frame is still alive (as in
    any ``for batch in reader.iter_frames(): ...`` loop, where ``batch`` holds it until the next one is made),
    glibc's default trimming returns the freed block to the OS and the next frame page-faults it back in: ~1000
    page faults, 1.5-2 ms of kernel time, per 1080p RGB frame (bench/decode.py; a bare loop that drops each frame at
    once does not pay it). These are the values glibc's own adaptive thresholds stop at (mmap 32 MB, trim 2x);
    setting them fixes them for the process. ``VIDEOLENS_MALLOC_TUNING=0`` leaves malloc alone.

    The price of a 32 MB mmap threshold is that blocks of up to 32 MB of every size (faster-whisper's features of a
    speech batch are 6-31 MB, by the batch's length) come from the heap, whose free holes then stay resident: a
    one-hour ``analyze`` grew ~5 MB/min in steps. So a daemon thread calls ``malloc_trim(0)`` every 30 s, which hands
    back every whole free page, not only the heap's top (BENCHMARKS.md, "The trimmer").
    """
    global _MALLOC_TUNED, _LIBC
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    if os.environ.get("VIDEOLENS_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import platform

        if platform.libc_ver()[0] != "glibc":
            return
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 << 20)   # M_MMAP_THRESHOLD
        libc.mallopt(-1, 64 << 20)   # M_TRIM_THRESHOLD
        _LIBC = libc
    except Exception:  # noqa: BLE001, S110 - an optimisation only
        return
    _start_trimmer()
    os.register_at_fork(after_in_child=_start_trimmer)     # a forked worker inherits the settings, not the thread


def _trim_forever(libc, every: float) -> None:
    while True:
        time.sleep(every)
        libc.malloc_trim(0)


def _start_trimmer() -> None:
    """A daemon thread that hands the heap's free pages back to the OS every ``_TRIM_EVERY_S`` (see tune_malloc)."""
    if _LIBC is not None:
        threading.Thread(target=_trim_forever, args=(_LIBC, _TRIM_EVERY_S), name="videolens-heap-trim",
                         daemon=True).start()


def target_size(size, upright: tuple[int, int]) -> tuple[int, int] | None:
    """``(width, height)`` of the output in upright orientation, or None for the stored size.

    ``size`` is an int (the short side, keeping the aspect of ``upright``) or ``(width, height)``.
    """
    if size is None:
        return None
    w, h = upright
    if isinstance(size, (int, np.integer)):
        if size <= 0:
            raise ValueError(f"size must be positive, not {size}")
        scale = size / min(w, h)
        return max(1, round(w * scale)), max(1, round(h * scale))
    tw, th = (int(v) for v in size)
    if tw <= 0 or th <= 0:
        raise ValueError(f"size must be positive, not {size}")
    return tw, th


class FrameConverter:
    """Converts the decoded frames of one stream, turned upright by ``rotation`` (clockwise degrees)."""

    def __init__(self, rotation: int, stored_size: tuple[int, int]):
        self.rotation = rotation
        self._scaler: VideoReformatter | None = None    # built on first use; not picklable
        self._to_rgb: VideoReformatter | None = None
        if stored_size[0] * stored_size[1] * 3 >= _TUNE_MALLOC_BYTES:
            tune_malloc()

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_scaler": None, "_to_rgb": None}

    def __call__(self, frame, out_size: tuple[int, int] | None, gray: bool, interpolation: str,
                 threads: int) -> np.ndarray:
        """``frame`` as an upright array at ``out_size`` (upright ``(width, height)``; None: stored size).

        ``threads`` is the reader's: 1 keeps swscale to one thread too.
        """
        rot = self.rotation
        width = height = None
        if out_size is not None:
            width, height = out_size
            if rot in (90, 270):
                width, height = height, width
        fmt = "gray" if gray else "rgb24"
        if self._scaler is None:
            self._scaler, self._to_rgb = VideoReformatter(), VideoReformatter()
        interp = INTERPOLATIONS[interpolation]
        # swscale's own threads (None: one per core) pay off only on big outputs: below _SWS_THREADED_PIXELS they
        # cost more in hand-offs, while the decoder's threads want the other core (224 px from 288p-720p: ~1.4x
        # OpenCV with one scaler thread vs 1.0-1.2x with the pool; no difference at 1080p; bench/decode.py).
        # A reader limited to one thread never starts the pool.
        big = (width or frame.width) * (height or frame.height) >= _SWS_THREADED_PIXELS
        sws_threads = None if big and threads != 1 else 1
        if width is not None and not gray and frame.format.name in _PLANAR_YUV:
            # Scale the planes first, then convert the small frame to RGB: swscale's unscaled YUV->RGB path is
            # SIMD-fast, its scale-and-convert path is not (2-3x slower per frame; bench/decode.py).
            small = self._scaler.reformat(frame, width=width, height=height, interpolation=interp,
                                          threads=sws_threads)
            out = self._to_rgb.reformat(small, format=fmt, threads=sws_threads)
        else:
            out = self._scaler.reformat(frame, width=width, height=height, format=fmt, interpolation=interp,
                                        threads=sws_threads)
        arr = out.to_ndarray()
        if rot:
            arr = np.ascontiguousarray(np.rot90(arr, k=-(rot // 90)))
        return arr
