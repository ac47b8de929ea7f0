"""SORT (Bewley et al., 2016): Kalman prediction and one Hungarian IoU matching per frame.

Simpler and faster than ByteTrack and blind to low-score boxes: a track is confirmed after ``min_hits``
consecutive matches and removed once it has gone unmatched for more than ``max_age`` frames (at 30 fps).

>>> from videolens.core.detections import Detections
>>> tracker = Sort(min_hits=1)
>>> tracker.update(Detections([[0, 0, 10, 20]], [0.9], frame_index=0)).track_ids.tolist()
[1]
"""

from __future__ import annotations

import numpy as np

from ..core.detections import Detections
from .bytetrack import CONFIRMED, LOST, REMOVED, TrackerBase
from .matching import linear_assignment


class Sort(TrackerBase):
    """SORT. ``iou_thresh``: the smallest IoU for a match (0.3); ``min_hits``: matches before a track is shown
    (3); ``max_age``: frames (at 30 fps) a track survives unmatched (1, as in the paper; raise it for gaps)."""

    name = "sort"

    def __init__(self, iou_thresh: float = 0.3, min_hits: int = 3, max_age: int = 1, frame_rate: float = 30.0,
                 min_score: float = 0.0, class_aware: bool = True):
        self.iou_thresh, self.min_hits, self.max_age = float(iou_thresh), int(min_hits), int(max_age)
        self.min_score = float(min_score)
        super().__init__(frame_rate, class_aware)

    @property
    def max_lost_frames(self) -> int:
        return max(1, int(round(self.max_age * self.frame_rate / 30.0)))

    def update(self, detections: Detections, frame: np.ndarray | None = None) -> Detections:
        """Associate one frame's detections; returns the shown tracks matched in it, with ``track_ids``.
        ``frame`` is accepted for the common interface (SORT has no camera-motion compensation)."""
        det = detections
        frame, gap = self._advance(det)
        warm_up = self.updates <= self.min_hits        # SORT shows every track during its first frames
        keep = np.flatnonzero(det.scores >= self.min_score)
        self._predict(self.tracks, gap)
        cost = self._cost(self.tracks, det, keep, fuse_score=False)
        matches, un_tracks, un_dets = linear_assignment(cost, 1.0 - self.iou_thresh)
        matched = [self.tracks[i] for i in matches[:, 0]]
        self._update_tracks(matched, det, keep[matches[:, 1]], frame)   # hits: the current streak of matches
        for t in matched:
            if t.hits >= self.min_hits or warm_up:
                self._confirm(t)
        for ti in un_tracks:
            t = self.tracks[ti]
            t.hits = 0                                       # the streak is broken: shown again after min_hits
            if t.state == CONFIRMED:
                t.state = LOST
        for di in keep[un_dets]:
            t = self._new_track(det, di, frame)
            if self.min_hits <= 1 or warm_up:
                self._confirm(t)
            self.tracks.append(t)
        limit = max(self.max_lost_frames, gap)
        for t in self.tracks:
            if frame - t.last_frame > limit:
                t.state = REMOVED
        self.tracks = [t for t in self.tracks if t.state != REMOVED]
        return self._output(frame, det)
