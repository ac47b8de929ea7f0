"""Motion and tampering on small gray frames: cheap enough for every analyzed frame of every camera.

:class:`MotionDetector` compares each frame with a running background (as Frigate's motion detector does) and says
which share of the frame, and of each zone, changed; the camera loop runs its detectors only while there is
motion. :class:`TamperDetector` watches the same small frames for a camera that is covered (flat picture), moved
(the scene itself changed and stays changed) or out of focus (its sharpness fell far below what it was).

>>> import numpy as np
>>> m = MotionDetector((64, 48), zones={"left": [(0, 0), (32, 0), (32, 48), (0, 48)]})
>>> still = np.full((48, 64), 100, np.uint8)
>>> _ = m.update(still)
>>> moving = still.copy(); moving[10:30, 5:20] = 250
>>> state = m.update(moving)
>>> state.fraction > 0.05, state.zones["left"] > state.fraction
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ANALYSIS_WIDTH = 96          # gray frames this wide (height by the aspect ratio): motion, not texture or noise


@dataclass
class MotionState:
    fraction: float                               # share of the frame's pixels that changed
    zones: dict[str, float] = field(default_factory=dict)


def zone_masks(zones: dict[str, list], frame_size: tuple[int, int], size: tuple[int, int]) -> dict[str, np.ndarray]:
    """Boolean masks at ``size`` (w, h) of polygons given in the frame's pixels (``frame_size``)."""
    import cv2

    sx, sy = size[0] / frame_size[0], size[1] / frame_size[1]
    out = {}
    for name, pts in zones.items():
        mask = np.zeros((size[1], size[0]), np.uint8)
        poly = np.round(np.asarray(pts, np.float64) * [sx, sy]).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(mask, [poly], 1)
        out[name] = mask.astype(bool)
    return out


class MotionDetector:
    """Pixels that differ from a running background by more than ``threshold`` gray levels (after a light blur).

    ``size``: the (w, h) of the gray frames it gets; ``zones``: polygons in those pixels; ``alpha``: how fast the
    background follows the picture (a still scene is absorbed in about ``1 / alpha`` frames).
    """

    def __init__(self, size: tuple[int, int], zones: dict[str, list] | None = None, threshold: int = 25,
                 alpha: float = 0.05):
        self.size, self.threshold, self.alpha = tuple(size), int(threshold), float(alpha)
        self.masks = zone_masks(zones or {}, self.size, self.size)
        self.background: np.ndarray | None = None

    def update(self, gray: np.ndarray) -> MotionState:
        import cv2

        g = cv2.GaussianBlur(gray, (3, 3), 0).astype(np.float32)
        if self.background is None or self.background.shape != g.shape:
            self.background = g
            return MotionState(0.0, {k: 0.0 for k in self.masks})
        changed = np.abs(g - self.background) > self.threshold
        cv2.accumulateWeighted(g, self.background, self.alpha)
        return MotionState(float(changed.mean()),
                           {k: float(changed[m].mean()) if m.any() else 0.0 for k, m in self.masks.items()})


class TamperDetector:
    """``covered``, ``moved`` and ``blur``, each true only after it has lasted ``hold`` seconds.

    - covered: the picture is flat (gray-level spread under ``flat_std``): a hand, a cap, spray paint, darkness;
    - moved: most of the picture differs from the scene it showed ``reference`` seconds of stillness ago, and keeps
      differing (a moving object changes a part of the picture and passes);
    - blur: sharpness (variance of the Laplacian) under ``blur_ratio`` of its long-run level.
    """

    def __init__(self, hold: float = 3.0, flat_std: float = 6.0, moved_fraction: float = 0.6,
                 blur_ratio: float = 0.25):
        self.hold, self.flat_std = float(hold), float(flat_std)
        self.moved_fraction, self.blur_ratio = float(moved_fraction), float(blur_ratio)
        self.reference: np.ndarray | None = None
        self.sharpness: float | None = None
        self._since: dict[str, float | None] = {"covered": None, "moved": None, "blur": None}

    def update(self, gray: np.ndarray, t: float) -> set[str]:
        """The tamper kinds active at stream time ``t``."""
        import cv2

        g = gray.astype(np.float32)
        sharp = float(cv2.Laplacian(gray, cv2.CV_32F).var())
        flat = float(g.std()) < self.flat_std
        if self.reference is None:
            self.reference, self.sharpness = g.copy(), max(sharp, 1e-3)
        moved = float((np.abs(g - self.reference) > 40).mean()) > self.moved_fraction and not flat
        blurred = not flat and sharp < self.blur_ratio * self.sharpness
        now = {"covered": flat, "moved": moved, "blur": blurred}
        if not any(now.values()):       # a normal picture: it is the scene, and its sharpness, from now on
            cv2.accumulateWeighted(g, self.reference, 0.02)
            self.sharpness = 0.98 * self.sharpness + 0.02 * max(sharp, 1e-3)
        active = set()
        for kind, on in now.items():
            if not on:
                self._since[kind] = None
            elif self._since[kind] is None:
                self._since[kind] = t
            elif t - self._since[kind] >= self.hold:
                active.add(kind)
        if "moved" in active and t - self._since["moved"] >= 3 * self.hold:
            self.reference = g.copy()       # the new view is the scene now: the next move is a new event
            self._since["moved"] = None
        return active
