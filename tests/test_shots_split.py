"""``--split``: one file per shot, frame-accurate (first and last frame checked against the source), atomic."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import SAMPLE, shared
from videolens import VideoReader
from videolens.shots import split as split_mod
from videolens.shots.result import Transition, build_result
from videolens.shots.split import split_shots


def _result(path, cuts):
    r = VideoReader(path)
    return build_result(str(path), "test", [Transition("cut", c, c) for c in cuts], r.timestamps,
                        r.start_time + r.duration, r.fps)


def _closest(frame, source, candidates):
    """Which of the source frames ``candidates`` the frame looks like (mean absolute difference)."""
    d = [np.abs(frame.astype(float) - source[c].astype(float)).mean() for c in candidates]
    return candidates[int(np.argmin(d))], min(d)


def test_split_reencodes_between_keyframes_frame_accurately(tmp_path):
    # counter.mp4 has one keyframe (frame 0) and burns each frame's number into the picture: the pieces starting at
    # 10 and 20 must be re-encoded and must start and end on exactly the right frames.
    path = shared("shots", "counter.mp4")
    result = _result(path, [10, 20])
    pieces = split_shots(path, result, tmp_path)
    assert [(p["index"], p["method"], p["frames"]) for p in pieces] == [(0, "encode", 10), (1, "encode", 10),
                                                                       (2, "encode", 10)]
    src = VideoReader(path)
    source = {i: f for i, f in zip(range(30), src.get_frames(range(30), size=(480, 270)))}
    for p, shot in zip(pieces, result.shots):
        piece = VideoReader(p["path"])
        assert len(piece) == shot.frames
        first, last = piece.get_frames([0, len(piece) - 1], size=(480, 270))
        a, b = shot.start_frame, shot.end_frame
        assert _closest(first, source, [x for x in (a - 1, a, a + 1) if 0 <= x < 30])[0] == a
        assert _closest(last, source, [x for x in (b - 1, b, b + 1) if 0 <= x < 30])[0] == b
        assert piece.duration == pytest.approx(shot.duration, abs=1e-3)
    assert sorted(p.name for p in (tmp_path / "shots").iterdir()) == ["000.mp4", "001.mp4", "002.mp4"]


def test_split_stream_copies_whole_gops_bit_exactly(tmp_path):
    # sample.mp4 has keyframes at each of its cuts: every piece is a stream copy, identical frames, with audio.
    result = _result(SAMPLE, [75, 150, 225, 300, 375])
    pieces = split_shots(SAMPLE, result, tmp_path)
    assert {p["method"] for p in pieces} == {"copy"}
    src = VideoReader(SAMPLE)
    for p, shot in zip(pieces, result.shots):
        piece = VideoReader(p["path"])
        assert len(piece) == 75 and piece.info.audio and piece.info.audio[0].codec == "aac"
        got = piece.get_frames([0, 74])
        want = src.get_frames([shot.start_frame, shot.end_frame])
        assert np.array_equal(got, want)
    # VFR: times survive the copy (goldeneye: every 3rd frame dropped).
    vfr = shared("shots", "goldeneye-vfr-drop3.mp4")
    result = _result(vfr, [60, 140])
    pieces = split_shots(vfr, result, tmp_path / "vfr")
    assert [p["method"] for p in pieces] == ["copy", "copy", "copy"]
    assert VideoReader(pieces[1]["path"]).duration == pytest.approx(8.759 - 3.754, abs=2e-3)


def test_split_mixes_copy_and_encode_and_never_leaves_partial_files(tmp_path, monkeypatch, cli):
    # A cut between keyframes: 0-99 copies (keyframe at 0 and 100? no: 100 is not one), so check by the rule.
    result = _result(SAMPLE, [75, 110])
    pieces = split_shots(SAMPLE, result, tmp_path / "mixed")
    keys = set(VideoReader(SAMPLE).keyframes.tolist())
    for p in pieces:
        whole_gops = p["start_frame"] in keys and (p["end_frame"] + 1 in keys or p["end_frame"] == 449)
        assert p["method"] == ("copy" if whole_gops else "encode")
    assert [p["method"] for p in pieces] == ["copy", "encode", "encode"]
    src = VideoReader(SAMPLE)
    piece = VideoReader(pieces[1]["path"])
    assert len(piece) == 35
    source = {i: f for i, f in zip(range(73, 113), src.get_frames(range(73, 113)))}
    first, last = piece.get_frames([0, 34])
    assert _closest(first, source, [74, 75, 76])[0] == 75 and _closest(last, source, [108, 109, 110])[0] == 109

    # Interrupted half-way (Ctrl-C during the second piece): no shots/ folder, no temporary files left.
    real = split_mod._encode_piece
    calls = []

    def interrupted(*args, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(split_mod, "_encode_piece", interrupted)
    out = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        split_shots(SAMPLE, _result(SAMPLE, [60, 110, 200]), out, copy=False)
    assert not out.exists() or list(out.iterdir()) == []
    monkeypatch.undo()

    # Through the CLI: --split with the default detector.
    r = cli("shots", SAMPLE, "-o", tmp_path / "cli", "--split", "--quiet")
    assert r.code == 0, r
    assert sorted(p.name for p in (tmp_path / "cli" / "shots").iterdir()) == [f"{k:03d}.mp4" for k in range(6)]
