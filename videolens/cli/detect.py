"""``videolens detect``, ``detect-train``, ``detect-eval`` and ``detect-export``: objects and faces in video."""

from __future__ import annotations

import argparse

from ..errors import VideolensError
from ._common import (add_device, add_output, add_quiet_json, add_seed, add_tracker, batch_exit, csv_list, emit,
                      error, line_arg, parse_formats, positive_int, report, tracker_settings, unit,
                      zone_arg)

# ---- detect ----------------------------------------------------------------------------------------------------


def _add_detect(sub) -> None:
    p = sub.add_parser("detect", help="detect (and track, count, anonymise) objects or faces in videos",
                       description="Run a detector over videos: detections.csv/json, tracks.txt (MOTChallenge), "
                                   "counts.csv (lines, zones) and annotated.mp4 with the source's audio.")
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files, folders or globs")
    p.add_argument("--model", help="faces-retina, faces, people-hog, fasterrcnn, fasterrcnn-r50, fcos, retinanet, a "
                                   "detect-train checkpoint (.pt) or onnx:PATH (default with --anonymize or --people: "
                                   "faces-retina when installed, else faces)")
    p.add_argument("--weights", help="checkpoint for a named model, or 'coco' (torchvision models' default)")
    p.add_argument("--classes", help="comma-separated class names (or ids) to keep")
    p.add_argument("--conf", type=unit, help="score threshold (default 0.25; faces 0.9, people-hog 0.5)")
    p.add_argument("--iou", type=unit, help="NMS IoU threshold (default: Ultralytics' 0.7 for a model it exported, "
                                            "else 0.45)")
    p.add_argument("--imgsz", type=positive_int, help="detector input size in pixels (default: the model's; a "
                                                      "static-shape ONNX model keeps its own)")
    p.add_argument("--stride", type=positive_int, default=1, help="detect on every N-th frame (default 1)")
    add_tracker(p, "turn tracking on")
    p.add_argument("--line", type=line_arg, action="append", default=[], metavar="X1,Y1,X2,Y2",
                   help="count tracks crossing this line (in = to its right seen from the first point); repeatable")
    p.add_argument("--zone", type=zone_arg, action="append", default=[], metavar="X1,Y1,X2,Y2,X3,Y3,...",
                   help="count tracks inside this polygon and their dwell time; repeatable")
    p.add_argument("--anchor", default="center", choices=["center", "bottom-center", "top-center"],
                   help="the point of a box that counts for lines and zones (default center)")
    p.add_argument("--anonymize", action="store_true", help="blur every face in annotated.mp4")
    p.add_argument("--people", metavar="GALLERY",
                   help="name the faces (class = the person's name, or unknown) from GALLERY: a folder of photos "
                        "per person, or a gallery.npz from 'videolens people enroll'; needs a face --model")
    p.add_argument("--anonymize-method", choices=["blur", "pixelate"], default="blur")
    p.add_argument("--format", default="all", help="csv,json,mot,mp4 or all (default all)")
    add_output(p)
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    add_device(p)
    add_quiet_json(p)
    p.set_defaults(func=_run_detect)


def _run_detect(args: argparse.Namespace) -> int:
    from ..detect.batch import detect_videos
    from ..detect.video import FORMATS

    formats = parse_formats(args.format, FORMATS, "detect")
    model = args.model
    if args.people:
        model = _named_faces(args)
    run = detect_videos(args.videos, args.output, model, weights=args.weights, conf=args.conf, iou=args.iou,
                        classes=csv_list(args.classes), imgsz=args.imgsz, device=args.device, tracker=args.tracker,
                        stride=args.stride, tracker_settings=tracker_settings(args), lines=args.line, zones=args.zone, anchor=args.anchor,
                        anonymize=args.anonymize, anonymize_method=args.anonymize_method, formats=formats,
                        overwrite=args.overwrite, quiet=args.quiet,
                        on_item=lambda item: _report_video(args, item))
    emit(args, run.to_json)
    return batch_exit(run.ok, run.failed)


def _named_faces(args: argparse.Namespace):
    """The face detector of ``--model`` (default: the default face detector) naming its boxes from ``--people``."""
    from ..detect.detectors import default_face_model, load_detector
    from ..people.embed import FaceEmbedder
    from ..people.gallery import NamedFaceDetector, load_gallery

    detector = load_detector(args.model or default_face_model(), weights=args.weights, conf=args.conf,
                             device=args.device)
    if not getattr(detector, "finds_faces", False):
        raise VideolensError(f"--people names faces: use it with a face model (--model faces-retina or faces), "
                             f"not {args.model}")
    embedder = FaceEmbedder(threads=None)
    gallery = load_gallery(args.people, embedder, detector,
                           on_skip=lambda f, why: None if args.quiet else error(f"{f}: skipped: {why}"))
    return NamedFaceDetector(detector, gallery, embedder)


def _report_video(args: argparse.Namespace, item) -> None:
    """Each video's summary (or error) as soon as it is done; --json prints them all at the end."""
    report(args, item, None, lambda r: _format_detect(r, item.output))


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


# ---- detect-train ----------------------------------------------------------------------------------------------


def _add_detect_train(sub) -> None:
    p = sub.add_parser("detect-train", help="train a detector (yolo or fasterrcnn) on COCO, YOLO or VOC data",
                       description="Train a detector. Writes last.pt, best.pt, metrics.csv, config.yaml, train.log "
                                   "and TensorBoard events into the run folder.")
    p.add_argument("--data", required=True, help="COCO .json, YOLO data.yaml or folder, Pascal VOC folder")
    p.add_argument("--val", help="a separate validation set (default: the data's val/test split, else 10%%)")
    p.add_argument("--model", default="yolo", choices=["yolo", "fasterrcnn", "fasterrcnn-r50"])
    add_output(p, required=True, help="run folder, e.g. runs/NAME")
    p.add_argument("--epochs", type=positive_int, default=30)
    p.add_argument("--batch-size", type=positive_int, default=16)
    p.add_argument("--lr", type=float, default=2e-3, help="AdamW learning rate (default 0.002)")
    p.add_argument("--imgsz", type=positive_int, default=320, help="training image size, a multiple of 32")
    p.add_argument("--scale", choices=["n", "s", "m"], default="n", help="yolo size (default n)")
    p.add_argument("--weights", choices=["coco"], help="fasterrcnn: start from torchvision's COCO weights")
    p.add_argument("--no-mosaic", action="store_true", help="yolo: no mosaic augmentation")
    p.add_argument("--no-flip", action="store_true", help="no horizontal flips")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes (default 0)")
    p.add_argument("--patience", type=int, default=0, help="stop after N epochs without a better mAP (0: never)")
    p.add_argument("--max-iters", type=positive_int, help="stop after this many optimiser steps")
    p.add_argument("--cpu-minutes", type=float, help="stop once training has used this much CPU time")
    p.add_argument("--strict", action="store_true", help="unknown classes, broken files: errors, not warnings")
    p.add_argument("--resume", action="store_true", help="continue the run in -o from its last.pt")
    p.add_argument("--overwrite", action="store_true", help="start again over an existing run")
    add_seed(p)
    add_device(p)
    add_quiet_json(p)
    p.set_defaults(func=_run_detect_train)


def _run_detect_train(args: argparse.Namespace) -> int:
    from ..detect.train import TrainConfig, train

    cfg = TrainConfig(data=args.data, val=args.val, model=args.model, output=args.output, epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, imgsz=args.imgsz, scale=args.scale,
                      weights=args.weights, mosaic=0.0 if args.no_mosaic else 1.0, flip=not args.no_flip,
                      workers=args.workers, patience=args.patience, max_iters=args.max_iters,
                      cpu_minutes=args.cpu_minutes, strict=args.strict,
                      resume=args.resume, overwrite=args.overwrite, seed=args.seed, device=args.device,
                      quiet=args.quiet or args.json)
    summary = train(cfg)
    emit(args, summary, lambda: _format_detect_train(cfg.model, summary))
    return 0


def _format_detect_train(model: str, summary: dict) -> str:
    best = summary["best"]
    return (f"trained {model} for {summary['epochs']} epochs: best mAP {best.get('map', 0):.4f}, "
            f"mAP@.5 {best.get('map50', 0):.4f} -> {summary['best_checkpoint']}")


# ---- detect-eval -----------------------------------------------------------------------------------------------


def _add_detect_eval(sub) -> None:
    p = sub.add_parser("detect-eval", help="COCO mAP of a detector on a labelled dataset",
                       description="Evaluate a detector (checkpoint, name or onnx:PATH) on a COCO, YOLO or VOC "
                                   "dataset: mAP@[.5:.95], mAP@.5, AP per class and per size -> metrics.json.")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--data", required=True)
    p.add_argument("--split", choices=["train", "val", "test"], help="which split of a split dataset (default "
                                                                      "val/test)")
    p.add_argument("--weights", help="checkpoint for a named model, or 'coco'")
    p.add_argument("--conf", type=unit, default=0.001, help="score threshold (default 0.001, as for mAP)")
    p.add_argument("--imgsz", type=positive_int)
    p.add_argument("--strict", action="store_true")
    p.add_argument("-o", "--output", metavar="DIR", help="write metrics.json here")
    p.add_argument("--overwrite", action="store_true")
    add_device(p)
    add_quiet_json(p)
    p.set_defaults(func=_run_detect_eval)


def _run_detect_eval(args: argparse.Namespace) -> int:
    from ..detect.evaluation import evaluate_model

    ev = evaluate_model(args.model, args.data, split=args.split, weights=args.weights, conf=args.conf,
                        imgsz=args.imgsz, strict=args.strict, device=args.device, output=args.output,
                        overwrite=args.overwrite, quiet=args.quiet or args.json, warn=not args.quiet)
    emit(args, ev.to_dict, ev.summary)
    return 0


# ---- detect-export ---------------------------------------------------------------------------------------------


def _add_detect_export(sub) -> None:
    p = sub.add_parser("detect-export", help="export a yolo checkpoint to ONNX (Ultralytics layout)")
    p.add_argument("checkpoint", metavar="CKPT")
    p.add_argument("-o", "--output", required=True, metavar="FILE.onnx")
    p.add_argument("--imgsz", type=positive_int, help="input size (default: the training size)")
    p.add_argument("--overwrite", action="store_true")
    add_quiet_json(p)
    p.set_defaults(func=_run_detect_export)


def _run_detect_export(args: argparse.Namespace) -> int:
    from ..detect.export import export_onnx

    path = export_onnx(args.checkpoint, args.output, imgsz=args.imgsz, overwrite=args.overwrite)
    emit(args, {"output": path}, lambda: f"exported {args.checkpoint} -> {path} (run it with --model onnx:{path})")
    return 0


COMMANDS = [_add_detect, _add_detect_train, _add_detect_eval, _add_detect_export]
