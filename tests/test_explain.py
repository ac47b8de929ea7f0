"""``videolens explain`` (videolens.classify.explain): saliency over space and time for the classify models.

A tiny c3d and a tiny transformer are trained for real on a small generated ``motion`` set (non-square frames, so
that crops tile the frame in both directions, and clips shorter than the video, so that they overlap in time); the
command runs in-process and its files are read back: the overlay video decoded, the JPEGs and the PNG opened.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from videolens.classify.explain import box_mass, dilate_box, evidence_frames
from videolens.datasets import make_dataset
from videolens.io.reader import VideoReader

SIZE, FRAMES = (48, 32), 10      # the videos: 48x32, 10 frames; the models see 4 frames 2 apart, 32 px


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("explain")
    make_dataset("motion", root / "data", seed=3, num=3, size=SIZE, frames=FRAMES, progress=False)
    return root


def _train(root: Path, model: str, epochs: int, args: dict) -> Path:
    from videolens.classify import train

    torch.set_num_threads(1)
    r = train(str(root / "data"), model, root / model, overwrite=True, quiet=True, frames=4, stride=2, size=32,
              epochs=epochs, batch_size=6, flip=False, crop_area=1.0, patience=0, model_args=args, seed=0,
              workers=0, lr=1e-3)     # pinned: the family recipes' lr would change the tiny model these checks see
    return Path(r.best)


@pytest.fixture(scope="module")
def c3d(tiny) -> Path:
    return _train(tiny, "c3d", 2, {"width": 8})


def _video(tiny: Path) -> Path:
    return tiny / "data" / "move_left" / "move_left_0002.mp4"


def _one_line_error(res, *needles: str) -> None:
    assert res.code == 2, res
    assert res.err.count("\n") == 1 and "Traceback" not in res.err, res.err
    for n in needles:
        assert n in res.err, (n, res.err)


def test_explain_c3d_writes_overlay_curve_and_evidence(c3d, tiny, tmp_path, cli):
    from PIL import Image

    video, out = _video(tiny), tmp_path / "out"
    res = cli("explain", c3d, video, "-o", out, "--class", "move_left", "--json", "--quiet")   # the clip's class
    assert res.code == 0, res
    doc = res.json()
    assert doc == json.loads((out / "explain.json").read_text())
    with VideoReader(video) as r:
        timestamps, n = r.timestamps, len(r)
        original = r.get_frames(np.arange(n))
    assert n == FRAMES and doc["frames"] == FRAMES
    assert doc["model"] == "c3d" and doc["method"] == "guided-gradcam" and doc["layer"] == "features.6"
    assert doc["note"] is None
    assert doc["class"] == "move_left" and 0 < doc["score"] < 1
    assert doc["size"] == list(SIZE) and doc["analysis_size"] == [56, 37]      # short side 37 = round(32 * 8 / 7)
    assert doc["views"]["clips"] == 2 and doc["views"]["crops"] == 4           # 2 clips of 7 frames, 2 x 2 crops
    # the curve: one value per frame, at the frames' times, the largest 1
    imp = np.array(doc["importance"])
    assert imp.shape == (FRAMES,) and np.all(imp >= 0) and imp.max() == pytest.approx(1.0)
    np.testing.assert_allclose(doc["times"], timestamps, atol=1e-4)
    # the overlay: every frame, at the video's size, the heat map blended in
    with VideoReader(out / "overlay.mp4") as r:
        assert len(r) == FRAMES and r.size == SIZE
        np.testing.assert_allclose(r.timestamps, timestamps, atol=1e-3)
        overlay = r.get_frames(np.arange(FRAMES))
    diff = np.abs(overlay.astype(float) - original.astype(float)).mean(axis=(1, 2, 3))
    assert diff[np.argmax(imp)] > 3, diff
    # the evidence frames: the 5 most important, best first, no two neighbours (10 // (2 * 5) = 1 apart)
    ev = doc["evidence"]
    assert [e["frame"] for e in ev] == evidence_frames(imp, 5) and len(ev) == 5
    assert all(abs(a["frame"] - b["frame"]) > 1 for a in ev for b in ev if a is not b)
    assert [e["importance"] for e in ev] == sorted((e["importance"] for e in ev), reverse=True)
    for e in ev:
        assert e["importance"] == doc["importance"][e["frame"]]
        with Image.open(out / e["file"]) as im:
            assert im.format == "JPEG" and im.size == SIZE
            jpg = np.asarray(im.convert("RGB"), dtype=float)
        if e is ev[0]:   # the frame with the most heat: the overlay frame (both lossy), not the plain one
            assert np.abs(jpg - overlay[e["frame"]]).mean() < np.abs(jpg - original[e["frame"]]).mean()
    assert sorted(p.name for p in (out / "evidence").iterdir()) == sorted(Path(e["file"]).name for e in ev)
    with Image.open(out / "importance.png") as im:
        assert im.format == "PNG" and im.size == (800, 300)
    assert not [p for p in out.rglob(".*")]                         # no temporary files left


def test_explain_other_class_and_method_and_refusals(c3d, tiny, tmp_path, cli):
    video, out = _video(tiny), tmp_path / "out"
    res = cli("explain", c3d, video, "-o", out, "--class", "static", "--method", "gradxinput", "--top", "2",
              "--json", "--quiet")
    assert res.code == 0, res
    doc = res.json()
    assert doc["class"] == "static" and doc["method"] == "gradxinput" and doc["layer"] is None
    res1 = cli("explain", c3d, video, "-o", tmp_path / "d", "--method", "gradxinput", "--json", "--quiet")
    assert res1.code == 0 and res1.json()["class"] == res1.json()["top5"][0]["label"]   # default: the predicted one
    assert len(doc["evidence"]) == 2 and len(doc["importance"]) == FRAMES
    # the same class by the other method gives another map
    res2 = cli("explain", c3d, video, "-o", tmp_path / "g", "--class", "static", "--json", "--quiet")
    assert res2.code == 0 and res2.json()["importance"] != doc["importance"]
    # Grad-CAM on another layer: c3d's last block has a single time step, so each clip's map is the same in all its
    # frames: constant over frames 0-2 (first clip only), 3-6 (both clips: their mean) and 7-9 (second clip only)
    res3 = cli("explain", c3d, video, "-o", tmp_path / "l", "--method", "gradcam", "--layer", "features.14", "--json",
               "--quiet")
    assert res3.code == 0 and res3.json()["layer"] == "features.14"
    imp3 = np.array(res3.json()["importance"])
    for part in (imp3[0:3], imp3[3:7], imp3[7:10]):
        np.testing.assert_allclose(part, part[0], atol=2e-5)
    # an existing output, a bad class, a garbage checkpoint, an unreadable video: one line naming it, exit 2
    _one_line_error(cli("explain", c3d, video, "-o", out, "--quiet"), "overlay.mp4", "--overwrite")
    _one_line_error(cli("explain", c3d, video, "-o", tmp_path / "x", "--class", "jump"), "jump", "move_left")
    _one_line_error(cli("explain", c3d, video, "-o", tmp_path / "x", "--layer", "nope"), "nope")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(np.random.default_rng(5).bytes(3000))
    _one_line_error(cli("explain", garbage, video, "-o", tmp_path / "x"), "garbage.pt")
    _one_line_error(cli("explain", tmp_path / "none.pt", video, "-o", tmp_path / "x"), "none.pt")
    bad_video = tmp_path / "bad.mp4"
    bad_video.write_bytes(np.random.default_rng(6).bytes(3000))
    _one_line_error(cli("explain", c3d, bad_video, "-o", tmp_path / "x"), "bad.mp4")
    assert not (tmp_path / "x").exists()


def test_guided_gradcam_is_gradcam_sharpened_inside_its_own_map(c3d, tiny):
    """Guided Grad-CAM is Grad-CAM times guided backpropagation: zero wherever Grad-CAM is zero, not Grad-CAM itself,
    and the model's ReLUs are left as they were (same outputs after, no patched forward left behind)."""
    from videolens.classify import load_checkpoint
    from videolens.classify.explain import explain

    ckpt = load_checkpoint(c3d, "cpu")
    model = ckpt.model.eval()
    x = torch.randn(1, 3, 4, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = model(x)
    g = explain(ckpt, _video(tiny), method="gradcam", target="move_left", quiet=True)
    gg = explain(ckpt, _video(tiny), method="guided-gradcam", target="move_left", quiet=True)
    assert gg.method == "guided-gradcam" and gg.layer == g.layer == "features.6"
    assert gg.saliency.shape == g.saliency.shape and gg.saliency.max() > 0
    assert np.all(gg.saliency[g.saliency == 0] == 0)
    a, b = g.saliency.ravel(), gg.saliency.ravel()
    assert np.corrcoef(a, b)[0, 1] < 0.99          # sharpened: not a rescaled copy of Grad-CAM
    relus = [m for m in model.modules() if isinstance(m, torch.nn.ReLU)]
    assert relus and not any("forward" in vars(m) for m in relus)
    with torch.no_grad():
        torch.testing.assert_close(model(x), before)


def test_transformer_falls_back_to_gradient_x_input(tiny, tmp_path):
    from videolens.classify.explain import explain

    ckpt = _train(tiny, "transformer", 1, {"dim": 16, "depth": 1, "heads": 2})
    e = explain(ckpt, _video(tiny), quiet=True)
    assert e.method == "gradxinput" and e.layer is None and "attention" in e.note
    assert e.saliency.shape == (FRAMES, 37, 56) and np.all(e.saliency >= 0) and e.saliency.max() > 0
    assert e.importance.shape == (FRAMES,) and e.importance.max() == pytest.approx(1.0)


def test_box_mass_on_a_hand_built_map():
    m = np.zeros((10, 10))
    m[4, 4] = 1.0            # inside the box (4, 4, 6, 6)
    m[5, 5] = 1.0
    m[3, 4] = 1.0            # the row just above it: a quarter of it falls in the box dilated by 25 %
    m[0, 9] = 1.0            # far away
    assert box_mass(m, (4, 4, 6, 6)) == pytest.approx(0.5)
    assert dilate_box((4, 4, 6, 6), 0.25) == (3.75, 3.75, 6.25, 6.25)
    assert box_mass(m, (4, 4, 6, 6), dilate=0.25) == pytest.approx((2 + 0.25) / 4)
    assert box_mass(m, (0, 0, 10, 10)) == pytest.approx(1.0)
    assert box_mass(m, (4.5, 4, 6, 6)) == pytest.approx(1.5 / 4)   # half of pixel (4, 4) is in
    assert math.isnan(box_mass(np.zeros((4, 4)), (0, 0, 2, 2)))
    # a box in frame pixels, on a map at another size
    from videolens.classify.explain import Explanation

    e = Explanation("v.mp4", "c.pt", "c3d", "gradcam", "features.14", "a", 0, 1.0, [], (48, 32), 25.0,
                    np.zeros(1), np.zeros((1, 16, 24), np.float32), np.ones(1, np.float32))
    assert e.box_in_map((12, 8, 24, 32)) == (6.0, 4.0, 12.0, 16.0)
