"""Event sinks of ``videolens watch`` against real receivers: a ``ThreadingHTTPServer`` for the webhook and
Debian's ``mosquitto`` with a real paho subscriber for MQTT. Backoffs are short so the file runs in seconds."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from videolens.errors import VideolensError
from videolens.live.sinks import JsonLinesSink, MqttSink, WebhookSink, make_sinks, mqtt_topic, parse_host_port

FAST = {"backoff": 0.05, "max_backoff": 0.2}    # retry and reconnect delays for tests
SEND_LIMIT = 0.05                                # send() must return well within this


def _require(ok: bool, msg: str) -> None:
    """Skip in a user's clone, fail with CI=true (as conftest.shared does)."""
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(msg + " (CI=true requires it)")
        pytest.skip(msg)


def _paho():
    try:
        import paho.mqtt.client as mqtt
    except ImportError:
        mqtt = None
    _require(mqtt is not None, "paho-mqtt is not installed (pip install -c constraints.txt '.[live]')")
    return mqtt


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def make_events(n: int, start: int = 0, cameras: tuple[str, ...] = ("front",)) -> list[dict]:
    return [{"id": f"{cameras[i % len(cameras)]}-20250101T120000-{i}", "camera": cameras[i % len(cameras)],
             "kind": "zone_enter", "rule": "intruder", "state": "instant", "start": "2025-01-01T12:00:00+01:00",
             "end": "2025-01-01T12:00:00+01:00", "track_id": i, "score": 0.9, "seq": i}
            for i in range(start, start + n)]


def send_all(sink, events: list[dict]) -> float:
    """Send each event; the longest send() in seconds."""
    longest = 0.0
    for event in events:
        t = time.perf_counter()
        sink.send(event)
        longest = max(longest, time.perf_counter() - t)
    return longest


def seqs(events: list[dict]) -> list[int]:
    return [e["seq"] for e in events]


# ---------------------------------------------------------------- JSON lines


def test_json_lines_one_parseable_line_per_event():
    out = io.StringIO()
    sink = JsonLinesSink(out)
    events = make_events(5, cameras=("front", "back"))
    send_all(sink, events)
    sink.close()
    lines = out.getvalue().splitlines()
    assert [json.loads(line) for line in lines] == events
    assert out.getvalue().endswith("\n") and sink.stats() == {"sent": 5}


def test_an_event_json_cannot_hold_raises_in_the_caller():
    """A non-JSON-able value is a bug upstream: it raises at send(), not silently in a worker."""
    sinks = [JsonLinesSink(io.StringIO()), WebhookSink(f"http://127.0.0.1:{free_port()}/", **FAST)]
    for sink in sinks:
        with pytest.raises(TypeError):
            sink.send({"camera": "front", "box": object()})
        with pytest.raises(ValueError):
            sink.send({"camera": "front", "score": float("nan")})
        sink.close(timeout=0)
        assert sink.stats()["sent"] == 0


# ---------------------------------------------------------------- webhook


class Receiver:
    """A real HTTP server on a loopback port that records every POST. The first ``fail`` are answered with
    ``fail_status`` (a redirect to / for a 3xx); ``hold`` (when given) keeps each request waiting until it is set."""

    def __init__(self, fail: int = 0, fail_status: int = 500, hold: threading.Event | None = None):
        self.port = free_port()
        self.fail, self.fail_status, self.hold = fail, fail_status, hold
        self.attempts: list[dict] = []       # every POST body, answered or not
        self.accepted: list[dict] = []       # those answered 200
        self.headers: list[dict] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.start()

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.lock:          # recorded before answering: the answer lets the next one in
                    receiver.attempts.append(body)
                    receiver.headers.append(dict(self.headers))
                    failing = receiver.fail > 0
                    receiver.fail -= failing
                    if not failing:
                        receiver.accepted.append(body)
                if receiver.hold is not None:
                    receiver.hold.wait(10)
                self.send_response(receiver.fail_status if failing else 200)
                if failing and receiver.fail_status < 400:
                    self.send_header("Location", "/")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def test_webhook_posts_every_event_once_in_order(receiver):
    sink = WebhookSink(receiver.url, token="t0ken", **FAST)
    events = make_events(100, cameras=("front", "back"))
    assert send_all(sink, events) < SEND_LIMIT
    sink.close(timeout=10)
    assert receiver.accepted == events
    assert sink.stats() == {"sent": 100, "retried": 0, "dropped": 0, "queued": 0, "last_error": None}
    headers = receiver.headers[0]
    assert headers["Content-Type"] == "application/json" and headers["Authorization"] == "Bearer t0ken"


def test_webhook_receiver_down_for_a_while_loses_nothing(receiver):
    sink = WebhookSink(receiver.url, **FAST)
    send_all(sink, make_events(5))
    assert wait_until(lambda: len(receiver.accepted) == 5)
    receiver.stop()
    assert send_all(sink, make_events(20, start=5)) < SEND_LIMIT
    assert wait_until(lambda: sink.stats()["retried"] >= 3)
    assert "refused" in sink.stats()["last_error"]
    receiver.start()                                 # a new server on the same port
    send_all(sink, make_events(5, start=25))
    sink.close(timeout=10)
    assert seqs(receiver.accepted) == list(range(30))
    assert sink.stats()["sent"] == 30 and sink.stats()["queued"] == 0


@pytest.mark.parametrize("status", [500, 302])
def test_webhook_retries_while_the_receiver_answers_an_error_or_a_redirect(status):
    """A redirect is not followed: urllib would turn the POST into a GET without the event."""
    receiver = Receiver(fail=4, fail_status=status)
    try:
        sink = WebhookSink(receiver.url, **FAST)
        send_all(sink, make_events(10))
        sink.close(timeout=10)
        assert seqs(receiver.accepted) == list(range(10))
        assert seqs(receiver.attempts) == [0] * 5 + list(range(1, 10))
        stats = sink.stats()
        assert (stats["sent"], stats["retried"]) == (10, 4) and stats["last_error"].startswith(f"HTTP {status}")
    finally:
        receiver.stop()


def test_webhook_queue_full_drops_the_oldest_and_counts():
    hold = threading.Event()
    receiver = Receiver(hold=hold)
    try:
        sink = WebhookSink(receiver.url, queue_size=5, **FAST)
        sink.send(make_events(1)[0])
        assert wait_until(lambda: len(receiver.attempts) == 1)     # event 0 is in flight, held by the receiver
        assert send_all(sink, make_events(9, start=1)) < SEND_LIMIT
        assert sink.stats()["dropped"] == 4 and sink.stats()["queued"] == 6
        hold.set()
        sink.close(timeout=10)
        assert seqs(receiver.accepted) == [0, 5, 6, 7, 8, 9]
        assert sink.stats() == {"sent": 6, "retried": 0, "dropped": 4, "queued": 0, "last_error": None}
    finally:
        hold.set()
        receiver.stop()


def test_webhook_password_in_the_url_is_sent_but_never_shown(caplog):
    receiver = Receiver(fail=1)
    try:
        url = f"http://alice:s3cr%40t@127.0.0.1:{receiver.port}/hook"
        with caplog.at_level(logging.INFO, logger="videolens.live.sinks"):
            sink = WebhookSink(url, **FAST)
            send_all(sink, make_events(2))
            sink.close(timeout=10)
        assert receiver.headers[0]["Authorization"] == "Basic " + base64.b64encode(b"alice:s3cr@t").decode()
        assert seqs(receiver.accepted) == [0, 1]
        shown = [repr(sink), str(sink.stats()), caplog.text]
        assert "HTTP 500" in caplog.text and f"http://***@127.0.0.1:{receiver.port}/hook" in caplog.text
        assert not any("s3cr" in text or "alice" in text for text in shown)
        with pytest.raises(VideolensError) as e:
            WebhookSink(url, token="x")
        assert "s3cr" not in str(e.value)
    finally:
        receiver.stop()


def test_close_gives_up_within_its_timeout_and_counts_what_is_left(caplog):
    sink = WebhookSink(f"http://127.0.0.1:{free_port()}/hook", **FAST)     # nothing listens there
    assert send_all(sink, make_events(3)) < SEND_LIMIT
    t = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="videolens.live.sinks"):
        sink.close(timeout=0.3)
    assert time.monotonic() - t < 0.8
    assert sink.stats()["queued"] == 3 and sink.stats()["sent"] == 0
    assert "3 event(s) not delivered" in caplog.text
    with pytest.raises(RuntimeError, match="closed"):
        sink.send(make_events(1)[0])


# ---------------------------------------------------------------- MQTT


def _mosquitto() -> str:
    path = shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
                                              if os.access(p, os.X_OK)), None)
    _require(path is not None, "mosquitto is not installed (make setup installs it)")
    return path


class Broker:
    """Debian's mosquitto on a free loopback port, started and stopped at will.

    ``persistent``: sessions survive a restart (the database is saved on SIGTERM), so a subscriber that connected
    once keeps its subscription and gets what was published while it was away. Without that, an event the sink
    delivers before the test's subscriber is back would rightly go nowhere, and the test would race.
    """

    def __init__(self, directory: Path, persistent: bool = False):
        self.binary, self.port = _mosquitto(), free_port()
        directory.mkdir(parents=True, exist_ok=True)
        self.config = directory / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true", f"persistence {str(persistent).lower()}"]
        if persistent:
            lines.append(f"persistence_location {directory}/")
        if os.geteuid() == 0:
            lines.append("user root")       # else it drops to user mosquitto, which cannot write the database here
        self.config.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([self.binary, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)

        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return True
            except OSError:
                return self.process.poll() is not None
        assert wait_until(listening, 5) and self.process.poll() is None, self.process.stderr.read()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(5)


@pytest.fixture
def brokers(tmp_path):
    """Make brokers (``brokers(persistent=True)``); all are stopped at the end."""
    made: list[Broker] = []

    def make(persistent: bool = False) -> Broker:
        made.append(Broker(tmp_path / f"broker{len(made)}", persistent))
        return made[-1]
    yield make
    for b in made:
        b.stop()


class Subscriber:
    """A real paho client subscribed to ``videolens/+/events`` with QoS 1, recording (topic, event, dup) in arrival
    order. With ``session``, its session is persistent (clean_session off), so it survives a broker restart."""

    def __init__(self, port: int, session: str | None = None):
        mqtt = _paho()
        from paho.mqtt.enums import CallbackAPIVersion

        self.got: list[tuple[str, dict, bool]] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=session or "",
                                  clean_session=session is None)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe("videolens/+/events", qos=1)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subscribed.set()
        self.client.on_message = lambda c, u, m: self.got.append((m.topic, json.loads(m.payload), m.dup))
        self.client.reconnect_delay_set(0.05, 0.2)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.subscribed.wait(5)

    def events(self) -> list[dict]:
        """What the broker delivered as new: not its own resends to this subscriber (dup set), which a broker
        stopped before it saw our PUBACK makes after its restart. A second publish by the sink would come as new."""
        return [event for _, event, dup in self.got if not dup]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def check_delivery(sub: Subscriber, events: list[dict]) -> None:
    """Each event exactly once, in order, on its camera's topic (and the broker's resends copies of those)."""
    assert wait_until(lambda: len(sub.events()) >= len(events))
    time.sleep(0.2)                                  # room for a duplicate to show up
    sub.close()
    assert sub.events() == events
    assert all(topic == f"videolens/{event['camera']}/events" for topic, event, _ in sub.got)
    assert all(event in [e for _, e, d in sub.got[:i] if not d] for i, (_, event, dup) in enumerate(sub.got) if dup)


def test_mqtt_every_event_once_in_order(brokers):
    broker = brokers()
    broker.start()
    sub = Subscriber(broker.port)
    sink = MqttSink(f"127.0.0.1:{broker.port}", **FAST)
    events = make_events(200, cameras=("front", "back", "gate"))
    assert send_all(sink, events) < SEND_LIMIT
    sink.close(timeout=10)
    assert sink.stats() == {"sent": 200, "retried": 0, "dropped": 0, "queued": 0, "last_error": None,
                            "connected": False}
    check_delivery(sub, events)


def test_mqtt_broker_down_at_start_and_restarted_midway(brokers):
    """Events sent while the broker is down (at start, and after a restart) arrive once it is up: all, once, in
    order; send() never waits for it."""
    broker = brokers(persistent=True)
    broker.start()
    sub = Subscriber(broker.port, session="videolens-test-subscriber")
    broker.stop()                                    # the subscriber's session is saved with the broker's database

    t = time.perf_counter()
    sink = MqttSink(f"127.0.0.1:{broker.port}", **FAST)
    assert time.perf_counter() - t < 0.5             # a broker that is down does not hold up the start
    assert send_all(sink, make_events(10)) < SEND_LIMIT
    assert wait_until(lambda: sink.stats()["last_error"] is not None, 5)
    assert sink.stats()["queued"] == 10 and not sink.stats()["connected"]
    broker.start()
    assert wait_until(lambda: len(sub.events()) >= 10)

    send_all(sink, make_events(10, start=10))        # broker up
    assert wait_until(lambda: len(sub.events()) >= 20 and sink.stats()["queued"] == 0)
    broker.stop()                                    # down again, mid-way
    assert send_all(sink, make_events(10, start=20)) < SEND_LIMIT
    time.sleep(0.3)
    assert sink.stats()["queued"] == 10
    broker.start()
    send_all(sink, make_events(5, start=30))
    sink.close(timeout=10)
    check_delivery(sub, make_events(35))
    stats = sink.stats()
    assert (stats["sent"], stats["dropped"], stats["queued"]) == (35, 0, 0)


def test_mqtt_keeps_the_order_when_events_come_while_it_reconnects(brokers):
    """Events every millisecond across a broker restart: paho alone lets one sent while it reconnects overtake
    those it kept offline (about two runs in three here); MqttSink keeps one in flight, so the order holds."""
    broker = brokers(persistent=True)
    broker.start()
    sub = Subscriber(broker.port, session="videolens-test-order")
    sink = MqttSink(f"127.0.0.1:{broker.port}", **FAST)
    sent, stop = [], threading.Event()

    def feed():
        while not stop.is_set():
            event = make_events(1, start=len(sent))[0]
            sink.send(event)
            sent.append(event)
            time.sleep(0.001)
    feeder = threading.Thread(target=feed)
    feeder.start()
    time.sleep(0.1)
    broker.stop()
    time.sleep(0.2)
    broker.start()
    time.sleep(0.4)
    stop.set()
    feeder.join()
    sink.close(timeout=10)
    assert sink.stats()["sent"] == len(sent) and sink.stats()["dropped"] == 0
    check_delivery(sub, sent)


def test_paho_keeps_qos1_messages_published_while_disconnected(brokers):
    """What paho-mqtt 2.x does with QoS 1 messages published while it is not connected, which MqttSink relies on
    and works around: it keeps them (rc MQTT_ERR_NO_CONN, not an error) and sends them on reconnect, once and in
    order; beyond max_queued_messages_set it refuses the newest (MQTT_ERR_QUEUE_SIZE), not the oldest; and
    is_published() of a message published offline raises RuntimeError for good, even once it is delivered, so
    delivery is seen through on_publish. (Not pinned here, as it is a race: a message published while paho
    reconnects, before the CONNACK, goes out ahead of those it kept offline.)"""
    mqtt = _paho()
    from paho.mqtt.enums import CallbackAPIVersion

    broker = brokers(persistent=True)
    broker.start()
    sub = Subscriber(broker.port, session="videolens-test-paho")
    broker.stop()

    acked: list[int] = []
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    client.on_publish = lambda c, u, mid, rc, p: acked.append(mid)
    client.max_queued_messages_set(3)
    client.reconnect_delay_set(0.05, 0.2)
    client.connect_async("127.0.0.1", broker.port)
    client.loop_start()
    try:
        infos = [client.publish("videolens/front/events", json.dumps(e), qos=1) for e in make_events(4)]
        assert [i.rc for i in infos] == [mqtt.MQTT_ERR_NO_CONN] * 3 + [mqtt.MQTT_ERR_QUEUE_SIZE]
        broker.start()
        assert wait_until(lambda: len(acked) == 3)
        assert acked == [i.mid for i in infos[:3]]
        with pytest.raises(RuntimeError):
            infos[0].is_published()
        check_delivery(sub, make_events(3))
    finally:
        client.disconnect()
        client.loop_stop()
        sub.close()


def test_mqtt_close_with_the_broker_down_returns_within_its_timeout():
    _paho()
    sink = MqttSink(f"127.0.0.1:{free_port()}", **FAST)
    send_all(sink, make_events(2))
    t = time.monotonic()
    sink.close(timeout=0.3)
    assert time.monotonic() - t < 0.8
    assert sink.stats()["queued"] == 2 and sink.stats()["last_error"].startswith("cannot connect")


def test_mqtt_events_json_cannot_hold_or_camera_names_no_topic_can_hold_raise():
    _paho()
    sink = MqttSink(f"127.0.0.1:{free_port()}", **FAST)
    try:
        with pytest.raises(TypeError):
            sink.send({"camera": "front", "box": object()})
        with pytest.raises(VideolensError, match="MQTT topic"):
            sink.send({"camera": "front/left"})
    finally:
        sink.close(timeout=0)
    assert sink.stats()["queued"] == 0
    assert mqtt_topic("cam.local-stream1") == "videolens/cam.local-stream1/events"
    for bad in ("", "a+b", "#", "a/b"):
        with pytest.raises(VideolensError):
            mqtt_topic(bad)


@pytest.mark.parametrize("value, expected", [("broker.local:1883", ("broker.local", 1883)),
                                             ("127.0.0.1:8883", ("127.0.0.1", 8883)),
                                             ("[::1]:1884", ("::1", 1884)), ("broker", ("broker", 1883))])
def test_parse_host_port(value, expected):
    assert parse_host_port(value) == expected


@pytest.mark.parametrize("flag, value", [
    *[("--webhook", url) for url in ("ftp://example.com/x", "example.com/hook", "http:///nohost", "mqtt://a:1")],
    *[("--mqtt", address) for address in ("", ":1883", "broker:", "broker:abc", "broker:0", "broker:70000",
                                          "mqtt://broker:1883", "user@broker:1883", "a b:1")]])
def test_a_bad_address_is_a_one_line_error(flag, value):
    with pytest.raises(VideolensError, match=flag) as e:
        WebhookSink(value) if flag == "--webhook" else parse_host_port(value)
    assert "\n" not in str(e.value)


def test_mqtt_without_paho_says_how_to_install_it(monkeypatch):
    from videolens.core import MissingExtra

    for name in ("paho", "paho.mqtt", "paho.mqtt.client", "paho.mqtt.enums"):
        monkeypatch.setitem(sys.modules, name, None)      # import paho... raises ImportError
    with pytest.raises(MissingExtra, match=r"pip install 'videolens\[live\]'"):
        MqttSink("127.0.0.1:1883")


# ---------------------------------------------------------------- make_sinks


def test_make_sinks_builds_what_was_asked(receiver):
    _paho()
    out = io.StringIO()
    sinks = make_sinks(receiver.url, f"127.0.0.1:{free_port()}", out, token="t", queue_size=10, **FAST)
    try:
        assert [type(s) for s in sinks] == [JsonLinesSink, WebhookSink, MqttSink]
        assert sinks[1].queue_size == sinks[2].queue_size == 10
        for sink in sinks:
            sink.send(make_events(1)[0])
        assert wait_until(lambda: len(receiver.accepted) == 1)
        assert receiver.headers[0]["Authorization"] == "Bearer t" and json.loads(out.getvalue())["seq"] == 0
    finally:
        for sink in sinks:
            sink.close(timeout=0)
    assert make_sinks(None, None) == []
    with pytest.raises(TypeError, match="no sink takes colour"):
        make_sinks(receiver.url, None, colour="red")
    with pytest.raises(VideolensError, match="--mqtt"):
        make_sinks(receiver.url, "broker:port")
