"""A constant-velocity Kalman filter over boxes, vectorised over tracks (the one ByteTrack and DeepSORT use).

State ``[cx, cy, a, h, vcx, vcy, va, vh]``: box centre, aspect ratio ``w / h``, height, and their velocities per
step. Noise scales with the box height, so near and far objects are filtered alike.

>>> import numpy as np
>>> kf = KalmanXYAH()
>>> mean, cov = kf.initiate(np.array([[10., 20., 0.5, 40.]]))
>>> mean, cov = kf.predict(mean, cov)
>>> mean[0, :4].tolist()
[10.0, 20.0, 0.5, 40.0]
"""

from __future__ import annotations

import numpy as np


class KalmanXYAH:
    """Predict and update many tracks at once: ``mean (N, 8)``, ``cov (N, 8, 8)``."""

    def __init__(self, std_position: float = 1 / 20, std_velocity: float = 1 / 160):
        self.F = np.eye(8)
        self.F[:4, 4:] = np.eye(4)          # position += velocity, one step per update
        self.H = np.eye(4, 8)
        self.std_pos, self.std_vel = std_position, std_velocity
        self._i8, self._i4 = np.eye(8), np.eye(4)

    def initiate(self, xyah: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xyah = np.asarray(xyah, np.float64).reshape(-1, 4)
        mean = np.concatenate([xyah, np.zeros_like(xyah)], 1)
        h = xyah[:, 3]
        std = np.stack([2 * self.std_pos * h, 2 * self.std_pos * h, np.full_like(h, 1e-2), 2 * self.std_pos * h,
                        10 * self.std_vel * h, 10 * self.std_vel * h, np.full_like(h, 1e-5),
                        10 * self.std_vel * h], 1)
        cov = np.einsum("ni,ij->nij", std ** 2, self._i8)
        return mean, cov

    def predict(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(mean) == 0:
            return mean, cov
        h = mean[:, 3]
        std = np.stack([self.std_pos * h, self.std_pos * h, np.full_like(h, 1e-2), self.std_pos * h,
                        self.std_vel * h, self.std_vel * h, np.full_like(h, 1e-5), self.std_vel * h], 1)
        q = np.einsum("ni,ij->nij", std ** 2, self._i8)
        mean = mean @ self.F.T
        cov = self.F @ cov @ self.F.T + q
        return mean, cov

    def update(self, mean: np.ndarray, cov: np.ndarray, xyah: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(mean) == 0:
            return mean, cov
        h = mean[:, 3]
        std = np.stack([self.std_pos * h, self.std_pos * h, np.full_like(h, 1e-1), self.std_pos * h], 1)
        r = np.einsum("ni,ij->nij", std ** 2, self._i4)
        proj_mean = mean @ self.H.T
        proj_cov = self.H @ cov @ self.H.T + r                      # (N, 4, 4)
        pht = cov @ self.H.T                                         # (N, 8, 4)
        gain = np.linalg.solve(proj_cov, pht.transpose(0, 2, 1)).transpose(0, 2, 1)   # (N, 8, 4)
        innovation = np.asarray(xyah, np.float64).reshape(-1, 4) - proj_mean
        mean = mean + np.einsum("nij,nj->ni", gain, innovation)
        cov = cov - gain @ proj_cov @ gain.transpose(0, 2, 1)
        return mean, cov


def xyxy_to_xyah(xyxy: np.ndarray) -> np.ndarray:
    xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
    out = np.empty_like(xyxy)
    wh = np.maximum(xyxy[:, 2:] - xyxy[:, :2], 1e-6)
    out[:, :2] = (xyxy[:, :2] + xyxy[:, 2:]) / 2
    out[:, 2] = wh[:, 0] / wh[:, 1]
    out[:, 3] = wh[:, 1]
    return out


def xyah_to_xyxy(xyah: np.ndarray) -> np.ndarray:
    xyah = np.asarray(xyah, np.float64).reshape(-1, 4)
    half = np.empty((len(xyah), 2))
    half[:, 1] = np.maximum(xyah[:, 3], 1e-6) / 2
    half[:, 0] = xyah[:, 2] * half[:, 1]
    return np.concatenate([xyah[:, :2] - half, xyah[:, :2] + half], 1)
