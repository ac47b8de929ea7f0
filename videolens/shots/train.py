"""Training ShotNet: the data it learns from and the loop. ``scripts/train_shots.py`` drives it and exports the result
(:mod:`videolens.shots.checkpoint`).

Two kinds of training windows, half and half, all at the detector's 48x27:

1. windows of ``edits`` videos (:mod:`videolens.datasets.edits`), decoded through the same reader path as detection,
   so the network sees H.264 artefacts and decode-time scaling; labels come from their ``transitions.json``;
2. sequences composed on the fly from single shots (the pure stretches of those videos and of real single-shot
   footage), with cuts, dissolves, wipes (8 directions) and fades (black or white; with a hold; also a cut into
   black followed by a fade-in, and a fade-out followed by a cut), plus flashes and plain stretches with no
   transition as negatives. This is how TransNet V2 was trained: unlimited, exactly labelled transitions.

Labels per frame (conventions.md): a cut marks the first frame of the new shot; a gradual transition marks its
frames from ``start`` to ``end``. One side of a fade may be a cut (a cut into black, then a fade-in): the cut marks
the first plain frame, the fade-in runs from the last plain frame to the last frame before the shot shows fully.

The loop (``train``) is plain PyTorch: AdamW, warm-up and cosine learning rate, binary cross-entropy on "this frame is
part of a transition" plus cross-entropy on the type of transition frames, with cut frames weighted up in both; every
``eval_every`` steps the development set is scored with the same post-processing as detection, the best state is kept
and ``last.pt`` is written with everything ``resume`` needs. The run folder, checkpoint files, logs, parameter groups and
schedule are :mod:`videolens.train`'s, shared with the other trainers.
"""

from __future__ import annotations

import os
import time

import numpy as np

from .evaluate import combine, evaluate
from .learned import CONTEXT, TYPES, transitions_from_probs
from .model import ShotNet
from .train_data import (  # noqa: F401 - the training data's names stay importable from here
    TYPE_INDEX, Composer, Sequence, _photo_frames, _ShotStream, _wipe_mask, decode_small, labels_for,
    load_edits_folder, pure_segments, write_photo_shots, write_single_shots)

def _window(seq: Sequence, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if len(seq.frames) <= n:
        pad = n - len(seq.frames)
        idx = np.concatenate([np.arange(len(seq.frames)), np.full(pad, len(seq.frames) - 1)])
        trans, types = seq.trans[idx].copy(), seq.types[idx].copy()
        if pad:
            trans[len(seq.frames):], types[len(seq.frames):] = 0, -1
        return seq.frames[idx], trans, types
    s = int(rng.integers(0, len(seq.frames) - n + 1))
    trans, types = seq.trans[s:s + n].copy(), seq.types[s:s + n].copy()
    if types[0] == TYPE_INDEX["cut"]:
        trans[0], types[0] = 0, -1        # nothing before it in the window: a cut there cannot be seen
    return seq.frames[s:s + n], trans, types


def augment(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Whole-window photometric jitter and mirroring (the labels do not change)."""
    x = frames.astype(np.float32)
    if rng.random() < 0.5:
        x = x[:, :, ::-1]
    if rng.random() < 0.8:
        gray = x.mean(axis=-1, keepdims=True)
        x = gray + (x - gray) * rng.uniform(0.6, 1.4)                    # saturation
        x = (x - 128) * rng.uniform(0.7, 1.3) + 128 + rng.uniform(-25, 25)   # contrast, brightness
        x = x * rng.uniform(0.9, 1.1, size=3)                            # white balance
    if rng.random() < 0.3:
        x = x + rng.normal(0, rng.uniform(1, 4), x.shape)
    return np.clip(x, 0, 255).astype(np.uint8)


def make_batch(videos: list[Sequence], composer: Composer, batch: int, n: int, rng: np.random.Generator):
    xs, ys, ts = [], [], []
    for k in range(batch):
        if videos and k % 2 == 0:
            f, y, t = _window(videos[int(rng.integers(len(videos)))], n, rng)
        else:
            f, y, t = composer.sample(n)
        xs.append(augment(f, rng))
        ys.append(y)
        ts.append(t)
    return np.stack(xs), np.stack(ys), np.stack(ts)


# ---------------------------------------------------------------------------------------------------------------
# evaluation and the loop


def predict_sequence(net, frames: np.ndarray) -> np.ndarray:
    """Logits ``(n, 5)`` for a whole video, with the first/last frame repeated as context (as detection does)."""
    import torch

    idx = np.concatenate([np.zeros(CONTEXT, np.int64), np.arange(len(frames)), np.full(CONTEXT, len(frames) - 1)])
    with torch.no_grad():
        out = net(torch.from_numpy(frames[idx][None]))[0].numpy()
    return out[CONTEXT:CONTEXT + len(frames)]


def score_dev(net, dev: list[Sequence], threshold: float = 0.5, tolerance: int = 2) -> dict:
    """Cut / gradual / all P-R-F1 on the development videos, with detection's post-processing."""
    from .learned import _sigmoid, _softmax

    net.eval()
    reports = []
    for seq in dev:
        logits = predict_sequence(net, seq.frames)
        pred = transitions_from_probs(_sigmoid(logits[:, 0]), _softmax(logits[:, 1:]), threshold)
        reports.append(evaluate(pred, seq.truth, tolerance))
    net.train()
    return combine(reports)


def train(videos: list[Sequence], shots: list[np.ndarray], dev: list[Sequence], out_dir: str | os.PathLike, *,
          steps: int = 1200, batch: int = 8, window: int = 96, lr: float = 2e-3, seed: int = 0,
          eval_every: int = 100, cut_weight: float = 5.0, threads: int = 0, quiet: bool = False,
          resume: bool = False, overwrite: bool = False, init: dict | None = None, log=print) -> dict:
    """Train ShotNet in the run folder ``out_dir``: ``last.pt`` (every ``eval_every`` steps), ``best.pt`` (best
    development F1), ``metrics.csv``, ``config.yaml`` and TensorBoard events. ``resume`` continues from ``last.pt``
    exactly (same data and settings), ``overwrite`` starts again over an old run. ``init``: ``{"name": ...,
    "state_dict": ...}`` of weights to start from (fine-tuning) instead of random ones.

    Returns ``{"best": {step, score, dev}, "steps", "seconds", "checkpoint"}``.
    """
    import torch
    import torch.nn.functional as F

    from ..errors import VideolensError
    from ..train.checkpoint import read_checkpoint
    from ..train.log import MetricsLog, write_config
    from ..train.optim import param_groups, warmup_cosine
    from ..train.run import RunDir
    from ..utils.progress import progress
    from .checkpoint import FORMAT

    run = RunDir.open(out_dir, resume=resume, overwrite=overwrite)
    settings = {"steps": steps, "batch": batch, "window": window, "lr": lr, "seed": seed, "eval_every": eval_every,
                "cut_weight": cut_weight, "weight_decay": 1e-4,
                "data": {"videos": len(videos), "shots": len(shots), "dev": len(dev)}}
    if init is not None:
        settings["init"] = init["name"]
    run.start()
    if threads:
        torch.set_num_threads(int(threads))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    composer = Composer(shots, np.random.default_rng(seed + 1))
    net = ShotNet()
    if init is not None:
        net.load_state_dict(init["state_dict"])
    opt = torch.optim.AdamW(param_groups(net, settings["weight_decay"]), lr=lr)
    sched = warmup_cosine(opt, max(1, steps // 20), steps)
    # A cut is one labelled frame, a gradual transition ~18: weight cut frames up in both losses, or the network
    # learns to smear every change into a gradual one.
    type_w = torch.tensor([cut_weight if t == "cut" else 1.0 for t in TYPES])
    best = {"step": -1, "score": -1.0, "dev": None}
    rows: list[dict] = []
    first, running, seconds = 1, None, 0.0
    if resume:
        ckpt = read_checkpoint(run.last, "shot model", require=("state_dict", "train_state", "settings"))
        if ckpt["settings"] != settings:
            changed = ", ".join(f"{k}={ckpt['settings'].get(k)!r}" for k in settings
                                if ckpt["settings"].get(k) != settings[k])
            raise VideolensError(f"{run.last}: resume it with the run's own data and settings ({changed})")
        ts = ckpt["train_state"]
        net.load_state_dict(ckpt["state_dict"])
        opt.load_state_dict(ts["optimizer"])
        sched.load_state_dict(ts["scheduler"])
        rng.bit_generator.state, composer.rng.bit_generator.state = ts["rng"], ts["composer_rng"]
        torch.set_rng_state(ts["torch_rng"])
        first, running, seconds = int(ckpt["step"]) + 1, ts["running"], float(ts["seconds"])
        best, rows = ckpt["best"], ckpt["history"]
    write_config(run.path / "config.yaml", settings)
    metrics_log = MetricsLog(run.path, events=run.path / "tensorboard", resumed_at=first - 1)
    start = time.perf_counter() - seconds
    bar = progress(total=steps, initial=first - 1, desc="train shots", quiet=quiet, unit="step")
    for step in range(first, steps + 1):
        x, y, t = make_batch(videos, composer, batch, window, rng)
        logits = net(torch.from_numpy(x))
        y, t = torch.from_numpy(y), torch.from_numpy(t)
        w = torch.where(t == TYPE_INDEX["cut"], cut_weight, 1.0)
        loss = F.binary_cross_entropy_with_logits(logits[..., 0], y, weight=w)
        on = t >= 0
        if bool(on.any()):
            loss = loss + F.cross_entropy(logits[..., 1:][on], t[on], weight=type_w)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        sched.step()
        value = loss.item()
        running = value if running is None else 0.95 * running + 0.05 * value
        bar.update(1)
        bar.set_postfix(loss=f"{running:.3f}")
        if step % eval_every == 0 or step == steps:
            row = {"step": step, "loss": round(running, 4), "lr": float(f"{sched.get_last_lr()[0]:.6g}"),
                   "dev_cut_f1": None, "dev_gradual_f1": None, "dev_all_f1": None}
            improved = not dev and step == steps     # without a development set the last state is the best
            if dev:
                d = score_dev(net, dev)
                score = (d["cut"]["f1"] + d["gradual"]["f1"]) / 2
                row.update(dev_cut_f1=d["cut"]["f1"], dev_gradual_f1=d["gradual"]["f1"], dev_all_f1=d["all"]["f1"])
                improved = score > best["score"]
                if improved:
                    best = {"step": step, "score": round(score, 4), "dev": d}
            elif improved:
                best["step"] = step
            row["seconds"] = round(time.perf_counter() - start, 1)
            rows.append(row)
            run.save({"format": FORMAT, "state_dict": net.state_dict(), "config": net.config, "step": step,
                      "best": best, "history": rows, "settings": settings,
                      "train_state": {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                                      "rng": rng.bit_generator.state, "composer_rng": composer.rng.bit_generator.state,
                                      "torch_rng": torch.get_rng_state(), "running": running,
                                      "seconds": time.perf_counter() - start}}, best=improved)
            metrics_log.write(rows, step)
            if dev and not quiet:
                log(f"step {step}: loss {running:.3f}, dev cut F1 {d['cut']['f1']:.3f}, "
                    f"gradual F1 {d['gradual']['f1']:.3f} ({time.perf_counter() - start:.0f} s)")
    bar.close()
    metrics_log.close()
    return {"best": best, "steps": steps, "seconds": round(time.perf_counter() - start, 1),
            "checkpoint": str(run.best)}
