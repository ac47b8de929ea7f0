"""What every part of videolens shares, and nothing else: the analyzer contract, the event type, the one
``Detections`` type, and the registry type for names a user picks. Imported by every part; imports none of them
(only ``videolens.errors`` and ``videolens.utils``).

Names load on first use, so a registry lookup at start-up does not pay for numpy.

>>> from videolens.core import Analyzer, Detections, Event, Registry
"""

from __future__ import annotations

from ..utils.lazy import lazy_exports

_LAZY = {
    "Analyzer": "videolens.core.analyzer",
    "MissingExtra": "videolens.core.analyzer",
    "result_dict": "videolens.core.analyzer",
    "ANCHORS": "videolens.core.detections",
    "Detections": "videolens.core.detections",
    "box_iou": "videolens.core.detections",
    "Event": "videolens.core.events",
    "Entry": "videolens.core.registry",
    "Registry": "videolens.core.registry",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
