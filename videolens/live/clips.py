"""Event clips cut from the last seconds of a live stream without re-encoding, and event snapshots.

The camera reader copies every compressed video packet into a :class:`PacketRing` as it arrives (cheap: a bytes
copy and a few ints). A :class:`ClipWriter` cuts ``clips/<id>.mp4`` out of it for each event: from ``pre`` seconds
before the event to ``post`` seconds after, stream-copied (no decoding, no quality loss, little CPU), starting at the
keyframe at or before that, so the clip plays from its first frame. Files are written by a worker thread under a
temporary name and renamed when complete, so the reader never waits on a disk and nobody sees half a clip.

Times are stream seconds: a packet's (or decoded frame's) ``pts * time_base``, the clock ``Event.t_start`` uses.

The reader, per connection: ``ring = PacketRing(stream, seconds, name=camera)``, ``clips = ClipWriter(ring, out)``
(and ``Recorder(ring, out, camera)`` with ``--record``); for each demuxed video packet ``ring.add(packet, time.time())``
then ``clips.poll()`` (and ``recorder.poll()``); when the connection ends, ``close()`` them (pending clips are
written with what there is) and make new ones on reconnect. The analysis calls ``clips.request(...)`` from its own
thread. Nothing here blocks the reader on a disk.

>>> import time
>>> import av
>>> from videolens.datasets.testvideo import make_index_video
>>> src = make_index_video("/tmp/videolens-clips-doc.mp4", 100, size=(160, 120), fps=25, gop=25)
>>> with av.open(src) as container:
...     stream = container.streams.video[0]
...     ring = PacketRing(stream, seconds=10)          # one per connection
...     clips = ClipWriter(ring, "/tmp/videolens-clips-doc")
...     for packet in container.demux(stream):        # the reader thread
...         ring.add(packet, time.time())
...         clips.poll()
...         if packet.pts == 216000:                   # 2.4 s: the analysis has seen an event of 2.0-2.2 s
...             rel = clips.request("evt-1", t_start=2.0, t_end=2.2, pre=1.0, post=0.5)
...     clips.close()
>>> rel, clips.written
('clips/evt-1.mp4', 1)

:func:`write_snapshot` writes the event's best frame as a JPEG with its boxes drawn by the one annotator
(:class:`videolens.report.draw.BoxAnnotator`). Continuous recording is :class:`videolens.live.record.Recorder`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import queue
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import av
import av.error

from ..errors import VideoError, VideolensError
from ..utils.files import temp_path_for

log = logging.getLogger(__name__)

_SAFE_ID = re.compile(r"[^\\/:*?\"<>|\x00-\x1f]+")


class StoredPacket(NamedTuple):
    """A copy of one compressed packet. ``pts`` and ``dts`` are never None (missing ones are filled in), in the
    ring's time base; ``t`` and ``t_dts`` are the same in seconds; ``wall`` is when the reader got it."""

    seq: int
    data: bytes
    pts: int
    dts: int
    key: bool
    duration: int
    wall: float
    t: float
    t_dts: float


class PacketRing:
    """The last ``seconds`` of a stream's compressed video packets and the stream's codec parameters, to cut clips
    and recordings from without re-encoding.

    Whole GOPs are dropped from the old end, so the ring always starts on a keyframe and holds at least ``seconds``
    (at most one GOP more); a pending clip pins the keyframe it needs. ``max_bytes`` caps memory whatever the pins
    (a stream with no keyframes, a clip kept open for long). Packets before the first keyframe are useless to a
    clip and are not kept. Make a new ring per connection: a reconnect may change the codec parameters and clock.

    ``seconds`` should cover the longest ``pre`` plus how far the analysis may lag the reader; ``name`` (the
    camera's name, never its URL) is what messages show. A codec MP4 cannot carry is a :class:`VideoError` here.
    """

    def __init__(self, stream: av.VideoStream, seconds: float = 30.0, *, max_bytes: int = 256 << 20,
                 name: str = "video stream"):
        if seconds <= 0:
            raise ValueError(f"seconds must be positive, not {seconds}")
        self.seconds = float(seconds)
        self.max_bytes = int(max_bytes)
        self.name = name            # for messages: the camera's name, never its URL (it may hold a password)
        self.time_base: Fraction = stream.time_base or Fraction(1, 90000)
        self.codec = stream.codec_context.name
        self._index = stream.index
        # The codec parameters outlive the input container (closed on reconnect) in a never-started MP4 muxer:
        # add_stream_from_template copies them, and that also checks MP4 can carry this codec.
        self._holder = av.open(io.BytesIO(), "w", format="mp4")
        try:
            self.template = self._holder.add_stream_from_template(stream)
        except ValueError:
            raise VideoError(self.name, f"its {self.codec} video cannot be stream-copied into MP4 clips") from None
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate or 25
        self._frame_ticks = max(1, round(1 / (float(rate) * self.time_base)))
        self._lock = threading.Lock()
        self._packets: deque[StoredPacket] = deque()
        self._keys: deque[int] = deque()          # seq of every keyframe held, oldest first
        self._bytes = 0
        self._seq = 0
        self._last_dts: int | None = None
        self._newest_t = -math.inf
        self._pins: dict[object, float] = {}
        self._reset_listeners: list[Callable[[list[StoredPacket]], None]] = []
        self.resets = 0

    # ---- the reader thread ----------------------------------------------------------------------------------
    def add(self, packet: av.Packet, wall: float) -> None:
        """Copy one demuxed packet in (other streams' packets and empty flush packets are ignored)."""
        if packet.size == 0 or packet.stream_index != self._index:
            return
        pts, dts, dur = packet.pts, packet.dts, packet.duration or 0
        tb = packet.time_base
        if tb is not None and tb != self.time_base:
            pts, dts, dur = (None if v is None else round(v * tb / self.time_base) for v in (pts, dts, dur))
        key = bool(packet.is_keyframe)
        last = self._last_dts          # only this thread writes it
        if dts is not None and last is not None and dts <= last and \
                (last - dts) * self.time_base > max(1.0, 10 * self._frame_ticks * self.time_base):
            self._restart()             # the clock went back (the camera restarted it): a new timeline
            last = None
        with self._lock:
            if dts is None:
                # No decode time (raw H.264, some RTP): its pts if that keeps the order, else one frame on.
                dts = pts if pts is not None and (last is None or pts > last) else (
                    0 if last is None else last + self._frame_ticks)
            elif last is not None and dts <= last:
                dts = last + 1          # equal or slightly-back dts would stop the MP4 muxer
            if pts is None or pts < dts:
                pts = dts
            self._last_dts = dts
            if not key and not self._keys:
                return
            data = bytes(packet)
            self._seq += 1
            t = float(pts * self.time_base)
            rec = StoredPacket(self._seq, data, pts, dts, key, dur if dur > 0 else self._frame_ticks, float(wall),
                               t, float(dts * self.time_base))
            self._packets.append(rec)
            self._bytes += len(data)
            if key:
                self._keys.append(rec.seq)
            self._newest_t = max(self._newest_t, t)
            self._trim()

    def _restart(self) -> None:
        """Start the ring over; the listeners get what it held (outside the lock: they take their own)."""
        with self._lock:
            old = self._clear()
            self._last_dts = None
            self.resets += 1
            listeners = list(self._reset_listeners)
        for listener in listeners:
            listener(old)

    def _trim(self) -> None:
        """Drop the oldest GOP while the next one still starts early enough for the window and every pin."""
        limit = self._newest_t - self.seconds
        if self._pins:
            limit = min(limit, min(self._pins.values()))
        while len(self._keys) >= 2 and self._packets[self._keys[1] - self._packets[0].seq].t <= limit:
            self._drop_gop()
        while self._bytes > self.max_bytes and self._packets:
            if len(self._keys) >= 2:
                self._drop_gop()
            else:       # one GOP bigger than the cap: start again at the next keyframe
                self._clear()
                log.warning("%s: no keyframe within %d MB of video; the clip ring starts again at the next one",
                            self.name, self.max_bytes >> 20)

    def _drop_gop(self) -> None:
        self._keys.popleft()
        stop = self._keys[0]
        while self._packets[0].seq < stop:
            self._bytes -= len(self._packets.popleft().data)

    def _clear(self) -> list[StoredPacket]:
        old = list(self._packets)
        self._packets.clear()
        self._keys.clear()
        self._bytes = 0
        self._newest_t = -math.inf
        return old

    # ---- for clip writers and recorders ---------------------------------------------------------------------
    @property
    def complete_until(self) -> float:
        """Stream seconds up to which every packet has arrived (later packets decode after the newest one, so
        their pts are later too)."""
        with self._lock:
            return -math.inf if not self._packets else self._packets[-1].t_dts

    def snapshot(self, after_seq: int = 0) -> list[StoredPacket]:
        """The packets held, oldest first (only those with ``seq > after_seq``)."""
        with self._lock:
            if not after_seq or not self._packets or self._packets[0].seq > after_seq:
                return list(self._packets)
            first = self._packets[0].seq
            return [self._packets[i] for i in range(after_seq + 1 - first, len(self._packets))]

    def pin(self, token: object, t: float) -> None:
        """Keep the keyframe at or before ``t`` (stream seconds) until :meth:`unpin`."""
        with self._lock:
            self._pins[token] = float(t)

    def unpin(self, token: object) -> None:
        with self._lock:
            if self._pins.pop(token, None) is not None:
                self._trim()

    def on_reset(self, listener: Callable[[list[StoredPacket]], None]) -> None:
        """Call ``listener(old_packets)`` (from :meth:`add`) when the clock jumps back and the ring starts over."""
        with self._lock:
            self._reset_listeners.append(listener)

    @property
    def last_seq(self) -> int:
        """The sequence number of the newest packet added (0 before any)."""
        return self._seq

    @property
    def held_seconds(self) -> float:
        with self._lock:
            return 0.0 if not self._packets else self._newest_t - self._packets[0].t

    @property
    def held_bytes(self) -> int:
        return self._bytes


def select_clip(packets: Sequence[StoredPacket], begin: float, stop: float) -> list[StoredPacket]:
    """The packets of a clip from ``begin`` to ``stop`` (stream seconds), in decode order.

    It starts at the keyframe at or before ``begin`` (the oldest held when none is) and ends with the last packet
    shown at or before ``stop``; references decoded before it and shown later come along, with the frames shown
    between, so a clip may show a frame or two past ``stop`` but never skips one. Frames shown before the keyframe
    (open-GOP leading frames, which need the previous GOP) are left out.
    """
    k = None
    for i, p in enumerate(packets):
        if p.key:
            if k is not None and p.t > begin:
                break
            k = i
    if k is None:
        return []
    last = -1
    for i in range(k, len(packets)):
        if packets[i].t <= stop:
            last = i
        elif packets[i].t_dts > stop:
            break
    if last < k:
        return []
    first_pts = packets[k].pts
    while True:
        # A reference decoded early (a P-frame shown after stop) came along: the frames shown before it, decoded
        # after it, come too, or the clip would skip them. They end once decode times pass its pts.
        shown = max(p.pts for p in packets[k:last + 1])
        more = last
        for i in range(last + 1, len(packets)):
            if packets[i].dts > shown:
                break
            if packets[i].pts < shown:
                more = i
        if more == last:
            break
        last = more
    return [p for p in packets[k:last + 1] if p.pts >= first_pts]


class CopyMuxer:
    """Stream-copies :class:`StoredPacket` s into an MP4 (``+faststart``, for browsers) that starts at time 0,
    under a temporary name until :meth:`close` renames it into place."""

    def __init__(self, path: str | os.PathLike, template: av.VideoStream, time_base: Fraction):
        self.path = Path(path)
        self.tmp = temp_path_for(self.path)
        self.time_base = time_base
        self.frames = 0
        self._base: int | None = None
        self._last_dts: int | None = None
        try:
            self._out = av.open(self.tmp, "w", format="mp4", options={"movflags": "+faststart"})
            self._stream = self._out.add_stream_from_template(template)
            if template.codec_context.codec.canonical_name == "hevc":
                self._stream.codec_context.codec_tag = "hvc1"   # the tag Safari and Chrome want for HEVC in MP4
        except BaseException:
            self._remove_tmp()
            raise

    def write(self, rec: StoredPacket) -> None:
        if self._base is None:
            self._base = rec.pts        # the first packet is a keyframe shown first: the clip's time 0
        dts = rec.dts - self._base
        if self._last_dts is not None and dts <= self._last_dts:
            dts = self._last_dts + 1
        self._last_dts = dts
        packet = av.Packet(rec.data)
        packet.pts = max(rec.pts - self._base, dts)
        packet.dts = dts
        packet.duration = rec.duration
        packet.time_base = self.time_base
        packet.is_keyframe = rec.key
        packet.stream = self._stream
        self._out.mux(packet)
        self.frames += 1

    def close(self) -> Path:
        """Finish the file and move it into place (nothing is left behind if that fails)."""
        try:
            self._out.close()
            if not self.frames:
                raise VideoError(self.path, "no video packets to write")
            os.replace(self.tmp, self.path)
        except BaseException:
            self._remove_tmp()
            raise
        return self.path

    def abort(self) -> None:
        with contextlib.suppress(Exception):     # discarding it anyway
            self._out.close()
        self._remove_tmp()

    def _remove_tmp(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.tmp)


def write_packets(path: str | os.PathLike, packets: Iterable[StoredPacket], template: av.VideoStream,
                  time_base: Fraction) -> Path:
    """Write a whole clip at once (see :class:`CopyMuxer`)."""
    muxer = CopyMuxer(path, template, time_base)
    try:
        for rec in packets:
            muxer.write(rec)
    except BaseException:
        muxer.abort()
        raise
    return muxer.close()


def check_name(name: str, what: str) -> str:
    """A clip id or camera name used as a file name: no folders, no hidden names, nothing a filesystem refuses."""
    if not name or name in (".", "..") or name.startswith(".") or not _SAFE_ID.fullmatch(name):
        raise VideolensError(f"{what} {name!r} cannot be a file name (no slashes, no leading dot, "
                             f"none of \\:*?\"<>|)")
    return name


class _Clip:
    __slots__ = ("begin", "epoch", "id", "path", "stop")

    def __init__(self, clip_id: str, path: Path, begin: float, stop: float | None, epoch: int):
        self.id, self.path, self.begin, self.stop, self.epoch = clip_id, path, begin, stop, epoch


class ClipWriter:
    """Writes ``clips/<id>.mp4`` for events, from ``pre`` s before to ``post`` s after, stream-copied from the
    keyframe at or before the start, by a worker thread (temporary name, renamed when complete).

    - :meth:`request` (any thread, e.g. the analysis) returns the clip's path relative to ``out_dir`` at once; the
      file is written when packets up to ``t_end + post`` have arrived, or at :meth:`close` with what there is.
    - :meth:`poll` (the reader thread, after each ``ring.add``) hands the clips that are due to the worker.
    - ``t_end=None`` keeps a clip open (an event still going on) until :meth:`end` gives its end.
    - ``on_done(clip_id, path or None)`` is called from the worker after each clip (None: nothing could be written).
    """

    def __init__(self, ring: PacketRing, out_dir: str | os.PathLike, *,
                 on_done: Callable[[str, Path | None], None] | None = None):
        self.ring = ring
        self.out_dir = Path(out_dir)
        self.on_done = on_done
        self.written = 0
        self.failed = 0
        self._pending: dict[str, _Clip] = {}
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self._epoch = ring.resets
        ring.on_reset(self._ring_reset)
        self._worker = threading.Thread(target=self._work, name=f"clips-{ring.name}", daemon=True)
        self._worker.start()

    def request(self, clip_id: str, t_start: float, t_end: float | None, pre: float, post: float) -> str:
        """Ask for ``clips/<clip_id>.mp4`` covering ``t_start - pre`` to ``t_end + post`` (stream seconds)."""
        check_name(clip_id, "clip id")
        begin = float(t_start) - max(0.0, float(pre))
        with self._lock:
            if self._closed:
                raise RuntimeError("ClipWriter.request after close()")
            if clip_id in self._pending:
                raise ValueError(f"clip {clip_id!r} was already requested")
            clip = _Clip(clip_id, self.out_dir / "clips" / f"{clip_id}.mp4", begin, None, self._epoch)
            self._pending[clip_id] = clip
            self.ring.pin(clip, begin)
        if t_end is not None:
            self.end(clip_id, t_end, post)
        return f"clips/{clip_id}.mp4"

    def end(self, clip_id: str, t_end: float, post: float = 0.0) -> None:
        """Give an open clip its end: it is written once packets up to ``t_end + post`` have arrived."""
        with self._lock:
            clip = self._pending.get(clip_id)
            if clip is not None:
                clip.stop = float(t_end) + max(0.0, float(post))
        self.poll()

    def poll(self) -> None:
        """Hand the clips whose packets have all arrived to the worker (cheap when none is pending)."""
        if not self._pending:
            return
        until = self.ring.complete_until
        with self._lock:
            due = [c for c in self._pending.values() if c.stop is not None and c.stop <= until]
            self._dispatch(due, None)

    def _dispatch(self, clips: list[_Clip], packets: list[StoredPacket] | None) -> None:
        """Snapshot the ring for ``clips`` (lock held) and queue them; the selection is done in the worker."""
        if not clips:
            return
        if packets is None:
            packets = self.ring.snapshot()
        for clip in clips:
            del self._pending[clip.id]
            self.ring.unpin(clip)
            self._jobs.put((clip, packets))

    def _ring_reset(self, old: list[StoredPacket]) -> None:
        """The stream's clock went back: what was pending is written from the packets before the jump."""
        with self._lock:
            self._epoch += 1
            self._dispatch([c for c in self._pending.values() if c.epoch < self._epoch], old)

    def close(self, timeout: float = 10.0) -> None:
        """Write every requested clip with what there is, then wait (at most ``timeout`` s) for the worker."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._dispatch(list(self._pending.values()), None)
                self._jobs.put(None)
        self._worker.join(timeout)
        if self._worker.is_alive():
            log.warning("%s: clips still being written after %.0f s", self.ring.name, timeout)

    @property
    def pending(self) -> int:
        """Clips requested and not yet handed to the worker."""
        return len(self._pending)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            clip, packets = job
            path = None
            try:
                chosen = select_clip(packets, clip.begin, math.inf if clip.stop is None else clip.stop)
                if chosen:
                    path = write_packets(clip.path, chosen, self.ring.template, self.ring.time_base)
                    self.written += 1
                else:
                    self.failed += 1
                    log.warning("%s: no video held for clip %s (%.2f-%s s)", self.ring.name, clip.id, clip.begin,
                                clip.stop)
            except Exception as e:  # noqa: BLE001 - a bad clip must not stop the others
                self.failed += 1
                log.warning("%s: clip %s not written: %s", self.ring.name, clip.id, e)
            if self.on_done is not None:
                try:
                    self.on_done(clip.id, path)
                except Exception:
                    log.exception("on_done failed for clip %s", clip.id)


from .snapshots import write_snapshot  # noqa: E402 - kept importable from here

__all__ = ["ClipWriter", "CopyMuxer", "PacketRing", "StoredPacket", "check_name", "select_clip", "write_packets",
           "write_snapshot"]
