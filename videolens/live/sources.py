"""Where frames come from: a camera URL, a device, standard input or a file, and how each is opened.

User names and passwords in URLs never leave this module unredacted: :func:`redact` is what every message, log
line, status and event shows.

>>> redact("rtsp://admin:secret@10.0.0.5:554/stream1")
'rtsp://***@10.0.0.5:554/stream1'
>>> camera_name("rtsp://admin:secret@cam.local/live/main")
'cam.local-live-main'
>>> parse_source("rtsp://cam.local/s1").kind, parse_source("udp://@:5000").options["timeout"]
('rtsp', '5000000')
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import VideolensError

_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]*@")
# FFmpeg probes a live stream for 5 s by default, then hands the frames it read all at once: a burst the analysis
# can only drop. A fifth of a second finds a camera's codec and size (and starts it 5x sooner).
_PROBE = {"analyzeduration": "200000"}
NETWORK_SCHEMES = ("rtsp", "rtsps", "http", "https", "udp", "tcp", "rtp", "srt")


def redact(text: str) -> str:
    """``text`` with every ``scheme://user:password@`` made ``scheme://***@``."""
    return _CREDENTIALS.sub(r"\1***@", str(text))


def camera_name(url: str) -> str:
    """A camera's default name: its URL's host and path (``cam.local-live-main``), or a file's stem."""
    if url == "-":
        return "stdin"
    if url.startswith("/dev/"):
        return Path(url).name
    parts = urlsplit(url)
    if parts.scheme and parts.netloc:
        host = parts.hostname or "camera"
        path = re.sub(r"[^A-Za-z0-9_.]+", "-", parts.path).strip("-.")
        if parts.port and not path:
            host = f"{host}-{parts.port}"
        return f"{host}-{path}" if path else host
    return Path(url).stem or "camera"


@dataclass(frozen=True)
class Source:
    """A stream to read: ``url`` as given (it may hold credentials: show :attr:`shown`, never ``url``)."""

    url: str
    name: str
    kind: str                          # rtsp, http, hls, mpegts, v4l2, stdin, file
    live: bool                         # a camera or network stream: reconnect when it drops
    format: str | None = None
    options: dict[str, str] = field(default_factory=dict)

    @property
    def shown(self) -> str:
        return redact(self.url)


def parse_source(url: str, name: str | None = None, transport: str = "tcp") -> Source:
    """What kind of source ``url`` is and how FFmpeg should open it; an unknown scheme or a missing file is a
    one-line :class:`~videolens.errors.VideolensError`."""
    url = str(url)
    name = name or camera_name(url)
    if url == "-":
        return Source(url, name, "stdin", False, "mpegts")
    if url.startswith("/dev/video"):
        return Source(url, name, "v4l2", True, "v4l2")
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("rtsp", "rtsps"):
        return Source(url, name, "rtsp", True, None, {"rtsp_transport": transport, "timeout": "5000000", **_PROBE})
    if scheme in ("http", "https"):
        kind = "hls" if ".m3u8" in url.lower() else "http"
        return Source(url, name, kind, True, None, {"reconnect": "0", **_PROBE})
    if scheme in ("udp", "tcp", "rtp", "srt"):
        return Source(url, name, "mpegts", True, None, {"timeout": "5000000", **_PROBE})
    if scheme and scheme != "file" and len(scheme) > 1:     # a Windows drive letter is not a scheme
        raise VideolensError(f"{redact(url)}: unknown source scheme {scheme!r} (use rtsp://, http(s)://, udp://, "
                             "tcp://, /dev/videoN, - for standard input, or a file)")
    path = url[7:] if scheme == "file" else url
    if not os.path.isfile(path):
        raise VideolensError(f"{path}: no such file (a source is a camera URL, /dev/videoN, - or a video file)")
    return Source(path, name, "file", False)
