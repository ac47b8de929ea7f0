"""A constant-velocity Kalman filter over boxes, vectorised over tracks (the one ByteTrack and DeepSORT use).

State ``[cx, cy, a, h, vcx, vcy, va, vh]``: box centre, aspect ratio ``w / h``, height, and their velocities per
frame. Noise scales with the box height, so near and far objects are filtered alike.

``predict(mean, cov, dt)`` advances by ``dt`` frames: the state moves by ``dt`` times its velocity, and the
covariance grows exactly as ``dt`` one-frame predictions would make it grow. A tracker fed every 3rd frame
(``--stride 3``) predicts with ``dt=3``, so velocities stay per frame and the uncertainty fits the real gap.

>>> import numpy as np
>>> kf = KalmanXYAH()
>>> mean, cov = kf.initiate(np.array([[10., 20., 0.5, 40.]]))
>>> mean, cov = kf.predict(mean, cov)
>>> mean[0, :4].tolist()
[10.0, 20.0, 0.5, 40.0]
>>> mean[0, 4] = 2.0                      # 2 px per frame to the right
>>> float(kf.predict(mean, cov, dt=3)[0][0, 0])   # three frames later
16.0
"""

from __future__ import annotations

import numpy as np


class KalmanXYAH:
    """Predict and update many tracks at once: ``mean (N, 8)``, ``cov (N, 8, 8)``."""

    def __init__(self, std_position: float = 1 / 20, std_velocity: float = 1 / 160):
        self.F = np.eye(8)
        self.F[:4, 4:] = np.eye(4)          # position += velocity, one frame
        self.H = np.eye(4, 8)
        self.std_pos, self.std_vel = std_position, std_velocity
        self._i8, self._i4 = np.eye(8), np.eye(4)

    def initiate(self, xyah: np.ndarray, velocity_noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        xyah = np.asarray(xyah, np.float64).reshape(-1, 4)
        mean = np.concatenate([xyah, np.zeros_like(xyah)], 1)
        h = xyah[:, 3]
        sv = self.std_vel * float(velocity_noise)
        std = np.stack([2 * self.std_pos * h, 2 * self.std_pos * h, np.full_like(h, 1e-2), 2 * self.std_pos * h,
                        10 * sv * h, 10 * sv * h, np.full_like(h, 1e-5), 10 * sv * h], 1)
        cov = np.einsum("ni,ij->nij", std ** 2, self._i8)
        return mean, cov

    def predict(self, mean: np.ndarray, cov: np.ndarray, dt: float | np.ndarray = 1.0,
                velocity_noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Advance every track by ``dt`` frames (a number, or one per track).

        ``velocity_noise`` multiplies the velocities' process noise per frame. The standard settings are ByteTrack's,
        for 30 fps video; the trackers pass ``30 / fps`` (3 at 10 fps, where a frame lasts three times as long and
        a velocity per frame can change more from one frame to the next).

        ``dt = 1`` is the usual one-step prediction. For ``dt = n`` the result is that of ``n`` one-frame
        predictions (with the process noise of the current box height): ``F(n) P F(n)' + sum_k F(k) Q F(k)'``,
        ``k = 0..n-1``, where ``F(k)`` moves positions by ``k`` times their velocity. Fractional gaps (from
        timestamps) use the same closed form, its cross terms kept at zero or above.
        """
        if len(mean) == 0:
            return mean, cov
        n = len(mean)
        h = mean[:, 3]
        sp, sv = self.std_pos * h, self.std_vel * float(velocity_noise) * h
        q_pos = np.stack([sp, sp, np.full_like(h, 1e-2), sp], 1) ** 2
        q_vel = np.stack([sv, sv, np.full_like(h, 1e-5), sv], 1) ** 2
        dt = np.maximum(np.asarray(dt, np.float64), 0.0)
        if dt.ndim == 0 and dt == 1.0:                   # one frame: the usual step
            mean = mean @ self.F.T
            cov = self.F @ cov @ self.F.T + np.einsum("ni,ij->nij", np.concatenate([q_pos, q_vel], 1), self._i8)
            return mean, cov
        dt = np.broadcast_to(dt, (n,))[:, None]
        f = np.broadcast_to(self._i8, (n, 8, 8)).copy()
        f[:, :4, 4:] = dt[:, :, None] * self._i4
        mean = mean.copy()
        mean[:, :4] += dt * mean[:, 4:]
        # sum over k = 0..dt-1 of F(k) Q F(k)': positions get dt*q_pos + sum(k^2)*q_vel, the position-velocity
        # cross terms sum(k)*q_vel, velocities dt*q_vel.
        s1 = np.maximum(dt * (dt - 1) / 2, 0.0)
        s2 = np.maximum((dt - 1) * dt * (2 * dt - 1) / 6, 0.0)
        q = np.einsum("ni,ij->nij", np.concatenate([dt * q_pos + s2 * q_vel, dt * q_vel], 1), self._i8)
        d = np.arange(4)
        q[:, d, d + 4] = q[:, d + 4, d] = s1 * q_vel
        cov = f @ cov @ f.transpose(0, 2, 1) + q
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
