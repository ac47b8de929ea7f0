"""``--record``: continuous stream-copied MP4 segments ``recordings/<camera>/<start>.mp4``, kept by age and size.

A :class:`Recorder` takes the packets of a :class:`~videolens.live.clips.PacketRing` (the copies the clips use, so
nothing is copied twice) and writes them in a worker thread, cutting a new segment at the first keyframe after
``segment_seconds``. ``<start>`` is the wall-clock time (UTC) the segment's first packet arrived, e.g.
``20240501T120000.040Z.mp4``, so names sort in time order. A segment shows up under its name only when it is closed;
until then it is a hidden temporary file. After each segment, the oldest segments are removed while any is older than
``max_age`` seconds or the camera's segments together exceed ``max_bytes``.

>>> import time
>>> import av
>>> from videolens.datasets.testvideo import make_index_video
>>> from videolens.live.clips import PacketRing
>>> src = make_index_video("/tmp/videolens-record-doc.mp4", 100, size=(160, 120), fps=25, gop=25)
>>> with av.open(src) as container:
...     stream = container.streams.video[0]
...     ring = PacketRing(stream, seconds=5)
...     recorder = Recorder(ring, "/tmp/videolens-record-doc", "front", segment_seconds=2, max_bytes=50_000_000)
...     for packet in container.demux(stream):      # the reader thread
...         ring.add(packet, time.time())
...         recorder.poll()
...     recorder.close()
>>> len(recorder.segments()) >= 2
True
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from pathlib import Path

from .clips import CopyMuxer, PacketRing, StoredPacket, check_name

log = logging.getLogger(__name__)

_GAP = object()     # packets were lost: close the segment, start the next at a keyframe
_STOP = object()


def segment_name(wall: float) -> str:
    """``20240501T120000.040Z.mp4``: a UTC start time that sorts as text.

    >>> segment_name(1714564800.04)
    '20240501T120000.040Z.mp4'
    """
    ms = round(wall * 1000)
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z.mp4"


class Recorder:
    """Continuous stream-copied segments ``out_dir/recordings/<camera>/<start>.mp4``, each about
    ``segment_seconds`` long (stream time) and starting on a keyframe, with retention by age (``max_age`` seconds,
    from when a segment was closed) and by the camera's total size (``max_bytes``): the oldest go first.

    Call :meth:`poll` after each ``ring.add`` (the reader thread); it never blocks: if the disk falls behind by
    more than ``max_queue_bytes``, packets are dropped up to the next keyframe and counted in ``dropped``. A
    recorder follows one ring (one connection); the next connection's recorder adds segments to the same folder.
    """

    def __init__(self, ring: PacketRing, out_dir: str | os.PathLike, camera: str, *, segment_seconds: float = 60.0,
                 max_age: float | None = None, max_bytes: int | None = None, max_queue_bytes: int = 64 << 20):
        if segment_seconds <= 0:
            raise ValueError(f"segment_seconds must be positive, not {segment_seconds}")
        self.ring = ring
        self.folder = Path(out_dir) / "recordings" / check_name(camera, "camera name")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.segment_seconds = float(segment_seconds)
        self.max_age = max_age
        self.max_bytes = max_bytes
        self.max_queue_bytes = int(max_queue_bytes)
        self.segments_written = 0
        self.dropped = 0
        self._last_seq = ring.last_seq
        self._skipping = False
        self._queued = 0
        self._queued_lock = threading.Lock()
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._muxer: CopyMuxer | None = None
        self._seg_t0 = 0.0
        self._seg_pts0 = 0
        self._closed = False
        ring.on_reset(self._ring_reset)
        self._worker = threading.Thread(target=self._work, name=f"record-{camera}", daemon=True)
        self._worker.start()

    # ---- the reader thread ----------------------------------------------------------------------------------
    def poll(self) -> None:
        """Queue the packets the ring got since the last call."""
        new = self.ring.snapshot(self._last_seq)
        if new:
            self._take(new)

    def _take(self, packets: list[StoredPacket]) -> None:
        if self._last_seq and packets[0].seq > self._last_seq + 1:
            self._q.put(_GAP)       # the ring dropped packets we had not taken (poll was not called for long)
        self._last_seq = packets[-1].seq
        for rec in packets:
            if self._skipping and not rec.key:
                self.dropped += 1
                continue
            with self._queued_lock:
                full = self._queued + len(rec.data) > self.max_queue_bytes
                if not full:
                    self._queued += len(rec.data)
            if full:
                if not self._skipping:
                    log.warning("%s: recording fell behind; dropping video up to the next keyframe", self.folder)
                    self._q.put(_GAP)
                self._skipping = True
                self.dropped += 1
                continue
            self._skipping = False
            self._q.put(rec)

    def _ring_reset(self, old: list[StoredPacket]) -> None:
        """The clock went back: finish the segment with what it had not taken, start a new one after."""
        rest = [p for p in old if p.seq > self._last_seq]
        if rest:
            self._take(rest)
        self._q.put(_GAP)

    def close(self, timeout: float = 10.0) -> None:
        """Close the segment being written (it becomes visible) and wait at most ``timeout`` s for the worker.
        Call it from the reader thread, or once that has stopped adding: it takes the ring's last packets."""
        if not self._closed:
            self._closed = True
            self.poll()
            self._q.put(_STOP)
        self._worker.join(timeout)
        if self._worker.is_alive():
            log.warning("%s: recording still being written after %.0f s", self.folder, timeout)

    # ---- the worker -----------------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            item = self._q.get()
            if item is _STOP:
                self._finish()
                return
            if item is _GAP:
                self._finish()
                continue
            with self._queued_lock:
                self._queued -= len(item.data)
            try:
                self._write(item)
            except Exception as e:  # noqa: BLE001 - drop this segment, start again at the next keyframe
                log.warning("%s: recording segment lost: %s", self.folder, e)
                if self._muxer is not None:
                    self._muxer.abort()
                    self._muxer = None

    def _write(self, rec: StoredPacket) -> None:
        if self._muxer is not None and rec.key and rec.t - self._seg_t0 >= self.segment_seconds:
            self._finish()
        if self._muxer is None:
            if not rec.key:
                return
            path, ms = self.folder / segment_name(rec.wall), 0
            while path.exists():        # the same millisecond as another one (a reconnect): a ms later
                ms += 1
                path = self.folder / segment_name(rec.wall + ms / 1000)
            self._muxer = CopyMuxer(path, self.ring.template, self.ring.time_base)
            self._seg_t0, self._seg_pts0 = rec.t, rec.pts
        if rec.pts < self._seg_pts0:
            return                      # an open-GOP leading frame: it needs the previous segment's GOP
        self._muxer.write(rec)

    def _finish(self) -> None:
        if self._muxer is None:
            return
        muxer, self._muxer = self._muxer, None
        try:
            muxer.close()
            self.segments_written += 1
        except Exception as e:  # noqa: BLE001
            log.warning("%s: recording segment lost: %s", self.folder, e)
        try:
            self.prune()
        except OSError as e:
            log.warning("%s: retention failed: %s", self.folder, e)

    # ---- retention ------------------------------------------------------------------------------------------
    def segments(self) -> list[Path]:
        """The complete segments, oldest first."""
        return sorted(p for p in self.folder.glob("*.mp4") if not p.name.startswith("."))

    def prune(self, now: float | None = None) -> list[Path]:
        """Remove the oldest segments while one is older than ``max_age`` or all exceed ``max_bytes``; also
        temporary files a crash left behind. Returns what was removed."""
        now = time.time() if now is None else float(now)
        removed: list[Path] = []
        segs = [(p, p.stat()) for p in self.segments()]
        if self.max_age is not None:
            while segs and segs[0][1].st_mtime < now - self.max_age:
                removed.append(segs.pop(0)[0])
        if self.max_bytes is not None:
            total = sum(st.st_size for _, st in segs)
            while segs and total > self.max_bytes:
                p, st = segs.pop(0)
                total -= st.st_size
                removed.append(p)
        stale = now - 2 * self.segment_seconds - 60
        for p in self.folder.glob(".*.partial.mp4"):
            current = self._muxer is not None and os.fspath(p) == self._muxer.tmp
            if not current and p.stat().st_mtime < stale:
                removed.append(p)
        for p in removed:
            p.unlink(missing_ok=True)
        return removed
