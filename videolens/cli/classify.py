"""``videolens train``, ``evaluate``, ``predict``, ``explain``, ``export`` and ``tune``: action recognition
(:mod:`videolens.classify`)."""

from __future__ import annotations

import argparse
import os
from argparse import SUPPRESS

from ..errors import VideolensError
from ._common import (add_device, add_output, add_quiet_json, emit, finish, key_value, parse_formats,
                      positive_float, positive_int)

# ---- training settings shared by train and tune ----------------------------------------------------------------


def _add_train_options(p: argparse.ArgumentParser, tune: bool = False) -> None:
    p.add_argument("--data", required=tune, metavar="PATH",
                   help="dataset: a folder per class (UCF101 layout, optional classInd/trainlist/testlist), "
                        "a CSV/TXT list 'path,label[,start,end]', or a folder with train/val/test lists")
    p.add_argument("--model", required=tune, metavar="NAME",
                   help="tsn, cnn_lstm, cnn_gru, tcn, c3d, c3d_classic, r2plus1d, r2plus1d_18, transformer")
    # Only what the user gives overrides the model's default recipe (classify.models.RECIPES: frames, stride, size,
    # epochs, lr, batch size, model arguments), then the library's defaults (and, with --resume, the run's).
    d = SUPPRESS
    p.add_argument("--frames", type=positive_int, default=d,
                   help="frames per clip (default: the model's recipe, else 16; without --stride, stride 1)")
    p.add_argument("--size", type=positive_int, default=d,
                   help="square crop size in pixels (default: the model's recipe, else 112)")
    p.add_argument("--epochs", type=positive_int, default=d,
                   help="training epochs (default: the model's recipe, else 30)")
    p.add_argument("--batch-size", type=positive_int, default=d, dest="batch_size",
                   help="clips per step, per process (default 8)")
    p.add_argument("--lr", type=positive_float, default=d,
                   help="peak learning rate of AdamW (default: the model's recipe, else 1e-3)")
    p.add_argument("--weight-decay", type=float, default=d, dest="weight_decay", help="AdamW weight decay (0.05)")
    p.add_argument("--patience", type=int, default=d,
                   help="stop after this many epochs without a better val accuracy (default 10; 0: never)")
    p.add_argument("--workers", type=int, default=d, help="DataLoader worker processes (default: cores - 1)")
    p.add_argument("--no-flip", action="store_false", dest="flip", default=d,
                   help="no horizontal flips (for direction-sensitive classes: left/right, clockwise)")
    p.add_argument("--flip-map", type=_flip_map, default=d, dest="flip_map", metavar="A:B,C:D",
                   help="classes a horizontal flip turns into each other (e.g. move_left:move_right,cw:ccw): "
                        "flipped clips of one are trained as the other, so flips stay on")
    p.add_argument("--ema", type=float, default=d, metavar="DECAY",
                   help="keep an exponential moving average of the weights with this decay per step (e.g. 0.998) "
                        "and validate and save it (default: the model's recipe, else 0: none)")
    p.add_argument("--crop-area", type=float, default=d, dest="crop_area", metavar="MIN",
                   help="random resized crop: smallest share of the frame's area to keep (default 0.4; 1: none)")
    p.add_argument("--sampling", choices=["clip", "segments"], default=d,
                   help="consecutive frames (clip) or one per segment (segments, TSN); default by model")
    p.add_argument("--stride", type=positive_int, default=d,
                   help="frame step inside a clip (default: the model's recipe, else 1)")
    p.add_argument("--cache", nargs="?", const="", default=d, metavar="DIR",
                   help="keep decoded clips on disk (memory-mapped) from the first epoch on; default folder "
                        "OUTPUT/cache")
    p.add_argument("--pretrained", action="store_true", default=d,
                   help="start from torchvision's weights (r2plus1d_18: Kinetics-400; backbone=resnet18: ImageNet)")
    p.add_argument("--model-arg", action="append", type=key_value, default=d, dest="model_args",
                   metavar="NAME=VALUE", help="a model setting, e.g. width=16, backbone=resnet18, depth=2 "
                                              "(repeatable; merged into the recipe's)")
    p.add_argument("--val-fraction", type=float, default=d, dest="val_fraction",
                   help="share of the training clips held out for validation when none is given (default 0.2)")
    p.add_argument("--seed", type=int, default=d, help="makes training deterministic on CPU (default 0)")
    add_device(p)


_TRAIN_SETTINGS = ("frames", "size", "epochs", "batch_size", "lr", "weight_decay", "patience", "workers", "flip",
                   "flip_map", "ema", "crop_area", "sampling", "stride", "pretrained", "val_fraction", "seed", "device")


def _flip_map(text: str) -> dict[str, str]:
    pairs = [p.split(":") for p in text.split(",") if p.strip()]
    if not pairs or any(len(p) != 2 or not p[0].strip() or not p[1].strip() for p in pairs):
        raise argparse.ArgumentTypeError(f"{text!r}: give class pairs as A:B,C:D")
    return {a.strip(): b.strip() for a, b in pairs}


def _train_settings(args: argparse.Namespace, out: str) -> dict:
    """The training settings the user gave (the rest stay the library's), ``--cache`` defaulting into ``out``."""
    from ..classify.tuning import _value

    settings = {k: getattr(args, k) for k in _TRAIN_SETTINGS if hasattr(args, k)}
    if getattr(args, "model_args", None):
        settings["model_args"] = {k: _value(v) for k, v in args.model_args}
    if hasattr(args, "cache"):
        settings["cache"] = args.cache or os.path.join(out, "cache")
    return settings


# ---- train -----------------------------------------------------------------------------------------------------


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train an action-recognition model on labelled clips",
                       description="Train a video classifier. Writes last.pt, best.pt, metrics.csv, config.yaml, "
                                   "train.log and TensorBoard events into -o DIR.")
    _add_train_options(p)
    add_output(p, help="run folder (default runs/MODEL)")
    p.add_argument("--resume", action="store_true", help="continue the run in -o DIR from its last.pt")
    p.add_argument("--nproc", type=positive_int, default=1,
                   help="processes for distributed data-parallel training (torch.distributed.run; gloo on CPU)")
    p.add_argument("--overwrite", action="store_true", help="start a new run in a folder that holds one")
    add_quiet_json(p, "print the run's summary as JSON on stdout")
    p.set_defaults(func=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    from ..classify.training import train

    if not args.resume and (not args.data or not args.model):
        raise VideolensError("train needs --data PATH and --model NAME (or --resume with -o DIR)")
    out = args.output or (f"runs/{args.model}" if args.model else None)
    if out is None:
        raise VideolensError("--resume needs -o DIR: the run to continue")
    result = train(args.data, args.model or "", out, resume=args.resume, overwrite=args.overwrite,
                   quiet=args.quiet, nproc=args.nproc, **_train_settings(args, out))
    emit(args, result.to_dict, lambda: _format_train(result, out))
    return 0


def _format_train(result, out: str) -> str:
    lines = [f"best val accuracy {result.best_val_acc:.4f} at epoch {result.best_epoch} "
             f"({result.epochs_run} epochs{', stopped early' if result.stopped_early else ''}, "
             f"{result.seconds:.0f} s): {result.best}"]
    if result.skipped:
        lines.append(f"{len(result.skipped)} video(s) skipped: see {os.path.join(out, 'train.log')}")
    return "\n".join(lines)


# ---- evaluate --------------------------------------------------------------------------------------------------


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="accuracy of a checkpoint on a dataset (top-1/5, per class, confusion)",
                       description="Evaluate a checkpoint with multi-view testing (clips x crops, averaged). "
                                   "Writes metrics.json, confusion.csv, confusion.png and predictions.csv.")
    p.add_argument("checkpoint", metavar="CKPT")
    p.add_argument("--data", required=True, metavar="PATH", help="dataset (any layout train reads)")
    p.add_argument("--split", default="auto", choices=["auto", "train", "val", "test", "all"],
                   help="auto: test, else the run's validation clips, else everything")
    p.add_argument("--clips", type=positive_int, help="clips per video (default: the checkpoint's, 3)")
    p.add_argument("--crops", type=positive_int, choices=[1, 3], help="crops per clip (default 1)")
    p.add_argument("--batch-size", type=positive_int, default=8, dest="batch_size")
    p.add_argument("--workers", type=int, help="DataLoader worker processes (default: cores - 1)")
    add_output(p, help="folder for the result files (default ./videolens-out/<run folder>/)")
    p.add_argument("--overwrite", action="store_true", help="replace existing result files")
    add_device(p)
    add_quiet_json(p)
    p.set_defaults(func=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..classify.evaluation import evaluate
    from ..utils.files import default_output_dir

    ckpt = Path(args.checkpoint)
    out = Path(args.output) if args.output else default_output_dir(ckpt.parent.name or ckpt.stem)
    r = evaluate(args.checkpoint, args.data, split=args.split, clips=args.clips, crops=args.crops,
                 batch_size=args.batch_size, workers=args.workers, device=args.device, output=out,
                 overwrite=args.overwrite, quiet=args.quiet)
    emit(args, r.to_dict, lambda: _format_evaluate(r, out))
    return 0


def _format_evaluate(r, out) -> str:
    lines = [f"{r.split} split, {r.videos} videos, {r.views['clips']} clip(s) x {r.views['crops']} crop(s): "
             f"top-1 {r.top1:.4f}  top-{r.topk} {r.top5:.4f}  mean class accuracy {r.mean_class_accuracy:.4f}"]
    for c in r.per_class:
        lines.append(f"  {c['class']:<24} precision {c['precision']:.3f}  recall {c['recall']:.3f}  ({c['support']})")
    if r.skipped:
        lines.append(f"{len(r.skipped)} video(s) skipped: " + "; ".join(f"{s['path']}: {s['reason']}"
                                                                        for s in r.skipped[:3]))
    lines.append(f"results: {out}")
    return "\n".join(lines)


# ---- predict ---------------------------------------------------------------------------------------------------


def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="label clips, or action segments of long videos, with a checkpoint",
                       description="A clip no longer than --window gets one label and its top-5; a longer video is "
                                   "classified in windows of --window seconds every --hop seconds, merged into "
                                   "segments (start, end, label, score).")
    p.add_argument("checkpoint", metavar="CKPT")
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="videos, folders or globs")
    p.add_argument("--window", type=positive_float, default=2.0, help="window length in seconds (default 2.0)")
    p.add_argument("--hop", type=positive_float, default=1.0, help="step between windows in seconds (default 1.0)")
    p.add_argument("--format", default=None, metavar="F[,F]",
                   help="write actions.csv (segments) and/or actions.json into the output folder: csv, json, all")
    add_output(p, help="output folder (default ./videolens-out/<video-stem>/; one subfolder per video when "
                       "there are several)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    add_device(p)
    add_quiet_json(p, "print one JSON object per video on stdout")
    p.set_defaults(func=_run_predict)


def _run_predict(args: argparse.Namespace) -> int:
    from ..classify.batch import FORMATS, predict_files

    formats = parse_formats(args.format or "", FORMATS, "predict", empty=())
    items = predict_files(args.checkpoint, args.videos, args.output, formats, window=args.window, hop=args.hop,
                          overwrite=args.overwrite, device=args.device, quiet=args.quiet or args.json)
    return finish(args, items, doc=lambda r: {**r[0].to_dict(), "files": r[1]}, text=_format_prediction)


def _format_prediction(item_result) -> str:
    from ..utils.timecode import timecode

    r, files = item_result
    top = ", ".join(f"{t['label']} {t['score']:.3f}" for t in r.top5)
    lines = [f"{r.path}: {r.label} ({r.score:.3f})   top-5: {top}"]
    if len(r.windows) > 1:
        for s in r.segments:
            lines.append(f"  {timecode(s['start'])} - {timecode(s['end'])}  {s['label']:<24} {s['score']:.3f}")
    lines += [f"  wrote {f}" for f in files]
    return "\n".join(lines)


# ---- explain ---------------------------------------------------------------------------------------------------


def _add_explain(sub) -> None:
    p = sub.add_parser("explain", help="where and when a video shows the evidence for a class (Grad-CAM)",
                       description="Saliency over space and time for a classifier's class: Grad-CAM on the last "
                                   "convolutional feature map (gradient x input for models without one, such as "
                                   "transformer). Writes overlay.mp4 (heat map on the frames), importance.png and "
                                   "explain.json (per-frame importance) and evidence/frame_NNNNNN.jpg (the top "
                                   "frames).")
    p.add_argument("checkpoint", metavar="CKPT")
    p.add_argument("video", metavar="VIDEO")
    p.add_argument("--method", default="guided-gradcam", choices=["guided-gradcam", "gradcam", "gradxinput"],
                   help="guided-gradcam (default: Grad-CAM sharpened by guided backpropagation), gradcam (both fall "
                        "back to gradxinput where they do not apply) or gradxinput")
    p.add_argument("--class", dest="target", metavar="NAME",
                   help="the class to explain (default: the class predict gives the video)")
    p.add_argument("--layer", metavar="MODULE",
                   help="the module Grad-CAM reads, by its name in the model (default: the last feature map with one "
                        "position per input frame; e.g. features.14 for c3d's last block)")
    p.add_argument("--top", type=positive_int, default=5, help="evidence frames to write (default 5)")
    add_output(p)
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    add_device(p)
    add_quiet_json(p)
    p.set_defaults(func=_run_explain)


def _run_explain(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..classify.explain import FILES, explain, write_explanation
    from ..utils.files import check_writable, default_output_dir

    out = Path(args.output) if args.output else default_output_dir(args.video)
    for name in FILES:   # before the work, not after it
        check_writable(out / name, args.overwrite)
    e = explain(args.checkpoint, args.video, method=args.method, target=args.target, device=args.device,
                quiet=args.quiet or args.json, layer=args.layer)
    doc = write_explanation(e, out, top=args.top, overwrite=args.overwrite, quiet=args.quiet or args.json)
    emit(args, lambda: doc, lambda: _format_explain(doc, out))
    return 0


def _format_explain(doc: dict, out) -> str:
    lines = [f"{doc['video']}: evidence for '{doc['class']}' (p={doc['score']:.3f}) by {doc['method']}"
             + (f" on {doc['layer']}" if doc["layer"] else "") + f", {doc['frames']} frames"]
    if doc["note"]:
        lines.append(f"  note: {doc['note']}")
    lines.append("  top frames: " + ", ".join(f"{ev['frame']} ({ev['time']:.2f} s, {ev['importance']:.2f})"
                                              for ev in doc["evidence"]))
    lines.append(f"results: {out}")
    return "\n".join(lines)


# ---- export ----------------------------------------------------------------------------------------------------


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="export a checkpoint to ONNX (dynamic batch), checked in ONNX Runtime")
    p.add_argument("checkpoint", metavar="CKPT")
    p.add_argument("--format", default="onnx", choices=["onnx"], help="onnx (the only format)")
    p.add_argument("-o", "--output", metavar="FILE", help="output file (default: CKPT with .onnx)")
    p.add_argument("--opset", type=positive_int, default=17, help="ONNX opset (default 17)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    add_quiet_json(p)
    p.set_defaults(func=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    from ..classify.export import export_onnx

    r = export_onnx(args.checkpoint, args.output, opset=args.opset, overwrite=args.overwrite)
    emit(args, r, lambda: f"{r['path']}: {r['model']}, input clips {r['inputs']['clips']}, "
                          f"ONNX Runtime matches PyTorch within {r['max_abs_diff']:.1e}")
    return 0


# ---- tune ------------------------------------------------------------------------------------------------------


def _add_tune(sub) -> None:
    p = sub.add_parser("tune", help="grid search over training settings, ranked by validation accuracy",
                       description="One training run per combination of --grid values (on Ray when installed, "
                                   "2 at a time), ranked by validation accuracy. Writes tune.csv and tune.json.")
    _add_train_options(p, tune=True)
    p.add_argument("--grid", nargs="+", required=True, metavar="NAME=V1,V2",
                   help="settings to search, e.g. lr=1e-3,3e-4 batch_size=8,16 (training settings or model "
                        "arguments such as width=8,16)")
    add_output(p, help="search folder (default runs/tune-MODEL)")
    p.add_argument("--parallel", type=positive_int, default=2, help="trials at a time on Ray (default 2)")
    p.add_argument("--backend", default="auto", choices=["auto", "ray", "sequential"],
                   help="auto: Ray when installed, else one trial after another")
    p.add_argument("--overwrite", action="store_true", help="run again in a folder that holds a search")
    add_quiet_json(p)
    p.set_defaults(func=_run_tune)


def _run_tune(args: argparse.Namespace) -> int:
    from ..classify.tuning import parse_grid, tune

    out = args.output or f"runs/tune-{args.model}"
    settings = _train_settings(args, out)
    settings.pop("workers", None)
    r = tune(args.data, args.model, out, parse_grid(args.grid), parallel=args.parallel, backend=args.backend,
             quiet=args.quiet, overwrite=args.overwrite, **settings)
    emit(args, lambda: {k: v for k, v in r.items() if k != "table"},
         lambda: f"{r['table']}\n{len(r['trials'])} trials ({r['backend']}, {r['seconds']:.0f} s); best: "
                 f"{r['best']['params']} -> {r['best']['output']}")
    return 0


COMMANDS = [_add_train, _add_evaluate, _add_predict, _add_explain, _add_export, _add_tune]
