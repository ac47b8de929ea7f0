"""Counting tracked objects: crossings of a line (in / out, with hysteresis) and occupancy of a polygon zone.

Both work on tracked :class:`~videolens.core.detections.Detections` (``track_ids`` set) one frame at a time,
through ``trigger(detections)``, and keep their totals.

A line is a segment from ``start`` to ``end``. "In" is a crossing to its right-hand side as seen walking from
``start`` to ``end`` in the picture (for a line drawn left to right: moving down the picture); "out" is the other
way. A crossing counts only when the track's anchor point has been clearly on one side (more than ``margin``
pixels away from the line) and is then clearly on the other, and the path between those two points passes through
the segment. Jitter around the line never reaches the other side's margin, and each track counts at most once.

>>> import numpy as np
>>> from videolens.core.detections import Detections
>>> line = LineCounter((0, 50), (100, 50), margin=3)
>>> for i, y in enumerate([40, 49, 51, 49, 52, 60, 49, 61]):      # jitters at the line, then crosses
...     _ = line.trigger(Detections([[45, y - 5, 55, y + 5]], track_ids=[7], frame_index=i))
>>> line.in_count, line.out_count
(1, 0)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.detections import Detections


def _cross(ax, ay, bx, by):
    return ax * by - ay * bx


def _segments_intersect(p, q, a, b) -> bool:
    """Does segment p-q meet segment a-b (touching counts)?"""
    d1 = _cross(b[0] - a[0], b[1] - a[1], p[0] - a[0], p[1] - a[1])
    d2 = _cross(b[0] - a[0], b[1] - a[1], q[0] - a[0], q[1] - a[1])
    d3 = _cross(q[0] - p[0], q[1] - p[1], a[0] - p[0], a[1] - p[1])
    d4 = _cross(q[0] - p[0], q[1] - p[1], b[0] - p[0], b[1] - p[1])
    return (d1 * d2 <= 0) and (d3 * d4 <= 0)


@dataclass
class _LineState:
    side: int                       # -1 left, +1 right: the last side the anchor was clearly on
    point: tuple[float, float]      # where it was then
    counted: bool = False
    seen: float = 0.0               # when the track was last near the line (seconds, or frames without times)


class LineCounter:
    """In / out counts of tracks crossing the segment ``start``-``end`` (pixels).

    ``anchor``: which point of a box must cross (``center``, ``bottom-center`` for feet...). ``margin``: how far
    (pixels) from the line a point must be to count as on a side; None uses 15 % of the box's shorter side (at
    least 2 px), so the hysteresis follows the object's size. ``keep``: how many crossings ``crossings`` lists (None:
    all; a live camera keeps the last ones, its events carry the rest).
    """

    def __init__(self, start: Sequence[float], end: Sequence[float], anchor: str = "center",
                 margin: float | None = None, name: str = "line", keep: int | None = None):
        self.start = (float(start[0]), float(start[1]))
        self.end = (float(end[0]), float(end[1]))
        if self.start == self.end:
            raise ValueError("a counting line needs two different points")
        self.anchor, self.margin, self.name, self.keep = anchor, margin, name, keep
        self.reset()

    def reset(self) -> None:
        self.in_count = 0
        self.out_count = 0
        self.states: dict[int, _LineState] = {}
        self.crossings: deque[dict] = deque(maxlen=self.keep)  # {"track_id", "direction", "frame", "time", "class"}

    def new_crossings(self, seen: int) -> list[dict]:
        """The crossings after the first ``seen`` (``in_count + out_count`` is how many there have been)."""
        new = self.in_count + self.out_count - seen
        return list(self.crossings)[-new:] if new > 0 else []

    def forget(self, before: float) -> None:
        """Drop the state of tracks not seen since ``before`` (a long-running camera's memory stays flat)."""
        self.states = {k: v for k, v in self.states.items() if v.seen >= before}

    def signed_distance(self, points: np.ndarray) -> np.ndarray:
        """Distance of each point from the (infinite) line, positive on the right-hand ("in") side."""
        (x1, y1), (x2, y2) = self.start, self.end
        vx, vy = x2 - x1, y2 - y1
        return _cross(vx, vy, points[:, 0] - x1, points[:, 1] - y1) / np.hypot(vx, vy)

    def trigger(self, detections: Detections) -> tuple[np.ndarray, np.ndarray]:
        """Update with one frame; returns boolean masks of the boxes that crossed in and out in it."""
        n = len(detections)
        crossed_in, crossed_out = np.zeros(n, bool), np.zeros(n, bool)
        if n == 0:
            return crossed_in, crossed_out
        points = detections.anchors(self.anchor)
        dist = self.signed_distance(points)
        wh = detections.xyxy[:, 2:] - detections.xyxy[:, :2]
        margins = (np.full(n, float(self.margin)) if self.margin is not None
                   else np.maximum(2.0, 0.15 * wh.min(axis=1)))
        now = detections.timestamp if detections.timestamp is not None else float(detections.frame_index or 0)
        for i in range(n):
            tid = int(detections.track_ids[i])
            if tid < 0 or abs(dist[i]) <= margins[i]:
                continue                      # untracked, or inside the band around the line: no decision
            side = 1 if dist[i] > 0 else -1
            point = (float(points[i, 0]), float(points[i, 1]))
            state = self.states.get(tid)
            if state is None:
                self.states[tid] = _LineState(side, point, seen=now)
                continue
            state.seen = now
            if side != state.side:
                if not state.counted and _segments_intersect(state.point, point, self.start, self.end):
                    state.counted = True
                    if side > 0:
                        self.in_count += 1
                        crossed_in[i] = True
                    else:
                        self.out_count += 1
                        crossed_out[i] = True
                    self.crossings.append({"track_id": tid, "direction": "in" if side > 0 else "out",
                                           "frame": detections.frame_index, "time": detections.timestamp,
                                           "class": str(detections.class_names[i])})
                state.side = side
            state.point = point
        return crossed_in, crossed_out

    def to_dict(self) -> dict:
        return {"name": self.name, "start": list(self.start), "end": list(self.end), "anchor": self.anchor,
                "in": self.in_count, "out": self.out_count, "crossings": list(self.crossings)}


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd rule, vectorised over points: ``(N,)`` bool."""
    px, py = points[:, 0][:, None], points[:, 1][:, None]
    x1, y1 = polygon[:, 0][None], polygon[:, 1][None]
    x2, y2 = np.roll(polygon[:, 0], -1)[None], np.roll(polygon[:, 1], -1)[None]
    crosses = ((y1 > py) != (y2 > py)) & (px < (x2 - x1) * (py - y1) / np.where(y2 - y1 == 0, 1e-12, y2 - y1) + x1)
    return (crosses.sum(axis=1) % 2) == 1


@dataclass
class _Dwell:
    first_time: float
    last_time: float
    first_frame: int
    last_frame: int
    seconds: float = 0.0
    cls: str = ""
    inside: bool = True


class ZoneCounter:
    """How many objects are inside a polygon in each frame, and how long each track stayed inside.

    Dwell time adds up the time between consecutive frames in which a track was inside; leaving and coming back
    adds the new stretch. ``max_gap`` (seconds) bounds the time credited across frames the track was not seen in.
    After each ``trigger``, ``entered`` lists the tracks that came inside in that frame and ``exited`` those that
    were inside and are now seen outside (a track that is merely not detected for a frame has not left).
    """

    def __init__(self, polygon: Sequence[Sequence[float]], anchor: str = "center", name: str = "zone",
                 max_gap: float = 2.0):
        self.polygon = np.asarray(polygon, np.float64).reshape(-1, 2)
        if len(self.polygon) < 3:
            raise ValueError("a zone needs at least three points")
        self.anchor, self.name, self.max_gap = anchor, name, float(max_gap)
        self.reset()

    def reset(self) -> None:
        self.current = 0
        self.max_count = 0
        self.dwell: dict[int, _Dwell] = {}
        self.entered: list[int] = []
        self.exited: list[int] = []
        self._was_inside: dict[int, bool] = {}     # where each track was the last time it was seen
        self._last_seen: dict[int, float] = {}     # ... and when (forget() drops tracks gone long ago)

    def trigger(self, detections: Detections) -> np.ndarray:
        """Update with one frame; returns the mask of boxes inside the zone."""
        inside = (points_in_polygon(detections.anchors(self.anchor), self.polygon) if len(detections)
                  else np.zeros(0, bool))
        self.current = int(inside.sum())
        self.max_count = max(self.max_count, self.current)
        t = detections.timestamp if detections.timestamp is not None else float(detections.frame_index or 0)
        f = detections.frame_index if detections.frame_index is not None else 0
        seen = set()
        for i in np.flatnonzero(inside):
            tid = int(detections.track_ids[i])
            if tid < 0:
                continue
            seen.add(tid)
            d = self.dwell.get(tid)
            if d is None:
                self.dwell[tid] = _Dwell(t, t, f, f, 0.0, str(detections.class_names[i]))
                continue
            if d.inside:
                d.seconds += min(max(t - d.last_time, 0.0), self.max_gap)
            d.last_time, d.last_frame, d.inside = t, f, True
        for tid, d in self.dwell.items():
            if tid not in seen:
                d.inside = False
        present = {int(k) for k in detections.track_ids.tolist() if k >= 0}
        self.entered = sorted(t for t in seen if not self._was_inside.get(t))
        self.exited = sorted(t for t in present - seen if self._was_inside.get(t))
        self._was_inside.update({k: k in seen for k in present})
        self._last_seen.update(dict.fromkeys(present, t))
        return inside

    def forget(self, before: float) -> None:
        """Drop the tracks outside the zone and not seen since ``before`` (a long-running camera's memory stays
        flat; their dwell times leave ``to_dict`` too)."""
        old = [k for k, d in self.dwell.items() if not d.inside and d.last_time < before]
        for k in old:
            del self.dwell[k]
        for k in [k for k, t in self._last_seen.items() if t < before and k not in self.dwell]:
            del self._last_seen[k]
            self._was_inside.pop(k, None)

    def to_dict(self) -> dict:
        return {"name": self.name, "polygon": self.polygon.tolist(), "anchor": self.anchor,
                "max_count": self.max_count,
                "dwell": [{"track_id": k, "class": v.cls, "seconds": round(v.seconds, 3),
                           "first_time": round(v.first_time, 3), "last_time": round(v.last_time, 3),
                           "first_frame": v.first_frame, "last_frame": v.last_frame}
                          for k, v in sorted(self.dwell.items())]}
