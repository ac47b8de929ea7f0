"""Where ``videolens watch`` sends each event the moment it is final: a JSON line on stdout (``--json``), a webhook
(``--webhook URL``) and MQTT (``--mqtt HOST:PORT``), beside ``events.jsonl`` (docs/watch.md).

The analysis must never wait for a receiver: ``send()`` encodes the event and returns. The webhook and MQTT sinks
queue it (bounded: when full, the oldest event is dropped and counted) and deliver it from a daemon thread, in order,
retrying until it is accepted or the sink is closed; ``close()`` flushes what it can within its timeout. A receiver
that is down loses no event from ``events.jsonl``, which is written elsewhere.

Runnable as is (nothing listens on port 9, so the webhook keeps retrying until ``close`` gives up after 1 s)::

    import sys
    from videolens.live.sinks import make_sinks

    sinks = make_sinks(webhook="http://127.0.0.1:9/hook", mqtt=None, json_stream=sys.stdout, backoff=0.1)
    event = {"id": "front-20250101T120000-1", "camera": "front", "kind": "motion", "rule": None,
             "state": "start", "start": "2025-01-01T12:00:00+01:00", "end": None}
    for sink in sinks:
        sink.send(event)
    for sink in sinks:
        sink.close(timeout=1.0)
    print(sinks[1].stats())   # {'sent': 0, 'retried': 2, 'dropped': 0, 'queued': 1, 'last_error': '[Errno 111] ...'}
"""

from __future__ import annotations

import base64
import collections
import inspect
import json
import logging
import math
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any, TextIO

from .._version import __version__
from ..errors import VideolensError
from .sources import redact

log = logging.getLogger(__name__)

__all__ = ["JsonLinesSink", "MqttSink", "Sink", "WebhookSink", "make_sinks", "mqtt_topic", "parse_host_port"]


def encode(event: dict) -> str:
    """One compact JSON line. A value JSON cannot hold (an object, NaN) is a bug upstream: it raises here, in the
    caller's thread, rather than vanishing in a sink's worker."""
    return json.dumps(event, allow_nan=False, separators=(",", ":"))


class Sink:
    """Receives every event as it happens. ``send`` returns at once; ``close`` flushes what it can within
    ``timeout`` seconds. Usable as a context manager."""

    name = "sink"

    def send(self, event: dict) -> None:
        raise NotImplementedError

    def close(self, timeout: float = 5.0) -> None:
        pass

    def stats(self) -> dict[str, Any]:
        """Figures for ``status.json``."""
        return {}

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class JsonLinesSink(Sink):
    """``--json``: one JSON line per event on a text stream, flushed per line so a pipe sees it at once.

    Written in the caller's thread: stdout is the user's own pipe, and its back-pressure is theirs to give; events
    are not silently dropped there. The stream is flushed on close, never closed (it is not ours).
    """

    name = "json"

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream if stream is not None else sys.stdout
        self._lock = threading.Lock()
        self._sent = 0

    def send(self, event: dict) -> None:
        line = encode(event) + "\n"
        with self._lock:
            self.stream.write(line)
            self.stream.flush()
            self._sent += 1

    def close(self, timeout: float = 5.0) -> None:
        with self._lock:
            self.stream.flush()

    def stats(self) -> dict[str, Any]:
        return {"sent": self._sent}


class QueuedSink(Sink):
    """A bounded queue emptied in order by one daemon thread, so a slow or absent receiver never holds up ``send``.

    Subclasses deliver one item at a time in :meth:`_deliver`, waiting with :meth:`_wait` (which ``close`` cuts
    short once its timeout is up) and returning False when they give up.
    """

    def __init__(self, queue_size: int = 1000):
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, not {queue_size}")
        self.queue_size = queue_size
        self._queue: collections.deque = collections.deque()
        self._cond = threading.Condition()
        self._busy = False                   # an item is taken from the queue and being delivered
        self._closing = False
        self._give_up_at = math.inf          # set by close(): deliveries stop trying at this time
        self._sent = self._retried = self._dropped = 0
        self._last_error: str | None = None
        self._thread: threading.Thread | None = None

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"videolens-{self.name}-sink", daemon=True)
        self._thread.start()

    def _item(self, event: dict) -> Any:
        """What the worker delivers for ``event``; encoded here, once, in the caller's thread."""
        return encode(event).encode("utf-8")

    def _deliver(self, item: Any) -> bool:
        raise NotImplementedError

    def send(self, event: dict) -> None:
        item = self._item(event)
        with self._cond:
            if self._closing:
                raise RuntimeError(f"{self!r} is closed")
            if len(self._queue) >= self.queue_size:
                self._queue.popleft()
                self._dropped += 1
                if self._dropped == 1:
                    log.warning("%s: queue full (%d events), dropping the oldest", self, self.queue_size)
            self._queue.append(item)
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._closing)
                if not self._queue or time.monotonic() >= self._give_up_at:
                    return
                item = self._queue.popleft()
                self._busy = True
            delivered = self._deliver(item)
            with self._cond:
                self._busy = False
                if not delivered:            # close() gave up: it stays counted as queued
                    self._queue.appendleft(item)
                    return
                self._sent += 1

    def _wait(self, seconds: float, until: Callable[[], bool] = lambda: False) -> bool:
        """Wait ``seconds`` or until ``until()`` (checked under the lock; notify ``_cond`` when it may have become
        true). False once ``close`` has given up: the caller stops trying."""
        end = time.monotonic() + seconds
        with self._cond:
            while not until():
                now = time.monotonic()
                if now >= self._give_up_at:
                    return False
                if now >= end:
                    return True
                self._cond.wait(min(end, self._give_up_at, now + 1.0) - now)   # 1 s: a missed notify costs little
            return True

    def _note_error(self, error: str, retry: bool = False) -> None:
        """Keep ``error`` for ``stats()`` (``retry``: one more failed attempt); logged when the reason changes."""
        with self._cond:
            self._retried += retry
            changed, self._last_error = error != self._last_error, error
        if changed:
            log.warning("%s: %s (retrying)", self, error)

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued until ``timeout`` seconds have passed, then stop the worker."""
        with self._cond:
            if not self._closing:
                self._closing = True
                self._give_up_at = time.monotonic() + timeout
            self._cond.notify_all()
            end = self._give_up_at
        if self._thread is not None:
            self._thread.join(max(0.0, end - time.monotonic()) + 0.05)   # it stops at `end`: a moment to get there
        left = self.stats()["queued"]
        if left:
            log.warning("%s: closed with %d event(s) not delivered (%s)", self, left, self._last_error)

    def stats(self) -> dict[str, Any]:
        with self._cond:
            return {"sent": self._sent, "retried": self._retried, "dropped": self._dropped,
                    "queued": len(self._queue) + self._busy, "last_error": self._last_error}


class WebhookSink(QueuedSink):
    """``--webhook URL``: POSTs each event as JSON. A failed POST (refused, timed out, not 2xx) is retried with
    backoff (``backoff`` seconds doubling to ``max_backoff``) until it succeeds or the sink is closed; the next
    event waits, so the order is kept. Delivery is at least once: a receiver that took an event but whose answer
    was lost gets it again (``id`` and ``state`` tell the copies apart).

    ``token`` is sent as ``Authorization: Bearer TOKEN``; a ``user:password@`` in the URL as HTTP Basic. The URL
    is shown everywhere as :func:`~videolens.live.sources.redact` gives it (``http://***@host/...``).
    """

    name = "webhook"

    def __init__(self, url: str, token: str | None = None, *, queue_size: int = 1000, backoff: float = 1.0,
                 max_backoff: float = 30.0, request_timeout: float = 10.0):
        super().__init__(queue_size)
        parts = urllib.parse.urlsplit(url)
        self.url = redact(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise VideolensError(f"--webhook {self.url}: not an http:// or https:// URL with a host")
        self._headers = {"Content-Type": "application/json", "User-Agent": f"videolens/{__version__}"}
        if "@" in parts.netloc:
            if token:
                raise VideolensError(f"--webhook {self.url}: give a token or a user:password in the URL, not both")
            userinfo = urllib.parse.unquote(parts.netloc.rpartition("@")[0])
            self._headers["Authorization"] = "Basic " + base64.b64encode(userinfo.encode("utf-8")).decode("ascii")
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        elif token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._target = urllib.parse.urlunsplit(parts)      # without the user info, which urllib would not send
        self.backoff, self.max_backoff, self.request_timeout = backoff, max_backoff, request_timeout
        self._start()

    def __repr__(self) -> str:
        return f"WebhookSink({self.url})"

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(self._target, data=body, headers=self._headers, method="POST")
        with _OPENER.open(request, timeout=self.request_timeout) as response:
            response.read()             # the opener raises HTTPError for what is not 2xx

    def _deliver(self, item: bytes) -> bool:
        delay = self.backoff
        while True:
            try:
                self._post(item)
                return True
            except Exception as e:      # noqa: BLE001 - any failure of the network or the receiver is retried
                self._note_error(_describe(e), retry=True)
            if not self._wait(delay):
                return False
            delay = min(delay * 2, self.max_backoff)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an error to retry and show: urllib would follow a 301/302/303 with a GET without the event,
    and count it as delivered."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)    # proxies from the environment are still honoured


def _describe(error: Exception) -> str:
    """A failed request in one line; urllib's errors carry no user info, as the request had none."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return f"{type(error).__name__}: {error}"


def parse_host_port(value: str, default_port: int = 1883) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6addr]:PORT``; the port may be left out) as ``(host, port)``, else a one-line error."""
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d+))?|([^\s:/\[\]@]+)(?::(\d+))?", value.strip())
    if match is None:
        raise VideolensError(f"--mqtt {value!r}: expected HOST:PORT, e.g. broker.local:1883")
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4) or default_port)
    if not 0 < port < 65536:
        raise VideolensError(f"--mqtt {value!r}: port {port} is not in 1-65535")
    return host, port


def mqtt_topic(camera: str) -> str:
    """``videolens/<camera>/events``. A name with ``/``, ``+``, ``#`` would break ``videolens/+/events``: refused."""
    if not camera or any(c in camera for c in "/+#\0"):
        raise VideolensError(f"camera name {camera!r} cannot be an MQTT topic level (no '/', '+', '#')")
    return f"videolens/{camera}/events"


class MqttSink(QueuedSink):
    """``--mqtt HOST:PORT``: publishes each event to ``videolens/<camera>/events`` with QoS 1 (paho-mqtt 2.x).

    paho connects and reconnects in its own thread (``connect_async`` + ``loop_start``, backoff ``backoff`` doubling
    to ``max_backoff``), so a broker that is down at start neither blocks nor fails. Events wait in this sink's
    bounded queue while the broker is away and are handed to paho one at a time, the next only after the broker's
    PUBACK: paho's own offline queue keeps and resends the one in flight across a reconnect, but it would let an
    event published while it reconnects overtake those it holds, and when full it refuses the newest; one in flight
    keeps the order and lets this queue drop the oldest instead. Delivery is at least once (QoS 1).
    """

    name = "mqtt"

    def __init__(self, address: str, *, queue_size: int = 1000, backoff: float = 1.0, max_backoff: float = 30.0,
                 client_id: str = "", keepalive: int = 60):
        host, port = parse_host_port(address)
        try:
            import paho.mqtt.client as mqtt
            from paho.mqtt.enums import CallbackAPIVersion
        except ImportError:
            from ..core import MissingExtra

            raise MissingExtra("watch", "live", "paho-mqtt") from None
        super().__init__(queue_size)
        self.address = f"{host}:{port}"
        self._acked: set[int] = set()
        self._disconnects = 0
        self._client = client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.max_queued_messages_set(queue_size)
        client.reconnect_delay_set(backoff, max_backoff)    # paho takes floats as well, as the tests use
        client.connect_async(host, port, keepalive=keepalive)
        client.loop_start()
        self._start()

    def __repr__(self) -> str:
        return f"MqttSink({self.address})"

    def _item(self, event: dict) -> tuple[str, bytes]:
        return mqtt_topic(event["camera"]), super()._item(event)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self._note_error(f"broker {self.address} refused the connection: {reason}")
        else:
            log.info("%s: connected", self)
        with self._cond:
            self._cond.notify_all()

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        self._note_error(f"cannot connect to {self.address}")

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        with self._cond:
            self._disconnects += 1
        if reason.is_failure:
            self._note_error(f"lost the connection to {self.address}: {reason}")

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        with self._cond:
            self._acked.add(mid)
            self._cond.notify_all()

    def _deliver(self, item: tuple[str, bytes]) -> bool:
        topic, payload = item
        if not self._wait(math.inf, self._client.is_connected):
            return False
        with self._cond:
            self._acked.clear()         # one message in flight: any earlier acknowledgement is spent
            disconnects = self._disconnects
        info = self._client.publish(topic, payload, qos=1)
        if info.rc not in (0, 4):       # MQTT_ERR_SUCCESS, MQTT_ERR_NO_CONN (kept and sent on reconnect)
            raise RuntimeError(f"paho refused to publish to {topic}: rc {info.rc}")
        if not self._wait(math.inf, lambda: info.mid in self._acked):
            return False
        if info.rc or self._disconnects != disconnects:
            with self._cond:
                self._retried += 1      # delivered by paho's resend after a reconnect
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Flush within ``timeout``, then disconnect and stop paho's thread (waited for within the time left)."""
        end = time.monotonic() + timeout
        super().close(timeout)
        self._client.disconnect()
        stopper = threading.Thread(target=self._client.loop_stop, daemon=True)   # loop_stop joins without a timeout
        stopper.start()
        stopper.join(max(0.0, end - time.monotonic()) + 0.05)

    def stats(self) -> dict[str, Any]:
        return {**super().stats(), "connected": self._client.is_connected()}


def make_sinks(webhook: str | None, mqtt: str | None, json_stream: TextIO | None = None,
               **settings: Any) -> list[Sink]:
    """The sinks ``watch`` was asked for: ``--json`` (pass the stream, ``sys.stdout``), ``--webhook``, ``--mqtt``.

    ``settings`` go to the sinks whose constructors take them by name (``token``, ``queue_size``, ``backoff``,
    ``max_backoff``, ``request_timeout``, ``client_id``, ``keepalive``); one no sink takes is a TypeError.
    """
    wanted = [(cls, arg) for cls, arg in ((WebhookSink, webhook), (MqttSink, mqtt)) if arg is not None]
    takes = {cls: set(inspect.signature(cls.__init__).parameters) - {"self"} for cls in (WebhookSink, MqttSink)}
    unknown = set(settings) - set().union(*takes.values())
    if unknown:
        raise TypeError(f"make_sinks: no sink takes {', '.join(sorted(unknown))}")
    sinks: list[Sink] = [JsonLinesSink(json_stream)] if json_stream is not None else []
    try:
        for cls, arg in wanted:
            sinks.append(cls(arg, **{k: v for k, v in settings.items() if k in takes[cls]}))
    except BaseException:
        for sink in sinks:
            sink.close(timeout=0)
        raise
    return sinks
