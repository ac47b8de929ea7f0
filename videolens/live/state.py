"""What the live page shows: events, status and the newest annotated frame per camera, shared between the camera
loop's threads (writers) and the page server's (readers). Everything stored is JSON-ready, credentials masked.

>>> state = LiveState()
>>> state.add_event({"camera": "front", "kind": "motion", "url": "rtsp://user:pw@cam/1"})
>>> state.events()[1][0][1]["url"]
'rtsp://***@cam/1'
"""

from __future__ import annotations

import copy
import math
import os
import threading
from collections import deque

from .sources import redact


def _clean(value):
    """A JSON-ready deep copy: masked credentials, no NaN (JSON.parse rejects it), numpy scalars as numbers."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {_clean(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, deque)):
        return [_clean(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int)):
        return value
    if hasattr(value, "item") and callable(value.item):    # numpy scalar
        try:
            return _clean(value.item())
        except (TypeError, ValueError):
            pass
    if hasattr(value, "tolist"):                            # numpy array
        return _clean(value.tolist())
    return _clean(os.fspath(value) if isinstance(value, os.PathLike) else str(value))


class LiveState:
    """What the page shows, updated by the camera loop from its threads (thread-safe).

    The loop writes; the server reads through the methods below the setters, and every reader gets its own copy.
    The status document is expected as ``{"cameras": {name: {"frames_in", "frames_analyzed", "frames_dropped",
    "lag" (seconds), "cpu" (percent), "connected" (bool), "last_error"}}}`` (a list of such dicts with a
    ``"name"`` also works); other keys are kept and served, the page shows these.
    """

    def __init__(self, max_events: int = 200):
        self._cond = threading.Condition(threading.Lock())
        self._frames: dict[str, tuple[int, bytes]] = {}
        self._frame_seq = 0
        self._events: deque[tuple[int, dict]] = deque(maxlen=max_events)
        self._event_seq = 0
        self._status: dict = {}
        self._counts: dict[str, dict] = {}
        self._names: dict[str, None] = {}       # every camera seen, in order of appearance

    # --- written by the camera loop -------------------------------------------------------------------------

    def update_frame(self, camera: str, jpeg: bytes) -> None:
        """Newest annotated frame of ``camera`` (already drawn, JPEG-encoded); older ones are simply replaced."""
        camera = _clean(str(camera))
        with self._cond:
            self._frame_seq += 1
            self._frames[camera] = (self._frame_seq, bytes(jpeg))
            self._names.setdefault(camera)
            self._cond.notify_all()

    def add_event(self, event: dict) -> None:
        """An events.jsonl record; the last ``max_events`` are kept. A start and its end share an ``id``."""
        event = _clean(event)
        with self._cond:
            self._event_seq += 1
            self._events.append((self._event_seq, event))

    def set_status(self, status: dict) -> None:
        """The status.json document (per camera figures)."""
        status = _clean(status)
        with self._cond:
            self._status = status
            for name in _status_cameras(status):
                self._names.setdefault(name)

    def set_counts(self, camera: str, counts: dict) -> None:
        """Current counts of one camera, e.g. ``{"zones": {"door": 2}, "lines": {"gate": {"in": 3, "out": 1}}}``."""
        camera, counts = _clean(str(camera)), _clean(counts)
        with self._cond:
            self._counts[camera] = counts
            self._names.setdefault(camera)

    # --- read by the server -------------------------------------------------------------------------------------

    def cameras(self) -> list[str]:
        with self._cond:
            return list(self._names)

    def frame(self, camera: str) -> tuple[int, bytes] | None:
        """``(sequence number, jpeg)`` of the newest frame, or None before the first."""
        with self._cond:
            return self._frames.get(camera)

    def wait_frame(self, camera: str, after: int, timeout: float) -> tuple[int, bytes] | None:
        """The newest frame once it is newer than sequence number ``after``; None after ``timeout`` seconds."""
        def newer():
            f = self._frames.get(camera)
            return f if f is not None and f[0] > after else None
        with self._cond:
            self._cond.wait_for(newer, timeout)
            return newer()

    def events(self, after: int = 0) -> tuple[int, list[tuple[int, dict]]]:
        """``(last sequence number, [(seq, record), ...])`` for the kept records after ``after``, oldest first."""
        with self._cond:
            return self._event_seq, [(s, copy.deepcopy(e)) for s, e in self._events if s > after]

    def status(self) -> dict:
        with self._cond:
            return copy.deepcopy(self._status)

    def counts(self) -> dict[str, dict]:
        with self._cond:
            return copy.deepcopy(self._counts)


def _status_cameras(status: dict) -> list[str]:
    cams = status.get("cameras") if isinstance(status, dict) else None
    if isinstance(cams, dict):
        return [str(k) for k in cams]
    if isinstance(cams, list):
        return [str(c["name"]) for c in cams if isinstance(c, dict) and c.get("name") is not None]
    return []
