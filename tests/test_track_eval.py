"""HOTA against TrackEval's algorithm (the `trackers` package's port, checked by its authors against TrackEval) on
PETS09's real ground truth and a real tracker's output; ``videolens track-eval`` on files and folders; bad files."""

from __future__ import annotations

import pytest
from conftest import require, run_cli, shared

from videolens.errors import VideolensError
from videolens.track import create_tracker, read_mot, track_sequence, write_mot
from videolens.track.metrics import evaluate_files, hota


FRAMES = 300     # of PETS09's 795: enough for every kind of error, and quick


@pytest.fixture(scope="module")
def pets_tracks(tmp_path_factory):
    """PETS09's gt.txt (its first 300 frames, as PETS09-S2L1/gt/gt.txt), and ocsort's tracks on its public
    detections, written as a MOTChallenge file."""
    root = shared("tracking", "PETS09-S2L1")
    tmp = tmp_path_factory.mktemp("pets_eval")
    det = read_mot(root / "det" / "det.txt")
    write_mot(track_sequence(create_tracker("ocsort", frame_rate=10), det, FRAMES).values(), tmp / "tracks.txt")
    gt = tmp / "PETS09-S2L1" / "gt" / "gt.txt"
    gt.parent.mkdir(parents=True)
    lines = (root / "gt" / "gt.txt").read_text().splitlines()
    gt.write_text("\n".join(line for line in lines if line.strip() and int(line.split(",")[0]) <= FRAMES) + "\n")
    return gt, tmp / "tracks.txt"


def test_hota_matches_trackeval(pets_tracks, tmp_path):
    evaluate_mot_sequence = require("trackers.eval", "the HOTA reference").evaluate_mot_sequence

    gt, pred = pets_tracks
    ours = hota(read_mot(gt), read_mot(pred))
    # MOT15 ground truth has no class column (columns 8-10 are world coordinates): TrackEval takes every row as a
    # pedestrian for MOT15; the port reads column 8 as the class, so it gets class 1 written in.
    rows = [line.split(",")[:7] + ["1", "1"] for line in gt.read_text().splitlines() if line.strip()]
    (tmp_path / "gt.txt").write_text("\n".join(",".join(r) for r in rows) + "\n")
    ref = evaluate_mot_sequence(tmp_path / "gt.txt", pred, metrics=["HOTA"]).HOTA
    assert 0.3 < ours["HOTA"] < 0.6                                    # a real, imperfect tracker
    for key in ("HOTA", "DetA", "AssA", "DetRe", "DetPr", "LocA"):
        assert ours[key] == pytest.approx(getattr(ref, key), abs=1e-3), key


def test_track_eval_command(pets_tracks, tmp_path):
    gt, pred = pets_tracks
    r = run_cli("track-eval", "--gt", gt, "--pred", pred, "--json")
    assert r.code == 0, r
    (row,) = r.json()["sequences"]
    assert row["sequence"] == "PETS09-S2L1" and 0.3 < row["MOTA"] < 1 and 0.3 < row["IDF1"] < 1
    assert row["HOTA"] == pytest.approx(hota(read_mot(gt), read_mot(pred))["HOTA"], abs=1e-4)
    r = run_cli("track-eval", "--gt", gt, "--pred", pred)
    assert r.code == 0 and "HOTA" in r.out and "PETS09-S2L1" in r.out, r
    # Folders: GT/SEQ/gt/gt.txt with PRED/SEQ.txt; two sequences and their combined score.
    for name in ("A", "B"):
        (tmp_path / "gt" / name / "gt").mkdir(parents=True)
        (tmp_path / "gt" / name / "gt" / "gt.txt").write_text(gt.read_text())
        (tmp_path / "pred").mkdir(exist_ok=True)
        (tmp_path / "pred" / f"{name}.txt").write_text(pred.read_text())
    result = evaluate_files(tmp_path / "gt", tmp_path / "pred")
    assert [s["sequence"] for s in result["sequences"]] == ["A", "B"]
    assert result["combined"]["HOTA"] == pytest.approx(row["HOTA"], abs=1e-4)     # the same sequence twice
    assert result["combined"]["MOTA"] == pytest.approx(row["MOTA"], abs=1e-4)


def test_bad_mot_files_are_one_line_errors(tmp_path):
    bad = tmp_path / "tracks.txt"
    bad.write_text("1,1,10,10,20,20,1,-1,-1,-1\n2,1,ten,10,20,20,1,-1,-1,-1\n")
    with pytest.raises(VideolensError, match=r"tracks.txt:2: not a MOTChallenge row"):
        read_mot(bad)
    r = run_cli("track-eval", "--gt", bad, "--pred", bad)
    assert r.code == 2 and "tracks.txt:2" in r.err and "\n" not in r.err.strip(), r
    r = run_cli("track-eval", "--gt", bad, "--pred", tmp_path / "missing.txt")
    assert r.code == 2 and "missing.txt: no such tracks file" in r.err, r
    r = run_cli("track-eval", "--gt", tmp_path, "--pred", tmp_path / "missing.txt")
    assert r.code == 2 and "not a folder" in r.err, r


def test_read_mot_groups_rows_by_frame_in_file_order(tmp_path):
    # Rows of one frame need not be adjacent (a looped or merged file); within a frame they keep the file's order.
    f = tmp_path / "gt.txt"
    f.write_text("3,7,1,1,10,10,1,-1,-1,-1\n1,5,11,21,4,6,0.5,-1,-1,-1\n3,2,21,1,10,10,0.9,-1,-1,-1\n"
                 "1,9,1,1,2,2,-1,-1,-1,-1\n")
    boxes = read_mot(f, scale=2.0)
    assert sorted(boxes) == [0, 2]
    assert boxes[0].track_ids.tolist() == [5, 9] and boxes[2].track_ids.tolist() == [7, 2]
    assert boxes[0].xyxy.tolist() == [[20, 40, 28, 52], [0, 0, 4, 4]]
    assert boxes[0].scores.tolist() == [0.5, 1.0] and boxes[2].frame_index == 2
