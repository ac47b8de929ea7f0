"""``videolens track-eval``: score MOTChallenge tracking results (HOTA, DetA, AssA, MOTA, IDF1, ID switches)."""

from __future__ import annotations

import argparse

from ._common import add_quiet_json, emit


def _add_track_eval(sub) -> None:
    p = sub.add_parser("track-eval", help="HOTA, MOTA and IDF1 of MOTChallenge tracking results",
                       description="Score tracks (MOTChallenge rows: frame,id,left,top,width,height,...; what "
                                   "'videolens detect --tracker' writes as tracks.txt) against ground truth. Give "
                                   "two files, or a MOTChallenge folder (SEQ/gt/gt.txt) and a folder of results "
                                   "(SEQ.txt or SEQ/tracks.txt). HOTA follows TrackEval, MOTA and IDF1 "
                                   "py-motmetrics (IoU 0.5); ground-truth rows marked 0 in column 7 are ignored.")
    p.add_argument("--gt", required=True, metavar="GT", help="gt.txt, or a folder of sequences")
    p.add_argument("--pred", required=True, metavar="PRED", help="tracks file, or a folder of them")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply the ground truth's coordinates (e.g. 0.625: PETS09's 768x576 annotations "
                        "against tracks on its 480x360 video)")
    add_quiet_json(p)
    p.set_defaults(func=_run_track_eval)


def _run_track_eval(args: argparse.Namespace) -> int:
    from ..track.metrics import evaluate_files

    result = evaluate_files(args.gt, args.pred, scale=args.scale)
    emit(args, result, lambda: _format(result))
    return 0


def _format(result: dict) -> str:
    rows = result["sequences"] + ([result["combined"]] if len(result["sequences"]) > 1 else [])
    cols = ["sequence", "HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDs", "FP", "FN"]
    cells = [[f"{r[c]:.4f}" if isinstance(r[c], float) else str(r[c]) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cols, widths)))]
    lines += ["  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths)))
              for row in cells]
    return "\n".join(lines)


COMMANDS = [_add_track_eval]
