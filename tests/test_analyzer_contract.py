"""The analyzer contract: one class and one register call make a new analyzer a full part of `videolens analyze`
(report section, summary.csv, its own files); events come out while the video plays; audio-only analyzers get no
frames."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest
from conftest import run_cli

from videolens.analyze import ANALYZERS, AnalyzeConfig, analyze, register_analyzer, run_analyzers
from videolens.core import Analyzer, Event
from videolens.datasets.testvideo import make_index_video


class Brightness(Analyzer):
    """Mean luma per analyzed frame, with a summary number, a file of its own and an event per bright frame."""

    name, size, stride, gray = "brightness", 16, 2, True
    summary_keys = ("mean_brightness",)

    def __init__(self, threshold: float = 100.0):
        self.threshold = threshold
        self.values: list[tuple[int, float, float]] = []
        self._events: list[Event] = []

    def process(self, frames, timestamps, indices):
        for f, t, i in zip(frames, timestamps, indices):
            v = float(f.mean())
            self.values.append((int(i), float(t), v))
            if v > self.threshold:
                self._events.append(Event("bright", float(t), float(t), int(i), int(i), {"luma": round(v, 2)}))

    def finish(self):
        return {"per_frame": [{"index": i, "time": round(t, 3), "luma": round(v, 3)} for i, t, v in self.values]}

    def events(self):
        out, self._events = self._events, []
        return out

    def summary(self, result):
        return {"mean_brightness": round(float(np.mean([p["luma"] for p in result["per_frame"]])), 3)}

    def write_files(self, result, out_dir):
        path = os.path.join(out_dir, "brightness.csv")
        with open(path, "w", encoding="utf-8") as f:
            f.write("frame,luma\n" + "".join(f"{p['index']},{p['luma']}\n" for p in result["per_frame"]))
        return [path]


@pytest.fixture
def brightness_registered():
    register_analyzer("brightness", Brightness, default=True)
    try:
        yield
    finally:
        ANALYZERS.unregister("brightness")


@pytest.fixture(scope="module")
def two_videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("contract")
    return [make_index_video(d / "a.mp4", 30, size=(96, 64), fps=15), make_index_video(d / "b.mp4", 20, size=(96, 64),
                                                                                        fps=10)]


def test_one_class_and_one_register_call_make_a_full_analyzer(brightness_registered, two_videos, tmp_path):
    run = analyze(two_videos, tmp_path / "out", AnalyzeConfig(shots=False, faces=False, speech=False), quiet=True)
    assert run.failed == 0
    for v, n in zip(run.videos, (30, 20)):
        folder = tmp_path / "out" / v.name
        report = json.loads((folder / "report.json").read_text())
        # Its section sits under its name, its number in the summary, its file in the folder and the file list.
        per_frame = report["brightness"]["per_frame"]
        assert [p["index"] for p in per_frame] == list(range(0, n, 2))
        mean = round(float(np.mean([p["luma"] for p in per_frame])), 3)
        assert report["summary"]["mean_brightness"] == mean and v.summary["mean_brightness"] == mean
        assert "brightness.csv" in report["files"]
        rows = (folder / "brightness.csv").read_text().splitlines()
        assert rows[0] == "frame,luma" and len(rows) == len(per_frame) + 1
        assert {"name": "brightness", "size": 16, "stride": 2} in report["analyzers"]["ran"]
        assert report["other"] == {}
    rows = list(csv.DictReader((tmp_path / "out" / "summary.csv").open()))
    assert [float(r["mean_brightness"]) for r in rows] == [v.summary["mean_brightness"] for v in run.videos]
    # A built-in that did not run still has its (null) place.
    assert rows[0]["shots"] == "" and json.loads((tmp_path / "out" / "a" / "report.json").read_text())["shots"] is None


def test_a_plugin_without_a_section_goes_under_other(two_videos, tmp_path):
    r = run_cli("analyze", two_videos[0], "-o", tmp_path, "--no-shots", "--no-faces", "--no-speech", "--quiet",
                "--analyzer", "test_analyzer_contract:Brightness")
    assert r.code == 0, r
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert "brightness" not in report and len(report["other"]["brightness"]["per_frame"]) == 15
    assert report["summary"]["mean_brightness"] > 0 and (tmp_path / "a" / "brightness.csv").exists()


def test_events_come_out_while_the_video_plays(two_videos):
    """Each batch's events reach the listener before the next batch is decoded, not only at the end."""
    seen: list[tuple[str, Event, int]] = []
    a = Brightness(threshold=-1)          # every analyzed frame is "bright"
    a.batch_size = 4
    run_analyzers(two_videos[0], [a], quiet=True, on_event=lambda name, e: seen.append((name, e, len(a.values))))
    assert [e.frame_start for _, e, _ in seen] == list(range(0, 30, 2))
    # When the event of frame i arrived, the analyzer had seen only its own batch, not the whole video.
    assert [n for _, e, n in seen if e.frame_start < 8] == [4, 4, 4, 4]
    assert {name for name, _, _ in seen} == {"brightness"}


class AudioOnly(Analyzer):
    name, wants_frames = "audio_only", False

    def __init__(self):
        self.started = self.calls = 0

    def start(self, info):
        self.started += 1

    def process(self, frames, timestamps, indices):
        self.calls += 1

    def finish(self):
        return {"started": self.started, "process_calls": self.calls}


def test_an_audio_only_analyzer_gets_no_frames_and_costs_no_decoding(two_videos):
    alone = run_analyzers(two_videos[0], [AudioOnly()], quiet=True)
    assert alone.results["audio_only"] == {"started": 1, "process_calls": 0} and alone.frames_decoded == 0
    beside = run_analyzers(two_videos[0], [AudioOnly(), Brightness()], quiet=True)
    assert beside.results["audio_only"]["process_calls"] == 0 and beside.frames_decoded == 15


def test_built_in_analyzers_hand_out_events(tmp_path):
    """Shots give their transitions as events; a tracked objects run gives one track_end per track."""
    from conftest import SAMPLE

    from videolens.shots import make_detector

    events: list[Event] = []
    run = run_analyzers(SAMPLE, [make_detector("auto")], quiet=True, on_event=lambda n, e: events.append(e))
    cuts = [t.start for t in run.results["shots"].transitions]
    assert cuts == [75, 150, 225, 300, 375] and [e.frame_start for e in events] == cuts
    assert {e.kind for e in events} == {"cut"} and events[0].t_start == pytest.approx(3.0, abs=0.05)


def test_unknown_names_get_the_same_error_everywhere():
    from videolens.classify.models import MODELS
    from videolens.core.registry import UnknownNameError
    from videolens.detect.detectors import DETECTORS
    from videolens.shots.detect import DETECTORS as SHOT_DETECTORS
    from videolens.track import TRACKERS

    for registry, option, name in ((TRACKERS, "--tracker", "bytetrak"), (SHOT_DETECTORS, "--detector", "contnt"),
                                   (DETECTORS, "--model", "facess"), (MODELS, "--model", "c3dd")):
        with pytest.raises(UnknownNameError) as e:
            registry.get(name)
        message = str(e.value)
        assert message.startswith(f"{option} {name}: unknown ") and "did you mean" in message, message
        assert all(n in message for n in registry.names())
    with pytest.raises(UnknownNameError, match="unknown analyzer"):
        ANALYZERS.get("nope")


def test_a_run_that_fails_part_way_lets_every_analyzer_go(tmp_path):
    """A plugin that fails at frame 20 while speech is being recognised in its thread: the process reports the
    error and exits 2, cleanly (a recognition thread left inside CTranslate2 at exit used to abort it: 134)."""
    import subprocess
    import sys

    from conftest import ROOT, SAMPLE

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    r = subprocess.run([sys.executable, "-m", "videolens", "analyze", str(SAMPLE), "-o", str(tmp_path), "--quiet",
                        "--analyzer", "test_analyze:Boom"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    assert "boom at frame 20" in r.stderr and "terminate called" not in r.stderr and "Traceback" not in r.stderr
