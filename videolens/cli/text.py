"""``videolens ocr``: the text on screen (captions, burned-in subtitles, titles, tickers) into text.json + text.srt.

Nothing here imports the OCR package: the command checks for it when it runs.
"""

from __future__ import annotations

import argparse

from ._common import add_output, add_quiet_json, batch_exit, emit, positive_float, report_failures


def _add_ocr(sub) -> None:
    p = sub.add_parser("ocr", help="on-screen text (Chinese and English): text.json and text.srt",
                       description="Read the text on screen with PP-OCRv4 (rapidocr-onnxruntime): one frame every "
                                   "--interval seconds and the first frame after every shot cut. The same text in "
                                   "the same place on consecutive samples is one segment (text, box, start, end, "
                                   "mean confidence). Writes text.json and text.srt.")
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files, directories or glob patterns")
    p.add_argument("--interval", type=positive_float, default=1.0, metavar="S",
                   help="seconds between the frames read (default 1.0); cuts are read as well")
    p.add_argument("--lang", choices=["auto", "ch", "en"], default="auto",
                   help="auto: Chinese and English, each line decoded in its script (default); ch: the model's "
                        "whole alphabet; en: Latin letters, digits and punctuation only")
    add_output(p, help="output folder (default ./videolens-out/<input-stem>/; with several inputs, one sub-folder "
                       "per input inside it)")
    p.add_argument("--overwrite", action="store_true", help="replace existing text.json / text.srt")
    add_quiet_json(p)
    p.set_defaults(func=_run_ocr)


def _run_ocr(args: argparse.Namespace) -> int:
    from ..text import ocr_files

    run = ocr_files(args.videos, args.output, interval=args.interval, lang=args.lang, overwrite=args.overwrite,
                    quiet=args.quiet or args.json)
    report_failures(run.items)
    emit(args, run.to_dict, lambda: _format_ocr(run))
    return batch_exit(run.ok, run.failed)


def _format_ocr(run) -> str:
    from ..utils.timecode import timecode

    lines = []
    for b in run.done:
        r = b.result
        segs = r["result"]["segments"]
        speed = f", {r['duration'] / r['seconds']:.1f}x real time" if r["seconds"] else ""
        lines.append(f"{b.input}: {len(segs)} text segments from {r['result']['samples']} frames{speed} "
                     f"-> {r['output']}")
        lines += [f"  {timecode(s['start'])} --> {timecode(s['end'])}  {s['text']}" for s in segs[:20]]
        if len(segs) > 20:
            lines.append(f"  ... {len(segs) - 20} more in text.json")
    return "\n".join(lines)


COMMANDS = [_add_ocr]
