"""``videolens tune``: a small grid search over training settings, one full training run per combination.

``grid`` maps :class:`~videolens.classify.training.TrainConfig` fields (``lr``, ``batch_size``, ``epochs``,
``weight_decay``, ``frames``, ``label_smoothing``...) or model arguments (``width``, ``depth``, ``hidden``...) to the
values to try. Each trial trains into ``OUTPUT/trial_NNN`` and is ranked by its best validation accuracy (ties: the
lower validation loss, then the faster run), like scikit-learn's ``GridSearchCV`` ranks by its score.

Trials run on Ray when it is installed (``parallel`` at a time, default 2, each with one torch thread and no
DataLoader workers, so 2 trials fill 2 cores), one after another otherwise. All trials share one decoded-clip cache
(``OUTPUT/cache``), so each video is decoded once for the whole search.

>>> from videolens.classify import tune
>>> t = tune("motion/", "c3d", "runs/tune", {"lr": [1e-3, 3e-4], "batch_size": [8, 16]}, epochs=5)  # doctest: +SKIP
>>> t["best"]["params"]                                                                          # doctest: +SKIP
{'lr': 0.001, 'batch_size': 8}
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import time
from dataclasses import fields
from pathlib import Path

from ..errors import VideolensError
from ..utils.files import write_text
from ..utils.progress import progress


def _train_fields() -> dict:
    from .training import TrainConfig

    return {f.name: f for f in fields(TrainConfig)}


def parse_grid(items: list[str]) -> dict[str, list]:
    """``["lr=1e-3,3e-4", "batch_size=8,16"]`` -> ``{"lr": [0.001, 0.0003], "batch_size": [8, 16]}``.

    Values become int, float or bool when they look like one, else stay strings.

    >>> parse_grid(["lr=1e-3,3e-4", "flip=true,false", "backbone=small"])
    {'lr': [0.001, 0.0003], 'flip': [True, False], 'backbone': ['small']}
    """
    grid: dict[str, list] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key or not values.strip():
            raise VideolensError(f"--grid {item!r}: expected NAME=V1,V2,... such as lr=1e-3,3e-4")
        grid[key] = [_value(v.strip()) for v in values.split(",") if v.strip()]
    return grid


def _value(text: str):
    low = text.lower()
    if low in ("true", "false", "yes", "no"):
        return low in ("true", "yes")
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _trials(grid: dict[str, list]) -> list[dict]:
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def _settings_for(params: dict, base: dict) -> dict:
    """Split trial parameters into TrainConfig fields and model arguments."""
    known = _train_fields()
    settings = dict(base)
    model_args = dict(settings.pop("model_args", None) or {})
    for k, v in params.items():
        if k in ("data", "model", "output", "nproc", "device"):
            raise VideolensError(f"--grid {k}: cannot be searched over (run tune once per {k})")
        if k in known:
            settings[k] = v
        else:
            model_args[k] = v
    settings["model_args"] = model_args
    return settings


def _run_trial(data: str, model: str, out: str, settings: dict) -> dict:
    """Train one trial in this process; returns its row (an error is a row too, not an exception)."""
    import torch

    from .training import train

    torch.set_num_threads(settings.get("threads") or 1)
    t = time.perf_counter()
    try:
        r = train(data, model, out, quiet=True, overwrite=True, **settings)
    except VideolensError as e:
        return {"output": out, "error": str(e), "seconds": round(time.perf_counter() - t, 2)}
    best = next((h for h in r.history if h["epoch"] == r.best_epoch), r.history[-1])
    return {"output": out, "best_val_acc": r.best_val_acc, "best_epoch": r.best_epoch, "val_loss": best["val_loss"],
            "train_acc": best["train_acc"], "epochs_run": r.epochs_run, "seconds": round(time.perf_counter() - t, 2)}


def _ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def tune(data: str | os.PathLike, model: str, output: str | os.PathLike, grid: dict[str, list], *,
         parallel: int = 2, backend: str = "auto", quiet: bool = False, overwrite: bool = False,
         **settings) -> dict:
    """Train one run per combination of ``grid`` (see the module doc) and rank them by validation accuracy.

    ``settings`` are fixed :class:`~videolens.classify.training.TrainConfig` fields for every trial (``epochs``,
    ``frames``, ``size``, ``seed``...). ``backend``: ``auto`` (Ray when installed), ``ray`` or ``sequential``.
    Returns ``{"trials": [...ranked rows...], "best": row, "backend": ..., "table": str}`` and writes
    ``OUTPUT/tune.csv`` and ``OUTPUT/tune.json``.
    """
    from .data import load_dataset
    from .models import create_model

    if not grid:
        raise VideolensError("--grid: give at least one NAME=V1,V2,... to search over")
    if backend not in ("auto", "ray", "sequential"):
        raise VideolensError(f"backend must be auto, ray or sequential, not {backend!r}")
    if backend == "ray" and not _ray_available():
        raise VideolensError("backend ray: Ray is not installed (pip install 'videolens[scale]')")
    use_ray = backend == "ray" or (backend == "auto" and _ray_available() and parallel > 1)
    out = Path(output)
    if (out / "tune.csv").exists() and not overwrite:
        raise VideolensError(f"{out / 'tune.csv'}: already exists (use --overwrite to run the search again)")
    trials = _trials(grid)
    base = {"workers": 0, "threads": 1, "cache": str(out / "cache"), **settings}
    runs = [(p, _settings_for(p, base), str(out / f"trial_{k:03d}")) for k, p in enumerate(trials)]
    # Fail on bad settings or data now, not once per trial.
    for params, s, _ in runs:
        create_model(model, 2, s.get("frames", 16), s.get("size", 112), **s["model_args"])
        unknown = set(s) - set(_train_fields())
        if unknown:
            raise VideolensError(f"unknown training settings: {', '.join(sorted(unknown))}")
    ds = load_dataset(data, seed=settings.get("seed", 0), val_fraction=settings.get("val_fraction", 0.2),
                      quiet=True)
    ds.require("train", "val")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if use_ray:
        rows = _on_ray(os.fspath(data), model, runs, parallel, quiet)
    else:
        rows = []
        for params, s, trial_out in progress(runs, desc="tune", quiet=quiet, unit="trial"):
            rows.append(_run_trial(os.fspath(data), model, trial_out, s))
    for (params, _, _), row in zip(runs, rows):
        row["params"] = params
    ok = [r for r in rows if "error" not in r]
    if not ok:
        raise VideolensError(f"every trial failed; first error: {rows[0]['error']}")
    ranked = sorted(ok, key=lambda r: (-r["best_val_acc"], r["val_loss"] if r["val_loss"] is not None else 1e9,
                                       r["seconds"])) + [r for r in rows if "error" in r]
    for rank, r in enumerate(ranked, 1):
        r["rank"] = rank if "error" not in r else None
    result = {"model": model, "data": os.fspath(data), "grid": grid, "backend": "ray" if use_ray else "sequential",
              "seconds": round(time.perf_counter() - t0, 2), "trials": ranked, "best": ranked[0]}
    result["table"] = format_table(ranked, list(grid))
    _write(out, result, list(grid))
    return result


def _on_ray(data: str, model: str, runs: list, parallel: int, quiet: bool) -> list[dict]:
    import ray

    started = not ray.is_initialized()
    if started:
        # The local cluster's workers inherit this process's environment (PYTHONPATH: the same videolens) and Ray
        # sets OMP_NUM_THREADS to the task's 1 CPU. No runtime_env: its agent costs seconds per start.
        ray.init(num_cpus=parallel, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(_run_trial)
        refs = [remote.remote(data, model, trial_out, s) for _, s, trial_out in runs]
        bar = progress(total=len(refs), desc="tune (ray)", quiet=quiet, unit="trial")
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            bar.update(len(done))
        bar.close()
        rows = []
        for ref, (_, _, trial_out) in zip(refs, runs):
            try:
                rows.append(ray.get(ref))
            except Exception as e:  # noqa: BLE001 - a crashed trial is reported in its row
                rows.append({"output": trial_out, "error": f"{type(e).__name__}: {str(e).splitlines()[0]}",
                             "seconds": 0.0})
        return rows
    finally:
        if started:
            ray.shutdown()


def format_table(rows: list[dict], keys: list[str]) -> str:
    """A ranked text table: rank, each searched parameter, best val accuracy, its epoch, val loss, seconds."""
    cols = ["rank", *keys, "val_acc", "epoch", "val_loss", "seconds"]
    lines = []
    for r in rows:
        if "error" in r:
            lines.append(["-", *(str(r["params"].get(k)) for k in keys), "failed", "", "", r["error"][:60]])
        else:
            lines.append([str(r["rank"]), *(str(r["params"].get(k)) for k in keys), f"{r['best_val_acc']:.4f}",
                          str(r["best_epoch"]), "" if r["val_loss"] is None else f"{r['val_loss']:.4f}",
                          f"{r['seconds']:.1f}"])
    widths = [max(len(c), *(len(x[i]) for x in lines)) for i, c in enumerate(cols)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*cols), *(fmt.format(*x) for x in lines)])


def _write(out: Path, result: dict, keys: list[str]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["rank", *keys, "best_val_acc", "best_epoch", "val_loss", "train_acc", "epochs_run", "seconds",
                "output", "error"])
    for r in result["trials"]:
        w.writerow([r.get("rank"), *(r["params"].get(k) for k in keys), r.get("best_val_acc"), r.get("best_epoch"),
                    r.get("val_loss"), r.get("train_acc"), r.get("epochs_run"), r.get("seconds"), r.get("output"),
                    r.get("error", "")])
    write_text(out / "tune.csv", buf.getvalue())
    write_text(out / "tune.json", json.dumps({k: v for k, v in result.items() if k != "table"}, indent=1) + "\n")


__all__ = ["format_table", "parse_grid", "tune"]
