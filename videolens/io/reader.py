"""Frame-exact, fast random access and streaming over a video file, on top of PyAV (FFmpeg).

Frame ``i`` is the frame with the ``i``-th smallest presentation timestamp (PTS) of the video stream. The frame count
and the timestamps come from a scan of the packets (no decoding), cached per file, so they are exact where container
headers over- or under-report, and right on variable-frame-rate files and on streams that start late.

A few containers (AVI, raw elementary streams) carry no real PTS: the demuxer guesses them from the decode order, and
a decoder that reorders B-frames hands them back out of order. For those the reader counts frames in the decoder's
output order instead, which FFmpeg guarantees is presentation order.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import NamedTuple

import av
import av.error
import numpy as np

from ..errors import VideoError
from .convert import INTERPOLATIONS, FrameConverter, target_size
from .paths import check_path

# Containers whose packet PTS are guessed from the decode order rather than stored.
_NO_PTS_FORMATS = {"avi", "h264", "hevc", "m4v", "mpegvideo", "rawvideo", "h263", "mjpeg", "vc1", "cavsvideo"}
# How many packets to try for a first decodable frame before looking elsewhere in the file.
_PROBE_PACKETS = 400


@dataclass(frozen=True)
class AudioStreamInfo:
    """One audio stream of a file."""

    index: int
    codec: str
    sample_rate: int
    channels: int
    layout: str
    language: str | None


@dataclass(frozen=True)
class VideoInfo:
    """What ``videolens info`` reports about a file. Sizes are ``(width, height)`` in pixels."""

    path: str
    container: str
    container_long: str
    codec: str
    profile: str | None
    pix_fmt: str | None
    bit_rate: int | None
    stored_size: tuple[int, int]
    sample_aspect_ratio: str
    rotation: int
    display_size: tuple[int, int]
    fps: float
    nominal_fps: float | None
    vfr: bool
    frames: int
    duration: float
    start_time: float
    audio: list[AudioStreamInfo] = field(default_factory=list)
    file_size: int = 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["stored_size"] = list(self.stored_size)
        d["display_size"] = list(self.display_size)
        return d


@dataclass(frozen=True)
class _Index:
    """What one packet scan learns about a video stream."""

    pts: np.ndarray            # int64, sorted PTS (time_base units), one per frame
    key_rank: np.ndarray       # int64, ascending: the frame index of each keyframe
    key_seek: np.ndarray       # int64 (K, 2): the PTS and the DTS of each keyframe, to seek to
    time_base: Fraction
    counting: bool             # map decoded frames by output order (no real PTS in the container)
    end_pts: int               # when the last frame stops being shown
    rotation: int              # clockwise degrees to turn a stored frame upright (0, 90, 180, 270)
    info: VideoInfo
    first_packet: tuple = ()   # (pts, dts, pos) of the first packet: tells a rewound container it is at the start


class FrameBatch(NamedTuple):
    """A batch of decoded frames with their frame indices and presentation times in seconds."""

    frames: np.ndarray       # (N, H, W, 3) uint8 RGB, or (N, H, W) for gray
    indices: np.ndarray      # (N,) int64
    timestamps: np.ndarray   # (N,) float64 seconds


_INDEX_CACHE: dict[tuple, _Index] = {}
def _open(path: str) -> av.container.InputContainer:
    check_path(path)
    try:
        return av.open(path, metadata_errors="ignore")
    except av.error.FFmpegError as e:
        reason = getattr(e, "strerror", None) or str(e)
        raise VideoError(path, f"not a readable video file ({reason})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise VideoError(path, f"cannot open ({e})") from None


def _video_stream(container, path: str):
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        raise VideoError(path, f"no video stream (streams: {', '.join(kinds)})")
    return container.streams.video[0]


def _rotation_of(frame) -> int:
    # PyAV gives the display matrix angle counter-clockwise; users know the clockwise 'rotate' tag.
    try:
        ccw = frame.rotation or 0
    except Exception:  # noqa: BLE001 - older PyAV or frames without side data
        return 0
    return int(round(-float(ccw) / 90.0)) % 4 * 90


def _set_threads(stream, threads: int) -> None:
    cc = stream.codec_context
    if threads == 1:
        cc.thread_count = 1
    else:
        cc.thread_type = "AUTO"
        cc.thread_count = threads


def _decode(packet) -> list | None:
    """The frames of one packet; None where FFmpeg fails on it (a damaged packet, counted by the caller)."""
    try:
        return packet.decode()
    except (av.error.FFmpegError, ValueError):
        return None


def _probe_first_frame(container, stream, packets=None):
    """Decode from the container's position until a first frame comes out (at most _PROBE_PACKETS packets).

    Returns ``(frame, fed)``: ``fed`` lists ``(packet, frames)`` for every packet sent to the decoder (``frames``
    None where decoding failed), for a reader to replay before it goes on demuxing. ``frame`` None: nothing decoded.
    """
    fed = []
    for packet in packets if packets is not None else container.demux(stream):
        frames = _decode(packet)
        fed.append((packet, frames))
        if frames:
            return frames[0], fed
        if len(fed) > _PROBE_PACKETS:
            break
    return None, fed


def _scan(path: str, threads: int = 0, keep: bool = False):
    """Scan the packets of the first video stream and decode its first frame (for rotation), in one container.

    Returns ``(index, container, fed)``. With ``keep`` the container stays open for a reader to decode with, instead
    of opening the file again: after the scan it is rewound to the first packet (or, where the demuxer cannot seek
    there exactly, reopened) and its decoder (opened with ``threads``) has been fed the packets in ``fed``, up to the
    first frame: the reader's first run replays them and goes on from there. Otherwise ``(index, None, None)``.
    """
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        _set_threads(stream, threads)
        tb = stream.time_base or Fraction(1, 90000)
        pts_list: list[int] = []
        dts_list: list[int] = []
        keys: list[bool] = []
        durations: list[int] = []
        missing_pts = False
        last = None
        first_packet = ()
        # Without keep, the first decodable frame is decoded from the packets as they are demuxed.
        first_frame = None
        probing = not keep
        fed = None
        try:
            for packet in container.demux(stream):
                if probing and first_frame is None:
                    frames = _decode(packet)     # the empty packet at the end drains the decoder
                    first_frame = frames[0] if frames else None
                    probing = len(pts_list) <= _PROBE_PACKETS
                if packet.size == 0 or packet.is_discard:
                    continue
                if not first_packet:
                    first_packet = (packet.pts, packet.dts, packet.pos)
                pts = packet.pts
                if pts is None:
                    missing_pts = True
                    pts = packet.dts
                if pts is None:
                    pts = 0 if last is None else last + max(int(packet.duration or 0), 1)
                last = pts
                pts_list.append(int(pts))
                dts_list.append(int(packet.dts) if packet.dts is not None else int(pts))
                keys.append(bool(packet.is_keyframe))
                durations.append(int(packet.duration or 0))
        except (av.error.FFmpegError, OSError):
            pass  # a truncated or damaged file: keep the packets read so far
        if not pts_list:
            raise VideoError(path, "no video frames in the stream")
        decode_pts = np.asarray(pts_list, dtype=np.int64)
        sorted_pts = np.sort(decode_pts)
        duplicates = bool(np.any(np.diff(sorted_pts) == 0))
        counting = missing_pts or duplicates or container.format.name in _NO_PTS_FORMATS
        key_pos = np.flatnonzero(np.asarray(keys, dtype=bool))
        if key_pos.size == 0 or key_pos[0] != 0:
            key_pos = np.union1d([0], key_pos)  # decoding must be able to start at the first packet
        # Even where decoded frames must be counted, a keyframe's packet PTS ranks it right: the demuxer's parser
        # or its DTS order puts it there, and nothing decoded after a keyframe is shown before it once seeked to.
        key_rank = np.searchsorted(sorted_pts, decode_pts[key_pos]).astype(np.int64)
        # Seek targets: a keyframe's PTS, and its DTS for demuxers that index by DTS (MPEG-PS lands past a PTS).
        key_seek = np.stack([decode_pts[key_pos], np.asarray(dts_list, dtype=np.int64)[key_pos]], axis=1)
        order = np.argsort(key_rank, kind="stable")
        key_rank, key_seek = key_rank[order], key_seek[order]
        deltas = np.diff(sorted_pts)
        last_dur = durations[int(np.argmax(decode_pts))] if durations else 0
        if last_dur <= 0:
            last_dur = int(np.median(deltas)) if deltas.size else max(int(round(1 / (float(tb) * 25))), 1)
        end_pts = int(sorted_pts[-1]) + last_dur
        if stream.duration and stream.start_time is not None and container.format.name.startswith("mov"):
            # The header's duration is exact for the last frame of a VFR file; trust it when it agrees with the scan.
            header_end = int(stream.start_time) + int(stream.duration)
            step = int(np.median(deltas)) if deltas.size else last_dur
            if int(sorted_pts[-1]) < header_end <= int(sorted_pts[-1]) + 2 * max(step, last_dur):
                end_pts = header_end
        if keep:
            container, first_frame, fed = _restart(path, container, stream, first_packet, threads)
            stream = container.streams.video[0]
        if first_frame is not None:
            rotation = _rotation_of(first_frame)
        else:
            keep = False    # the start does not decode: look further in (and let the reader reopen)
            rotation, first_frame = _first_frame_rotation(path)
        info = _make_info(path, container, stream, tb, sorted_pts, end_pts, rotation, first_frame)
        index = _Index(sorted_pts, key_rank, key_seek, tb, counting, end_pts, rotation, info, first_packet)
    except BaseException:
        container.close()
        raise
    if not keep:
        container.close()
        container, fed = None, None
    return index, container, fed


def _restart(path: str, container, stream, first_packet: tuple, threads: int):
    """The scanned container back at the first packet, decoded up to its first frame: ``(container, frame, fed)``."""
    packets = None
    if first_packet and (first_packet[0] is not None or first_packet[1] is not None):
        try:
            container.seek(int(first_packet[0] if first_packet[0] is not None else first_packet[1]), stream=stream,
                           backward=True)
            packets = container.demux(stream)
            head = next(packets, None)
            if head is None or head.size == 0 or (head.pts, head.dts, head.pos) != first_packet:
                packets = None      # not at the start (MPEG-PS): reopen
            else:
                packets = itertools.chain([head], packets)
        except (av.error.FFmpegError, OSError):
            packets = None
    if packets is None:
        container.close()
        container = _open(path)
        stream = _video_stream(container, path)
        _set_threads(stream, threads)
    else:
        stream.codec_context.flush_buffers()
    try:
        frame, fed = _probe_first_frame(container, stream, packets)
    except (av.error.FFmpegError, OSError):
        frame, fed = None, []
    return container, frame, fed


def _first_frame_rotation(path: str):
    """Decode the first decodable frame: proves the stream decodes, and gives the display rotation."""
    for attempt in range(2):
        container = _open(path)
        try:
            stream = container.streams.video[0]
            if attempt == 1:
                if not stream.duration:
                    break
                # The start is damaged: try from the middle of the file.
                container.seek((stream.start_time or 0) + stream.duration // 2, stream=stream, backward=True)
            frame, _ = _probe_first_frame(container, stream)
            if frame is not None:
                return _rotation_of(frame), frame
        except (av.error.FFmpegError, OSError):
            pass
        finally:
            container.close()
    raise VideoError(path, "no decodable video frames")


def _make_info(path, container, stream, tb, sorted_pts, end_pts, rotation, first_frame) -> VideoInfo:
    cc = stream.codec_context
    width, height = int(cc.width or first_frame.width), int(cc.height or first_frame.height)
    sar = stream.sample_aspect_ratio or cc.sample_aspect_ratio
    sar = Fraction(sar) if sar else Fraction(1, 1)
    if sar <= 0:
        sar = Fraction(1, 1)
    disp_w, disp_h = int(round(width * sar)), height  # players stretch the width, as ffprobe's DAR does
    if rotation in (90, 270):
        disp_w, disp_h = disp_h, disp_w
    n = int(sorted_pts.size)
    start = float(sorted_pts[0] * tb)
    duration = float((end_pts - int(sorted_pts[0])) * tb)
    measured = n / duration if duration > 0 else 0.0
    deltas = np.diff(sorted_pts)
    vfr = False
    if deltas.size >= 2:
        med = float(np.median(deltas))
        vfr = bool(np.any(np.abs(deltas - med) > 0.1 * med + 1))
    nominal = stream.average_rate or stream.guessed_rate
    # A constant-rate file's nominal rate (30000/1001) beats a measurement skewed by how long the last frame lasts.
    fps = float(nominal) if nominal and not vfr and abs(float(nominal) - measured) <= 0.01 * measured else measured
    audio = []
    for a in container.streams.audio:
        acc = a.codec_context
        layout = getattr(acc.layout, "name", "") if acc.layout is not None else ""
        audio.append(AudioStreamInfo(a.index, acc.name, int(acc.sample_rate or 0), int(acc.channels or 0), layout,
                                     a.metadata.get("language")))
    return VideoInfo(
        path=path,
        container=_container_name(container.format.name, path),
        container_long=container.format.long_name,
        codec=cc.name,
        profile=cc.profile,
        pix_fmt=cc.pix_fmt,
        bit_rate=int(stream.bit_rate) if stream.bit_rate else None,
        stored_size=(width, height),
        sample_aspect_ratio=f"{sar.numerator}:{sar.denominator}",
        rotation=rotation,
        display_size=(disp_w, disp_h),
        fps=round(fps, 6),
        nominal_fps=round(float(nominal), 6) if nominal else None,
        vfr=vfr,
        frames=n,
        duration=round(duration, 6),
        start_time=round(start, 6),
        audio=audio,
        file_size=os.path.getsize(path),
    )


def _container_name(names: str, path: str) -> str:
    """FFmpeg names demuxers by family ("mov,mp4,m4a,..."): pick the member the file's extension names."""
    options = names.split(",")
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    aliases = {"mkv": "matroska", "mpg": "mpeg", "m2ts": "mpegts", "ts": "mpegts"}
    ext = aliases.get(ext, ext)
    return ext if ext in options else options[0]


def _index_for(path: str, threads: int = 0, keep: bool = False):
    """``(index, container, fed)``: the cached index of a file, or a fresh scan's (see _scan)."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
        key = (real, st.st_size, st.st_mtime_ns)
    except OSError:
        key = None
    if key is not None and key in _INDEX_CACHE:
        return _INDEX_CACHE[key], None, None
    index, container, fed = _scan(path, threads, keep)
    if key is not None:
        if len(_INDEX_CACHE) > 4096:
            _INDEX_CACHE.clear()
        _INDEX_CACHE[key] = index
    return index, container, fed


def probe(path: str | os.PathLike) -> VideoInfo:
    """Container, codec, sizes, rotation, frame rate, exact frame count, duration and audio streams of a file.

    >>> info = probe("samples/sample.mp4")  # doctest: +SKIP
    >>> info.frames, info.vfr
    (375, False)
    """
    return _index_for(os.fspath(path))[0].info


class _Run:
    """One forward decode from a keyframe, yielding ``(frame_index, av.VideoFrame)`` in presentation order."""

    def __init__(self, reader: VideoReader, key_i: int, verify: tuple | None = None, fed: list | None = None):
        self.reader = reader
        self.key_i = key_i
        self.verify = verify           # (pts, dts, pos) the first packet must have, else _NotAtStart
        self.fed = fed or []           # (packet, frames) the decoder already had from the scan: replayed first
        self.landed: int | None = None
        self.last = -1                 # index of the last frame decoded in this run
        self.returned = None           # the last item handed out (not pushed back)
        self.pending: list = []        # an item pushed back for the next request
        self.gap = None                # (first, stop, item): indices first..stop-1 are missing; item came before
        self.done = False
        self._gen = self._frames()

    @property
    def next_rank(self) -> int:
        return self.pending[-1][0] if self.pending else self.last + 1

    def _frames(self):
        r = self.reader
        container, stream = r._container, r._stream
        counting = r._index.counting or r._counting
        out_count = valid = invalid = 0
        started = False
        fed = iter(self.fed)
        drained = bool(self.fed) and self.fed[-1][0].size == 0   # the scan reached the end of a tiny file
        self.fed = []
        packets = container.demux(stream)
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
                    r.stats["errors"] += 1
                    return
            if not started:
                if self.verify is not None and (packet.size == 0 or (packet.pts, packet.dts, packet.pos)
                                                != self.verify):
                    raise _NotAtStart
                if packet.size == 0:
                    if self.key_i > 0:
                        raise _Overshoot  # the seek landed after the last keyframe before the target
                    return
                if not packet.is_keyframe and self.key_i > 0:
                    # The seek landed mid-GOP: decoding must start at a keyframe, and one must come before the target.
                    rank = r._rank_of_packet(packet)
                    if rank is not None and rank > r._target:
                        raise _Overshoot
                    continue
                started = True
                self.landed = r._rank_of_packet(packet)
                if self.key_i > 0 and (self.landed is None or self.landed > r._target):
                    raise _Overshoot
                self.landed = self.landed or 0
            frames = decoded if replay is not None else _decode(packet)
            if frames is None:
                r.stats["errors"] += 1
                continue
            for frame in frames:
                if counting:
                    rank = self.landed + out_count
                    out_count += 1
                else:
                    rank = r._rank_of_pts(frame.pts)
                    if rank is None or rank <= self.last:
                        # A damaged frame with a PTS the scan never saw: drop it. Many of them and nothing else
                        # means the container's PTS are not real, so count frames in output order instead.
                        invalid += 1
                        if invalid > 8 and invalid > valid:
                            raise _PtsUnreliable
                        continue
                    valid += 1
                self.last = rank
                r.stats["decoded"] += 1
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


class _Overshoot(Exception):
    """The seek landed after the wanted frame."""


class _NotAtStart(Exception):
    """A rewound container did not land on the first packet of the file."""


class _PtsUnreliable(Exception):
    """Decoded PTS do not match the packet scan: fall back to counting frames."""


class VideoReader:
    """Frame-exact random access and bounded-memory streaming over the first video stream of a file.

    Frames come out as uint8 RGB ``(H, W, 3)`` at the stored resolution, rotated upright. ``size`` arguments take
    ``(width, height)`` or an int (the short side); scaling and colour conversion happen in FFmpeg's scaler at
    decode time, with one reused scaler. ``interpolation`` defaults to swscale's fast bilinear (like
    ``cv2.INTER_LINEAR``, ~3x cheaper than "area" at 1080p -> 224); "area" or "bicubic" trade speed for less aliasing.
    ``threads=0`` lets FFmpeg pick (frame + slice threads); use ``threads=1`` inside DataLoader workers.
    ``skip_loop_filter=True`` (opt-in) skips the in-loop deblocking filter of H.264/HEVC/VP9 decoding: ~20 % less
    decoding CPU, but the pixels are not the encoder's (slightly blockier; the error grows until the next
    keyframe). Frame indices and timestamps are unchanged. For analysis at small sizes, not for output video.
    A reader is not thread-safe; it reopens the file after a fork and pickles without its decoder.
    On glibc, the first reader of frames of 2 MB or more tunes malloc for the process so that frame buffers are not
    page-faulted in afresh for every frame (see ``videolens.io.convert.tune_malloc``; ``VIDEOLENS_MALLOC_TUNING=0``
    turns that off).

    >>> from videolens import VideoReader
    >>> reader = VideoReader("samples/sample.mp4")            # doctest: +SKIP
    >>> len(reader), reader.fps, reader.size                  # doctest: +SKIP
    (375, 25.0, (360, 288))
    >>> reader.get_frames([0, 100, 50], size=112).shape       # doctest: +SKIP
    (3, 112, 140, 3)
    >>> for batch in reader.iter_frames(step=25, size=224, batch=8):   # doctest: +SKIP
    ...     print(batch.indices, batch.frames.shape)
    """

    def __init__(self, path: str | os.PathLike, threads: int = 0, interpolation: str = "fast_bilinear",
                 skip_loop_filter: bool = False):
        self.path = os.fspath(path)
        self.threads = int(threads)
        self.skip_loop_filter = bool(skip_loop_filter)
        # A first scan of the file leaves its container open, decoder and all, for this reader to rewind and use
        # (not when the decoder needs other options: those must be set before it opens).
        self._index, container, self._fed = _index_for(self.path, self.threads, keep=not self.skip_loop_filter)
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {sorted(INTERPOLATIONS)}, not {interpolation!r}")
        self.interpolation = interpolation
        self._container = container
        self._stream = None if container is None else container.streams.video[0]
        self._pid = None if container is None else os.getpid()
        self._rewind = True     # go back to frame 0 by seeking (checked), not by reopening; off if that ever misses
        self._run: _Run | None = None
        self._counting = False
        self._seek_dts = False
        self._target = 0
        self._bad: set[int] = set()
        # Decoder work so far: seeks (including the first open), frames decoded, packets that failed to decode.
        self.stats = {"seeks": 0, "decoded": 0, "errors": 0}
        self._timestamps = (self._index.pts * self._index.time_base.numerator / self._index.time_base.denominator)
        self._timestamps.setflags(write=False)
        self._key_rank = self._index.key_rank
        self._key_seek = self._index.key_seek
        self._converter = FrameConverter(self._index.rotation, self._index.info.stored_size)

    # ---- metadata -------------------------------------------------------------------------------------------
    @property
    def info(self) -> VideoInfo:
        return self._index.info

    def __len__(self) -> int:
        return int(self._index.pts.size)

    @property
    def fps(self) -> float:
        """Average frames per second: frame count over duration (from PTS)."""
        return self._index.info.fps

    @property
    def duration(self) -> float:
        """Seconds from the first frame's PTS to the end of the last frame."""
        return self._index.info.duration

    @property
    def start_time(self) -> float:
        return self._index.info.start_time

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the frames this reader returns: stored resolution, rotated upright."""
        w, h = self._index.info.stored_size
        return (h, w) if self._index.rotation in (90, 270) else (w, h)

    @property
    def rotation(self) -> int:
        return self._index.rotation

    @property
    def timestamps(self) -> np.ndarray:
        """Presentation time in seconds of every frame, from PTS (read-only float64 array)."""
        return self._timestamps

    @property
    def keyframes(self) -> np.ndarray:
        """Indices of the frames that decoding can start at (keyframes, from the packet scan)."""
        return self._key_rank.copy()

    @property
    def bad_frames(self) -> int:
        """How many frames failed to decode so far (each was replaced by the nearest earlier good frame)."""
        return len(self._bad)

    @property
    def bad_frame_indices(self) -> list[int]:
        return sorted(self._bad)

    # ---- decoding state -------------------------------------------------------------------------------------
    def _ensure_open(self) -> None:
        if self._container is not None and self._pid == os.getpid():
            return
        self._container = _open(self.path)
        self._stream = _video_stream(self._container, self.path)
        _set_threads(self._stream, self.threads)
        if self.skip_loop_filter:
            self._stream.codec_context.options = {"skip_loop_filter": "all"}
        self._pid = os.getpid()
        self._run = None

    def close(self) -> None:
        if self._container is not None and self._pid == os.getpid():
            self._container.close()
        self._container = None
        self._fed = None
        self._run = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.update(_container=None, _stream=None, _run=None, _pid=None, _fed=None)
        return state

    def _rank_of_pts(self, pts) -> int | None:
        if pts is None:
            return None
        arr = self._index.pts
        i = int(np.searchsorted(arr, pts))
        return i if i < arr.size and arr[i] == pts else None

    def _rank_of_packet(self, packet) -> int | None:
        return self._rank_of_pts(packet.pts if packet.pts is not None else packet.dts)

    def _start_run(self, key_i: int) -> None:
        """Position the decoder at keyframe ``key_i`` (or earlier)."""
        self.stats["seeks"] += 1
        fed, self._fed = self._fed, None
        if fed is not None and key_i == 0 and self._container is not None and self._pid == os.getpid():
            self._run = _Run(self, 0, fed=fed)    # the scan left the decoder at the start: go on from there
            return
        fresh = self._container is None or self._pid != os.getpid()
        self._ensure_open()
        verify = None
        if key_i == 0:
            first = self._index.first_packet
            if fresh:
                pass            # a container opened just now is already at the start
            elif self._rewind and first and (first[0] is not None or first[1] is not None):
                # Cheaper than reopening (which probes the stream again: ~80 ms at 1080p), but not every demuxer
                # lands exactly on the first packet (MPEG-PS does not): the run checks it, else _NotAtStart.
                try:
                    self._container.seek(int(first[0] if first[0] is not None else first[1]), stream=self._stream,
                                         backward=True)
                    verify = first
                except (av.error.FFmpegError, OSError):
                    self._rewind = False
                    self.close()
                    self._ensure_open()
            else:
                self.close()    # reopening is the one seek every format supports exactly
                self._ensure_open()
        else:
            try:
                target = int(self._key_seek[key_i][1 if self._seek_dts else 0])
                self._container.seek(target, stream=self._stream, backward=True)
            except (av.error.FFmpegError, OSError):
                self.close()
                self._ensure_open()
                key_i = 0
        self._stream.codec_context.flush_buffers()
        self._run = _Run(self, key_i, verify)

    def _key_for(self, i: int) -> int:
        return int(np.searchsorted(self._key_rank, i, side="right") - 1)

    def _next_frame(self):
        """Next ``(index, frame)`` of the current run; seeks further back if the seek overshot."""
        while True:
            try:
                return self._run.next()
            except _Overshoot:
                if not self._seek_dts:
                    self._seek_dts = True   # this demuxer seeks by DTS: retry the same keyframe by its DTS
                    self._start_run(self._run.key_i)
                else:
                    self._start_run(max(self._run.key_i - 1, 0))
            except _NotAtStart:
                self._rewind = False    # this demuxer does not seek to the start exactly: reopen from now on
                self.close()
                self._start_run(0)
            except _PtsUnreliable:
                self._counting = True
                self._key_rank = self._key_rank[:1]  # decode positions are unknown: always start at the top
                self._start_run(0)

    def _decode_index(self, i: int):
        """The av.VideoFrame for index ``i`` (or the nearest earlier good one), reusing the decoder when it can."""
        self._target = i
        run = self._run
        if run is not None and run.gap is not None and run.gap[0] <= i < run.gap[1]:
            self._bad.add(i)     # this run already decoded past i without seeing it
            return run.gap[2][1]
        key_i = self._key_for(i)
        reuse = (run is not None and self._pid == os.getpid()
                 and int(self._key_rank[key_i]) <= run.next_rank <= i)
        prev = None
        if reuse:
            if run.returned is not None and run.returned[0] < i:
                prev = run.returned
        else:
            self._start_run(key_i)
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
        self._bad.add(i)
        if prev is not None:
            # Every index from i up to the next frame out of the decoder is missing too.
            self._run.gap = (i, self._run.pending[-1][0] if self._run.pending else len(self), prev)
            return prev[1]
        return self._fallback_frame(i, key_i)

    def _fallback_frame(self, i: int, key_i: int):
        """Frame ``i`` and everything decoded before it in this run are missing: find the nearest earlier good one."""
        for k in range(key_i - 1, -1, -1):
            self._target = i
            self._start_run(k)
            prev = None
            while (item := self._next_frame()) is not None and item[0] < i:
                prev = item
            self._run = None
            if prev is not None:
                return prev[1]
        # Nothing decodes before i: take the first good frame after it.
        self._target = i
        self._start_run(key_i)
        item = self._next_frame()
        while item is not None and item[0] < i:
            item = self._next_frame()
        self._run = None
        if item is None:
            raise VideoError(self.path, f"frame {i} and every frame around it fail to decode")
        return item[1]

    # ---- public frame access --------------------------------------------------------------------------------
    def _normalize(self, indices) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        idx = np.where(idx < 0, idx + n, idx)
        bad = (idx < 0) | (idx >= n)
        if np.any(bad):
            raise IndexError(f"{self.path}: frame index {int(np.asarray(indices).reshape(-1)[np.argmax(bad)])} "
                             f"out of range for {n} frames")
        return idx

    def get_frames(self, indices: Sequence[int] | np.ndarray, size=None, gray: bool = False) -> np.ndarray:
        """Frames at the given indices, in the order given: ``(N, H, W, 3)`` uint8 RGB, or ``(N, H, W)`` if gray.

        Indices may come in any order and repeat; decoding visits them in ascending order with the fewest seeks.
        """
        idx = self._normalize(indices)
        out_size = target_size(size, self.size)
        uniq = np.unique(idx)
        decoded: dict[int, np.ndarray] = {}
        for i in uniq.tolist():
            decoded[i] = self._converter(self._decode_index(i), out_size, gray, self.interpolation, self.threads)
        if not decoded:
            w, h = out_size or self.size
            return np.zeros((0, h, w) if gray else (0, h, w, 3), dtype=np.uint8)
        return np.stack([decoded[i] for i in idx.tolist()])

    def __getitem__(self, key):
        """``reader[i]`` is one frame ``(H, W, 3)``; a slice or a list of indices gives ``(N, H, W, 3)``."""
        if isinstance(key, slice):
            return self.get_frames(np.arange(len(self))[key])
        if isinstance(key, (int, np.integer)):
            return self.get_frames([int(key)])[0]
        return self.get_frames(key)

    def index_at(self, seconds) -> np.ndarray:
        """Index of the frame on screen at each time (seconds on the stream's PTS clock)."""
        t = np.asarray(seconds, dtype=np.float64).reshape(-1)
        end = float(self._index.end_pts * self._index.time_base)
        if np.any(~np.isfinite(t)) or np.any(t < 0) or np.any(t > end + 1e-9):
            raise IndexError(f"{self.path}: time {t.tolist()} outside the video (0 .. {end:.3f} s)")
        # A tiny tolerance so that t == timestamps[i] computed elsewhere in floating point selects frame i.
        i = np.searchsorted(self._timestamps, t + 1e-9, side="right") - 1
        return np.clip(i, 0, len(self) - 1)

    def get_frames_at(self, seconds, size=None, gray: bool = False) -> np.ndarray:
        """The frames on screen at the given times, in seconds on the stream's PTS clock."""
        return self.get_frames(self.index_at(seconds), size=size, gray=gray)

    def iter_frames(self, start: int = 0, end: int | None = None, step: int = 1, size=None, gray: bool = False,
                    batch: int = 1) -> Iterator[FrameBatch]:
        """Stream frames ``start, start+step, ... < end`` as :class:`FrameBatch` es of up to ``batch`` frames.

        Memory stays bounded (one batch plus the decoder's own buffers). Steps wider than a GOP seek instead of
        decoding through.

        >>> for b in VideoReader("samples/sample.mp4").iter_frames(step=5, size=112, batch=16):  # doctest: +SKIP
        ...     b.frames.shape, b.indices[0], b.timestamps[0]
        """
        n = len(self)
        end = n if end is None else min(int(end), n)
        start = int(start) + n if start < 0 else int(start)
        if step < 1 or batch < 1:
            raise ValueError("step and batch must be >= 1")
        out_size = target_size(size, self.size)
        frames: list[np.ndarray] = []
        indices: list[int] = []
        for i in range(start, end, step):
            frames.append(self._converter(self._decode_index(i), out_size, gray, self.interpolation, self.threads))
            indices.append(i)
            if len(frames) == batch:
                yield self._batch(frames, indices)
                frames, indices = [], []
        if frames:
            yield self._batch(frames, indices)

    def iter_decoded(self, start: int = 0, end: int | None = None, step: int = 1) -> Iterator[tuple[int, object]]:
        """Yield ``(index, av.VideoFrame)`` without converting: decode once, then :meth:`convert` to several sizes.

        This is what the analyzer loop uses to feed every analyzer its own size from one decode pass.
        """
        n = len(self)
        end = n if end is None else min(int(end), n)
        if step < 1:
            raise ValueError("step must be >= 1")
        for i in range(int(start), end, step):
            yield i, self._decode_index(i)

    def convert(self, frame, size=None, gray: bool = False, interpolation: str | None = None) -> np.ndarray:
        """A decoded frame from :meth:`iter_decoded` as an upright uint8 RGB (or gray) array at ``size``.

        ``interpolation`` overrides the reader's own for this call (an analyzer that needs "area" at tiny sizes).
        """
        if interpolation is not None and interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {sorted(INTERPOLATIONS)}, not {interpolation!r}")
        return self._converter(frame, target_size(size, self.size), gray, interpolation or self.interpolation,
                               self.threads)

    def _batch(self, frames: list[np.ndarray], indices: list[int]) -> FrameBatch:
        arr = frames[0][None] if len(frames) == 1 else np.stack(frames)
        idx = np.asarray(indices, dtype=np.int64)
        return FrameBatch(arr, idx, self._timestamps[idx])

    def __iter__(self) -> Iterator[np.ndarray]:
        for b in self.iter_frames():
            yield b.frames[0]

    def __repr__(self) -> str:
        w, h = self.size
        return f"VideoReader({self.path!r}, frames={len(self)}, fps={self.fps:.3f}, size={w}x{h})"
