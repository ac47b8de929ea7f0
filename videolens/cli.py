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


# ---- detect ----------------------------------------------------------------------------------------------------


def _numbers(text: str, what: str, count: int | None = None, min_count: int = 2) -> list[float]:
    try:
        vals = [float(v) for v in text.replace(" ", "").split(",") if v != ""]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what}: expected comma-separated numbers, not {text!r}") from None
    if (count is not None and len(vals) != count) or len(vals) < min_count or len(vals) % 2:
        need = f"{count} numbers" if count else "an even number of numbers (x,y pairs)"
        raise argparse.ArgumentTypeError(f"{what}: expected {need}, not {text!r}")
    return vals


def _line(text: str):
    x1, y1, x2, y2 = _numbers(text, "--line", 4)
    if (x1, y1) == (x2, y2):
        raise argparse.ArgumentTypeError(f"--line: the two points must differ ({text!r})")
    return (x1, y1), (x2, y2)


def _zone(text: str):
    vals = _numbers(text, "--zone", None, 6)
    return list(zip(vals[0::2], vals[1::2]))


def _unit(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, not {text!r}") from None
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, not {v}")
    return v


def _formats(text: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    items = [f.strip().lower() for f in text.split(",") if f.strip()]
    if "all" in items:
        return allowed
    bad = [f for f in items if f not in allowed]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"--format: choose from {', '.join(allowed)} or all, not {text!r}")
    return tuple(items)


def _add_detect(sub) -> None:
    p = sub.add_parser("detect", help="detect (and track, count, anonymise) objects or faces in videos",
                       description="Run a detector over videos: detections.csv/json, tracks.txt (MOTChallenge), "
                                   "counts.csv (lines, zones) and annotated.mp4 with the source's audio.")
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files, folders or globs")
    p.add_argument("--model", help="faces, people-hog, fasterrcnn, fasterrcnn-r50, fcos, retinanet, a detect-train "
                                   "checkpoint (.pt) or onnx:PATH (default: faces with --anonymize)")
    p.add_argument("--weights", help="checkpoint for a named model, or 'coco' (torchvision models' default)")
    p.add_argument("--classes", help="comma-separated class names (or ids) to keep")
    p.add_argument("--conf", type=_unit, help="score threshold (default 0.25; faces 0.9, people-hog 0.5)")
    p.add_argument("--iou", type=_unit, default=0.45, help="NMS IoU threshold (default 0.45)")
    p.add_argument("--imgsz", type=_positive_int, help="detector input size in pixels (default: the model's)")
    p.add_argument("--stride", type=_positive_int, default=1, help="detect on every N-th frame (default 1)")
    p.add_argument("--tracker", choices=["bytetrack", "sort"], help="turn tracking on")
    p.add_argument("--line", type=_line, action="append", default=[], metavar="X1,Y1,X2,Y2",
                   help="count tracks crossing this line (in = to its right seen from the first point); repeatable")
    p.add_argument("--zone", type=_zone, action="append", default=[], metavar="X1,Y1,X2,Y2,X3,Y3,...",
                   help="count tracks inside this polygon and their dwell time; repeatable")
    p.add_argument("--anchor", default="center", choices=["center", "bottom-center", "top-center"],
                   help="the point of a box that counts for lines and zones (default center)")
    p.add_argument("--anonymize", action="store_true", help="blur every face in annotated.mp4")
    p.add_argument("--anonymize-method", choices=["blur", "pixelate"], default="blur")
    p.add_argument("--format", default="all", help="csv,json,mot,mp4 or all (default all)")
    _add_output(p)
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    _add_device(p)
    _add_quiet_json(p)
    p.set_defaults(func=_run_detect)


def _run_detect(args) -> int:
    from pathlib import Path

    from .detect.detectors import load_detector
    from .detect.video import FORMATS, detect_video
    from .utils.files import default_output_dir, expand_inputs

    try:
        formats = _formats(args.format, FORMATS)
    except argparse.ArgumentTypeError as e:
        raise VideolensError(str(e)) from None
    model = args.model or ("faces" if args.anonymize else None)
    if model is None:
        raise VideolensError("detect: --model is required (faces, people-hog, fasterrcnn, a checkpoint .pt, "
                             "onnx:PATH ...)")
    classes = [c.strip() for c in args.classes.split(",") if c.strip()] if args.classes else None
    inputs = expand_inputs(args.videos)
    detector = load_detector(model, weights=args.weights, conf=args.conf, iou=args.iou, classes=classes,
                             device=args.device, imgsz=args.imgsz)
    ok = failed = 0
    results = []
    for path in inputs:
        if args.output:
            out = Path(args.output) / Path(path).stem if len(inputs) > 1 else Path(args.output)
        else:
            out = default_output_dir(path)
        try:
            r = detect_video(path, out, detector, tracker=args.tracker, stride=args.stride, lines=args.line,
                             zones=args.zone, anonymize=args.anonymize, anonymize_method=args.anonymize_method,
                             formats=formats, overwrite=args.overwrite, quiet=args.quiet, anchor=args.anchor)
        except VideolensError as e:
            _error(str(e))
            failed += 1
            results.append({"video": path, "error": str(e)})
            continue
        except Exception as e:  # noqa: BLE001 - one broken video must not stop the batch; its partial files stay
            _error(f"{path}: {type(e).__name__}: {e} (partial results kept in {out})")
            failed += 1
            results.append({"video": path, "error": f"{type(e).__name__}: {e}"})
            continue
        ok += 1
        results.append(r.to_dict())
        if not args.json and not args.quiet:
            print(_format_detect(r, out))
    if args.json:
        _print_json(results[0] if len(results) == 1 else results)
    return _batch_exit(ok, failed)


def _format_detect(r, out) -> str:
    lines = [f"{r.video}: {r.detections} detections in {r.frames_analyzed} of {r.frames} frames "
             f"({r.seconds:.1f} s) -> {out}"]
    if r.classes:
        lines.append("  classes  " + ", ".join(f"{k} {v}" for k, v in r.classes.items()))
    if r.tracker:
        lines.append(f"  tracks   {len(r.tracks)} ({r.tracker})")
    for c in r.counts["lines"]:
        lines.append(f"  {c['name']}    in {c['in']}, out {c['out']}")
    for z in r.counts["zones"]:
        lines.append(f"  {z['name']}    up to {z['max_count']} at once, {len(z['dwell'])} tracks entered")
    if r.faces_hidden:
        lines.append(f"  faces hidden on {r.faces_hidden} frame-boxes")
    return "\n".join(lines)


def _add_detect_train(sub) -> None:
    p = sub.add_parser("detect-train", help="train a detector (yolo or fasterrcnn) on COCO, YOLO or VOC data",
                       description="Train a detector. Writes last.pt, best.pt, metrics.csv, config.yaml, train.log "
                                   "and TensorBoard events into the run folder.")
    p.add_argument("--data", required=True, help="COCO .json, YOLO data.yaml or folder, Pascal VOC folder")
    p.add_argument("--val", help="a separate validation set (default: the data's val/test split, else 10%%)")
    p.add_argument("--model", default="yolo", choices=["yolo", "fasterrcnn", "fasterrcnn-r50"])
    _add_output(p, required=True, help="run folder, e.g. runs/NAME")
    p.add_argument("--epochs", type=_positive_int, default=30)
    p.add_argument("--batch-size", type=_positive_int, default=16)
    p.add_argument("--lr", type=float, default=2e-3, help="AdamW learning rate (default 0.002)")
    p.add_argument("--imgsz", type=_positive_int, default=320, help="training image size, a multiple of 32")
    p.add_argument("--scale", choices=["n", "s", "m"], default="n", help="yolo size (default n)")
    p.add_argument("--weights", choices=["coco"], help="fasterrcnn: start from torchvision's COCO weights")
    p.add_argument("--no-mosaic", action="store_true", help="yolo: no mosaic augmentation")
    p.add_argument("--no-flip", action="store_true", help="no horizontal flips")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes (default 0)")
    p.add_argument("--patience", type=int, default=0, help="stop after N epochs without a better mAP (0: never)")
    p.add_argument("--max-iters", type=_positive_int, help="stop after this many optimiser steps")
    p.add_argument("--cpu-minutes", type=float, help="stop once training has used this much CPU time")
    p.add_argument("--strict", action="store_true", help="unknown classes, broken files: errors, not warnings")
    p.add_argument("--resume", action="store_true", help="continue the run in -o from its last.pt")
    p.add_argument("--overwrite", action="store_true", help="start again over an existing run")
    _add_seed(p)
    _add_device(p)
    _add_quiet_json(p)
    p.set_defaults(func=_run_detect_train)


def _run_detect_train(args) -> int:
    from .detect.train import TrainConfig, train

    cfg = TrainConfig(data=args.data, val=args.val, model=args.model, output=args.output, epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, imgsz=args.imgsz, scale=args.scale,
                      weights=args.weights, mosaic=0.0 if args.no_mosaic else 1.0, flip=not args.no_flip,
                      workers=args.workers, patience=args.patience, max_iters=args.max_iters,
                      cpu_minutes=args.cpu_minutes, strict=args.strict,
                      resume=args.resume, overwrite=args.overwrite, seed=args.seed, device=args.device,
                      quiet=args.quiet or args.json)
    summary = train(cfg)
    if args.json:
        _print_json(summary)
    elif not args.quiet:
        best = summary["best"]
        print(f"trained {cfg.model} for {summary['epochs']} epochs: best mAP {best.get('map', 0):.4f}, "
              f"mAP@.5 {best.get('map50', 0):.4f} -> {summary['best_checkpoint']}")
    return 0


def _add_detect_eval(sub) -> None:
    p = sub.add_parser("detect-eval", help="COCO mAP of a detector on a labelled dataset",
                       description="Evaluate a detector (checkpoint, name or onnx:PATH) on a COCO, YOLO or VOC "
                                   "dataset: mAP@[.5:.95], mAP@.5, AP per class and per size -> metrics.json.")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--data", required=True)
    p.add_argument("--split", choices=["train", "val", "test"], help="which split of a split dataset (default "
                                                                      "val/test)")
    p.add_argument("--weights", help="checkpoint for a named model, or 'coco'")
    p.add_argument("--conf", type=_unit, default=0.001, help="score threshold (default 0.001, as for mAP)")
    p.add_argument("--imgsz", type=_positive_int)
    p.add_argument("--strict", action="store_true")
    p.add_argument("-o", "--output", metavar="DIR", help="write metrics.json here")
    p.add_argument("--overwrite", action="store_true")
    _add_device(p)
    _add_quiet_json(p)
    p.set_defaults(func=_run_detect_eval)


def _run_detect_eval(args) -> int:
    from pathlib import Path

    from .detect.data import has_splits, load_dataset
    from .detect.detectors import load_detector
    from .detect.train import evaluate_detector
    from .utils.files import check_writable, write_text

    split = args.split or ("val" if has_splits(args.data) else None)
    ds = load_dataset(args.data, split, strict=args.strict)
    if ds.issues_summary() and not args.quiet:
        sys.stderr.write(f"videolens: warning: {args.data}: {ds.issues_summary()}\n")
    detector = load_detector(args.model, weights=args.weights, conf=args.conf, device=args.device,
                             imgsz=args.imgsz)
    shared = set(detector.class_names) & set(ds.class_names)
    if not shared and not all(str(n).isdigit() for n in detector.class_names):
        raise VideolensError(f"{args.model} knows none of the dataset's classes ({', '.join(ds.class_names[:10])}); "
                             "classes are matched by name")
    target = Path(args.output) / "metrics.json" if args.output else None
    if target is not None:
        check_writable(target, args.overwrite)
    result = evaluate_detector(detector, ds, quiet=args.quiet or args.json, desc="eval")
    out = {"model": args.model, "data": args.data, "split": split, "images": len(ds), **result.to_dict()}
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text(target, json.dumps(out, indent=1) + "\n")
    if args.json:
        _print_json(out)
    elif not args.quiet:
        print(result.summary())
    return 0


def _add_detect_export(sub) -> None:
    p = sub.add_parser("detect-export", help="export a yolo checkpoint to ONNX (Ultralytics layout)")
    p.add_argument("checkpoint", metavar="CKPT")
    p.add_argument("-o", "--output", required=True, metavar="FILE.onnx")
    p.add_argument("--imgsz", type=_positive_int, help="input size (default: the training size)")
    p.add_argument("--overwrite", action="store_true")
    _add_quiet_json(p)
    p.set_defaults(func=_run_detect_export)


def _run_detect_export(args) -> int:
    from .detect.export import export_onnx

    path = export_onnx(args.checkpoint, args.output, imgsz=args.imgsz, overwrite=args.overwrite)
    if args.json:
        _print_json({"output": path})
    elif not args.quiet:
        print(f"exported {args.checkpoint} -> {path} (run it with --model onnx:{path})")
    return 0


# ---- entry point -----------------------------------------------------------------------------------------------

_COMMANDS: list[Callable] = [_add_info, _add_contact_sheet, _add_datasets, _add_detect, _add_detect_train,
                             _add_detect_eval, _add_detect_export]


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
