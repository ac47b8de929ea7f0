"""`--engine ray` on a real local Ray cluster with 2 workers: same outputs as local, dead tasks retried once."""

from __future__ import annotations

import json
import os

import pytest
from conftest import require, run_cli

from videolens.analyze import AnalyzeConfig, analyze
from videolens.datasets.testvideo import make_index_video

ray = require("ray", "the scale extra")

# An analyzer plugin that kills its worker process (as a segfault or an OOM kill would) on files named crash*.
CRASH_PLUGIN = '''
import os
from videolens.analyze import Analyzer

class Crash(Analyzer):
    name, size, stride = "crash", 16, 1

    def start(self, info):
        self.path = info.path

    def process(self, frames, timestamps, indices):
        if os.path.basename(self.path).startswith("crash"):
            with open(os.environ["VIDEOLENS_CRASH_LOG"], "a") as f:
                f.write(f"{os.getpid()}\\n")
            os._exit(1)

    def finish(self):
        return {"ok": True}
'''


def comparable(report: dict) -> dict:
    """A report without what differs between two runs of the same analysis (when, how long)."""
    return {k: v for k, v in report.items() if k not in ("created", "timings")}


@pytest.fixture
def videos(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    paths = [make_index_video(d / f"v{k}.mp4", 30 + 10 * k, size=(96, 64), fps=20) for k in range(3)]
    bad = d / "broken.mp4"
    bad.write_bytes(b"\x00" * 1000)
    return paths, str(bad)


def test_ray_engine_matches_local_retries_a_dead_task_once_and_resumes(videos, tmp_path, monkeypatch):
    """One local cluster started for the run (2 workers): 3 good videos, a broken file, and one that kills its worker."""
    paths, bad = videos
    plug = tmp_path / "plug"
    plug.mkdir()
    (plug / "crashplug.py").write_text(CRASH_PLUGIN)
    crash = make_index_video(tmp_path / "in" / "crash.mp4", 20, size=(96, 64), fps=20)
    # The cluster started for the run inherits this environment: its workers import the plugin and log to the file.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(plug), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("VIDEOLENS_CRASH_LOG", str(tmp_path / "crashes.txt"))
    monkeypatch.syspath_prepend(str(plug))

    out = tmp_path / "ray"
    r = run_cli("analyze", *paths, bad, crash, "-o", out, "--engine", "ray", "--jobs", "2",
                "--analyzer", "crashplug:Crash", "--json", "--quiet")
    assert r.code == 1, r
    assert not ray.is_initialized()                 # the cluster started for the run is gone
    doc = r.json()
    assert doc["engine"] == "ray"
    status = {v["name"]: v["status"] for v in doc["videos"]}
    assert status == {"v0": "ok", "v1": "ok", "v2": "ok", "broken": "failed", "crash": "failed"}
    errors = {v["name"]: v["error"] for v in doc["videos"]}
    assert "not a readable video" in errors["broken"] and "worker died on both tries" in errors["crash"]
    assert sorted(r.err.strip().splitlines()) == sorted(["videolens: error: " + errors["broken"],
                                                         "videolens: error: " + errors["crash"]])
    pids = (tmp_path / "crashes.txt").read_text().split()
    assert len(pids) == 2 and pids[0] != pids[1]    # one retry, in a fresh worker
    assert (out / "summary.csv").exists() and (out / "index.html").exists()
    assert sorted(os.listdir(out)) == ["index.html", "summary.csv", "v0", "v1", "v2"]

    # The same outputs as the local engine.
    local = analyze(paths, tmp_path / "local", AnalyzeConfig(plugins=("crashplug:Crash",)), quiet=True)
    assert [v.summary for v in local.videos] == [v["summary"] for v in doc["videos"][:3]]
    assert [v["summary"]["frames"] for v in doc["videos"][:3]] == [30, 40, 50]
    for name in ("v0", "v1", "v2"):
        a = json.loads((out / name / "report.json").read_text())
        b = json.loads((tmp_path / "local" / name / "report.json").read_text())
        assert comparable(a) == comparable(b)
        assert a["other"]["crash"] == {"ok": True}
        assert sorted(os.listdir(out / name)) == sorted(os.listdir(tmp_path / "local" / name))

    # Resuming needs no cluster for the complete videos; the failed ones are tried again.
    r = run_cli("analyze", *paths, "-o", out, "--engine", "ray", "--resume", "--json", "--quiet")
    assert r.code == 0 and [v["status"] for v in r.json()["videos"]] == ["skipped"] * 3
    assert not ray.is_initialized()
