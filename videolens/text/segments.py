"""Text segments: the lines read on sampled frames, merged over time, and their files (``text.json``, ``text.srt``).

A line read on consecutive samples merges into one segment when its text is the same (or nearly: one OCR slip in
ten characters) and it is in the same place: the boxes overlap (IoU >= 0.3), or it is on the same text line (same
height, same vertical position) having moved sideways, as a ticker does. Times are sample-and-hold: a segment
starts at the first sample that shows it and ends at the first sample that does not (the end of the video for the
last), so both ends are within one sampling interval of the truth, and exact at a shot cut (a cut is sampled).
The segment's text is the reading with the highest summed confidence over its samples; its box covers all of them.

>>> b = SegmentBuilder()
>>> b.add(0.0, [("News at 6", [10, 10, 110, 40], 0.9)])
>>> b.add(1.0, [("News at 6", [11, 10, 111, 40], 0.8)])
>>> b.add(2.0, [])
>>> [(s.text, s.start, s.end, s.confidence) for s in b.finish(3.0)]
[('News at 6', 0.0, 2.0, 0.85)]
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..utils.files import write_text
from ..utils.timecode import timecode


@dataclass
class TextSegment:
    """One text on screen: ``start``/``end`` in seconds (PTS), ``box`` ``[x1, y1, x2, y2]``, mean ``confidence``."""

    text: str
    start: float
    end: float
    box: list[float]
    confidence: float
    samples: int = 1

    def to_dict(self) -> dict:
        return {"text": self.text, "start": round(self.start, 3), "end": round(self.end, 3),
                "box": [round(float(v), 1) for v in self.box], "confidence": round(self.confidence, 4)}


@dataclass
class TextResult:
    """What the ``text`` analyzer and :func:`videolens.text.read_text` return."""

    segments: list[TextSegment] = field(default_factory=list)
    interval: float = 1.0
    lang: str = "auto"
    samples: int = 0           # frames read
    cut_samples: int = 0       # of which first frames after a cut
    model: str = ""
    path: str = ""
    duration: float = 0.0

    def to_dict(self) -> dict:
        """``text.json`` and the report's ``text`` section: ``{"segments": [{text, start, end, box, confidence}]}``
        and how they were read."""
        return {"segments": [s.to_dict() for s in self.segments], "interval": self.interval, "lang": self.lang,
                "samples": self.samples, "cut_samples": self.cut_samples, "model": self.model}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n"

    def to_srt(self) -> str:
        """One cue per segment, in order of start (lines on screen together give overlapping cues).

        >>> TextResult([TextSegment("12:30 NEWS", 1.0, 2.5, [0, 0, 9, 9], 0.9)]).to_srt()
        '1\\n00:00:01,000 --> 00:00:02,500\\n12:30 NEWS\\n'
        """
        segs = sorted(self.segments, key=lambda s: (s.start, s.box[1], s.box[0]))
        cues = [f"{k}\n{timecode(s.start, ',')} --> {timecode(s.end, ',')}\n{s.text}\n" for k, s in
                enumerate(segs, 1)]
        return "\n".join(cues)

    def save(self, out_dir: str | os.PathLike, formats: tuple[str, ...] = ("json", "srt"),
             overwrite: bool = True) -> list[Path]:
        """Write ``text.json`` and/or ``text.srt`` into ``out_dir`` (atomically); returns their paths."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for fmt in formats:
            path = out_dir / f"text.{fmt}"
            write_text(path, self.to_json() if fmt == "json" else self.to_srt(), overwrite=overwrite)
            paths.append(path)
        return paths


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings (characters).

    >>> edit_distance("kitten", "sitting")
    3
    """
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def same_text(a: str, b: str, slack: float = 0.1) -> bool:
    """Equal, or within one edit per ``1 / slack`` characters (an OCR slip on one sample).

    >>> same_text("Breaking news", "Breaklng news"), same_text("Goal!", "Gone")
    (True, False)
    """
    if a == b:
        return True
    n = max(len(a), len(b))
    return n >= 5 and edit_distance(a, b) <= max(1, int(slack * n))


def iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def same_place(a: list[float], b: list[float]) -> bool:
    """Overlapping boxes, or the same text line moved sideways (a ticker): similar height, same vertical span."""
    if iou(a, b) >= 0.3:
        return True
    ha, hb = a[3] - a[1], b[3] - b[1]
    if ha <= 0 or hb <= 0 or not 0.75 <= ha / hb <= 1.33:
        return False
    overlap = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return overlap >= 0.7 * min(ha, hb)


class _Open:
    """A segment still on screen at the last sample."""

    def __init__(self, text: str, box: list[float], conf: float, t: float):
        self.votes: dict[str, float] = {text: conf}
        self.text, self.box, self.last_box = text, list(box), list(box)
        self.confs = [conf]
        self.start = t

    def add(self, text: str, box: list[float], conf: float) -> None:
        self.votes[text] = self.votes.get(text, 0.0) + conf
        self.text = max(self.votes, key=self.votes.get)
        self.box = [min(self.box[0], box[0]), min(self.box[1], box[1]), max(self.box[2], box[2]),
                    max(self.box[3], box[3])]
        self.last_box = list(box)
        self.confs.append(conf)

    def close(self, end: float) -> TextSegment:
        return TextSegment(self.text, self.start, max(end, self.start), self.box,
                           sum(self.confs) / len(self.confs), len(self.confs))


class SegmentBuilder:
    """Merges the lines read on successive samples into :class:`TextSegment` (see the module's doc)."""

    def __init__(self) -> None:
        self.open: list[_Open] = []
        self.done: list[TextSegment] = []

    def add(self, t: float, lines: list[tuple[str, list[float], float]]) -> None:
        """The lines ``(text, box, confidence)`` read on the sample at time ``t`` (samples in time order)."""
        still: list[_Open] = []
        pending = list(self.open)
        for text, box, conf in lines:
            match = next((o for o in pending if same_text(o.text, text) and same_place(o.last_box, box)), None)
            if match is None:
                still.append(_Open(text, box, conf, t))
            else:
                pending.remove(match)
                match.add(text, box, conf)
                still.append(match)
        self.done += [o.close(t) for o in pending]
        self.open = still

    def finish(self, end: float) -> list[TextSegment]:
        """Close what is still on screen at ``end`` (the end of the video); all segments, by start time."""
        self.done += [o.close(end) for o in self.open]
        self.open = []
        return sorted(self.done, key=lambda s: (s.start, s.box[1], s.box[0]))
