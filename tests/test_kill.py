"""Killed runs (a real SIGKILL to a real subprocess, not an exception): nothing that looks complete is half written,
and the next run (``--resume``) ends where an uninterrupted run ends.

- ``analyze``: a batch of 4 videos killed once the first report is there; ``--resume`` gives the reports of an
  uninterrupted run (apart from ``created`` and timings, compared as ``test_report_stability.py`` does).
- ``detect-train``, killed in its second epoch, and the shot trainer (``scripts/train_shots.py``), killed after
  its first checkpoint: ``--resume`` ends with the weights of an uninterrupted run with the same seed (CPU).
- ``transcribe`` of a batch killed once the first transcript is there: every ``transcript.*`` left is whole.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, run_cli
from test_report_stability import differences

from videolens.analyze import AnalyzeConfig, validate_report
from videolens.analyze.batch import is_complete


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 240, delay: float = 0.0) -> None:
    """SIGKILL ``proc`` once ``ready()`` holds (``delay`` seconds later); fail if it ended or never got there."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if ready():
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, f"not killed (exit {proc.returncode}): {err[-2000:]}"


def _timeless(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in ("seconds", "images_per_s")} for row in history]


def _comparable(report: dict) -> dict:
    return {k: v for k, v in report.items() if k not in ("created", "timings")}


@pytest.mark.slow
def test_analyze_batch_killed_then_resumed_equals_an_uninterrupted_run(tmp_path):
    from videolens.datasets import make_dataset

    make_dataset("edits", tmp_path / "in", seed=9, num=4, frames=90, size=(128, 72), progress=False)
    videos = sorted(str(p) for p in (tmp_path / "in").rglob("*.mp4"))
    assert len(videos) == 4
    out = tmp_path / "killed"
    proc = _start("-m", "videolens", "analyze", *videos, "-o", str(out), "--quiet")
    _kill_when(proc, lambda: any((d / "report.json").exists() for d in out.glob("[!.]*")))

    # Whatever carries a final name is a whole, valid report; the rest is under temporary names only.
    finals = [d for d in out.iterdir() if not d.name.startswith(".")]
    assert 1 <= len(finals) < 4, sorted(p.name for p in out.iterdir())
    for d in finals:
        video = next(v for v in videos if Path(v).stem == d.name)
        report = is_complete(d, video, AnalyzeConfig())
        assert report is not None, d
        validate_report(report)
    assert not (out / "summary.csv").exists()

    r = run_cli("analyze", *videos, "-o", out, "--resume", "--quiet", "--json")
    assert r.code == 0, r
    status = [v["status"] for v in r.json()["videos"]]
    assert status.count("skipped") == len(finals) and status.count("ok") == 4 - len(finals)
    assert "analyzing again" not in r.err
    assert sorted(p.name for p in out.iterdir()) == sorted([Path(v).stem for v in videos] + ["index.html",
                                                                                              "summary.csv"])
    r = run_cli("analyze", *videos, "-o", tmp_path / "straight", "--quiet")
    assert r.code == 0, r
    for v in videos:
        name = Path(v).stem
        a = json.loads((out / name / "report.json").read_text())
        b = json.loads((tmp_path / "straight" / name / "report.json").read_text())
        diff = differences(_comparable(b), _comparable(a))
        assert not diff, f"{name}:\n" + "\n".join(diff[:20])
        assert sorted(p.name for p in (out / name).iterdir()) == sorted(p.name for p in (tmp_path / "straight" /
                                                                                         name).iterdir())


@pytest.mark.slow
def test_detect_train_killed_mid_epoch_resumes_to_the_same_weights(tmp_path_factory, tmp_path, cli):
    import torch
    from _detect_helpers import tiny_objects

    data = tiny_objects(tmp_path_factory.getbasetemp()) / "images" / "annotations.json"
    common = ["--data", str(data), "--epochs", "3", "--batch-size", "8", "--imgsz", "64", "--seed", "2",
              "--workers", "0", "--quiet"]
    killed = tmp_path / "killed"
    # One torch thread in every run: the same arithmetic, and no oversubscribed cores when the machine is busy.
    proc = subprocess.Popen([sys.executable, "-m", "videolens", "detect-train", *common, "-o", str(killed)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
    # Killed as soon as the first epoch's checkpoint appears, inside the next epoch. An epoch of this set takes well
    # under a second on a fast CPU (a 0.3 s delay let a two-epoch run finish first), so the run has three epochs and
    # the kill may land after the first or the second checkpoint: either must resume to the same weights.
    _kill_when(proc, lambda: (killed / "last.pt").exists())
    saved = torch.load(killed / "last.pt", weights_only=True)["epoch"]
    assert saved < 2, "the run ended before it could be killed"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        r = cli("detect-train", *common, "-o", killed, "--resume", "--json")
        assert r.code == 0, r
        r = cli("detect-train", *common, "-o", tmp_path / "straight", "--json")
        assert r.code == 0, r
    finally:
        torch.set_num_threads(threads)
    a = torch.load(killed / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "straight" / "last.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 2
    for x, y in ((a["state_dict"], b["state_dict"]), (a["train_state"]["model"], b["train_state"]["model"])):
        for key in y:
            assert torch.allclose(x[key].float(), y[key].float(), atol=1e-6), key
    assert _timeless(a["history"]) == _timeless(b["history"])
    assert f"resumed from {killed / 'last.pt'} at epoch {saved + 2}" in (killed / "train.log").read_text()


def _shots_work_folder(base: Path) -> None:
    """What scripts/train_shots.py's first two steps write (footage, edits datasets), made small and synthetic,
    so that the script goes straight to training (it skips a step whose output exists)."""
    from videolens.datasets import make_dataset
    from videolens.datasets.testvideo import make_index_video

    for d in ("train", "dev", "dev-photos"):
        (base / "footage" / d).mkdir(parents=True)
    for k in range(2):
        make_index_video(base / "footage" / "train" / f"shot{k}.mp4", 40 + 10 * k, size=(96, 54), fps=25)
    make_dataset("edits", base / "edits" / "train-real", seed=5, num=1, size=(96, 54), frames=60, progress=False)
    for name in ("train-proc", "dev-real", "dev-proc", "dev-photo"):
        shutil.copytree(base / "edits" / "train-real", base / "edits" / name)


@pytest.mark.slow
def test_shot_trainer_killed_resumes_to_the_same_weights(tmp_path):
    import torch

    killed, straight = tmp_path / "killed", tmp_path / "straight"
    _shots_work_folder(killed)
    shutil.copytree(killed, straight)
    args = ["--steps", "6", "--eval-every", "2", "--batch", "2", "--window", "32", "--threads", "1", "--seed", "4",
            "--dev-fast-videos", "0", "--quiet"]
    script = str(ROOT / "scripts" / "train_shots.py")
    proc = _start(script, "-o", str(killed), "--weights", str(killed / "m.onnx"), *args)
    _kill_when(proc, lambda: (killed / "train" / "last.pt").exists())
    at = torch.load(killed / "train" / "last.pt", weights_only=True)["step"]
    assert at < 6, "the run ended before it could be killed"
    assert not (killed / "m.onnx").exists()
    for out, extra in ((killed, ["--resume"]), (straight, [])):
        done = subprocess.run([sys.executable, script, "-o", str(out), "--weights", str(out / "m.onnx"), *args,
                               *extra], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
    a, b = (torch.load(out / "train" / "last.pt", weights_only=True) for out in (killed, straight))
    assert a["step"] == b["step"] == 6
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in b["state_dict"])
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in a["history"]] == \
        [{k: v for k, v in r.items() if k != "seconds"} for r in b["history"]]
    assert (killed / "m.onnx").read_bytes() == (straight / "m.onnx").read_bytes()


@pytest.mark.slow
def test_transcribe_batch_killed_leaves_no_truncated_transcript(tmp_path):
    if importlib.util.find_spec("faster_whisper") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("faster-whisper is missing (CI=true requires the speech extra)")
        pytest.skip("transcribe needs the speech extra (pip install 'videolens[speech]')")
    from videolens.speech.synth import espeak_available, synth_speech

    if not espeak_available():
        if os.environ.get("CI") == "true":
            pytest.fail("espeak-ng is missing (CI=true requires it)")
        pytest.skip("espeak-ng is not installed (make setup installs it)")
    inputs = []
    (tmp_path / "in").mkdir()
    for k in range(4):
        path = tmp_path / "in" / f"talk{k}.wav"
        synth_speech(path, [(0.5, f"Number {k}. The quick brown fox jumps over the lazy dog."),
                            (4.0, "Please call Stella and ask her to bring these things.")], 7.5, seed=k)
        inputs.append(str(path))
    out = tmp_path / "killed"
    proc = _start("-m", "videolens", "transcribe", *inputs, "-o", str(out), "--quiet", "--format", "all")
    _kill_when(proc, lambda: any(out.glob("*/transcript.txt")))

    r = run_cli("transcribe", *inputs, "-o", tmp_path / "straight", "--quiet", "--format", "all")
    assert r.code == 0, r
    left = list(out.rglob("transcript.*"))
    assert left
    for p in left:     # every file under a final name is what an uninterrupted run writes (apart from timings)
        whole = tmp_path / "straight" / p.parent.name / p.name
        if p.suffix == ".json":
            a, b = (json.loads(f.read_text()) for f in (p, whole))
            assert {k: v for k, v in a.items() if k not in ("timings", "rtf")} == \
                {k: v for k, v in b.items() if k not in ("timings", "rtf")}, p
        else:
            assert p.read_bytes() == whole.read_bytes(), p
