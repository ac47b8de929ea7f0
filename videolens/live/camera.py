"""One camera's reader thread: decode the stream, keep only the newest frame, reconnect when it drops.

The analysis takes frames at its own pace with :meth:`CameraReader.take`; frames it did not take are dropped and
counted, never queued, so a slow analysis never builds up lag. A file read without ``realtime`` is the exception
(``lockstep``): the reader waits for each frame to be taken, so nothing is dropped and a file gives exactly the
events of ``videolens detect``. With ``realtime`` a file is paced at its own frame rate, like a camera.

A network source that fails to open or stops sending is retried with backoff (1 s doubling to 30 s); the reader
reports ``camera_lost`` once and ``camera_back`` when frames flow again, and never gives up.

>>> reader = CameraReader(parse_source("samples/sample.mp4"), lockstep=True)   # doctest: +SKIP
>>> reader.start(); frame = reader.take(timeout=5); frame.index, frame.t        # doctest: +SKIP
(0, 0.0)
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import VideolensError
from .sources import Source, redact

BACKOFF = (1.0, 30.0)       # first retry after 1 s, doubling up to 30 s


@dataclass
class Frame:
    """A decoded frame, not yet converted: each analyzer converts it to its own size."""

    image: Any                  # av.VideoFrame
    index: int                  # 0-based, counted from the camera's start (it goes on across reconnects)
    t: float                    # stream seconds (PTS)
    wall: float                 # time.time() when it was decoded (a paced file: when it was due)


@dataclass
class StreamInfo:
    """What analyzers read from a stream in ``start(info)``: the fields of :class:`videolens.io.VideoInfo` a live
    stream has."""

    path: str
    fps: float
    stored_size: tuple[int, int]
    rotation: int = 0
    audio: tuple = ()
    start_time: float = 0.0
    duration: float = 0.0


class CameraReader:
    """Reads ``source`` in a daemon thread. ``on_connect(stream, info)``, ``on_packet(packet, wall)`` and
    ``on_state(kind, message)`` (``camera_lost`` / ``camera_back``) are called from that thread."""

    def __init__(self, source: Source, *, lockstep: bool = False, realtime: bool = False,
                 on_connect: Callable | None = None, on_packet: Callable | None = None,
                 on_state: Callable[[str, str], None] | None = None, backoff: tuple[float, float] = BACKOFF,
                 open_timeout: float = 10.0, read_timeout: float = 5.0):
        self.source = source
        self.lockstep = lockstep and not source.live
        self.realtime = realtime
        self.on_connect, self.on_packet, self.on_state = on_connect, on_packet, on_state
        self.backoff, self.timeouts = backoff, (open_timeout, read_timeout)
        self.info: StreamInfo | None = None
        self.frames_in = 0
        self.frames_dropped = 0
        self.connected = False
        self.error: str | None = None         # the last problem, redacted
        self.finished = threading.Event()     # a file (or stdin) ended, or the reader was stopped
        self.cpu = 0.0                        # this thread's CPU seconds so far
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._taken = -1
        self._queue: queue.Queue = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._run, name=f"videolens-read-{source.name}", daemon=True)

    # ---- control -----------------------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout)

    def exhausted(self) -> bool:
        """The source has ended (or the reader stopped) and every frame it delivered has been taken."""
        if not self.finished.is_set():
            return False
        if self.lockstep:
            return self._queue.empty()
        return self._latest is None or self._latest.index <= self._taken

    def take(self, timeout: float = 1.0) -> Frame | None:
        """The newest frame not taken yet (waiting up to ``timeout``), or None. Frames skipped count as dropped."""
        if self.lockstep:
            try:
                frame = self._queue.get(timeout=timeout)
            except queue.Empty:
                return None
            self._taken = frame.index
            return frame
        with self._cond:
            if not self._cond.wait_for(lambda: (self._latest is not None and self._latest.index > self._taken)
                                       or self._stop.is_set() or self.finished.is_set(), timeout):
                return None
            frame = self._latest
            if frame is None or frame.index <= self._taken:
                return None
            self.frames_dropped += frame.index - self._taken - 1
            self._taken = frame.index
            return frame

    # ---- the thread --------------------------------------------------------------------------------------------
    def _open(self):
        import av

        src = self.source
        if src.kind == "stdin":
            import sys

            return av.open(sys.stdin.buffer, format="mpegts")
        return av.open(src.url, format=src.format, options=dict(src.options), timeout=self.timeouts)

    def _run(self) -> None:
        import av

        delay, lost, index = self.backoff[0], False, 0
        while not self._stop.is_set():
            try:
                with self._open() as container:
                    if not container.streams.video:
                        raise VideolensError(f"{self.source.shown}: no video stream")
                    stream = container.streams.video[0]
                    stream.thread_type = "AUTO"
                    rate = stream.average_rate or stream.guessed_rate or 25
                    self.info = StreamInfo(self.source.shown, float(rate),
                                           (stream.codec_context.width, stream.codec_context.height))
                    if self.on_connect is not None:
                        self.on_connect(stream, self.info)
                    index = self._read(container, stream, index, lost)
                    lost = False
                    delay = self.backoff[0]
                if not self.source.live or self._stop.is_set():
                    break           # a file's end, or stop(): not a lost camera
                raise EOFError("the stream ended")
            except (av.FFmpegError, OSError, EOFError, VideolensError, ValueError) as e:
                self.connected = False
                self.error = redact(str(e)) if isinstance(e, VideolensError) else \
                    f"{self.source.shown}: {redact(str(e)) or type(e).__name__}"
                if not self.source.live:
                    break
                if not lost:
                    lost = True
                    self._state("camera_lost", self.error)
                if self._stop.wait(delay):
                    break
                delay = min(delay * 2, self.backoff[1])
        self.connected = False
        self.finished.set()
        with self._cond:
            self._cond.notify_all()

    def _read(self, container, stream, index: int, was_lost: bool) -> int:
        """Demux and decode until the stream ends or the reader stops; returns the next frame index."""
        first = True
        t0 = wall0 = None
        for packet in container.demux(stream):
            if self._stop.is_set():
                break
            now = time.time()
            if self.on_packet is not None and packet.size:
                self.on_packet(packet, now)
            for image in packet.decode():
                t = float(image.time) if image.time is not None else index / (self.info.fps or 25.0)
                if first:
                    first, self.connected, self.error = False, True, None
                    t0, wall0 = t, now
                    if was_lost:
                        self._state("camera_back", f"{self.source.shown}: frames again")
                if self.realtime and not self.source.live:
                    due = wall0 + (t - t0)
                    if self._stop.wait(max(0.0, due - time.time())):
                        return index
                    now = due
                self._deliver(Frame(image, index, t, now if self.source.live else time.time()))
                index += 1
            self.cpu = time.thread_time()
        return index

    def _deliver(self, frame: Frame) -> None:
        self.frames_in += 1
        if self.lockstep:
            while not self._stop.is_set():
                try:
                    self._queue.put(frame, timeout=0.2)
                    return
                except queue.Full:
                    continue
            return
        with self._cond:
            self._latest = frame
            self._cond.notify_all()

    def _state(self, kind: str, message: str) -> None:
        if self.on_state is not None:
            self.on_state(kind, message)
