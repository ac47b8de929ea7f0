"""``Event``: something an analyzer found that is final — a cut, a track that ended, a speech segment, a line
crossing. Analyzers hand them out through ``events()`` while a video plays; ``videolens watch`` streams them, file
runs may ignore them (conventions.md, Events).

>>> e = Event("cut", 3.0, 3.0, 75, 75, {"type": "cut"})
>>> e.to_dict()["kind"], e.duration
('cut', 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Event:
    """``kind`` a short snake_case word; times in seconds on the stream's PTS clock; frames 0-based, inclusive."""

    kind: str
    t_start: float
    t_end: float
    frame_start: int
    frame_end: int
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.t_end - self.t_start

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "t_start": round(float(self.t_start), 3), "t_end": round(float(self.t_end), 3),
                "frame_start": int(self.frame_start), "frame_end": int(self.frame_end), "data": self.data}
