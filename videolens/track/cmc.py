"""Camera-motion compensation (BoT-SORT, Aharon et al., 2022): the global motion between two frames as an affine
warp, applied to the tracks' Kalman states before association.

A panning or shaking camera moves every box by the same few pixels per frame: the constant-velocity filter reads
that as the objects' own motion, predicts them in the wrong place and loses or swaps them. Warping the predicted
states by the camera's motion keeps the filter's velocities the objects' own.

The motion is estimated on a small gray copy of the frame (its long side at most ``work_size`` pixels), either from
sparse optical flow (``"sparse"``: Shi-Tomasi corners tracked with pyramidal Lucas-Kanade, then a RANSAC similarity
transform; BoT-SORT's default) or by ECC alignment (``"ecc"``: slower, for texture-poor scenes). Corners on the
detected objects are left out: they move with the objects, not with the camera.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> scene = (rng.random((200, 320)) * 255).astype(np.uint8)
>>> cmc = CameraMotion()
>>> cmc.estimate(scene[:, 10:250]) is None          # the first frame: nothing to compare with
True
>>> a = cmc.estimate(scene[:, 14:254])              # the camera panned 4 px to the right
>>> np.round(a[:, 2]).tolist()                      # so the scene moved 4 px to the left
[-4.0, 0.0]
"""

from __future__ import annotations

import numpy as np

METHODS = ("sparse", "ecc")


class CameraMotion:
    """The affine motion from the previous frame given to :meth:`estimate` to the current one."""

    def __init__(self, method: str = "sparse", work_size: int = 640, max_corners: int = 800):
        if method not in METHODS:
            raise ValueError(f"camera-motion method {method!r}: choose from {', '.join(METHODS)}")
        self.method, self.work_size, self.max_corners = method, int(work_size), int(max_corners)
        self.reset()

    def reset(self) -> None:
        self._prev: np.ndarray | None = None
        self._prev_mask: np.ndarray | None = None

    def estimate(self, image: np.ndarray, boxes: np.ndarray | None = None,
                 box_size: tuple[int, int] | None = None) -> np.ndarray | None:
        """The 2x3 affine ``A`` that maps a point of the previous frame to this one, in the boxes' pixels (None on
        the first frame, or when too little of the scene could be followed).

        ``image``: HxW gray or HxWx3 RGB. ``boxes``: this frame's detections (xyxy, in ``box_size`` pixels) to
        leave out of the estimate. ``box_size``: the (width, height) the boxes are measured in, when the image
        given is smaller or larger than that (None: the image's own size).
        """
        import cv2

        h, w = image.shape[:2]
        bw, bh = box_size or (w, h)
        k = min(1.0, self.work_size / max(h, w))
        size = (max(8, int(round(w * k))), max(8, int(round(h * k))))
        gray = image if image.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA) if size != (w, h) else np.ascontiguousarray(gray)
        # Working pixels per box pixel, on each axis.
        sx, sy = size[0] / bw, size[1] / bh
        mask = np.full(gray.shape, 255, np.uint8)
        if boxes is not None and len(boxes):
            b = np.round(np.asarray(boxes, np.float64) * [sx, sy, sx, sy]).astype(int)
            b[:, [0, 2]] = b[:, [0, 2]].clip(0, size[0])
            b[:, [1, 3]] = b[:, [1, 3]].clip(0, size[1])
            for x1, y1, x2, y2 in b.tolist():
                mask[y1:y2, x1:x2] = 0
            if mask.mean() < 255 * 0.2:              # objects everywhere: better all corners than none
                mask[:] = 255
        prev, prev_mask = self._prev, self._prev_mask
        self._prev, self._prev_mask = gray, mask
        if prev is None or prev.shape != gray.shape:
            return None
        a = self._sparse(prev, gray, prev_mask) if self.method == "sparse" else self._ecc(prev, gray)
        if a is None:
            return None
        # From working pixels back to box pixels: A_box = S^-1 A S, t_box = S^-1 t.
        s = np.array([sx, sy])
        out = np.empty((2, 3))
        out[:, :2] = a[:, :2] * s[None, :] / s[:, None]
        out[:, 2] = a[:, 2] / s
        return out

    def _sparse(self, prev: np.ndarray, gray: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
        import cv2

        pts = cv2.goodFeaturesToTrack(prev, self.max_corners, 0.01, 1.0, mask=mask, blockSize=3)
        if pts is None or len(pts) < 8:
            return None
        nxt, status, _ = cv2.calcOpticalFlowPyrLK(prev, gray, pts, None, winSize=(21, 21), maxLevel=3)
        ok = status.reshape(-1) == 1
        if ok.sum() < 8:
            return None
        a, inliers = cv2.estimateAffinePartial2D(pts[ok], nxt[ok], method=cv2.RANSAC, ransacReprojThreshold=1.0)
        if a is None or inliers is None or inliers.sum() < 6:
            return None
        return a.astype(np.float64)

    def _ecc(self, prev: np.ndarray, gray: np.ndarray) -> np.ndarray | None:
        import cv2

        warp = np.eye(2, 3, dtype=np.float32)
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-5)
        try:
            _, warp = cv2.findTransformECC(prev, gray, warp, cv2.MOTION_EUCLIDEAN, criteria, None, 1)
        except cv2.error:
            return None
        # gray(warp(x)) ~ prev(x): the warp takes a point of the previous frame to where it is now.
        return warp.astype(np.float64)


def warp_states(mean: np.ndarray, cov: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kalman states ``[cx, cy, a, h, vcx, vcy, va, vh]`` (N, 8) and covariances moved by the affine ``a``.

    Centres move by the full warp, velocities by its linear part; heights and their velocity scale by the warp's
    scale, the aspect ratio stays (a similarity transform keeps it).
    """
    if not len(mean):
        return mean, cov
    lin, t = a[:, :2], a[:, 2]
    scale = float(np.sqrt(abs(np.linalg.det(lin))))
    j = np.zeros((8, 8))
    j[0:2, 0:2] = lin
    j[4:6, 4:6] = lin
    j[2, 2] = j[6, 6] = 1.0
    j[3, 3] = j[7, 7] = scale
    mean = mean @ j.T
    mean[:, :2] += t
    cov = j @ cov @ j.T
    return mean, cov


def warp_boxes(xyxy: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Boxes (N, 4) moved by the affine ``a``: centres warped, sizes scaled."""
    if not len(xyxy):
        return xyxy
    xyxy = np.asarray(xyxy, np.float64)
    c = (xyxy[:, :2] + xyxy[:, 2:]) / 2
    half = (xyxy[:, 2:] - xyxy[:, :2]) / 2 * float(np.sqrt(abs(np.linalg.det(a[:, :2]))))
    c = c @ a[:, :2].T + a[:, 2]
    return np.concatenate([c - half, c + half], 1)
