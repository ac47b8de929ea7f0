"""ByteTrack (Zhang et al., 2022): associate every detection box, the low-scoring ones too.

Per update: predict every track with a Kalman filter; match confirmed and lost tracks to the high-score detections
by IoU (scaled by the detection score) with the Hungarian method; match the tracks still unmatched to the
low-score detections (occluded objects score low, and are still the object); match tentative tracks to the high
detections left over; start tentative tracks from the remaining high detections, confirm them on their second hit,
and remove lost tracks after ``track_buffer`` frames.

Track states: ``tentative`` (seen once, no id shown yet), ``confirmed``, ``lost`` (kept for re-association, not
shown), ``removed``. Ids are given out at confirmation, so they count 1, 2, 3... without gaps, and ``reset()``
starts again at 1 for the next video. Times are in frames from ``Detections.frame_index`` (or ``timestamp``), so
``--stride N`` keeps ids stable: the Kalman filter predicts over the real gap of N frames (velocities are per
frame), and a track is lost after the same stretch of video whatever the stride.

>>> import numpy as np
>>> from videolens.core.detections import Detections
>>> tracker = ByteTrack()
>>> for i in range(3):
...     out = tracker.update(Detections([[10 + 2 * i, 10, 50 + 2 * i, 90]], [0.9], frame_index=i))
>>> out.track_ids.tolist()
[1]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.detections import Detections, box_iou
from .kalman import KalmanXYAH, xyah_to_xyxy, xyxy_to_xyah
from .matching import linear_assignment

TENTATIVE, CONFIRMED, LOST, REMOVED = "tentative", "confirmed", "lost", "removed"


@dataclass
class Track:
    """One object's track: Kalman state, last box and class, and bookkeeping."""

    mean: np.ndarray
    cov: np.ndarray
    box: np.ndarray
    score: float
    class_id: int
    class_name: str
    start_frame: int
    last_frame: int
    state: str = TENTATIVE
    id: int = -1
    hits: int = 1
    data: dict = field(default_factory=dict)

    @property
    def predicted_box(self) -> np.ndarray:
        return xyah_to_xyxy(self.mean[None, :4])[0]


class TrackerBase:
    """What ByteTrack, SORT and OC-SORT share: the Kalman filter, track bookkeeping, ids, camera-motion
    compensation and the output."""

    name = "tracker"
    #: Whether ``update`` wants the image too (``update(detections, frame=image)``): callers that have frames
    #: (``ObjectsAnalyzer``) pass them when this is true; without a frame every tracker still works.
    wants_frames = False

    def __init__(self, frame_rate: float = 30.0, class_aware: bool = True, smooth: bool = False,
                 cmc: str | None = None, velocity_noise: float | None = None):
        """``frame_rate`` scales how long lost tracks are kept and the Kalman velocity noise; ``class_aware``
        keeps a track to its class; ``smooth`` reports Kalman-filtered boxes instead of the detector's; ``cmc``
        (``"sparse"`` or ``"ecc"``) compensates the camera's motion when frames are given (:mod:`.cmc`);
        ``velocity_noise``: see :attr:`velocity_noise` (None: ``30 / frame_rate``)."""
        self.kf = KalmanXYAH()
        self.smooth = smooth
        self.frame_rate = float(frame_rate)
        self.class_aware = class_aware
        self._velocity_noise = None if velocity_noise is None else float(velocity_noise)
        self.cmc = None
        if cmc:
            from .cmc import CameraMotion

            self.cmc = CameraMotion(cmc)
            self.wants_frames = True
        #: The (width, height) the boxes are measured in, when the frames given to ``update`` are another size
        #: (``ObjectsAnalyzer`` detects on scaled-down frames and reports boxes in the video's pixels).
        self.image_size: tuple[int, int] | None = None
        self.reset()

    def reset(self) -> None:
        """Forget every track and start ids at 1 again (call between videos)."""
        self.tracks: list[Track] = []
        self.next_id = 1
        self.updates = 0
        self.frame = -1
        self._last_timestamp: float | None = None
        if self.cmc is not None:
            self.cmc.reset()

    @property
    def velocity_noise(self) -> float:
        """How much faster velocities per frame change than at 30 fps, for which the Kalman noise is set:
        ``30 / frame_rate`` unless given (a 10 fps frame lasts three 30 fps frames). Checked on the MOT17
        development sequences (BENCHMARKS.md): MOT17-05 (14 fps) tracks better with it than with 1."""
        if self._velocity_noise is not None:
            return self._velocity_noise
        return 30.0 / self.frame_rate

    # ---- helpers ----------------------------------------------------------------------------------------
    def _frame_of(self, det: Detections) -> float:
        """The frame this update is at: ``frame_index``; without it, the time since the previous update times
        ``frame_rate`` (from ``timestamp``); without either, the next frame."""
        if det.frame_index is not None:
            return int(det.frame_index)
        if det.timestamp is not None and self._last_timestamp is not None and self.updates:
            return self.frame + max(0.0, float(det.timestamp) - self._last_timestamp) * self.frame_rate
        return self.frame + 1

    def _advance(self, det: Detections) -> tuple[float, float]:
        """Move the clock to this update: returns ``(frame, gap)``, the gap in frames since the previous update
        (1 on the first update, and when frames do not go forward)."""
        frame = self._frame_of(det)
        gap = frame - self.frame if self.updates else 1
        if not gap > 0:
            gap = 1
        self.updates += 1
        self.frame = frame
        self._last_timestamp = float(det.timestamp) if det.timestamp is not None else None
        return frame, float(gap)

    def _compensate(self, image: np.ndarray | None, det: Detections) -> None:
        """Move every track by the camera's motion since the previous frame (nothing without a frame or
        ``cmc``)."""
        if self.cmc is None or image is None:
            return
        a = self.cmc.estimate(image, det.xyxy, self.image_size)
        if a is not None:
            self._warp(a)

    def _warp(self, a: np.ndarray) -> None:
        from .cmc import warp_boxes, warp_states

        if not self.tracks:
            return
        mean, cov = warp_states(np.stack([t.mean for t in self.tracks]), np.stack([t.cov for t in self.tracks]), a)
        boxes = warp_boxes(np.stack([t.box for t in self.tracks]), a)
        for t, m, c, b in zip(self.tracks, mean, cov, boxes):
            t.mean, t.cov, t.box = m, c, b.astype(np.float32)

    def _predict(self, tracks: list[Track], gap: float = 1.0) -> None:
        """Kalman-predict ``gap`` frames ahead (with ``--stride N``, N frames: velocities stay per frame)."""
        if not tracks:
            return
        mean = np.stack([t.mean for t in tracks])
        cov = np.stack([t.cov for t in tracks])
        # A track that was not seen has no reliable height velocity (as in ByteTrack's multi_predict).
        lost = np.array([t.state != CONFIRMED for t in tracks])
        mean[lost, 7] = 0
        mean, cov = self.kf.predict(mean, cov, gap, self.velocity_noise)
        for t, m, c in zip(tracks, mean, cov):
            t.mean, t.cov = m, c

    def _new_track(self, det: Detections, i: int, frame: int) -> Track:
        mean, cov = self.kf.initiate(xyxy_to_xyah(det.xyxy[i:i + 1]), self.velocity_noise)
        return Track(mean[0], cov[0], det.xyxy[i].copy(), float(det.scores[i]), int(det.class_ids[i]),
                     str(det.class_names[i]), frame, frame)

    def _update_tracks(self, tracks: list[Track], det: Detections, idx, frame: int) -> None:
        """Kalman-update several tracks with their matched detections in one vectorised step."""
        if not len(tracks):
            return
        idx = np.asarray(idx, np.int64)
        mean, cov = self.kf.update(np.stack([t.mean for t in tracks]), np.stack([t.cov for t in tracks]),
                                   xyxy_to_xyah(det.xyxy[idx]))
        # The detector's own boxes, or with ``smooth`` the filtered ones (the ByteTrack paper's output).
        boxes = xyah_to_xyxy(mean[:, :4]).astype(np.float32) if self.smooth else det.xyxy[idx]
        for t, m, c, b, i in zip(tracks, mean, cov, boxes, idx.tolist()):
            t.mean, t.cov, t.box = m, c, b.copy()
            t.score = float(det.scores[i])
            t.last_frame = frame
            t.hits += 1

    def _confirm(self, t: Track) -> None:
        if t.id < 0:
            t.id = self.next_id
            self.next_id += 1
        t.state = CONFIRMED

    def _cost(self, tracks: list[Track], det: Detections, idx: np.ndarray, fuse_score: bool,
              buffer: np.ndarray | None = None) -> np.ndarray:
        """``1 - IoU`` between predicted track boxes and detections (times the score with ``fuse_score``).

        ``buffer`` (per track, a fraction of the box size): both boxes grow by it on every side before the IoU
        (C-BIoU), so a track without a velocity yet still overlaps its object after a gap of several frames.
        """
        if not tracks or len(idx) == 0:
            return np.zeros((len(tracks), len(idx)))
        boxes = xyah_to_xyxy(np.stack([t.mean[:4] for t in tracks]))
        dets = det.xyxy[idx]
        if buffer is not None and np.any(buffer > 0):
            b = np.asarray(buffer, np.float64)
            wh = boxes[:, 2:] - boxes[:, :2]
            boxes = np.concatenate([boxes[:, :2] - b[:, None] * wh, boxes[:, 2:] + b[:, None] * wh], 1)
            # Detections grow by the largest buffer asked for (one per call in practice: the frame gap).
            dwh = dets[:, 2:] - dets[:, :2]
            dets = np.concatenate([dets[:, :2] - b.max() * dwh, dets[:, 2:] + b.max() * dwh], 1)
        iou = box_iou(boxes, dets)
        if fuse_score:
            iou = iou * det.scores[idx][None, :]
        cost = 1.0 - iou
        if self.class_aware:
            same = np.array([t.class_id for t in tracks])[:, None] == det.class_ids[idx][None, :]
            cost = np.where(same, cost, 1.0 + 1e-3)
        return cost

    def _output(self, frame: int, det: Detections) -> Detections:
        shown = [t for t in self.tracks if t.state == CONFIRMED and t.last_frame == frame]
        shown.sort(key=lambda t: t.id)
        if not shown:
            return Detections.empty(det.frame_index, det.timestamp)
        return Detections(np.stack([t.box for t in shown]), [t.score for t in shown], [t.class_id for t in shown],
                          [t.class_name for t in shown], [t.id for t in shown], det.frame_index, det.timestamp)

    def _remove_duplicates(self, max_distance: float = 0.15) -> None:
        """A followed track and a lost one on the same spot are one object twice: drop the younger (ByteTrack)."""
        followed = [t for t in self.tracks if t.state == CONFIRMED]
        lost = [t for t in self.tracks if t.state == LOST]
        if not followed or not lost:
            return
        dist = 1 - box_iou(xyah_to_xyxy(np.stack([t.mean[:4] for t in followed])),
                           xyah_to_xyxy(np.stack([t.mean[:4] for t in lost])))
        for i, j in zip(*np.nonzero(dist < max_distance)):
            a, b = followed[i], lost[j]
            if a.last_frame - a.start_frame > b.last_frame - b.start_frame:
                b.state = REMOVED
            else:
                a.state = REMOVED

    def active_tracks(self) -> list[Track]:
        """Confirmed and lost tracks (for drawing predicted positions between detections)."""
        return [t for t in self.tracks if t.state in (CONFIRMED, LOST)]


class ByteTrack(TrackerBase):
    """ByteTrack with the paper's settings except a looser first gate.

    - ``high_thresh``: detections at or above it are matched first (0.5); those between ``low_thresh`` (0.1)
      and it are used only to continue existing tracks.
    - ``new_track_thresh``: score needed to start a track (0.6).
    - ``match_thresh``: the largest ``1 - IoU * score`` cost accepted in the first association (0.9: about the
      reference tracker's IoU >= 0.1; the paper's 0.8 was set for 30 fps, and with ``--stride`` or at low frame
      rates boxes move further between updates); the second (low scores) accepts up to 0.5, tentative tracks 0.7.
    - ``smooth``: report the Kalman-filtered boxes (as the paper does) instead of the detector's.
    - ``track_buffer``: how long a lost track is kept, in frames at 30 fps (scaled by ``frame_rate``).
    - ``class_aware``: a track only continues with detections of its own class.
    - ``cmc``: camera-motion compensation when ``update`` is given frames (None: off; ``botsort`` turns it on).

    The score thresholds are for detectors whose scores are probabilities (0-1); for others (MOT15's ACF scores
    run from about -1 to 130) set them on that detector's scale (docs/tracking.md).
    """

    name = "bytetrack"

    def __init__(self, high_thresh: float = 0.5, low_thresh: float = 0.1, new_track_thresh: float = 0.6,
                 match_thresh: float = 0.9, track_buffer: int = 30, frame_rate: float = 30.0,
                 fuse_score: bool = True, class_aware: bool = True, smooth: bool = False, cmc: str | None = None,
                 velocity_noise: float | None = None):
        self.high_thresh, self.low_thresh = float(high_thresh), float(low_thresh)
        self.new_track_thresh = float(new_track_thresh)
        self.match_thresh, self.fuse_score = float(match_thresh), fuse_score
        self.track_buffer = int(track_buffer)
        super().__init__(frame_rate, class_aware, smooth, cmc, velocity_noise)

    @property
    def max_lost_frames(self) -> int:
        return max(1, int(round(self.track_buffer * self.frame_rate / 30.0)))

    def update(self, detections: Detections, frame: np.ndarray | None = None) -> Detections:
        """Associate one frame's detections; returns the confirmed tracks seen in it, with ``track_ids``.

        ``frame``: the image the detections came from, for camera-motion compensation (ignored without ``cmc``).
        """
        det = detections
        first_update = self.updates == 0
        now, gap = self._advance(det)
        self._compensate(frame, det)
        scores = det.scores
        high = np.flatnonzero(scores >= self.high_thresh)
        low = np.flatnonzero((scores > self.low_thresh) & (scores < self.high_thresh))

        tentative = [t for t in self.tracks if t.state == TENTATIVE]
        pool = [t for t in self.tracks if t.state in (CONFIRMED, LOST)]
        self._predict(pool + tentative, gap)

        # 1. Confirmed and lost tracks with the high-score detections.
        matches, un_tracks, un_high = self._first_match(pool, det, high)
        self._update_tracks([pool[i] for i in matches[:, 0]], det, high[matches[:, 1]], now)
        for ti in matches[:, 0]:
            self._confirm(pool[ti])
        unmatched = [pool[i] for i in un_tracks]
        # 2. Tracks that were being followed (not lost ones) with the low-score detections.
        remaining = [t for t in unmatched if t.state == CONFIRMED]
        cost = self._cost(remaining, det, low, False)
        matches, un_remaining, _ = linear_assignment(cost, 0.5)
        self._update_tracks([remaining[i] for i in matches[:, 0]], det, low[matches[:, 1]], now)
        for i in un_remaining:
            remaining[i].state = LOST
        # 2b. Tracks still unmatched, by their last observation (OC-SORT's recovery; nothing in ByteTrack).
        left = self._recover([t for t in unmatched if t.state == LOST], det, high[un_high], now)
        # 3. Tentative tracks with the high detections nobody took.
        # A tentative track has no velocity yet: with --stride its object has moved by several frames' worth, so
        # the boxes are buffered by 0.3 of their size per skipped frame (nothing changes at stride 1).
        gaps = np.array([now - t.last_frame for t in tentative], np.float64)
        cost = self._cost(tentative, det, left, self.fuse_score, np.clip(0.3 * (gaps - 1), 0.0, 1.0))
        matches, un_tentative, un_left = linear_assignment(cost, 0.7)
        self._update_tracks([tentative[i] for i in matches[:, 0]], det, left[matches[:, 1]], now)
        for ti in matches[:, 0]:
            self._confirm(tentative[ti])
        for i in un_tentative:
            tentative[i].state = REMOVED
        # 4. New tracks from confident leftovers (confirmed at once on the very first frame, as ByteTrack does).
        for di in left[un_left]:
            if scores[di] >= self.new_track_thresh:
                t = self._new_track(det, di, now)
                if first_update:
                    self._confirm(t)
                self.tracks.append(t)
        # 5. Forget tracks lost for too long, and lost tracks that duplicate a followed one.
        for t in self.tracks:
            if t.state == LOST and now - t.last_frame > self.max_lost_frames:
                t.state = REMOVED
        self._remove_duplicates()
        self.tracks = [t for t in self.tracks if t.state != REMOVED]
        return self._output(now, det)

    def _first_match(self, pool: list[Track], det: Detections, high: np.ndarray):
        """The first association: ``(matches, unmatched tracks, unmatched detections)`` as indices into ``pool``
        and ``high``."""
        return linear_assignment(self._cost(pool, det, high, self.fuse_score), self.match_thresh)

    def _recover(self, lost: list[Track], det: Detections, left: np.ndarray, now: float) -> np.ndarray:
        """A last chance for tracks the first two associations left: returns the detections still free."""
        return left


class BotSort(ByteTrack):
    """ByteTrack's association with BoT-SORT's camera-motion compensation (Aharon, Orfaig, Bobrovsky, "BoT-SORT:
    Robust Associations Multi-Pedestrian Tracking", arXiv:2206.14651, 2022; motion only, no re-identification):
    given frames, the tracks' Kalman states are warped by the camera's global motion before association
    (:mod:`.cmc`). Without frames it is ByteTrack."""

    name = "botsort"
    wants_frames = True

    def __init__(self, *args, cmc: str | None = "sparse", **settings):
        super().__init__(*args, cmc=cmc, **settings)
        self.wants_frames = self.cmc is not None
