"""Multi-object tracking: ``bytetrack``, ``ocsort``, ``botsort`` and ``sort`` behind one interface, and
MOTChallenge files and metrics (MOTA, IDF1, HOTA).

A tracker takes one frame's :class:`~videolens.core.detections.Detections` at a time and returns the tracked
ones with ``track_ids`` set; ``reset()`` forgets everything (call it between videos). A tracker whose
``wants_frames`` is true (``botsort``, or any with ``cmc=``) also takes the image, ``update(detections,
frame=image)``, to compensate the camera's motion; without it, it tracks as the others do. Trackers are chosen by
name from :data:`TRACKERS` (the same names in ``detect``, ``analyze`` and ``watch``).

>>> from videolens.track import create_tracker
>>> tracker = create_tracker("bytetrack", frame_rate=25)
>>> # for each frame: tracked = tracker.update(detector(frame))
"""

from __future__ import annotations

from ..core.registry import Registry
from ..utils.lazy import lazy_exports

TRACKERS: Registry = Registry("tracker", option="--tracker")
TRACKERS.register("bytetrack", "videolens.track.bytetrack:ByteTrack")
TRACKERS.register("ocsort", "videolens.track.ocsort:OcSort")
TRACKERS.register("botsort", "videolens.track.bytetrack:BotSort")
TRACKERS.register("sort", "videolens.track.sort:Sort")

_LAZY = {
    "ByteTrack": "videolens.track.bytetrack",
    "Track": "videolens.track.bytetrack",
    "Sort": "videolens.track.sort",
    "OcSort": "videolens.track.ocsort",
    "BotSort": "videolens.track.bytetrack",
    "CameraMotion": "videolens.track.cmc",
    "KalmanXYAH": "videolens.track.kalman",
    "linear_assignment": "videolens.track.matching",
    "read_mot": "videolens.track.mot",
    "write_mot": "videolens.track.mot",
    "mot_lines": "videolens.track.mot",
    "mot_metrics": "videolens.track.mot",
    "track_sequence": "videolens.track.mot",
}

__all__ = sorted([*_LAZY, "TRACKERS", "create_tracker", "tracker_settings_of"])


def tracker_settings_of(name: str) -> list[str]:
    """The keyword settings tracker ``name`` takes (its class's and those it passes up to its bases)."""
    import inspect

    params: dict = {}
    for cls in getattr(TRACKERS.get(name), "__mro__", [TRACKERS.get(name)]):      # **settings passed up
        own = inspect.signature(cls).parameters
        params.update({k: p for k, p in own.items() if p.kind is p.POSITIONAL_OR_KEYWORD or p.kind is p.KEYWORD_ONLY})
        if not any(p.kind is p.VAR_KEYWORD for p in own.values()):
            break
    return list(params)


def create_tracker(name, **settings):
    """A tracker by name (see :data:`TRACKERS`) with its settings as keyword arguments; a tracker object passes
    through unchanged, so callers may take either (its settings are its own: passing more is an error). A setting
    the tracker does not have is a one-line error."""
    from ..errors import VideolensError

    if not isinstance(name, str):
        if settings:
            raise VideolensError(f"tracker settings ({', '.join(sorted(settings))}) go to the tracker object itself "
                                 f"({type(name).__name__}(...)), not beside it")
        return name
    if settings:
        params = tracker_settings_of(name)
        unknown = sorted(set(settings) - set(params))
        if unknown:
            raise VideolensError(f"--tracker {name} has no setting {', '.join(unknown)} "
                                 f"(it takes: {', '.join(params)})")
    return TRACKERS.create(name, **settings)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
