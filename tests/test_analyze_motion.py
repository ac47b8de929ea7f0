"""MotionAnalyzer: activity per second, checked against an independent OpenCV computation and the sample's cuts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import ROOT, SAMPLE

from videolens.analyze import MotionAnalyzer, run_analyzers
from videolens.io.writer import VideoWriter


@pytest.fixture(scope="module")
def still_then_moving(tmp_path_factory):
    """2 s of a still textured picture, then 2 s of a bright square moving 4 px per frame over it (25 fps)."""
    path = tmp_path_factory.mktemp("motion") / "still_then_moving.mp4"
    rng = np.random.default_rng(0)
    bg = (rng.integers(60, 120, (12, 16, 3)).repeat(8, 0).repeat(8, 1)).astype(np.uint8)   # 128x96 blocks
    with VideoWriter(path, fps=25, size=(128, 96), crf=12) as w:
        for i in range(100):
            frame = bg.copy()
            if i >= 50:
                x = 4 * (i - 50) % 100
                frame[30:62, x:x + 28] = 250
            w.write(frame)
    return path


def reference_activity(path, short_side=64):
    """Mean |frame difference| per second, from OpenCV decoding and resizing (not the videolens reader)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    prev, sums, i = None, {}, 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        h, w = bgr.shape[:2]
        s = short_side / min(h, w)
        g = cv2.cvtColor(cv2.resize(bgr, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA),
                         cv2.COLOR_BGR2GRAY).astype(np.float64)
        if prev is not None:
            sums.setdefault(int(i / fps), []).append(np.abs(g - prev).mean() / 255)
        prev, i = g, i + 1
    return {k: float(np.mean(v)) for k, v in sums.items()}


def test_activity_is_low_when_still_and_high_when_moving(still_then_moving):
    result = run_analyzers(still_then_moving, [MotionAnalyzer()], quiet=True).results["motion"].to_dict()
    per = {p["second"]: p["activity"] for p in result["per_second"]}
    assert sorted(per) == [0, 1, 2, 3]
    assert per[0] < 0.002 and per[1] < 0.002
    assert per[2] > 0.008 and per[3] > 0.008     # two 4x32 px strips change by ~160 levels per frame
    assert result["peak_second"] in (2, 3)
    ref = reference_activity(still_then_moving)
    for s, value in per.items():
        assert value == pytest.approx(ref[s], rel=0.25, abs=0.002)


def test_batching_does_not_change_results_and_stride_compares_further_apart(still_then_moving):
    def motion(**kw):
        a = MotionAnalyzer(stride=kw.pop("stride", 1))
        a.batch_size = kw.pop("batch_size", 32)
        return run_analyzers(still_then_moving, [a], quiet=True).results["motion"].to_dict()

    one_by_one, batched, every_2nd = motion(batch_size=1), motion(batch_size=7), motion(stride=2)
    assert one_by_one == batched
    per1 = {p["second"]: p["activity"] for p in batched["per_second"]}
    per2 = {p["second"]: p["activity"] for p in every_2nd["per_second"]}
    assert every_2nd["stride"] == 2 and sorted(per2) == [0, 1, 2, 3]
    # The square moves twice as far between compared frames (its footprints barely overlap either way).
    assert per2[3] == pytest.approx(2 * per1[3], rel=0.3)


def test_cuts_show_as_spikes_on_the_sample():
    truth = json.loads((ROOT / "samples" / "sample.json").read_text())
    per = run_analyzers(SAMPLE, [MotionAnalyzer()], quiet=True).results["motion"].to_dict()["per_second"]
    assert [p["second"] for p in per] == list(range(18))
    cut_seconds = {int(t["start"] / truth["fps"]) for t in truth["transitions"]}
    act = np.asarray([p["activity"] for p in per])
    quiet = np.median([a for s, a in enumerate(act) if s not in cut_seconds])
    assert all(act[s] > 2 * quiet for s in cut_seconds)
    assert set(np.argsort(act)[-len(cut_seconds):].tolist()) == cut_seconds
