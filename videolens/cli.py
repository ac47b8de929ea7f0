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


# ---- action recognition: train / evaluate / predict / export / tune (videolens.classify) ----------------------


def _float_pos(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, not {text}")
    return v


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text!r}")
    return key.replace("-", "_"), value


def _add_train_options(p: argparse.ArgumentParser, tune: bool = False) -> None:
    from argparse import SUPPRESS

    p.add_argument("--data", required=tune, metavar="PATH",
                   help="dataset: a folder per class (UCF101 layout, optional classInd/trainlist/testlist), "
                        "a CSV/TXT list 'path,label[,start,end]', or a folder with train/val/test lists")
    p.add_argument("--model", required=tune, metavar="NAME",
                   help="tsn, cnn_lstm, cnn_gru, tcn, c3d, c3d_classic, r2plus1d, r2plus1d_18, transformer")
    d = SUPPRESS  # only what the user gives overrides the library's defaults (and, with --resume, the run's)
    p.add_argument("--frames", type=_positive_int, default=d, help="frames per clip (default 16)")
    p.add_argument("--size", type=_positive_int, default=d, help="square crop size in pixels (default 112)")
    p.add_argument("--epochs", type=_positive_int, default=d, help="training epochs (default 30)")
    p.add_argument("--batch-size", type=_positive_int, default=d, dest="batch_size",
                   help="clips per step, per process (default 8)")
    p.add_argument("--lr", type=_float_pos, default=d, help="peak learning rate of AdamW (default 1e-3)")
    p.add_argument("--weight-decay", type=float, default=d, dest="weight_decay", help="AdamW weight decay (0.05)")
    p.add_argument("--patience", type=int, default=d,
                   help="stop after this many epochs without a better val accuracy (default 10; 0: never)")
    p.add_argument("--workers", type=int, default=d, help="DataLoader worker processes (default: cores - 1)")
    p.add_argument("--no-flip", action="store_false", dest="flip", default=d,
                   help="no horizontal flips (for direction-sensitive classes: left/right, clockwise)")
    p.add_argument("--crop-area", type=float, default=d, dest="crop_area", metavar="MIN",
                   help="random resized crop: smallest share of the frame's area to keep (default 0.4; 1: none)")
    p.add_argument("--sampling", choices=["clip", "segments"], default=d,
                   help="consecutive frames (clip) or one per segment (segments, TSN); default by model")
    p.add_argument("--stride", type=_positive_int, default=d, help="frame step inside a clip (default 1)")
    p.add_argument("--cache", nargs="?", const="", default=d, metavar="DIR",
                   help="keep decoded clips on disk (memory-mapped) from the first epoch on; default folder "
                        "OUTPUT/cache")
    p.add_argument("--pretrained", action="store_true", default=d,
                   help="start from torchvision's weights (r2plus1d_18: Kinetics-400; backbone=resnet18: ImageNet)")
    p.add_argument("--model-arg", action="append", type=_key_value, default=d, dest="model_args",
                   metavar="NAME=VALUE", help="a model setting, e.g. width=16, backbone=resnet18, depth=2 "
                                              "(repeatable)")
    p.add_argument("--val-fraction", type=float, default=d, dest="val_fraction",
                   help="share of the training clips held out for validation when none is given (default 0.2)")
    p.add_argument("--seed", type=int, default=d, help="makes training deterministic on CPU (default 0)")
    _add_device(p)


_TRAIN_SETTINGS = ("frames", "size", "epochs", "batch_size", "lr", "weight_decay", "patience", "workers", "flip",
                   "crop_area", "sampling", "stride", "pretrained", "val_fraction", "seed", "device")


def _train_settings(args) -> dict:
    from .classify.tuning import _value

    settings = {k: getattr(args, k) for k in _TRAIN_SETTINGS if hasattr(args, k)}
    if getattr(args, "model_args", None):
        settings["model_args"] = {k: _value(v) for k, v in args.model_args}
    return settings


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train an action-recognition model on labelled clips",
                       description="Train a video classifier. Writes last.pt, best.pt, metrics.csv, config.yaml, "
                                   "train.log and TensorBoard events into -o DIR.")
    _add_train_options(p)
    _add_output(p, help="run folder (default runs/MODEL)")
    p.add_argument("--resume", action="store_true", help="continue the run in -o DIR from its last.pt")
    p.add_argument("--nproc", type=_positive_int, default=1,
                   help="processes for distributed data-parallel training (torch.distributed.run; gloo on CPU)")
    p.add_argument("--overwrite", action="store_true", help="start a new run in a folder that holds one")
    _add_quiet_json(p, "print the run's summary as JSON on stdout")
    p.set_defaults(func=_run_train)


def _run_train(args) -> int:
    from .classify.training import train

    if not args.resume and (not args.data or not args.model):
        raise VideolensError("train needs --data PATH and --model NAME (or --resume with -o DIR)")
    out = args.output or (f"runs/{args.model}" if args.model else None)
    if out is None:
        raise VideolensError("--resume needs -o DIR: the run to continue")
    settings = _train_settings(args)
    if hasattr(args, "cache"):
        settings["cache"] = args.cache or os.path.join(out, "cache")
    result = train(args.data, args.model or "", out, resume=args.resume, overwrite=args.overwrite,
                   quiet=args.quiet, nproc=args.nproc, **settings)
    if args.json:
        _print_json(result.to_dict())
    elif not args.quiet:
        print(f"best val accuracy {result.best_val_acc:.4f} at epoch {result.best_epoch} "
              f"({result.epochs_run} epochs{', stopped early' if result.stopped_early else ''}, "
              f"{result.seconds:.0f} s): {result.best}")
        if result.skipped:
            print(f"{len(result.skipped)} video(s) skipped: see {os.path.join(out, 'train.log')}")
    return 0


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="accuracy of a checkpoint on a dataset (top-1/5, per class, confusion)",
                       description="Evaluate a checkpoint with multi-view testing (clips x crops, averaged). "
                                   "Writes metrics.json, confusion.csv, confusion.png and predictions.csv.")
    p.add_argument("checkpoint", metavar="CKPT")
    p.add_argument("--data", required=True, metavar="PATH", help="dataset (any layout train reads)")
    p.add_argument("--split", default="auto", choices=["auto", "train", "val", "test", "all"],
                   help="auto: test, else the run's validation clips, else everything")
    p.add_argument("--clips", type=_positive_int, help="clips per video (default: the checkpoint's, 3)")
    p.add_argument("--crops", type=_positive_int, choices=[1, 3], help="crops per clip (default 1)")
    p.add_argument("--batch-size", type=_positive_int, default=8, dest="batch_size")
    p.add_argument("--workers", type=int, help="DataLoader worker processes (default: cores - 1)")
    _add_output(p, help="folder for the result files (default ./videolens-out/<run folder>/)")
    p.add_argument("--overwrite", action="store_true", help="replace existing result files")
    _add_device(p)
    _add_quiet_json(p)
    p.set_defaults(func=_run_evaluate)


def _run_evaluate(args) -> int:
    from pathlib import Path

    from .classify.evaluation import evaluate
    from .utils.files import default_output_dir

    ckpt = Path(args.checkpoint)
    out = Path(args.output) if args.output else default_output_dir(ckpt.parent.name or ckpt.stem)
    r = evaluate(args.checkpoint, args.data, split=args.split, clips=args.clips, crops=args.crops,
                 batch_size=args.batch_size, workers=args.workers, device=args.device, output=out,
                 overwrite=args.overwrite, quiet=args.quiet)
    if args.json:
        _print_json(r.to_dict())
    elif not args.quiet:
        print(f"{r.split} split, {r.videos} videos, {r.views['clips']} clip(s) x {r.views['crops']} crop(s): "
              f"top-1 {r.top1:.4f}  top-{r.topk} {r.top5:.4f}  mean class accuracy {r.mean_class_accuracy:.4f}")
        for c in r.per_class:
            print(f"  {c['class']:<24} precision {c['precision']:.3f}  recall {c['recall']:.3f}  ({c['support']})")
        if r.skipped:
            print(f"{len(r.skipped)} video(s) skipped: " + "; ".join(f"{s['path']}: {s['reason']}"
                                                                 for s in r.skipped[:3]))
        print(f"results: {out}")
    return 0


def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="label clips, or action segments of long videos, with a checkpoint",
                       description="A clip no longer than --window gets one label and its top-5; a longer video is "
                                   "classified in windows of --window seconds every --hop seconds, merged into "
                                   "segments (start, end, label, score).")
    p.add_argument("checkpoint", metavar="CKPT")
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="videos, folders or globs")
    p.add_argument("--window", type=_float_pos, default=2.0, help="window length in seconds (default 2.0)")
    p.add_argument("--hop", type=_float_pos, default=1.0, help="step between windows in seconds (default 1.0)")
    p.add_argument("--format", default=None, metavar="F[,F]",
                   help="write actions.csv (segments) and/or actions.json into the output folder: csv, json, all")
    _add_output(p, help="output folder (default ./videolens-out/<video-stem>/; one subfolder per video when "
                        "there are several)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    _add_device(p)
    _add_quiet_json(p, "print one JSON object per video on stdout")
    p.set_defaults(func=_run_predict)


def _run_predict(args) -> int:
    from pathlib import Path

    from .classify.prediction import Predictor, write_outputs
    from .utils.batch import run_batch
    from .utils.files import VIDEO_EXTENSIONS, default_output_dir, expand_inputs

    videos = expand_inputs(args.videos, VIDEO_EXTENSIONS)
    formats = tuple(f.strip() for f in args.format.split(",")) if args.format else ()
    predictor = Predictor(args.checkpoint, args.device)

    def one(video: str):
        result = predictor(video, args.window, args.hop)
        files = []
        if formats:
            if args.output:
                out = Path(args.output) / Path(video).stem if len(videos) > 1 else Path(args.output)
            else:
                out = default_output_dir(video)
            files = write_outputs(result, out, formats, overwrite=args.overwrite)
        return result, files

    items = run_batch(videos, one, jobs=1, desc="predict", quiet=args.quiet or args.json)
    for item in items:
        if not item.ok:
            _error(item.error)
            continue
        result, files = item.result
        if args.json:
            _print_json({**result.to_dict(), "files": files})
        elif not args.quiet:
            print(_format_prediction(result, files))
    return _batch_exit(sum(i.ok for i in items), sum(not i.ok for i in items))


def _format_prediction(r, files) -> str:
    from .utils.timecode import timecode

    top = ", ".join(f"{t['label']} {t['score']:.3f}" for t in r.top5)
    lines = [f"{r.path}: {r.label} ({r.score:.3f})   top-5: {top}"]
    if len(r.windows) > 1:
        for s in r.segments:
            lines.append(f"  {timecode(s['start'])} - {timecode(s['end'])}  {s['label']:<24} {s['score']:.3f}")
    lines += [f"  wrote {f}" for f in files]
    return "\n".join(lines)


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="export a checkpoint to ONNX (dynamic batch), checked in ONNX Runtime")
    p.add_argument("checkpoint", metavar="CKPT")
    p.add_argument("--format", default="onnx", choices=["onnx"], help="onnx (the only format)")
    p.add_argument("-o", "--output", metavar="FILE", help="output file (default: CKPT with .onnx)")
    p.add_argument("--opset", type=_positive_int, default=17, help="ONNX opset (default 17)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    _add_quiet_json(p)
    p.set_defaults(func=_run_export)


def _run_export(args) -> int:
    from .classify.export import export_onnx

    r = export_onnx(args.checkpoint, args.output, opset=args.opset, overwrite=args.overwrite)
    if args.json:
        _print_json(r)
    elif not args.quiet:
        print(f"{r['path']}: {r['model']}, input clips {r['inputs']['clips']}, "
              f"ONNX Runtime matches PyTorch within {r['max_abs_diff']:.1e}")
    return 0


def _add_tune(sub) -> None:
    p = sub.add_parser("tune", help="grid search over training settings, ranked by validation accuracy",
                       description="One training run per combination of --grid values (on Ray when installed, "
                                   "2 at a time), ranked by validation accuracy. Writes tune.csv and tune.json.")
    _add_train_options(p, tune=True)
    p.add_argument("--grid", nargs="+", required=True, metavar="NAME=V1,V2",
                   help="settings to search, e.g. lr=1e-3,3e-4 batch_size=8,16 (training settings or model "
                        "arguments such as width=8,16)")
    _add_output(p, help="search folder (default runs/tune-MODEL)")
    p.add_argument("--parallel", type=_positive_int, default=2, help="trials at a time on Ray (default 2)")
    p.add_argument("--backend", default="auto", choices=["auto", "ray", "sequential"],
                   help="auto: Ray when installed, else one trial after another")
    p.add_argument("--overwrite", action="store_true", help="run again in a folder that holds a search")
    _add_quiet_json(p)
    p.set_defaults(func=_run_tune)


def _run_tune(args) -> int:
    from .classify.tuning import parse_grid, tune

    out = args.output or f"runs/tune-{args.model}"
    settings = _train_settings(args)
    settings.pop("workers", None)
    if hasattr(args, "cache"):
        settings["cache"] = args.cache or os.path.join(out, "cache")
    r = tune(args.data, args.model, out, parse_grid(args.grid), parallel=args.parallel, backend=args.backend,
             quiet=args.quiet, overwrite=args.overwrite, **settings)
    if args.json:
        _print_json({k: v for k, v in r.items() if k != "table"})
    elif not args.quiet:
        print(r["table"])
        print(f"{len(r['trials'])} trials ({r['backend']}, {r['seconds']:.0f} s); best: {r['best']['params']} -> "
              f"{r['best']['output']}")
    return 0


# ---- entry point -----------------------------------------------------------------------------------------------

_COMMANDS: list[Callable] = [_add_info, _add_contact_sheet, _add_datasets, _add_train, _add_evaluate, _add_predict,
                             _add_export, _add_tune]


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
