"""The decoding side of the reader: the open container, forward decode runs from keyframes, and seek recovery.

A :class:`Decoder` turns "frame ``i``" into an ``av.VideoFrame`` with as little decoding as it can: it keeps the
current run going while requests move forward within reach, and otherwise seeks to the keyframe before ``i``. What it
learns about a file's demuxer on the way (seeks land by DTS, rewinding to the start is inexact, PTS are not real) it
keeps for the rest of its life. It knows the file only through its :class:`~videolens.io.index.Index`.

Frame ``i`` is the frame with the ``i``-th smallest PTS in the index, or, where the index says PTS cannot be trusted
(``counting``), the ``i``-th frame out of the decoder, which FFmpeg hands out in presentation order.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import av
import av.error
import numpy as np

from ..errors import VideoError
from .paths import check_path

if TYPE_CHECKING:
    from .index import Index

Opener = Callable[[str], "av.container.InputContainer"]


def open_container(path: str) -> av.container.InputContainer:
    """The file opened by PyAV, or a one-line :class:`VideoError` naming it."""
    check_path(path)
    try:
        return av.open(path, metadata_errors="ignore")
    except av.error.FFmpegError as e:
        reason = getattr(e, "strerror", None) or str(e)
        raise VideoError(path, f"not a readable video file ({reason})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise VideoError(path, f"cannot open ({e})") from None


def video_stream(container, path: str):
    """The first video stream, checked to have a decoder (a damaged header can leave it without one)."""
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        raise VideoError(path, f"no video stream (streams: {', '.join(kinds)})")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        raise VideoError(path, "no decoder for the video stream (unknown or damaged codec header)")
    return stream


def set_threads(stream, threads: int) -> None:
    """Decoder threads: 0 lets FFmpeg pick (frame + slice threads); must be set before the first packet."""
    cc = stream.codec_context
    if threads == 1:
        cc.thread_count = 1
    else:
        cc.thread_type = "AUTO"
        cc.thread_count = threads


def decode_packet(packet) -> list | None:
    """The frames of one packet; None where FFmpeg fails on it (a damaged packet, counted by the caller)."""
    try:
        return packet.decode()
    except (av.error.FFmpegError, ValueError):
        return None


def rank_of_pts(pts_sorted: np.ndarray, pts) -> int | None:
    """The frame index of a PTS the packet scan saw, else None (no PTS, or one the scan never saw)."""
    if pts is None:
        return None
    i = int(np.searchsorted(pts_sorted, pts))
    return i if i < pts_sorted.size and pts_sorted[i] == pts else None


class _Overshoot(Exception):
    """The seek landed after the wanted frame."""


class _NotAtStart(Exception):
    """A rewound container did not land on the first packet of the file."""


class _PtsUnreliable(Exception):
    """Decoded PTS do not match the packet scan: fall back to counting frames."""


class _Run:
    """One forward decode from a keyframe, yielding ``(frame_index, av.VideoFrame)`` in presentation order.

    Raises the exceptions above from :meth:`next` when the position it was started at turns out wrong; the
    :class:`Decoder` recovers by starting another run.
    """

    def __init__(self, container, pts: np.ndarray, counting: bool, stats: dict, key_i: int, target: int,
                 verify: tuple | None = None, fed: list | None = None):
        self.key_i = key_i
        self.target = target           # the frame wanted: a run that starts after it overshot
        self.landed: int | None = None
        self.last = -1                 # index of the last frame decoded in this run
        self.returned = None           # the last item handed out (not pushed back)
        self.pending: list = []        # an item pushed back for the next request
        self.gap = None                # (first, stop, item): indices first..stop-1 are missing; item came before
        self.done = False
        # verify: (pts, dts, pos) the first packet must have, else _NotAtStart. fed: (packet, frames) the decoder
        # already had from the scan, replayed first.
        self._gen = self._frames(container, pts, counting, stats, verify, fed or [])

    @property
    def next_rank(self) -> int:
        return self.pending[-1][0] if self.pending else self.last + 1

    def _frames(self, container, pts_sorted, counting, stats, verify, fed_items):
        out_count = valid = invalid = 0
        started = False
        fed = iter(fed_items)
        drained = bool(fed_items) and fed_items[-1][0].size == 0   # the scan reached the end of a tiny file
        del fed_items
        packets = container.demux(container.streams.video[0])
        while True:
            replay = next(fed, None)
            if replay is not None:
                packet, decoded = replay
            elif drained:
                return
            else:
                try:
                    packet = next(packets)
                except StopIteration:
                    return
                except (av.error.FFmpegError, OSError):
                    stats["errors"] += 1
                    return
            if not started:
                if verify is not None and (packet.size == 0 or (packet.pts, packet.dts, packet.pos) != verify):
                    raise _NotAtStart
                if packet.size == 0:
                    if self.key_i > 0:
                        raise _Overshoot  # the seek landed after the last keyframe before the target
                    return
                rank = rank_of_pts(pts_sorted, packet.pts if packet.pts is not None else packet.dts)
                if not packet.is_keyframe and self.key_i > 0:
                    # The seek landed mid-GOP: decoding must start at a keyframe, and one must come before the target.
                    if rank is not None and rank > self.target:
                        raise _Overshoot
                    continue
                started = True
                self.landed = rank
                if self.key_i > 0 and (self.landed is None or self.landed > self.target):
                    raise _Overshoot
                self.landed = self.landed or 0
            frames = decoded if replay is not None else decode_packet(packet)
            if frames is None:
                stats["errors"] += 1
                continue
            for frame in frames:
                if counting:
                    rank = self.landed + out_count
                    out_count += 1
                else:
                    rank = rank_of_pts(pts_sorted, frame.pts)
                    if rank is None or rank <= self.last:
                        # A damaged frame with a PTS the scan never saw: drop it. Many of them and nothing else
                        # means the container's PTS are not real, so count frames in output order instead.
                        invalid += 1
                        if invalid > 8 and invalid > valid:
                            raise _PtsUnreliable
                        continue
                    valid += 1
                self.last = rank
                stats["decoded"] += 1
                yield rank, frame

    def next(self):
        if self.pending:
            item = self.pending.pop()
        elif self.done:
            return None
        else:
            item = next(self._gen, None)
            if item is None:
                self.done = True
                return None
        self.returned = item
        return item

    def push_back(self, item) -> None:
        self.pending.append(item)


class Decoder:
    """Frame ``i`` of one file as an ``av.VideoFrame``, reusing the current decode run when it can.

    ``container`` and ``fed``: a container the packet scan left open at the first packet, with its decoder fed up to
    the first frame (see :func:`videolens.io.index.index_for`); without them the file is opened on first use.
    ``opener`` opens the file (a seam: tests count the opens). Not thread-safe; reopens the file after a fork and
    pickles without its container, keeping what it learnt about the file.
    """

    def __init__(self, path: str, index: Index, threads: int, skip_loop_filter: bool, container=None,
                 fed: list | None = None, opener: Opener = open_container):
        self.path = path
        self.threads = threads
        self.skip_loop_filter = skip_loop_filter
        self._index = index
        self._opener = opener
        self._container = container
        self._pid = None if container is None else os.getpid()
        self._fed = fed                 # the scan's decoder state, for the first run from frame 0 to go on from
        self._run: _Run | None = None
        self._rewind = True     # go back to frame 0 by seeking (checked), not by reopening; off if that ever misses
        self._seek_dts = False  # this demuxer seeks by DTS
        self._pts_unreliable = False    # decoded PTS did not match the scan: count frames, start at the top
        self.bad: set[int] = set()      # frames that failed to decode (each replaced by the nearest earlier good one)
        # (first, stop, frame): indices first..stop-1 are missing and all stand in for by ``frame``, found by the
        # costly fallback once; without it every missing index of a broken GOP re-decodes the file (quadratic).
        self._gap: tuple | None = None
        # Decoder work so far: seeks (including the first open), frames decoded, packets that failed to decode.
        self.stats = {"seeks": 0, "decoded": 0, "errors": 0}

    @property
    def key_rank(self) -> np.ndarray:
        """The frame index of each keyframe decoding may start at (only the first once PTS proved unreliable)."""
        return self._index.key_rank[:1] if self._pts_unreliable else self._index.key_rank

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_container": None, "_pid": None, "_fed": None, "_run": None,
                "_opener": open_container}

    def _alive(self) -> bool:
        """An open container of this process (after a fork the parent's must not be touched)."""
        return self._container is not None and self._pid == os.getpid()

    def _ensure_open(self) -> None:
        if self._alive():
            return
        self._container = self._opener(self.path)
        stream = video_stream(self._container, self.path)
        set_threads(stream, self.threads)
        if self.skip_loop_filter:
            stream.codec_context.options = {"skip_loop_filter": "all"}
        self._pid = os.getpid()
        self._run = None

    def close(self) -> None:
        if self._alive():
            self._container.close()
        self._container = None
        self._fed = None
        self._run = None

    def _start_run(self, key_i: int, target: int) -> None:
        """Position the decoder at keyframe ``key_i`` (or earlier) for frame ``target``."""
        self.stats["seeks"] += 1
        fed, self._fed = self._fed, None
        if fed is not None and key_i == 0 and self._alive():
            self._run = self._new_run(0, target, fed=fed)   # the scan left the decoder at the start: go on from there
            return
        fresh = not self._alive()
        self._ensure_open()
        stream = self._container.streams.video[0]
        verify = None
        if key_i == 0:
            first = self._index.first_packet
            if fresh:
                pass            # a container opened just now is already at the start
            elif self._rewind and first and (first[0] is not None or first[1] is not None):
                # Cheaper than reopening (which probes the stream again: ~80 ms at 1080p), but not every demuxer
                # lands exactly on the first packet (MPEG-PS does not): the run checks it, else _NotAtStart.
                try:
                    self._container.seek(int(first[0] if first[0] is not None else first[1]), stream=stream,
                                         backward=True)
                    verify = first
                except (av.error.FFmpegError, OSError):
                    self._rewind = False
                    self._reopen()
            else:
                self._reopen()   # reopening is the one seek every format supports exactly
        else:
            try:
                target_pts = int(self._index.key_seek[key_i][1 if self._seek_dts else 0])
                self._container.seek(target_pts, stream=stream, backward=True)
            except (av.error.FFmpegError, OSError):
                self._reopen()
                key_i = 0
        self._container.streams.video[0].codec_context.flush_buffers()
        self._run = self._new_run(key_i, target, verify)

    def _reopen(self) -> None:
        self.close()
        self._ensure_open()

    def _new_run(self, key_i: int, target: int, verify: tuple | None = None, fed: list | None = None) -> _Run:
        counting = self._index.counting or self._pts_unreliable
        return _Run(self._container, self._index.pts, counting, self.stats, key_i, target, verify, fed)

    def _next_frame(self):
        """Next ``(index, frame)`` of the current run; seeks further back if the seek overshot."""
        while True:
            run = self._run
            try:
                return run.next()
            except _Overshoot:
                if not self._seek_dts:
                    self._seek_dts = True   # this demuxer seeks by DTS: retry the same keyframe by its DTS
                    self._start_run(run.key_i, run.target)
                else:
                    self._start_run(max(run.key_i - 1, 0), run.target)
            except _NotAtStart:
                self._rewind = False    # this demuxer does not seek to the start exactly: reopen from now on
                self.close()
                self._start_run(0, run.target)
            except _PtsUnreliable:
                self._pts_unreliable = True  # decode positions are unknown: always start at the top
                self._start_run(0, run.target)

    def frame(self, i: int):
        """The av.VideoFrame for index ``i`` (or the nearest earlier good one), reusing the decoder when it can."""
        run = self._run
        if run is not None and run.gap is not None and run.gap[0] <= i < run.gap[1]:
            self.bad.add(i)     # this run already decoded past i without seeing it
            return run.gap[2][1]
        if self._gap is not None and self._gap[0] <= i < self._gap[1]:
            self.bad.add(i)     # an earlier fallback already found i missing
            return self._gap[2]
        key_rank = self.key_rank
        key_i = int(np.searchsorted(key_rank, i, side="right") - 1)     # the last keyframe at or before i
        reuse = run is not None and self._pid == os.getpid() and int(key_rank[key_i]) <= run.next_rank <= i
        prev = None
        if reuse:
            if run.returned is not None and run.returned[0] < i:
                prev = run.returned
        else:
            self._start_run(key_i, i)
        while True:
            item = self._next_frame()
            if item is None:          # end of stream before frame i
                break
            if item[0] < i:
                prev = item
                continue
            if item[0] == i:
                return item[1]
            self._run.push_back(item)  # frame i is missing; the next request may want this one
            break
        self.bad.add(i)
        if prev is not None:
            # Every index from i up to the next frame out of the decoder is missing too.
            pending = self._run.pending
            self._run.gap = (i, pending[-1][0] if pending else int(self._index.pts.size), prev)
            return prev[1]
        # Every index from i up to the next frame out of the decoder (or the end) is missing, with the same stand-in.
        pending = self._run.pending
        stop = pending[-1][0] if pending else int(self._index.pts.size)
        frame = self._fallback_frame(i, key_i)
        self._gap = (i, stop, frame)
        return frame

    def _fallback_frame(self, i: int, key_i: int):
        """Frame ``i`` and everything decoded before it in this run are missing: find the nearest earlier good one."""
        for k in range(key_i - 1, -1, -1):
            self._start_run(k, i)
            prev = None
            while (item := self._next_frame()) is not None and item[0] < i:
                prev = item
            self._run = None
            if prev is not None:
                return prev[1]
        # Nothing decodes before i: take the first good frame after it.
        self._start_run(key_i, i)
        item = self._next_frame()
        while item is not None and item[0] < i:
            item = self._next_frame()
        self._run = None
        if item is None:
            raise VideoError(self.path, f"frame {i} and every frame around it fail to decode")
        return item[1]
