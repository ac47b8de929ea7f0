"""The ``videolens`` command: parses arguments and calls the library. Nothing else lives here.

Each command is one ``_add_<name>`` function (its options) and one ``_run_<name>`` function (the library call).
Heavy imports happen inside ``_run_*`` so that ``videolens --help`` and ``videolens info`` start fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .errors import VideolensError

# ---- shared option helpers (conventions.md) ------------------------------------------------------------------


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
        if w <= 0 or h <= 0:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 320x240, not {text!r}") from None
    return w, h


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, not {v}")
    return v


def _add_output(p: argparse.ArgumentParser, required: bool = False, help: str | None = None) -> None:
    p.add_argument("-o", "--output", required=required, metavar="DIR",
                   help=help or "output folder (created if missing; default ./videolens-out/<input-stem>/)")


def _add_quiet_json(p: argparse.ArgumentParser, json_help: str = "print the result as JSON on stdout") -> None:
    p.add_argument("--json", action="store_true", help=json_help)
    p.add_argument("--quiet", action="store_true", help="no progress bars and no summary; errors still go to stderr")


def _add_seed(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="makes generation and training deterministic on CPU (default 0)")


def _add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")


def _print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _error(message: str) -> None:
    sys.stderr.write(f"videolens: error: {message}\n")
    sys.stderr.flush()


def _batch_exit(n_ok: int, n_failed: int) -> int:
    """Exit code of a batch (conventions.md): 0 all done, 1 some failed, 2 every input was bad."""
    if n_failed == 0:
        return 0
    return 2 if n_ok == 0 else 1


# ---- info ------------------------------------------------------------------------------------------------------


def _add_info(sub) -> None:
    p = sub.add_parser("info", help="container, codec, sizes, rotation, frame rate, exact frame count, audio",
                       description="Report what a video file holds. Frame count and times come from a scan of "
                                   "the packets, so they are exact.")
    p.add_argument("videos", nargs="+", metavar="VIDEO")
    p.add_argument("--json", action="store_true", help="one JSON object per file, one per line")
    p.set_defaults(func=_run_info)


def _run_info(args) -> int:
    from .io.reader import probe
    from .utils.files import expand_inputs

    ok = failed = 0
    for path in expand_inputs(args.videos):
        try:
            info = probe(path)
        except VideolensError as e:
            _error(str(e))
            failed += 1
            continue
        ok += 1
        if args.json:
            _print_json(info.to_dict())
        else:
            print(_format_info(info))
    return _batch_exit(ok, failed)


def _format_info(info) -> str:
    size_mb = info.file_size / 1e6
    w, h = info.stored_size
    dw, dh = info.display_size
    lines = [
        info.path,
        f"  container  {info.container} ({info.container_long}), {size_mb:.2f} MB",
        f"  video      {info.codec}" + (f" ({info.profile})" if info.profile else "") + f", {info.pix_fmt or '?'}"
        + (f", {info.bit_rate / 1000:.0f} kb/s" if info.bit_rate else ""),
        f"  size       {w}x{h} stored, SAR {info.sample_aspect_ratio}, rotation {info.rotation}°, "
        f"display {dw}x{dh}",
        f"  frames     {info.frames} at {info.fps:.3f} fps ({'variable' if info.vfr else 'constant'} rate), "
        f"duration {info.duration:.3f} s, starts at {info.start_time:.3f} s",
    ]
    if info.audio:
        for a in info.audio:
            lines.append(f"  audio      #{a.index} {a.codec}, {a.sample_rate} Hz, {a.channels} ch"
                         + (f" ({a.layout})" if a.layout else "") + (f", {a.language}" if a.language else ""))
    else:
        lines.append("  audio      none")
    return "\n".join(lines)


# ---- contact-sheet ---------------------------------------------------------------------------------------------


def _add_contact_sheet(sub) -> None:
    p = sub.add_parser("contact-sheet", help="a PNG grid of frames sampled evenly through a video")
    p.add_argument("video", metavar="VIDEO")
    _add_output(p)
    p.add_argument("--frames", type=_positive_int, default=16, help="how many frames (default 16)")
    p.add_argument("--columns", type=_positive_int, default=4, help="frames per row (default 4)")
    p.add_argument("--width", type=_positive_int, default=320, help="width of each frame in pixels (default 320)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing contact_sheet.png")
    _add_quiet_json(p)
    p.set_defaults(func=_run_contact_sheet)


def _run_contact_sheet(args) -> int:
    from pathlib import Path

    from .report.contact_sheet import contact_sheet
    from .utils.files import check_writable, default_output_dir

    out_dir = Path(args.output) if args.output else default_output_dir(args.video)
    target = out_dir / "contact_sheet.png"
    check_writable(target, args.overwrite)
    result = contact_sheet(args.video, target, frames=args.frames, columns=args.columns, width=args.width)
    if args.json:
        _print_json(result)
    elif not args.quiet:
        print(f"contact sheet: {target} ({len(result['indices'])} frames)")
    return 0


# ---- datasets --------------------------------------------------------------------------------------------------


def _add_datasets(sub) -> None:
    p = sub.add_parser("datasets", help="generate synthetic datasets with ground truth")
    dsub = p.add_subparsers(dest="datasets_command", metavar="COMMAND", required=True)
    m = dsub.add_parser("make", help="generate a dataset: motion (actions), edits (shot transitions), "
                                     "objects (boxes and tracks)")
    m.add_argument("kind", choices=["motion", "edits", "objects"])
    _add_output(m, required=True, help="output folder")
    _add_seed(m)
    m.add_argument("--num", type=_positive_int, help="how many items (clips per class, videos)")
    m.add_argument("--size", type=_size, help="frame size WxH")
    m.add_argument("--frames", type=_positive_int, help="frames per video")
    m.add_argument("--fps", type=float, help="frames per second")
    m.add_argument("--source", metavar="DIR", help="edits: real clips to cut from (default: procedural scenes)")
    _add_quiet_json(m)
    m.set_defaults(func=_run_datasets_make)


def _run_datasets_make(args) -> int:
    from .datasets import make_dataset

    summary = make_dataset(args.kind, args.output, seed=args.seed, num=args.num, size=args.size,
                           frames=args.frames, source=args.source, fps=args.fps, progress=not args.quiet)
    if args.json:
        _print_json(summary)
    elif not args.quiet:
        print(f"{args.kind}: wrote {args.output}")
    return 0


# ---- shots -----------------------------------------------------------------------------------------------------

_SHOT_DETECTORS = ("auto", "content", "adaptive", "histogram", "fade", "learned")


def _nonneg_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if v < 0 or v != v:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, not {text}")
    return v


def _add_shot_detection(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detector", default="auto", choices=_SHOT_DETECTORS,
                   help="auto (default: the combination chosen on a development set), content, adaptive, "
                        "histogram, fade or learned")
    p.add_argument("--threshold", type=float, metavar="X",
                   help="the detector's threshold (content 0-255, adaptive ratio, histogram 0-1, fade black level, "
                        "learned/auto probability 0-1)")
    p.add_argument("--min-shot-len", type=_nonneg_float, default=0.5, metavar="S",
                   help="shortest shot in seconds; of two closer boundaries the weaker goes (default 0.5)")
    _add_device(p)


def _add_shots(sub) -> None:
    p = sub.add_parser("shots", help="find shot boundaries (cuts, fades, dissolves, wipes); split, export",
                       description="Detect shots and transitions. Writes shots.json (always), shots.csv "
                                   "(PySceneDetect list-scenes columns) and shots.edl (CMX 3600) into the output "
                                   "folder; --stats adds per-frame scores, --split one file per shot, "
                                   "--thumbnails the middle frame of each shot. Times come from PTS.")
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files, folders or globs")
    _add_output(p, help="output folder (default ./videolens-out/<input-stem>/; with several videos, "
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
    _add_quiet_json(p, json_help="print each video's result as one JSON object per line")
    p.set_defaults(func=_run_shots)


def _run_shots(args) -> int:
    from pathlib import Path

    from .shots.export import parse_formats
    from .shots.run import shots_for_file
    from .utils.batch import run_batch
    from .utils.files import VIDEO_EXTENSIONS, default_output_dir, expand_inputs

    formats = tuple(dict.fromkeys(("json", *parse_formats(args.format))))
    inputs = expand_inputs(args.videos, VIDEO_EXTENSIONS)

    def out_for(path: str) -> Path:
        if args.output and len(inputs) == 1:
            return Path(args.output)
        return Path(args.output) / Path(path).stem if args.output else default_output_dir(path)

    def one(path: str) -> dict:
        return shots_for_file(path, out_for(path), detector=args.detector, threshold=args.threshold,
                              min_shot_len=args.min_shot_len, formats=formats, stats=args.stats, split=args.split,
                              thumbnails=args.thumbnails, overwrite=args.overwrite, device=args.device,
                              quiet=args.quiet or args.json)

    items = run_batch(inputs, one, desc="shots", quiet=args.quiet or args.json)
    for item in items:
        if not item.ok:
            _error(item.error)
            continue
        if args.json:
            _print_json(item.result)
        elif not args.quiet:
            print(_format_shots(item.result))
    ok = sum(i.ok for i in items)
    return _batch_exit(ok, len(items) - ok)


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
            lines.append(f"  {t['type']:8s} frames {t['start']}-{t['end']} ({t['start_time']:.3f}-{t['end_time']:.3f} s)")
    lines.append(f"  wrote {r['output_dir']}/ ({', '.join(os.path.basename(p) for p in r['outputs'])}"
                 + (f", {len(r['pieces'])} pieces in shots/" if r.get("pieces") else "")
                 + (f", {len(r['thumbnails'])} thumbnails" if r.get("thumbnails") else "") + ")")
    return "\n".join(lines)


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
    _add_quiet_json(p, json_help="print the scores as one JSON document")
    p.set_defaults(func=_run_shots_eval)


def _run_shots_eval(args) -> int:
    from .shots.evaluate import combine
    from .shots.run import eval_file
    from .utils.batch import run_batch
    from .utils.files import VIDEO_EXTENSIONS, expand_inputs

    if args.tolerance < 0:
        raise VideolensError(f"--tolerance must be >= 0, not {args.tolerance}")
    inputs = expand_inputs(args.videos, VIDEO_EXTENSIONS)

    def one(path: str) -> dict:
        return eval_file(path, args.truth, detector=args.detector, threshold=args.threshold,
                         min_shot_len=args.min_shot_len, tolerance=args.tolerance, device=args.device,
                         quiet=args.quiet or args.json)

    items = run_batch(inputs, one, desc="shots-eval", quiet=args.quiet or args.json)
    for item in items:
        if not item.ok:
            _error(item.error)
    reports = [i.result for i in items if i.ok]
    ok = len(reports)
    if args.json:
        doc = reports[0] if len(inputs) == 1 and reports else {"videos": reports, "total": combine(reports)}
        if reports:
            _print_json(doc)
    elif not args.quiet:
        for r in reports:
            print(_format_eval(r["path"], r))
        if len(reports) > 1:
            print(_format_eval(f"all {len(reports)} videos", combine(reports)))
    return _batch_exit(ok, len(items) - ok)


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


# ---- entry point -----------------------------------------------------------------------------------------------

_COMMANDS: list[Callable] = [_add_info, _add_contact_sheet, _add_datasets, _add_shots, _add_shots_eval]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videolens",
        description="Deep learning on video: shots, objects, faces, actions and speech.",
        epilog="Run 'videolens COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"videolens {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 some inputs of a batch failed, 2 bad usage or input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "quiet", False):
        os.environ["VIDEOLENS_QUIET"] = "1"
    try:
        return int(args.func(args) or 0)
    except VideolensError as e:
        _error(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:
        return 0
    finally:
        if getattr(args, "quiet", False):
            os.environ.pop("VIDEOLENS_QUIET", None)


if __name__ == "__main__":
    sys.exit(main())
