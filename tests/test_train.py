"""videolens.train: the plumbing the three trainers share, and the one-way import graph around it.

The import tests read the source (ast), so they hold whatever else a test run happens to have imported: inference
code (detectors, predictors, the shot model, ONNX export) never reaches a trainer, and ``videolens.train`` never
reaches back into the packages that use it.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import ROOT, require
from videolens.errors import VideolensError
from videolens.train.checkpoint import FORMATS, load_weights, read_checkpoint, save_checkpoint
from videolens.train.ema import EMA
from videolens.train.log import MetricsLog
from videolens.train.optim import lr_factor, param_groups, warmup_cosine
from videolens.train.run import RunDir

PACKAGE = ROOT / "videolens"

# Modules that read checkpoints or run models for inference; none may import a training module, even lazily.
INFERENCE = ["detect.detectors", "detect.export", "detect.checkpoint", "detect.evaluation", "classify.prediction",
             "classify.analyzer", "classify.checkpoint", "classify.export", "classify.evaluation", "shots.learned",
             "shots.checkpoint", "shots.detect"]
TRAINING = {"videolens.detect.train", "videolens.classify.training", "videolens.classify.tuning",
            "videolens.shots.train", "videolens.shots.train_data", "videolens.train.run", "videolens.train.log",
            "videolens.train.optim", "videolens.train.ema"}


def _file(module: str) -> Path | None:
    base = PACKAGE.parent.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imports(module: str) -> set[str]:
    """The videolens modules ``module`` imports anywhere in its source (top level or inside functions), with the
    packages whose ``__init__`` those imports run."""
    path = _file(module)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            # ``from pkg import name``: name is a module when such a file exists, else an attribute of pkg
            names = [f"{base}.{a.name}" if _file(f"{base}.{a.name}") else base for a in node.names]
        else:
            continue
        for name in names:
            if name == "videolens" or name.startswith("videolens."):
                parts = name.split(".")
                found.update(".".join(parts[:k]) for k in range(1, len(parts) + 1))
    return {m for m in found if _file(m)}


def _reach(start: str) -> dict[str, str]:
    """Every videolens module ``start`` imports, directly or through others: module -> the one that imports it."""
    seen = {start: ""}
    todo = [start]
    while todo:
        module = todo.pop()
        for name in _imports(module):
            if name not in seen:
                seen[name] = module
                todo.append(name)
    return seen


def _chain(seen: dict[str, str], module: str) -> str:
    out = [module]
    while seen[out[-1]]:
        out.append(seen[out[-1]])
    return " <- ".join(out)


@pytest.mark.parametrize("module", INFERENCE)
def test_inference_never_imports_a_training_module(module):
    assert _file(f"videolens.{module}"), module
    seen = _reach(f"videolens.{module}")
    bad = sorted(TRAINING & set(seen))
    assert not bad, [_chain(seen, m) for m in bad]


def test_the_train_package_imports_only_errors_utils_and_io():
    allowed = ("videolens.errors", "videolens.utils", "videolens.io", "videolens.train")
    modules = [f"videolens.train.{p.stem}" for p in (PACKAGE / "train").glob("*.py") if p.stem != "__init__"]
    assert "videolens.train.checkpoint" in modules
    for module in modules + ["videolens.train"]:
        bad = [m for m in _imports(module) if m != "videolens" and not m.startswith(allowed)]
        assert not bad, (module, bad)


def test_the_train_package_imports_without_torch():
    code = ("import sys, videolens.train.checkpoint, videolens.train.run, videolens.train.log, "
            "videolens.train.optim, videolens.train.ema; print(sorted(m for m in ('torch', 'yaml', 'tensorboard') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out


@pytest.mark.parametrize("name", ["checkpoint", "run", "log", "optim", "ema"])
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = doctest.testmod(importlib.import_module(f"videolens.train.{name}"))
    assert result.failed == 0 and result.attempted > 0


# ---------------------------------------------------------------------------------------------------------------
# checkpoints


def _one_line(error: pytest.ExceptionInfo, path: Path, needle: str) -> None:
    text = str(error.value)
    assert "\n" not in text and text.startswith(str(path)) and needle in text, text


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_reader_refuses_every_kind_of_wrong_file_in_one_line(kind, tmp_path):
    good = {"format": FORMATS[kind], "state_dict": {"w": torch.arange(1000.0)}, "config": {"a": 1}}
    path = tmp_path / "last.pt"
    save_checkpoint(good, path)
    assert read_checkpoint(path, kind)["config"] == {"a": 1}
    assert read_checkpoint(tmp_path, kind)["format"] == FORMATS[kind]       # a run folder: its best.pt or last.pt
    # Seed 17's 4 KiB make torch's weights_only unpickler raise IndexError (a user's report): no traceback.
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(np.random.default_rng(17).bytes(4096))
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    other = next(k for k in sorted(FORMATS) if k != kind)
    wrong = tmp_path / "wrong.pt"
    save_checkpoint({**good, "format": FORMATS[other]}, wrong)
    bare = tmp_path / "bare.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), bare)
    incomplete = tmp_path / "incomplete.pt"
    save_checkpoint({"format": FORMATS[kind]}, incomplete)
    listed = tmp_path / "list.pt"
    torch.save([1, 2, 3], listed)
    cases = [(garbage, "not a readable videolens checkpoint"), (truncated, "not a PyTorch checkpoint"),
             (empty, "not a PyTorch checkpoint"), (wrong, f"a videolens {other} checkpoint, not a {kind} one"),
             (bare, f"a state_dict without the model's settings, not a videolens {kind} checkpoint"),
             (incomplete, "incomplete"), (listed, f"not a videolens {kind} checkpoint"),
             (tmp_path / "none.pt", "no such checkpoint")]
    for bad, needle in cases:
        with pytest.raises(VideolensError) as e:
            read_checkpoint(bad, kind)
        _one_line(e, bad, needle)


def test_reader_runs_no_code_from_a_pickle(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pt"
    torch.save({"format": FORMATS["detector"], "state_dict": {}, "x": Evil()}, evil)
    with pytest.raises(VideolensError) as e:
        read_checkpoint(evil, "detector")
    _one_line(e, evil, "refused: the file would import and run Python code")
    assert not marker.exists()


def test_saving_is_atomic(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint({"format": FORMATS["action"], "state_dict": {}, "n": 1}, path)
    with pytest.raises((pickle.PicklingError, AttributeError)):
        save_checkpoint({"format": FORMATS["action"], "x": lambda: 0}, path)    # fails half-way through writing
    assert read_checkpoint(path, "action")["n"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]           # no temporary file left behind


def test_weights_of_another_shape_name_the_file():
    with pytest.raises(VideolensError, match=r"^x\.pt: the weights do not fit model 'linear' \(.*size mismatch"):
        load_weights(torch.nn.Linear(2, 1), torch.nn.Linear(3, 1).state_dict(), "x.pt", "linear")


# ---------------------------------------------------------------------------------------------------------------
# run folder, logs


def test_run_folder_rules(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(VideolensError, match="nothing to resume"):
        RunDir.open(out, resume=True)
    run = RunDir.open(out)
    run.start()
    run.save({"format": FORMATS["action"], "state_dict": {}, "epoch": 1}, best=True)
    run.save({"format": FORMATS["action"], "state_dict": {}, "epoch": 2})
    assert read_checkpoint(run.best, "action")["epoch"] == 1 and read_checkpoint(run.last, "action")["epoch"] == 2
    for name in ("metrics.csv", "config.yaml", "train.log", "events.out.tfevents.1.host", "tensorboard/x"):
        (out / name).parent.mkdir(exist_ok=True)
        (out / name).write_text("old")
    (out / "cache").mkdir()
    with pytest.raises(VideolensError, match="a run is already there"):
        RunDir.open(out)
    assert RunDir.open(out, resume=True, overwrite=True).resume       # resuming wins over overwriting
    again = RunDir.open(out, overwrite=True)
    assert (out / "last.pt").exists()                                  # nothing goes before start()
    again.start()
    assert sorted(p.name for p in out.iterdir()) == ["cache"]


def test_metrics_log_rewrites_the_history_and_purges_lost_events(tmp_path):
    require("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log = MetricsLog(tmp_path, events=tmp_path / "tb")
    history = [{"epoch": 1, "train_loss": 2.0, "val_acc": None}, {"epoch": 2, "train_loss": 1.0, "val_acc": 0.5}]
    for k in range(2):
        log.write(history[:k + 1], k + 1)
    log.write(history + [{"epoch": 3, "train_loss": 9.0, "val_acc": 0.1}], 3)   # an epoch a kill then loses
    log.close()
    log = MetricsLog(tmp_path, events=tmp_path / "tb", resumed_at=2)             # resumed from epoch 2's checkpoint
    log.write(history + [{"epoch": 3, "train_loss": 0.5, "val_acc": 0.75}], 3)
    log.close()
    assert (tmp_path / "metrics.csv").read_text().splitlines() == [
        "epoch,train_loss,val_acc", "1,2.0,", "2,1.0,0.5", "3,0.5,0.75"]
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert [(s.step, s.value) for s in events.Scalars("train/loss")] == [(1, 2.0), (2, 1.0), (3, 0.5)]


# ---------------------------------------------------------------------------------------------------------------
# optimiser, schedule, EMA


def test_schedule_warms_up_then_follows_a_cosine_to_its_floor():
    factors = [lr_factor(s, warmup=4, total=20, final=0.01) for s in range(25)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0] and factors[4] == 1.0
    assert all(a >= b for a, b in zip(factors[4:], factors[5:]))
    assert factors[12] == pytest.approx(0.01 + 0.99 * 0.5) and factors[20:] == [pytest.approx(0.01)] * 5
    assert lr_factor(0, warmup=0, total=10) == 1.0 and lr_factor(10, warmup=0, total=10) == pytest.approx(0.0)
    opt = torch.optim.AdamW(torch.nn.Linear(2, 2).parameters(), lr=0.1)
    sched = warmup_cosine(opt, warmup=4, total=20, final=0.01)
    for _ in range(12):
        opt.step()
        sched.step()
    assert sched.get_last_lr()[0] == pytest.approx(0.1 * factors[12])
    assert sched.state_dict()["lr_lambdas"] == [None]       # the shape is rebuilt from the settings, not saved


def test_no_weight_decay_on_norms_biases_and_scalars():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Linear(4, 2))
    net.register_parameter("temperature", torch.nn.Parameter(torch.tensor(1.0)))
    net[2].bias.requires_grad_(False)
    decay, no_decay = param_groups(net, 0.05)
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    assert {id(p) for p in decay["params"]} == {id(net[0].weight), id(net[2].weight)}
    assert {id(p) for p in no_decay["params"]} == {id(net[0].bias), id(net[1].weight), id(net[1].bias),
                                                   id(net.temperature)}


def test_ema_blends_in_the_weights_with_a_ramped_decay():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.BatchNorm1d(3))
    ema = EMA(net, decay=0.9, tau=1.0)
    assert not any(p.requires_grad for p in ema.module.parameters())
    with torch.no_grad():
        net[0].weight.add_(1.0)
    net(torch.randn(4, 3))                                              # moves the BN statistics and its counter
    before = ema.module[0].weight.clone()
    ema.update(net)
    d = 0.9 * (1 - np.exp(-1.0))
    assert torch.allclose(ema.module[0].weight, d * before + (1 - d) * net[0].weight)
    assert int(ema.module[1].num_batches_tracked) == 1 and ema.updates == 1
