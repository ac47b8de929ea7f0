"""``videolens evaluate``: accuracy of a checkpoint on a dataset split, with multi-view testing.

Each video is seen through every test view (``clips`` clips spread over it x ``crops`` crops), and the softmax
probabilities of the views are averaged, as MMAction2's ``average_clips="prob"``. Reported: top-1 and top-5 (as
fractions; top-5 is top-k with k = min(5, classes)), mean class accuracy, per-class precision and recall, and the
confusion matrix (rows: true class, columns: predicted), written as ``metrics.json``, ``confusion.csv``,
``confusion.png`` and ``predictions.csv`` (one row per video, with its probabilities).

``predict`` on a single clip runs the same views through the same code, so it gives the same probabilities.

>>> from videolens.classify import evaluate
>>> result = evaluate("runs/c3d/best.pt", "motion/")        # doctest: +SKIP
>>> result.top1, result.top5                                  # doctest: +SKIP
(0.96, 1.0)
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import VideolensError
from ..utils.files import atomic_path, check_writable, write_text
from ..utils.progress import progress


@dataclass
class Inference:
    """Per-video averaged probabilities of a loader pass, in loader order, plus the videos that failed."""

    probs: torch.Tensor      # (N, K)
    labels: torch.Tensor     # (N,)
    indices: torch.Tensor    # (N,) dataset indices
    bad: list = field(default_factory=list)   # (path, reason)


@torch.no_grad()
def clip_probs(model: torch.nn.Module, clips: torch.Tensor, counts: list[int] | None, device: torch.device,
               chunk: int = 32, amp: bool = False) -> torch.Tensor:
    """Softmax of ``model`` over ``clips`` ``(N, C, T, H, W)``, averaged over each video's ``counts`` views."""
    outs = []
    for k in range(0, len(clips), chunk):
        x = clips[k:k + chunk].to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
            outs.append(model(x).float().softmax(dim=1).cpu())
    probs = torch.cat(outs)
    if not counts:
        return probs
    return torch.stack([p.mean(dim=0) for p in torch.split(probs, counts)])


@torch.no_grad()
def infer(model: torch.nn.Module, loader, device: torch.device, amp: bool = False, quiet: bool = True,
          desc: str = "evaluate") -> Inference:
    """Run ``model`` (in eval mode) over a loader of test views."""
    was_training = model.training
    model.eval()
    probs, labels, indices, bad = [], [], [], []
    for batch in progress(loader, total=len(loader), desc=desc, quiet=quiet, unit="batch"):
        bad += batch["bad"]
        if batch["clips"] is None:
            continue
        probs.append(clip_probs(model, batch["clips"], batch["counts"] or None, device, amp=amp))
        labels.append(batch["labels"])
        indices.append(batch["indices"])
    model.train(was_training)
    if not probs:
        return Inference(torch.zeros(0, 0), torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), bad)
    return Inference(torch.cat(probs), torch.cat(labels), torch.cat(indices), bad)


@dataclass
class EvalResult:
    """Accuracy of a checkpoint on one split. Fractions in 0..1."""

    checkpoint: str
    data: str
    split: str
    videos: int
    top1: float
    top5: float
    topk: int
    mean_class_accuracy: float
    per_class: list[dict]            # {class, precision, recall, support}
    confusion: list[list[int]]       # rows: true class, columns: predicted class
    classes: list[str]
    views: dict                      # {clips, crops}
    skipped: list[dict]
    predictions: list[dict]          # {path, label, predicted, score}
    files: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def metrics_from(probs: np.ndarray, labels: np.ndarray, classes: list[str]) -> dict:
    """Top-1, top-k (k = min(5, classes)), mean class accuracy, per-class precision/recall and the confusion matrix.

    >>> m = metrics_from(np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]), np.array([0, 1, 1]), ["a", "b"])
    >>> m["top1"], m["mean_class_accuracy"], m["confusion"]
    (0.6667, 0.75, [[1, 0], [1, 1]])
    """
    k = len(classes)
    pred = probs.argmax(axis=1)
    topk = min(5, k)
    top = np.argsort(-probs, axis=1, kind="stable")[:, :topk]
    conf = np.zeros((k, k), dtype=np.int64)
    np.add.at(conf, (labels, pred), 1)
    support, predicted, tp = conf.sum(axis=1), conf.sum(axis=0), np.diag(conf)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    present = support > 0
    return {
        "top1": round(float((pred == labels).mean()), 4) if len(labels) else 0.0,
        "top5": round(float((top == labels[:, None]).any(axis=1).mean()), 4) if len(labels) else 0.0,
        "topk": topk,
        "mean_class_accuracy": round(float(recall[present].mean()), 4) if present.any() else 0.0,
        "per_class": [{"class": c, "precision": round(float(precision[i]), 4), "recall": round(float(recall[i]), 4),
                       "support": int(support[i])} for i, c in enumerate(classes)],
        "confusion": conf.tolist(),
    }


def _pick_split(ds, ckpt_data: dict, data: str, split: str):
    """``auto``: the test split; else, on the training dataset, the run's own validation clips; else all clips."""
    from .data import Sample

    if split != "auto":
        return split, ds.split(split)
    if ds.test:
        return "test", ds.test
    trained_on = ckpt_data.get("config", {}).get("data")
    if trained_on and os.path.exists(trained_on) and os.path.realpath(trained_on) == os.path.realpath(data):
        known = {s.path for s in ds.split("all")}
        val = [Sample(*s) for s in ckpt_data.get("splits", {}).get("val", [])]
        val = [s for s in val if s.path in known]
        if val:
            return "val", val
    return "all", ds.split("all")


def evaluate(checkpoint: str | os.PathLike, data: str | os.PathLike, *, split: str = "auto",
             clips: int | None = None, crops: int | None = None, batch_size: int = 8, workers: int | None = None,
             device: str = "auto", output: str | os.PathLike | None = None, overwrite: bool = True,
             cache: str | None = None, quiet: bool = False) -> EvalResult:
    """Evaluate ``checkpoint`` on ``data`` (any layout :func:`~videolens.classify.data.load_dataset` reads).

    ``split``: ``auto`` (test, else the run's validation clips when ``data`` is its training set, else all),
    ``train``, ``val``, ``test`` or ``all``. ``clips`` / ``crops`` override the checkpoint's test views.
    With ``output``, writes ``metrics.json``, ``confusion.csv``, ``confusion.png`` and ``predictions.csv`` there.
    Class names are matched by name, so a dataset may hold a subset of the model's classes.
    """
    import warnings

    from .checkpoint import load_checkpoint
    from .clips import ClipDataset, make_loader
    from .data import Sample, load_dataset
    from .transforms import Preprocessing

    ckpt = load_checkpoint(checkpoint, device)
    out = Path(output) if output is not None else None
    if out is not None:
        for name in ("metrics.json", "confusion.csv", "confusion.png", "predictions.csv"):
            check_writable(out / name, overwrite)
    cfg = ckpt.data.get("config", {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = load_dataset(data, val_fraction=cfg.get("val_fraction", 0.2), seed=cfg.get("seed", 0),
                          min_frames=cfg.get("min_frames", 2), quiet=quiet)
    unknown = [c for c in ds.classes if c not in ckpt.classes]
    if unknown:
        raise VideolensError(f"{data}: class(es) {', '.join(unknown[:5])} are not among the model's "
                             f"{len(ckpt.classes)} classes ({', '.join(ckpt.classes[:10])}"
                             f"{', ...' if len(ckpt.classes) > 10 else ''})")
    split_name, samples = _pick_split(ds, ckpt.data, os.fspath(data), split)
    if not samples:
        raise VideolensError(f"{data}: the {split_name} split is empty")
    # dataset label -> model class index, by name
    samples = [Sample(s.path, ckpt.classes.index(ds.classes[s.label]), s.start, s.end) for s in samples]
    pre = Preprocessing.from_dict({**ckpt.preprocessing.to_dict(), **({"clips": clips} if clips else {}),
                                   **({"crops": crops} if crops else {})})
    dataset = ClipDataset(samples, pre, train=False, cache=cache)
    if workers is None:
        workers = max(0, min(4, (os.cpu_count() or 1) - 1))
    loader = make_loader(dataset, batch_size, workers)
    device_ = next(ckpt.model.parameters()).device
    res = infer(ckpt.model, loader, device_, quiet=quiet)
    if len(res.labels) == 0:
        raise VideolensError(f"{data}: none of the {len(samples)} videos of the {split_name} split could be read")
    probs, labels = res.probs.numpy(), res.labels.numpy()
    m = metrics_from(probs, labels, ckpt.classes)
    skipped = [{"path": p, "reason": r} for p, r in ds.skipped] + [{"path": p, "reason": r} for p, r in res.bad]
    preds = []
    for row, i in enumerate(res.indices.tolist()):
        j = int(probs[row].argmax())
        preds.append({"path": samples[i].path, "label": ckpt.classes[int(labels[row])],
                      "predicted": ckpt.classes[j], "score": round(float(probs[row, j]), 6),
                      "probs": [round(float(p), 6) for p in probs[row]]})
    result = EvalResult(os.fspath(checkpoint), os.fspath(data), split_name, len(labels), m["top1"], m["top5"],
                        m["topk"], m["mean_class_accuracy"], m["per_class"], m["confusion"], list(ckpt.classes),
                        {"clips": pre.clips, "crops": pre.crops}, skipped, preds)
    if out is not None:
        result.files = write_eval_outputs(result, out)
    return result


def write_eval_outputs(result: EvalResult, out: str | os.PathLike) -> dict:
    """``metrics.json``, ``confusion.csv``, ``confusion.png`` and ``predictions.csv`` into ``out`` (atomically)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {k: str(out / v) for k, v in (("metrics", "metrics.json"), ("confusion_csv", "confusion.csv"),
                                           ("confusion_png", "confusion.png"), ("predictions", "predictions.csv"))}
    summary = {k: v for k, v in result.to_dict().items() if k not in ("predictions", "files")}
    write_text(files["metrics"], json.dumps(summary, indent=1) + "\n")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["true \\ predicted", *result.classes])
    for c, row in zip(result.classes, result.confusion):
        w.writerow([c, *row])
    write_text(files["confusion_csv"], buf.getvalue())
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "label", "predicted", "score", *result.classes])
    for p in result.predictions:
        w.writerow([p["path"], p["label"], p["predicted"], p["score"], *p["probs"]])
    write_text(files["predictions"], buf.getvalue())
    _confusion_png(result, files["confusion_png"])
    return files


def _confusion_png(result: EvalResult, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conf = np.asarray(result.confusion, dtype=float)
    k = len(result.classes)
    norm = conf / np.maximum(conf.sum(axis=1, keepdims=True), 1)
    side = min(3 + 0.45 * k, 24)
    fig, ax = plt.subplots(figsize=(side + 1.5, side))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), result.classes, rotation=90 if k > 4 else 0, fontsize=8)
    ax.set_yticks(range(k), result.classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"top-1 {result.top1:.3f}, mean class accuracy {result.mean_class_accuracy:.3f} "
                 f"({result.videos} videos)", fontsize=9)
    if k <= 25:
        for i in range(k):
            for j in range(k):
                if conf[i, j]:
                    ax.text(j, i, int(conf[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


__all__ = ["EvalResult", "Inference", "clip_probs", "evaluate", "infer", "metrics_from", "write_eval_outputs"]
