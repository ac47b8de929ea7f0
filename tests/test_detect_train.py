"""detect-train: a real (tiny) yolo training, checkpoints and resume, bad data, and torchvision's COCO weights."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from _detect_helpers import tiny_objects, tiny_yolo
from videolens.detect import Detections, load_detector
from videolens.errors import VideolensError


def test_tiny_yolo_learns_and_writes_a_complete_run(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    ckpt = tiny_yolo(base)
    run = ckpt.parent
    for name in ("last.pt", "best.pt", "metrics.csv", "config.yaml", "train.log"):
        assert (run / name).is_file(), name
    assert any((run / "tensorboard").iterdir())
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    # The loss falls from the first epoch to the second (real optimisation on real images; with this few steps,
    # mostly warm-up, by ~2 %: 7.99 -> 7.82).
    assert float(rows[1]["train_loss"]) < 0.99 * float(rows[0]["train_loss"])
    assert all(0.0 <= float(r["val_map50"]) <= 1.0 for r in rows)
    ck = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert ck["model"] == "yolo" and ck["class_names"] == ["circle", "square", "triangle"]
    assert ck["preprocess"]["imgsz"] == 160 and "optimizer" in ck["train_state"]
    # The checkpoint is a detector as it is, on frames of any size.
    det = load_detector(str(ckpt), conf=0.001)
    d = det(np.zeros((90, 200, 3), np.uint8))
    assert isinstance(d, Detections) and np.all(d.xyxy >= 0) and np.all(d.xyxy[:, [0, 2]] <= 200)
    assert set(d.class_names.tolist()) <= {"circle", "square", "triangle"}


def test_cli_train_resume_and_eval(tmp_path_factory, tmp_path, cli):
    data = tiny_objects(tmp_path_factory.getbasetemp()) / "images" / "annotations.json"
    run = tmp_path / "run"
    args = ["detect-train", "--data", data, "-o", run, "--epochs", "2", "--batch-size", "8", "--imgsz", "128",
            "--max-iters", "3", "--quiet", "--seed", "1"]
    r = cli(*args, "--json")
    assert r.code == 0, r
    assert r.json()["epochs"] == 1      # stopped inside epoch 1: one epoch run, not two
    first = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    # Stopped after 3 optimiser steps (inside epoch 1); the same command again refuses to overwrite the run.
    r = cli(*args)
    assert r.code == 2 and "already there" in r.err
    r = cli(*[a for a in args if a not in ("--max-iters", "3")], "--resume", "--json")
    assert r.code == 0, r
    summary = r.json()
    assert summary["epochs"] == 2 and summary["steps"] > 3
    second = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    assert second["epoch"] == 1 and first["epoch"] == 0
    assert [h["epoch"] for h in second["history"]] == [1, 2]
    r = cli("detect-eval", run / "best.pt", "--data", data, "--json", "-o", tmp_path / "eval")
    assert r.code == 0, r
    m = r.json()
    assert set(m["per_class"]) == {"circle", "square", "triangle"} and 0 <= m["map50"] <= 1
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["map"] == m["map"]


def test_bad_datasets_and_checkpoints_are_clear_errors(tmp_path_factory, tmp_path, cli):
    (tmp_path / "bad.json").write_text("{not json")
    r = cli("detect-train", "--data", tmp_path / "bad.json", "-o", tmp_path / "run", "--quiet")
    assert r.code == 2 and "bad.json: not valid JSON" in r.err and "Traceback" not in r.err
    (tmp_path / "fake.pt").write_bytes(b"PK\x03\x04 truncated")
    r = cli("detect", "whatever.mp4", "--model", tmp_path / "fake.pt", "-o", tmp_path / "o")
    assert r.code == 2 and "fake.pt: not a readable videolens checkpoint" in r.err
    r = cli("detect", "whatever.mp4", "--model", "yolo")
    assert r.code == 2 and "detect-train" in r.err
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(VideolensError, match="not a videolens detector checkpoint"):
        load_detector(str(tmp_path / "other.pt"))
    # Random bytes (this seed makes torch's unpickler raise IndexError), a real checkpoint cut short, a checkpoint
    # of another kind: one line each, naming the file, from every command that reads detector checkpoints.
    (tmp_path / "garbage.pt").write_bytes(np.random.default_rng(17).bytes(4096))
    real = tiny_yolo(tmp_path_factory.getbasetemp()).read_bytes()
    data = tiny_objects(tmp_path_factory.getbasetemp()) / "images" / "annotations.json"
    (tmp_path / "cut.pt").write_bytes(real[:len(real) // 2])
    torch.save({"format": "videolens.classify/1", "state_dict": {}}, tmp_path / "action.pt")
    for name, needle in (("garbage.pt", "not a readable videolens checkpoint"),
                         ("cut.pt", "not a readable videolens checkpoint"),
                         ("action.pt", "a videolens action checkpoint, not a detector one")):
        path = tmp_path / name
        for args in (["detect", "whatever.mp4", "--model", path, "-o", tmp_path / "o"],
                     ["detect-export", path, "-o", tmp_path / "m.onnx"],
                     ["detect-eval", path, "--data", data]):
            r = cli(*args)
            assert r.code == 2 and f"{path}: {needle}" in r.err and len(r.err.strip().splitlines()) == 1, (args, r)


def test_coco_weights_come_from_torch_home(tmp_path, monkeypatch):
    """--weights coco: the file in $TORCH_HOME/hub/checkpoints/ is what gets loaded; missing offline: its path."""
    import torchvision

    from videolens.detect.models import coco_weights_path

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    path = coco_weights_path("fasterrcnn")
    assert path == tmp_path / "torch" / "hub" / "checkpoints" / "fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth"
    # Offline and without the file: an error that names where to put it (the download fails fast here).
    import socket

    def no_network(*a, **k):
        raise OSError("network is unreachable")
    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(VideolensError) as e:
        load_detector("fasterrcnn", weights="coco")
    assert str(path) in str(e.value)
    # A state dict saved under that name is loaded, with torchvision's COCO class names.
    net = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None,
                                                                        num_classes=91)
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.manual_seed(0)
    state["roi_heads.box_predictor.cls_score.bias"] = torch.randn(91)
    path.parent.mkdir(parents=True, exist_ok=True)   # the failed download attempt made the folder
    torch.save(state, path)
    det = load_detector("fasterrcnn", weights="coco", imgsz=160)
    loaded = det.model.net.state_dict()
    assert torch.equal(loaded["roi_heads.box_predictor.cls_score.bias"], state["roi_heads.box_predictor.cls_score.bias"])
    assert torch.equal(loaded["backbone.body.0.0.weight"], state["backbone.body.0.0.weight"])
    assert det.class_names[0] == "person" and len(det.class_names) == 90
    assert isinstance(det(np.zeros((120, 160, 3), np.uint8)), Detections)


def test_same_seed_same_weights(tmp_path_factory, tmp_path):
    from videolens.detect.train import TrainConfig, train

    data = tiny_objects(tmp_path_factory.getbasetemp()) / "images" / "annotations.json"
    states = []
    for k in range(2):
        run = tmp_path / f"run{k}"
        train(TrainConfig(data=str(data), output=str(run), epochs=1, batch_size=4, imgsz=64, max_iters=2, seed=5,
                          quiet=True))
        states.append(torch.load(run / "last.pt", map_location="cpu", weights_only=True)["train_state"]["model"])
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
