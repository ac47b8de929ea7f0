"""The packet scan of a video stream, and its per-process cache: frame count, PTS, keyframes, rotation, info.

The scan reads every packet of the first video stream without decoding (fast: no pixels), so the frame count and
the timestamps are exact where container headers are wrong, and it decodes only the first frame (the display
rotation is side data of decoded frames, and it proves the stream decodes). A reader's first scan of a file can
keep its container open and hand it on, rewound, with the decoder fed up to the first frame (``keep``): the
reader's first run then goes on from there instead of opening the file again.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from functools import cached_property

import av
import av.error
import numpy as np

from ..errors import VideoError
from .decoder import Opener, decode_packet, open_container, set_threads, video_stream

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
class Index:
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

    @cached_property
    def timestamps(self) -> np.ndarray:
        """Seconds of every frame (read-only float64): computed once per scan, shared by its readers."""
        ts = self.pts * self.time_base.numerator / self.time_base.denominator
        ts.setflags(write=False)
        return ts


_INDEX_CACHE: dict[tuple, Index] = {}


def rotation_of(frame) -> int:
    """Clockwise degrees: PyAV gives the display matrix angle counter-clockwise, users know the 'rotate' tag."""
    try:
        ccw = frame.rotation or 0
    except Exception:  # noqa: BLE001 - older PyAV or frames without side data
        return 0
    return int(round(-float(ccw) / 90.0)) % 4 * 90


def probe_first_frame(container, stream, packets=None):
    """Decode from the container's position until a first frame comes out (at most _PROBE_PACKETS packets).

    Returns ``(frame, fed)``: ``fed`` lists ``(packet, frames)`` for every packet sent to the decoder (``frames``
    None where decoding failed), for a reader to replay before it goes on demuxing. ``frame`` None: nothing decoded.
    """
    fed = []
    for packet in packets if packets is not None else container.demux(stream):
        frames = decode_packet(packet)
        fed.append((packet, frames))
        if frames:
            return frames[0], fed
        if len(fed) > _PROBE_PACKETS:
            break
    return None, fed


def scan(path: str, threads: int = 0, keep: bool = False, opener: Opener = open_container):
    """Scan the packets of the first video stream and decode its first frame (for rotation), in one container.

    Returns ``(index, container, fed)``. With ``keep`` the container stays open for a reader to decode with, instead
    of opening the file again: after the scan it is rewound to the first packet (or, where the demuxer cannot seek
    there exactly, reopened) and its decoder (opened with ``threads``) has been fed the packets in ``fed``, up to the
    first frame: the reader's first run replays them and goes on from there. Otherwise ``(index, None, None)``.
    ``opener`` opens the file (a seam: tests count the opens).
    """
    container = opener(path)
    try:
        stream = video_stream(container, path)
        set_threads(stream, threads)
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
                    frames = decode_packet(packet)     # the empty packet at the end drains the decoder
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
            container, first_frame, fed = _restart(path, container, stream, first_packet, threads, opener)
            stream = container.streams.video[0]
        if first_frame is not None:
            rotation = rotation_of(first_frame)
        else:
            keep = False    # the start does not decode: look further in (and let the reader reopen)
            rotation, first_frame = _first_frame_rotation(path, opener)
        info = _make_info(path, container, stream, tb, sorted_pts, end_pts, rotation, first_frame)
        index = Index(sorted_pts, key_rank, key_seek, tb, counting, end_pts, rotation, info, first_packet)
    except BaseException:
        container.close()
        raise
    if not keep:
        container.close()
        container, fed = None, None
    return index, container, fed


def _restart(path: str, container, stream, first_packet: tuple, threads: int, opener: Opener):
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
        container = opener(path)
        stream = video_stream(container, path)
        set_threads(stream, threads)
    else:
        stream.codec_context.flush_buffers()
    try:
        frame, fed = probe_first_frame(container, stream, packets)
    except (av.error.FFmpegError, OSError):
        frame, fed = None, []
    return container, frame, fed


def _first_frame_rotation(path: str, opener: Opener):
    """Decode the first decodable frame: proves the stream decodes, and gives the display rotation."""
    for attempt in range(2):
        container = opener(path)
        try:
            stream = container.streams.video[0]
            if attempt == 1:
                if not stream.duration:
                    break
                # The start is damaged: try from the middle of the file.
                container.seek((stream.start_time or 0) + stream.duration // 2, stream=stream, backward=True)
            frame, _ = probe_first_frame(container, stream)
            if frame is not None:
                return rotation_of(frame), frame
        except (av.error.FFmpegError, OSError):
            pass
        finally:
            container.close()
    raise VideoError(path, "no decodable video frames")


def _make_info(path, container, stream, tb, sorted_pts, end_pts, rotation, first_frame) -> VideoInfo:
    """The file's facts, from the scan's PTS where headers can be wrong (frame count, duration, rate)."""
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
        if acc is None:     # a damaged or unknown codec header: the stream is there, nothing more is known
            audio.append(AudioStreamInfo(a.index, "unknown", 0, 0, "", a.metadata.get("language")))
            continue
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


def index_for(path: str, threads: int = 0, keep: bool = False, opener: Opener = open_container):
    """``(index, container, fed)``: the cached index of a file, or a fresh scan's (see :func:`scan`)."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
        key = (real, st.st_size, st.st_mtime_ns)
    except OSError:
        key = None
    if key is not None and key in _INDEX_CACHE:
        return _INDEX_CACHE[key], None, None
    index, container, fed = scan(path, threads, keep, opener)
    if key is not None:
        if len(_INDEX_CACHE) > 4096:
            _INDEX_CACHE.clear()
        _INDEX_CACHE[key] = index
    return index, container, fed
