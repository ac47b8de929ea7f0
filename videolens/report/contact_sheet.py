"""A contact sheet: a grid of frames sampled evenly through a video, each labelled with its index and time."""

from __future__ import annotations

import io
import os

import numpy as np

from ..io.reader import VideoReader
from ..io.sampling import uniform_segments
from ..utils.files import write_bytes
from ..utils.timecode import timecode


def contact_sheet(path: str | os.PathLike, output: str | os.PathLike, frames: int = 16, columns: int = 4,
                  width: int = 320) -> dict:
    """Write a PNG grid of ``frames`` frames (the middle of equal segments) and return what it shows.

    >>> contact_sheet("samples/sample.mp4", "/tmp/sheet.png")["indices"][:3]    # doctest: +SKIP
    [11, 35, 58]
    """
    from PIL import Image, ImageDraw

    reader = VideoReader(path)
    n = min(frames, len(reader))
    indices = uniform_segments(len(reader), n)
    w0, h0 = reader.size
    tw, th = width, max(2, round(width * h0 / w0))
    thumbs = reader.get_frames(indices, size=(tw, th))
    cols = min(columns, n)
    rows = (n + cols - 1) // cols
    label_h, pad = 18, 4
    sheet = Image.new("RGB", (cols * (tw + pad) + pad, rows * (th + label_h + pad) + pad), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    for k, (i, img) in enumerate(zip(indices.tolist(), thumbs)):
        x = pad + (k % cols) * (tw + pad)
        y = pad + (k // cols) * (th + label_h + pad)
        sheet.paste(Image.fromarray(img), (x, y))
        draw.text((x + 2, y + th + 3), f"#{i}  {timecode(reader.timestamps[i])}", fill=(230, 230, 230))
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    write_bytes(output, buf.getvalue())
    return {"path": os.fspath(output), "video": os.fspath(path), "indices": indices.tolist(),
            "timestamps": [round(float(reader.timestamps[i]), 6) for i in indices],
            "size": [sheet.width, sheet.height], "bad_frames": reader.bad_frames}


def as_array(path: str | os.PathLike) -> np.ndarray:
    """Load a written sheet back (for tests and previews)."""
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))
