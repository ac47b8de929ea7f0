"""H.264 MP4 writing that browsers play, with the source's audio kept in sync."""

from __future__ import annotations

import os
from fractions import Fraction

import av
import av.error
import numpy as np

from ..errors import VideoError
from ..utils.files import check_writable, temp_path_for
from .paths import check_path

# Audio codecs an MP4 can carry as they are; anything else (MP2, PCM, Vorbis...) is re-encoded to AAC.
_MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "alac", "opus"}
_FINE_TB = Fraction(1, 90000)


def rational_fps(fps: float | Fraction) -> Fraction:
    """The exact rate behind a float: 29.97 is 30000/1001 (NTSC), 25.0 is 25.

    >>> rational_fps(29.97), rational_fps(23.976), rational_fps(12.5)
    (Fraction(30000, 1001), Fraction(24000, 1001), Fraction(25, 2))
    """
    if isinstance(fps, Fraction):
        return fps
    for base in (24, 30, 48, 60, 120, 240):
        if abs(float(fps) - base * 1000 / 1001) < 0.005:
            return Fraction(base * 1000, 1001)
    return Fraction(float(fps)).limit_denominator(1000)


class VideoWriter:
    """Write RGB frames to an H.264 (yuv420p) MP4, optionally with the audio of a source file.

    - ``write(frame, timestamp=None)``: pass each frame's presentation time (seconds) when the source is VFR or
      starts late (e.g. ``reader.timestamps``), so the audio stays in sync; otherwise frames are ``1/fps`` apart.
    - ``audio_from=SRC`` with ``audio="auto"`` copies the source's audio when MP4 can hold it and re-encodes it to
      AAC otherwise; ``"copy"`` and ``"aac"`` force one or the other. ``audio_offset`` is subtracted from the
      source's audio times (write a piece that starts at source time ``t0`` with timestamps ``t - t0`` and
      ``audio_offset=t0``). Audio outside the written video's time span is left out.
    - Odd widths or heights are padded by one pixel (H.264 4:2:0 needs even sizes).
    - The file appears under its name only when :meth:`close` completes; an error leaves nothing behind.

    >>> import numpy as np
    >>> from videolens import VideoWriter
    >>> with VideoWriter("/tmp/videolens-doc.mp4", fps=25, size=(64, 48)) as w:
    ...     for i in range(10):
    ...         w.write(np.full((48, 64, 3), i * 20, np.uint8))
    """

    def __init__(self, path: str | os.PathLike, fps: float, size: tuple[int, int], *, crf: int = 23,
                 preset: str = "veryfast", audio_from: str | os.PathLike | None = None, audio: str = "auto",
                 audio_stream: int = 0, audio_offset: float = 0.0, overwrite: bool = True):
        self.path = os.fspath(path)
        check_writable(self.path, overwrite)
        if fps <= 0:
            raise ValueError(f"fps must be positive, not {fps}")
        if audio not in ("auto", "copy", "aac"):
            raise ValueError(f"audio must be 'auto', 'copy' or 'aac', not {audio!r}")
        self.fps = rational_fps(fps)
        self.width, self.height = int(size[0]), int(size[1])
        self._enc_w, self._enc_h = self.width + self.width % 2, self.height + self.height % 2
        self._tmp = temp_path_for(self.path)
        fmt = "mp4" if self.path.lower().endswith((".mp4", ".m4v")) else None
        self._out = av.open(self._tmp, "w", format=fmt, options={"movflags": "+faststart"} if fmt else {})
        self._v = self._out.add_stream("libx264", rate=self.fps)
        self._v.width, self._v.height = self._enc_w, self._enc_h
        self._v.pix_fmt = "yuv420p"
        self._v.codec_context.time_base = _FINE_TB
        self._v.time_base = _FINE_TB
        self._v.codec_context.colorspace = 6      # BT.601 (smpte170m), the matrix swscale converts RGB with
        self._v.codec_context.color_primaries = 6
        self._v.codec_context.color_trc = 6
        self._v.codec_context.color_range = 1     # limited ("tv") range
        self._v.options = {"crf": str(crf), "preset": preset}
        self._count = 0
        self._last_pts: int | None = None
        self._first_time: float | None = None
        self._end_time = 0.0
        self._closed = False
        self._audio = None
        if audio_from is not None:
            self._audio = _AudioFeed(os.fspath(audio_from), audio_stream, audio, self._out, float(audio_offset))

    @property
    def frames_written(self) -> int:
        return self._count

    def write(self, frame: np.ndarray, timestamp: float | None = None) -> None:
        """Append one ``(H, W, 3)`` uint8 RGB frame (or ``(H, W)`` gray)."""
        frame = np.asarray(frame)
        if frame.ndim == 2:
            frame = np.repeat(frame[:, :, None], 3, axis=2)
        if frame.shape[:2] != (self.height, self.width) or frame.shape[2] != 3:
            raise ValueError(f"frame of shape {frame.shape} does not match the writer's size "
                             f"{self.width}x{self.height}")
        if frame.dtype != np.uint8:
            frame = np.clip(frame, 0, 255).astype(np.uint8)
        if (self._enc_w, self._enc_h) != (self.width, self.height):
            frame = np.pad(frame, ((0, self._enc_h - self.height), (0, self._enc_w - self.width), (0, 0)), mode="edge")
        t = float(timestamp) if timestamp is not None else self._count / float(self.fps)
        pts = int(round(t / _FINE_TB))
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1   # timestamps must increase; equal ones (rounding) nudge forward
        self._last_pts = pts
        if self._first_time is None:
            self._first_time = t
        self._end_time = t + 1.0 / float(self.fps)
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        vf.pts = pts
        vf.time_base = _FINE_TB
        for packet in self._v.encode(vf):
            self._out.mux(packet)
        self._count += 1
        if self._audio is not None:
            # Audio goes in as far as the video has got, so the file is interleaved and ends with the video.
            self._audio.feed_until(self._end_time, self._first_time)

    def write_batch(self, frames: np.ndarray, timestamps=None) -> None:
        for k, frame in enumerate(frames):
            self.write(frame, None if timestamps is None else float(timestamps[k]))

    def close(self) -> None:
        """Flush the encoder, finish the audio and move the file into place."""
        if self._closed:
            return
        self._closed = True
        try:
            for packet in self._v.encode(None):
                self._out.mux(packet)
            if self._audio is not None:
                self._audio.feed_until(self._end_time, self._first_time or 0.0, final=True)
            self._out.close()
        except BaseException:
            self.abort()
            raise
        if self._count == 0:
            self.abort()
            raise VideoError(self.path, "no frames were written")
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Discard the output: nothing is left at ``path`` or under the temporary name."""
        self._closed = True
        try:
            self._out.close()
        except Exception:  # noqa: BLE001 - already broken
            pass
        if self._audio is not None:
            self._audio.close()
        if os.path.exists(self._tmp):
            os.remove(self._tmp)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()


class _AudioFeed:
    """Moves the audio of a source file into the output, interleaved with the video by time."""

    def __init__(self, src: str, stream: int, mode: str, out, offset: float):
        check_path(src)
        try:
            self.container = av.open(src, metadata_errors="ignore")
        except av.error.FFmpegError as e:
            raise VideoError(src, f"not a readable media file ({e})") from None
        streams = self.container.streams.audio
        if not streams:
            self.container.close()
            raise VideoError(src, "no audio stream to copy")
        if not 0 <= stream < len(streams):
            self.container.close()
            raise VideoError(src, f"no audio stream {stream} (the file has {len(streams)})")
        self.src = streams[stream]
        self.copy = mode == "copy" or (mode == "auto" and self.src.codec_context.name in _MP4_AUDIO)
        if self.copy:
            self.dst = out.add_stream_from_template(self.src)
        else:
            rate = self.src.codec_context.sample_rate or 48000
            if rate not in (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000):
                rate = 48000
            self.dst = out.add_stream("aac", rate=rate)
            layout = "mono" if (self.src.codec_context.channels or 2) == 1 else "stereo"
            self.dst.layout = layout
            self.resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        self.out = out
        self.offset = offset
        self.next_pts: int | None = None
        self.packets = self.container.demux(self.src)
        self.done = False
        self._held = None

    def _mux_packet(self, packet, start: float, limit: float) -> bool:
        """Mux one source packet if it lies in the video's time span; False once past ``limit``."""
        if packet.size == 0 or packet.pts is None:
            return True
        t = float(packet.pts * packet.time_base) - self.offset
        if t >= limit:
            return False
        if self.copy:
            dur = float((packet.duration or 0) * packet.time_base)
            if t + dur <= start:
                return True
            if self.offset:
                shift = int(round(self.offset / packet.time_base))
                packet.pts -= shift
                if packet.dts is not None:
                    packet.dts -= shift
            packet.stream = self.dst
            self.out.mux(packet)
            return True
        try:
            frames = packet.decode()
        except (av.error.FFmpegError, ValueError):
            return True
        rate = self.dst.codec_context.sample_rate
        for frame in frames:
            ft = float(frame.time) - self.offset if frame.time is not None else t
            if ft + frame.samples / frame.sample_rate <= start:
                continue
            if self.next_pts is None:
                self.next_pts = max(0, int(round(ft * rate)))
            frame.pts = None
            for rf in self.resampler.resample(frame):
                self._encode(rf)
        return True

    def _encode(self, frame) -> None:
        if frame is not None:
            # One continuous sample clock from the first kept sample: no gaps or overlaps at resampler chunk edges.
            frame.pts = self.next_pts
            frame.time_base = Fraction(1, self.dst.codec_context.sample_rate)
            self.next_pts += frame.samples
        for p in self.dst.encode(frame):
            self.out.mux(p)

    def feed_until(self, limit: float, start: float, final: bool = False) -> None:
        while not self.done:
            if self._held is not None:
                packet, self._held = self._held, None
            else:
                try:
                    packet = next(self.packets)
                except (StopIteration, av.error.FFmpegError, OSError):
                    self.done = True
                    break
            if not self._mux_packet(packet, start, limit):
                self._held = packet  # belongs after the next video frames
                break
        if final:
            if not self.copy and self.next_pts is not None:
                for rf in self.resampler.resample(None):
                    self._encode(rf)
                self._encode(None)
            self.close()

    def close(self) -> None:
        self.done = True
        try:
            self.container.close()
        except Exception:  # noqa: BLE001
            pass
