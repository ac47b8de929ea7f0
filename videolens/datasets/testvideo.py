"""Test videos whose frames encode their own index, for checking that decoders and seeks are frame-exact.

Each frame shows its index as a row of black/white blocks (bit 0 on the left), on a background that changes with
the index, so a decoder that returns the wrong frame, or drops or repeats one, is caught by :func:`read_index`.
"""

from __future__ import annotations

import os
from fractions import Fraction

import av
import numpy as np

from ..utils.files import temp_path_for

BITS = 16


def index_frame(i: int, width: int, height: int) -> np.ndarray:
    """The RGB frame for index ``i``: a bar of ``BITS`` blocks on top, a moving gradient below."""
    frame = np.empty((height, width, 3), np.uint8)
    yy, xx = np.mgrid[0:height, 0:width]
    frame[..., 0] = (xx * 3 + i * 5) % 256
    frame[..., 1] = (yy * 2 + i * 3) % 256
    frame[..., 2] = (i * 7) % 256
    bar_h = max(height // 4, 8)
    block = width // BITS
    frame[:bar_h] = 128
    for b in range(BITS):
        frame[:bar_h, b * block:(b + 1) * block] = 255 if (i >> b) & 1 else 0
    return frame


def read_index(frame: np.ndarray) -> int:
    """Decode the index drawn by :func:`index_frame` (works after lossy coding and after resizing)."""
    h, w = frame.shape[:2]
    gray = frame.mean(axis=2) if frame.ndim == 3 else frame.astype(np.float64)
    bar_h = max(h // 4, 2)
    block = w / BITS
    value = 0
    for b in range(BITS):
        x0, x1 = int(b * block + block * 0.25), int((b + 1) * block - block * 0.25)
        cell = gray[bar_h // 4: bar_h * 3 // 4, x0:max(x1, x0 + 1)]
        if cell.mean() > 128:
            value |= 1 << b
    return value


def make_index_video(path: str | os.PathLike, n_frames: int, size: tuple[int, int] = (320, 240), fps: float = 25,
                     *, codec: str = "libx264", gop: int = 12, bframes: int = 2, open_gop: bool = False,
                     timestamps: np.ndarray | None = None, time_base: Fraction | None = None,
                     container_format: str | None = None, preset: str = "ultrafast", crf: int = 18,
                     rotation: int = 0) -> str:
    """Encode ``n_frames`` index frames. ``timestamps`` (seconds, increasing) make it VFR or start late;
    ``rotation`` (clockwise degrees) sets the display matrix, as phones do.

    >>> make_index_video("/tmp/videolens-index.mp4", 30, gop=10)    # doctest: +ELLIPSIS
    '/tmp/videolens-index.mp4'
    """
    path = os.fspath(path)
    width, height = size
    tmp = temp_path_for(path)
    try:
        with av.open(tmp, "w", format=container_format or _format_for(path)) as out:
            rate = Fraction(fps).limit_denominator(1001)
            fmt = container_format or _format_for(path)
            if time_base is None:
                # MPEG-4 Part 2 and AVI want a time base of 1/fps; the rest take a fine one (needed for VFR).
                time_base = 1 / rate if codec != "libx264" or fmt in ("avi", "mpeg") else Fraction(1, 90000)
            stream = out.add_stream(codec, rate=rate)
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv420p"
            stream.codec_context.time_base = time_base
            stream.time_base = time_base
            stream.codec_context.gop_size = gop
            if rotation:
                stream.set_display_rotation(-rotation)  # PyAV takes counter-clockwise degrees
            if codec == "libx264":
                params = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={bframes}"
                if open_gop:
                    params += ":open-gop=1"
                stream.options = {"preset": preset, "crf": str(crf), "x264-params": params}
            elif bframes:
                stream.codec_context.max_b_frames = bframes
            for i in range(n_frames):
                t = float(timestamps[i]) if timestamps is not None else i / float(rate)
                vf = av.VideoFrame.from_ndarray(index_frame(i, width, height), format="rgb24")
                vf.pts = int(round(t / time_base))
                vf.time_base = time_base
                for packet in stream.encode(vf):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def _format_for(path: str) -> str | None:
    ext = os.path.splitext(path)[1].lower()
    return {".mp4": "mp4", ".mkv": "matroska", ".avi": "avi", ".ts": "mpegts", ".mov": "mov", ".webm": "webm",
            ".mpg": "mpeg"}.get(ext)
