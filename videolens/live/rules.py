"""Rules: what turns a camera's tracked boxes, motion and picture statistics into events (docs/watch.md).

Zones and lines use ``videolens detect``'s own counters (:class:`~videolens.detect.zones.ZoneCounter`,
:class:`~videolens.detect.zones.LineCounter`), with the same geometry and anchor, so a rule on a file counts what
``detect --zone/--line`` counts on it. Each rule sees only the boxes of its classes and score.

An event that lasts (loiter, count_above, motion, tamper) is found twice: ``state="start"`` when it begins and
``state="end"`` with the same ``key`` when it is over; the others are ``state="instant"``. ``cooldown`` keeps one
track (or the rule, for events about no track) from firing the same rule again within that many seconds.

>>> from videolens.live.config import Rule
>>> engine = RuleEngine([Rule("door", "line", line="door")], lines={"door": [(0, 50), (100, 50)]})
>>> [e.kind for e in engine.update(None, 0, 0.0)]
[]
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.detections import Detections
from ..detect.zones import LineCounter, ZoneCounter
from .config import Rule
from .motion import MotionState

MOTION_HOLD = 2.0       # seconds without motion before a motion event ends
FORGET_EVERY, FORGET_AFTER = 500, 600.0     # every 500 frames, forget tracks gone for 10 minutes
LOST_AFTER = 2.0        # seconds a loitering track may go unseen before its loiter event ends


@dataclass
class Found:
    """An event a rule found, before it becomes an ``events.jsonl`` record."""

    kind: str
    rule: str
    state: str                          # instant, start or end
    t: float                            # stream seconds
    frame: int
    fields: dict[str, Any] = field(default_factory=dict)   # zone/line, class, track_id, score, direction, ...
    key: str | None = None              # pairs a start with its end
    box: list[float] | None = None      # what the snapshot shows
    t_start: float | None = None        # an instant that covers a span (track_end): where it began
    frame_start: int | None = None


class _Interval:
    """The start/end bookkeeping of an event that lasts, per key (a track, or the rule itself)."""

    def __init__(self):
        self.open: dict[Any, tuple[float, int]] = {}

    def start(self, key, t: float, frame: int) -> bool:
        if key in self.open:
            return False
        self.open[key] = (t, frame)
        return True

    def end(self, key) -> tuple[float, int] | None:
        return self.open.pop(key, None)


class _RuleState:
    def __init__(self, rule: Rule, zones: dict, lines: dict, anchor: str):
        self.rule = rule
        self.zone = ZoneCounter(zones[rule.zone], anchor=anchor, name=rule.zone) if rule.zone else None
        self.line = LineCounter(*lines[rule.line], anchor=anchor, name=rule.line, keep=100) if rule.line else None
        self.crossed = 0
        self.last_fired: dict[Any, float] = {}     # track id (or None) -> stream time of its last event
        self.intervals = _Interval()
        self.quiet_since: float | None = None     # motion: when it last fell below the threshold

    def cooled(self, key, t: float) -> bool:
        """Whether ``key`` may fire now (its cooldown is over); records the firing when it may."""
        last = self.last_fired.get(key)
        if last is not None and t - last < self.rule.cooldown:
            return False
        self.last_fired[key] = t
        return True


class RuleEngine:
    """Every rule of one camera. ``zones``/``lines`` are the camera's geometry in frame pixels."""

    def __init__(self, rules: list[Rule] | tuple[Rule, ...], zones: dict | None = None, lines: dict | None = None,
                 anchor: str = "center"):
        self.rules = [_RuleState(r, zones or {}, lines or {}, anchor) for r in rules]
        self._updates = 0

    def forget(self, before: float) -> None:
        """Drop what the rules keep about tracks gone since stream time ``before`` (memory stays flat on a camera
        that runs for weeks)."""
        for s in self.rules:
            for counter in (s.zone, s.line):
                if counter is not None:
                    counter.forget(before)
            s.last_fired = {k: v for k, v in s.last_fired.items() if v >= before - s.rule.cooldown}

    @property
    def needs_detections(self) -> bool:
        return any(s.rule.kind in ("zone", "loiter", "count_above", "line") for s in self.rules)

    def counts(self) -> dict:
        """Current figures for the live page: objects per zone rule, in/out per line rule."""
        return {"zones": {s.rule.name: s.zone.current for s in self.rules if s.zone is not None},
                "lines": {s.rule.name: {"in": s.line.in_count, "out": s.line.out_count}
                          for s in self.rules if s.line is not None}}

    def update(self, detections: Detections | None, frame: int, t: float, motion: MotionState | None = None,
               tamper: set[str] | None = None, now: _dt.datetime | None = None) -> list[Found]:
        """One analyzed frame: tracked boxes (None when the detectors did not run), motion, tamper flags."""
        now = now or _dt.datetime.now().astimezone()
        self._updates += 1
        if self._updates % FORGET_EVERY == 0:
            self.forget(t - FORGET_AFTER)
        out: list[Found] = []
        for s in self.rules:
            armed = s.rule.armed_at(now)
            kind = s.rule.kind
            if kind in ("zone", "loiter", "count_above", "line"):
                if detections is not None:
                    out += self._objects(s, detections, frame, t, armed)
            elif kind == "motion" and motion is not None:
                level = motion.zones.get(s.rule.zone, 0.0) if s.rule.zone else motion.fraction
                out += self._motion(s, level, frame, t, armed)
            elif kind == "tamper" and tamper is not None:
                out += self._tamper(s, tamper, frame, t, armed)
        return out

    def close(self, frame: int, t: float) -> list[Found]:
        """End every event still open (the stream is over)."""
        out = []
        for s in self.rules:
            for key in list(s.intervals.open):
                s.intervals.end(key)
                out.append(Found(_interval_kind(s.rule), s.rule.name, "end", t, frame, self._key_fields(s, key),
                                 _key(s.rule, key)))
        return out

    # ---- the rule kinds ----------------------------------------------------------------------------------------
    def _objects(self, s: _RuleState, d: Detections, frame: int, t: float, armed: bool) -> list[Found]:
        r = s.rule
        keep = np.array([r.wants(n, float(sc)) for n, sc in zip(d.class_names.tolist(), d.scores.tolist())], bool)
        mine = d[keep] if len(d) else d
        by_track = {int(k): j for j, k in enumerate(mine.track_ids.tolist()) if k >= 0}

        def fields(tid: int, **extra) -> dict:
            j = by_track.get(tid)
            base = {"zone": r.zone} if r.zone else {"line": r.line}
            if j is None:
                return {**base, "track_id": tid, **extra}
            return {**base, "class": str(mine.class_names[j]), "track_id": tid, "score": round(float(mine.scores[j]), 4),
                    **extra}

        def box(tid: int) -> list[float] | None:
            j = by_track.get(tid)
            return [round(float(v), 2) for v in mine.xyxy[j]] if j is not None else None

        out: list[Found] = []
        if s.line is not None:
            s.line.trigger(mine)
            for c in s.line.new_crossings(s.crossed):
                if armed and r.direction in ("both", c["direction"]) and s.cooled(c["track_id"], t):
                    out.append(Found("line_cross", r.name, "instant", t, frame,
                                     fields(c["track_id"], direction=c["direction"]), box=box(c["track_id"])))
            s.crossed = s.line.in_count + s.line.out_count
            return out
        s.zone.trigger(mine)
        if r.kind == "zone":
            for kind, tids, wanted in (("zone_enter", s.zone.entered, "enter"), ("zone_exit", s.zone.exited, "exit")):
                for tid in tids:
                    if armed and wanted in r.events and s.cooled((tid, kind), t):
                        out.append(Found(kind, r.name, "instant", t, frame, fields(tid), box=box(tid)))
        elif r.kind == "loiter":
            for tid, dw in s.zone.dwell.items():
                gone = not dw.inside and (tid in by_track or t - dw.last_time > LOST_AFTER)
                if tid in s.intervals.open and gone:
                    s.intervals.end(tid)
                    out.append(Found("loiter", r.name, "end", t, frame, fields(tid, seconds=round(dw.seconds, 3)),
                                     _key(r, tid)))
                elif (dw.inside and dw.seconds >= r.loiter and armed and tid not in s.intervals.open
                      and s.cooled(tid, t) and s.intervals.start(tid, t, frame)):
                    out.append(Found("loiter", r.name, "start", t, frame, fields(tid, seconds=round(dw.seconds, 3)),
                                     _key(r, tid), box(tid)))
        elif r.kind == "count_above":
            n = s.zone.current
            if n > r.count_above and armed and None not in s.intervals.open and s.cooled(None, t):
                s.intervals.start(None, t, frame)
                out.append(Found("count_above", r.name, "start", t, frame, {"zone": r.zone, "count": n,
                                                                           "above": r.count_above}, _key(r, None)))
            elif n <= r.count_above and s.intervals.end(None) is not None:
                out.append(Found("count_above", r.name, "end", t, frame, {"zone": r.zone, "count": n,
                                                                         "above": r.count_above}, _key(r, None)))
        return out

    def _motion(self, s: _RuleState, level: float, frame: int, t: float, armed: bool) -> list[Found]:
        r = s.rule
        base = {"zone": r.zone} if r.zone else {}
        if level >= r.motion:
            s.quiet_since = None
            if armed and None not in s.intervals.open and s.cooled(None, t) and s.intervals.start(None, t, frame):
                return [Found("motion", r.name, "start", t, frame, {**base, "level": round(level, 4)}, _key(r, None))]
            return []
        if None in s.intervals.open:
            s.quiet_since = t if s.quiet_since is None else s.quiet_since
            if t - s.quiet_since >= MOTION_HOLD:
                s.intervals.end(None)
                s.quiet_since = None
                return [Found("motion", r.name, "end", t, frame, {**base, "level": round(level, 4)}, _key(r, None))]
        return []

    def _tamper(self, s: _RuleState, active: set[str], frame: int, t: float, armed: bool) -> list[Found]:
        out = []
        for kind in s.rule.tamper:
            if kind in active and armed and kind not in s.intervals.open and s.cooled(kind, t):
                s.intervals.start(kind, t, frame)
                out.append(Found("tamper", s.rule.name, "start", t, frame, {"tamper": kind}, _key(s.rule, kind)))
            elif kind not in active and s.intervals.end(kind) is not None:
                out.append(Found("tamper", s.rule.name, "end", t, frame, {"tamper": kind}, _key(s.rule, kind)))
        return out

    @staticmethod
    def _key_fields(s: _RuleState, key) -> dict:
        r = s.rule
        if r.kind == "tamper":
            return {"tamper": key}
        base = {"zone": r.zone} if r.zone else {}
        return {**base, "track_id": key} if key is not None else base


def _interval_kind(rule: Rule) -> str:
    return {"loiter": "loiter", "count_above": "count_above", "motion": "motion", "tamper": "tamper"}[rule.kind]


def _key(rule: Rule, key) -> str:
    return f"{rule.name}/{key}" if key is not None else rule.name
