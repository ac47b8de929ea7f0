"""The files ``videolens shots`` writes: shots.json, shots.csv, shots.edl, stats.csv and thumbnails.

- ``shots.csv`` has PySceneDetect's ``list-scenes`` layout (0.7): a first row ``Timecode List:,<cut timecodes>``,
  then ``Scene Number, Start Frame, Start Timecode, Start Time (seconds), End Frame, End Timecode,
  End Time (seconds), Length (frames), Length (timecode), Length (seconds)``, with 1-based scene numbers and frame
  numbers (``Start Frame`` is the shot's first frame + 1, ``End Frame`` its last + 1) and end times at the next
  shot's start, exactly as PySceneDetect writes them; only our times come from PTS, so they are right on VFR files.
- ``shots.edl`` is a CMX 3600 edit decision list with one event per shot, non-drop-frame timecodes at the nominal
  frame rate (as PySceneDetect's ``save-edl``).
- ``stats.csv``: one row per frame: ``frame`` (0-based), ``time`` (seconds, PTS), then every per-frame score the
  detector computed.

``videolens analyze`` writes ``shots.csv`` with :func:`write_outputs` too (docs/analyzers.md).

>>> from videolens.shots.result import build_result, Transition
>>> import numpy as np
>>> r = build_result("clip.mp4", "content", [Transition("cut", 3, 3)], np.arange(6) / 2, 3.0, 2.0)
>>> csv_text(r).splitlines()[0]
'Timecode List:,00:00:01.500'
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..errors import VideolensError
from ..utils.files import atomic_dir, check_writable, write_text
from ..utils.timecode import smpte, timecode
from .result import ShotsResult

FORMATS = ("json", "csv", "edl")
FILE_NAMES = {"json": "shots.json", "csv": "shots.csv", "edl": "shots.edl", "stats": "stats.csv"}


def parse_formats(text: str | Iterable[str]) -> tuple[str, ...]:
    """``"json,csv"`` or ``["csv"]`` -> a tuple of known formats (``all`` = every one)."""
    items = [t.strip().lower() for t in (text.split(",") if isinstance(text, str) else text) if t.strip()]
    if "all" in items:
        return FORMATS
    bad = [t for t in items if t not in FORMATS]
    if bad:
        raise VideolensError(f"--format: unknown format {bad[0]!r} for shots (choose from {', '.join(FORMATS)}, all)")
    return tuple(dict.fromkeys(items))


def json_text(result: ShotsResult, extra: dict | None = None) -> str:
    return json.dumps({**result.to_dict(), **(extra or {})}, indent=1) + "\n"


def csv_text(result: ShotsResult) -> str:
    """``shots.csv`` in PySceneDetect's list-scenes layout (see the module docstring)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["Timecode List:", *[timecode(s.start_time) for s in result.shots[1:]]])
    w.writerow(["Scene Number", "Start Frame", "Start Timecode", "Start Time (seconds)", "End Frame", "End Timecode",
                "End Time (seconds)", "Length (frames)", "Length (timecode)", "Length (seconds)"])
    for s in result.shots:
        w.writerow([s.index + 1, s.start_frame + 1, timecode(s.start_time), f"{s.start_time:.3f}", s.end_frame + 1,
                    timecode(s.end_time), f"{s.end_time:.3f}", s.frames, timecode(s.duration), f"{s.duration:.3f}"])
    return buf.getvalue()


def edl_text(result: ShotsResult, title: str | None = None, reel: str = "AX") -> str:
    """A CMX 3600 EDL: one cut event per shot; source and record timecodes from the shots' PTS times."""
    fps = max(1, int(round(result.fps or 25)))
    title = title or Path(result.path).stem or "videolens"

    def tc(seconds: float) -> str:
        return smpte(int(round((seconds - result.start_time) * fps)), fps)

    lines = ["* CREATED WITH VIDEOLENS", f"TITLE: {title}", "FCM: NON-DROP FRAME", ""]
    for s in result.shots:
        a, b = tc(s.start_time), tc(s.end_time)
        lines.append(f"{s.index + 1:03d}  {reel} V     C        {a} {b} {a} {b}")
    return "\n".join(lines) + "\n"


def stats_text(result: ShotsResult) -> str:
    """Per-frame scores: ``frame,time,<score columns...>``."""
    names = [k for k, v in result.scores.items() if len(v) == result.frames]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["frame", "time", *names])
    cols = [np.asarray(result.scores[k], dtype=np.float64) for k in names]
    for i in range(result.frames):
        w.writerow([i, f"{result.timestamps[i]:.6f}", *[f"{c[i]:.6g}" for c in cols]])
    return buf.getvalue()


def output_paths(out_dir: str | os.PathLike, formats: Iterable[str] = FORMATS, stats: bool = False) -> list[Path]:
    out = Path(out_dir)
    return [out / FILE_NAMES[f] for f in formats] + ([out / FILE_NAMES["stats"]] if stats else [])


def write_outputs(result: ShotsResult, out_dir: str | os.PathLike, formats: Iterable[str] = ("json", "csv", "edl"),
                  stats: bool = False, overwrite: bool = True, extra: dict | None = None) -> list[Path]:
    """Write the chosen files (``json``, ``csv``, ``edl``; ``stats=True`` adds ``stats.csv``) into ``out_dir``.

    Each file is written under a temporary name and renamed when complete. Returns the paths written.

    >>> write_outputs(result, "out/", formats=("csv",))            # doctest: +SKIP
    [PosixPath('out/shots.csv')]
    """
    formats = parse_formats(list(formats))
    paths = output_paths(out_dir, formats, stats)
    if not overwrite:
        for p in paths:
            check_writable(p, False)
    makers = {"json": lambda: json_text(result, extra), "csv": lambda: csv_text(result),
              "edl": lambda: edl_text(result), "stats": lambda: stats_text(result)}
    written = []
    for p in paths:
        kind = next(k for k, v in FILE_NAMES.items() if v == p.name)
        write_text(p, makers[kind](), overwrite=True)
        written.append(p)
    return written


def write_thumbnails(result: ShotsResult, out_dir: str | os.PathLike, width: int | None = None,
                     quality: int = 90, overwrite: bool = True) -> list[Path]:
    """The middle frame of each shot as ``thumbnails/NNN.jpg`` (NNN = the shot's index), at the stored size.

    The folder is built under a temporary name and renamed when complete.
    """
    from PIL import Image

    from ..io.reader import VideoReader

    target = Path(out_dir) / "thumbnails"
    if target.exists() and not overwrite:
        raise VideolensError(f"{target}: already exists (use --overwrite to replace it)")
    with VideoReader(result.path) as reader:
        w, h = reader.size
        size = None if width is None else (int(width), max(1, int(round(h * width / w))))
        frames = reader.get_frames([s.middle_frame for s in result.shots], size=size) if result.shots else []
    with atomic_dir(target) as tmp:
        for s, frame in zip(result.shots, frames):
            Image.fromarray(frame).save(tmp / f"{s.index:03d}.jpg", quality=quality)
    return [target / f"{s.index:03d}.jpg" for s in result.shots]


__all__ = ["FILE_NAMES", "FORMATS", "csv_text", "edl_text", "json_text", "output_paths",
           "parse_formats", "stats_text", "write_outputs", "write_thumbnails"]
