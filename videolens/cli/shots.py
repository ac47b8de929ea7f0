"""``videolens shots`` and ``shots-eval``: shot boundaries and transitions, and their scores against ground truth.

The detector names come from the registry (``videolens.shots.detect.DETECTORS``), read only when a command needs
them: that module loads ONNX Runtime and PyAV.
"""

from __future__ import annotations

import argparse
import os

from ..errors import VideolensError
from ._common import (add_device, add_output, add_quiet_json, batch_exit, emit, finish, nonneg_float, parse_formats,
                      registry_choices, report_failures)


def _add_shot_detection(p: argparse.ArgumentParser) -> None:
    registry_choices(p.add_argument("--detector", default="auto",
                                    help="auto (default: the combination chosen on a development set), content, "
                                         "adaptive, histogram, fade or learned"),
                     "videolens.shots.detect", "DETECTORS")
    p.add_argument("--threshold", type=float, metavar="X",
                   help="the detector's threshold (content 0-255, adaptive ratio, histogram 0-1, fade black level, "
                        "learned/auto probability 0-1)")
    p.add_argument("--min-shot-len", type=nonneg_float, default=0.5, metavar="S",
                   help="shortest shot in seconds; of two closer boundaries the weaker goes (default 0.5)")
    add_device(p)


def _detection_options(args: argparse.Namespace) -> dict:
    return {"detector": args.detector, "threshold": args.threshold, "min_shot_len": args.min_shot_len,
            "device": args.device}


# ---- shots -----------------------------------------------------------------------------------------------------


def _add_shots(sub) -> None:
    p = sub.add_parser("shots", help="find shot boundaries (cuts, fades, dissolves, wipes); split, export",
                       description="Detect shots and transitions. Writes shots.json (always), shots.csv "
                                   "(PySceneDetect list-scenes columns) and shots.edl (CMX 3600) into the output "
                                   "folder; --stats adds per-frame scores, --split one file per shot, "
                                   "--thumbnails the middle frame of each shot. Times come from PTS.")
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files, folders or globs")
    add_output(p, help="output folder (default ./videolens-out/<input-stem>/; with several videos, "
                       "DIR/<input-stem>/)")
    _add_shot_detection(p)
    p.add_argument("--format", default="json,csv,edl", metavar="F[,F...]",
                   help="files to write: json, csv, edl or all (default json,csv,edl; json is always written)")
    p.add_argument("--stats", action="store_true", help="also write stats.csv: every per-frame score")
    p.add_argument("--split", action="store_true",
                   help="write shots/NNN.mp4, one per shot, frame-accurate (stream copy where a shot starts "
                        "on a keyframe, re-encoded otherwise)")
    p.add_argument("--thumbnails", action="store_true", help="write thumbnails/NNN.jpg, each shot's middle frame")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    add_quiet_json(p, json_help="print each video's result as one JSON object per line")
    p.set_defaults(func=_run_shots)


def _run_shots(args: argparse.Namespace) -> int:
    from ..shots.export import FORMATS
    from ..shots.run import shots_for_files

    formats = tuple(dict.fromkeys(("json", *parse_formats(args.format, FORMATS, "shots", empty=()))))
    items = shots_for_files(args.videos, args.output, formats=formats, stats=args.stats, split=args.split,
                            thumbnails=args.thumbnails, overwrite=args.overwrite, quiet=args.quiet or args.json,
                            **_detection_options(args))
    return finish(args, items, doc=lambda r: r, text=_format_shots)


def _format_shots(r: dict) -> str:
    c = r["counts"]
    kinds = ", ".join(f"{c[k]} {k}{'s' if c[k] != 1 else ''}" for k in ("cut", "dissolve", "fade", "wipe") if c[k])
    lines = [f"{r['path']}: {c['shots']} shot{'s' if c['shots'] != 1 else ''}"
             + (f", transitions: {kinds}" if kinds else "") + f" ({r['detector']}, {r['seconds']:.1f} s)",
             "  shot  start          end            frames",
             *(f"  {s['index']:4d}  {s['start_timecode']}  {s['end_timecode']}  "
               f"{s['start_frame']}-{s['end_frame']}" for s in r["shots"])]
    for t in r["transitions"]:
        if t["type"] != "cut":
            lines.append(f"  {t['type']:8s} frames {t['start']}-{t['end']} "
                         f"({t['start_time']:.3f}-{t['end_time']:.3f} s)")
    lines.append(f"  wrote {r['output_dir']}/ ({', '.join(os.path.basename(p) for p in r['outputs'])}"
                 + (f", {len(r['pieces'])} pieces in shots/" if r.get("pieces") else "")
                 + (f", {len(r['thumbnails'])} thumbnails" if r.get("thumbnails") else "") + ")")
    return "\n".join(lines)


# ---- shots-eval ------------------------------------------------------------------------------------------------


def _add_shots_eval(sub) -> None:
    p = sub.add_parser("shots-eval", help="score shot detection against ground truth (precision, recall, F1)",
                       description="Detect shots and match the transitions 1-to-1 with the ground truth within "
                                   "--tolerance frames, separately for cuts and gradual transitions. --truth takes "
                                   "the transitions.json schema (one video, or a file keyed by file name such as "
                                   "an edits dataset's transitions.json) or ../shared/data/shots/cuts.json.")
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files, folders or globs")
    p.add_argument("--truth", required=True, metavar="FILE", help="ground truth JSON")
    p.add_argument("--tolerance", type=int, default=2, metavar="N", help="frames either side that still match "
                                                                         "(default 2)")
    _add_shot_detection(p)
    add_quiet_json(p, json_help="print the scores as one JSON document")
    p.set_defaults(func=_run_shots_eval)


def _run_shots_eval(args: argparse.Namespace) -> int:
    from ..shots.run import eval_files

    if args.tolerance < 0:
        raise VideolensError(f"--tolerance must be >= 0, not {args.tolerance}")
    items = eval_files(args.videos, args.truth, tolerance=args.tolerance, quiet=args.quiet or args.json,
                       **_detection_options(args))
    report_failures(items)
    reports = [i.result for i in items if i.ok]
    emit(args, lambda: _eval_doc(reports, several=len(items) > 1), lambda: _format_evals(reports))
    return batch_exit(len(reports), len(items) - len(reports))


def _eval_doc(reports: list[dict], several: bool) -> dict | None:
    """One video's scores, or every video's and their total; nothing when no video was scored."""
    from ..shots.evaluate import combine

    if not reports:
        return None
    return {"videos": reports, "total": combine(reports)} if several else reports[0]


def _format_evals(reports: list[dict]) -> str:
    from ..shots.evaluate import combine

    texts = [_format_eval(r["path"], r) for r in reports]
    if len(reports) > 1:
        texts.append(_format_eval(f"all {len(reports)} videos", combine(reports)))
    return "\n".join(texts)


def _format_eval(name: str, r: dict) -> str:
    lines = [f"{name} (tolerance {r['tolerance']} frames)"]
    for cat in ("cut", "gradual", "all"):
        m = r[cat]
        lines.append(f"  {cat:8s} P {m['precision']:.3f}  R {m['recall']:.3f}  F1 {m['f1']:.3f}  "
                     f"(tp {m['tp']}, fp {m['fp']}, fn {m['fn']})")
    for key, label in (("missed", "missed"), ("false_alarms", "false alarm")):
        for t in r.get(key, []):
            lines.append(f"  {label}: {t['type']} {t['start']}" + (f"-{t['end']}" if t["end"] != t["start"] else ""))
    return "\n".join(lines)


COMMANDS = [_add_shots, _add_shots_eval]
