"""Ultralytics YOLOv8 / YOLO11 / YOLO26 detection models exported to ONNX, run with ONNX Runtime exactly as
Ultralytics' own predictor runs them (letterbox, NMS and box scaling step by step; ``tests/test_ultralytics_parity.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core.detections import Detections
from ..errors import VideolensError
from . import augment as A
from .detectors import Detector, _visible


# ---- ONNX (Ultralytics YOLOv8 / YOLO11 export) --------------------------------------------------------------------


#: What Ultralytics' predictor uses for its models (``ultralytics/cfg/default.yaml``): score threshold, NMS IoU,
#: boxes per image, and the largest number of candidates NMS sees (the rest, lowest scores first, are dropped).
ULTRALYTICS_PREDICT = {"conf": 0.25, "iou": 0.7, "max_det": 300, "max_nms": 30000}
#: Ultralytics' ``bytetrack.yaml`` thresholds, for the trackers that take them (their scores sit lower than the
#: 0.5 / 0.6 that suit detectors trained with plain class targets).
ULTRALYTICS_TRACK = {"high_thresh": 0.25, "low_thresh": 0.1, "new_track_thresh": 0.25}
_MAX_WH = 7680      # Ultralytics' per-class box offset for class-wise NMS


class OnnxYoloDetector(Detector):
    """An Ultralytics YOLO detection model exported to ONNX, run with ONNX Runtime as Ultralytics' own predictor
    runs it, so that boxes, classes and scores are the same (tests/test_ultralytics_parity.py checks it).

    Input ``images (B, 3, H, W)`` RGB in ``[0, 1]``, letterboxed with grey 114 by
    :func:`~videolens.detect.augment.ultralytics_letterbox`: to the full input size for a static-shape export, to
    the minimum rectangle (padded to the stride) for a dynamic one, as Ultralytics does. A fixed-batch export
    (``batch=4``) runs with its batch filled up with blank images. Output ``(B, 4 + C, N)``: box centre, width and
    height in input pixels, then C class scores; the NMS-included / end-to-end layout ``(B, K, 6)`` (x1, y1, x2, y2,
    score, class) is read too. Class names come from the ``names`` metadata (a Python dict literal).

    Defaults: for a model Ultralytics made (its metadata says so), Ultralytics' (:data:`ULTRALYTICS_PREDICT`, IoU
    0.7) and its tracker thresholds (:data:`ULTRALYTICS_TRACK`, in :attr:`tracker_settings`); for a
    ``videolens detect-export`` file, those of the ``yolo`` checkpoint it came from (IoU 0.45). ``imgsz`` sets the
    input size of a dynamic-shape model (default: the ``imgsz`` of its metadata); a static-shape model keeps its
    own, with a warning. Segment, pose, OBB and classify exports are refused with a one-line error.
    """

    def __init__(self, path: str, conf: float = 0.25, iou: float | None = None, classes=None,
                 imgsz: int | None = None, max_det: int = 300, threads: int = 0):
        import ast
        import warnings

        import onnxruntime as ort

        from ..errors import VideolensWarning

        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise VideolensError(f"{self.path}: no such ONNX file")
        so = ort.SessionOptions()
        so.log_severity_level = 3
        if threads:
            so.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(self.path, so, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - ORT raises its own types for truncated or invalid files
            raise VideolensError(f"{self.path}: not a loadable ONNX model ({_first_line(e)})") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        # The task first: a segment or pose model's outputs would otherwise fail the shape checks below with a
        # message about class counts that says nothing of the real reason.
        self.task = meta.get("task", "detect") or "detect"
        if self.task != "detect":
            raise VideolensError(f"{self.path}: videolens runs detect models; this is a {self.task} model "
                                 "(export a detection model, e.g. yolo11n.pt rather than yolo11n-seg.pt)")
        self.from_ultralytics = meta.get("author", "").startswith("Ultralytics")
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise VideolensError(f"{self.path}: expected one image input (1, 3, H, W), found "
                                 f"{[(i.name, i.shape) for i in inputs]}")
        self.input_name = inputs[0].name
        shape = inputs[0].shape
        self.batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None   # None: any batch
        fixed = [d if isinstance(d, int) and d > 0 else None for d in shape[2:]]
        self.dynamic = not all(fixed)
        try:
            self.stride = int(ast.literal_eval(meta.get("stride", "32")))
        except (ValueError, SyntaxError, TypeError):
            self.stride = 32
        name = Path(self.path).name
        if not self.dynamic:
            self.input_hw = (int(fixed[0]), int(fixed[1]))
            if imgsz and (int(imgsz), int(imgsz)) != self.input_hw:
                warnings.warn(f"{name}: --imgsz {imgsz} ignored: the model's input is fixed at "
                              f"{self.input_hw[0]}x{self.input_hw[1]} (export it with dynamic=True to choose)",
                              VideolensWarning, stacklevel=3)
        else:
            h, w = [int(imgsz)] * 2 if imgsz else (_meta_size(meta.get("imgsz")) or [640, 640])
            up = [-(-v // self.stride) * self.stride for v in (h, w)]        # as Ultralytics' check_imgsz
            if imgsz and up != [h, w]:
                warnings.warn(f"{name}: --imgsz {imgsz} is not a multiple of the model's stride {self.stride}: "
                              f"using {up[0]}", VideolensWarning, stacklevel=3)
            self.input_hw = (up[0], up[1])
        out_shape = outputs[0].shape
        names = None
        if "names" in meta:
            from .data import parse_names_literal

            try:
                names = parse_names_literal(meta["names"])
            except (ValueError, SyntaxError):
                names = None
        self.layout = _onnx_layout(out_shape, names)
        if self.layout is None:
            raise VideolensError(f"{self.path}: output {outputs[0].name} has shape {out_shape}; expected an "
                                 "Ultralytics YOLO detection output (1, 4 + classes, boxes) or (1, boxes, 6)")
        if names is None:
            n_cls = (out_shape[1] - 4) if self.layout == "raw" and isinstance(out_shape[1], int) else 80
            names = [str(i) for i in range(n_cls)]
        if self.layout == "raw" and isinstance(out_shape[1], int) and out_shape[1] - 4 != len(names):
            raise VideolensError(f"{self.path}: output has {out_shape[1] - 4} class scores but the metadata names "
                                 f"{len(names)} classes")
        self.name = f"onnx:{name}"
        self.class_names = names
        if iou is None:
            iou = ULTRALYTICS_PREDICT["iou"] if self.from_ultralytics else 0.45
        if not 0.0 <= float(iou) <= 1.0:
            raise VideolensError(f"--iou must be between 0 and 1, not {iou}")
        self.iou, self.max_det = float(iou), int(max_det)
        self.tracker_settings = dict(ULTRALYTICS_TRACK) if self.from_ultralytics else {}
        super().__init__(conf, classes)

    def describe(self) -> dict:
        return {**super().describe(), "iou": self.iou, "imgsz": list(self.input_hw), "max_det": self.max_det}

    def preprocess(self, frame: np.ndarray) -> np.ndarray:
        """One frame as the model's input ``(3, h, w)`` float32: letterboxed as Ultralytics does, RGB, ``/ 255``."""
        img = A.ultralytics_letterbox(frame, self.input_hw, auto=self.dynamic, stride=self.stride)
        return img.transpose(2, 0, 1).astype(np.float32) / np.float32(255.0)

    def _run(self, x: np.ndarray) -> np.ndarray:
        """The raw output for a batch; a fixed-batch model gets its batch filled up with blank images."""
        n = len(x)
        if self.batch and n != self.batch:
            parts = [self._run(x[k:k + self.batch]) for k in range(0, n, self.batch)] if n > self.batch else None
            if parts is not None:
                return np.concatenate(parts)
            x = np.concatenate([x, np.zeros((self.batch - n, *x.shape[1:]), x.dtype)])
        try:
            return self.session.run(None, {self.input_name: x})[0][:n]
        except Exception as e:  # noqa: BLE001 - ORT's own error types; the message's first line says enough
            raise VideolensError(f"{self.path}: inference failed ({_first_line(e)})") from None

    def _detect(self, frames):
        out = []
        if self.batch:      # one padded batch at a time (frames of one video letterbox to one size)
            xs = [self.preprocess(f) for f in frames]
            groups = [list(range(k, min(k + self.batch, len(xs)))) for k in range(0, len(xs), self.batch)]
            ys = {}
            for g in groups:
                for k, y in zip(g, self._run(np.stack([xs[k] for k in g]))):
                    ys[k] = y
            raw = [(xs[k].shape[1:], ys[k]) for k in range(len(frames))]
        else:               # one at a time, as Ultralytics' predictor with its default batch of 1
            raw = []
            for f in frames:
                x = self.preprocess(f)
                raw.append((x.shape[1:], self._run(x[None])[0]))
        for f, (input_hw, y) in zip(frames, raw):
            boxes, scores, labels = self._postprocess(y)
            names = [self.class_names[c] if 0 <= c < len(self.class_names) else str(c) for c in labels.tolist()]
            boxes = A.ultralytics_scale_boxes(boxes, input_hw, f.shape[:2])
            out.append(_visible(Detections(boxes, scores, labels, names)))
        return out

    def _postprocess(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ultralytics' ``non_max_suppression`` for one image: the best class of each candidate, scores strictly
        above ``conf``, at most 30000 candidates by score, class-wise NMS (boxes offset by class), ``max_det``."""
        import torch
        from torchvision.ops import nms

        if self.layout == "nms":
            p = y[y[:, 4] > self.conf][:self.max_det]
            return p[:, :4].astype(np.float32), p[:, 4].astype(np.float32), p[:, 5].astype(np.int64)
        nc = len(self.class_names)
        p = y[:4 + nc].T                                               # (N, 4 + C)
        cls = p[:, 4:]
        labels = cls.argmax(1)
        scores = cls[np.arange(len(cls)), labels]
        keep = scores > self.conf
        p, scores, labels = p[keep], scores[keep], labels[keep]
        if len(scores) > ULTRALYTICS_PREDICT["max_nms"]:
            top = np.argsort(-scores, kind="stable")[:ULTRALYTICS_PREDICT["max_nms"]]
            p, scores, labels = p[top], scores[top], labels[top]
        xy, wh = p[:, :2], p[:, 2:4] / np.float32(2)
        boxes = np.concatenate([xy - wh, xy + wh], 1).astype(np.float32)
        if not len(boxes):
            return boxes.reshape(0, 4), scores.astype(np.float32), labels.astype(np.int64)
        offset = (labels.astype(np.float32) * np.float32(_MAX_WH))[:, None]
        idx = nms(torch.from_numpy(boxes + offset), torch.from_numpy(scores.astype(np.float32)),
                  self.iou).numpy()[:self.max_det]
        return boxes[idx], scores[idx].astype(np.float32), labels[idx].astype(np.int64)


def _first_line(e: BaseException) -> str:
    """An exception's message on one line, at most 300 characters (ONNX Runtime's run over several)."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return (" ".join(lines) if lines else type(e).__name__)[:300]


def _meta_size(text: str | None):
    if not text:
        return None
    import ast

    try:
        v = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    if isinstance(v, int):
        return [v, v]
    if isinstance(v, (list, tuple)) and len(v) == 2:
        return [int(v[0]), int(v[1])]
    return None


def _onnx_layout(shape, names) -> str | None:
    if len(shape) != 3:
        return None
    a, b = shape[1], shape[2]
    if isinstance(b, int) and b == 6 and (not isinstance(a, int) or a != 10):
        return "nms"
    if isinstance(a, int) and a > 4 and (names is None or a == 4 + len(names)):
        return "raw"
    if isinstance(a, int) and a > 4 and names is not None:
        return "raw"    # checked against the names afterwards, with a message that says so
    return None
