"""``videolens info``, ``contact-sheet`` and ``datasets``: what a file holds, a grid of its frames, synthetic data.

``info`` is the command that must start fast: it imports PyAV (through the reader) and nothing heavier.
"""

from __future__ import annotations

import argparse

from ..errors import VideolensError
from ._common import add_output, add_quiet_json, add_seed, batch_exit, emit, error, positive_int, size

# ---- info ------------------------------------------------------------------------------------------------------


def _add_info(sub) -> None:
    p = sub.add_parser("info", help="container, codec, sizes, rotation, frame rate, exact frame count, audio",
                       description="Report what a video file holds. Frame count and times come from a scan of "
                                   "the packets, so they are exact.")
    p.add_argument("videos", nargs="+", metavar="VIDEO")
    p.add_argument("--json", action="store_true", help="one JSON object per file, one per line")
    p.set_defaults(func=_run_info)


def _run_info(args: argparse.Namespace) -> int:
    from ..io.reader import probe
    from ..utils.files import expand_inputs

    ok = failed = 0
    for path in expand_inputs(args.videos):       # each file printed as soon as it is probed
        try:
            info = probe(path)
        except VideolensError as e:
            error(str(e))
            failed += 1
            continue
        ok += 1
        emit(args, info.to_dict, lambda: _format_info(info))     # noqa: B023 - called at once
    return batch_exit(ok, failed)


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
    add_output(p)
    p.add_argument("--frames", type=positive_int, default=16, help="how many frames (default 16)")
    p.add_argument("--columns", type=positive_int, default=4, help="frames per row (default 4)")
    p.add_argument("--width", type=positive_int, default=320, help="width of each frame in pixels (default 320)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing contact_sheet.png")
    add_quiet_json(p)
    p.set_defaults(func=_run_contact_sheet)


def _run_contact_sheet(args: argparse.Namespace) -> int:
    from ..report.contact_sheet import contact_sheet
    from ..utils.files import check_writable, output_dirs

    target = output_dirs([args.video], args.output)[args.video] / "contact_sheet.png"
    check_writable(target, args.overwrite)
    result = contact_sheet(args.video, target, frames=args.frames, columns=args.columns, width=args.width)
    emit(args, result, lambda: f"contact sheet: {target} ({len(result['indices'])} frames)")
    return 0


# ---- datasets --------------------------------------------------------------------------------------------------


def _add_datasets(sub) -> None:
    p = sub.add_parser("datasets", help="generate synthetic datasets with ground truth")
    dsub = p.add_subparsers(dest="datasets_command", metavar="COMMAND", required=True)
    m = dsub.add_parser("make", help="generate a dataset: motion (actions), edits (shot transitions), "
                                     "objects (boxes and tracks), "
                                     "fastmotion (shots that must not look like transitions)")
    m.add_argument("kind", choices=["motion", "edits", "objects", "fastmotion"])
    add_output(m, required=True, help="output folder")
    add_seed(m)
    m.add_argument("--num", type=positive_int, help="how many items (clips per class, videos)")
    m.add_argument("--size", type=size, help="frame size WxH")
    m.add_argument("--frames", type=positive_int, help="frames per video")
    m.add_argument("--fps", type=float, help="frames per second")
    m.add_argument("--source", metavar="DIR", help="edits: real clips to cut from (default: procedural scenes); "
                                                 "fastmotion: real clips and/or photos (required)")
    add_quiet_json(m)
    m.set_defaults(func=_run_datasets_make)


def _run_datasets_make(args: argparse.Namespace) -> int:
    from ..datasets import make_dataset

    summary = make_dataset(args.kind, args.output, seed=args.seed, num=args.num, size=args.size,
                           frames=args.frames, source=args.source, fps=args.fps, progress=not args.quiet)
    emit(args, summary, lambda: f"{args.kind}: wrote {args.output}")
    return 0


COMMANDS = [_add_info, _add_contact_sheet, _add_datasets]
