"""OC-SORT: Observation-Centric SORT (Cao, Pang, Weng, Khirodkar, Kitani, "Observation-Centric SORT: Rethinking
SORT for Robust Multi-Object Tracking", CVPR 2023, arXiv:2203.14360). Motion only, no appearance.

A Kalman filter left without observations (an occlusion, a missed detection) drifts on its last velocity, and a
velocity estimated from noisy boxes a frame apart is mostly noise. OC-SORT trusts the detector's observations
over the filter's estimates in three places, on top of ByteTrack's two-stage association (:mod:`.bytetrack`):

1. **Observation-centric re-update (ORU)**: when a track that missed some updates is matched again, the filter is
   rolled back to its last observation and re-run along a straight virtual trajectory from that observation to
   the new one, so the error it piled up while predicting blind does not stay in its state.
2. **Observation-centric momentum (OCM)**: the association cost adds how far the direction from a track's earlier
   observation to a candidate detection is from the track's own direction of motion, measured between
   observations ``delta_t`` updates apart (less noisy than a one-frame velocity). Crossing walkers keep their ids.
3. **Observation-centric recovery (OCR)**: tracks that are still unmatched after both associations are matched,
   by IoU, to their last observation instead of their prediction (an object that stopped while unseen is where it
   was last seen, not where the filter thinks it went).

Ids, states, the Kalman filter, ``--stride`` handling and camera-motion compensation (``cmc=``) are the ones of
:class:`~videolens.track.bytetrack.ByteTrack`; the paper's filter works on ``(x, y, area, ratio)``, this one on
``(x, y, aspect, height)``.

>>> from videolens.core.detections import Detections
>>> tracker = OcSort()
>>> for i in range(3):
...     out = tracker.update(Detections([[10 + 2 * i, 10, 50 + 2 * i, 90]], [0.9], frame_index=i))
>>> out.track_ids.tolist()
[1]
"""

from __future__ import annotations

import numpy as np

from ..core.detections import Detections, box_iou
from .bytetrack import ByteTrack, Track
from .kalman import xyxy_to_xyah
from .matching import linear_assignment

class OcSort(ByteTrack):
    """OC-SORT on ByteTrack's association (the paper's MOT17 setting uses the low-score stage too).

    ByteTrack's settings (but ``high_thresh`` 0.6 and ``new_track_thresh`` 0.7, chosen on the MOT17 development
    sequences: HOTA 0.6825 against 0.6794 with ByteTrack's 0.5 / 0.6; BENCHMARKS.md), plus:

    - ``momentum``: weight of the direction term in the first association (the paper's inertia, 0.2).
    - ``delta_t``: how many observations back the direction of motion is measured from (3).
    - ``recover_thresh``: the smallest IoU between a track's last observation and a detection for recovery (0.3).
    - ``reupdate``: roll the filter back along a virtual trajectory on re-association (ORU; True).

    See :class:`~videolens.track.bytetrack.ByteTrack` for how the score thresholds relate to a detector's scores.
    """

    name = "ocsort"

    def __init__(self, high_thresh: float = 0.6, low_thresh: float = 0.1, new_track_thresh: float = 0.7,
                 match_thresh: float = 0.9, track_buffer: int = 30, frame_rate: float = 30.0,
                 fuse_score: bool = True, class_aware: bool = True, smooth: bool = False, cmc: str | None = None,
                 velocity_noise: float | None = None, momentum: float = 0.2, delta_t: int = 3,
                 recover_thresh: float = 0.3, reupdate: bool = True):
        self.momentum, self.delta_t = float(momentum), max(1, int(delta_t))
        self.recover_thresh, self.reupdate = float(recover_thresh), bool(reupdate)
        self._previous: float | None = None
        super().__init__(high_thresh, low_thresh, new_track_thresh, match_thresh, track_buffer, frame_rate,
                         fuse_score, class_aware, smooth, cmc, velocity_noise)

    def update(self, detections: Detections, frame: np.ndarray | None = None) -> Detections:
        self._previous = self.frame if self.updates else None      # the previous update's frame, for ORU
        return super().update(detections, frame)

    # ---- observations ---------------------------------------------------------------------------------------
    def _observe(self, t: Track, box: np.ndarray) -> None:
        """Remember the observation just used (its box and the filter's state right after it)."""
        obs = t.data.setdefault("obs", [])
        obs.append(np.asarray(box, np.float64))
        del obs[:-(self.delta_t + 1)]
        t.data["saved"] = (t.mean.copy(), t.cov.copy(), t.last_frame)

    def _new_track(self, det: Detections, i: int, frame: int) -> Track:
        t = super()._new_track(det, i, frame)
        self._observe(t, det.xyxy[i])
        return t

    @staticmethod
    def _centre(xyxy: np.ndarray) -> np.ndarray:
        return (xyxy[..., :2] + xyxy[..., 2:]) / 2

    # ---- the three observation-centric parts ----------------------------------------------------------------
    def _first_match(self, pool: list[Track], det: Detections, high: np.ndarray):
        """OCM: ByteTrack's IoU cost minus ``momentum`` times the agreement of directions (gated on IoU alone)."""
        cost = self._cost(pool, det, high, self.fuse_score)
        if not pool or not len(high):
            return linear_assignment(cost, self.match_thresh)
        gate = cost <= self.match_thresh
        if self.momentum > 0:
            cost = cost - self.momentum * self._agreement(pool, det.xyxy[high], det.scores[high])
        # Pairs beyond the IoU gate cannot match; the rest compete with the momentum term on top (it moves a cost by
        # at most momentum / 2, so the assignment's limit moves by as much).
        limit = self.match_thresh + self.momentum / 2
        return linear_assignment(np.where(gate, cost, limit + 1.0), limit)

    def _agreement(self, pool: list[Track], boxes: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Per track and detection: +1/2 when the detection lies in the track's direction of motion (seen from
        its earlier observation), -1/2 the opposite way (the paper's ``(pi/2 - angle) / pi``), times the score;
        0 for tracks without a direction yet."""
        first = np.zeros((len(pool), 4))
        last = np.zeros((len(pool), 4))
        for r, t in enumerate(pool):
            obs = t.data.get("obs")
            if obs and len(obs) > 1:
                first[r], last[r] = obs[0], obs[-1]
        ref = self._centre(first)
        v = self._centre(last) - ref
        norm = np.hypot(v[:, 0], v[:, 1])
        moving = norm > 1e-6
        v = v / np.where(moving, norm, 1.0)[:, None]
        u = self._centre(boxes.astype(np.float64))[None, :, :] - ref[:, None, :]
        u /= np.maximum(np.hypot(u[..., 0], u[..., 1]), 1e-6)[..., None]
        angle = np.arccos(np.clip(np.einsum("nmk,nk->nm", u, v), -1.0, 1.0))
        return np.where(moving[:, None], (np.pi / 2 - angle) / np.pi * scores[None, :], 0.0)

    def _recover(self, lost: list[Track], det: Detections, left: np.ndarray, now: float) -> np.ndarray:
        """OCR: match the tracks left over to the detections left over by their last observed boxes."""
        lost = [t for t in lost if t.data.get("obs")]
        if not lost or not len(left):
            return left
        iou = box_iou(np.stack([t.data["obs"][-1] for t in lost]), det.xyxy[left])
        if self.class_aware:
            same = np.array([t.class_id for t in lost])[:, None] == det.class_ids[left][None, :]
            iou = np.where(same, iou, 0.0)
        matches, _, free = linear_assignment(1.0 - iou, 1.0 - self.recover_thresh)
        self._update_tracks([lost[i] for i in matches[:, 0]], det, left[matches[:, 1]], now)
        for i in matches[:, 0]:
            self._confirm(lost[i])
        return left[free]

    def _update_tracks(self, tracks: list[Track], det: Detections, idx, frame: int) -> None:
        """ORU for tracks that missed updates, the usual Kalman update for the rest; both remember the
        observation."""
        idx = np.asarray(idx, np.int64)
        missed = [self.reupdate and self._previous is not None and "saved" in t.data
                  and t.last_frame < self._previous for t in tracks]
        plain = [k for k, m in enumerate(missed) if not m]
        super()._update_tracks([tracks[k] for k in plain], det, idx[plain], frame)
        for k in (k for k, m in enumerate(missed) if m):
            self._reupdate(tracks[k], det, int(idx[k]), frame)
        for t, i in zip(tracks, idx.tolist()):
            self._observe(t, det.xyxy[i])

    def _reupdate(self, t: Track, det: Detections, i: int, frame: float) -> None:
        """Back to the state at the last observation, then predict and update along the straight line from
        that observation to this one, one step per update interval missed."""
        mean, cov, seen = t.data["saved"]
        z0 = xyxy_to_xyah(t.data["obs"][-1])
        z1 = xyxy_to_xyah(det.xyxy[i:i + 1])
        span = float(frame - seen)
        interval = max(float(frame - self._previous), 1.0)
        steps = int(min(max(round(span / interval), 1), 120))
        m, c = mean[None], cov[None]
        for k in range(1, steps + 1):
            m, c = self.kf.predict(m, c, span / steps, self.velocity_noise)
            m, c = self.kf.update(m, c, z0 + (z1 - z0) * k / steps)
        t.mean, t.cov = m[0], c[0]
        t.box = (self._filtered(m) if self.smooth else det.xyxy[i]).copy()
        t.score = float(det.scores[i])
        t.last_frame = frame
        t.hits += 1

    @staticmethod
    def _filtered(mean: np.ndarray) -> np.ndarray:
        from .kalman import xyah_to_xyxy

        return xyah_to_xyxy(mean[:, :4])[0].astype(np.float32)

    def _warp(self, a: np.ndarray) -> None:
        """Camera motion moves the remembered observations and saved states too."""
        from .cmc import warp_boxes, warp_states

        super()._warp(a)
        for t in self.tracks:
            if t.data.get("obs"):
                t.data["obs"] = list(warp_boxes(np.stack(t.data["obs"]), a))
            if "saved" in t.data:
                m, c, f = t.data["saved"]
                m, c = warp_states(m[None], c[None], a)
                t.data["saved"] = (m[0], c[0], f)
