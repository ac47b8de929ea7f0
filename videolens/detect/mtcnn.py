"""MTCNN face detection (Zhang et al., 2016) in ONNX Runtime, without torch.

The weights are facenet-pytorch's (``facenet-pytorch==2.5.3``, MIT), exported once to ONNX by
``scripts/export_mtcnn.py`` and shipped in ``videolens/detect/weights/``. The cascade is facenet-pytorch's
``detect_face`` step for step (same pyramid, thresholds, box regression and NMS). What differs is how:

- ONNX Runtime instead of eager PyTorch, on one thread by default in ``analyze``;
- every resize (pyramid levels, 24x24 and 48x48 crops) is torch's ``interpolate(mode="area")`` computed exactly,
  all crops at once, from integer summed-area tables of the frames, instead of one interpolate call per box;
- NMS by OpenCV.

Boxes, scores and landmarks equal facenet-pytorch's to 1e-4 px on real faces (tests/test_detect_video.py); where a
candidate sits on a threshold, facenet-pytorch's float32 resampling can round the other way.

>>> mtcnn = MTCNN()                                               # doctest: +SKIP
>>> [(boxes, probs, landmarks)] = mtcnn.detect(frame[None])      # frame: uint8 RGB (H, W, 3)   # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import VideolensError

WEIGHTS = Path(__file__).resolve().parent / "weights"


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str = "union") -> np.ndarray:
    """Greedy NMS of boxes with positive scores; indices kept, best first. ``union``: IoU as torchvision computes
    it (OpenCV's NMS, in C++); ``min``: intersection over the smaller box with MTCNN's inclusive pixel areas
    (facenet-pytorch's ``nms_numpy``, used once per call on the few final boxes)."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    if mode == "union":
        import cv2

        rects = np.concatenate([boxes[:, :2], boxes[:, 2:4] - boxes[:, :2]], 1)
        return np.asarray(cv2.dnn.NMSBoxes(rects, scores.astype(np.float32), 0.0, float(threshold)),
                          np.int64).reshape(-1)
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        order = rest[w * h / np.minimum(area[i], area[rest]) <= threshold]
    return np.asarray(keep, np.int64)


def _batched_nms(boxes: np.ndarray, scores: np.ndarray, groups: np.ndarray, threshold: float,
                 mode: str = "union") -> np.ndarray:
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    # Shift each group's boxes far apart so that one NMS pass never compares two groups.
    offsets = groups.astype(np.float64) * (float(boxes.max()) + 1.0)
    return nms(boxes + offsets[:, None], scores, threshold, mode)


def _rerec(boxes: np.ndarray) -> np.ndarray:
    """Make boxes square around their centres (side = the longer side)."""
    boxes = boxes.copy()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    boxes[:, 0] += w * 0.5 - side * 0.5
    boxes[:, 1] += h * 0.5 - side * 0.5
    boxes[:, 2] = boxes[:, 0] + side
    boxes[:, 3] = boxes[:, 1] + side
    return boxes


def _bbreg(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    boxes = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    boxes[:, :4] += reg * np.stack([w, h, w, h], 1)
    return boxes


def _integral(frames: np.ndarray) -> np.ndarray:
    """Summed-area tables (N, H+1, W+1, C) of uint8 frames (N, H, W, C), in integers: exact, so area means are too."""
    import cv2

    if 255 * frames.shape[1] * frames.shape[2] < 2**31:
        return np.stack([cv2.integral(f, sdepth=cv2.CV_32S) for f in frames])
    return np.stack([cv2.integral(f, sdepth=cv2.CV_64F) for f in frames])   # beyond 8 Mpx: exact in float64


def _bins(start: np.ndarray, stop: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """torch's ``interpolate(mode="area")`` (adaptive average pooling) cells: output i of k averages the inputs
    ``floor(i * n / k)`` to ``ceil((i + 1) * n / k)`` of each range ``[start, stop)``; (R, k) each."""
    size = (stop - start)[:, None]
    i = np.arange(k)[None, :]
    return start[:, None] + (i * size) // k, start[:, None] - ((-(i + 1) * size) // k)


def _area_resize(sums: np.ndarray, ids: np.ndarray, y1: np.ndarray, y2: np.ndarray, x1: np.ndarray,
                 x2: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """The regions ``[y1:y2, x1:x2]`` of images ``ids`` resized to (out_h, out_w) as MTCNN's weights expect
    (area resampling, :func:`_bins`) and normalised, all at once: (K, out_h, out_w, C) float32."""
    r0, r1 = _bins(y1, y2, out_h)
    c0, c1 = _bins(x1, x2, out_w)
    _, h1, w1, c = sums.shape
    flat = sums.reshape(-1, c)
    base = (ids * (h1 * w1))[:, None, None]

    def corner(r, col):
        return flat.take(base + r[:, :, None] * w1 + col[:, None, :], axis=0)

    total = corner(r1, c1) - corner(r0, c1) - corner(r1, c0) + corner(r0, c0)
    area = ((r1 - r0)[:, :, None] * (c1 - c0)[:, None, :])[..., None]
    return ((total / area - 127.5) * 0.0078125).astype(np.float32)


def _pyramid_level(sums: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Whole frames resized like :func:`_area_resize`, two gathers instead of four: (N, C, out_h, out_w)."""
    zero = np.zeros(1, np.int64)
    (r0,), (r1,) = _bins(zero, np.array([sums.shape[1] - 1]), out_h)
    (c0,), (c1,) = _bins(zero, np.array([sums.shape[2] - 1]), out_w)
    bands = sums[:, r1] - sums[:, r0]                    # (N, out_h, W+1, C): row bands, cumulative along x
    total = bands[:, :, c1] - bands[:, :, c0]
    area = ((r1 - r0)[:, None] * (c1 - c0)[None, :])[None, :, :, None]
    return np.ascontiguousarray(((total / area - 127.5) * 0.0078125).transpose(0, 3, 1, 2), dtype=np.float32)


def weight_files() -> list[Path]:
    """The three ONNX files the cascade loads (P-, R- and O-Net)."""
    return [WEIGHTS / f"mtcnn_{net}.onnx" for net in ("pnet", "rnet", "onet")]


class MTCNN:
    """The three-stage cascade. ``min_face``: smallest face side searched for, in pixels of the frames given;
    ``thresholds``: P-, R- and O-Net score thresholds; ``factor``: pyramid scale step; ``threads``: ONNX Runtime
    intra-op threads (None: its default, all cores).
    """

    def __init__(self, min_face: int = 20, thresholds=(0.6, 0.7, 0.7), factor: float = 0.709,
                 threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise VideolensError("faces: needs onnxruntime (pip install onnxruntime)") from None
        if min_face < 12:
            raise VideolensError(f"faces: min_face must be at least 12 pixels, not {min_face}")
        self.min_face, self.thresholds, self.factor = int(min_face), tuple(map(float, thresholds)), float(factor)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        # Idle worker threads spin by default, which only pays on an idle machine; beside a decoder and other
        # analyzers it took CPU from them (faces-only run on a loaded machine: 13.8 CPU-s with spinning, 11.3 without).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._sessions = {}
        for net, path in zip(("pnet", "rnet", "onet"), weight_files()):
            if not path.is_file():
                raise VideolensError(f"faces: {path} is missing; re-install videolens or run "
                                     "scripts/export_mtcnn.py (needs facenet-pytorch)")
            self._sessions[net] = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def _run(self, net: str, x: np.ndarray) -> list[np.ndarray]:
        session = self._sessions[net]
        names = [o.name for o in session.get_outputs()]
        out = [session.run(names, {"input": x[i:i + 512]}) for i in range(0, len(x), 512)]
        return [np.concatenate(parts) for parts in zip(*out)]

    def _scales(self, h: int, w: int) -> list[float]:
        m = 12.0 / self.min_face
        minl = min(h, w) * m
        scales, scale = [], m
        while minl >= 12:
            scales.append(scale)
            scale *= self.factor
            minl *= self.factor
        return scales

    @staticmethod
    def _crops(sums: np.ndarray, image_ids: np.ndarray, boxes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Cut boxes (clipped to the frame, as facenet-pytorch does) and resize them to ``size``: (K, 3, s, s)."""
        h, w = sums.shape[1] - 1, sums.shape[2] - 1
        b = np.trunc(boxes[:, :4]).astype(np.int64)
        x1, y1 = np.maximum(b[:, 0], 1) - 1, np.maximum(b[:, 1], 1) - 1
        x2, y2 = np.minimum(b[:, 2], w), np.minimum(b[:, 3], h)
        valid = (x2 > x1) & (y2 > y1)
        v = np.flatnonzero(valid)
        out = _area_resize(sums, image_ids[v], y1[v], y2[v], x1[v], x2[v], size, size)
        return out.transpose(0, 3, 1, 2).copy(), valid

    def detect(self, frames: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Faces in each frame of ``frames`` (N, H, W, 3) uint8 RGB: per frame ``(boxes (K, 4) xyxy, probs (K,),
        landmarks (K, 5, 2))``, largest box first."""
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        n, h, w = frames.shape[:3]
        sums = _integral(frames)
        t1, t2, t3 = self.thresholds

        # Stage 1: P-Net over an image pyramid; NMS per scale and image, then per image.
        stage1 = []
        for scale in self._scales(h, w):
            hs, ws = int(h * scale + 1), int(w * scale + 1)
            reg, prob = self._run("pnet", _pyramid_level(sums, hs, ws))
            img_i, yy, xx = np.nonzero(prob[:, 1] >= t1)
            if not len(img_i):
                continue
            score = prob[img_i, 1, yy, xx]
            q1 = np.floor((2 * np.stack([xx, yy], 1) + 1) / scale)
            q2 = np.floor((2 * np.stack([xx, yy], 1) + 12) / scale)
            cand = np.concatenate([q1, q2, score[:, None], reg[img_i, :, yy, xx]], 1)
            keep = _batched_nms(cand[:, :4], cand[:, 4], img_i, 0.5)
            stage1.append((cand[keep], img_i[keep]))
        if not stage1:
            return [self._empty() for _ in range(n)]
        boxes = np.concatenate([b for b, _ in stage1])
        ids = np.concatenate([i for _, i in stage1])
        keep = _batched_nms(boxes[:, :4], boxes[:, 4], ids, 0.7)
        boxes, ids = boxes[keep], ids[keep]
        wh = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]] * 2, 1)
        boxes = np.concatenate([boxes[:, :4] + boxes[:, 5:9] * wh, boxes[:, 4:5]], 1)
        boxes = _rerec(boxes)

        # Stage 2: R-Net on 24x24 crops.
        crops, valid = self._crops(sums, ids, boxes, 24)
        boxes, ids = boxes[valid], ids[valid]
        if len(crops):
            reg, prob = self._run("rnet", crops)
            ok = prob[:, 1] > t2
            boxes = np.concatenate([boxes[ok, :4], prob[ok, 1:2]], 1)
            ids, reg = ids[ok], reg[ok]
            keep = _batched_nms(boxes[:, :4], boxes[:, 4], ids, 0.7)
            boxes, ids, reg = boxes[keep], ids[keep], reg[keep]
            boxes = _rerec(_bbreg(boxes, reg))

        # Stage 3: O-Net on 48x48 crops: final scores, boxes and five landmarks.
        points = np.zeros((0, 5, 2), np.float32)
        if len(boxes):
            crops, valid = self._crops(sums, ids, boxes, 48)
            boxes, ids = boxes[valid], ids[valid]
        if len(boxes):
            reg, marks, prob = self._run("onet", crops)
            ok = prob[:, 1] > t3
            boxes = np.concatenate([boxes[ok, :4], prob[ok, 1:2]], 1)
            ids, reg, marks = ids[ok], reg[ok], marks[ok]
            bw = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
            bh = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
            points = np.stack([bw * marks[:, :5] + boxes[:, 0:1] - 1, bh * marks[:, 5:] + boxes[:, 1:2] - 1], 2)
            boxes = _bbreg(boxes, reg)
            keep = _batched_nms(boxes[:, :4], boxes[:, 4], ids, 0.7, mode="min")
            boxes, ids, points = boxes[keep], ids[keep], points[keep]

        out = []
        for i in range(n):
            sel = ids == i
            b, p = boxes[sel, :4], boxes[sel, 4]
            order = np.argsort(-(b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), kind="stable")
            out.append((b[order].astype(np.float64), p[order].astype(np.float64),
                        points[sel][order].astype(np.float32)))
        return out

    @staticmethod
    def _empty():
        return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2), np.float32)
