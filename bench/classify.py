"""Action-recognition benchmark (issue 3): accuracy per model, data-pipeline overhead, inference PyTorch vs ORT.

    .venv/bin/python bench/classify.py                       # every part (each part is capped at ~20 min)
    .venv/bin/python bench/classify.py --part accuracy       # or pipeline, inference, smoke

- accuracy: every model family trains with the same budget (epochs, batch, learning rate, clip) on
  ``datasets make motion`` (seed 0, 9 classes x ACCURACY_CLIPS clips, 64x64, 16 frames) and is evaluated on the
  test split.
  Targets: the best temporal model >= 95 % top-1; ``tsn`` at chance (50 % +- 10) on the direction pairs
  (left/right, up/down, cw/ccw, grow/shrink: which of the two, for the test clips of the pair).
- pipeline: clips/s of ``videolens train`` (decoding workers + cache + augmentation) against a bare PyTorch loop over
  the same clips pre-loaded in memory, same model, same optimizer, same torch threads. Target >= 0.9x.
- inference: clips/s of each trained model in PyTorch and in ONNX Runtime (the exported file), batch 8.
- smoke: torchvision's r2plus1d_18 trains an epoch on a few clips, evaluates and exports.
- temporal (issue 16 part 3): every family with its own default recipe (``classify.models.RECIPES``, what
  ``videolens train --model X`` uses) on ``motion`` made with ``--data-seed`` (0: the development data the recipes
  were chosen on; any other seed: test data), 200 clips a class at 64x64; trained on that dataset's train split,
  scored on its test split. Targets: every temporal family >= 0.90 test top-1 on a fresh seed, tsn at chance,
  each recipe <= 10 min of training.

    .venv/bin/python bench/classify.py --part temporal --data-seed 0            # development
    .venv/bin/python bench/classify.py --part temporal --data-seed 1603         # test (a seed never developed on)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time

import numpy as np

from _common import OUT, save, table

DATA = OUT / "classify-motion"
RUNS = OUT / "classify-runs"
CACHE = OUT / "classify-cache"
PAIRS = [("move_left", "move_right"), ("move_up", "move_down"), ("rotate_cw", "rotate_ccw"), ("grow", "shrink")]
# The same budget for all: see BUDGET; sizes picked for CPU. Spelled out in full (small backbone, no frame
# differences, linear patches): model arguments merge into each family's default recipe (classify.models.RECIPES),
# and this part keeps measuring the models of its table, from before the recipes (--part temporal measures those).
MODELS = {
    "tsn": {"width": 16, "dim": 128},
    "cnn_lstm": {"backbone": "small", "width": 16, "dim": 128, "hidden": 128, "diff": False},
    "cnn_gru": {"backbone": "small", "width": 16, "dim": 128, "hidden": 128, "diff": False},
    "tcn": {"backbone": "small", "width": 16, "dim": 128, "channels": 128, "diff": False},
    "c3d": {"width": 16},
    "r2plus1d": {"width": 16, "diff": False},
    "transformer": {"dim": 64, "depth": 2, "heads": 4, "patch": 4, "stem": "patch", "diff": False},
}
# The accuracy budget, the same for every model. Why these numbers (measured, see BENCHMARKS.md): the classes differ
# only by how the main object moves over the 16 frames of a clip, so 4 frames 5 apart (frames 0, 5, 10, 15) show
# the whole motion with 2.5x the per-step displacement of 8 frames 2 apart, which small 3x3x3 kernels pick up much
# sooner; 32 px (decoded from the 64 px videos) costs a quarter of 64 px per clip, which buys the epochs.
BUDGET = dict(frames=4, stride=5, size=32, epochs=25, batch_size=8, lr=2e-3, flip=False, crop_area=1.0, patience=0,
              seed=0)
ACCURACY_CLIPS = 200         # clips per class of the accuracy dataset (9 classes: 1152 train, 288 val, 360 test)
# The data-pipeline part keeps the budget it was recorded with (64 px, 8 frames, batch 4) on 40 clips per class of
# the current generator (its recorded figure was measured on v1 clips of the same size and count).
PIPELINE_BUDGET = dict(frames=8, stride=2, size=64, epochs=12, batch_size=4, lr=2e-3, flip=False, crop_area=1.0,
                       patience=0, seed=0)


def dataset(num: int = 40, seed: int = 0) -> str:
    """``datasets make motion`` with ``seed``, 64x64, 16 frames, ``num`` clips per class (the last fifth are test)."""
    from videolens.datasets import make_dataset, motion

    folder = DATA if num == 40 and seed == 0 else OUT / f"classify-motion-{num}{f'-seed{seed}' if seed else ''}"
    labels = folder / "labels.json"
    made = json.loads(labels.read_text()) if labels.exists() else {}
    if made.get("version") != motion.VERSION or made.get("seed", seed) != seed:
        shutil.rmtree(folder, ignore_errors=True)   # missing, or made by another version of the generator
        make_dataset("motion", folder, seed=seed, num=num, size=(64, 64), frames=16, progress=False)
    return str(folder)


def pair_accuracy(result, pairs=None) -> dict:
    """For the test clips of each direction pair (default :data:`PAIRS`): how often the true class beats its partner;
    ``mean`` over the pairs."""
    classes = result.classes
    out = {}
    for a, b in pairs or PAIRS:
        ia, ib = classes.index(a), classes.index(b)
        hits = [p["probs"][ia] > p["probs"][ib] if p["label"] == a else p["probs"][ib] > p["probs"][ia]
                for p in result.predictions if p["label"] in (a, b)]
        out[f"{a}/{b}"] = round(float(np.mean(hits)), 3)
    out["mean"] = round(float(np.mean(list(out.values()))), 3)
    return out


def accuracy(models: list[str]) -> list[dict]:
    from videolens.classify import evaluate, train

    data = dataset(ACCURACY_CLIPS)
    rows = []
    for name in models:
        t = time.perf_counter()
        r = train(data, name, RUNS / name, overwrite=True, quiet=True, cache=str(CACHE), model_args=MODELS[name],
                  **BUDGET)
        seconds = time.perf_counter() - t
        e = evaluate(r.best, data, quiet=True)
        pairs = pair_accuracy(e)
        rows.append({"model": name, "test_top1": e.top1, "mean_class_acc": e.mean_class_accuracy,
                     "pairs": pairs["mean"], "best_val": round(r.best_val_acc, 3), "best_epoch": r.best_epoch,
                     "train_s": round(seconds, 1), "s_per_epoch": round(seconds / r.epochs_run, 1),
                     "pair_detail": pairs})
        print(f"  {name}: test top-1 {e.top1:.3f}, direction pairs {pairs['mean']:.3f}, {seconds:.0f} s", flush=True)
    return rows


# What the temporal part adds to each family's recipe: settings of this data, not of the model. No flips (a flip
# turns left into right, cw into ccw), no crops (a crop can cut the motion out), no early stopping (the recipe's
# epochs are its cost), seed 0.
TEMPORAL_DATA_SETTINGS = dict(flip=False, crop_area=1.0, patience=0, seed=0)


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (DataLoader workers): on a machine shared with other
    jobs, wall time says more about the others than about the model; with one thread and no workers, CPU time is
    about what the training takes on a quiet machine."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def temporal_part(models: list[str], data_seed: int, num: int = 200, threads: int | None = None,
                  workers: int | None = None, epochs: int | None = None) -> list[dict]:
    """Each family with its default recipe on ``motion`` (``data_seed``): test top-1, direction pairs, seconds.

    ``num`` < 200 or ``epochs`` make the reduced protocol (clip k of a class is the same whatever ``num`` is)."""
    from videolens.classify import evaluate, recipe, train

    data = dataset(num, data_seed)
    rows = []
    for name in models:
        t = time.perf_counter()
        load = os.getloadavg()[0]
        cpu = _cpu_seconds()
        r = train(data, name, RUNS / f"temporal-seed{data_seed}" / name, overwrite=True, quiet=True,
                  cache=str(CACHE / f"seed{data_seed}"), threads=threads, workers=workers, **TEMPORAL_DATA_SETTINGS,
                  **({"epochs": epochs} if epochs else {}))
        seconds = time.perf_counter() - t
        cpu = _cpu_seconds() - cpu
        e = evaluate(r.best, data, quiet=True)
        pairs = pair_accuracy(e)
        rows.append({"model": name, "data_seed": data_seed, "split": "test" if data_seed else "dev", "num": num,
                     "epochs": r.epochs_run,
                     "test_top1": round(e.top1, 3), "pairs": pairs["mean"], "best_val": round(r.best_val_acc, 3),
                     "best_epoch": r.best_epoch, "train_s": round(seconds, 1), "train_cpu_s": round(cpu, 1),
                     "s_per_epoch": round(seconds / r.epochs_run, 1), "load_at_start": round(load, 1),
                     "recipe": recipe(name), "pair_detail": pairs})
        print(f"  {name} (seed {data_seed}): test top-1 {e.top1:.3f}, direction pairs {pairs['mean']:.3f}, "
              f"{seconds:.0f} s", flush=True)
    return rows


def pipeline(model: str = "c3d", epochs: int = 4) -> dict:
    """videolens train (workers + cache + augmentation) vs a bare loop over pre-loaded clips, same steps."""
    import torch

    from videolens.classify import train
    from videolens.classify.clips import ClipDataset
    from videolens.classify.data import load_dataset
    from videolens.classify.models import create_model
    from videolens.classify.training import _preprocessing, TrainConfig
    from videolens.train.optim import param_groups

    data = dataset()
    settings = dict(PIPELINE_BUDGET, epochs=epochs)
    r = train(data, model, RUNS / f"pipeline-{model}", overwrite=True, quiet=True, cache=str(CACHE / "pipeline"),
              model_args=MODELS[model], **settings)
    ours = [h["clips_per_s"] for h in r.history[1:]]           # epoch 1 fills the cache
    r0 = train(data, model, RUNS / f"pipeline-{model}-nocache", overwrite=True, quiet=True,
               model_args=MODELS[model], **settings)
    ours_nocache = [h["clips_per_s"] for h in r0.history[1:]]
    threads = torch.get_num_threads()

    # the bare loop: the same clips, decoded and augmented once, in memory; same model, optimizer and threads
    cfg = TrainConfig(data=data, model=model, model_args=MODELS[model], **settings)
    pre = _preprocessing(cfg)
    ds = load_dataset(data, seed=0)
    items = ClipDataset(ds.train, pre, train=True, flip=False)
    clips = torch.stack([items[(0, i)][0] for i in range(len(items))])
    labels = torch.tensor([s.label for s in ds.train])
    cores = os.cpu_count() or 1
    torch.set_num_threads(max(1, cores - min(4, cores - 1)))     # what train() gives its loop
    torch.manual_seed(0)
    net = create_model(model, len(ds.classes), pre.frames, pre.size, **MODELS[model])
    opt = torch.optim.AdamW(param_groups(net, 0.05), lr=settings["lr"])
    bs = settings["batch_size"]
    per_epoch = []
    for _ in range(epochs - 1):
        order = torch.randperm(len(clips))
        t = time.perf_counter()
        for k in range(0, len(order), bs):
            idx = order[k:k + bs]
            loss = torch.nn.functional.cross_entropy(net(clips[idx]), labels[idx], label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 2.0)
            opt.step()
        per_epoch.append(len(clips) / (time.perf_counter() - t))
    torch.set_num_threads(threads)
    bare = float(np.median(per_epoch))
    mine = float(np.median(ours))
    return {"model": model, "videolens_clips_s": round(mine, 1), "videolens_nocache_clips_s":
            round(float(np.median(ours_nocache)), 1), "bare_clips_s": round(bare, 1), "ratio": round(mine / bare, 3),
            "ratio_nocache": round(float(np.median(ours_nocache)) / bare, 3), "epochs": epochs,
            "torch_threads": max(1, cores - min(4, cores - 1)), "workers": min(4, cores - 1)}


def inference(models: list[str], batch: int = 8, rounds: int = 5) -> list[dict]:
    import onnxruntime as ort
    import torch

    from videolens.classify import export_onnx, load_checkpoint

    rows = []
    threads = torch.get_num_threads()
    for name in models:
        ckpt_path = RUNS / name / "best.pt"
        if not ckpt_path.exists():
            continue
        ckpt = load_checkpoint(ckpt_path, "cpu")
        pre = ckpt.preprocessing
        onnx_path = RUNS / name / "best.onnx"
        info = export_onnx(ckpt_path, onnx_path, overwrite=True)
        x = torch.randn(batch, 3, pre.frames, pre.size, pre.size)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        with torch.no_grad():
            ckpt.model(x)
            sess.run(None, {"clips": x.numpy()})
            tt, to = [], []
            for _ in range(rounds):    # interleaved: both see the same machine load
                t = time.perf_counter()
                ckpt.model(x)
                tt.append(time.perf_counter() - t)
                t = time.perf_counter()
                sess.run(None, {"clips": x.numpy()})
                to.append(time.perf_counter() - t)
        rows.append({"model": name, "torch_clips_s": round(batch / min(tt), 1), "ort_clips_s": round(batch / min(to), 1),
                     "ort_vs_torch": round(min(tt) / min(to), 2), "max_abs_diff": info["max_abs_diff"]})
    return rows


def smoke() -> dict:
    """torchvision's r2plus1d_18 (31 M parameters): one epoch on 2 classes x 4 clips, evaluate, export."""
    from videolens.classify import evaluate, export_onnx, train

    dataset()   # the clips the list below points at
    lst = OUT / "classify-smoke.csv"
    lines = ["path,label,split"]
    for c in ("move_left", "grow"):
        for k in range(6):
            lines.append(f"{DATA}/{c}/{c}_{k:04d}.mp4,{c},{'train' if k < 4 else ('val' if k == 4 else 'test')}")
    lst.write_text("\n".join(lines) + "\n")
    t = time.perf_counter()
    r = train(str(lst), "r2plus1d_18", RUNS / "r2plus1d_18", frames=8, size=112, epochs=1, batch_size=4,
              overwrite=True, quiet=True)
    t_train = time.perf_counter() - t
    e = evaluate(r.best, str(lst), quiet=True)
    x = export_onnx(r.best, RUNS / "r2plus1d_18" / "best.onnx", overwrite=True)
    return {"model": "r2plus1d_18", "train_s": round(t_train, 1), "steps": 2, "test_videos": e.videos,
            "onnx_max_abs_diff": x["max_abs_diff"], "ok": True}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=["all", "accuracy", "pipeline", "inference", "smoke", "temporal"],
                    default="all")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--data-seed", type=int, default=0,
                    help="temporal: the motion generator's seed (0: development data; others: test data)")
    ap.add_argument("--num", type=int, default=200, help="temporal: clips a class (default 200; fewer: reduced)")
    ap.add_argument("--epochs", type=int, help="temporal: epochs instead of each recipe's (reduced protocol)")
    ap.add_argument("--threads", type=int, help="temporal: torch threads per training (default: train's)")
    ap.add_argument("--workers", type=int, help="temporal: DataLoader workers per training (default: train's)")
    args = ap.parse_args()
    models = args.models.split(",")
    if args.part == "temporal":
        # its own file, merged row by row when saved, so runs for other models or seeds can go on beside it
        rows = temporal_part(models, args.data_seed, args.num, threads=args.threads, workers=args.workers,
                             epochs=args.epochs)
        path = OUT / "classify-temporal.json"
        done = json.loads(path.read_text()).get("rows", []) if path.exists() else []
        key = lambda r: (r["model"], r["data_seed"], r.get("num", 200), r.get("epochs"))  # noqa: E731
        keep = [r for r in done if key(r) not in {key(x) for x in rows}]
        print(table(rows, ["model", "split", "data_seed", "test_top1", "pairs", "best_val", "best_epoch", "train_s",
                           "train_cpu_s", "s_per_epoch", "load_at_start"]))
        print(f"saved {save('classify-temporal', {'rows': keep + rows})}")
        return
    prev = OUT / "classify.json"
    results = json.loads(prev.read_text()) if prev.exists() else {}
    results.pop("machine", None)
    results.pop("command", None)
    load = os.getloadavg()[0]
    if args.part in ("all", "accuracy"):
        print(f"accuracy ({len(models)} models, budget {BUDGET}), load {load:.1f}", flush=True)
        rows = accuracy(models)
        old = {r["model"]: r for r in results.get("accuracy", [])}
        old.update({r["model"]: r for r in rows})
        results["accuracy"] = list(old.values())
        results["budget"] = BUDGET
        print(table(results["accuracy"], ["model", "test_top1", "mean_class_acc", "pairs", "best_val",
                                          "best_epoch", "train_s", "s_per_epoch"]))
        temporal = [r for r in results["accuracy"] if r["model"] != "tsn"]
        best = max(temporal, key=lambda r: r["test_top1"]) if temporal else None
        tsn = next((r for r in results["accuracy"] if r["model"] == "tsn"), None)
        if best:
            print(f"best temporal model: {best['model']} {best['test_top1']:.3f} (target >= 0.95: "
                  f"{'met' if best['test_top1'] >= 0.95 else 'NOT met'})")
        if tsn:
            print(f"tsn on the direction pairs: {tsn['pairs']:.3f} (target 0.5 +- 0.1: "
                  f"{'met' if abs(tsn['pairs'] - 0.5) <= 0.1 else 'NOT met'})")
    if args.part in ("all", "pipeline"):
        print("pipeline overhead", flush=True)
        results["pipeline"] = pipeline()
        p = results["pipeline"]
        print(f"videolens train {p['videolens_clips_s']} clips/s (no cache {p['videolens_nocache_clips_s']}), "
              f"bare loop over pre-loaded clips {p['bare_clips_s']} clips/s: {p['ratio']}x (target >= 0.9)")
    if args.part in ("all", "inference"):
        print("inference", flush=True)
        results["inference"] = inference(models)
        print(table(results["inference"], ["model", "torch_clips_s", "ort_clips_s", "ort_vs_torch", "max_abs_diff"]))
    if args.part in ("all", "smoke"):
        print("r2plus1d_18 smoke test", flush=True)
        results["smoke"] = smoke()
        print(results["smoke"])
    results.setdefault("load_average", {})[args.part] = round(load, 1)
    print(f"saved {save('classify', results)}")


if __name__ == "__main__":
    main()
