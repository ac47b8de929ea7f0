"""Frame-accurate splitting of a video into one file per shot (``videolens shots --split``).

A shot that starts on a keyframe and ends just before one (or at the end of the video) is stream-copied: its packets
are remuxed untouched, video and audio, so nothing is re-encoded. Any other shot is decoded and re-encoded to H.264
(with the source's audio for its time span), because a piece that starts between keyframes cannot be copied
without starting early (PySceneDetect #159, #306). Every copied piece is checked afterwards (its frame count and
timestamps must be the shot's), and re-encoded when the check fails (open GOPs, damaged packets).

The pieces are built in a temporary folder that replaces ``shots/`` only when every piece is complete: an error or
Ctrl-C leaves no half-written file behind.

>>> pieces = split_shots("samples/sample.mp4", result, "out/")      # doctest: +SKIP
>>> [(p["index"], p["method"]) for p in pieces][:2]                   # doctest: +SKIP
[(0, 'copy'), (1, 'encode')]
"""

from __future__ import annotations

import os
from pathlib import Path

import av
import av.error
import numpy as np

from ..errors import VideolensError
from ..io.reader import VideoReader
from ..io.writer import VideoWriter
from ..utils.files import atomic_dir
from ..utils.progress import progress
from .result import Shot, ShotsResult

_COPY_VIDEO = {"h264", "hevc", "mpeg4", "av1"}               # codecs an MP4 takes as they are
_COPY_AUDIO = {"aac", "mp3", "ac3", "eac3", "alac", "opus"}


def _copyable(reader: VideoReader, shot: Shot, keys: set[int]) -> bool:
    n = len(reader)
    if shot.start_frame not in keys or not (shot.end_frame == n - 1 or shot.end_frame + 1 in keys):
        return False
    if reader.info.codec not in _COPY_VIDEO:
        return False
    return all(a.codec in _COPY_AUDIO for a in reader.info.audio[:1])


def _copy_piece(reader: VideoReader, shot: Shot, target: Path) -> bool:
    """Remux the packets of ``shot`` into ``target``; False (and nothing written) if it did not come out exact."""
    ts = reader.timestamps
    n = len(reader)
    t_start = float(ts[shot.start_frame])
    t_end = float(ts[shot.end_frame + 1]) if shot.end_frame + 1 < n else float(reader.start_time + reader.duration)
    try:
        with av.open(reader.path) as inp:
            vin = inp.streams.video[0]
            ain = inp.streams.audio[0] if inp.streams.audio else None
            vtb = vin.time_base
            pts_start = int(round(t_start / vtb))
            pts_end = int(round(t_end / vtb)) if shot.end_frame + 1 < n else None
            with av.open(str(target), "w", format="mp4") as out:
                vout = out.add_stream_from_template(vin)
                aout = out.add_stream_from_template(ain) if ain is not None else None
                inp.seek(pts_start, stream=vin, backward=True, any_frame=False)
                offset_s = None                # seconds subtracted from every timestamp
                video_done = False
                streams = [vin] + ([ain] if ain is not None else [])
                for packet in inp.demux(*streams):
                    if packet.dts is None and packet.pts is None:
                        continue
                    if packet.stream is vin:
                        if video_done:
                            continue
                        if offset_s is None:
                            if packet.pts != pts_start or not packet.is_keyframe:
                                if packet.pts is not None and packet.pts > pts_start:
                                    return False          # the seek overshot: no exact copy possible
                                continue
                            offset_s = float(min(packet.dts if packet.dts is not None else packet.pts,
                                                 packet.pts) * vtb)
                        if pts_end is not None and packet.is_keyframe and packet.pts is not None \
                                and packet.pts >= pts_end:
                            video_done = True
                            if aout is None:
                                break
                            continue
                        shift = int(round(offset_s / vtb))
                        packet.pts = None if packet.pts is None else packet.pts - shift
                        packet.dts = None if packet.dts is None else packet.dts - shift
                        packet.stream = vout
                        out.mux(packet)
                    elif aout is not None and offset_s is not None:
                        t = float((packet.pts if packet.pts is not None else packet.dts) * packet.time_base)
                        if t >= t_end:
                            if video_done:
                                break
                            continue
                        if t < t_start:
                            continue
                        shift = int(round(offset_s / packet.time_base))
                        packet.pts = None if packet.pts is None else packet.pts - shift
                        packet.dts = None if packet.dts is None else packet.dts - shift
                        packet.stream = aout
                        out.mux(packet)
                if offset_s is None:
                    return False
    except (av.error.FFmpegError, OSError, ValueError):
        target.unlink(missing_ok=True)
        return False
    # Check: exactly the shot's frames, at the shot's times.
    try:
        piece = VideoReader(target)
        want = ts[shot.start_frame:shot.end_frame + 1] - ts[shot.start_frame]
        got = piece.timestamps - piece.timestamps[0]
        ok = len(piece) == shot.frames and bool(np.allclose(got, want, atol=1e-3))
        piece.close()
    except VideolensError:
        ok = False
    if not ok:
        target.unlink(missing_ok=True)
    return ok


def _encode_piece(reader: VideoReader, shot: Shot, target: Path, crf: int) -> None:
    ts = reader.timestamps
    t0 = float(ts[shot.start_frame])
    audio = reader.path if reader.info.audio else None
    with VideoWriter(target, fps=reader.fps, size=reader.size, crf=crf, audio_from=audio, audio_offset=t0) as w:
        for batch in reader.iter_frames(shot.start_frame, shot.end_frame + 1, batch=16):
            w.write_batch(batch.frames, batch.timestamps - t0)


def split_shots(path: str | os.PathLike, result: ShotsResult, out_dir: str | os.PathLike, *, overwrite: bool = True,
                copy: bool = True, crf: int = 18, quiet: bool = True) -> list[dict]:
    """Write ``out_dir/shots/NNN.mp4`` (NNN = the shot's index) for every shot of ``result``.

    Returns one dict per piece: ``index``, ``path``, ``method`` ("copy" or "encode"), ``start_frame``,
    ``end_frame``, ``frames``. ``copy=False`` re-encodes every piece.
    """
    target = Path(out_dir) / "shots"
    if target.exists() and not overwrite:
        raise VideolensError(f"{target}: already exists (use --overwrite to replace it)")
    reader = VideoReader(path)
    if len(reader) != result.frames:
        raise VideolensError(f"{reader.path}: has {len(reader)} frames, the shot list {result.frames}")
    keys = set(int(k) for k in reader.keyframes)
    pieces = []
    bar = progress(total=len(result.shots), desc="split", quiet=quiet, unit="shot")
    try:
        with atomic_dir(target) as tmp:
            for shot in result.shots:
                name = f"{shot.index:03d}.mp4"
                method = "encode"
                if copy and _copyable(reader, shot, keys) and _copy_piece(reader, shot, tmp / name):
                    method = "copy"
                else:
                    _encode_piece(reader, shot, tmp / name, crf)
                pieces.append({"index": shot.index, "path": str(target / name), "method": method,
                               "start_frame": shot.start_frame, "end_frame": shot.end_frame, "frames": shot.frames})
                bar.update(1)
    finally:
        bar.close()
        reader.close()
    return pieces
