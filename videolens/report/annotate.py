"""``annotated.mp4``: the video with the analysis drawn on it (boxes with class names, track ids and trails by the
same annotator as ``videolens detect``, the current shot, subtitles), H.264 with the source's audio kept in sync.

It draws a finished report, so it is a render pass after the analysis: shot boundaries and final track ids exist only
once the analysis pass is over. Boxes of an analyzer that ran with a stride stay on screen until its next analyzed
frame, so they do not flicker.

>>> from videolens.report.annotate import render_annotated
>>> render_annotated("samples/sample.mp4", report, "/tmp/annotated.mp4", quiet=True)   # doctest: +SKIP
"""

from __future__ import annotations

import os
import textwrap

import numpy as np

from ..core.detections import Detections
from ..io.reader import VideoReader
from ..io.writer import VideoWriter
from ..utils.progress import progress
from .draw import BoxAnnotator


class _Boxes:
    """An analyzer's boxes per analyzed frame, looked up for any frame (held ``hold`` frames after the last one)."""

    def __init__(self, section: dict | None, hold: int):
        dets = (section or {}).get("detections") or []
        self.index = np.asarray([int(d["index"]) for d in dets], dtype=np.int64)
        self.found = [Detections.from_records(d.get("boxes") or [], int(d["index"])) for d in dets]
        self.hold = max(1, int(hold))

    def at(self, i: int) -> tuple[Detections, bool]:
        """The boxes shown on frame ``i``, and whether ``i`` is a frame they were found on (trails move then)."""
        k = int(np.searchsorted(self.index, i, side="right")) - 1
        if k < 0 or i - int(self.index[k]) >= self.hold:
            return Detections.empty(i), False
        return self.found[k], int(self.index[k]) == i


def _stride_of(report: dict, name: str) -> int:
    for a in (report.get("analyzers") or {}).get("ran") or []:
        if a.get("name") == name:
            return int(a.get("stride") or 1)
    return 1


def render_annotated(source: str | os.PathLike | VideoReader, report: dict, output: str | os.PathLike, *,
                     quiet: bool = False, desc: str | None = None, batch: int = 8) -> str:
    """Write ``output``: every frame of ``source`` with the report's boxes, ids, shot number and subtitles drawn."""
    from PIL import Image, ImageDraw, ImageFont

    reader = source if isinstance(source, VideoReader) else VideoReader(source)
    w, h = reader.size
    font = ImageFont.load_default(size=max(12, h // 28))
    layers = [(_Boxes(report.get(name), _stride_of(report, name)), BoxAnnotator(trail=30 if name == "objects" else 0))
              for name in ("faces", "objects") if report.get(name)]
    shots = (report.get("shots") or {}).get("shots") or []
    shot_starts = np.asarray([int(s["start_frame"]) for s in shots], dtype=np.int64)
    segments = sorted((report.get("speech") or {}).get("segments") or [], key=lambda s: float(s["start"]))
    seg_starts = np.asarray([float(s["start"]) for s in segments], dtype=np.float64)
    wrap = max(20, int(w / (font.size * 0.55)))

    def draw(frame: np.ndarray, i: int, t: float) -> np.ndarray:
        for boxes, annotator in layers:
            found, fresh = boxes.at(i)
            frame = annotator.annotate(frame, found, update_trails=fresh)
        if not shot_starts.size and not seg_starts.size:
            return frame
        img = Image.fromarray(frame)
        d = ImageDraw.Draw(img)          # text with PIL: subtitles in any script
        if shot_starts.size:
            k = int(np.searchsorted(shot_starts, i, side="right"))
            d.text((8, 6), f"shot {max(k, 1)}/{len(shots)}", font=font, fill=(255, 255, 255), stroke_width=2,
                   stroke_fill=(0, 0, 0))
        if seg_starts.size:
            k = int(np.searchsorted(seg_starts, t, side="right")) - 1
            if k >= 0 and t < float(segments[k]["end"]) and segments[k].get("text", "").strip():
                lines = textwrap.wrap(segments[k]["text"].strip(), wrap)[-2:]
                y = h - 10 - len(lines) * (font.size + 6)
                for ln in lines:
                    tw = d.textlength(ln, font=font)
                    d.text(((w - tw) / 2, y), ln, font=font, fill=(255, 255, 255), stroke_width=3,
                           stroke_fill=(0, 0, 0))
                    y += font.size + 6
        return np.asarray(img)

    bar = progress(total=len(reader), desc=desc or "annotated video", quiet=quiet, unit="frame")
    try:
        with VideoWriter(output, fps=reader.fps, size=(w, h), audio_from=reader.path if reader.info.audio else None,
                         audio="auto") as writer:
            for b in reader.iter_frames(batch=batch):
                for frame, i, t in zip(b.frames, b.indices, b.timestamps):
                    writer.write(draw(frame, int(i), float(t)), float(t))
                bar.update(len(b.frames))
    finally:
        bar.close()
    return os.fspath(output)
