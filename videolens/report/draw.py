"""The one annotator: boxes with labels, track ids and trails; counting lines and zones; face anonymisation.

``videolens detect`` draws its ``annotated.mp4`` with it while the video plays, and ``videolens analyze
--annotated-video`` draws a finished report with it (:mod:`videolens.report.annotate`). Small classes whose verb
is ``annotate`` (supervision style). Frames are uint8 RGB ``(H, W, 3)``; the input is never modified, a copy comes
back.

>>> import numpy as np
>>> from videolens.core.detections import Detections
>>> annotator = BoxAnnotator(trail=20)
>>> frame = np.zeros((120, 160, 3), np.uint8)
>>> out = annotator.annotate(frame, Detections([[10, 10, 60, 80]], [0.9], [0], ["person"], [3]))
>>> bool(out.any()), bool(frame.any())
(True, False)
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np

from ..core.detections import Detections

# A palette that stays readable on video (Tableau 10 and a few more), RGB.
PALETTE = np.array([(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
                    (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207), (255, 187, 120),
                    (152, 223, 138), (255, 152, 150), (197, 176, 213), (247, 182, 210), (219, 219, 141)], np.uint8)


def color_for(key: int) -> tuple[int, int, int]:
    return tuple(int(v) for v in PALETTE[int(key) % len(PALETTE)])


def _text_color(bg: tuple[int, int, int]) -> tuple[int, int, int]:
    return (0, 0, 0) if 0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2] > 150 else (255, 255, 255)


class BoxAnnotator:
    """Boxes coloured by track id (or class), labelled ``#id class score``, with short trails of the anchor.

    ``trail``: how many past positions of each track to draw (0 turns trails off). Sizes follow the frame size.
    Call ``reset()`` between videos.
    """

    def __init__(self, thickness: int | None = None, labels: bool = True, scores: bool = True, ids: bool = True,
                 trail: int = 30, anchor: str = "bottom-center"):
        self.thickness, self.labels, self.scores, self.ids = thickness, labels, scores, ids
        self.trail, self.anchor = int(trail), anchor
        self.reset()

    def reset(self) -> None:
        self.trails: dict[int, deque] = {}
        self._last_seen: dict[int, int] = {}
        self._calls = 0

    def annotate(self, frame: np.ndarray, detections: Detections, update_trails: bool = True) -> np.ndarray:
        out = np.ascontiguousarray(frame).copy()
        h, w = out.shape[:2]
        th = self.thickness or max(1, int(round(min(h, w) / 300)))
        font = max(0.35, min(h, w) / 900)
        self._calls += 1
        if self.trail and update_trails:
            self._update_trails(detections)
        if self.trail:
            for tid, pts in self.trails.items():
                if len(pts) > 1:
                    c = color_for(tid)
                    p = np.asarray(pts, np.int32).reshape(-1, 1, 2)
                    cv2.polylines(out, [p], False, c, th, cv2.LINE_AA)
        for (x1, y1, x2, y2), score, cid, name, tid in detections:
            c = color_for(tid if tid >= 0 else cid)
            p1, p2 = (int(round(x1)), int(round(y1))), (int(round(x2)), int(round(y2)))
            cv2.rectangle(out, p1, p2, c, th, cv2.LINE_AA)
            if not self.labels:
                continue
            parts = []
            if self.ids and tid >= 0:
                parts.append(f"#{tid}")
            parts.append(name)
            if self.scores:
                parts.append(f"{score:.2f}")
            text = " ".join(parts)
            (tw, tht), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font, 1)
            ty = p1[1] - 3 if p1[1] - tht - base - 3 >= 0 else p1[1] + tht + base + 3
            cv2.rectangle(out, (p1[0], ty - tht - base), (p1[0] + tw + 2, ty + base - 1), c, -1)
            cv2.putText(out, text, (p1[0] + 1, ty - 1), cv2.FONT_HERSHEY_SIMPLEX, font, _text_color(c), 1,
                        cv2.LINE_AA)
        return out

    def _update_trails(self, detections: Detections) -> None:
        if len(detections):
            pts = detections.anchors(self.anchor)
            for p, tid in zip(pts, detections.track_ids.tolist()):
                if tid < 0:
                    continue
                self.trails.setdefault(tid, deque(maxlen=self.trail)).append((float(p[0]), float(p[1])))
                self._last_seen[tid] = self._calls
        for tid in [t for t, seen in self._last_seen.items() if self._calls - seen > self.trail]:
            self.trails.pop(tid, None)
            self._last_seen.pop(tid, None)


def draw_line(frame: np.ndarray, counter) -> np.ndarray:
    """Draw a line counter (:class:`~videolens.detect.zones.LineCounter`) and its in / out counts (in place)."""
    h, w = frame.shape[:2]
    th = max(2, int(round(min(h, w) / 250)))
    p1 = tuple(int(round(v)) for v in counter.start)
    p2 = tuple(int(round(v)) for v in counter.end)
    cv2.line(frame, p1, p2, (255, 255, 255), th + 2, cv2.LINE_AA)
    cv2.line(frame, p1, p2, (255, 64, 64), th, cv2.LINE_AA)
    _label(frame, f"{counter.name}: in {counter.in_count}  out {counter.out_count}", p1)
    return frame


def draw_zone(frame: np.ndarray, counter) -> np.ndarray:
    """Draw a zone counter (:class:`~videolens.detect.zones.ZoneCounter`, translucent) and its count (in place)."""
    poly = np.round(counter.polygon).astype(np.int32).reshape(-1, 1, 2)
    overlay = frame.copy()
    cv2.fillPoly(overlay, [poly], (64, 160, 255))
    cv2.addWeighted(overlay, 0.2, frame, 0.8, 0, dst=frame)
    cv2.polylines(frame, [poly], True, (64, 160, 255), 2, cv2.LINE_AA)
    _label(frame, f"{counter.name}: {counter.current}", tuple(int(v) for v in counter.polygon[0]))
    return frame


def _label(frame: np.ndarray, text: str, at: tuple[int, int]) -> None:
    h, w = frame.shape[:2]
    font = max(0.4, min(h, w) / 700)
    (tw, tht), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font, 1)
    x = int(min(max(at[0], 0), max(w - tw - 4, 0)))
    y = int(min(max(at[1] - 6, tht + base + 2), h - 2))
    cv2.rectangle(frame, (x, y - tht - base - 2), (x + tw + 4, y + 2), (0, 0, 0), -1)
    cv2.putText(frame, text, (x + 2, y - base + 1), cv2.FONT_HERSHEY_SIMPLEX, font, (255, 255, 255), 1, cv2.LINE_AA)


class Anonymizer:
    """Hide regions (faces) by a strong blur or by pixelation.

    ``margin`` grows each box by that fraction of its size on every side (hair, chin, detector slack);
    ``method`` is ``blur`` or ``pixelate`` (``blocks`` cells across the box).

    >>> a = Anonymizer("pixelate", blocks=4)
    >>> img = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    >>> out = a.annotate(img, [[16, 16, 48, 48]])
    >>> len(np.unique(out[20:44, 20:44].reshape(-1, 3), axis=0)) <= 25
    True
    """

    def __init__(self, method: str = "blur", margin: float = 0.2, blocks: int = 6):
        if method not in ("blur", "pixelate"):
            raise ValueError(f"anonymize method must be 'blur' or 'pixelate', not {method!r}")
        self.method, self.margin, self.blocks = method, float(margin), int(blocks)

    def annotate(self, frame: np.ndarray, boxes) -> np.ndarray:
        """A copy of ``frame`` with every box (``(N, 4)`` or a :class:`Detections`) hidden."""
        xyxy = boxes.xyxy if isinstance(boxes, Detections) else np.asarray(boxes, np.float32).reshape(-1, 4)
        out = np.ascontiguousarray(frame).copy()
        h, w = out.shape[:2]
        for x1, y1, x2, y2 in xyxy.tolist():
            mx, my = (x2 - x1) * self.margin, (y2 - y1) * self.margin
            a, b = int(max(0, np.floor(x1 - mx))), int(max(0, np.floor(y1 - my)))
            c, d = int(min(w, np.ceil(x2 + mx))), int(min(h, np.ceil(y2 + my)))
            if c - a < 2 or d - b < 2:
                continue
            roi = out[b:d, a:c]
            if self.method == "pixelate":
                bw = max(1, min(self.blocks, c - a))
                bh = max(1, min(int(round(self.blocks * (d - b) / (c - a))) or 1, d - b))
                small = cv2.resize(roi, (bw, bh), interpolation=cv2.INTER_AREA)
                out[b:d, a:c] = cv2.resize(small, (c - a, d - b), interpolation=cv2.INTER_NEAREST)
            else:
                # Downscale, blur, upscale: a blur this strong costs the same whatever the face size.
                k = 8
                small = cv2.resize(roi, (max(1, (c - a) // k), max(1, (d - b) // k)), interpolation=cv2.INTER_AREA)
                small = cv2.GaussianBlur(small, (0, 0), sigmaX=max(1.0, small.shape[1] / 5))
                out[b:d, a:c] = cv2.resize(small, (c - a, d - b), interpolation=cv2.INTER_LINEAR)
        return out
