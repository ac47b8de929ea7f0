"""The learned detector: shipped ONNX weights, streaming in chunks, accuracy on unseen edits, and its training."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import ROOT, SAMPLE
from videolens.shots import detect, evaluate, make_detector
from videolens.shots.learned import DEFAULT_MODEL, TYPES, LearnedDetector, model_info, transitions_from_probs


def test_weights_ship_with_the_package_and_say_how_they_were_trained():
    assert DEFAULT_MODEL.exists() and DEFAULT_MODEL.parent == ROOT / "videolens" / "shots" / "weights"
    assert DEFAULT_MODEL.stat().st_size < 3_000_000                  # a few MB at most
    info = model_info()
    assert info["command"].startswith(".venv/bin/python scripts/train_shots.py")
    assert info["max_abs_diff_vs_torch"] < 1e-4
    assert info["dev_scores"]["cut"]["f1"] > 0.9
    # pyproject ships *.onnx and *.json package data; auto.json names the development set it was chosen on.
    assert '"**/*.onnx"' in (ROOT / "pyproject.toml").read_text()
    auto = json.loads((DEFAULT_MODEL.parent / "auto.json").read_text())
    assert auto["members"][0]["detector"] and "development" in auto["chosen_on"]
    # The default detector is built from that file, member by member, with the settings chosen there.
    settings = make_detector("auto").settings()
    assert [m["detector"] for m in settings["members"]] == [m["detector"] for m in auto["members"]]
    for member, spec in zip(settings["members"], auto["members"]):
        assert all(member[k] == v for k, v in spec.items()), (member, spec)


def test_min_gradual_and_cut_threshold_filter_the_probability_runs():
    # Runs of frames >= threshold/2 that reach the threshold: a weak cut (peak 0.5), a 2-frame "dissolve" (motion),
    # a strong cut (peak 0.95) and an 8-frame dissolve.
    p = np.zeros(40)
    p[5] = 0.5
    p[10:12] = [0.6, 0.7]
    p[20] = 0.95
    p[28:36] = [0.3, 0.5, 0.8, 0.9, 0.9, 0.8, 0.5, 0.3]
    types = np.tile(np.eye(len(TYPES))[TYPES.index("cut")], (40, 1))
    types[10:12] = types[28:36] = np.eye(len(TYPES))[TYPES.index("dissolve")]

    def found(**kw):
        return [(t.type, t.start, t.end) for t in transitions_from_probs(p, types, 0.4, **kw)]

    assert found() == [("cut", 5, 5), ("dissolve", 10, 11), ("cut", 20, 20), ("dissolve", 28, 35)]
    assert found(min_gradual=3) == [("cut", 5, 5), ("cut", 20, 20), ("dissolve", 28, 35)]
    assert found(min_gradual=9) == [("cut", 5, 5), ("cut", 20, 20)]
    assert found(cut_threshold=0.9) == [("dissolve", 10, 11), ("cut", 20, 20), ("dissolve", 28, 35)]
    # Both reach the detector (and auto.json's members) as settings; bad values are refused.
    det = LearnedDetector(min_gradual=6, cut_threshold=0.8)
    assert det.settings()["min_gradual"] == 6 and det.settings()["cut_threshold"] == 0.8
    for bad in ({"min_gradual": 0}, {"cut_threshold": 1.5}):
        with pytest.raises(ValueError):
            LearnedDetector(**bad)


def test_chunked_streaming_equals_one_long_window():
    # Chunks of 37 frames (with 40 frames of context either side) give the probabilities of one 1000-frame chunk.
    small = detect(SAMPLE, LearnedDetector(chunk=37))
    big = detect(SAMPLE, LearnedDetector(chunk=1000))
    assert small.scores["transition_prob"].shape == (450,)
    np.testing.assert_allclose(small.scores["transition_prob"], big.scores["transition_prob"], atol=1e-5)
    assert small.cuts == big.cuts == [75, 150, 225, 300, 375]


def test_learned_detector_on_unseen_generated_edits(tmp_path):
    # Procedural edits from a seed used nowhere in training or development: cuts, dissolves, fades and wipes.
    from videolens.datasets import make_dataset

    make_dataset("edits", tmp_path, seed=987, num=2, size=(320, 180), frames=250, progress=False)
    index = json.loads((tmp_path / "transitions.json").read_text())
    reports = [evaluate(detect(tmp_path / name, "learned"), truth) for name, truth in index.items()]
    tp = sum(r["all"]["tp"] for r in reports)
    n_truth = sum(r["all"]["tp"] + r["all"]["fn"] for r in reports)
    n_pred = sum(r["all"]["tp"] + r["all"]["fp"] for r in reports)
    assert n_truth >= 6
    assert tp / n_truth >= 0.8 and tp / n_pred >= 0.8, reports


def test_training_runs_is_deterministic_and_exports_to_onnx(tmp_path):
    torch = pytest.importorskip("torch")
    from videolens.datasets import make_dataset
    from videolens.shots import train as T

    make_dataset("edits", tmp_path / "data", seed=5, num=2, size=(96, 54), frames=60, progress=False)
    videos = T.load_edits_folder(tmp_path / "data")
    assert videos[0].frames.shape == (60, 27, 48, 3)
    shots = [s for v in videos for s in T.pure_segments(v)]
    assert shots and all(len(s) >= 8 for s in shots)
    runs = []
    for k in range(2):
        r = T.train(videos, shots, videos[:1], tmp_path / f"run{k}", steps=3, batch=2, window=32, eval_every=3,
                    seed=11, quiet=True)
        runs.append(torch.load(r["checkpoint"], weights_only=True)["model"])
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])            # --seed makes it repeatable
    rows = (tmp_path / "run0" / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,loss") and len(rows) == 2 and np.isfinite(float(rows[1].split(",")[1]))
    net = T.load_checkpoint(tmp_path / "run0" / "best.pt")
    info = T.export(net, tmp_path / "m.onnx", {"command": "test"})
    assert info["max_abs_diff_vs_torch"] < 1e-4 and (tmp_path / "m.json").exists()
    # The exported model plugs into the detector.
    result = detect(SAMPLE, LearnedDetector(model=tmp_path / "m.onnx"))
    assert result.frames == 450 and result.shots[0].start_frame == 0


def test_shipped_weights_read_back_into_torch_give_the_same_logits():
    """load_onnx_weights (how scripts/reexport_shots.py re-exports without retraining) recovers every layer, and
    the scatter-add histogram of the current graph equals the one-hot histogram it replaced."""
    torch = pytest.importorskip("torch")
    import onnxruntime as ort

    from videolens.io import VideoReader
    from videolens.shots import train as T
    from videolens.shots.model import HEIGHT, WIDTH

    net = T.load_onnx_weights(DEFAULT_MODEL, model_info()["config"])
    frames = np.stack([b.frames[0] for b in VideoReader(SAMPLE).iter_frames(end=200, size=(WIDTH, HEIGHT))])
    x = frames[None]
    got = net(torch.from_numpy(x)).detach().numpy()
    ref = ort.InferenceSession(str(DEFAULT_MODEL), providers=["CPUExecutionProvider"]).run(None, {"frames": x})[0]
    assert np.abs(got - ref).max() < 1e-4
    # The histogram: one count per pixel in its (r, g, b) // 64 bin, in r-major order.
    q = x[0].reshape(200, -1, 3).astype(np.int64) // 64
    counts = np.stack([np.bincount(row, minlength=64) for row in q[:, :, 0] * 16 + q[:, :, 1] * 4 + q[:, :, 2]])
    expect = counts / np.linalg.norm(counts, axis=1, keepdims=True)
    assert np.allclose(net._histogram(torch.from_numpy(x))[0].numpy(), expect, atol=1e-6)
