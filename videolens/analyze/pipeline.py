"""One video through every enabled analyzer in one decode pass, into ``report.json``, ``report.html`` and the rest.

:func:`analyze_video` writes into a folder it is given (a temporary one: :func:`videolens.analyze.analyze` renames
it into place when complete):

- ``report.json``: the versioned report (schema: ``videolens/analyze/report.schema.json``);
- ``report.html``: a self-contained page with a timeline, shot thumbnails, the transcript and a player;
- ``shots.csv``, ``tracks.txt``, ``transcript.srt``/``.vtt``: written by the parts' own writers when they ran;
- ``proxy.mp4``: a small H.264/AAC copy for the player, when a browser cannot play the source;
- ``annotated.mp4`` (``annotated_video=True``): boxes, ids, current shot and subtitles drawn, audio kept.

The proxy and the shot thumbnails are made from the same decode pass as the analyzers (they are two more
consumers of :func:`~videolens.analyze.base.run_analyzers`). Only the annotated video decodes again: it draws
results that exist only once the pass is over (shot boundaries, final track ids).

>>> from videolens.analyze import AnalyzeConfig, analyze_video
>>> report = analyze_video("samples/sample.mp4", "/tmp/sample-report", AnalyzeConfig(), quiet=True)  # doctest: +SKIP
>>> report["motion"]["per_second"][0]                                                               # doctest: +SKIP
{'second': 0, 'activity': 0.0123}
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import VideolensError
from ..io.reader import VideoInfo, VideoReader
from ..utils.files import write_text
from .base import Analyzer, run_analyzers
from .registry import ORDER, build_analyzers, load_plugin, result_dict, skip_record

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("report.schema.json")

# What a browser's <video> plays as it is: (container, video codecs, audio codecs). Anything else gets a proxy.
_PLAYABLE = [({"mp4", "mov", "m4v"}, {"h264"}, {"aac", "mp3"}),
             ({"webm"}, {"vp8", "vp9", "av1"}, {"opus", "vorbis"})]
_PLAYABLE_PIX = {"yuv420p", "yuvj420p", None}


@dataclass
class AnalyzeConfig:
    """What ``videolens analyze`` runs. Picklable, so it travels to worker processes and Ray tasks unchanged.

    - ``shots``, ``faces``, ``motion``: on by default. ``speech``: None = when the video has audio.
    - ``objects``: a detector model name or path (turns object detection on); ``tracker``: ``bytetrack``/``sort``.
    - ``actions``: an action-recognition checkpoint (turns action recognition on).
    - ``stride``: analyze every N-th frame (faces, objects, motion; shots always see every frame).
    - ``annotated_video``: also write ``annotated.mp4``. ``proxy``: ``auto`` (when the browser cannot play the
      source), ``always`` or ``never``.
    - ``threads``: decoder threads (0 = FFmpeg decides). ``plugins``: extra analyzers as ``"module:Name"``.
    """

    shots: bool = True
    faces: bool = True
    motion: bool = True
    speech: bool | None = None
    objects: str | None = None
    tracker: str | None = None
    actions: str | None = None
    stride: int | None = None
    annotated_video: bool = False
    proxy: str = "auto"
    device: str = "auto"
    threads: int = 0
    plugins: tuple[str, ...] = field(default_factory=tuple)

    def names(self, has_audio: bool) -> list[str]:
        """The registered analyzers this configuration asks for, in run order."""
        wanted = {"shots": self.shots, "faces": self.faces, "objects": bool(self.objects),
                  "actions": bool(self.actions), "motion": self.motion,
                  "speech": bool(self.speech) if self.speech is not None else has_audio}
        return [n for n in ORDER if wanted.get(n)]


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


def browser_playable(info: VideoInfo) -> bool:
    """Whether Chrome/Firefox/Safari play the file in a <video> element as it is."""
    audio = {a.codec for a in info.audio}
    return any(info.container in containers and info.codec in vcodecs and audio <= acodecs
               and info.pix_fmt in _PLAYABLE_PIX for containers, vcodecs, acodecs in _PLAYABLE)


def _grid_stride(analyzers: list[Analyzer], frames: int) -> int:
    """The stride the decode loop already visits (gcd of the analyzers' strides that see any frame at all)."""
    strides = [int(a.stride) for a in analyzers if int(a.stride) < max(frames, 2)]
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


# ---- the report ----------------------------------------------------------------------------------------------------


def _summary(report: dict) -> dict:
    """The numbers summary.csv and index.html show."""
    shots, faces, objects, speech = (report.get(k) for k in ("shots", "faces", "objects", "speech"))
    motion, actions = report.get("motion"), report.get("actions")
    return {
        "duration": report["video"]["duration"],
        "frames": report["video"]["frames"],
        "shots": len(shots.get("shots", [])) if shots else None,
        "transitions": len(report["transitions"]) if report.get("transitions") is not None else None,
        "faces": faces.get("max_count") if faces else None,
        "frames_with_faces": faces.get("frames_with_faces") if faces else None,
        "objects": sum((objects.get("classes") or {}).values()) if objects else None,
        "tracks": len(report["tracks"]) if report.get("tracks") is not None else None,
        "actions": len(actions.get("segments", [])) if actions else None,
        "speech_seconds": speech.get("speech_seconds") if speech else None,
        "words": len(speech.get("transcript", "").split()) if speech else None,
        "mean_activity": motion.get("mean") if motion else None,
    }


def build_report(info: VideoInfo, name: str, sections: dict[str, dict], ran: list[Analyzer], skipped: list[dict],
                 config: AnalyzeConfig, timings: dict, stream: dict) -> dict:
    """Assemble the versioned report from the analyzers' ``to_dict()`` results (placed under their names, unchanged)."""
    video = info.to_dict()
    video["name"] = name
    video["audio"] = [asdict(a) for a in info.audio]
    shots = sections.get("shots")
    objects = sections.get("objects")
    report = {
        "format": "videolens-report",
        "version": SCHEMA_VERSION,
        "videolens": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "video": video,
        "analyzers": {
            "ran": [{"name": a.name, "size": list(a.size) if isinstance(a.size, (tuple, list)) else a.size,
                     "stride": int(a.stride)} for a in ran],
            "skipped": skipped,
            "settings": {"stride": config.stride, "objects": config.objects, "tracker": config.tracker,
                         "actions": config.actions, "device": config.device},
        },
        "summary": {},
        "shots": shots,
        "transitions": shots.get("transitions", []) if shots else None,
        "faces": sections.get("faces"),
        "objects": objects,
        "tracks": objects.get("tracks") if objects and objects.get("tracks") is not None else None,
        "actions": sections.get("actions"),
        "speech": sections.get("speech"),
        "motion": sections.get("motion"),
        "other": {k: v for k, v in sections.items() if k not in ORDER},
        "stream": stream,
        "timings": timings,
        "files": [],
    }
    report["summary"] = _summary(report)
    return report


def load_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate_report(report: dict) -> None:
    """Raise ``jsonschema.ValidationError`` if ``report`` does not follow ``report.schema.json``."""
    import jsonschema

    jsonschema.validate(report, load_schema())


# ---- standard files through the parts' own writers ----------------------------------------------------------------


def write_part_files(results: dict, out_dir: Path) -> None:
    """``shots.csv``, ``tracks.txt`` and ``transcript.srt``/``.vtt``, with the same code the standalone commands use."""
    if "shots" in results:
        from ..shots.export import write_outputs

        write_outputs(results["shots"], out_dir, formats=("csv",))
    if "objects" in results and result_dict(results["objects"]).get("tracks") is not None:
        from ..detect.analyzers import write_tracks_mot

        write_tracks_mot(results["objects"], out_dir / "tracks.txt")
    if "speech" in results:
        from ..speech import write_subtitles

        write_subtitles(results["speech"], out_dir, formats=("srt", "vtt"))


# ---- one video -----------------------------------------------------------------------------------------------------


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

    analyzers, skipped = build_analyzers(config.names(bool(info.audio)), config, tuple(config.plugins))
    if config.speech and not info.audio:
        skipped.append(skip_record("speech", "the video has no audio stream"))
    names = [a.name for a in analyzers]
    for n in names:
        if names.count(n) > 1 or n in ("thumbnails", "proxy"):
            raise VideolensError(f"analyzer name {n!r} is used twice or reserved (names must be unique; "
                                 f"'thumbnails' and 'proxy' are the report's own)")
    helpers: list[Analyzer] = []
    thumbs = ThumbnailCollector(stride=1)
    grid = _grid_stride(analyzers, len(reader))
    thumbs.stride = grid * max(1, round(reader.fps / 2 / grid))
    helpers.append(thumbs)
    proxy = None
    if config.proxy == "always" or (config.proxy == "auto" and not browser_playable(info)):
        proxy = ProxyWriter(out_dir / "proxy.mp4")
        helpers.append(proxy)

    try:
        run = run_analyzers(reader, analyzers + helpers, quiet=quiet, desc=name)
    except BaseException:
        if proxy is not None and proxy.writer is not None:
            proxy.writer.abort()
        raise
    results = {a.name: run.results[a.name] for a in analyzers}
    sections = {k: result_dict(v) for k, v in results.items()}

    t_out = time.perf_counter()
    write_part_files(results, out_dir)
    timings = {"decode": run.timings.get("decode", 0.0),
               "analyzers": {a.name: run.timings.get(a.name, 0.0) for a in analyzers},
               "thumbnails": run.timings.get("thumbnails", 0.0), "proxy": run.timings.get("proxy", 0.0),
               "annotated_video": 0.0, "writing": 0.0, "total": 0.0, "realtime_factor": None}
    stream = {"frames_decoded": run.frames_decoded, "bad_frames": run.bad_frames, "frames": len(reader)}
    report = build_report(info, name, sections, analyzers, skipped, config, timings, stream)

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
    # Everything but the two report files exists now: the page and the JSON can list (and link) them all.
    report["files"] = sorted([p.name for p in out_dir.iterdir() if not p.name.startswith(".")]
                             + ["report.html", "report.json"])
    total = time.perf_counter() - t_start
    timings["writing"] = round(time.perf_counter() - t_out - timings["annotated_video"], 4)
    timings["total"] = round(total, 4)
    timings["realtime_factor"] = round(info.duration / total, 3) if total > 0 else None
    write_report_html(report, out_dir / "report.html", video_src=src, shot_thumbnails=shot_thumbs,
                      frames=run.results["thumbnails"], proxy=proxy is not None)
    write_text(out_dir / "report.json", json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    reader.close()
    return report


def check_config(config: AnalyzeConfig) -> None:
    """Reject settings that cannot work before any video is touched (a one-line error, exit 2)."""
    if config.tracker and not config.objects:
        raise VideolensError("--tracker needs --objects MODEL|PATH (it tracks the detected objects)")
    if config.tracker and config.tracker not in ("bytetrack", "sort"):
        raise VideolensError(f"--tracker must be bytetrack or sort, not {config.tracker!r}")
    if config.stride is not None and int(config.stride) < 1:
        raise VideolensError(f"--stride must be >= 1, not {config.stride}")
    if config.actions and not os.path.exists(config.actions):
        raise VideolensError(f"{config.actions}: no such checkpoint file (--actions)")
    if config.objects and any(s in config.objects for s in ("/", os.sep)) and not os.path.exists(config.objects):
        raise VideolensError(f"{config.objects}: no such model file (--objects)")
    if config.proxy not in ("auto", "always", "never"):
        raise VideolensError(f"proxy must be auto, always or never, not {config.proxy!r}")
    for spec in config.plugins:
        load_plugin(spec)
