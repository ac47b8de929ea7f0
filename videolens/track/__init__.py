"""Multi-object tracking: ``bytetrack`` and ``sort`` behind one interface, and MOTChallenge files and metrics.

A tracker takes one frame's :class:`~videolens.core.detections.Detections` at a time and returns the tracked
ones with ``track_ids`` set; ``reset()`` forgets everything (call it between videos). Trackers are chosen by name
from :data:`TRACKERS` (the same names in ``detect``, ``analyze`` and ``watch``).

>>> from videolens.track import create_tracker
>>> tracker = create_tracker("bytetrack", frame_rate=25)
>>> # for each frame: tracked = tracker.update(detector(frame))
"""

from __future__ import annotations

from ..core.registry import Registry
from ..utils.lazy import lazy_exports

TRACKERS: Registry = Registry("tracker", option="--tracker")
TRACKERS.register("bytetrack", "videolens.track.bytetrack:ByteTrack")
TRACKERS.register("sort", "videolens.track.sort:Sort")

_LAZY = {
    "ByteTrack": "videolens.track.bytetrack",
    "Track": "videolens.track.bytetrack",
    "Sort": "videolens.track.sort",
    "KalmanXYAH": "videolens.track.kalman",
    "linear_assignment": "videolens.track.matching",
    "read_mot": "videolens.track.mot",
    "write_mot": "videolens.track.mot",
    "mot_lines": "videolens.track.mot",
    "mot_metrics": "videolens.track.mot",
    "track_sequence": "videolens.track.mot",
}

__all__ = sorted([*_LAZY, "TRACKERS", "create_tracker"])


def create_tracker(name: str, **settings):
    """A tracker by name (see :data:`TRACKERS`) with its settings as keyword arguments; a tracker object passes
    through unchanged, so callers may take either."""
    if not isinstance(name, str):
        return name
    return TRACKERS.create(name, **settings)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
