"""A fast subset of bench/fuzz.py (issue 17): damaged copies of real clips through the CLI, in this process.

Every command on every copy exits 0, 1 or 2, never lets an exception escape, and reports an error on exactly one
stderr line that names the file. The damage comes from bench/_damage.py, seeded per case. The regression tests
below replay copies on which the fuzzer found bugs.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pytest

from conftest import ROOT, SAMPLE, run_cli, shared

sys.path.insert(0, str(ROOT / "bench"))
import fuzz  # noqa: E402
from _damage import DAMAGE, KINDS, damage, header_span, plan  # noqa: E402

from videolens import VideoReader  # noqa: E402

# Short clips of several containers and codecs; the sample (18 s) only goes through info.
SHORT = {"brbk7n.mpg": ("speech", "GRID", "brbk7n.mpg"), "counter.mp4": ("shots", "counter.mp4"),
         "goldeneye-vfr-drop3.mp4": ("shots", "goldeneye-vfr-drop3.mp4"),
         "ucf_style_sample.avi": ("actions", "ucf_style_sample.avi")}


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict:
    paths = {name: shared(*parts) for name, parts in SHORT.items()}
    paths["counter.mkv"] = fuzz.remux(paths["counter.mp4"], tmp_path_factory.mktemp("remux") / "counter.mkv")
    return paths


def test_damage_is_seeded_and_does_what_it_says():
    data = SAMPLE.read_bytes()
    for kind in KINDS:
        a, b = damage(data, kind, 5), damage(data, kind, 5)
        assert a == b and a != data and a != damage(data, kind, 6), kind
    assert len(damage(data, "truncate", 1)) < len(data) < len(damage(data, "duplicate", 1))
    for kind in ("flip", "zero", "header", "splice"):
        assert len(damage(data, kind, 2)) == len(data), kind
    a, z = header_span(data)        # the sample is fast-start: its moov box is near the front
    assert data[a + 4: a + 8] == b"moov" and 0 < a < z < len(data) // 2
    changed = [k for k, (x, y) in enumerate(zip(data, damage(data, "header", 3))) if x != y]
    assert changed and a <= min(changed) and max(changed) < z
    zeroed = damage(data, "zero", 4)
    assert zeroed.count(0) > data.count(0)
    cases = plan(list(SHORT), 48, seed=9)
    assert cases == plan(list(SHORT), 48, seed=9) and set(DAMAGE) == set(KINDS)
    cells = [(s, k) for s, k, _ in cases]
    assert max(cells.count(c) for c in cells) <= 3 and {k for _, k in cells} == set(KINDS)   # 48 cases, 24 cells


def _check(args: list[str], path: str) -> tuple[str, float]:
    """One in-process CLI run: its outcome as bench/fuzz.py names it, and its seconds."""
    t = time.perf_counter()
    try:
        res = run_cli(*args)
        code, err = res.code, res.err
    except Exception as e:  # noqa: BLE001 - escaping main() is the failure this test looks for
        code, err = 3, f"Traceback (most recent call last)\n{type(e).__name__}: {e}"
    return fuzz.classify(code, err, path) + ("" if code in (0, 1, 2) else f" {err[-300:]}"), time.perf_counter() - t


def test_damaged_copies_through_info_shots_and_analyze(sources, tmp_path):
    """60 copies through info; 30 of them (short clips) through shots; 3 through analyze --no-speech."""
    cases = plan([*sources, "sample.mp4"], 60, seed=20261207)
    paths = {**sources, "sample.mp4": SAMPLE}
    bad, outcomes, shots_runs, analyze_runs = [], {}, 0, 0
    for k, (source, kind, seed) in enumerate(cases):
        src = paths[source]
        path = tmp_path / f"{k:02d}-{kind}-{seed}{src.suffix}"
        path.write_bytes(damage(src.read_bytes(), kind, seed))
        commands = [["info", path]]
        if source != "sample.mp4" and k % 2 == 0:
            commands.append(["shots", path, "-o", tmp_path / f"shots{k}", "--quiet"])
        if source == "brbk7n.mpg" and analyze_runs < 3 and kind != "truncate":
            commands.append(["analyze", "--no-speech", "--no-faces", path, "-o", tmp_path / f"an{k}", "--quiet"])
            analyze_runs += 1
        for args in commands:
            outcome, seconds = _check([str(a) for a in args], str(path))
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            shots_runs += args[0] == "shots"
            if outcome not in fuzz.GOOD or seconds > 60:
                bad.append(f"{path.name} {args[0]}: {outcome} ({seconds:.1f} s)")
    assert not bad, "\n".join(bad)
    assert shots_runs >= 25 and analyze_runs == 3
    assert outcomes.get("exit0", 0) > 0 and outcomes.get("exit2", 0) > 0, outcomes   # both kinds of copy were seen


def test_broken_gop_is_not_decoded_again_for_each_missing_frame(tmp_path):
    """A chunk of the sample moved elsewhere leaves 275 of its 450 frames undecodable, most of them after the last
    good frame of their GOP: each used to re-decode from earlier keyframes (551 seeks, 132,000 failed packet
    decodes, 25 s for `videolens shots`; over a minute on the busy machine)."""
    bad = tmp_path / "spliced.mp4"
    bad.write_bytes(damage(SAMPLE.read_bytes(), "splice", 1592700839))     # bench/fuzz.py --seed 0, case 1
    reader = VideoReader(bad)
    frames = np.concatenate([b.frames for b in reader.iter_frames(size=64, batch=64)])
    assert len(frames) == len(reader) and reader.bad_frames > len(reader) // 4
    assert reader.stats["seeks"] < 20 and reader.stats["errors"] < 2 * len(reader), reader.stats
    # Random access agrees with the sequential pass: a missing frame stands in by the same earlier frame.
    picks = np.random.default_rng(3).choice(len(reader), 12, replace=False)
    again = VideoReader(reader.path).get_frames(picks, size=64)
    np.testing.assert_array_equal(again, frames[picks])


def test_partly_readable_file_is_analyzed_and_its_bad_frames_counted(tmp_path):
    """A spliced VFR clip: analyze exits 0, and report.json's stream section counts the frames that failed."""
    bad = tmp_path / "spliced.mp4"
    bad.write_bytes(damage(shared("shots", "goldeneye-vfr-drop3.mp4").read_bytes(), "splice", 1549384412))
    res = run_cli("analyze", "--no-speech", "--no-faces", bad, "-o", tmp_path / "out", "--quiet")
    assert res.code == 0, res
    report = json.loads((tmp_path / "out" / "spliced" / "report.json").read_text())
    reader = VideoReader(bad)
    for _ in reader.iter_frames(size=32, batch=64):
        pass
    assert 0 < report["stream"]["bad_frames"] == reader.bad_frames < report["stream"]["frames"] == len(reader)
    assert report["shots"] is not None and report["summary"]["frames"] == len(reader)
