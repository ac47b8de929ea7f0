"""The live page of ``videolens watch --serve HOST:PORT``: cameras, counts, status and events in a browser.

Standard library only (:class:`http.server.ThreadingHTTPServer`), one self-contained page (inline CSS and JS, nothing
fetched from the network), no build step. The camera loop writes into a :class:`LiveState`; the server reads only
through it, so neither side waits for the other.

Routes (with a token, each needs ``?token=TOKEN`` or ``Authorization: Bearer TOKEN``, else 401):

- ``/``: the page. It polls the JSON routes about once a second and carries its ``?token=`` on to every URL it builds.
- ``/stream/<camera>.mjpg``: ``multipart/x-mixed-replace`` MJPEG, always the newest frame, never a queue;
  ``/frame/<camera>.jpg``: the newest frame alone (the page uses it past 4 cameras: browsers open only 6
  connections per host, and each MJPEG stream holds one).
- ``/api/events?after=SEQ``: ``{"last": SEQ, "events": [{"seq": SEQ, "event": {...}}, ...]}``, oldest first;
  ``/api/status`` (the status.json document), ``/api/counts`` (``{camera: counts}``), ``/api/cameras`` (names).
- ``/snapshots/<file>``, ``/clips/<file>``: files from those two folders of the output folder, with byte ranges
  (browsers seek MP4 with them); nothing else of the output folder, no ``..``, no symbolic link out.

Safety: it binds to 127.0.0.1 unless told otherwise, and any other address needs a token (compared in constant
time). Without a token, requests whose ``Host`` is not a loopback name get 403 (a web page cannot reach the
server through DNS rebinding). Data never becomes markup: the page builds its DOM with ``textContent``, and a
Content-Security-Policy admits only its own inline script and style. User names and passwords in URLs
(``rtsp://user:pw@host``) are masked as ``rtsp://***@host`` in everything the state holds. No request is logged.

>>> import json, urllib.request
>>> from videolens.live.server import LiveServer, LiveState
>>> state = LiveState()
>>> state.set_counts("front", {"zones": {"door": 2}, "lines": {"gate": {"in": 3, "out": 1}}})
>>> server = LiveServer(state, out_dir=".", port=0)   # port 0: any free port
>>> server.start()
>>> json.load(urllib.request.urlopen(server.url + "api/counts"))
{'front': {'zones': {'door': 2}, 'lines': {'gate': {'in': 3, 'out': 1}}}}
>>> server.stop()
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import re
import select
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote

from ..errors import VideolensError
from .state import LiveState, _clean, _status_cameras  # noqa: F401 - LiveState is imported from here too

log = logging.getLogger(__name__)

_SERVED = {"snapshots": {".jpg", ".jpeg", ".png", ".webp"}, "clips": {".mp4", ".m4v", ".webm", ".mov", ".mkv"}}
_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
          ".mp4": "video/mp4", ".m4v": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime",
          ".mkv": "video/x-matroska"}
_BOUNDARY = b"videolens-frame-7d1c4e9a02b6f358"    # long enough never to turn up in a JPEG by chance
_PART = b"--" + _BOUNDARY + b"\r\nContent-Type: image/jpeg\r\n\r\n"
_KEEPALIVE = 10.0          # seconds: a stalled camera's frame is resent, so a peer gone without a word is found out


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1); a name or ``0.0.0.0`` is not."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _parse_range(header: str, size: int) -> tuple[int, int] | bool | None:
    """One ``bytes=`` range as ``(first, last)``; False when it cannot be met (416); None to send it all.

    >>> _parse_range("bytes=0-99", 1000), _parse_range("bytes=-10", 1000), _parse_range("bytes=990-", 1000)
    ((0, 99), (990, 999), (990, 999))
    >>> _parse_range("bytes=1000-", 1000), _parse_range("bytes=0-1,5-6", 1000), _parse_range("items=1-2", 1000)
    (False, None, None)
    """
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not m or m.group(1) == m.group(2) == "":
        return None                                 # several ranges or another unit: the whole file is allowed
    if m.group(1) == "":                            # the last N bytes
        n = int(m.group(2))
        return (max(0, size - n), size - 1) if n > 0 and size > 0 else False
    first = int(m.group(1))
    last = int(m.group(2)) if m.group(2) else size - 1
    if m.group(2) and last < first:
        return None                                 # malformed: ignored, as RFC 9110 says
    return (first, min(last, size - 1)) if first < size else False


# --- the page -------------------------------------------------------------------------------------------------

_HERE = Path(__file__).with_name("page")
_CSS = "\n" + (_HERE / "live.css").read_text(encoding="utf-8")

# page/live.js builds every node with textContent; it reads the token from its own URL and adds it to every URL
# it makes.
_JS = "\n" + (_HERE / "live.js").read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


_PAGE = (
    "<!doctype html><html lang=en><head><meta charset=utf-8>"
    '<meta name=viewport content="width=device-width,initial-scale=1"><meta name=referrer content=no-referrer>'
    '<link rel=icon href="data:,"><title>videolens watch \u2014 live</title>'
    f"<style>{_CSS}</style></head><body><header><h1>videolens watch</h1><span class=note>live</span>"
    "<span id=conn></span></header><main><div id=cameras></div><aside><h2>Events</h2>"
    "<video id=player controls playsinline></video><div id=caption class=note></div>"
    "<p id=noevents class=note>No events yet.</p><ol id=events></ol></aside></main>"
    f"<script>{_JS}</script></body></html>"
).encode()
_PAGE_CSP = (f"default-src 'none'; script-src {_csp_hash(_JS)}; style-src {_csp_hash(_CSS)}; img-src 'self' data:; "
             "media-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


# --- the server -----------------------------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    """One request; ``self.server.live`` is the :class:`LiveServer` it serves for."""

    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "videolens"
    sys_version = ""
    timeout = 30            # a client that sends or reads nothing for this long is dropped

    def log_message(self, format: str, *args) -> None:     # the base class's signature
        pass                                                # quiet: no line per request

    def do_GET(self) -> None:
        live = self.server.live
        # Not urlsplit: it would read a path that starts with "//" as a host name.
        path, _, query_string = self.path.split("#", 1)[0].partition("?")
        query = parse_qs(query_string)
        if not self._allowed(live, query):
            return
        if path in ("/", "/index.html"):
            return self._send(200, _PAGE, "text/html; charset=utf-8", [("Content-Security-Policy", _PAGE_CSP)])
        if path == "/api/events":
            try:
                after = int(query.get("after", ["0"])[0] or 0)
            except ValueError:
                return self._text(400, "after: a sequence number from the last answer's 'last'")
            last, events = live.state.events(after)
            return self._json({"last": last, "events": [{"seq": s, "event": e} for s, e in events]})
        if path == "/api/status":
            return self._json(live.state.status())
        if path == "/api/counts":
            return self._json(live.state.counts())
        if path == "/api/cameras":
            return self._json(live.state.cameras())
        m = re.fullmatch(r"/(?:stream/([^/]+)\.mjpg|frame/([^/]+)\.jpg)", path)
        if m:
            camera = unquote(m.group(1) or m.group(2))
            if camera not in live.state.cameras():
                return self._text(404, "no such camera")
            return self._stream(live, camera) if m.group(1) else self._frame(live, camera)
        m = re.fullmatch(r"/(snapshots|clips)/([^/]+)", path)
        if m:
            return self._file(live, m.group(1), unquote(m.group(2)))
        self._text(404, "not found")

    def _other_method(self) -> None:
        self.close_connection = True                      # its body, if any, is not read
        if self._allowed(self.server.live, parse_qs(self.path.partition("?")[2])):
            self._text(405, "only GET", [("Allow", "GET")])

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _other_method

    # --- checks ---

    def _allowed(self, live: LiveServer, query: dict) -> bool:
        """The token when one is set; else a loopback Host header (no DNS rebinding)."""
        if live.token is None:
            host = (self.headers.get("Host") or "localhost").strip()
            host = host[1:host.index("]")] if host.startswith("[") and "]" in host else host.rsplit(":", 1)[0]
            if is_loopback(host):
                return True
            self._text(403, "this server answers only to a loopback host name (give it a --token to serve others)")
            return False
        given = query.get("token", [""])[-1]
        auth = self.headers.get("Authorization") or ""
        if auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        if hmac.compare_digest(given.encode(), live.token.encode()):
            return True
        self._text(401, "this page needs its token: add ?token=TOKEN to the URL or send 'Authorization: Bearer TOKEN'",
                   [("WWW-Authenticate", 'Bearer realm="videolens"')])
        return False

    # --- responses ---

    def _head(self, code: int, ctype: str, length: int | None, extra: Sequence[tuple[str, str]] = (),
              cache: str = "no-store") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for k, v in [("Cache-Control", cache), ("X-Content-Type-Options", "nosniff"),
                     ("Referrer-Policy", "no-referrer"), ("X-Frame-Options", "DENY"), *extra]:
            self.send_header(k, v)
        self.end_headers()

    def _send(self, code: int, body: bytes, ctype: str, extra: Sequence[tuple[str, str]] = (),
              cache: str = "no-store") -> None:
        self._head(code, ctype, len(body), extra, cache)
        self.wfile.write(body)

    def _text(self, code: int, message: str, extra: Sequence[tuple[str, str]] = ()) -> None:
        self._send(code, f"{code}: {message}\n".encode(), "text/plain; charset=utf-8", extra)

    def _json(self, doc: dict | list) -> None:
        self._send(200, json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode(),
                   "application/json; charset=utf-8")

    def _frame(self, live: LiveServer, camera: str) -> None:
        frame = live.state.frame(camera)
        if frame is None:
            return self._text(404, "no frame yet")
        self._send(200, frame[1], "image/jpeg")

    def _client_gone(self) -> bool:
        """True once the client has closed its end (readable with nothing to read)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _stream(self, live: LiveServer, camera: str) -> None:
        """MJPEG: each part is the newest frame when the client is ready for one; frames in between are skipped.

        A part's headers go out right after the frame before it, with no Content-Length (it is not known yet):
        browsers show a part only once the next part's headers have come, so the newest frame shows at once,
        not one frame late. Readers split on the boundary (browsers, FFmpeg and so OpenCV do).
        """
        self.close_connection = True
        self._head(200, "multipart/x-mixed-replace; boundary=" + _BOUNDARY.decode(), None,
                   [("Connection", "close"), ("Pragma", "no-cache")])
        seq, sent = 0, time.monotonic()
        live._clients_add(1)
        try:
            self.wfile.write(_PART)
            while not live._stopping.is_set():
                frame = live.state.wait_frame(camera, seq, timeout=0.5)
                if frame is None:
                    if self._client_gone():
                        return
                    if time.monotonic() - sent < _KEEPALIVE or (frame := live.state.frame(camera)) is None:
                        continue
                seq, jpeg = frame
                self.wfile.write(jpeg + b"\r\n" + _PART)
                sent = time.monotonic()
        except OSError:
            return                                      # the client went: nothing to clean up but this thread
        finally:
            live._clients_add(-1)

    def _file(self, live: LiveServer, folder: str, name: str) -> None:
        """A file of ``out_dir/folder`` by its bare name, with one byte range if asked."""
        suffix = os.path.splitext(name)[1].lower()
        if name.startswith(".") or any(c in name for c in "/\\\0") or suffix not in _SERVED[folder]:
            return self._text(404, "not found")
        base = (live.out_dir / folder).resolve()
        try:
            path = (base / name).resolve(strict=True)   # follows links: one out of the folder lands elsewhere
            if path.parent != base or not path.is_file():
                raise FileNotFoundError(path)
            f = open(path, "rb")                        # noqa: SIM115 (closed by the with below)
        except OSError:
            return self._text(404, "not found")
        with f:
            size = os.fstat(f.fileno()).st_size
            rng = _parse_range(self.headers.get("Range", ""), size) if self.headers.get("Range") else None
            if rng is False:
                return self._text(416, "range not satisfiable", [("Content-Range", f"bytes */{size}")])
            first, last = rng or (0, size - 1)
            extra = [("Accept-Ranges", "bytes")] + ([("Content-Range", f"bytes {first}-{last}/{size}")] if rng else [])
            self._head(206 if rng else 200, _TYPES[suffix], last - first + 1, extra, cache="private, max-age=3600")
            f.seek(first)
            left = last - first + 1
            try:
                while left > 0 and (chunk := f.read(min(left, 1 << 16))):
                    self.wfile.write(chunk)
                    left -= len(chunk)
            except (ConnectionError, TimeoutError):
                self.close_connection = True              # the browser often drops a range it no longer wants


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    live: LiveServer

    def __init__(self, *args, **kwargs):
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks DNS for the host's full name (socket.getfqdn): slow, and not needed here.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request_thread(self, request, client_address) -> None:
        with self._open_lock:
            self._open.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.discard(request)

    def close_connections(self) -> None:
        """End every open connection (idle keep-alives, streams) now, rather than at their next timeout."""
        with self._open_lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return                                          # a client that went away mid-answer
        log.warning("live page: error answering %s", client_address[0], exc_info=sys.exc_info())


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


class LiveServer:
    """Serves a :class:`LiveState` as the live page; binds at construction, serves from :meth:`start` on.

    A non-loopback ``host`` needs a ``token``; with a token, every request needs it.
    """

    def __init__(self, state: LiveState, out_dir: str | os.PathLike, host: str = "127.0.0.1", port: int = 8080,
                 token: str | None = None):
        self.state = state
        self.out_dir = Path(out_dir)
        self.token = token or None
        self.host = host
        if self.token is None and not is_loopback(host):
            raise VideolensError(f"--serve {host}:{port}: serving beyond this machine needs --token TOKEN "
                                 "(or serve on 127.0.0.1)")
        cls = _HTTPServer6 if ":" in host else _HTTPServer
        try:
            self._server = cls((host.strip("[]"), int(port)), _Handler)
        except (OSError, OverflowError) as e:
            raise VideolensError(f"--serve {host}:{port}: cannot listen there "
                                 f"({getattr(e, 'strerror', None) or e})") from None
        self._server.live = self
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._clients = 0
        self._clients_lock = threading.Lock()

    @property
    def port(self) -> int:
        return self._server.server_port

    @property
    def url(self) -> str:
        """The page's address (without the token: it would end up in logs)."""
        host = f"[{self.host.strip('[]')}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def stream_clients(self) -> int:
        """MJPEG streams open now (one per camera on each open page)."""
        return self._clients

    def _clients_add(self, n: int) -> None:
        with self._clients_lock:
            self._clients += n

    def start(self) -> None:
        """Serve in a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                            name="videolens-live-page", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop answering, end the open connections (streams too) and close the socket."""
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.close_connections()
        self._server.server_close()

    def __enter__(self) -> LiveServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
