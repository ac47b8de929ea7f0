"""One video through every enabled analyzer in one decode pass, into ``report.json``, ``report.html`` and the rest.

:func:`analyze_video` writes into a folder it is given (a temporary one: :func:`videolens.analyze.analyze` renames
it into place when complete):

- ``report.json``: the versioned report (schema: ``videolens/analyze/report.schema.json``);
- ``report.html``: a self-contained page with a timeline, shot thumbnails, the transcript and a player;
- ``shots.csv``, ``tracks.txt``, ``transcript.srt``/``.vtt``: written by the parts' own writers when they ran;
- ``proxy.mp4``: a small H.264/AAC copy for the player, when a browser cannot play the source;
- ``thumbnail.jpg``: a small frame (a third of the way in) for the batch's ``index.html``;
- ``annotated.mp4`` (``annotated_video=True``): boxes, ids, current shot and subtitles drawn, audio kept.

The proxy and the shot thumbnails are made from the same decode pass as the analyzers (they are two more
consumers of :func:`~videolens.stream.run_analyzers`). Only the annotated video decodes again: it draws
results that exist only once the pass is over (shot boundaries, final track ids).

>>> from videolens.analyze import AnalyzeConfig, analyze_video
>>> report = analyze_video("samples/sample.mp4", "/tmp/sample-report", AnalyzeConfig(), quiet=True)  # doctest: +SKIP
>>> report["motion"]["per_second"][0]                                                               # doctest: +SKIP
{'second': 0, 'activity': 0.0123}
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np

from ..core.analyzer import Analyzer
from ..errors import DiskFullError, VideolensError, disk_full
from ..io.reader import VideoInfo, VideoReader
from ..stream import run_analyzers
from ..utils.files import final_name, write_bytes, write_text
from .config import AnalyzeConfig
from .fingerprint import fingerprint
from .registry import ANALYZERS, build_plugins, build_registered, skip_record
from .report import build_report

# What a browser's <video> plays as it is: (container, video codecs, audio codecs). Anything else gets a proxy.
_PLAYABLE = [({"mp4", "mov", "m4v"}, {"h264"}, {"aac", "mp3"}),
             ({"webm"}, {"vp8", "vp9", "av1"}, {"opus", "vorbis"})]
_PLAYABLE_PIX = {"yuv420p", "yuvj420p", None}
_HELPERS = ("thumbnails", "proxy")     # the report's own consumers of the decode pass


# ---- helpers that ride along in the decode pass --------------------------------------------------------------------


class ThumbnailCollector(Analyzer):
    """Small JPEG thumbnails about twice a second, to pick one per shot afterwards (bounded: ``max_count``)."""

    name = "thumbnails"
    size = 96
    batch_size = 16

    def __init__(self, stride: int, max_count: int = 2400, quality: int = 80):
        self.stride, self.max_count, self.quality = int(stride), int(max_count), int(quality)
        self.thumbs: list[tuple[int, float, bytes]] = []
        self._keep_every = 1

    def process(self, frames, timestamps, indices) -> None:
        import cv2

        for frame, t, i in zip(frames, timestamps, indices):
            if (int(i) // self.stride) % self._keep_every:
                continue
            ok, buf = cv2.imencode(".jpg", frame[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, self.quality])
            if ok:
                self.thumbs.append((int(i), float(t), buf.tobytes()))
        if len(self.thumbs) > self.max_count:
            # A very long video: keep every other one from now on, so memory stays bounded.
            self._keep_every *= 2
            self.thumbs = [x for x in self.thumbs if (x[0] // self.stride) % self._keep_every == 0]

    def finish(self) -> list[tuple[int, float, bytes]]:
        return self.thumbs


class ProxyWriter(Analyzer):
    """Writes ``proxy.mp4``: H.264 + AAC at most 360 px on the short side, in sync with the source's audio."""

    name = "proxy"
    stride = 1
    batch_size = 16

    def __init__(self, path: str | os.PathLike, short_side: int = 360, crf: int = 28):
        self.path, self.short_side, self.crf = os.fspath(path), int(short_side), int(crf)
        self.writer = None

    def start(self, info: VideoInfo) -> None:
        from ..io.writer import VideoWriter

        w, h = info.stored_size
        if info.rotation in (90, 270):     # frames arrive upright
            w, h = h, w
        scale = min(1.0, self.short_side / min(w, h))
        self.size = (max(2, round(w * scale / 2) * 2), max(2, round(h * scale / 2) * 2))
        audio = info.audio[0].codec if info.audio else None
        self.writer = VideoWriter(self.path, fps=info.fps, size=self.size, crf=self.crf,
                                  audio_from=info.path if audio else None,
                                  audio="copy" if audio in ("aac", "mp3") else "aac")

    def process(self, frames, timestamps, indices) -> None:
        self.writer.write_batch(frames, timestamps)

    def finish(self) -> str:
        self.writer.close()
        return self.path

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()


def browser_playable(info: VideoInfo) -> bool:
    """Whether Chrome/Firefox/Safari play the file in a <video> element as it is."""
    audio = {a.codec for a in info.audio}
    return any(info.container in containers and info.codec in vcodecs and audio <= acodecs
               and info.pix_fmt in _PLAYABLE_PIX for containers, vcodecs, acodecs in _PLAYABLE)


def _grid_stride(analyzers: list[Analyzer], frames: int) -> int:
    """The stride the decode loop already visits (gcd of the analyzers' strides that see any frame at all)."""
    strides = [int(a.stride) for a in analyzers if a.wants_frames and int(a.stride) < max(frames, 2)]
    return math.gcd(*strides) if strides else 1


def _shot_thumbnails(shots: list[dict], thumbs: list[tuple[int, float, bytes]], reader: VideoReader,
                     size: int) -> list[bytes | None]:
    """One thumbnail per shot: the collected one nearest the shot's middle, else the middle frame decoded now."""
    import cv2

    idx = np.asarray([t[0] for t in thumbs], dtype=np.int64)
    out: list[bytes | None] = []
    missing: dict[int, list[int]] = {}
    for k, shot in enumerate(shots):
        a, b = int(shot["start_frame"]), int(shot["end_frame"])
        mid = (a + b) // 2
        inside = np.flatnonzero((idx >= a) & (idx <= b))
        if inside.size:
            out.append(thumbs[int(inside[np.argmin(np.abs(idx[inside] - mid))])][2])
        else:
            out.append(None)        # a shot shorter than the thumbnail spacing
            missing.setdefault(min(max(mid, 0), len(reader) - 1), []).append(k)
    if missing:
        frames = reader.get_frames(sorted(missing), size=size)
        for frame, i in zip(frames, sorted(missing)):
            ok, buf = cv2.imencode(".jpg", frame[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 80])
            for k in missing[i]:
                out[k] = buf.tobytes() if ok else None
    return out


# ---- one video -----------------------------------------------------------------------------------------------------


def build_for(config: AnalyzeConfig, has_audio: bool) -> tuple[list[Analyzer], list[Analyzer], list[dict]]:
    """The analyzers ``config`` runs on a video with or without audio: ``(registered, plugins, skipped)``."""
    registered, skipped = build_registered(config.names(has_audio), config)
    plugins = build_plugins(tuple(config.plugins), config)
    for entry in ANALYZERS.entries():
        if entry.meta.get("needs_audio") and config.switch(entry.name) and not has_audio:
            skipped.append(skip_record(entry.name, "the video has no audio stream"))
    return registered, plugins, skipped


def planned_fingerprint(config: AnalyzeConfig, has_audio: bool) -> dict:
    """The fingerprint :func:`analyze_video` would record for a video with (or without) audio, without one."""
    return fingerprint(config, *build_for(config, has_audio))


def analyze_video(path: str | os.PathLike, out_dir: str | os.PathLike, config: AnalyzeConfig | None = None, *,
                  name: str | None = None, final_dir: str | os.PathLike | None = None, quiet: bool = False) -> dict:
    """Analyze one video in one decode pass and write its outputs into ``out_dir``; returns the report.

    ``final_dir`` is where ``out_dir`` will end up (the HTML player links the source relative to it); default
    ``out_dir``. Bad input raises :class:`~videolens.errors.VideoError`.
    """
    t_start = time.perf_counter()
    config = config or AnalyzeConfig()
    path = os.fspath(path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final_dir = Path(final_dir) if final_dir is not None else out_dir
    reader = VideoReader(path, threads=config.threads)
    info = reader.info
    name = name or Path(path).stem

    registered, plugins, skipped = build_for(config, bool(info.audio))
    prints = fingerprint(config, registered, plugins, skipped)     # before start() sets sizes from the video
    analyzers = registered + plugins
    names = [a.name for a in analyzers]
    for n in names:
        if names.count(n) > 1 or n in _HELPERS:
            raise VideolensError(f"analyzer name {n!r} is used twice or reserved (names must be unique; "
                                 f"'thumbnails' and 'proxy' are the report's own)")
    thumbs = ThumbnailCollector(stride=1)
    grid = _grid_stride(analyzers, len(reader))
    thumbs.stride = grid * max(1, round(reader.fps / 2 / grid))
    helpers: list[Analyzer] = [thumbs]
    proxy = None
    if config.proxy == "always" or (config.proxy == "auto" and not browser_playable(info)):
        proxy = ProxyWriter(out_dir / "proxy.mp4")
        helpers.append(proxy)

    try:
        run = run_analyzers(reader, analyzers + helpers, quiet=quiet, desc=name)
    except OSError as e:
        if disk_full(e):        # FFmpeg's writes (the proxy) name a temporary file, not ours
            raise DiskFullError(final_name(e.filename) if e.filename else out_dir, e) from None
        raise
    results = {a.name: run.results[a.name] for a in analyzers}

    t_out = time.perf_counter()
    for a in analyzers:
        a.write_files(results[a.name], out_dir)
    timings = {"decode": run.timings.get("decode", 0.0),
               "analyzers": {a.name: run.timings.get(a.name, 0.0) for a in analyzers},
               "thumbnails": run.timings.get("thumbnails", 0.0), "proxy": run.timings.get("proxy", 0.0),
               "annotated_video": 0.0, "writing": 0.0, "total": 0.0, "realtime_factor": None}
    stream = {"frames_decoded": run.frames_decoded, "bad_frames": run.bad_frames, "frames": len(reader)}
    report = build_report(info, name, results, registered, plugins, skipped, config, timings, stream)
    report["fingerprint"] = prints

    if config.annotated_video:
        from ..report.annotate import render_annotated

        t0 = time.perf_counter()
        render_annotated(reader, report, out_dir / "annotated.mp4", quiet=quiet, desc=f"{name} (annotated)")
        timings["annotated_video"] = round(time.perf_counter() - t0, 4)

    from ..report.html import write_report_html

    shot_list = (report["shots"] or {}).get("shots") or []
    shot_thumbs = _shot_thumbnails(shot_list, run.results["thumbnails"], reader, thumbs.size) if shot_list else []
    if proxy is not None:
        src = "proxy.mp4"
    else:
        src = Path(os.path.relpath(os.path.abspath(path), os.path.abspath(final_dir))).as_posix()
    collected = run.results["thumbnails"]
    if collected:       # the batch index page's picture of this video
        write_bytes(out_dir / "thumbnail.jpg", collected[len(collected) // 3][2])
    # Everything but the two report files exists now: the page and the JSON can list (and link) them all.
    report["files"] = sorted([p.name for p in out_dir.iterdir() if not p.name.startswith(".")]
                             + ["report.html", "report.json"])
    total = time.perf_counter() - t_start
    timings["writing"] = round(time.perf_counter() - t_out - timings["annotated_video"], 4)
    timings["total"] = round(total, 4)
    timings["realtime_factor"] = round(info.duration / total, 3) if total > 0 else None
    write_report_html(report, out_dir / "report.html", video_src=src, shot_thumbnails=shot_thumbs,
                      frames=run.results["thumbnails"], proxy=proxy is not None, folder=out_dir)
    write_text(out_dir / "report.json", json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    reader.close()
    return report
