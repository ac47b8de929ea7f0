"""Shots, transitions and the result of a detection run, and how transitions become a list of shots.

Conventions (conventions.md): frame indices are 0-based in presentation order; a cut is recorded as the first frame of
the new shot (``start == end``); a gradual transition as its first and last frame, inclusive. Times are seconds on the
stream's PTS clock, so they are right on variable-frame-rate files.

Shots cover the video without gaps, as PySceneDetect's scene lists do: a cut starts a shot at its frame, and a
gradual transition hands over in its middle (frame ``(start + end + 1) // 2``), which for a fade through black is
the middle of the black, where PySceneDetect's threshold detector puts it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..utils.timecode import timecode

TRANSITION_TYPES = ("cut", "dissolve", "fade", "wipe")


def _ms(x: float) -> float:
    return round(float(x), 3)


@dataclass
class Transition:
    """One shot transition. ``type`` is cut, dissolve, fade or wipe; ``start``/``end`` are inclusive frames."""

    type: str
    start: int
    end: int
    score: float = 1.0            # the detector's confidence or score at the transition
    start_time: float = 0.0
    end_time: float = 0.0

    @property
    def gradual(self) -> bool:
        return self.type != "cut"

    @property
    def boundary(self) -> int:
        """The first frame of the new shot: the cut frame, or the middle of a gradual transition."""
        return self.start if self.type == "cut" else (self.start + self.end + 1) // 2

    def to_dict(self) -> dict:
        return {"type": self.type, "start": int(self.start), "end": int(self.end), "start_time": _ms(self.start_time),
                "end_time": _ms(self.end_time), "score": round(float(self.score), 4)}


@dataclass
class Shot:
    """A shot: frames ``start_frame .. end_frame`` (inclusive), shown from ``start_time`` until ``end_time``."""

    index: int
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float               # when the shot stops being shown: the next shot's start (or the video's end)

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame + 1

    @property
    def duration(self) -> float:
        return self.end_time - self.start_time

    @property
    def middle_frame(self) -> int:
        return (self.start_frame + self.end_frame) // 2

    def to_dict(self) -> dict:
        return {"index": self.index, "start_frame": int(self.start_frame), "end_frame": int(self.end_frame),
                "start_time": _ms(self.start_time), "end_time": _ms(self.end_time),
                "start_timecode": timecode(self.start_time), "end_timecode": timecode(self.end_time),
                "frames": self.frames, "duration": _ms(self.duration)}


@dataclass
class ShotsResult:
    """What a shot detector returns: shots, transitions, and the per-frame scores behind them (``stats.csv``).

    ``to_dict()`` is what ``shots.json`` holds and what ``videolens analyze`` puts under its ``shots`` key.
    """

    path: str
    detector: str
    frames: int
    fps: float
    start_time: float
    duration: float
    shots: list[Shot]
    transitions: list[Transition]
    timestamps: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    scores: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def cuts(self) -> list[int]:
        """First frame of every shot but the first."""
        return [s.start_frame for s in self.shots[1:]]

    def to_dict(self) -> dict:
        counts = {t: 0 for t in TRANSITION_TYPES}
        for t in self.transitions:
            counts[t.type] = counts.get(t.type, 0) + 1
        return {"path": self.path, "detector": self.detector, "settings": self.settings, "frames": self.frames,
                "fps": round(float(self.fps), 6), "start_time": _ms(self.start_time), "duration": _ms(self.duration),
                "counts": {"shots": len(self.shots), **counts},
                "shots": [s.to_dict() for s in self.shots],
                "transitions": [t.to_dict() for t in self.transitions]}


def suppress_close(transitions: list[Transition], min_frames: int, timestamps: np.ndarray | None = None,
                   min_seconds: float = 0.0, key=None, end_time: float | None = None) -> list[Transition]:
    """Keep transitions whose boundaries are at least ``min_frames`` frames / ``min_seconds`` apart.

    Where two come closer, the one with the higher score stays (PySceneDetect keeps the first; a flash right after
    a real cut then hides the cut's neighbour, not the cut). The first and the last shot must be as long as the
    others: the last one ends at ``end_time`` (the video's end; without it, at its last frame). A "transition" in the
    last half second, where the video stops, is what the learned detector reported on fast motion, and a shot that
    short is not one. ``key`` ranks transitions instead of their score (higher stays).
    """
    order = sorted(transitions, key=lambda t: -(key(t) if key else t.score))
    kept: list[Transition] = []
    n = len(timestamps) if timestamps is not None else None

    def too_short_last(b: int) -> bool:
        if n is None:
            return False
        if b >= n - min_frames + 1:
            return True
        end = float(timestamps[n - 1]) if end_time is None else float(end_time)
        return bool(min_seconds > 0 and end - timestamps[b] < min_seconds - 1e-9)

    def too_close(a: int, b: int) -> bool:
        lo, hi = min(a, b), max(a, b)
        if hi - lo < min_frames:
            return True
        return bool(timestamps is not None and min_seconds > 0 and timestamps[hi] - timestamps[lo] < min_seconds - 1e-9)

    for t in order:
        b = t.boundary
        if b <= 0 or too_close(0, b) or too_short_last(b):
            continue
        if any(too_close(b, k.boundary) or (t.start <= k.end and k.start <= t.end) for k in kept):
            continue
        kept.append(t)
    return sorted(kept, key=lambda t: t.start)


def build_result(path: str, detector: str, transitions: list[Transition], timestamps: np.ndarray, end_time: float,
                 fps: float, scores: dict[str, np.ndarray] | None = None, settings: dict | None = None,
                 min_shot_len: float = 0.0, key=None) -> ShotsResult:
    """Turn transitions into contiguous shots, with times from ``timestamps`` (seconds, one per frame)."""
    n = int(len(timestamps))
    ts = np.asarray(timestamps, dtype=np.float64)
    trans = [t for t in transitions if 0 <= t.start <= t.end < n]
    trans = suppress_close(trans, 1, ts, min_shot_len, key, end_time) if n else []

    def time_at(i: int) -> float:
        return float(ts[i]) if i < n else float(end_time)

    for t in trans:
        t.start_time, t.end_time = time_at(t.start), time_at(t.end + 1)
    bounds = [0, *sorted({t.boundary for t in trans if 0 < t.boundary < n}), n]
    shots = [Shot(k, a, b - 1, time_at(a), time_at(b)) for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))
             if b > a]
    start = float(ts[0]) if n else 0.0
    return ShotsResult(path=path, detector=detector, frames=n, fps=fps, start_time=start,
                       duration=float(end_time) - start if n else 0.0, shots=shots, transitions=trans,
                       timestamps=ts, scores=scores or {}, settings=settings or {})
