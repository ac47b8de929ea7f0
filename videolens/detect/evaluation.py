"""A detector's COCO metrics on a labelled dataset: what ``videolens detect-eval`` does, usable from Python.

Classes are matched by name, so a model that knows none of the dataset's classes would score a meaningless zero:
that is refused before any image is run (a model with numeric class names is let through).

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

from ..errors import VideolensError
from ..utils.files import check_writable, write_text


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
    from .train import evaluate_detector

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
