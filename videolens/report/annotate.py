"""``annotated.mp4``: the video with the analysis drawn on it (boxes and track ids, the current shot, subtitles),
H.264 with the source's audio kept in sync.

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

from ..io.reader import VideoReader
from ..io.writer import VideoWriter
from ..utils.progress import progress

_PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
            (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255)]


class _Boxes:
    """Boxes per analyzed frame, looked up for any frame (held for ``hold`` frames after the last analyzed one)."""

    def __init__(self, section: dict | None, hold: int):
        dets = (section or {}).get("detections") or []
        self.index = np.asarray([int(d["index"]) for d in dets], dtype=np.int64)
        self.boxes = [d.get("boxes") or [] for d in dets]
        self.hold = max(1, int(hold))

    def at(self, i: int) -> list:
        k = int(np.searchsorted(self.index, i, side="right")) - 1
        if k < 0 or i - int(self.index[k]) >= self.hold:
            return []
        return self.boxes[k]


def _stride_of(report: dict, name: str) -> int:
    for a in (report.get("analyzers") or {}).get("ran") or []:
        if a.get("name") == name:
            return int(a.get("stride") or 1)
    return 1


def _class_names(objects: dict | None) -> dict[int, str]:
    names = (objects or {}).get("names") or (objects or {}).get("class_names") or {}
    if isinstance(names, list):
        return dict(enumerate(names))
    return {int(k): str(v) for k, v in names.items()}


def render_annotated(source: str | os.PathLike | VideoReader, report: dict, output: str | os.PathLike, *,
                     quiet: bool = False, desc: str | None = None, batch: int = 8) -> str:
    """Write ``output``: every frame of ``source`` with the report's boxes, ids, shot number and subtitles drawn."""
    from PIL import Image, ImageDraw, ImageFont

    reader = source if isinstance(source, VideoReader) else VideoReader(source)
    w, h = reader.size
    font = ImageFont.load_default(size=max(12, h // 28))
    small = ImageFont.load_default(size=max(10, h // 40))
    faces = _Boxes(report.get("faces"), _stride_of(report, "faces"))
    objects = _Boxes(report.get("objects"), _stride_of(report, "objects"))
    names = _class_names(report.get("objects"))
    track_class = {int(t["id"]): str(t.get("class", "")) for t in report.get("tracks") or []}
    shots = (report.get("shots") or {}).get("shots") or []
    shot_starts = np.asarray([int(s["start_frame"]) for s in shots], dtype=np.int64)
    segments = sorted((report.get("speech") or {}).get("segments") or [], key=lambda s: float(s["start"]))
    seg_starts = np.asarray([float(s["start"]) for s in segments], dtype=np.float64)
    wrap = max(20, int(w / (font.size * 0.55)))
    line = max(2, h // 300)

    def draw(frame: np.ndarray, i: int, t: float) -> np.ndarray:
        img = Image.fromarray(frame)
        d = ImageDraw.Draw(img)
        for x1, y1, x2, y2, score, *_ in faces.at(i):
            d.rectangle([x1, y1, x2, y2], outline=(255, 255, 255), width=line)
            d.text((x1 + 2, max(0, y1 - small.size - 4)), f"face {score:.2f}", font=small, fill=(255, 255, 255),
                   stroke_width=2, stroke_fill=(0, 0, 0))
        for box in objects.at(i):
            x1, y1, x2, y2, score = box[:5]
            cls = int(box[5]) if len(box) > 5 and box[5] is not None else -1
            tid = int(box[6]) if len(box) > 6 and box[6] is not None and box[6] >= 0 else None
            color = _PALETTE[(tid if tid is not None else cls) % len(_PALETTE)]
            label = track_class.get(tid) if tid is not None else None
            label = label or names.get(cls) or f"class {cls}"
            text = (f"#{tid} " if tid is not None else "") + f"{label} {score:.2f}"
            d.rectangle([x1, y1, x2, y2], outline=color, width=line)
            d.text((x1 + 2, max(0, y1 - small.size - 4)), text, font=small, fill=color, stroke_width=2,
                   stroke_fill=(0, 0, 0))
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
