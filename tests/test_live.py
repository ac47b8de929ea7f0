"""videolens watch on files: rules against ground truth, parity with videolens detect, events.jsonl, the config's
errors, redaction, pacing, motion and tampering."""

from __future__ import annotations

import collections
import json
import time

import numpy as np
import pytest
from _live_helpers import LINE, ZONE, by_kind, truth
from conftest import SAMPLE, run_cli

from videolens.errors import VideolensError
from videolens.live.config import ConfigError, Rule, load_config_text
from videolens.live.sources import camera_name, parse_source, redact
from videolens.live.watch import watch


def test_rules_on_a_file_give_the_true_events_and_what_detect_counts(objects_video, tmp_path):
    video, gt = objects_video
    expected = truth(gt)
    assert sum(len(v) for v in expected.values()) >= 5        # the clip really exercises the rules
    events = list(watch([str(video)], output=tmp_path / "w", objects=f"replay:{gt}", tracker="bytetrack",
                        zones={"zone1": ZONE}, lines={"line1": LINE}))
    got = collections.defaultdict(list, by_kind(events))
    assert sorted(got) == sorted(expected)
    for kind, frames in expected.items():
        assert len(got[kind]) == len(frames), kind
        # each event on the frame of the truth, or one analyzed frame from it (a new track is confirmed a frame late)
        assert all(abs(a - b) <= 1 for a, b in zip(sorted(got[kind]), sorted(frames))), (kind, got[kind], frames)
    # ... and what `videolens detect` counts on the same file with the same detections.
    r = run_cli("detect", video, "--model", f"replay:{gt}", "--tracker", "bytetrack", "--line", "160,0,160,240",
                "--zone", "0,0,160,0,160,240,0,240", "-o", tmp_path / "d", "--format", "json", "--quiet")
    assert r.code == 0, r
    counts = json.loads((tmp_path / "d" / "detections.json").read_text())["summary"]["counts"]
    assert counts["lines"][0]["in"] == len(got["line_cross/in"]) and counts["lines"][0]["out"] == len(
        got["line_cross/out"])
    assert len(counts["zones"][0]["dwell"]) == len({e["track_id"] for e in events if e["kind"] == "zone_enter"})
    # Every line of events.jsonl is a whole JSON object, in the order the events were given.
    lines = (tmp_path / "w" / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [e["id"] for e in events]
    enter = next(e for e in events if e["kind"] == "zone_enter")
    assert enter["state"] == "instant" and enter["zone"] == "zone1" and enter["class"] == "object"
    assert enter["start"] == enter["end"] and enter["t_start"] == pytest.approx(enter["frame_start"] / 25, abs=1e-3)
    assert (tmp_path / "w" / enter["snapshot"]).stat().st_size > 1000
    status = json.loads((tmp_path / "w" / "status.json").read_text())["cameras"]["objects_0000"]
    assert status["frames_in"] == status["frames_analyzed"] == 150 and status["frames_dropped"] == 0


def test_loiter_and_count_rules_start_and_end(objects_video, tmp_path):
    video, gt = objects_video
    rules = [Rule("stay", "loiter", zone="zone1", loiter=1.0), Rule("busy", "count_above", zone="zone1",
                                                                      count_above=1)]
    events = list(watch([str(video)], rules, output=tmp_path, objects=f"replay:{gt}", tracker="bytetrack",
                        zones={"zone1": ZONE}))
    by_id = collections.defaultdict(list)
    for e in events:
        if e["kind"] in ("loiter", "count_above"):
            by_id[e["id"]].append(e)
    assert {e[0]["kind"] for e in by_id.values()} == {"loiter", "count_above"}
    for pair in by_id.values():       # every lasting event starts, then ends (at the latest when the file ends)
        assert [e["state"] for e in pair] == ["start", "end"]
        assert pair[1]["t_end"] >= pair[0]["t_start"] and pair[1]["start"] == pair[0]["start"]
    loiters = [p[0] for p in by_id.values() if p[0]["kind"] == "loiter"]
    assert all(e["seconds"] >= 1.0 for e in loiters)


def test_whole_frame_motion_is_the_default_rule(tmp_path):
    events = list(watch([str(SAMPLE)], output=tmp_path))
    assert [(e["kind"], e["state"]) for e in events] == [("motion", "start"), ("motion", "end")]
    assert events[0]["id"] == events[1]["id"] and events[1]["t_end"] > events[0]["t_start"]


def test_a_paced_file_behaves_like_a_camera(tmp_path):
    """--realtime: the file plays at its frame rate; analysis takes the newest frame, at its own rate."""
    from videolens.datasets.testvideo import make_index_video

    clip = make_index_video(tmp_path / "clip.mp4", 50, size=(160, 120), fps=25)    # 2 s
    t0 = time.monotonic()
    list(watch([str(clip)], output=tmp_path / "w", realtime=True, fps=5))
    took = time.monotonic() - t0
    doc = json.loads((tmp_path / "w" / "status.json").read_text())
    status = doc["cameras"]["clip"]
    # The whole process's CPU counts at least what the camera's own threads did
    assert doc["process_cpu_seconds"] >= status["cpu_seconds"] > 0
    assert 1.8 < took < 6
    assert status["frames_in"] == 50 and 5 <= status["frames_analyzed"] <= 15
    assert status["frames_analyzed"] + status["frames_dropped"] <= 50


def test_duration_stops_cleanly(tmp_path):
    from videolens.datasets.testvideo import make_index_video

    clip = make_index_video(tmp_path / "long.mp4", 250, size=(96, 64), fps=25)     # 10 s, paced
    t0 = time.monotonic()
    list(watch([str(clip)], output=tmp_path / "w", realtime=True, duration=1.5))
    assert time.monotonic() - t0 < 5
    assert json.loads((tmp_path / "w" / "status.json").read_text())["cameras"]["long"]["frames_in"] < 250


def test_tampering_covered_and_blurred(tmp_path):
    """A camera that is covered (a flat picture), then out of focus, each for a few seconds."""
    import cv2

    from videolens.io.writer import VideoWriter

    rng = np.random.default_rng(5)
    scene = cv2.resize(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8), (320, 240), interpolation=cv2.INTER_NEAREST)
    path = tmp_path / "tamper.mp4"
    with VideoWriter(path, fps=10, size=(320, 240)) as w:
        for i in range(200):
            if 50 <= i < 100:
                frame = np.full_like(scene, 12)                          # covered: 5 s
            elif 140 <= i < 190:
                frame = cv2.GaussianBlur(scene, (0, 0), 6)               # out of focus: 5 s
            else:
                frame = scene
            w.write(frame, i / 10)
    rules = [Rule("tamper", "tamper", tamper=("covered", "moved", "blur"))]
    events = [e for e in watch([str(path)], rules, output=tmp_path / "w") if e["kind"] == "tamper"]
    starts = [(e["tamper"], e["t_start"]) for e in events if e["state"] == "start"]
    assert [k for k, _ in starts] == ["covered", "blur"], events
    assert 5.0 <= starts[0][1] <= 9.0 and 14.0 <= starts[1][1] <= 18.0
    assert [e["state"] for e in events] == ["start", "end", "start", "end"]


CONFIG = """\
defaults:
  fps: 4
cameras:
  - name: front
    url: rtsp://admin:secret@cam.local/stream1
    zones:
      door: [[0, 0], [100, 0], [100, 100]]
    lines:
      gate: [[0, 50], [100, 50]]
    rules:
      - name: night
        zone: door
        classes: [person]
        armed: "22:00-06:00"
        cooldown: 30
      - {name: through, line: gate, direction: in}
      - {name: crowd, zone: door, count_above: 3}
      - {name: tamper, tamper: [covered]}
"""


def test_a_config_file_is_read_and_checked():
    cfg = load_config_text(CONFIG, "site.yaml")
    cam = cfg.cameras[0]
    assert cam.name == "front" and cam.fps == 4 and [r.kind for r in cam.rules] == ["zone", "line", "count_above",
                                                                                    "tamper"]
    night = cam.rules[0]
    import datetime as dt

    assert night.armed_at(dt.datetime(2026, 1, 1, 23, 30)) and night.armed_at(dt.datetime(2026, 1, 1, 5, 0))
    assert not night.armed_at(dt.datetime(2026, 1, 1, 12, 0))
    assert night.wants("Person", 0.3) and not night.wants("car", 0.9)
    bad = [
        (CONFIG.replace("fps: 4", "fsp: 4"), "site.yaml:2: defaults.fsp: unknown key"),
        (CONFIG.replace("[[0, 0], [100, 0], [100, 100]]", "[[0, 0], [100, 0]]"),
         "site.yaml:7: cameras[0].zones.door: expected at least 3 points, got 2"),
        (CONFIG.replace("zone: door\n        classes", "zone: dor\n        classes"),
         "site.yaml:12: cameras[0].rules[0].zone: no zone 'dor' on camera front (it has: door)"),
        (CONFIG.replace('"22:00-06:00"', '"late"'), "cameras[0].rules[0].armed: expected time windows"),
        (CONFIG.replace("direction: in", "direction: up"), "cameras[0].rules[1].direction"),
        (CONFIG.replace("    url: rtsp://admin:secret@cam.local/stream1\n", ""), "a camera needs a url"),
        ("cameras: [", "site.yaml:1: not valid YAML"),
        ("", "the config is empty"),
    ]
    for text, message in bad:
        with pytest.raises(ConfigError) as e:
            load_config_text(text, "site.yaml")
        assert message in str(e.value) and "\n" not in str(e.value), (message, str(e.value))
        assert "secret" not in str(e.value)


def test_sources_names_and_redaction(tmp_path):
    assert redact("see rtsp://u:p@h/x and http://a:b@c:8080/y") == "see rtsp://***@h/x and http://***@c:8080/y"
    assert camera_name("rtsp://u:p@10.0.0.5:554/Streaming/Channels/101") == "10.0.0.5-Streaming-Channels-101"
    assert camera_name("udp://@:5000") == "camera-5000" and camera_name("tcp://10.1.1.1:9000") == "10.1.1.1-9000"
    assert parse_source("rtsp://cam/s", transport="udp").options["rtsp_transport"] == "udp"
    assert parse_source("-").kind == "stdin" and parse_source("/dev/video0").kind == "v4l2"
    with pytest.raises(VideolensError, match="unknown source scheme 'ftp'") as e:
        parse_source("ftp://user:pw@host/x.mp4")
    assert "pw" not in str(e.value)
    with pytest.raises(VideolensError, match="no such file"):
        parse_source(str(tmp_path / "missing.mp4"))


def test_cooldown_keeps_one_event_per_track_and_rule(tmp_path):
    """A box that goes in and out of a zone three times in 4 s: without a cool-down, three zone_enter events;
    with a 10 s cool-down, one."""
    from videolens.datasets.testvideo import make_index_video

    video = make_index_video(tmp_path / "zigzag.mp4", 100, size=(160, 120), fps=25)
    xs = [int(60 + 50 * np.sin(2 * np.pi * 3 * i / 100)) for i in range(100)]   # three round trips across x = 80
    (tmp_path / "det.txt").write_text("".join(f"{i + 1},-1,{x - 10},40,20,30,0.9,-1,-1,-1\n"
                                              for i, x in enumerate(xs)))
    zone = {"right": [(80, 0), (160, 0), (160, 120), (80, 120)]}

    def enters(cooldown: float) -> list[int]:
        rules = [Rule("r", "zone", zone="right", cooldown=cooldown)]
        return [e["frame_start"] for e in watch([str(video)], rules, output=tmp_path / str(cooldown),
                                                objects=f"replay:{tmp_path / 'det.txt'}", tracker="bytetrack",
                                                zones=zone) if e["kind"] == "zone_enter"]

    plain, cooled = enters(0.0), enters(10.0)
    assert len(plain) == 3 and len(set(plain)) == 3
    assert cooled == plain[:1]


def test_motion_in_a_zone_and_recording(tmp_path):
    """Something moves in the right half only: the right zone's motion rule fires, the left one's does not; and
    --record keeps the stream in segments."""
    from videolens.io.writer import VideoWriter

    frames = np.full((75, 120, 160, 3), 90, np.uint8)
    for i in range(25, 60):
        x = 90 + (i % 10) * 5
        frames[i, 40:80, x:x + 15] = 250
    path = tmp_path / "half.mp4"
    with VideoWriter(path, fps=25, size=(160, 120)) as w:
        w.write_batch(frames, np.arange(75) / 25)
    rules = [Rule("left", "motion", zone="left", motion=0.01), Rule("right", "motion", zone="right", motion=0.01)]
    zones = {"left": [(0, 0), (80, 0), (80, 120), (0, 120)], "right": [(80, 0), (160, 0), (160, 120), (80, 120)]}
    from videolens.live.config import Camera
    from videolens.live.watch import Watcher

    cam = Camera(name="half", url=str(path), zones={k: tuple(map(tuple, v)) for k, v in zones.items()}, rules=tuple(
        rules), record=True, segment_seconds=1.0)
    events = list(Watcher([cam], tmp_path / "w").run())
    assert {(e["rule"], e["state"]) for e in events} == {("right", "start"), ("right", "end")}
    start = next(e for e in events if e["state"] == "start")
    assert 1.0 <= start["t_start"] <= 1.2
    segments = sorted((tmp_path / "w" / "recordings" / "half").glob("*.mp4"))
    assert len(segments) >= 2 and all(s.stat().st_size > 0 for s in segments)


def test_a_long_run_keeps_flat_memory_in_the_rules():
    """Tracks come and go for 90 simulated minutes: the rules' per-track state stays bounded (tracks gone for 10
    minutes are forgotten) while the counts go on."""
    from videolens.core.detections import Detections
    from videolens.live.rules import RuleEngine

    engine = RuleEngine([Rule("z", "zone", zone="z"), Rule("l", "line", line="l")],
                        zones={"z": ZONE}, lines={"l": LINE})
    enters = 0
    for i in range(5400):                        # one analyzed frame a second
        t = float(i)
        tid = i // 10 + 1                          # a new track every 10 s, walking left to right across x = 160
        x = 20 + 30 * (i % 10)
        # ... and one that stays on the right, never inside the zone nor across the line
        d = Detections([[x, 100, x + 20, 140], [250, 100, 270, 140]], [0.9, 0.9], [0, 0], ["object"] * 2,
                       [tid, 100_000 + tid], i, t)
        enters += sum(f.kind == "zone_enter" for f in engine.update(d, i, t))
    zone_rule, line_rule = engine.rules
    assert enters == 540                           # every track entered once
    assert line_rule.line.out_count == 540
    assert len(zone_rule.zone.dwell) < 150 and len(line_rule.line.states) < 300     # of 1080 tracks: the last ~15 min
    assert len(zone_rule.zone._was_inside) < 300 and len(zone_rule.zone._last_seen) < 300
    assert len(line_rule.line.crossings) <= 100
