"""Shot-boundary evaluation against hand-computed cases, ground-truth loading, and ``videolens shots-eval``."""

from __future__ import annotations

import json

import pytest

from conftest import SAMPLE, shared
from videolens import VideolensError
from videolens.shots import evaluate, load_truth


def cuts(*frames):
    return [{"type": "cut", "start": f, "end": f} for f in frames]


def test_cuts_within_tolerance_by_hand():
    # 10 = 10 and 31 ~ 30 match; 50 is a false alarm; 70 is missed.  P = R = 2/3, F1 = 2/3.
    r = evaluate(cuts(10, 31, 50), cuts(10, 30, 70), tolerance=2)
    assert (r["cut"]["tp"], r["cut"]["fp"], r["cut"]["fn"]) == (2, 1, 1)
    assert r["cut"]["precision"] == r["cut"]["recall"] == r["cut"]["f1"] == pytest.approx(0.6667, abs=1e-4)
    assert r["missed"] == cuts(70) and r["false_alarms"] == cuts(50)
    # Tolerance 0: only the exact 10 matches. P = R = 1/3.
    r0 = evaluate(cuts(10, 31, 50), cuts(10, 30, 70), tolerance=0)
    assert r0["cut"]["tp"] == 1 and r0["cut"]["f1"] == pytest.approx(1 / 3, abs=1e-4)
    # Tolerance 3 does not let 50 reach 70 either.
    assert evaluate(cuts(10, 31, 50), cuts(10, 30, 70), tolerance=3)["cut"]["tp"] == 2


def test_matching_is_one_to_one_and_maximal():
    # Two detections around one cut: one hit, one false alarm (not two hits).
    r = evaluate(cuts(29, 31), cuts(30))
    assert (r["cut"]["tp"], r["cut"]["fp"], r["cut"]["fn"]) == (1, 1, 0)
    # 13 is near both 12 and 14, 11 only near 12: the best pairing is 11-12 and 13-14 (2 hits). Taking the nearest
    # detection for 12 first (13, distance 1, tied with 11) can leave 14 unmatched; a maximum matching does not.
    r = evaluate(cuts(13, 11), cuts(12, 14))
    assert r["cut"]["tp"] == 2 and r["cut"]["f1"] == 1.0


def test_gradual_overlap_and_types_by_hand():
    truth = [{"type": "dissolve", "start": 100, "end": 120}, {"type": "cut", "start": 50, "end": 50},
             {"type": "wipe", "start": 200, "end": 210}]
    pred = [
        {"type": "fade", "start": 118, "end": 125},      # overlaps the dissolve: a gradual hit (type within gradual ignored)
        {"type": "dissolve", "start": 49, "end": 52},    # where the cut is, but gradual: cut missed, gradual false alarm
        {"type": "wipe", "start": 213, "end": 220},      # 213 > 210 + 2: no overlap even with the tolerance
    ]
    r = evaluate(pred, truth, tolerance=2)
    assert (r["cut"]["tp"], r["cut"]["fp"], r["cut"]["fn"]) == (0, 0, 1)
    assert (r["gradual"]["tp"], r["gradual"]["fp"], r["gradual"]["fn"]) == (1, 2, 1)
    assert r["gradual"]["precision"] == pytest.approx(1 / 3, abs=1e-4)
    assert r["gradual"]["recall"] == pytest.approx(0.5)
    assert r["gradual"]["f1"] == pytest.approx(0.4)                # 2 * (1/3 * 1/2) / (1/3 + 1/2)
    # Ignoring types, the dissolve-at-49 finds the cut: 2 of 3 found, 2 of 3 right.
    assert (r["all"]["tp"], r["all"]["fp"], r["all"]["fn"]) == (2, 1, 1)
    # With tolerance 3 the wipe at 213 reaches 210.
    assert evaluate(pred, truth, tolerance=3)["gradual"]["tp"] == 2


def test_empty_cases_and_plain_frame_lists():
    assert evaluate([], [])["all"] == {"tp": 0, "fp": 0, "fn": 0, "precision": 1.0, "recall": 1.0, "f1": 1.0}
    r = evaluate([40], [])                        # plain ints are cuts
    assert r["cut"]["precision"] == 0.0 and r["cut"]["recall"] == 1.0 and r["cut"]["f1"] == 0.0
    r = evaluate([], {"transitions": cuts(5)})
    assert r["cut"]["recall"] == 0.0 and r["cut"]["fn"] == 1
    with pytest.raises(VideolensError, match="tolerance"):
        evaluate([], [], tolerance=-1)


def test_load_truth_formats(tmp_path):
    # The transitions.json schema, one video.
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"frames": 100, "fps": 25, "transitions": cuts(40)}))
    assert load_truth(one)["transitions"] == cuts(40)
    # An edits dataset index: keyed by file name.
    index = tmp_path / "transitions.json"
    index.write_text(json.dumps({"a.mp4": {"frames": 10, "fps": 25, "transitions": cuts(3)},
                                 "b.mp4": {"frames": 10, "fps": 25, "transitions": []}}))
    assert load_truth(index, "/somewhere/a.mp4")["transitions"] == cuts(3)
    with pytest.raises(VideolensError, match="no ground truth for 'c.mp4'.*a.mp4, b.mp4"):
        load_truth(index, "c.mp4")
    with pytest.raises(VideolensError, match="several videos"):
        load_truth(index)
    # cuts.json: hard cuts are cuts, 'gradual' one-frame gradual transitions; fade_scene_starts are not used.
    t = load_truth(shared("shots", "cuts.json"), "testvideo.mp4")
    assert [(x["type"], x["start"]) for x in t["transitions"]] == [("cut", 30), ("cut", 180), ("dissolve", 394)]
    # Broken files: one line naming the file.
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(VideolensError, match="bad.json: not valid JSON"):
        load_truth(bad)
    bad.write_text(json.dumps({"transitions": [{"type": "cut", "start": 9, "end": 3}]}))
    with pytest.raises(VideolensError, match="start 9 and end 3"):
        load_truth(bad)
    with pytest.raises(VideolensError, match="no such file"):
        load_truth(tmp_path / "missing.json")


def test_shots_eval_cli_on_sample_and_cuts_json(cli, tmp_path):
    r = cli("shots-eval", SAMPLE, "--truth", SAMPLE.with_suffix(".json"), "--json")
    assert r.code == 0, r
    doc = r.json()
    assert doc["cut"]["f1"] == 1.0 and doc["missed"] == [] and doc["false_alarms"] == []
    # Two clips against cuts.json (looked up by file name), human output with the pooled line.
    a, b = shared("shots", "goldeneye-vfr-drop3.mp4"), shared("shots", "issue-134-rotate.mp4")
    r = cli("shots-eval", a, b, "--truth", shared("shots", "cuts.json"), "--detector", "content")
    assert r.code == 0, r
    assert "all 2 videos" in r.out and "F1 1.000" in r.out
    # A truth file without this video: one line, exit 2.
    other = tmp_path / "t.json"
    other.write_text(json.dumps({"x.mp4": {"transitions": []}}))
    r = cli("shots-eval", SAMPLE, "--truth", other)
    assert r.code == 2 and "no ground truth for 'sample.mp4'" in r.err and "Traceback" not in r.err
