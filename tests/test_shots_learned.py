"""The learned detector: shipped ONNX weights, streaming in chunks, accuracy on unseen edits, and its training."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import ROOT, SAMPLE, require
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


@pytest.fixture(scope="module")
def unseen_edits(tmp_path_factory):
    """Procedural edits from a seed used nowhere in training or development: cuts, dissolves, fades and wipes."""
    from videolens.datasets import make_dataset

    folder = tmp_path_factory.mktemp("edits987")
    make_dataset("edits", folder, seed=987, num=2, size=(320, 180), frames=250, progress=False)
    return [(folder / name, truth) for name, truth in json.loads((folder / "transitions.json").read_text()).items()]


def test_learned_detector_on_unseen_generated_edits(unseen_edits):
    reports = [evaluate(detect(path, "learned"), truth) for path, truth in unseen_edits]
    tp = sum(r["all"]["tp"] for r in reports)
    n_truth = sum(r["all"]["tp"] + r["all"]["fn"] for r in reports)
    n_pred = sum(r["all"]["tp"] + r["all"]["fp"] for r in reports)
    assert n_truth >= 6
    assert tp / n_truth >= 0.8 and tp / n_pred >= 0.8, reports


def test_motion_check_keeps_every_edit_auto_finds(unseen_edits):
    """The motion check (auto.json) drops nothing that auto finds on unseen edits: recall there is unchanged."""
    from videolens.shots.detect import AutoDetector

    det = AutoDetector()
    assert det.motion_check is not None and det.settings()["motion_check"] == det.motion_check.settings()
    for path, truth in unseen_edits:
        checked = detect(path, AutoDetector())
        unchecked_det = AutoDetector()
        unchecked_det.motion_check = None
        unchecked = detect(path, unchecked_det)
        hits = [evaluate(r, truth)["all"]["tp"] for r in (checked, unchecked)]
        assert hits[0] == hits[1] and hits[0] >= 0.8 * len(truth["transitions"]), (path.name, hits)


def test_training_runs_is_deterministic_and_exports_to_onnx(tmp_path):
    torch = require("torch")
    from videolens.datasets import make_dataset
    from videolens.shots import train as T
    from videolens.shots.checkpoint import export, load_checkpoint

    make_dataset("edits", tmp_path / "data", seed=5, num=2, size=(96, 54), frames=60, progress=False)
    videos = T.load_edits_folder(tmp_path / "data")
    assert videos[0].frames.shape == (60, 27, 48, 3)
    shots = [s for v in videos for s in T.pure_segments(v)]
    assert shots and all(len(s) >= 8 for s in shots)
    runs = []
    for k in range(2):
        r = T.train(videos, shots, videos[:1], tmp_path / f"run{k}", steps=3, batch=2, window=32, eval_every=3,
                    seed=11, quiet=True)
        runs.append(torch.load(r["checkpoint"], weights_only=True)["state_dict"])
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])            # --seed makes it repeatable
    rows = (tmp_path / "run0" / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,loss") and len(rows) == 2 and np.isfinite(float(rows[1].split(",")[1]))
    net = load_checkpoint(tmp_path / "run0" / "best.pt")
    info = export(net, tmp_path / "m.onnx", {"command": "test"})
    assert info["max_abs_diff_vs_torch"] < 1e-4 and (tmp_path / "m.json").exists()
    # The exported model plugs into the detector.
    result = detect(SAMPLE, LearnedDetector(model=tmp_path / "m.onnx"))
    assert result.frames == 450 and result.shots[0].start_frame == 0


def test_training_resumes_exactly_and_refuses_to_overwrite(tmp_path):
    """Stop a run after its first checkpoint (Ctrl-C), resume it: the weights and metrics of an uninterrupted run."""
    torch = require("torch")
    from videolens.datasets import make_dataset
    from videolens.errors import VideolensError
    from videolens.shots import train as T

    make_dataset("edits", tmp_path / "data", seed=5, num=2, size=(96, 54), frames=60, progress=False)
    videos = T.load_edits_folder(tmp_path / "data")
    shots = [s for v in videos for s in T.pure_segments(v)]
    common = dict(steps=6, batch=2, window=32, eval_every=2, seed=3)
    straight = T.train(videos, shots, videos[:1], tmp_path / "straight", quiet=True, **common)

    def interrupt(message: str) -> None:
        raise KeyboardInterrupt(message)          # what Ctrl-C after the step-2 checkpoint does

    with pytest.raises(KeyboardInterrupt):
        T.train(videos, shots, videos[:1], tmp_path / "cut", log=interrupt, **common)
    assert torch.load(tmp_path / "cut" / "last.pt", weights_only=True)["step"] == 2
    with pytest.raises(VideolensError, match="a run is already there"):
        T.train(videos, shots, videos[:1], tmp_path / "cut", quiet=True, **common)
    with pytest.raises(VideolensError, match="steps=6"):
        T.train(videos, shots, videos[:1], tmp_path / "cut", quiet=True, resume=True, **{**common, "steps": 8})
    resumed = T.train(videos, shots, videos[:1], tmp_path / "cut", quiet=True, resume=True, **common)
    assert resumed["best"] == straight["best"]
    a, b = (torch.load(tmp_path / run / "last.pt", weights_only=True) for run in ("cut", "straight"))
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in a["history"]] == \
        [{k: v for k, v in r.items() if k != "seconds"} for r in b["history"]]
    for run in ("cut", "straight"):
        rows = (tmp_path / run / "metrics.csv").read_text().splitlines()
        assert [r.split(",")[0] for r in rows] == ["step", "2", "4", "6"]
        assert (tmp_path / run / "config.yaml").is_file() and any((tmp_path / run / "tensorboard").iterdir())


def test_bad_shot_checkpoints_are_refused_in_one_line(tmp_path):
    torch = require("torch")
    from videolens.errors import VideolensError
    from videolens.shots.checkpoint import FORMAT, load_checkpoint
    from videolens.shots.model import ShotNet

    good = tmp_path / "good.pt"
    torch.save({"format": FORMAT, "state_dict": ShotNet().state_dict(), "config": ShotNet().config}, good)
    assert load_checkpoint(good).config == ShotNet().config
    (tmp_path / "garbage.pt").write_bytes(np.random.default_rng(17).bytes(4096))    # IndexError inside torch
    (tmp_path / "cut.pt").write_bytes(good.read_bytes()[:good.stat().st_size // 2])
    torch.save({"format": "videolens-detector", "state_dict": {}}, tmp_path / "detector.pt")
    torch.save({"format": FORMAT, "state_dict": ShotNet(hidden=16).state_dict(), "config": ShotNet().config},
               tmp_path / "misfit.pt")
    torch.save(ShotNet().state_dict(), tmp_path / "bare.pt")
    for name, needle in (("garbage.pt", "not a readable videolens checkpoint"),
                         ("cut.pt", "not a readable videolens checkpoint"),
                         ("detector.pt", "a videolens detector checkpoint, not a shot model one"),
                         ("misfit.pt", "the weights do not fit model 'ShotNet' (size mismatch"),
                         ("bare.pt", "a state_dict without the model's settings"),
                         ("none.pt", "no such checkpoint")):
        with pytest.raises(VideolensError) as e:
            load_checkpoint(tmp_path / name)
        text = str(e.value)
        assert text.startswith(f"{tmp_path / name}: ") and needle in text and "\n" not in text, text


def test_shipped_weights_read_back_into_torch_give_the_same_logits():
    """load_onnx_weights (how scripts/reexport_shots.py re-exports without retraining) recovers every layer, and
    the scatter-add histogram of the current graph equals the one-hot histogram it replaced."""
    torch = require("torch")
    import onnxruntime as ort

    from videolens.io import VideoReader
    from videolens.shots.checkpoint import load_onnx_weights
    from videolens.shots.model import HEIGHT, WIDTH

    net = load_onnx_weights(DEFAULT_MODEL, model_info()["config"])
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
