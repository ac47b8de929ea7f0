"""An event's snapshot: its frame as a JPEG with the event's boxes, zones and lines drawn by the one annotator."""

from __future__ import annotations

import os
from collections.abc import Iterable

import cv2
import numpy as np

from ..core.detections import Detections
from ..errors import VideoError
from ..report.draw import BoxAnnotator, draw_line, draw_zone
from ..utils.files import write_bytes


def write_snapshot(frame: np.ndarray, detections: Detections | None, path: str | os.PathLike,
                   boxes_of_interest=None, *, zones: Iterable = (), lines: Iterable = (), quality: int = 90) -> str:
    """A JPEG of an event's frame (RGB) with boxes drawn by the one annotator, written atomically.

    ``boxes_of_interest`` (indices or a boolean mask into ``detections``) are the event's boxes, drawn labelled;
    the other detections are drawn thin and unlabelled, for context. None draws every box labelled. ``zones`` and
    ``lines`` are zone and line counters (:mod:`videolens.detect.zones`) drawn under the boxes.

    >>> import numpy as np
    >>> from videolens.core.detections import Detections
    >>> det = Detections([[20, 20, 80, 100]], [0.9], [0], ["person"], [4])
    >>> write_snapshot(np.zeros((120, 160, 3), np.uint8), det, "/tmp/videolens-snap-doc.jpg", [0])
    '/tmp/videolens-snap-doc.jpg'
    """
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"a snapshot needs an (H, W, 3) uint8 RGB frame, not {frame.shape} {frame.dtype}")
    out = np.ascontiguousarray(frame).copy()
    for zone in zones:
        draw_zone(out, zone)
    for line in lines:
        draw_line(out, line)
    if detections is not None and len(detections):
        if boxes_of_interest is None:
            out = BoxAnnotator(trail=0).annotate(out, detections)
        else:
            sel = np.zeros(len(detections), bool)
            sel[np.asarray(boxes_of_interest).reshape(-1)] = True
            if (~sel).any():
                out = BoxAnnotator(thickness=1, labels=False, trail=0).annotate(out, detections[~sel])
            out = BoxAnnotator(trail=0).annotate(out, detections[sel])
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise VideoError(path, "the snapshot could not be encoded as JPEG")
    write_bytes(path, buf.tobytes())
    return os.fspath(path)
