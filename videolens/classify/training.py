"""``videolens train``: one training loop, readable top to bottom.

AdamW with a linear warm-up and a cosine decay (per step), label smoothing, gradient clipping, mixed precision on
CUDA, and early stopping on validation accuracy. After every epoch ``last.pt`` (and ``best.pt`` when validation
accuracy improved) are written atomically with everything needed to predict with them or to resume exactly:
the model's name and settings, class names, preprocessing, metrics, the optimizer, scheduler, scaler and RNG states.
``metrics.csv``, ``config.yaml``, ``train.log`` (skipped videos) and TensorBoard events go to the same folder.
The run folder's rules, checkpoint files, logs, parameter groups and schedule are :mod:`videolens.train`'s, shared
with the other trainers; ``train.log`` is this loop's own: its lines travel in the checkpoint, so a resumed run's
log is the uninterrupted run's.

Randomness is a function of the seed: model initialisation from ``torch.manual_seed(seed)``, the clip order from
the sampler's ``seed + epoch``, each clip's augmentation from ``(seed, epoch, index)``. On CPU a run repeats exactly,
and ``--resume`` after a kill continues as if it had never stopped.

``nproc > 1`` starts that many processes with torch's own launcher (``python -m torch.distributed.run``); each
trains a shard of every epoch (``DistributedSampler``) under ``DistributedDataParallel`` (gloo on CPU, nccl on CUDA).
``batch_size`` is per process, as in torchrun scripts.

>>> from videolens.classify import train
>>> result = train("motion/", model="c3d", output="runs/c3d", frames=16, size=64, epochs=10)  # doctest: +SKIP
>>> result.best_val_acc, result.best                                                          # doctest: +SKIP
(0.97, 'runs/c3d/best.pt')
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel

from ..errors import VideolensError
from ..train.log import MetricsLog, write_config
from ..train.optim import param_groups, warmup_cosine
from ..train.run import RunDir
from ..utils.device import resolve_device
from ..utils.files import write_text
from ..utils.progress import progress
from .checkpoint import FORMAT, read_checkpoint
from .clips import ClipDataset, EpochSampler, make_loader
from .data import Sample, load_dataset
from .evaluation import infer
from .models import count_parameters, create_model, with_recipe
from .transforms import IMAGENET_MEAN, IMAGENET_STD, KINETICS_MEAN, KINETICS_STD, Preprocessing


@dataclass
class TrainConfig:
    """Every training setting; saved as ``config.yaml`` and inside each checkpoint."""

    data: str = ""
    model: str = "c3d"
    output: str = "runs/c3d"
    frames: int = 16
    size: int = 112
    epochs: int = 30
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    # An exponential moving average of the weights, updated every step with this decay (0: none; never more than
    # 1 - 1/(4 x steps per epoch)). With it, validation, best.pt and last.pt's weights are the average's (last.pt keeps
    # the trained weights too, for --resume).
    ema: float = 0.0
    grad_clip: float = 2.0             # max gradient norm
    patience: int = 10                 # epochs without a better val accuracy before stopping (0: never stop)
    workers: int | None = None         # DataLoader workers; None: cores - 1 (at most 4)
    flip: bool = True
    # Classes a horizontal flip turns into each other (as MMAction2's flip_label_map): with ``flip``, a flipped clip
    # of one is trained as the other, so direction-sensitive data can use flips too. Both ways are implied.
    flip_map: dict[str, str] = field(default_factory=dict)
    crop_area: float = 0.4             # random resized crop: smallest share of the frame's area (up to 1.0)
    sampling: str | None = None        # "clip" or "segments"; None: segments for tsn, clip otherwise
    stride: int = 1                    # frame step inside a clip
    clips: int = 3                     # test views (evaluate / predict)
    crops: int = 1
    cache: str | None = None           # folder for the decoded-clip cache; None: no cache
    val_fraction: float = 0.2
    min_frames: int = 2
    seed: int = 0
    device: str = "auto"
    nproc: int = 1
    pretrained: bool = False
    model_args: dict = field(default_factory=dict)
    threads: int | None = None         # torch threads per process; None: the cores the workers leave
    amp: bool = True                   # mixed precision (CUDA only)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        return cls(**{k: v for k, v in d.items() if k in {f.name for f in fields(cls)}})


@dataclass
class TrainResult:
    """What a training run produced."""

    output: str
    best: str
    last: str
    best_epoch: int
    best_val_acc: float
    epochs_run: int
    stopped_early: bool
    history: list[dict]
    classes: list[str]
    skipped: list[dict]
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def flip_labels(flip_map: dict[str, str], classes: list[str]) -> dict[int, int]:
    """``flip_map`` (class names, one way or both) as label indices both ways; names must be classes.

    >>> flip_labels({"left": "right"}, ["left", "right", "still"])
    {0: 1, 1: 0}
    """
    out: dict[int, int] = {}
    for a, b in (flip_map or {}).items():
        for name in (a, b):
            if name not in classes:
                raise VideolensError(f"flip_map: {name!r} is not a class of this dataset ({', '.join(classes[:20])})")
        i, j = classes.index(a), classes.index(b)
        if out.get(i, j) != j or out.get(j, i) != i:
            raise VideolensError(f"flip_map: {a!r} and {b!r} are each paired with more than one class")
        out[i], out[j] = j, i
    return out


# ---------------------------------------------------------------------------------------------------------------
# entry point


def train(data: str | os.PathLike | None = None, model: str = "c3d", output: str | os.PathLike = "runs/c3d", *,
          resume: bool = False, overwrite: bool = False, quiet: bool = False, **settings) -> TrainResult:
    """Train ``model`` on the dataset at ``data``; checkpoints and logs go to ``output``.

    ``settings`` are :class:`TrainConfig` fields (``frames``, ``size``, ``epochs``, ``batch_size``, ``lr``, ``flip``,
    ``seed``, ``device``, ``nproc``, ``cache``, ``model_args``...); those not given come from the model's default
    recipe (:data:`~videolens.classify.models.RECIPES`), then from :class:`TrainConfig`. ``resume=True`` continues
    the run in ``output`` from its ``last.pt`` with its saved settings (``device``, ``workers``, ``threads`` and
    ``nproc`` may change).
    """
    out = Path(output)
    unknown = set(settings) - {f.name for f in fields(TrainConfig)}
    if unknown:
        raise VideolensError(f"unknown training settings: {', '.join(sorted(unknown))}")
    if not resume and data is None:
        raise VideolensError("train needs a dataset (--data PATH)")
    run = RunDir.open(out, resume=resume, overwrite=overwrite)
    if resume:
        ckpt = read_checkpoint(run.last)
        cfg = TrainConfig.from_dict(ckpt["config"])
        for key, value in settings.items():
            if key in ("device", "workers", "threads", "nproc", "cache"):
                if value is not None:
                    setattr(cfg, key, value)
            elif value != getattr(cfg, key) and not quiet:
                sys.stderr.write(f"videolens: warning: --resume keeps the run's {key}={getattr(cfg, key)!r} "
                                 f"(ignoring {value!r})\n")
        cfg.output = str(out)
        splits, classes, skipped = ckpt["splits"], ckpt["classes"], ckpt.get("skipped", [])
    else:
        # the family's default recipe (models.RECIPES) under what the caller gave
        cfg = TrainConfig(data=str(data), model=model, output=str(out), **with_recipe(model, settings))
        _check_config(cfg)
        create_model(cfg.model, 2, cfg.frames, cfg.size, **cfg.model_args)   # bad names/arguments fail before probing
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # reported below, once, and written to train.log
            ds = load_dataset(cfg.data, val_fraction=cfg.val_fraction, seed=cfg.seed, min_frames=cfg.min_frames,
                              quiet=quiet)
        ds.require("train", "val")
        missing = sorted(set(range(len(ds.classes))) - {s.label for s in ds.train})
        if missing:
            raise VideolensError(f"{cfg.data}: no training clips for class(es) "
                                 f"{', '.join(ds.classes[i] for i in missing)}")
        for path, reason in ds.skipped:
            if not quiet:
                sys.stderr.write(f"videolens: warning: skipping {path}: {reason}\n")
        splits = {k: [[s.path, s.label, s.start, s.end] for s in ds.split(k)] for k in ("train", "val", "test")}
        classes, skipped = ds.classes, [{"path": p, "reason": r} for p, r in ds.skipped]
    run.start()
    job = {"config": cfg.to_dict(), "splits": splits, "classes": classes, "skipped": skipped, "resume": resume,
           "quiet": quiet}
    start = time.perf_counter()
    if cfg.nproc > 1:
        _launch(job, out, cfg.nproc, quiet)
    else:
        _fit(job)
    return _result(out, time.perf_counter() - start)


def _check_config(cfg: TrainConfig) -> None:
    for name in ("frames", "size", "epochs", "batch_size", "nproc", "stride", "clips", "crops"):
        if int(getattr(cfg, name)) < 1:
            raise VideolensError(f"{name} must be >= 1, not {getattr(cfg, name)}")
    if not cfg.lr > 0:
        raise VideolensError(f"lr must be > 0, not {cfg.lr}")
    if not 0 < cfg.crop_area <= 1:
        raise VideolensError(f"crop_area must be in (0, 1], not {cfg.crop_area}")
    if not 0 <= cfg.ema < 1:
        raise VideolensError(f"ema is a decay per step: in [0, 1), not {cfg.ema}")
    if not 0 < cfg.val_fraction < 1:
        raise VideolensError(f"val_fraction must be between 0 and 1, not {cfg.val_fraction}")
    if cfg.sampling not in (None, "clip", "segments"):
        raise VideolensError(f"sampling must be clip or segments, not {cfg.sampling!r}")
    resolve_device(cfg.device)


def _result(out: Path, seconds: float) -> TrainResult:
    ckpt = read_checkpoint(out / "last.pt")
    best = ckpt["early_stop"]
    return TrainResult(str(out), str(out / "best.pt"), str(out / "last.pt"), int(best["best_epoch"]),
                       float(best["best_val_acc"]), int(ckpt["epoch"]), bool(best["stopped"]), ckpt["history"],
                       ckpt["classes"], ckpt.get("skipped", []), round(seconds, 3))


def _launch(job: dict, out: Path, nproc: int, quiet: bool) -> None:
    """Run :func:`_fit` in ``nproc`` processes through ``torch.distributed.run`` and wait for them.

    Rank 0's progress is passed through to stderr as it comes; the launcher's own failure report (a traceback) is
    kept back and replaced by a one-line error.
    """
    job_file = out / ".ddp-job.json"
    err_file = out / ".ddp-error.txt"
    err_file.unlink(missing_ok=True)
    write_text(job_file, json.dumps(job))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "videolens.classify.training", str(job_file)]
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tail = bytearray()
    passing = not quiet
    try:
        while chunk := os.read(proc.stderr.fileno(), 4096):
            tail = (tail + chunk)[-8192:]
            if passing and (b"Traceback" in chunk or b"torch.distributed.elastic" in chunk or b"ERROR:" in chunk):
                passing = False
            if passing:
                sys.stderr.write(chunk.decode("utf-8", "replace"))
                sys.stderr.flush()
        code = proc.wait()
    except BaseException:
        proc.kill()     # an interrupted parent takes its training processes with it
        proc.wait()
        raise
    finally:
        proc.stderr.close()
        job_file.unlink(missing_ok=True)
    if code != 0:
        reason = err_file.read_text().strip() if err_file.exists() else ""
        err_file.unlink(missing_ok=True)
        if not reason:
            lines = [ln for ln in tail.decode("utf-8", "replace").splitlines() if ln.strip()]
            reason = next((ln.split("error: ", 1)[1] for ln in lines if "videolens: error: " in ln),
                          lines[-1] if lines else f"exit code {code}")
        raise VideolensError(f"distributed training ({nproc} processes) failed: {reason}")


# ---------------------------------------------------------------------------------------------------------------
# the loop


def _preprocessing(cfg: TrainConfig) -> Preprocessing:
    imagenet = cfg.model_args.get("backbone") == "resnet18"
    return Preprocessing(frames=cfg.frames, size=cfg.size,
                         sampling=cfg.sampling or ("segments" if cfg.model == "tsn" else "clip"),
                         stride=cfg.stride, clips=cfg.clips, crops=cfg.crops, area=(cfg.crop_area, 1.0),
                         mean=IMAGENET_MEAN if imagenet else KINETICS_MEAN,
                         std=IMAGENET_STD if imagenet else KINETICS_STD)


def _fit(job: dict) -> None:
    cfg = TrainConfig.from_dict(job["config"])
    out = Path(cfg.output)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    quiet = job["quiet"] or rank != 0

    # ---- processes, device, threads
    device = resolve_device(cfg.device)
    if world > 1:
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        dist.init_process_group(backend)
    # Cores per process go to the DataLoader workers (decoding) first and to torch's threads after: on 2 cores,
    # 1 worker + 1 thread. Oversubscribed OpenMP threads are many times slower on a busy machine.
    cores = max(1, (os.cpu_count() or 1) // world)
    workers = cfg.workers if cfg.workers is not None else min(4, cores - 1)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(cfg.threads or max(1, cores - workers))
    try:
        _loop(job, cfg, out, world, rank, device, workers, quiet)
    finally:
        torch.set_num_threads(threads_before)
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _loop(job: dict, cfg: TrainConfig, out: Path, world: int, rank: int, device: torch.device, workers: int,
          quiet: bool) -> None:
    main = rank == 0
    use_amp = cfg.amp and device.type == "cuda"

    # ---- data
    classes = job["classes"]
    pre = _preprocessing(cfg)
    train_samples = [Sample(*s) for s in job["splits"]["train"]]
    val_samples = [Sample(*s) for s in job["splits"]["val"]]
    cache = cfg.cache
    train_set = ClipDataset(train_samples, pre, train=True, flip=cfg.flip, seed=cfg.seed, cache=cache,
                            flip_labels=flip_labels(cfg.flip_map, classes))
    val_set = ClipDataset(val_samples, dataclass_replace(pre, clips=1, crops=1), train=False, cache=cache)
    sampler = EpochSampler(torch.utils.data.DistributedSampler(train_set, num_replicas=world, rank=rank,
                                                               shuffle=True, seed=cfg.seed, drop_last=False))
    # Validation: each process takes every world-th clip (no padding, so every clip counts exactly once).
    val_part = torch.utils.data.Subset(val_set, list(range(rank, len(val_set), world)))
    train_loader = make_loader(train_set, cfg.batch_size, workers, sampler=sampler, persistent=True)
    val_loader = make_loader(val_part, cfg.batch_size, workers, persistent=True)
    steps_per_epoch = len(train_loader)

    # ---- model, optimiser, schedule
    torch.manual_seed(cfg.seed)
    model = create_model(cfg.model, len(classes), cfg.frames, cfg.size, pretrained=cfg.pretrained,
                         **cfg.model_args).to(device)
    optimizer = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr)
    total_steps = cfg.epochs * steps_per_epoch
    scheduler = warmup_cosine(optimizer, min(int(round(cfg.warmup_epochs * steps_per_epoch)), total_steps // 2),
                              total_steps)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    # The average reaches back at most about four epochs (decay 1 - 1/(4 x steps per epoch)): a short run on a small
    # dataset would otherwise average mostly its untrained first steps. At motion's 144 steps an epoch, 0.998 stands.
    decay = min(cfg.ema, 1.0 - 1.0 / (4 * max(1, steps_per_epoch)))
    ema = AveragedModel(model, avg_fn=_ema_step(decay), use_buffers=True) if cfg.ema else None

    # ---- state (fresh, or from last.pt)
    history: list[dict] = []
    early = {"best_val_acc": -1.0, "best_epoch": 0, "bad_epochs": 0, "stopped": False}
    start_epoch = 0
    log_lines = [f"dataset {cfg.data}: {len(classes)} classes, {len(train_samples)} train, {len(val_samples)} val, "
                 f"{len(job['splits']['test'])} test"]
    log_lines += [f"skipped {s['path']}: {s['reason']}" for s in job["skipped"]]
    run = RunDir(out)
    if job["resume"]:
        ckpt = read_checkpoint(run.last)
        model.load_state_dict(ckpt.get("train_state_dict", ckpt["state_dict"]))
        if ema is not None and ckpt.get("ema") is not None:
            ema.load_state_dict(ckpt["ema"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        history, early, start_epoch = ckpt["history"], ckpt["early_stop"], int(ckpt["epoch"])
        log_lines = ckpt.get("log", log_lines) + [f"resumed after epoch {start_epoch}"]
        torch.set_rng_state(ckpt["rng"]["torch"])
        if device.type == "cuda" and ckpt["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state(ckpt["rng"]["cuda"], device)
    bad_paths = {s["path"] for s in job["skipped"]}
    metrics_log = None
    if main:
        write_config(out / "config.yaml", cfg.to_dict())
        metrics_log = MetricsLog(out, events=out, resumed_at=start_epoch)
    meta = {"classes": classes, "pre": pre, "cfg": cfg, "splits": job["splits"], "skipped": job["skipped"]}
    if not quiet and not job["resume"]:
        sys.stderr.write(f"{cfg.model}: {count_parameters(model):,} parameters, {len(train_samples)} training "
                         f"clips, {steps_per_epoch} steps per epoch on {device}"
                         f"{f' x {world} processes' if world > 1 else ''}\n")

    for epoch in range(start_epoch, cfg.epochs):
        if early["stopped"]:
            break
        # ---- train one epoch
        net.train()
        sampler.set_epoch(epoch)
        loss_sum = torch.zeros((), dtype=torch.float64)
        correct = seen = 0
        bad_items: list[tuple[int, str]] = []
        t0 = time.perf_counter()
        bar = progress(total=steps_per_epoch, desc=f"epoch {epoch + 1}/{cfg.epochs}", quiet=quiet, unit="batch")
        for batch in train_loader:
            bad_items += batch["bad"]
            if batch["clips"] is None:
                bar.update(1)
                continue
            clips = batch["clips"].to(device, non_blocking=True)
            labels = batch["labels"].to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                logits = net(clips)
                loss = F.cross_entropy(logits.float(), labels, label_smoothing=cfg.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            if ema is not None:
                ema.update_parameters(model)
            loss_sum += loss.detach().double().cpu() * len(labels)
            correct += int((logits.argmax(1) == labels).sum())
            seen += len(labels)
            elapsed = time.perf_counter() - t0
            bar.set_postfix(loss=f"{loss_sum.item() / max(seen, 1):.3f}", acc=f"{correct / max(seen, 1):.3f}",
                            clips_s=f"{seen * world / max(elapsed, 1e-9):.1f}")
            bar.update(1)
        bar.close()
        train_seconds = time.perf_counter() - t0

        # ---- validate (one centre view per clip; evaluate uses every view)
        if world > 1:
            # DDP keeps each process's BatchNorm statistics: validate with rank 0's, the ones it saves (the average's
            # too: each process averages its own)
            for buf in [*model.buffers(), *(ema.module.buffers() if ema is not None else [])]:
                dist.broadcast(buf, 0)
        val = infer(ema.module if ema is not None else net.module if world > 1 else net, val_loader, device,
                    amp=use_amp, quiet=True)
        bad_items += val.bad
        val_correct = int((val.probs.argmax(1) == val.labels).sum()) if len(val.labels) else 0
        val_nll = float(F.nll_loss(val.probs.clamp_min(1e-8).log(), val.labels, reduction="sum")) \
            if len(val.labels) else 0.0
        totals = torch.tensor([loss_sum.item(), correct, seen, val_nll, val_correct, len(val.labels), train_seconds],
                              dtype=torch.float64)
        if world > 1:
            dist.all_reduce(totals)
            gathered: list = [None] * world
            dist.all_gather_object(gathered, bad_items)
            bad_items = [tuple(x) for part in gathered for x in part]
        tr_loss, tr_correct, tr_seen, v_nll, v_correct, v_seen, t_sum = totals.tolist()
        for path, reason in bad_items:
            if path not in bad_paths:
                bad_paths.add(path)
                log_lines.append(f"epoch {epoch + 1}: skipped {path}: {reason}")
                if not quiet:
                    sys.stderr.write(f"videolens: warning: skipping {path}: {reason}\n")
        if tr_seen == 0 or v_seen == 0:
            if main:
                write_text(out / "train.log", "\n".join(log_lines) + "\n")
            split = "training" if tr_seen == 0 else "validation"
            raise VideolensError(f"no {split} clip could be read in epoch {epoch + 1} (see {out / 'train.log'})")
        val_acc = v_correct / v_seen if v_seen else 0.0
        row = {"epoch": epoch + 1, "train_loss": round(tr_loss / tr_seen, 5), "train_acc": round(tr_correct / tr_seen, 5),
               "val_loss": round(v_nll / v_seen, 5) if v_seen else None, "val_acc": round(val_acc, 5),
               "lr": float(f"{scheduler.get_last_lr()[0]:.6g}"),
               "clips_per_s": round(tr_seen / max(t_sum / world, 1e-9), 2),
               "seconds": round(time.perf_counter() - t0, 2)}
        history.append(row)

        # ---- early stopping, checkpoints, logs
        improved = val_acc > early["best_val_acc"]
        if improved:
            early.update(best_val_acc=val_acc, best_epoch=epoch + 1, bad_epochs=0)
        else:
            early["bad_epochs"] += 1
        early["stopped"] = bool(cfg.patience and early["bad_epochs"] >= cfg.patience and epoch + 1 < cfg.epochs)
        if main:
            run.save(_checkpoint(model, optimizer, scheduler, scaler, epoch + 1, history, early, log_lines, meta,
                                 device, ema), best=improved)
            metrics_log.write(history, epoch + 1)
            write_text(out / "train.log", "\n".join(log_lines) + "\n")
            if not quiet:
                sys.stderr.write(f"epoch {epoch + 1}/{cfg.epochs}: loss {row['train_loss']:.3f} "
                                 f"acc {row['train_acc']:.3f} | val loss {row['val_loss']} acc {val_acc:.3f}"
                                 f"{' *' if improved else ''} | {row['clips_per_s']} clips/s\n")
                if early["stopped"]:
                    sys.stderr.write(f"early stop: no better val accuracy for {cfg.patience} epochs "
                                     f"(best {early['best_val_acc']:.3f} at epoch {early['best_epoch']})\n")
    if metrics_log is not None:
        metrics_log.close()
    if world > 1:
        dist.barrier()


def _ema_step(decay: float):
    """One step of a bias-corrected exponential moving average (as Adam corrects its moments): the weight of the new
    value is ``(1 - decay) / (1 - decay ** t)`` at step ``t``, so a short run averages its steps so far instead of
    staying near the initial weights, and a long one is the plain moving average (at 0.998, 4,000 steps in, the
    two differ by 0.998 ** 4000 = 3e-4 of the weight).

    >>> step = _ema_step(0.5)
    >>> step(torch.tensor(0.0), torch.tensor(3.0), torch.tensor(1))      # t = 2: 0 and 3 weighted 1/3 and 2/3
    tensor(2.)
    """
    def step(averaged: torch.Tensor, current: torch.Tensor, num_averaged: torch.Tensor) -> torch.Tensor:
        t = float(num_averaged) + 1.0
        w = (1.0 - decay) / (1.0 - decay ** t)
        return averaged + w * (current - averaged)
    return step


def _checkpoint(model, optimizer, scheduler, scaler, epoch, history, early, log_lines, meta, device,
                ema=None) -> dict:
    cfg: TrainConfig = meta["cfg"]
    def on_cpu(module: torch.nn.Module) -> dict:
        return {k: v.detach().cpu() for k, v in module.state_dict().items()}

    weights = ema.module if ema is not None else model
    extra = {} if ema is None else {"train_state_dict": on_cpu(model), "ema": on_cpu(ema)}
    return {**extra,
        "format": FORMAT,
        "model": {"name": cfg.model, "num_classes": len(meta["classes"]), "frames": cfg.frames, "size": cfg.size,
                  "args": dict(cfg.model_args)},
        "state_dict": on_cpu(weights),
        "classes": list(meta["classes"]),
        "preprocessing": meta["pre"].to_dict(),
        "metrics": {**history[-1], "best_val_acc": early["best_val_acc"], "best_epoch": early["best_epoch"]},
        "history": list(history),
        "config": cfg.to_dict(),
        "epoch": epoch,
        "early_stop": dict(early),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "rng": {"torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None},
        "splits": meta["splits"],
        "skipped": list(meta["skipped"]),
        "log": list(log_lines),
        "versions": {"torch": str(torch.__version__)},
    }


def dataclass_replace(pre: Preprocessing, **changes) -> Preprocessing:
    return Preprocessing.from_dict({**pre.to_dict(), **changes})


def _rank_main(job_file: str) -> int:
    """Entry point of each process started by ``torch.distributed.run``."""
    job = json.loads(Path(job_file).read_text())
    try:
        _fit(job)
    except VideolensError as e:
        if int(os.environ.get("RANK", "0")) == 0:
            write_text(Path(job["config"]["output"]) / ".ddp-error.txt", str(e))
        sys.stderr.write(f"videolens: error: {e}\n")
        return 2
    return 0


__all__ = ["TrainConfig", "TrainResult", "train"]


if __name__ == "__main__":
    sys.exit(_rank_main(sys.argv[1]))


