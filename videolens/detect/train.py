"""``videolens detect-train``: train a ``yolo`` or a Faster R-CNN on a COCO, YOLO or VOC dataset.

One loop, top to bottom in :func:`train`: datasets, model, optimiser (AdamW, warmup then cosine), an exponential
moving average of the weights (what gets evaluated and saved), one validation mAP per epoch, and atomic
``last.pt`` / ``best.pt`` checkpoints that hold everything ``--resume`` and ``videolens detect`` need: the
architecture and its config, the class names, the preprocessing, the metrics, the optimiser and EMA state.
Logs go to ``metrics.csv``, TensorBoard events and ``train.log`` in the run folder.

Determinism: each sample's augmentation draws from a generator seeded by ``(seed, epoch, index)`` and the epoch's
order from ``(seed, epoch)``, so a run (and a resumed run) repeats exactly on CPU, whatever ``--workers`` is.

>>> summary = train(TrainConfig(data="data/objects/images/annotations.json", output="runs/shapes",
...                             epochs=30))                                    # doctest: +SKIP
>>> summary["best"]["map50"]                                                   # doctest: +SKIP
0.93
"""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import VideolensError
from ..utils.files import atomic_path, write_text
from ..utils.progress import progress
from . import augment as A
from .data import DetectionDataset, has_splits, load_dataset
from ..core.detections import Detections
from .metrics import EvalResult, evaluate
from .models import TRAINABLE, DetectorModel, build_model

CHECKPOINT_FORMAT = "videolens-detector"


@dataclass
class TrainConfig:
    """Settings of a training run (``videolens detect-train`` options)."""

    data: str
    model: str = "yolo"
    output: str = "runs/detect"
    val: str | None = None             # a separate validation set; default: the data's val/test split or 10 %
    epochs: int = 30
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_iters: int = 200
    imgsz: int = 320
    scale: str = "n"                   # yolo size: n, s, m
    weights: str | None = None         # "coco": start a fasterrcnn from torchvision's COCO weights
    mosaic: float = 1.0                # yolo: probability of a mosaic sample
    close_mosaic: float = 0.15         # yolo: fraction of the last epochs trained without mosaic
    flip: bool = True
    hsv: bool = True
    scale_jitter: float = 0.5          # image scale drawn from [1 - x, 1 + x]
    workers: int = 0
    seed: int = 0
    device: str = "auto"
    resume: bool = False
    overwrite: bool = False
    strict: bool = False
    val_fraction: float = 0.1
    patience: int = 0                  # stop after this many epochs without a better mAP (0: never)
    max_iters: int | None = None       # stop after this many optimiser steps in total (quick runs, tests)
    cpu_minutes: float | None = None   # stop once the process has used this much CPU time (then validate, save)
    eval_conf: float = 0.001
    quiet: bool = False


# ---- data -------------------------------------------------------------------------------------------------------


class TrainImages(torch.utils.data.Dataset):
    """Augmented training images of a :class:`DetectionDataset` as ``(uint8 CHW tensor, target)`` pairs."""

    def __init__(self, ds: DetectionDataset, imgsz: int, cfg: TrainConfig | None = None,
                 cache_bytes: int = 2_000_000_000):
        self.ds, self.imgsz = ds, int(imgsz)
        self.cfg = cfg or TrainConfig(data="")
        self.epoch = 0
        self.mosaic = 0.0
        est = sum(min(1.0, (imgsz / max(s.width, s.height)) ** 2) * s.width * s.height * 3 for s in ds.samples)
        self.cache: dict[int, tuple] | None = {} if est <= cache_bytes else None

    def __len__(self) -> int:
        return len(self.ds)

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Image ``i`` resized so its long side is ``imgsz``, with its boxes (cached in memory when small)."""
        if self.cache is not None and i in self.cache:
            return self.cache[i]
        s = self.ds.samples[i]
        try:
            img = A.read_image(s.path)
        except ValueError:
            raise VideolensError(f"{s.path}: not a readable image") from None
        boxes = s.boxes.copy()
        if img.shape[:2] != (s.height, s.width):   # annotation written for another size: follow the image
            boxes *= np.float32([img.shape[1] / s.width, img.shape[0] / s.height] * 2)
        keep = np.ones(len(boxes), bool) if s.crowd is None else ~s.crowd
        item = (*A.resize_long(img, boxes[keep], self.imgsz), s.labels[keep])
        if self.cache is not None:
            self.cache[i] = item
        return item

    def __getitem__(self, i: int):
        size = self.imgsz
        rng = np.random.default_rng([self.cfg.seed, self.epoch, i])
        jitter = (1 - self.cfg.scale_jitter, 1 + self.cfg.scale_jitter)
        if rng.random() < self.mosaic:
            items = [self.load(i)] + [self.load(int(j)) for j in rng.integers(0, len(self), 3)]
            img, boxes, labels = A.mosaic(items, size, rng)
            img, boxes, labels = A.random_affine(img, boxes, labels, size, rng, scale=jitter, translate=0.0)
        else:
            img, boxes, labels = self.load(i)
            img, boxes, labels = A.random_affine(img, boxes, labels, size, rng, scale=jitter, translate=0.1)
        if self.cfg.hsv:
            img = A.hsv_jitter(img, rng)
        if self.cfg.flip and rng.random() < 0.5:
            img, boxes = A.hflip(img, boxes)
        image = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        target = {"boxes": torch.from_numpy(np.asarray(boxes, np.float32).reshape(-1, 4)),
                  "labels": torch.from_numpy(np.asarray(labels, np.int64).reshape(-1))}
        return image, target


def collate(batch):
    images, targets = zip(*batch)
    return torch.stack(images), list(targets)


def _seed_worker(worker_id: int) -> None:
    torch.set_num_threads(1)   # two cores: workers must not each spawn a full thread pool


def resolve_datasets(cfg: TrainConfig) -> tuple[DetectionDataset, DetectionDataset]:
    """(train, val): an explicit ``--val``, the data's own split, or a seeded 10 % split."""
    if cfg.val:
        train_ds = load_dataset(cfg.data, "train" if has_splits(cfg.data) else None, strict=cfg.strict)
        # A --val folder with splits gives its validation (or test) split, not its training one.
        val_ds = load_dataset(cfg.val, "val" if has_splits(cfg.val) else None, class_names=train_ds.class_names,
                              strict=cfg.strict)
    elif has_splits(cfg.data):
        train_ds = load_dataset(cfg.data, "train", strict=cfg.strict)
        val_ds = load_dataset(cfg.data, "val", class_names=train_ds.class_names, strict=cfg.strict)
    else:
        full = load_dataset(cfg.data, None, strict=cfg.strict)
        if len(full) < 2:
            raise VideolensError(f"{cfg.data}: {len(full)} image(s): too few to split off a validation set "
                                 "(give --val)")
        train_ds, val_ds = full.split(cfg.val_fraction, cfg.seed)
        train_ds.issues, train_ds.unknown_classes, train_ds.skipped_files = (full.issues, full.unknown_classes,
                                                                             full.skipped_files)
    if len(train_ds) == 0 or len(val_ds) == 0:
        raise VideolensError(f"{cfg.data}: an empty training or validation split")
    return train_ds, val_ds


# ---- model helpers ----------------------------------------------------------------------------------------------


class EMA:
    """Exponential moving average of the weights, ramped up early (YOLO's ``ModelEMA``)."""

    def __init__(self, model: torch.nn.Module, decay: float = 0.9999, tau: float = 2000.0):
        import copy

        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.decay, self.tau, self.updates = decay, tau, 0

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        d = self.decay * (1 - math.exp(-self.updates / self.tau))
        msd = model.state_dict()
        for k, v in self.module.state_dict().items():
            if v.dtype.is_floating_point:
                v.mul_(d).add_(msd[k].detach(), alpha=1 - d)
            else:
                v.copy_(msd[k])


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _lr_lambda(total: int, warmup: int):
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        t = (step - warmup) / max(1, total - warmup)
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
    return f


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


# ---- checkpoints ------------------------------------------------------------------------------------------------


def save_checkpoint(path: Path, model: DetectorModel, ema: EMA, class_names: list[str], cfg: TrainConfig,
                    epoch: int, metrics: dict, optimizer, scheduler, best_fitness: float, history: list[dict],
                    dataset_info: dict) -> None:
    state = {
        "format": CHECKPOINT_FORMAT, "version": 1,
        "model": cfg.model, "config": model.config(), "class_names": list(class_names),
        "preprocess": {"imgsz": cfg.imgsz, "letterbox": True, "pad_value": A.PAD_VALUE, "input": "RGB / 255"},
        "state_dict": ema.module.state_dict(),   # the averaged weights: what inference uses
        "epoch": epoch, "metrics": metrics, "best_fitness": best_fitness, "history": history,
        "train_config": asdict(cfg), "dataset": dataset_info,
        "train_state": {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "ema_updates": ema.updates},
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a ``detect-train`` checkpoint safely (``weights_only=True``) and check that it is one."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise VideolensError(f"{path}: no such checkpoint file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - truncated zip, pickle with code, wrong file...
        reason = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise VideolensError(f"{path}: not a readable videolens checkpoint ({reason})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise VideolensError(f"{path}: not a videolens detector checkpoint (written by 'videolens detect-train')")
    return ckpt


def model_from_checkpoint(ckpt: dict) -> DetectorModel:
    config = dict(ckpt["config"])
    model = build_model(ckpt["model"], num_classes=config.pop("num_classes"), **config)
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        raise VideolensError(f"checkpoint weights do not fit a {ckpt['model']} model "
                             f"({str(e).splitlines()[0]})") from None
    return model.eval()


# ---- the loop ---------------------------------------------------------------------------------------------------


def _log(run_dir: Path, message: str, quiet: bool, to_stderr: bool = True) -> None:
    with open(run_dir / "train.log", "a", encoding="utf-8") as f:
        f.write(time.strftime("%Y-%m-%d %H:%M:%S ") + message + "\n")
    if to_stderr and not quiet:
        sys.stderr.write(message + "\n")


def train(cfg: TrainConfig) -> dict:
    """Train a detector as configured; returns a summary (best metrics, checkpoint paths, epochs run)."""
    from ..utils.device import resolve_device

    if cfg.model not in TRAINABLE:
        raise VideolensError(f"--model {cfg.model}: can train {', '.join(TRAINABLE)}")
    if cfg.epochs < 1 or cfg.batch_size < 1 or cfg.imgsz < 64 or cfg.imgsz % 32:
        raise VideolensError("epochs and batch size must be >= 1, and the image size a multiple of 32 (>= 64)")
    run_dir = Path(cfg.output)
    last_path, best_path = run_dir / "last.pt", run_dir / "best.pt"
    if cfg.resume and not last_path.is_file():
        raise VideolensError(f"{last_path}: nothing to resume (no last.pt in the run folder)")
    if not cfg.resume and last_path.exists():
        if not cfg.overwrite:
            raise VideolensError(f"{run_dir}: a run is already there (use --resume to continue it or "
                                 "--overwrite to start again)")
        for name in ("last.pt", "best.pt", "metrics.csv", "train.log", "config.yaml"):
            (run_dir / name).unlink(missing_ok=True)
        shutil.rmtree(run_dir / "tensorboard", ignore_errors=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)

    # 1. Data.
    train_ds, val_ds = resolve_datasets(cfg)
    class_names = train_ds.class_names
    for name, ds in (("train", train_ds), ("val", val_ds)):
        note = ds.issues_summary()
        if note:
            _log(run_dir, f"warning: {name} set {ds.root}: {note}", cfg.quiet)
    _log(run_dir, f"data: {len(train_ds)} training images ({train_ds.num_boxes} boxes), {len(val_ds)} validation "
                  f"images, {len(class_names)} classes: {', '.join(class_names)}", cfg.quiet, to_stderr=False)
    train_set = TrainImages(train_ds, cfg.imgsz, cfg)

    # 2. Model, optimiser, schedule, EMA.
    model = build_model(cfg.model, len(class_names), scale=cfg.scale, imgsz=cfg.imgsz, weights=cfg.weights,
                        progress=not cfg.quiet).to(device)
    steps_per_epoch = max(1, len(train_set) // cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    if cfg.max_iters:
        total_steps = min(total_steps, int(cfg.max_iters))
    optimizer = torch.optim.AdamW(_param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(0.9, 0.999))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(total_steps, min(cfg.warmup_iters,
                                                                                      total_steps // 3 + 1)))
    ema = EMA(model, tau=max(50.0, min(2000.0, total_steps / 5)))
    start_epoch, best_fitness, history = 0, -1.0, []
    if cfg.resume:
        ckpt = load_checkpoint(last_path)
        if ckpt["model"] != cfg.model or ckpt["class_names"] != class_names:
            raise VideolensError(f"{last_path}: was trained as {ckpt['model']} on classes {ckpt['class_names']}; "
                                 "resume it with the same --model and data")
        ts = ckpt["train_state"]
        model.load_state_dict(ts["model"])
        ema.module.load_state_dict(ckpt["state_dict"])
        ema.updates = int(ts["ema_updates"])
        optimizer.load_state_dict(ts["optimizer"])
        scheduler.load_state_dict(ts["scheduler"])
        start_epoch, best_fitness, history = int(ckpt["epoch"]) + 1, float(ckpt["best_fitness"]), ckpt["history"]
        _log(run_dir, f"resumed from {last_path} at epoch {start_epoch + 1}", cfg.quiet)
    write_text(run_dir / "config.yaml", _yaml({**asdict(cfg), "classes": class_names, "device": str(device)}))
    dataset_info = {"train": str(train_ds.root), "val": str(val_ds.root), "train_images": len(train_ds),
                    "val_images": len(val_ds)}
    tb = _tensorboard(run_dir)

    # 3. Epochs.
    step = scheduler.last_epoch
    epochs_without_gain = 0
    epoch = start_epoch - 1
    cpu_start = time.process_time()
    out_of_time = False
    for epoch in range(start_epoch, cfg.epochs):
        if step >= total_steps or out_of_time:
            break
        model.train()
        train_set.epoch = epoch
        no_mosaic_from = cfg.epochs - int(round(cfg.close_mosaic * cfg.epochs))
        train_set.mosaic = cfg.mosaic if (cfg.model == "yolo" and epoch < no_mosaic_from) else 0.0
        order = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
        loader = torch.utils.data.DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True, drop_last=True,
                                             generator=order, collate_fn=collate, num_workers=cfg.workers,
                                             worker_init_fn=_seed_worker if cfg.workers else None)
        sums: dict[str, float] = {}
        seen, batches, t0 = 0, 0, time.perf_counter()
        bar = progress(total=min(len(loader), total_steps - step), desc=f"epoch {epoch + 1}/{cfg.epochs}",
                       quiet=cfg.quiet, unit="batch")
        try:
            for images, targets in loader:
                images = images.to(device, non_blocking=True).float().div_(255)
                targets = [{k: v.to(device) for k, v in t.items()} for t in targets]
                losses = model.loss(images, targets)
                loss = sum(losses.values())
                if not torch.isfinite(loss):
                    raise VideolensError(f"training diverged at epoch {epoch + 1} (loss {loss.item()}); "
                                         "try a lower --lr")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
                optimizer.step()
                scheduler.step()
                ema.update(model)
                step += 1
                batches += 1
                seen += len(images)
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach())
                sums["loss"] = sums.get("loss", 0.0) + float(loss.detach())
                bar.set_postfix(loss=f"{float(loss.detach()):.3f}", img_s=f"{seen / (time.perf_counter() - t0):.1f}")
                bar.update(1)
                if step >= total_steps:
                    break
                if cfg.cpu_minutes and time.process_time() - cpu_start > 60 * cfg.cpu_minutes:
                    out_of_time = True
                    _log(run_dir, f"CPU budget of {cfg.cpu_minutes:g} min used up at step {step}", cfg.quiet)
                    break
        finally:
            bar.close()
        train_losses = {k: v / max(1, batches) for k, v in sums.items()}
        train_seconds = time.perf_counter() - t0

        # Validation on the averaged weights.
        ema.module.eval()
        result = evaluate_detector(model_detector(ema.module, class_names, cfg.imgsz, device), val_ds,
                                   batch=cfg.batch_size, quiet=cfg.quiet, desc="val")
        fitness = 0.1 * max(result.map50, 0) + 0.9 * max(result.map, 0)
        improved = fitness > best_fitness
        row = {"epoch": epoch + 1, **{f"train_{k}": round(v, 5) for k, v in train_losses.items()},
               "val_map": round(result.map, 5), "val_map50": round(result.map50, 5),
               "val_map75": round(result.map75, 5), "lr": optimizer.param_groups[0]["lr"],
               "images_per_s": round(seen / max(train_seconds, 1e-9), 2), "seconds": round(train_seconds, 1)}
        history.append(row)
        _append_csv(run_dir / "metrics.csv", row)
        if tb is not None:
            for k, v in row.items():
                if k != "epoch":
                    tb.add_scalar(k.replace("_", "/", 1), v, epoch + 1)
            tb.flush()
        metrics = {**result.to_dict(), "epoch": epoch + 1}
        if improved:
            best_fitness = fitness
            epochs_without_gain = 0
        else:
            epochs_without_gain += 1
        save_checkpoint(last_path, model, ema, class_names, cfg, epoch, metrics, optimizer, scheduler, best_fitness,
                        history, dataset_info)
        if improved:
            shutil.copyfile(last_path, run_dir / ".best.pt.partial")
            os.replace(run_dir / ".best.pt.partial", best_path)
        _log(run_dir, f"epoch {epoch + 1}/{cfg.epochs}: loss {train_losses.get('loss', 0):.4f}, val mAP "
                      f"{result.map:.4f}, mAP@.5 {result.map50:.4f}{' (best)' if improved else ''}, "
                      f"{row['images_per_s']} img/s", cfg.quiet)
        if cfg.patience and epochs_without_gain >= cfg.patience:
            _log(run_dir, f"early stop: no better mAP for {cfg.patience} epochs", cfg.quiet)
            break
    if tb is not None:
        tb.close()
    best = load_checkpoint(best_path)["metrics"] if best_path.is_file() else {}
    return {"output": str(run_dir), "best_checkpoint": str(best_path), "last_checkpoint": str(last_path),
            "epochs": len(history), "steps": step, "classes": class_names, "best": best,
            "history": history, "train_images": len(train_ds), "val_images": len(val_ds),
            "warnings": [s for s in (train_ds.issues_summary(), val_ds.issues_summary()) if s]}


def _append_csv(path: Path, row: dict) -> None:
    """Rewrite metrics.csv with one more row (atomically; the file stays small)."""
    rows = []
    if path.is_file():
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    rows.append({k: str(v) for k, v in row.items()})
    fields = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    write_text(path, buf.getvalue())


def _yaml(d: dict) -> str:
    import yaml

    return yaml.safe_dump(d, sort_keys=False)


def _tensorboard(run_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # noqa: BLE001 - tensorboard is optional
        return None
    return SummaryWriter(str(run_dir / "tensorboard"))
