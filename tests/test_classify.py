"""Action recognition (videolens.classify): datasets, models, train / evaluate / predict / export / tune, DDP.

Everything runs for real on small generated ``motion`` clips (32x32, 8 frames): real decoding with PyAV, real
training, real ONNX Runtime sessions, real torch.distributed processes. One model is trained once per module
(``trained``) on the move_left / move_right pair and shared by the tests that need a model that works.
"""

from __future__ import annotations

import csv
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import ROOT
from videolens.classify import create_model, load_dataset
from videolens.classify.models import MODELS
from videolens.datasets import make_dataset
from videolens.errors import VideolensError
from videolens.io.reader import VideoReader
from videolens.io.writer import VideoWriter

TINY = dict(frames=8, size=32)
# Small settings per family, so every model trains in seconds on CPU.
FAMILY_ARGS = {
    "tsn": {"width": 8, "dim": 32},
    "cnn_lstm": {"width": 8, "dim": 32, "hidden": 32},
    "cnn_gru": {"width": 8, "dim": 32, "hidden": 32},
    "tcn": {"width": 8, "dim": 32, "channels": 32},
    "c3d": {"width": 8},
    "r2plus1d": {"width": 8},
    "transformer": {"dim": 32, "depth": 1, "heads": 2},
}


@pytest.fixture(autouse=True)
def _one_thread():
    # The suite shares 2 busy cores: oversubscribed OpenMP threads are many times slower than one.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _write_list(path: Path, rows: list[tuple]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "split"])
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def motion(tmp_path_factory) -> Path:
    """The generator's own UCF101-style output: 9 classes x 6 clips (5 train, 1 test), 32x32, 8 frames."""
    root = tmp_path_factory.mktemp("motion")
    make_dataset("motion", root, seed=0, num=6, size=(32, 32), frames=8, progress=False)
    return root


@pytest.fixture(scope="module")
def four(motion) -> Path:
    """4 classes of ``motion`` as a CSV list: 4 train, 1 val, 1 test clip per class."""
    rows = []
    for c in ("move_left", "move_right", "move_up", "move_down"):
        for k in range(6):
            rows.append((f"{c}/{c}_{k:04d}.mp4", c, "train" if k < 4 else ("val" if k == 4 else "test")))
    return _write_list(motion / "four.csv", rows)


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> Path:
    """move_left / move_right, 70 clips each (42 train, 8 val, 20 test), rendered by the motion generator."""
    from videolens.datasets import _common as C
    from videolens.datasets.motion import CLASSES, CRF, render_clip, sample_clip

    root = tmp_path_factory.mktemp("pair")
    rows = []
    for cls in ("move_left", "move_right"):
        (root / cls).mkdir()
        for k, rng in enumerate(C.child_rngs(1, 70, stream=CLASSES.index(cls))):
            name = f"{cls}/{cls}_{k:04d}.mp4"
            with VideoWriter(root / name, fps=25, size=(32, 32), crf=CRF, preset=C.X264_PRESET) as w:
                for frame in render_clip(sample_clip(rng, cls, 32, 32, 8)):
                    w.write(frame)
            rows.append((name, cls, "train" if k < 42 else ("val" if k < 50 else "test")))
    return _write_list(root / "list.csv", rows)


class Run:
    def __init__(self, out: Path, summary: dict):
        self.output, self.summary = out, summary
        self.best, self.last = out / "best.pt", out / "last.pt"


@pytest.fixture(scope="module")
def trained(pair, tmp_path_factory) -> Run:
    """c3d trained on the direction pair by 2 processes (torch DDP, gloo), from the CLI. No flips: a flip turns left
    into right. Shared by the tests that need a model that works."""
    from conftest import run_cli

    out = tmp_path_factory.mktemp("run") / "c3d"
    res = run_cli("train", "--data", pair, "--model", "c3d", "-o", out, "--frames", "8", "--size", "32",
                  "--epochs", "10", "--batch-size", "4", "--lr", "3e-3", "--no-flip", "--crop-area", "1",
                  "--model-arg", "width=8",
                  "--patience", "0", "--cache", "--nproc", "2", "--json", "--quiet")
    assert res.code == 0, res
    return Run(out, res.json())


def _one_line_error(res, *needles):
    assert res.code == 2, res
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.err, res.err
    for n in needles:
        assert str(n) in lines[0], (n, lines[0])
    return lines[0]


# ---------------------------------------------------------------------------------------------------------------
# models


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_runs_forward_and_backward(name):
    args = FAMILY_ARGS.get(name, {})
    model = create_model(name, num_classes=5, **TINY, **args)
    x = torch.randn(2 if name not in ("c3d_classic", "r2plus1d_18") else 1, 3, 8, 32, 32)
    out = model(x)
    assert out.shape == (len(x), 5) and torch.isfinite(out).all()
    out.logsumexp(1).sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) > 0 for g in grads) >= 0.9 * len(grads)   # the whole network learns


def test_frame_differences_of_order_two_give_each_frame_its_neighbours():
    """diff=2: frame t goes in with x[t] - x[t-1] and x[t+1] - x[t] (three frames, enough to show which way a path
    bends); the ends reuse the nearest difference. Every model with a diff setting builds for it."""
    from videolens.classify.models import input_channels, with_differences

    x = torch.tensor([0.0, 1.0, 3.0, 7.0]).reshape(1, 1, 4, 1, 1).expand(1, 3, 4, 2, 2)
    y = with_differences(x, 2)
    assert y.shape == (1, 9, 4, 2, 2)
    assert y[0, 0, :, 0, 0].tolist() == [0, 1, 3, 7]
    assert y[0, 3, :, 0, 0].tolist() == [1, 1, 2, 4]       # backward: x[t] - x[t-1], frame 0 takes the first
    assert y[0, 6, :, 0, 0].tolist() == [1, 2, 4, 4]       # forward: x[t+1] - x[t], the last frame takes the last
    assert torch.equal(with_differences(x, 1), y[:, :6])
    assert with_differences(x, 0) is x
    for name in ("cnn_gru", "tcn", "r2plus1d", "transformer"):
        model = create_model(name, 4, **TINY, **{**FAMILY_ARGS.get(name, {}), "diff": 2})
        assert model(torch.randn(2, 3, 8, 32, 32)).shape == (2, 4)
    with pytest.raises(VideolensError, match="diff must be 0, 1 or 2"):
        input_channels(3)
    with pytest.raises(VideolensError, match="diff must be 0, 1 or 2"):
        create_model("cnn_gru", 4, **TINY, diff=3)


def test_r2plus1d_pools_where_torchvision_strides():
    """With ``stage_pool`` (its recipe's) no conv of r2plus1d strides: each stage starts with a 1x2x2 max pool, so
    every position and every frame reaches a conv, and time keeps its length to the global pool."""
    from videolens.classify.models import recipe, with_differences

    model = create_model("r2plus1d", 4, **TINY, **{**recipe("r2plus1d")["model_args"], **FAMILY_ARGS["r2plus1d"]})
    model.eval()
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv3d)]
    assert convs and all(c.stride == (1, 1, 1) for c in convs)
    assert sum(isinstance(m, torch.nn.MaxPool3d) for m in model.stages) == 3
    with torch.no_grad():
        x = torch.randn(2, 3, 8, 32, 32)
        assert model.stages(model.stem(with_differences(x, model.diff))).shape[2] == 8
    strided = create_model("r2plus1d", 4, **TINY, **FAMILY_ARGS["r2plus1d"])
    assert any(m.stride != (1, 1, 1) for m in strided.modules() if isinstance(m, torch.nn.Conv3d))


@pytest.mark.parametrize("cell", ["cnn_lstm", "cnn_gru"])
def test_the_recurrent_readout_is_the_last_state_or_the_mean_over_time(cell):
    """readout="mean" (the recipes') classifies the mean of the RNN's hidden states over the clip, "last" the last
    one; anything else is refused."""
    torch.manual_seed(0)
    model = create_model(cell, 4, **TINY, **{**FAMILY_ARGS[cell], "readout": "mean"}).eval()
    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        states, _ = model.rnn(model.frame_features(x))
        assert torch.allclose(model(x), model.head(states.mean(dim=1)), atol=1e-6)
        model.readout = "last"
        assert torch.allclose(model(x), model.head(states[:, -1]), atol=1e-6)
        assert not torch.allclose(states.mean(dim=1), states[:, -1])
    with pytest.raises(VideolensError, match="readout must be"):
        create_model(cell, 4, **TINY, readout="max")


def test_tsn_ignores_frame_order_and_temporal_models_do_not():
    """The reason tsn is the baseline: averaging over frames cannot see which way things move."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 32, 32)
    backwards = x.flip(2)
    for name in ("tsn", "cnn_lstm", "cnn_gru", "tcn", "c3d", "r2plus1d", "transformer"):
        model = create_model(name, 4, **TINY, **FAMILY_ARGS[name]).eval()
        with torch.no_grad():
            same = torch.allclose(model(x), model(backwards), atol=1e-5)
        assert same == (name == "tsn"), name


@pytest.mark.parametrize("name", ["tsn", "cnn_lstm", "cnn_gru", "tcn", "c3d", "r2plus1d", "transformer"])
def test_every_recipe_builds_a_model_that_sees_frame_order_except_tsn(name):
    """Each family's default recipe (models.RECIPES) builds its model for the recipe's clip; the temporal ones
    (frame differences, conv stem) answer differently to reversed clips, tsn does not."""
    from videolens.classify.models import recipe

    r = recipe(name)
    torch.manual_seed(0)
    model = create_model(name, 9, r["frames"], r["size"], **r["model_args"]).eval()
    x = torch.randn(2, 3, r["frames"], r["size"], r["size"])
    with torch.no_grad():
        same = torch.allclose(model(x), model(x.flip(2)), atol=1e-5)
    assert same == (name == "tsn"), name


def test_model_registry_errors():
    with pytest.raises(VideolensError, match="--model nope: unknown model"):
        create_model("nope", 3, 8, 32)
    with pytest.raises(VideolensError, match="at least 2 classes"):
        create_model("c3d", 1, 8, 32)
    with pytest.raises(VideolensError, match="no pretrained weights"):
        create_model("c3d", 3, 8, 32, pretrained=True)
    with pytest.raises(VideolensError, match="bad model arguments"):
        create_model("c3d", 3, 8, 32, wings=2)


def test_pretrained_weights_come_from_torch_home(tmp_path, monkeypatch):
    """torchvision's mechanism: the file in $TORCH_HOME/hub/checkpoints/, loaded with weights_only."""
    from torchvision.models.video import r2plus1d_18

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    target = tmp_path / "th" / "hub" / "checkpoints" / "r2plus1d_18-91a641e6.pth"
    # offline, without the file: the error names the exact path to put it at
    with pytest.raises(VideolensError) as info:
        create_model("r2plus1d_18", 5, 8, 32, pretrained=True)
    assert str(target) in str(info.value) and "\n" not in str(info.value)

    torch.manual_seed(3)
    reference = r2plus1d_18(num_classes=400).state_dict()
    target.parent.mkdir(parents=True)
    torch.save(reference, target)
    model = create_model("r2plus1d_18", 5, 8, 32, pretrained=True)
    loaded = model.state_dict()
    for key, value in reference.items():
        if key.startswith("fc."):
            continue
        assert torch.equal(loaded[key], value), key
    assert loaded["fc.weight"].shape == (5, 512)        # a new head for the new classes

    target.write_bytes(b"not a checkpoint")
    with pytest.raises(VideolensError, match="not a usable weights file"):
        create_model("r2plus1d_18", 5, 8, 32, pretrained=True)


# ---------------------------------------------------------------------------------------------------------------
# datasets


def test_ucf101_layout_class_order_and_splits(motion):
    ds = load_dataset(motion, seed=0)
    ind = [line.split()[1] for line in (motion / "classInd.txt").read_text().splitlines()]
    assert ds.classes == ind and len(ds.classes) == 9
    assert len(ds.test) == 9 and len(ds.train) + len(ds.val) == 45 and ds.split_source == "val from train"
    # the validation clips are drawn per class: one of each class's five training clips
    assert sorted(s.label for s in ds.val) == list(range(9))
    assert {Path(s.path).parent.name for s in ds.test} == set(ind)
    for s in ds.train + ds.val + ds.test:
        assert Path(s.path).parent.name == ds.classes[s.label]
    again = load_dataset(motion, seed=0)
    other = load_dataset(motion, seed=5)
    assert again.val == ds.val and other.val != ds.val


def test_folder_layout_without_lists_and_txt_list(motion, tmp_path):
    root = tmp_path / "folders"
    for c in ("zoom", "pan"):
        (root / c).mkdir(parents=True)
        for k in range(5):
            src = motion / "grow" / f"grow_{k:04d}.mp4"
            (root / c / f"{k}.mp4").symlink_to(src)
    ds = load_dataset(root, seed=1)
    assert ds.classes == ["pan", "zoom"] and ds.split_source == "seeded" and not ds.test
    assert sorted(s.label for s in ds.val) == [0, 1] and len(ds.train) == 8

    # whitespace list with integer labels and a 0-based classes.txt beside it
    (tmp_path / "classes.txt").write_text("left\nright\n")
    lines = [f"{motion}/move_left/move_left_{k:04d}.mp4 0" for k in range(3)]
    lines += [f"{motion}/move_right/move_right_{k:04d}.mp4 1" for k in range(3)]
    (tmp_path / "list.txt").write_text("\n".join(lines) + "\n")
    ds = load_dataset(tmp_path / "list.txt")
    assert ds.classes == ["left", "right"]
    assert [Path(s.path).name.startswith("move_right") for s in ds.train + ds.val] == \
           [s.label == 1 for s in ds.train + ds.val]

    # tab-separated with a header, and CSV with a quoted path that holds a comma and a space
    lists = tmp_path / "lists"
    lists.mkdir()
    odd = lists / "odd, name 1.mp4"
    odd.symlink_to(motion / "grow" / "grow_0000.mp4")
    tsv = ["video\tclass\tsplit"] + [f"{motion}/move_left/move_left_{k:04d}.mp4\tleft\ttrain" for k in range(3)]
    tsv += [f"{odd}\tgrow\ttrain", f"{motion}/grow/grow_0001.mp4\tgrow\ttrain", f"{motion}/grow/grow_0002.mp4\tgrow\tval"]
    (lists / "list.tsv").write_text("\n".join(tsv) + "\n")
    ds = load_dataset(lists / "list.tsv")
    assert ds.classes == ["grow", "left"] and len(ds.train) == 5 and len(ds.val) == 1
    assert str(odd) in {s.path for s in ds.train}
    (lists / "quoted.csv").write_text(f'"{odd}",grow\n' + "".join(
        f"{motion}/move_left/move_left_{k:04d}.mp4,left\n" for k in range(3)) + f"{motion}/grow/grow_0001.mp4,grow\n")
    ds = load_dataset(lists / "quoted.csv", seed=0)
    assert ds.classes == ["grow", "left"] and str(odd) in {s.path for s in ds.train + ds.val}


def test_list_trimming_by_seconds(motion, tmp_path):
    clip = motion / "static" / "static_0000.mp4"           # 8 frames at 25 fps: 0.00, 0.04, ... 0.28 s
    rows = ["path,label,start,end,split"]
    rows += [f"{clip},a,0.08,0.20,train", f"{clip},a,0,0.12,train", f"{clip},b,0.04,,train", f"{clip},b,,,val",
             f"{clip},a,0.1,0.2,val", f"{clip},b,0.27,0.29,train"]
    (tmp_path / "trim.csv").write_text("\n".join(rows) + "\n")
    with pytest.warns(UserWarning, match="too short: 1 frame"):
        ds = load_dataset(tmp_path / "trim.csv", min_frames=2)
    from videolens.classify.data import _span

    ts = VideoReader(clip).timestamps
    spans = [_span(ts, s.start, s.end) for s in ds.train]
    assert spans == [(2, 5), (0, 3), (1, 8)]        # frames shown from start to before end
    assert len(ds.skipped) == 1 and "0.27" in ds.skipped[0][1]


def test_bad_datasets_are_refused_with_one_line(motion, tmp_path, cli):
    one = _write_list(tmp_path / "one.csv", [(f"{motion}/grow/grow_{k:04d}.mp4", "grow", "train") for k in range(4)])
    with pytest.raises(VideolensError, match="found 1 class .*grow.*at least 2"):
        load_dataset(one)
    rows = [(f"{motion}/grow/grow_{k:04d}.mp4", "grow", "test") for k in range(2)]
    rows += [(f"{motion}/static/static_{k:04d}.mp4", "static", "test") for k in range(2)]
    only_test = _write_list(tmp_path / "test_only.csv", rows)
    res = cli("train", "--data", only_test, "--model", "c3d", "-o", tmp_path / "r", "--epochs", "1")
    _one_line_error(res, "the train split is empty")
    res = cli("train", "--data", tmp_path / "missing", "--model", "c3d", "-o", tmp_path / "r")
    _one_line_error(res, "missing", "no such file")
    (tmp_path / "trainlist.txt").write_text("a/x.mp4 7\n")
    (tmp_path / "classInd.txt").write_text("1 a\n2 b\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with pytest.raises(VideolensError, match="line 1: label 7 is out of range"):
        load_dataset(tmp_path)
    (tmp_path / "trainlist.txt").write_text("b/x.mp4 1\n")
    with pytest.raises(VideolensError, match="0-based labels"):
        load_dataset(tmp_path)


def test_corrupt_and_short_videos_are_skipped_and_logged(four, motion, tmp_path, cli):
    data = tmp_path / "data"
    rows = list(csv.reader(open(four)))[1:]
    bad = tmp_path / "broken.mp4"
    good = motion / "move_left" / "move_left_0000.mp4"
    bad.write_bytes(good.read_bytes()[:300] + np.random.default_rng(2).bytes(2000))   # a header and then noise
    short = tmp_path / "short.mp4"
    with VideoWriter(short, fps=25, size=(32, 32)) as w:
        w.write(np.zeros((32, 32, 3), np.uint8))
    rows = [(str(motion / p), label, split) for p, label, split in rows]
    rows += [(str(bad), "move_left", "train"), (str(short), "move_up", "train")]
    data.mkdir()
    lst = _write_list(data / "list.csv", rows)
    out = tmp_path / "run"
    res = cli("train", "--data", lst, "--model", "tsn", "-o", out, "--frames", "8", "--size", "32", "--epochs", "1",
              "--batch-size", "8", "--model-arg", "width=8", "--model-arg", "dim=32", "--json")
    assert res.code == 0, res
    skipped = {s["path"]: s["reason"] for s in res.json()["skipped"]}
    assert set(skipped) == {str(bad), str(short)}
    assert "too short: 1 frame" in skipped[str(short)]
    assert f"skipping {bad}" in res.err and f"skipping {short}" in res.err
    log = (out / "train.log").read_text()
    assert str(bad) in log and str(short) in log


def test_cache_is_reused_and_invalidated(four, motion, tmp_path):
    from videolens.classify.cache import ClipCache

    src = tmp_path / "clip.mp4"
    src.write_bytes((motion / "rotate_cw" / "rotate_cw_0000.mp4").read_bytes())
    cache = ClipCache(tmp_path / "cache")
    reader = VideoReader(src)
    first = np.array(cache.frames(reader, 0, 8, 37))
    assert np.array_equal(first, reader.get_frames(range(8), size=37))
    second = cache.frames(reader, 0, 8, 37)
    assert isinstance(second, np.memmap) and np.array_equal(second, first)
    assert (cache.hits, cache.misses) == (1, 1)
    cache.frames(reader, 0, 8, 40)                          # other preprocessing: decoded again
    assert cache.misses == 2
    # a new file under the same name: its size/mtime change the key, stale frames are never read
    time.sleep(0.01)
    src.write_bytes((motion / "grow" / "grow_0000.mp4").read_bytes())
    reader = VideoReader(src)
    fresh = cache.frames(reader, 0, 8, 37)
    assert cache.misses == 3 and not np.array_equal(fresh, first)
    assert np.array_equal(fresh, reader.get_frames(range(8), size=37))


# ---------------------------------------------------------------------------------------------------------------
# training, evaluation, prediction


def test_two_process_training_learns_the_direction_pair(trained, pair, tmp_path):
    """A temporal model, trained by 2 DDP processes, tells move_left from move_right on unseen clips."""
    from videolens.classify import evaluate

    out, summary = trained.output, trained.summary
    assert summary["epochs_run"] == 10 and len(summary["history"]) == 10
    assert summary["history"][-1]["train_loss"] < summary["history"][0]["train_loss"]
    result = evaluate(trained.best, pair, output=tmp_path, quiet=True)
    assert result.split == "test" and result.videos == 40
    assert result.top1 >= 0.7, (result.top1, summary["history"])         # chance is 0.5
    # the run's files
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == list(range(1, 11))
    assert "model: c3d" in (out / "config.yaml").read_text()
    assert list(out.glob("events.out.tfevents.*"))
    assert list((out / "cache").rglob("*.npy"))
    last = torch.load(trained.last, weights_only=True)
    assert last["classes"] == ["move_left", "move_right"] and last["model"]["name"] == "c3d"
    assert last["preprocessing"]["frames"] == 8 and last["preprocessing"]["size"] == 32
    assert {"optimizer", "scheduler", "rng", "metrics"} <= set(last)
    # 84 training clips shared by 2 processes, 4 per step: 11 steps per process and epoch (DistributedSampler)
    assert last["config"]["nproc"] == 2 and last["scheduler"]["last_epoch"] == 10 * 11


def test_default_recipe_is_what_train_uses_and_flags_override_it(four, tmp_path, cli):
    """``videolens train --model X`` trains with X's recipe (classify.models.RECIPES); what the user gives wins."""
    from videolens.classify.models import RECIPES

    res = cli("train", "--data", four, "--model", "cnn_gru", "-o", tmp_path / "a", "--epochs", "1", "--json",
              "--quiet")
    assert res.code == 0, res
    cfg = torch.load(tmp_path / "a" / "last.pt", weights_only=True)["config"]
    want = RECIPES["cnn_gru"]
    assert (cfg["frames"], cfg["stride"], cfg["size"], cfg["lr"]) == \
        (want["frames"], want["stride"], want["size"], want["lr"])
    assert cfg["model_args"] == want["model_args"] and cfg["model_args"]["diff"] == 2
    assert cfg["epochs"] == 1
    # --frames without --stride drops the recipe's stride; a --model-arg changes one key of the recipe's
    res = cli("train", "--data", four, "--model", "cnn_gru", "-o", tmp_path / "b", "--epochs", "1", "--frames", "8",
              "--model-arg", "width=8", "--json", "--quiet")
    assert res.code == 0, res
    cfg = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["config"]
    assert (cfg["frames"], cfg["stride"], cfg["size"]) == (8, 1, want["size"])
    assert cfg["model_args"] == {**want["model_args"], "width": 8}


def test_the_recipe_frame_model_learns_the_direction_pair(pair, tmp_path):
    """cnn_gru as its recipe builds it (deep per-frame CNN on frames + frame differences, GRU), narrowed for a test,
    tells move_left from move_right on unseen clips. Development data: a regression bound, not a benchmark claim."""
    from videolens.classify import evaluate, recipe, train

    args = {**recipe("cnn_gru")["model_args"], "width": 8, "dim": 32, "hidden": 32}
    r = train(pair, "cnn_gru", tmp_path / "gru", quiet=True, model_args=args, frames=4, stride=2, size=32, epochs=8,
              batch_size=8, lr=3e-3, flip=False, crop_area=1.0, patience=0, seed=0, workers=0, threads=1)
    # 40 test clips; chance is 0.5 (measured 2026-12-08: 0.875; 0.950 with the last state as readout)
    top1 = evaluate(r.best, pair, quiet=True).top1
    assert top1 >= 0.7, (top1, r.history)


def test_evaluate_cli_and_predict_agree(trained, pair, tmp_path, cli):
    res = cli("evaluate", trained.best, "--data", pair, "-o", tmp_path / "ev", "--json")
    assert res.code == 0, res
    m = res.json()
    assert 0 <= m["top1"] <= 1 and 0 <= m["top5"] <= 1 and m["top5"] == 1.0     # 2 classes: top-2 holds all
    assert 0 <= m["mean_class_accuracy"] <= 1 and len(m["per_class"]) == 2
    conf = np.array(m["confusion"])
    assert conf.sum() == m["videos"] == 40 and np.trace(conf) / conf.sum() == pytest.approx(m["top1"], abs=1e-4)
    assert (tmp_path / "ev" / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "ev" / "confusion.csv").read_text().splitlines()[0].endswith("move_left,move_right")
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["top1"] == m["top1"]
    # without --overwrite an existing result is an error naming the file
    _one_line_error(cli("evaluate", trained.best, "--data", pair, "-o", tmp_path / "ev"), "metrics.json")

    # predict on a clip gives evaluate's probabilities for it (MMAction2 users report they differ there)
    for p in m["predictions"][:3]:
        res = cli("predict", trained.best, p["path"], "--json")
        assert res.code == 0, res
        got = res.json()
        assert got["label"] == p["predicted"] and len(got["windows"]) == 1
        assert np.allclose(got["windows"][0]["probs"], p["probs"], atol=1e-5)
        assert got["top5"][0]["label"] == p["predicted"]


def _long_video(pair: Path, trained, path: Path) -> tuple[list[str], float]:
    """Three correctly classified test clips of move_left, then three of move_right, back to back."""
    from videolens.classify import evaluate

    preds = evaluate(trained.best, pair, quiet=True).predictions
    good = {c: [p["path"] for p in preds if p["label"] == c == p["predicted"] and p["score"] > 0.6][:3]
            for c in ("move_left", "move_right")}
    assert all(len(v) == 3 for v in good.values()), good
    with VideoWriter(path, fps=25, size=(32, 32)) as w:
        for clip in good["move_left"] + good["move_right"]:
            for frame in VideoReader(clip).get_frames(range(8)):
                w.write(frame)
    return ["move_left", "move_right"], 48 / 25


def _label_at(segments, t):
    return next(s["label"] for s in segments if s["start"] <= t < s["end"])


def test_predict_long_video_gives_segments_in_order(trained, pair, tmp_path, cli):
    video = tmp_path / "long.mp4"
    order, duration = _long_video(pair, trained, video)
    res = cli("predict", trained.best, video, "--window", "0.32", "--hop", "0.16", "--format", "csv,json",
              "-o", tmp_path / "out", "--json")
    assert res.code == 0, res
    r = res.json()
    segs = r["segments"]
    assert segs[0]["start"] == 0 and segs[-1]["end"] == pytest.approx(duration, abs=1e-3)
    assert all(a["end"] == b["start"] for a, b in zip(segs, segs[1:]))          # they tile the video
    assert segs[0]["label"] == "move_left" and segs[-1]["label"] == "move_right"
    # the middle of each half carries that half's class
    assert _label_at(segs, 0.48) == "move_left" and _label_at(segs, 1.44) == "move_right"
    assert len(r["windows"]) == 11 and all(len(w["probs"]) == 2 for w in r["windows"])
    rows = list(csv.DictReader(open(tmp_path / "out" / "actions.csv")))
    assert [row["label"] for row in rows] == [s["label"] for s in segs]
    assert json.loads((tmp_path / "out" / "actions.json").read_text())["segments"] == segs

    # the analyzer for `videolens analyze --actions` gives predict's result from the shared decode loop
    from videolens.analyze import run_analyzers
    from videolens.classify import ActionsAnalyzer

    run = run_analyzers(video, [ActionsAnalyzer(trained.best, window=0.32, hop=0.16, device="cpu",
                                                batch_windows=3)], quiet=True)
    d = run.results["actions"].to_dict()
    assert d["segments"] == segs and d["classes"] == ["move_left", "move_right"]
    assert [w["score"] for w in d["windows"]] == [w["score"] for w in r["windows"]]


def test_predict_batch_with_a_bad_file_exits_1(trained, pair, tmp_path, cli):
    clip = str(pair.parent / "move_left" / "move_left_0060.mp4")
    res = cli("predict", trained.best, clip, tmp_path / "nope.mp4", "--json", "--device", "cpu")
    assert res.code == 1
    assert len(res.json_lines()) == 1 and "nope.mp4" in res.err and "Traceback" not in res.err


def test_predict_same_named_inputs_get_two_folders(trained, pair, tmp_path, cli):
    import shutil

    inputs = []
    for folder, cls in (("a", "move_left"), ("b", "move_right")):
        (tmp_path / folder).mkdir()
        inputs.append(tmp_path / folder / "clip.mp4")
        shutil.copy(pair.parent / cls / f"{cls}_0060.mp4", inputs[-1])
    res = cli("predict", trained.best, *inputs, "--format", "json", "-o", tmp_path / "out", "--json", "--quiet",
              "--device", "cpu")
    assert res.code == 0, res
    files = [d["files"][0] for d in res.json_lines()]
    assert len(set(files)) == 2 and all(Path(f).parent.name.startswith("clip-") for f in files), files
    for path, f in zip(inputs, files):          # neither actions.json overwrote the other
        assert json.loads(Path(f).read_text())["path"] == str(path)


def test_export_onnx_matches_pytorch(trained, tmp_path, cli):
    import onnx
    import onnxruntime as ort

    from videolens.classify import load_checkpoint

    target = tmp_path / "c3d.onnx"
    res = cli("export", trained.best, "--format", "onnx", "-o", target, "--json")
    assert res.code == 0, res
    assert res.json()["max_abs_diff"] < 1e-4
    meta = {p.key: p.value for p in onnx.load(target).metadata_props}
    assert json.loads(meta["classes"]) == ["move_left", "move_right"]
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    model = load_checkpoint(trained.best).model
    for batch in (1, 5):                                     # a dynamic batch dimension
        x = torch.randn(batch, 3, 8, 32, 32)
        got = session.run(None, {"clips": x.numpy()})[0]
        with torch.no_grad():
            assert np.abs(got - model(x).numpy()).max() < 1e-4
    _one_line_error(cli("export", trained.best, "-o", target), "already exists")


@pytest.mark.parametrize("name", ["tsn", "cnn_lstm", "cnn_gru", "tcn", "r2plus1d", "transformer"])
def test_every_family_trains_evaluates_predicts_and_exports(name, four, motion, tmp_path, cli):
    out = tmp_path / name
    args = [a for k, v in FAMILY_ARGS[name].items() for a in ("--model-arg", f"{k}={v}")]
    res = cli("train", "--data", four, "--model", name, "-o", out, "--frames", "8", "--size", "32", "--epochs", "1",
              "--batch-size", "8", "--quiet", "--cache", *args)
    assert res.code == 0, res
    res = cli("evaluate", out / "best.pt", "--data", four, "-o", out / "eval", "--json", "--quiet")
    assert res.code == 0, res
    assert res.json()["videos"] == 4 and 0 <= res.json()["top1"] <= 1
    res = cli("predict", out / "best.pt", motion / "grow" / "grow_0000.mp4", "--json")
    assert res.code == 0, res
    assert res.json()["label"] in ("move_left", "move_right", "move_up", "move_down")
    res = cli("export", out / "best.pt", "--json")
    assert res.code == 0, res
    assert res.json()["max_abs_diff"] < 1e-4 and (out / "best.onnx").exists()
    assert list((out / "cache").rglob("*.npy"))


def _params(path):
    return torch.load(path, weights_only=True)["state_dict"]


def test_the_weight_average_is_bias_corrected_and_checked():
    """The average's step weighs the new weights (1 - d) / (1 - d**t): the first steps make a running mean (not a
    pull towards the initial weights), and a long run is the plain moving average. A decay outside [0, 1) is a
    one-line error before any work."""
    from videolens.classify.training import TrainConfig, _check_config, _ema_step

    step = _ema_step(0.998)
    avg = torch.tensor(0.0)
    for t, value in enumerate([3.0, 5.0, 7.0]):
        avg = value if t == 0 else step(torch.as_tensor(avg), torch.tensor(value), torch.tensor(t))
    assert float(avg) == pytest.approx(5.0, abs=0.01)                  # ~ the mean of 3, 5 and 7
    late = step(torch.tensor(0.0), torch.tensor(1.0), torch.tensor(5000))
    assert float(late) == pytest.approx(1 - 0.998, rel=1e-3)           # the plain moving average's weight
    for bad in (-0.1, 1.0):
        with pytest.raises(VideolensError, match="ema is a decay per step"):
            _check_config(TrainConfig(data="x", ema=bad))


@pytest.mark.parametrize("ema", [[], ["--ema", "0.9"]], ids=["plain", "ema"])
def test_resume_after_a_kill_continues_exactly(four, tmp_path, cli, ema):
    """Kill a training process after its second epoch, resume it, and get the uninterrupted run's weights (with an
    average of the weights too: the trained ones and the average both continue exactly)."""
    common = ["--data", four, "--model", "c3d", "--frames", "8", "--size", "32", "--epochs", "4", "--batch-size", "8",
              "--model-arg", "width=8", "--seed", "3", "--workers", "0", "--patience", "0", "--quiet", *ema]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "videolens", "train", *map(str, common), "-o", str(killed)],
                            cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        metrics = killed / "metrics.csv"
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 3:     # header + 2 epochs
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    interrupted_at = torch.load(killed / "last.pt", weights_only=True)["epoch"]
    assert 2 <= interrupted_at < 4

    res = cli("train", "-o", killed, "--resume", "--json")
    assert res.code == 0, res
    resumed = res.json()
    res = cli("train", *common, "-o", tmp_path / "straight", "--json")
    assert res.code == 0, res
    straight = res.json()

    def strip(history):
        return [{k: v for k, v in h.items() if k not in ("seconds", "clips_per_s")} for h in history]

    assert resumed["epochs_run"] == straight["epochs_run"] == 4
    assert strip(resumed["history"]) == strip(straight["history"])
    a, b = _params(killed / "last.pt"), _params(tmp_path / "straight" / "last.pt")
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-6), key
    assert "resumed after epoch" in (killed / "train.log").read_text()
    if ema:
        last = torch.load(killed / "last.pt", weights_only=True)
        trained, averaged = last["train_state_dict"], last["state_dict"]
        assert set(trained) == set(averaged) and int(last["ema"]["n_averaged"]) == 4 * 2       # 2 steps an epoch
        weights = [k for k, v in trained.items() if v.is_floating_point() and v.dim() > 1]
        assert weights and all(not torch.equal(trained[k], averaged[k]) for k in weights)     # saved: the average
        assert all(torch.equal(averaged[k], last["ema"][f"module.{k}"]) for k in averaged)
        other = torch.load(tmp_path / "straight" / "last.pt", weights_only=True)["train_state_dict"]
        assert all(torch.allclose(trained[k].float(), other[k].float(), atol=1e-6) for k in trained)


# ---------------------------------------------------------------------------------------------------------------
# bad checkpoints, tune


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ.get('EVIL_MARKER', '/tmp/videolens-evil')}",))


def test_bad_checkpoints_are_refused(tmp_path, cli, monkeypatch, motion):
    video = motion / "grow" / "grow_0000.mp4"
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(np.random.default_rng(17).bytes(4096))    # makes torch's unpickler raise IndexError
    marker = tmp_path / "pwned"
    monkeypatch.setenv("EVIL_MARKER", str(marker))
    evil = tmp_path / "evil.pt"
    torch.save({"format": "videolens.classify/1", "state_dict": {}, "x": _Evil()}, evil)
    with open(tmp_path / "evil.pkl", "wb") as f:
        pickle.dump(_Evil(), f)
    plain = tmp_path / "plain.pt"
    torch.save(create_model("c3d", 3, 8, 32, width=8).state_dict(), plain)
    for cmd in (["predict", "{}", video], ["evaluate", "{}", "--data", motion], ["export", "{}"]):
        for path, needle in ((garbage, "not a PyTorch checkpoint"), (evil, "refused"),
                             (tmp_path / "evil.pkl", "not a PyTorch checkpoint"),
                             (plain, "a state_dict without the model's settings"),
                             (tmp_path / "none.pt", "no such checkpoint")):
            res = cli(*[str(path) if a == "{}" else a for a in cmd])
            _one_line_error(res, path, needle)
    assert not marker.exists()                           # nothing was executed


def test_tune_runs_two_trials_and_ranks_them(four, tmp_path, cli):
    out = tmp_path / "tune"
    res = cli("tune", "--data", four, "--model", "c3d", "--grid", "lr=3e-3,1e-5", "--frames", "8", "--size", "32",
              "--epochs", "1", "--batch-size", "8", "--model-arg", "width=8", "-o", out, "--json", "--quiet")
    assert res.code == 0, res
    r = res.json()
    assert len(r["trials"]) == 2 and [t["rank"] for t in r["trials"]] == [1, 2]
    assert {t["params"]["lr"] for t in r["trials"]} == {3e-3, 1e-5}
    accs = [t["best_val_acc"] for t in r["trials"]]
    assert accs == sorted(accs, reverse=True)
    for t in r["trials"]:
        assert (Path(t["output"]) / "best.pt").exists()
    rows = list(csv.DictReader(open(out / "tune.csv")))
    assert [row["rank"] for row in rows] == ["1", "2"]


def test_flip_map_trains_a_flipped_clip_as_its_partner_class(tmp_path):
    """With ``flip_map``, a horizontally flipped training clip carries the label of the class the flip turns it into.
    Two still classes that are mirror images (dark|bright and bright|dark): every clip handed out must look like its
    label, flipped or not, and both must happen."""
    from videolens.classify.clips import ClipDataset
    from videolens.classify.training import flip_labels
    from videolens.classify.transforms import Preprocessing

    rows = []
    for cls, dark_left in (("dark_left", True), ("dark_right", False)):
        (tmp_path / cls).mkdir()
        frame = np.full((32, 32, 3), 230, np.uint8)
        frame[:, slice(0, 16) if dark_left else slice(16, 32)] = 20
        for k in range(3):
            name = f"{cls}/{k}.mp4"
            with VideoWriter(tmp_path / name, fps=25, size=(32, 32)) as w:
                for _ in range(6):
                    w.write(frame)
            rows.append((name, cls, "train"))
    ds = load_dataset(_write_list(tmp_path / "list.csv", rows))
    classes = ds.classes
    labels = flip_labels({"dark_left": "dark_right"}, classes)
    assert labels == {0: 1, 1: 0}
    pre = Preprocessing(frames=4, size=32, area=(1.0, 1.0))
    items = ClipDataset(ds.train, pre, train=True, flip=True, seed=0, flip_labels=labels)
    seen = set()
    for epoch in range(4):
        for i in range(len(items)):
            clip, label, _, err = items[(epoch, i)]
            assert err is None, err
            looks_dark_left = bool(clip[:, :, :, :16].mean() < clip[:, :, :, 16:].mean())
            assert looks_dark_left == (classes[label] == "dark_left"), (epoch, i, classes[label])
            seen.add((ds.train[i].label == label))
    assert seen == {True, False}          # both flipped (label changed) and unflipped clips were drawn
    with pytest.raises(VideolensError, match="not a class"):
        flip_labels({"dark_left": "up"}, classes)
    with pytest.raises(VideolensError, match="more than one"):
        flip_labels({"dark_left": "dark_right", "dark_right": "dark_left", "x": "dark_left"}, [*classes, "x"])
    # from the CLI: the map reaches the run's config; a malformed map or an unknown class is a one-line error
    from conftest import run_cli

    data = tmp_path / "list.csv"
    common = ("--model", "c3d", "--frames", "4", "--size", "32", "--epochs", "1", "--model-arg", "width=4",
              "--workers", "0", "--quiet")
    res = run_cli("train", "--data", data, "-o", tmp_path / "run", "--flip-map", "dark_left:dark_right", *common)
    assert res.code == 0, res
    assert "dark_left: dark_right" in (tmp_path / "run" / "config.yaml").read_text()
    res = run_cli("train", "--data", data, "-o", tmp_path / "bad", "--flip-map", "dark_left", *common)
    assert res.code == 2 and "A:B" in res.err and "Traceback" not in res.err, res
    res = run_cli("train", "--data", data, "-o", tmp_path / "bad", "--flip-map", "dark_left:up", *common)
    _one_line_error(res, "'up'", "dark_left")
