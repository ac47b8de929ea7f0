"""Multi-object tracking: ``bytetrack`` and ``sort`` behind one interface, and MOTChallenge files and metrics.

A tracker takes one frame's :class:`~videolens.detect.detections.Detections` at a time and returns the tracked
ones with ``track_ids`` set; ``reset()`` forgets everything (call it between videos).

>>> from videolens.track import create_tracker
>>> tracker = create_tracker("bytetrack", frame_rate=25)
>>> # for each frame: tracked = tracker.update(detector(frame))
"""

from __future__ import annotations

from ..errors import VideolensError
from ..utils.lazy import lazy_exports

TRACKERS = ("bytetrack", "sort")

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
    """A tracker by name (``bytetrack`` or ``sort``) with its settings as keyword arguments."""
    if name == "bytetrack":
        from .bytetrack import ByteTrack

        return ByteTrack(**settings)
    if name == "sort":
        from .sort import Sort

        return Sort(**settings)
    raise VideolensError(f"--tracker {name}: unknown tracker (choose from {', '.join(TRACKERS)})")


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
