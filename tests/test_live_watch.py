"""videolens watch end to end: every event through a real webhook receiver and a real MQTT broker exactly once,
clips that hold the event's frames, snapshots that show its box, the live page while a stream plays, a clean stop
on SIGTERM, one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import av
import numpy as np
import pytest
from _live_helpers import LINE, ZONE
from conftest import ROOT, run_cli
from test_live_sinks import Receiver, Subscriber, brokers, wait_until  # noqa: F401 - brokers is a fixture

from videolens.datasets.testvideo import make_index_video, read_index
from videolens.live.run import run_watch


@pytest.fixture(scope="module")
def moving_box(tmp_path_factory):
    """An index video (every frame shows its own number) with a box that walks left to right through a zone and
    across a line, as MOTChallenge detections: the events' frames are known, and so are the clip's."""
    d = tmp_path_factory.mktemp("moving")
    video = make_index_video(d / "walk.mp4", 100, size=(320, 240), fps=25, gop=25)
    rows = [f"{i + 1},-1,{10 + 3 * i},{150},{30},{40},0.9,-1,-1,-1" for i in range(100)]
    (d / "det.txt").write_text("\n".join(rows) + "\n")
    # The box's centre is x = 25 + 3i: it crosses x = 160 between frames 45 and 46 and enters the right half there.
    return video, d / "det.txt"


def test_every_event_reaches_the_webhook_and_mqtt_exactly_once(objects_video, brokers, tmp_path):  # noqa: F811
    video, gt = objects_video
    broker = brokers()
    broker.start()
    sub = Subscriber(broker.port)
    receiver = Receiver()
    printed: list[str] = []

    class Lines:
        def write(self, text):
            printed.append(text)

        def flush(self):
            pass

    try:
        summary = run_watch([str(video)], output=tmp_path, objects=f"replay:{gt}", tracker="bytetrack",
                            zones={"zone1": ZONE}, lines={"line1": LINE}, webhook=receiver.url,
                            mqtt=f"127.0.0.1:{broker.port}", json_stream=Lines(), quiet=True)
        logged = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
        assert len(logged) == sum(summary["events"].values()) >= 20
        assert wait_until(lambda: len(receiver.accepted) >= len(logged) and len(sub.events()) >= len(logged))
        time.sleep(0.2)
        assert receiver.accepted == logged and sub.events() == logged
        assert [json.loads(line) for line in "".join(printed).splitlines()] == logged
    finally:
        receiver.stop()
        sub.close()


def test_a_receiver_that_is_down_loses_nothing_and_stalls_nothing(moving_box, tmp_path):
    """The webhook receiver goes away for a second while a paced file plays: the analysis goes on at its pace, and
    every event is delivered once the receiver is back."""
    video, det = moving_box
    receiver = Receiver()
    receiver.stop()                     # down from the start ...
    threading.Timer(1.5, receiver.start).start()       # ... and back 1.5 s later, on the same port
    try:
        summary = run_watch([str(video)], output=tmp_path, objects=f"replay:{det}", tracker="bytetrack",
                            lines={"line1": LINE}, zones={"zone1": [(160, 0), (320, 0), (320, 240), (160, 240)]},
                            webhook=receiver.url, realtime=True, fps=10, quiet=True)
        logged = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
        assert {e["kind"] for e in logged} >= {"line_cross", "zone_enter"}
        assert receiver.accepted == logged
        cam = summary["cameras"]["walk"]
        # 10 a second over the 4 s: 40 at most; a sink that blocked the analysis for its 1.5 s down would cost 15
        assert cam["frames_in"] == 100 and 30 <= cam["frames_analyzed"] <= 41
    finally:
        receiver.stop()


def test_clip_holds_the_events_frames_and_the_snapshot_shows_its_box(moving_box, tmp_path):
    video, det = moving_box
    run_watch([str(video)], output=tmp_path, objects=f"replay:{det}", tracker="bytetrack", lines={"line1": LINE},
              quiet=True)
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    cross = next(e for e in events if e["kind"] == "line_cross")
    assert cross["direction"] == "out" and 44 <= cross["frame_start"] <= 47     # right-hand side of a downward line
    with av.open(str(tmp_path / cross["clip"])) as clip:
        shown = [read_index(f.to_ndarray(format="rgb24")) for f in clip.decode(video=0)]
    # pre and post are 5 s: the clip holds the whole 4 s video around the crossing, in order, from a keyframe.
    assert shown == list(range(shown[0], shown[-1] + 1)) and shown[0] == 0 and shown[-1] == 99
    snap = av.open(str(tmp_path / cross["snapshot"])).decode(video=0).__next__().to_ndarray(format="rgb24")
    frame = next(av.open(str(video)).decode(video=0))
    for f in av.open(str(video)).decode(video=0):
        if read_index(f.to_ndarray(format="rgb24")) == cross["frame_start"]:
            frame = f.to_ndarray(format="rgb24")
            break
    x1 = 10 + 3 * cross["frame_start"]
    left_edge = (slice(155, 185), slice(max(0, x1 - 1), x1 + 2))
    assert np.abs(snap[left_edge].astype(int) - frame[left_edge].astype(int)).mean() > 20   # the box is drawn
    far = (slice(0, 40), slice(260, 320))
    assert np.abs(snap[far].astype(int) - frame[far].astype(int)).mean() < 12               # the rest is the frame


def test_the_live_page_shows_the_stream_and_its_events(moving_box, browser, tmp_path):
    video, det = moving_box
    port = _free_port()
    done = threading.Event()

    def run():
        try:
            run_watch([str(video)], output=tmp_path, objects=f"replay:{det}", tracker="bytetrack",
                      lines={"line1": LINE}, realtime=True, fps=10, serve=f"127.0.0.1:{port}", quiet=True,
                      duration=20)
        finally:
            done.set()

    driver = browser
    threading.Thread(target=run, daemon=True).start()
    try:
        assert wait_until(lambda: _up(port), 10)
        driver.get(f"http://127.0.0.1:{port}/")
        assert wait_until(lambda: driver.execute_script(
            "const i = document.querySelector('img'); return i && i.naturalWidth") == 320, 10)
        # the box crosses the line at ~1.8 s: the event shows up on the page while the video still plays
        assert wait_until(lambda: "line_cross" in driver.page_source, 10)
        assert not done.is_set()
    finally:
        done.wait(30)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _up(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def test_sigterm_stops_cleanly(tmp_path):
    """A paced 10 s file stopped after 2 s with SIGTERM: exit 0, whole lines in events.jsonl, no partial files."""
    clip = make_index_video(tmp_path / "ten.mp4", 250, size=(160, 120), fps=25)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "videolens", "watch", str(clip), "--realtime", "-o",
                             str(tmp_path / "out"), "--quiet"], env=env, stderr=subprocess.PIPE, text=True)
    # Stopped once it is watching (status.json is written then), not while a loaded machine is still importing
    assert wait_until(lambda: (tmp_path / "out" / "status.json").exists(), timeout=60)
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0, proc.stderr.read()
    assert "Traceback" not in proc.stderr.read()
    out = tmp_path / "out"
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert [e["state"] for e in events] == ["start", "end"]        # the motion event was closed on the way out
    status = json.loads((out / "status.json").read_text())["cameras"]["ten"]
    assert 0 < status["frames_in"] < 250
    assert not [p for p in out.rglob("*") if ".partial" in p.name or p.name.startswith(".")]
    assert (out / events[0]["clip"]).stat().st_size > 0


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "site.yaml"
    bad.write_text("cameras:\n  - url: rtsp://cam/x\n    zones:\n      door: [[0, 0], [5, 5]]\n")
    cases = [
        (["watch", "gopher://u:pw@host/x"], "unknown source scheme 'gopher'"),
        (["watch", "--config", bad], "site.yaml:4: cameras[0].zones.door: expected at least 3 points"),
        (["watch", "--config", tmp_path / "missing.yaml"], "missing.yaml: cannot read the config"),
        (["watch", tmp_path / "nothing.mp4"], "nothing.mp4: no such file"),
        (["watch"], "give a SOURCE or --config"),
        (["watch", "rtsp://cam/x", "--serve", "0.0.0.0:8080"], "needs --token"),
    ]
    for args, message in cases:
        r = run_cli(*args, "-o", tmp_path / "o", "--quiet")
        assert r.code == 2, (args, r)
        assert message in r.err and r.err.count("\n") == 1 and "Traceback" not in r.err and "pw" not in r.err, r
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 100)
    r = run_cli("watch", broken, "-o", tmp_path / "o2", "--quiet")
    assert r.code == 2 and "broken.mp4" in r.err and r.err.count("\n") == 1, r


def test_rules_from_the_command_line(moving_box, tmp_path):
    """--rule takes a config rule's keys: the box crosses the line outwards only, then stays in the zone ~2 s."""
    video, det = moving_box
    r = run_cli("watch", video, "--objects", f"replay:{det}", "--tracker", "bytetrack", "--line", "160,0,160,240",
                "--zone", "160,0,320,0,320,240,160,240", "--rule", "line=line1 direction=in",
                "--rule", "name=stays zone=zone1 loiter=1", "-o", tmp_path / "o", "--json")
    assert r.code == 0, r
    events = [json.loads(line) for line in r.out.splitlines()]
    assert {e["kind"] for e in events} == {"loiter", "track_end"}, events    # no inward crossing, no zone_enter
    start = next(e for e in events if e["state"] == "start")
    assert start["rule"] == "stays" and start["zone"] == "zone1" and start["seconds"] >= 1.0
    assert 46 + 25 <= start["frame_start"] <= 46 + 27
    bad = run_cli("watch", video, "--rule", "zone=nowhere loiter=2", "-o", tmp_path / "b")
    assert bad.code == 2 and "no zone 'nowhere' on camera walk" in bad.err and "Traceback" not in bad.err, bad
    bad = run_cli("watch", video, "--rule", "zone=zone1 loiter=soon", "--zone", "0,0,9,0,9,9", "-o", tmp_path / "c")
    assert bad.code == 2 and "--rule 'zone=zone1 loiter=soon': expected int/float" in bad.err, bad
