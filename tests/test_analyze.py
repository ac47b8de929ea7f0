"""`videolens analyze`: the report and its schema, one decode pass, batches, failures, resume, proxy, annotated video."""

from __future__ import annotations

import json
import os
from urllib.parse import quote

import numpy as np
import pytest
from conftest import ROOT, SAMPLE, run_cli, shared

from videolens.analyze import AnalyzeConfig, Analyzer, MissingExtra, build_analyzers, register_analyzer
from videolens.analyze import ANALYZERS, validate_report
from videolens.analyze.pipeline import ThumbnailCollector
from videolens.datasets.testvideo import make_index_video, read_index
from videolens.io.reader import VideoReader, probe

@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """The default analysis of the repository's sample, with the annotated video, run once for this module."""
    out = tmp_path_factory.mktemp("analyze") / "out"
    r = run_cli("analyze", SAMPLE, "-o", out, "--annotated-video", "--json", "--quiet")
    assert r.code == 0, r
    folder = out / "sample"
    return r.json(), folder, json.loads((folder / "report.json").read_text())


@pytest.fixture(scope="module")
def small_videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("small")
    (d / "clips").mkdir()
    a = make_index_video(d / "clips" / "a.mp4", 40, size=(96, 64), fps=20)
    b = make_index_video(d / "clips" / "b.mkv", 30, size=(96, 64), fps=15)
    bad = d / "clips" / "broken.mp4"
    bad.write_text("this is not a video")
    return d, [a, b], str(bad)


def test_sample_report_follows_the_schema_from_one_decode_pass(sample_run):
    doc, folder, report = sample_run
    validate_report(report)
    assert doc["ok"] == 1 and doc["failed"] == 0 and doc["videos"][0]["status"] == "ok"
    assert doc["videos"][0]["html"] == str(folder / "report.html")
    assert report["format"] == "videolens-report" and report["version"] == 2
    assert report["video"]["frames"] == 450 and report["video"]["name"] == "sample"
    # Every analyzer and helper was fed from one pass: each frame decoded exactly once.
    assert report["stream"] == {"frames_decoded": 450, "bad_frames": 0, "frames": 450}
    per = report["motion"]["per_second"]
    assert [p["second"] for p in per] == list(range(18)) and all(0 <= p["activity"] <= 1 for p in per)
    # Each default analyzer either ran and filled its section, or is listed as skipped with a reason and a fix.
    skipped = {s["name"]: s for s in report["analyzers"]["skipped"]}
    ran = {a["name"] for a in report["analyzers"]["ran"]}
    assert ran | set(skipped) == {"shots", "faces", "people", "speech", "motion"}
    for name in ("shots", "faces", "people", "speech"):
        if name in ran:
            assert report[name]
        else:
            assert report[name] is None and skipped[name]["reason"] and skipped[name]["install"]
    t = report["timings"]
    assert t["decode"] > 0 and t["total"] >= t["decode"] and set(t["analyzers"]) == ran
    assert t["annotated_video"] > 0
    files = sorted(p.name for p in folder.iterdir())
    assert files == report["files"]
    if "people" in ran:      # the sample's six GRID speakers (checked by eye), one per 3-second shot
        people = report["people"]["people"]
        assert [p["id"] for p in people] == [f"unknown-{k}" for k in range(1, 7)] and "people.npz" in files
        assert [round(p["ranges"][0]["start"] / 3) for p in people] == list(range(6))
        assert all(len(p["ranges"]) == 1 for p in people)
    assert {"report.json", "report.html", "annotated.mp4"} <= set(files) and "proxy.mp4" not in files
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]     # no temporary leftovers
    html = (folder / "report.html").read_text()
    assert 'id="row-motion"' in html and html.count("<video") == 1
    assert f'src="{quote(os.path.relpath(SAMPLE, folder))}"' in html       # the player links the source itself


def test_annotated_video_of_the_sample_keeps_frames_and_audio(sample_run):
    _, folder, _ = sample_run
    src, ann = probe(SAMPLE), probe(folder / "annotated.mp4")
    assert ann.frames == src.frames and ann.stored_size == src.stored_size and ann.codec == "h264"
    assert ann.duration == pytest.approx(src.duration, abs=0.05)
    assert [a.codec for a in ann.audio] == ["aac"]


def test_full_report_on_the_sample(sample_run):
    from videolens.speech.metrics import word_error_rate

    _, _, report = sample_run
    truth = json.loads((ROOT / "samples" / "sample.json").read_text())
    starts = [s["start_frame"] for s in report["shots"]["shots"]]
    assert len(starts) == 6
    assert all(abs(a - b) <= 1 for a, b in zip(starts[1:], [t["start"] for t in truth["transitions"]]))
    assert report["faces"]["max_count"] >= 1 and report["faces"]["frames_with_faces"] > 0
    assert report["speech"]["speech_seconds"] > 5
    assert word_error_rate([truth["transcript"]], [report["speech"]["transcript"]]) < 0.5
    assert {"shots.csv", "transcript.srt"} <= set(report["files"])


def test_default_analysis_runs_without_torch(tmp_path):
    """Shots, faces, speech and motion all run on ONNX Runtime / CTranslate2: importing torch would add ~0.5 GB of
    RSS (the memory target of `analyze`), so the defaults must never import it."""
    import subprocess
    import sys

    code = ("import sys\nfrom videolens.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
            "    assert not e.code, e.code\nimport json\n"
            "print(json.dumps(sorted(m for m in ('torch', 'torchvision', 'silero_vad', 'facenet_pytorch') "
            "if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code, "analyze", str(SAMPLE), "-o", str(tmp_path), "--quiet"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
    report = json.loads((tmp_path / "sample" / "report.json").read_text())
    assert report["faces"]["frames_with_faces"] > 0 and report["speech"]["speech_seconds"] > 5


def test_batch_records_failures_writes_summary_and_resumes(small_videos, tmp_path):
    d, (a, _), _ = small_videos
    out = tmp_path / "out"
    missing = str(d / "missing.mp4")
    r = run_cli("analyze", d / "clips", missing, "-o", out, "--quiet")
    assert r.code == 1, r
    errors = r.err.strip().splitlines()
    assert len(errors) == 2 and "Traceback" not in r.err
    assert any("broken.mp4" in e and "not a readable video" in e for e in errors)
    assert any(e.endswith("missing.mp4: no such file") for e in errors)
    import csv

    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [(r_["name"], r_["status"]) for r_ in rows] == [("a", "ok"), ("b", "ok"), ("broken", "failed"),
                                                           ("missing", "failed")]
    assert float(rows[0]["duration"]) == pytest.approx(2.0) and int(rows[1]["frames"]) == 30
    assert rows[2]["error"] and not rows[0]["error"] and float(rows[0]["seconds"]) > 0
    index = (out / "index.html").read_text()
    assert 'href="a/report.html"' in index and 'href="broken/report.html"' not in index
    assert sorted(p.name for p in out.iterdir()) == ["a", "b", "index.html", "summary.csv"]
    first = (out / "a" / "report.json").stat().st_mtime_ns

    # A run killed while writing leaves a temporary folder and nothing under the final name; a folder whose
    # report is gone is incomplete. --resume redoes exactly those, and retries the failures.
    (out / ".a.x1y2.partial").mkdir()
    os.remove(out / "b" / "report.json")
    r = run_cli("analyze", d / "clips", "-o", out, "--resume", "--json", "--quiet")
    assert r.code == 1, r
    status = {v["name"]: v["status"] for v in r.json()["videos"]}
    assert status == {"a": "skipped", "b": "ok", "broken": "failed"}
    assert (out / "a" / "report.json").stat().st_mtime_ns == first
    assert (out / "b" / "report.json").exists()

    # Without --resume or --overwrite an existing output is a usage error that names it, before any work.
    r = run_cli("analyze", a, "-o", out, "--quiet")
    assert r.code == 2 and r.err.count("\n") == 1 and "already exists" in r.err and str(out / "a") in r.err
    r = run_cli("analyze", a, "-o", out, "--quiet", "--overwrite")
    assert r.code == 0 and (out / "a" / "report.json").stat().st_mtime_ns != first


def test_parallel_jobs_give_the_same_reports(small_videos, tmp_path):
    _, (a, b), _ = small_videos
    r1 = run_cli("analyze", a, b, "-o", tmp_path / "one", "--quiet", "--json")
    r2 = run_cli("analyze", a, b, "-o", tmp_path / "two", "--quiet", "--json", "--jobs", "2")
    assert r1.code == 0 and r2.code == 0, (r1, r2)
    for name in ("a", "b"):
        one = json.loads((tmp_path / "one" / name / "report.json").read_text())
        two = json.loads((tmp_path / "two" / name / "report.json").read_text())
        for key in ("video", "motion", "summary", "stream", "files"):
            assert one[key] == two[key]
    assert [v["summary"] for v in r1.json()["videos"]] == [v["summary"] for v in r2.json()["videos"]]


def test_human_summary_names_each_report(small_videos, tmp_path):
    _, (a, _), _ = small_videos
    r = run_cli("analyze", a, "-o", tmp_path, "--no-shots", "--no-faces")
    assert r.code == 0, r
    assert r.out.splitlines()[0].startswith("a: 2.0 s") and f"report: {tmp_path / 'a' / 'report.html'}" in r.out


def test_proxy_for_a_source_the_browser_cannot_play(tmp_path):
    """MPEG-4 Part 2 in AVI: the report plays a frame-exact H.264 proxy instead."""
    src = make_index_video(tmp_path / "old.avi", 50, size=(160, 96), codec="mpeg4", fps=25)
    r = run_cli("analyze", src, "-o", tmp_path / "out", "--quiet")
    assert r.code == 0, r
    folder = tmp_path / "out" / "old"
    info = probe(folder / "proxy.mp4")
    assert info.codec == "h264" and info.container == "mp4" and info.frames == 50 and info.pix_fmt == "yuv420p"
    frames = VideoReader(folder / "proxy.mp4").get_frames(range(50))
    assert [read_index(f) for f in frames] == list(range(50))
    assert 'src="proxy.mp4"' in (folder / "report.html").read_text()


def test_proxy_keeps_the_audio_of_a_real_mpeg1_clip(tmp_path):
    src = shared("speech", "GRID", "bbaf2n.mpg")
    r = run_cli("analyze", src, "-o", tmp_path, "--quiet", "--no-speech", "--no-faces", "--no-shots")
    assert r.code == 0, r
    info, orig = probe(tmp_path / "bbaf2n" / "proxy.mp4"), probe(src)
    assert info.frames == orig.frames and [a.codec for a in info.audio] == ["aac"]
    assert info.duration == pytest.approx(orig.duration, abs=0.05)


def test_usage_errors_are_one_line(tmp_path):
    cases = [
        (["analyze", SAMPLE, "--tracker", "sort"], "--tracker needs --objects"),
        (["analyze", SAMPLE, "--address", "127.0.0.1:6379"], "--address needs --engine ray"),
        (["analyze", tmp_path / "nope.mp4"], "nope.mp4: no such file"),
        (["analyze", SAMPLE, "--actions", tmp_path / "none.pt"], "none.pt: no such checkpoint"),
        (["analyze", tmp_path / "*.mkv"], "no files match"),
    ]
    for args, message in cases:
        r = run_cli(*args, "-o", tmp_path / "out", "--quiet")
        assert r.code == 2, (args, r)
        assert message in r.err and r.err.count("\n") == 1 and "Traceback" not in r.err


def test_missing_parts_and_extras_are_skipped_with_how_to_install(monkeypatch):
    def needs_extra(config):
        raise MissingExtra("speech", "speech", "faster-whisper")

    def needs_package(config):
        raise ModuleNotFoundError("No module named 'somepkg'", name="somepkg")

    def missing_part(config):
        import videolens.not_a_part  # noqa: F401

    speech = ANALYZERS.entry("speech")
    monkeypatch.setattr(speech, "target", needs_extra)
    register_analyzer("needs_pkg", needs_package, module="videolens.x")
    register_analyzer("part", missing_part, module="videolens.not_a_part")
    try:
        analyzers, skipped = build_analyzers(["speech", "needs_pkg", "part", "motion"], AnalyzeConfig())
    finally:
        ANALYZERS.unregister("needs_pkg")
        ANALYZERS.unregister("part")
    assert [a.name for a in analyzers] == ["motion"]
    assert skipped == [
        {"name": "speech", "reason": "needs faster-whisper", "install": "pip install 'videolens[speech]'"},
        {"name": "needs_pkg", "reason": "needs somepkg", "install": "pip install somepkg"},
        {"name": "part", "reason": "not in this installation of videolens (videolens.not_a_part is missing or "
                                   "incomplete)", "install": "pip install --upgrade videolens"},
    ]
    with pytest.raises(ValueError, match="unknown analyzer"):
        build_analyzers(["nope"], AnalyzeConfig())


class Brightness(Analyzer):
    """A plugin analyzer (a class importable by name) for the test below."""

    name, size, stride, gray = "brightness", 16, 2, True

    def __init__(self):
        self.values = []

    def process(self, frames, timestamps, indices):
        self.values += frames.reshape(len(frames), -1).mean(axis=1).round(2).tolist()

    def finish(self):
        return {"mean": round(float(np.mean(self.values)), 2), "n": len(self.values)}


def test_a_plugin_analyzer_rides_the_same_decode_pass(small_videos, tmp_path):
    from videolens.analyze import analyze_video

    _, (a, _), _ = small_videos
    report = analyze_video(a, tmp_path, AnalyzeConfig(plugins=("test_analyze:Brightness",)), quiet=True)
    validate_report(report)
    assert report["other"]["brightness"]["n"] == 20
    assert report["stream"]["frames_decoded"] == 40
    assert {"name": "brightness", "size": 16, "stride": 2} in report["analyzers"]["ran"]


class Boom(Analyzer):
    """Fails half-way through a video (as a bug or a bad frame in some analyzer would)."""

    name, size, stride = "boom", 16, 1

    def process(self, frames, timestamps, indices):
        if indices[-1] >= 20:
            raise RuntimeError("boom at frame 20")

    def finish(self):
        return {}


def test_a_video_that_fails_half_way_leaves_no_folder(small_videos, tmp_path):
    _, (a, _), _ = small_videos
    r = run_cli("analyze", a, SAMPLE, "-o", tmp_path, "--analyzer", "test_analyze:Boom", "--quiet", "--json")
    assert r.code == 2, r                                   # every video of the batch failed
    assert all("RuntimeError: boom at frame 20" in v["error"] for v in r.json()["videos"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html", "summary.csv"]   # no partial folders
    r = run_cli("analyze", a, "-o", tmp_path, "--analyzer", "no_such_module:X", "--quiet")
    assert r.code == 2 and "--analyzer no_such_module:X: cannot import no_such_module" in r.err


def test_thumbnails_stay_bounded_on_long_videos():
    t = ThumbnailCollector(stride=1, max_count=50)
    frames = np.zeros((10, 24, 32, 3), np.uint8)
    for start in range(0, 1000, 10):
        t.process(frames, np.arange(start, start + 10) / 25, np.arange(start, start + 10))
    kept = [i for i, _, _ in t.finish()]
    assert len(kept) <= 50 and kept[0] == 0 and kept[-1] >= 900
    assert len(set(np.diff(kept))) == 1            # still evenly spaced


def test_rotated_video_gets_an_upright_proxy(index_videos, tmp_path):
    path, _ = index_videos["rotated90.mp4"]
    r = run_cli("analyze", path, "-o", tmp_path, "--quiet", "--proxy", "always")
    assert r.code == 0, r
    proxy = VideoReader(tmp_path / "rotated90" / "proxy.mp4")
    assert proxy.rotation == 0 and proxy.size == VideoReader(path).size == (108, 192)   # stored upright
    assert [read_index(np.rot90(f, k=1)) for f in proxy.get_frames([0, 45, 89])] == [0, 45, 89]


def test_annotated_renderer_draws_boxes_shot_and_subtitles(tmp_path):
    """render_annotated on real frames: what it draws is where the report says, and only then."""
    from videolens.report.annotate import render_annotated

    src = make_index_video(tmp_path / "v.mp4", 50, size=(320, 240), fps=25)
    report = {
        "analyzers": {"ran": [{"name": "faces", "stride": 5}]},
        "faces": {"detections": [{"index": 10, "time": 0.4, "boxes": [
            {"box": [20, 70, 80, 150], "score": 0.99, "class_id": 0, "class": "face", "track_id": -1}]}]},
        "shots": {"shots": [{"start_frame": 0, "end_frame": 24}, {"start_frame": 25, "end_frame": 49}]},
        "speech": {"segments": [{"start": 1.2, "end": 1.6, "text": "hello there"}]},
    }
    out = render_annotated(src, report, tmp_path / "annotated.mp4", quiet=True)
    orig, ann = VideoReader(src), VideoReader(out)
    assert len(ann) == 50 and ann.size == orig.size
    o, a = orig.get_frames(range(50)).astype(int), ann.get_frames(range(50)).astype(int)
    box_edge = lambda f: f[100:145, 19:22].mean(axis=(0, 1))
    assert all(np.abs(box_edge(a[i]) - box_edge(o[i])).mean() > 15 for i in range(10, 15))   # while it holds
    for i in (9, 15, 40):
        assert np.abs(box_edge(a[i]) - box_edge(o[i])).mean() < 6        # gone before and after
    subtitle = lambda f: f[200:240, 80:240]
    changed = [np.abs(subtitle(a[i]) - subtitle(o[i])).mean() > 8 for i in range(50)]
    assert changed == [30 <= i < 40 for i in range(50)]
    label = lambda f: f[0:30, 0:100]
    assert all(np.abs(label(a[i]) - label(o[i])).mean() > 8 for i in (0, 30))
