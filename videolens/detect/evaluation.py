"""Evaluating detectors on labelled images: COCO mAP of any detector, or of a model while it trains.

``videolens detect-eval`` (:func:`evaluate_model`) and the training loop's validation both come here; nothing in it
trains. Classes are matched by name, so a model that knows none of the dataset's classes would score a meaningless
zero: :func:`evaluate_model` refuses that before any image is run (a model with numeric class names is let
through).

>>> from videolens.detect import load_detector, load_dataset
>>> evaluate_detector(load_detector("runs/shapes/best.pt"), load_dataset("data/val.json")).map50   # doctest: +SKIP
0.93
>>> ev = evaluate_model("runs/yolo/best.pt", "data/coco.json", output="runs/yolo/eval")   # doctest: +SKIP
>>> ev.result.map, ev.to_dict()["images"]                                                 # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.detections import Detections
from ..errors import VideolensError
from ..utils.files import check_writable, write_text
from ..utils.progress import progress
from . import augment as A
from .data import DetectionDataset
from .metrics import EvalResult, evaluate
from .models import DetectorModel


def model_detector(model: DetectorModel, class_names: list[str], imgsz: int, device, conf: float = 0.001,
                   iou: float = 0.6, multi_label: bool = True, batch: int = 16):
    """A ``frames -> [Detections]`` function over a model being trained (letterbox in, original pixels out)."""

    def run(frames: list[np.ndarray]) -> list[Detections]:
        out = []
        for k in range(0, len(frames), batch):
            chunk = frames[k:k + batch]
            boxed = [A.letterbox(f, imgsz) for f in chunk]
            x = torch.from_numpy(np.stack([b[0] for b in boxed]).transpose(0, 3, 1, 2)).to(device).float() / 255
            for f, (_, r, pad), (bx, sc, lb) in zip(chunk, boxed, model.predict(x, conf, iou, 300, multi_label)):
                h, w = f.shape[:2]
                lb = lb.cpu().numpy()
                out.append(Detections(A.unletterbox(bx.cpu().numpy(), r, pad, w, h), sc.cpu().numpy(), lb,
                                      [class_names[int(c)] for c in lb]))
        return out

    return run


def evaluate_detector(detect, dataset: DetectionDataset, batch: int = 16, quiet: bool = True,
                      desc: str = "eval") -> EvalResult:
    """COCO metrics of ``detect`` (a :class:`~videolens.detect.detectors.Detector` or any ``frames ->
    [Detections]`` callable) on a dataset; classes are matched by name."""
    gt = dataset.to_coco()
    cat_ids = {c["name"]: c["id"] for c in gt["categories"]}
    preds = []
    bar = progress(total=len(dataset), desc=desc, quiet=quiet, unit="img")
    try:
        for k in range(0, len(dataset), batch):
            items = dataset.samples[k:k + batch]
            frames = [A.read_image(s.path) for s in items]
            fn = getattr(detect, "detect", detect)
            for j, d in enumerate(fn(frames)):
                img, s = frames[j], items[j]
                if img.shape[:2] != (s.height, s.width):
                    d = d.scaled(s.width / img.shape[1], s.height / img.shape[0])
                preds.extend(_to_categories(d, k + j + 1, cat_ids))
            bar.update(len(items))
    finally:
        bar.close()
    return evaluate(preds, gt, class_names=dataset.class_names)


def _to_categories(d: Detections, image_id: int, cat_ids: dict[str, int]) -> list[dict]:
    """COCO results for the dataset's categories, matched by class name; a model without names (``"0"``, ``"1"``,
    e.g. an ONNX file without metadata) is matched by class index; boxes of other classes are left out."""
    out = []
    for rec, name in zip(d.to_coco(image_id), d.class_names.tolist()):
        if name in cat_ids:
            out.append({**rec, "category_id": cat_ids[name]})
        elif str(name).isdigit() and int(name) < len(cat_ids):
            out.append({**rec, "category_id": int(name) + 1})
    return out


__all__ = ["evaluate_detector", "model_detector"]


@dataclass
class ModelEvaluation:
    """The outcome of :func:`evaluate_model`: the metrics and what they were measured on."""

    model: str
    data: str
    split: str | None
    images: int
    result: Any            # a videolens.detect.metrics.EvalResult

    def to_dict(self) -> dict[str, Any]:
        """``metrics.json``, and what ``videolens detect-eval --json`` prints."""
        return {"model": self.model, "data": self.data, "split": self.split, "images": self.images,
                **self.result.to_dict()}

    def summary(self) -> str:
        return self.result.summary()


def evaluate_model(model: str, data: str | os.PathLike, *, split: str | None = None, weights: str | None = None,
                   conf: float = 0.001, imgsz: int | None = None, strict: bool = False, device: str = "auto",
                   output: str | os.PathLike | None = None, overwrite: bool = False, quiet: bool = False,
                   warn: bool = True) -> ModelEvaluation:
    """Evaluate ``model`` (a name, a checkpoint or ``onnx:PATH``) on a COCO, YOLO or VOC dataset.

    ``split`` defaults to ``val`` for a split dataset; ``output`` gets ``metrics.json``; ``warn`` prints the
    dataset's problems (skipped files, unknown classes) to stderr; ``quiet`` hides the progress bar.
    """
    from .data import has_splits, load_dataset
    from .detectors import load_detector

    split = split or ("val" if has_splits(data) else None)
    ds = load_dataset(data, split, strict=strict)
    if ds.issues_summary() and warn:
        sys.stderr.write(f"videolens: warning: {data}: {ds.issues_summary()}\n")
    detector = load_detector(model, weights=weights, conf=conf, device=device, imgsz=imgsz)
    shared = set(detector.class_names) & set(ds.class_names)
    if not shared and not all(str(n).isdigit() for n in detector.class_names):
        raise VideolensError(f"{model} knows none of the dataset's classes ({', '.join(ds.class_names[:10])}); "
                             "classes are matched by name")
    target = Path(output) / "metrics.json" if output else None
    if target is not None:
        check_writable(target, overwrite)
    result = evaluate_detector(detector, ds, quiet=quiet, desc="eval")
    evaluation = ModelEvaluation(model, os.fspath(data), split, len(ds), result)
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text(target, json.dumps(evaluation.to_dict(), indent=1) + "\n")
    return evaluation
