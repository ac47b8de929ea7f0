"""The live page of ``videolens watch --serve`` (videolens/live/server.py) with real parts.

A thread decodes samples/sample.mp4 with VideoReader and JPEG-encodes its frames with cv2 into a LiveState while a
headless Chromium (the Debian packages, as in test_report_html.py) shows the page; plain HTTP clients check the
token, path traversal, byte ranges and the MJPEG stream.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import shutil
import socket
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import SAMPLE
from test_report_html import severe

from videolens.errors import VideolensError
from videolens.live.server import LiveServer, LiveState

TOKEN = "tok-3f9a+/=&x"                              # characters that must be URL-encoded on the way
HOSTILE_CAMERA = "<script>alert(1)</script>"
HOSTILE_CLASS = "<img src=x onerror=alert(1)>"
EVENT_ID = "front-12:00:00+01 #7"                      # spaces, '+', ':' and '#' in file names and URLs
SECRET = "never-served-secret"
WIDTH, HEIGHT = 360, 288                               # samples/sample.mp4


def jpeg(frame) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return buf.tobytes()


class Feeder(threading.Thread):
    """Decodes the sample and feeds its frames to ``state`` at about ``fps``, as the camera loop does; loops."""

    def __init__(self, state: LiveState, cameras: list[str], fps: float = 12.0):
        super().__init__(daemon=True, name="test-feeder")
        self.state, self.cameras, self.fps = state, cameras, fps
        self.stopping = threading.Event()
        self.frames = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        from videolens import VideoReader

        try:
            reader = VideoReader(SAMPLE)
            while not self.stopping.is_set():
                for batch in reader.iter_frames(step=2):
                    data = jpeg(batch.frames[0])
                    for cam in self.cameras:
                        self.state.update_frame(cam, data)
                    self.frames += 1
                    self.state.set_status({"cameras": {cam: {
                        "frames_in": 2 * self.frames, "frames_analyzed": self.frames, "frames_dropped": self.frames,
                        "lag": 0.25, "cpu": 12.5, "connected": True,
                        "last_error": "rtsp://admin:hunter2@10.0.0.7/stream1: timed out once"}
                        for cam in self.cameras}})
                    if self.stopping.wait(1 / self.fps):
                        return
        except BaseException as e:  # noqa: BLE001 (reported by the fixture)
            self.error = e


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory) -> Path:
    """An output folder as `watch` leaves it, plus bait for path traversal."""
    root = tmp_path_factory.mktemp("live")
    out = root / "out"
    (out / "snapshots").mkdir(parents=True)
    (out / "clips").mkdir()
    (out / "events.jsonl").write_text(json.dumps({"secret": SECRET}) + "\n")
    (root / "secret.mp4").write_text(SECRET)
    (out / "clips" / "link.mp4").symlink_to(root / "secret.mp4")         # a link out of the folder
    (out / "clips" / ".partial.mp4").write_text(SECRET)                 # a clip being written
    shutil.copy(SAMPLE, out / "clips" / f"{EVENT_ID}.mp4")
    return out


@pytest.fixture(scope="module")
def live(out_dir):
    """A token-protected server fed by a Feeder, for two cameras: a plain one and a hostile name."""
    state = LiveState()
    feeder = Feeder(state, ["front", HOSTILE_CAMERA])
    state.set_counts("front", {"zones": {"door": 2}, "lines": {"gate": {"in": 3, "out": 1}}})
    state.set_counts(HOSTILE_CAMERA, {"zones": {"<b>zone</b>": 1}})
    server = LiveServer(state, out_dir, port=0, token=TOKEN)
    server.start()
    feeder.start()
    deadline = time.time() + 10
    while feeder.frames == 0 and feeder.error is None and time.time() < deadline:
        time.sleep(0.05)
    assert feeder.frames, feeder.error
    yield server
    feeder.stopping.set()
    server.stop()
    feeder.join(5)
    assert feeder.error is None, feeder.error


def get(server: LiveServer, path: str, headers: dict | None = None, host: str = "127.0.0.1"):
    """``(status, headers, body)``; the body of an MJPEG stream is not read."""
    conn = http.client.HTTPConnection(host, server.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        body = b"" if r.getheader("Content-Type", "").startswith("multipart/") else r.read()
        return r.status, r, body
    finally:
        conn.close()


def with_token(path: str) -> str:
    return path + ("&" if "?" in path else "?") + "token=" + quote(TOKEN, safe="")


def wait_for(driver, script: str, timeout: float = 10.0, *args):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = driver.execute_script(script, *args)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {script}")


# --- in the browser -----------------------------------------------------------------------------------------------

def test_page_shows_frames_counts_status_and_events(browser, live, out_dir, tmp_path):  # noqa: F811 (fixture)
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    d = browser
    d.get_log("browser")
    d.get(live.url + "?token=" + quote(TOKEN, safe=""))
    # Both live views play the MJPEG stream: the images load at the video's size.
    sizes = wait_for(d, """
        var imgs = [].slice.call(document.querySelectorAll('.cam img.live'));
        return imgs.length == 2 && imgs.every(function(i){ return i.naturalWidth > 0; })
            && imgs.map(function(i){ return [i.naturalWidth, i.naturalHeight]; });""")
    assert sizes == [[WIDTH, HEIGHT], [WIDTH, HEIGHT]]
    assert live.stream_clients == 2
    # Names, counts and status figures are text; the password in the last error is masked.
    names = [e.get_attribute("textContent") for e in d.find_elements(By.CSS_SELECTOR, ".cam h2 .name")]
    assert names == ["front", HOSTILE_CAMERA]
    wait_for(d, "return document.querySelectorAll('.cam .figs tr').length >= 12")
    # The counts arrive apart from the status figures: the rows above can all be there before the front camera's
    # (the suite once read its text a moment too early).
    wait_for(d, """var c = document.querySelectorAll('.cam');
        return c.length == 2 && c[0].textContent.indexOf('line gate') >= 0
            && c[1].textContent.indexOf('<b>zone</b>') >= 0;""")
    front, hostile = d.find_elements(By.CSS_SELECTOR, ".cam")
    assert "\nzone door 2\nline gate in 3 · out 1\n" in front.text
    assert "\nzone <b>zone</b> 1\n" in hostile.text and not hostile.find_elements(By.TAG_NAME, "b")
    for figure in ("\nframes in ", "\nanalyzed ", "\ndropped ", "\nlag 0.25 s\n", "\nCPU 12.50 %\n", "\nconnected yes\n"):
        assert figure in front.text
    assert "rtsp://***@10.0.0.7/stream1" in front.text and "hunter2" not in d.page_source
    assert d.execute_script("return document.scripts.length") == 1

    # An event added while the page is open shows up with its snapshot, its class as text.
    snapshot = out_dir / "snapshots" / f"{EVENT_ID}.jpg"
    from videolens import VideoReader

    snapshot.write_bytes(jpeg(VideoReader(SAMPLE).get_frames([100])[0]))
    event = {"id": EVENT_ID, "camera": HOSTILE_CAMERA, "kind": "zone_enter", "rule": "<i>intruder</i>",
             "state": "instant", "start": "2024-05-01T12:00:00+01:00", "zone": "door", "class": HOSTILE_CLASS,
             "track_id": 7, "score": 0.91, "snapshot": f"snapshots/{EVENT_ID}.jpg", "clip": f"clips/{EVENT_ID}.mp4"}
    t0 = time.time()
    live.state.add_event(event)
    wait_for(d, "var i = document.querySelector('#events li.event img');"
                "return i && i.complete && i.naturalWidth > 0;", timeout=5)
    assert time.time() - t0 < 5
    item = d.find_element(By.CSS_SELECTOR, "#events li.event")
    assert item.get_attribute("data-id") == EVENT_ID
    assert HOSTILE_CLASS in item.text and "<i>intruder</i>" in item.text and HOSTILE_CAMERA in item.text
    assert d.execute_script("return document.querySelectorAll('img[src=\"x\"], [onerror], #events i').length") == 0
    with pytest.raises(NoAlertPresentException):
        d.switch_to.alert.text                              # noqa: B018 (no injected handler ever ran)

    # Clicking it plays its clip: the <video> gets the clip's URL (with the token) and reads it through ranges.
    item.click()
    src = wait_for(d, "var v = document.getElementById('player'); return v.readyState >= 1 && v.currentSrc;", 15)
    assert src == live.url + "clips/" + quote(f"{EVENT_ID}.mp4", safe="") + "?token=" + quote(TOKEN, safe="")
    assert d.execute_script("return document.getElementById('player').duration") == pytest.approx(18.0, abs=0.1)

    # The end of a lasting event updates its line, not a new one.
    live.state.add_event({"id": EVENT_ID, "state": "end", "end": "2024-05-01T12:00:09+01:00"})
    wait_for(d, "return document.querySelector('#events li.event .when').textContent.indexOf('\u2013') >= 0", 5)
    assert len(d.find_elements(By.CSS_SELECTOR, "#events li.event")) == 1
    assert HOSTILE_CLASS in d.find_element(By.CSS_SELECTOR, "#events li.event").text
    assert severe(d) == []
    d.save_screenshot(str(tmp_path / "live.png"))
    d.get("about:blank")                                  # the page goes: so do its streams
    deadline = time.time() + 5
    while live.stream_clients and time.time() < deadline:
        time.sleep(0.05)
    assert live.stream_clients == 0


def test_past_four_cameras_the_page_shows_stills(browser, tmp_path):  # noqa: F811 (fixture)
    """Browsers open 6 connections per host: 4 MJPEG streams at most, the other cameras refresh a still."""
    from videolens import VideoReader

    state = LiveState()
    frames = VideoReader(SAMPLE).get_frames([0, 100, 200, 300, 400])
    with LiveServer(state, tmp_path, port=0) as server:
        for k, frame in enumerate(frames):
            state.update_frame(f"cam{k}", jpeg(frame))
        browser.get(server.url)
        srcs = wait_for(browser, """
            var imgs = [].slice.call(document.querySelectorAll('.cam img.live'));
            return imgs.length == 5 && imgs.every(function(i){ return i.naturalWidth > 0; })
                && imgs.map(function(i){ return i.src; });""")
        assert [s.split("/")[3] for s in srcs] == ["stream"] * 4 + ["frame"]
        assert server.stream_clients == 4
        browser.get("about:blank")


# --- over plain HTTP ----------------------------------------------------------------------------------------------

ROUTES = ["/", "/index.html", "/api/events", "/api/events?after=0", "/api/status", "/api/counts", "/api/cameras",
          "/stream/front.mjpg", "/frame/front.jpg", f"/snapshots/{quote(EVENT_ID)}.jpg",
          f"/clips/{quote(EVENT_ID)}.mp4"]


def test_every_route_needs_the_token(live, out_dir):
    (out_dir / "snapshots" / f"{EVENT_ID}.jpg").write_bytes(b"\xff\xd8 not really a jpeg \xff\xd9")
    for path in ROUTES + ["/no/such/route", "/api/events?token=wrong"]:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic " + TOKEN}):
            status, r, _ = get(live, path, headers)
            assert status == 401, (path, headers)
            assert r.getheader("WWW-Authenticate", "").startswith("Bearer")
    for path in ROUTES:
        assert get(live, with_token(path))[0] == 200, path
        assert get(live, path, {"Authorization": f"Bearer {TOKEN}"})[0] == 200, path
    for token_path, code in (("/api/events", 401), (with_token("/api/events"), 405)):
        conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=10)
        conn.request("POST", token_path, body=b"{}")
        assert conn.getresponse().status == code
        conn.close()
    status, r, body = get(live, with_token("/"))
    assert r.getheader("Content-Type") == "text/html; charset=utf-8"
    assert "script-src 'sha256-" in r.getheader("Content-Security-Policy")
    assert b"<script>alert" not in body and b"front" not in body            # the page holds no data


def test_non_loopback_bind_needs_a_token(tmp_path):
    state = LiveState()
    for host in ("0.0.0.0", "203.0.113.9", "::", "example.com"):     # refused before binding (203.0.113.9 is no
        with pytest.raises(VideolensError, match="needs --token") as e:  # address of ours: binding would fail)
            LiveServer(state, tmp_path, host=host, port=0)
        assert "\n" not in str(e.value)
    for host in ("127.0.0.1", "localhost", "127.0.0.2"):
        LiveServer(state, tmp_path, host=host, port=0).stop()


def own_ipv4() -> str | None:
    """This machine's address on its default route, or None (a network-less container has only lo)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("198.51.100.1", 9))          # UDP: nothing is sent, the kernel only picks a source address
            ip = s.getsockname()[0]
    except OSError:
        return None
    return None if ipaddress.ip_address(ip).is_loopback or ip == "0.0.0.0" else ip


@pytest.mark.parametrize("where", ["all interfaces", "own address"])
def test_non_loopback_bind_with_a_token(where, tmp_path):
    """Binding to 0.0.0.0 needs no interface, so that case runs everywhere; the machine's own address is tried
    only where it has one (a CI container may have only lo): skipped then, even with CI=true, as the rule under
    test is the same and the first case covers it."""
    bind = connect = "0.0.0.0"
    if where == "own address":
        bind = connect = own_ipv4()
        if bind is None:
            pytest.skip("no non-loopback IPv4 address on this machine (no default route): "
                        "the 'all interfaces' case covers the rule")
    else:
        connect = "127.0.0.1"
    state = LiveState()
    state.set_counts("front", {"zones": {"door": 1}})
    with LiveServer(state, tmp_path, host=bind, port=0, token=TOKEN) as server:
        assert server.url == f"http://{bind}:{server.port}/"
        assert get(server, "/api/counts", host=connect)[0] == 401
        status, _, body = get(server, with_token("/api/counts"), host=connect)
        assert status == 200 and json.loads(body) == {"front": {"zones": {"door": 1}}}


def test_path_traversal_is_refused(live, out_dir):
    attempts = ["/clips/../events.jsonl", "/clips/%2e%2e/events.jsonl", "/clips/..%2fevents.jsonl",
                "/clips/%2E%2E%2Fevents.jsonl", "/clips/..%5cevents.jsonl", "/clips/%252e%252e%252fevents.jsonl",
                "/snapshots/..%2f..%2fsecret.mp4", "/clips/..%2f..%2fsecret.mp4", "/clips//etc/passwd",
                "/clips/%2fetc%2fpasswd", "//clips/../events.jsonl", "/clips/link.mp4", "/clips/.partial.mp4",
                "/snapshots/%00.jpg", "/events.jsonl", "/clips/", "/clips/..", "/snapshots/../clips/x.mp4",
                f"/clips/..%2fclips%2f{quote(EVENT_ID, safe='')}.mp4", f"/snapshots/..%2fclips%2f{quote(EVENT_ID)}.mp4"]
    for path in attempts:
        status, _, body = get(live, with_token(path))
        assert status in (403, 404), (path, status)
        assert SECRET.encode() not in body
    assert get(live, with_token(f"/clips/{quote(EVENT_ID, safe='')}.mp4"))[0] == 200     # the control


def test_clips_answer_byte_ranges(live, out_dir):
    data = (out_dir / "clips" / f"{EVENT_ID}.mp4").read_bytes()
    path = with_token(f"/clips/{quote(EVENT_ID)}.mp4")
    status, r, body = get(live, path)
    assert status == 200 and body == data and r.getheader("Accept-Ranges") == "bytes"
    assert r.getheader("Content-Type") == "video/mp4"
    for header, first, last in (("bytes=0-99", 0, 99), ("bytes=-10", len(data) - 10, len(data) - 1),
                                (f"bytes={len(data) - 5}-", len(data) - 5, len(data) - 1),
                                (f"bytes=100-{len(data) * 2}", 100, len(data) - 1)):
        status, r, body = get(live, path, {"Range": header})
        assert status == 206 and body == data[first:last + 1], header
        assert r.getheader("Content-Range") == f"bytes {first}-{last}/{len(data)}"
    status, r, _ = get(live, path, {"Range": f"bytes={len(data)}-"})
    assert status == 416 and r.getheader("Content-Range") == f"bytes */{len(data)}"
    assert get(live, path, {"Range": "bytes=0-1,5-6"})[0] == 200                  # several ranges: all of it


class Mjpeg:
    """A plain socket client of /stream/<camera>.mjpg that reads one part at a time, splitting on the boundary."""

    def __init__(self, server: LiveServer, camera: str):
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        self.sock.sendall(f"GET /stream/{quote(camera, safe='')}.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        self.buf = b""
        head = self._until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        assert head[0].startswith("HTTP/1.1 200"), head
        ctype = next(h.split(":", 1)[1].strip() for h in head if h.lower().startswith("content-type:"))
        assert ctype.startswith("multipart/x-mixed-replace; boundary=")
        self.delimiter = b"\r\n--" + ctype.split("boundary=")[1].encode()
        assert self._until(b"\r\n") == self.delimiter[2:]
        self._headers()

    def _until(self, marker: bytes) -> bytes:
        while marker not in self.buf:
            data = self.sock.recv(1 << 16)
            if not data:
                raise EOFError
            self.buf += data
        out, self.buf = self.buf.split(marker, 1)
        return out

    def _headers(self) -> None:
        assert self._until(b"\r\n\r\n") == b"Content-Type: image/jpeg"

    def part(self) -> bytes:
        """The next frame: its data runs up to the boundary, then the next part's headers follow at once."""
        body = self._until(self.delimiter)
        assert self._until(b"\r\n") == b""
        self._headers()
        return body

    def close(self) -> None:
        self.sock.close()


def test_mjpeg_stream_sends_the_newest_frames(tmp_path, capfd):
    import cv2
    import numpy as np

    from videolens import VideoReader

    frames = [jpeg(f) for f in VideoReader(SAMPLE).get_frames(list(range(0, 200, 20)))]   # 10 distinct frames
    state = LiveState()
    with LiveServer(state, tmp_path, port=0) as server:
        assert get(server, "/stream/front.mjpg")[0] == 404                  # no such camera
        for f in frames[:3]:
            state.update_frame("front", f)
        client = Mjpeg(server, "front")
        first = client.part()
        assert first == frames[2]                           # the newest at connection, not the first pushed
        image = cv2.imdecode(np.frombuffer(first, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (HEIGHT, WIDTH, 3)
        state.update_frame("front", frames[3])
        assert client.part() == frames[3]
        for f in frames[4:]:                                # a burst: the client gets the last, maybe some between,
            state.update_frame("front", f)                  # in order, never a backlog of old ones
        got = [client.part()]
        while got[-1] != frames[-1]:
            got.append(client.part())
        order = [frames.index(g) for g in got]
        assert order == sorted(set(order)) and order[0] >= 4
        assert server.stream_clients == 1
        client.close()                                      # the client goes: its stream ends, with no frame sent
        deadline = time.time() + 3
        while server.stream_clients and time.time() < deadline:
            time.sleep(0.05)
        assert server.stream_clients == 0
        # FFmpeg (here through OpenCV) reads the stream too, while a thread feeds it the sample's frames.
        feeder = Feeder(state, ["front"], fps=25)
        feeder.start()
        try:
            cap = cv2.VideoCapture(server.url + "stream/front.mjpg", cv2.CAP_FFMPEG)
            shapes = [cap.read()[1].shape for _ in range(3)]
            cap.release()
        finally:
            feeder.stopping.set()
            feeder.join(5)
        assert shapes == [(HEIGHT, WIDTH, 3)] * 3 and feeder.error is None
        # A stream open when the server stops ends too.
        client = Mjpeg(server, "front")
        assert client.part() == state.frame("front")[1]
    t = time.time()
    assert client.sock.recv(10) == b""                      # EOF
    assert time.time() - t < 2
    client.close()
    assert capfd.readouterr().err == ""                     # no line per request


def test_loopback_server_without_token_refuses_foreign_host_names(tmp_path):
    """DNS rebinding: a web page whose name resolves to 127.0.0.1 sends its own name as Host."""
    with LiveServer(LiveState(), tmp_path, port=0) as server:
        assert get(server, "/api/status", {"Host": f"attacker.example:{server.port}"})[0] == 403
        for host in ("localhost", f"127.0.0.1:{server.port}", f"localhost:{server.port}", "[::1]:80"):
            assert get(server, "/api/status", {"Host": host})[0] == 200, host


def test_events_api_and_what_the_state_keeps(tmp_path):
    state = LiveState(max_events=3)
    for i in range(5):
        state.add_event({"id": f"e{i}", "camera": "front", "score": float("nan") if i == 4 else 0.5})
    state.set_status({"cameras": [{"name": "back", "connected": False,
                                   "last_error": "rtsp://u:p@h/s and http://x:y@z:80/m refused"}]})
    with LiveServer(state, tmp_path, port=0) as server:
        doc = json.loads(get(server, "/api/events")[2])
        assert doc["last"] == 5 and [e["seq"] for e in doc["events"]] == [3, 4, 5]
        assert [e["event"]["id"] for e in doc["events"]] == ["e2", "e3", "e4"]
        assert doc["events"][-1]["event"]["score"] is None                  # NaN is not JSON
        assert json.loads(get(server, "/api/events?after=4")[2])["events"][0]["event"]["id"] == "e4"
        assert json.loads(get(server, "/api/events?after=5")[2]) == {"last": 5, "events": []}
        assert get(server, "/api/events?after=x")[0] == 400
        status = json.loads(get(server, "/api/status")[2])
        assert status["cameras"][0]["last_error"] == "rtsp://***@h/s and http://***@z:80/m refused"
        assert json.loads(get(server, "/api/cameras")[2]) == ["back"]
        assert get(server, "/frame/back.jpg")[0] == 404                      # known camera, no frame yet

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(VideolensError, match="cannot listen there"):
            LiveServer(state, tmp_path, port=taken.getsockname()[1])
