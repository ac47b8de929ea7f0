"""Detection benchmarks: yolo and Faster R-CNN trained from scratch, speed in PyTorch and ONNX Runtime, real data,
faces.

Parts (each one under ~20 min on a quiet 2-core machine; run them one by one on a loaded one):

- ``yolo``: ``objects`` stills, train and test made from disjoint seeds; yolo trained from scratch; COCO mAP on
  the test set (target: mAP@.5 >= 0.9), and the same predictions scored by pycocotools beside.
- ``fasterrcnn``: torchvision Faster R-CNN (MobileNetV3-FPN) from scratch on the same data within a CPU-time budget.
- ``speed``: CPU frames/s at 640x640 per model, PyTorch vs ONNX Runtime.
- ``trapedesveh``: yolo from scratch on TraPedesVeh train/ (184 real images), mAP per class on test/.
- ``faces``: MTCNN (``faces``) and RetinaFace (``faces-retina``) on the same annotated WIDER FACE val images
  (``../shared/data/faces/widerface-val``, scaled as ``analyze`` scales frames: short side 360): recall at IoU 0.5,
  AP@0.5, ms per image; then both on every frame of the GRID clips: share of frames with exactly one face
  (target >= 0.98), fps.
- ``memory``: resident memory while ``detect`` streams a 5-minute 360p video with every output on: it stays flat.

    .venv/bin/python bench/detect.py --part yolo        # or fasterrcnn, speed, trapedesveh, faces, all
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # a shared machine: spinning OpenMP threads starve the rest

import numpy as np

from _common import OUT, SHARED, save, table

RUNS = OUT / "runs"


def objects_data(n_train: int, n_test: int):
    from videolens.datasets import make_dataset

    train, test = OUT / f"objects_train_{n_train}", OUT / f"objects_test_{n_test}"
    for path, seed, n in ((train, 11, n_train), (test, 12, n_test)):
        if not (path / "images" / "annotations.json").exists():
            make_dataset("objects", path, seed=seed, num=1, frames=2, images=n, progress=True)
    return train / "images" / "annotations.json", test / "images" / "annotations.json"


def pycocotools_map(detector, dataset) -> tuple[float, float]:
    """The same predictions, scored by pycocotools (the reference)."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from videolens.detect.augment import read_image

    gt = dataset.to_coco()
    preds = []
    for k, s in enumerate(dataset.samples):
        preds += detector(read_image(s.path)).to_coco(k + 1, gt["categories"])
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        e = COCOeval(coco, coco.loadRes(preds), "bbox")
        e.evaluate()
        e.accumulate()
        e.summarize()
    return float(e.stats[0]), float(e.stats[1])


def train_and_test(name: str, model: str, train_data, test_data, **cfg) -> dict:
    from videolens.detect import load_detector
    from videolens.detect.data import load_dataset
    from videolens.detect.evaluation import evaluate_detector, model_detector
    from videolens.detect.train import TrainConfig, train

    run = RUNS / name
    cpu0, t0 = time.process_time(), time.perf_counter()
    resume = bool(cfg.pop("resume", False)) and (run / "last.pt").is_file()
    summary = train(TrainConfig(data=str(train_data), val=str(test_data) if test_data else None, model=model,
                                output=str(run), overwrite=not resume, resume=resume, quiet=False, **cfg))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    test = load_dataset(test_data, "test" if os.path.isdir(test_data) else None,
                        class_names=summary["classes"])
    det = load_detector(str(run / "best.pt"), conf=0.001)
    r = evaluate_detector(det, test, quiet=True)
    ref_map, ref_map50 = pycocotools_map(det, test)
    extra = {}
    if model == "yolo":
        # The validation protocol of training (and of Ultralytics' val): multi-label NMS at IoU 0.6, conf 0.001.
        v = evaluate_detector(model_detector(det.model, summary["classes"], det.imgsz, det.device), test)
        extra = {"val_protocol_map": round(v.map, 4), "val_protocol_map50": round(v.map50, 4)}
    return {"model": model, "run": str(run), "resumed": resume, "epochs": summary["epochs"], "steps": summary["steps"],
            "train_images": summary["train_images"], "test_images": len(test), "cpu_minutes": round(cpu / 60, 1),
            "wall_minutes": round(wall / 60, 1), "map": round(r.map, 4), "map50": round(r.map50, 4),
            "pycocotools_map": round(ref_map, 4), "pycocotools_map50": round(ref_map50, 4), **extra,
            "per_class": {k: {"ap": round(v["ap"], 4), "ap50": round(v["ap50"], 4), "gt": v["gt"]}
                          for k, v in r.per_class.items()}}


def part_yolo(args) -> dict:
    tr, te = objects_data(args.images, 300)
    r = train_and_test("yolo_objects", "yolo", tr, te, epochs=args.epochs, imgsz=args.imgsz, batch_size=16,
                       seed=0, resume=args.resume)
    r["target_map50_ge_0.9"] = r["map50"] >= 0.9
    print(table([r], ["model", "epochs", "train_images", "cpu_minutes", "wall_minutes", "map", "map50",
                      "pycocotools_map", "pycocotools_map50", "val_protocol_map", "val_protocol_map50"]))
    return r


def part_fasterrcnn(args) -> dict:
    tr, te = objects_data(args.images, 300)
    r = train_and_test("fasterrcnn_objects", "fasterrcnn", tr, te, epochs=args.epochs, imgsz=args.imgsz,
                       batch_size=4, lr=1e-3, seed=0, cpu_minutes=args.cpu_minutes)
    r["cpu_budget_minutes"] = args.cpu_minutes
    print(table([r], ["model", "epochs", "steps", "cpu_minutes", "wall_minutes", "map", "map50"]))
    return r


def _fps(fn, n: int) -> float:
    fn()   # warm-up
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - t)


def part_speed(args) -> dict:
    import torch

    from videolens.detect import load_detector
    from videolens.detect.export import export_onnx

    frame = np.random.default_rng(0).integers(0, 255, (640, 640, 3), dtype=np.uint8)
    rows = []
    yolo_ckpt = RUNS / "yolo_objects" / "best.pt"
    if yolo_ckpt.exists():
        onnx_path = OUT / "yolo_objects_640.onnx"
        export_onnx(yolo_ckpt, onnx_path, imgsz=640)
        pt = load_detector(str(yolo_ckpt), imgsz=640)
        ort = load_detector(f"onnx:{onnx_path}")
        rows.append({"model": "yolo (n)", "input": "640x640", "pytorch_fps": round(_fps(lambda: pt(frame), 10), 2),
                     "onnxruntime_fps": round(_fps(lambda: ort(frame), 10), 2)})
    frcnn_ckpt = RUNS / "fasterrcnn_objects" / "best.pt"
    if frcnn_ckpt.exists():
        det = load_detector(str(frcnn_ckpt), imgsz=640)
        row = {"model": "fasterrcnn (mobilenet_v3 fpn)", "input": "640x640",
               "pytorch_fps": round(_fps(lambda: det(frame), 5), 2)}
        try:
            row["onnxruntime_fps"] = round(_frcnn_ort_fps(det, frame), 2)
        except Exception as e:  # noqa: BLE001 - report why, keep the PyTorch number
            row["onnxruntime_fps"] = f"export failed: {type(e).__name__}"
        rows.append(row)
    print(table(rows, ["model", "input", "pytorch_fps", "onnxruntime_fps"]))
    return {"rows": rows, "threads": torch.get_num_threads()}


def _frcnn_ort_fps(det, frame) -> float:
    """torchvision's Faster R-CNN through the legacy ONNX exporter (opset 11, as torchvision documents)."""
    import onnxruntime as ort
    import torch

    net = det.model.net.eval()
    x = torch.from_numpy(frame.transpose(2, 0, 1).copy()).float().div(255)
    path = OUT / "fasterrcnn_objects_640.onnx"
    with torch.no_grad():
        torch.onnx.export(net, ([x],), str(path), opset_version=11, input_names=["image"],
                          output_names=["boxes", "labels", "scores"], dynamo=False)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    arr = x.numpy()
    return _fps(lambda: sess.run(None, {name: arr}), 5)


def part_trapedesveh(args) -> dict:
    root = SHARED / "detection" / "TraPedesVeh"
    r = train_and_test("yolo_trapedesveh", "yolo", root, root, epochs=args.tp_epochs, imgsz=args.tp_imgsz,
                       batch_size=16, seed=0, scale=args.tp_scale, resume=args.resume)
    rows = [{"class": k, "gt": v["gt"], "AP": v["ap"], "AP50": v["ap50"]} for k, v in r["per_class"].items()]
    print(table(rows, ["class", "gt", "AP", "AP50"]))
    print(f"all: mAP {r['map']}, mAP@.5 {r['map50']} ({r['cpu_minutes']} CPU min)")
    r["vehicle_ap50_ge_0.05"] = r["per_class"]["vehicle"]["ap50"] >= 0.05
    return r


def read_wider(folder) -> list[tuple]:
    """``[(image path, (N, 4) xyxy ground truth)]`` from ``labels.txt`` (``# file path``, then ``x y w h`` lines)."""
    items, boxes = [], None
    for line in (folder / "labels.txt").read_text().splitlines()[1:]:
        if line.startswith("#"):
            boxes = []
            items.append((folder / "images" / line[1:].split()[0], boxes))
        elif line.strip():
            x, y, w, h = map(float, line.split()[:4])
            boxes.append([x, y, x + w, y + h])
    return [(p, np.asarray(b, np.float64).reshape(-1, 4)) for p, b in items]


def match_recall(pred, scores, gt, ignore, iou: float = 0.5):
    """Greedy matching by score: (true positive flags of the kept detections, their scores, faces found, faces).
    Detections on an ignored (too small) face are dropped, neither right nor wrong."""
    from videolens.core.detections import box_iou

    order = np.argsort(-scores, kind="stable")
    pred, scores = pred[order], scores[order]
    ious = box_iou(pred, gt) if len(pred) and len(gt) else np.zeros((len(pred), len(gt)))
    used = np.zeros(len(gt), bool)
    tp, keep = [], []
    for i in range(len(pred)):
        cand = np.where(~used & ~ignore & (ious[i] >= iou))[0]
        if len(cand):
            j = cand[np.argmax(ious[i, cand])]
            used[j] = True
            tp.append(True)
            keep.append(i)
        elif (ignore & (ious[i] >= iou)).any():
            continue
        else:
            tp.append(False)
            keep.append(i)
    return np.asarray(tp, bool), scores[keep], int(used.sum()), int((~ignore).sum())


def average_precision(tp: np.ndarray, scores: np.ndarray, n_gt: int) -> float:
    """Area under the precision-recall curve (VOC's all-points interpolation)."""
    order = np.argsort(-scores, kind="stable")
    tp = tp[order].astype(np.float64)
    ctp, cfp = np.cumsum(tp), np.cumsum(1 - tp)
    rec = ctp / max(n_gt, 1)
    prec = ctp / np.maximum(ctp + cfp, 1e-9)
    mrec = np.concatenate([[0.0], rec, [1.0]])
    mpre = np.concatenate([[0.0], prec, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def wider_faces(short_side: int = 360, min_px: tuple[int, ...] = (10, 20)) -> list[dict]:
    """MTCNN and RetinaFace on the WIDER val sample at the analyzer's size, one image at a time, the two models
    interleaved image by image (a shared machine's load hits both alike)."""
    import cv2

    from videolens.detect.augment import read_image
    from videolens.detect.detectors import FaceDetector
    from videolens.detect.retina import RetinaFaceDetector

    data = read_wider(SHARED / "faces" / "widerface-val")
    operating = {"faces": (0.9,), "faces-retina": (0.5, 0.6, 0.7, 0.8)}     # score thresholds reported
    # Low thresholds for AP (MTCNN's own cascade stops at 0.7); one thread each, as in analyze.
    dets = {"faces": FaceDetector(conf=0.7, threads=1), "faces-retina": RetinaFaceDetector(conf=0.05, threads=1)}
    found = {name: [] for name in dets}
    ms = {name: [] for name in dets}
    scaled = []
    for path, gt in data:
        img = read_image(path)
        h, w = img.shape[:2]
        s = short_side / min(h, w)
        small = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        scaled.append(gt * s)
        for name, det in dets.items():
            det(small)                                                    # warm-up at this size
            t = time.perf_counter()
            d = det(small)
            ms[name].append((time.perf_counter() - t) * 1000)
            found[name].append(d)
    rows = []
    for name in dets:
        for px in min_px:
            tps, scs, n = [], [], 0
            for d, gt in zip(found[name], scaled):
                ignore = (gt[:, 3] - gt[:, 1]) < px
                tp, sc, _, n_ = match_recall(d.xyxy.astype(np.float64), d.scores.astype(np.float64), gt, ignore)
                tps.append(tp)
                scs.append(sc)
                n += n_
            tp, sc = np.concatenate(tps), np.concatenate(scs)
            ap = round(average_precision(tp, sc, n), 3)
            for conf in operating[name]:
                hit = 0
                for d, gt in zip(found[name], scaled):
                    op = d.scores >= conf
                    hit += match_recall(d.xyxy[op].astype(np.float64), d.scores[op].astype(np.float64), gt,
                                        (gt[:, 3] - gt[:, 1]) < px)[2]
                rows.append({"model": name, "faces_at_least_px": px, "faces": n, "conf": conf,
                             "recall@0.5": round(hit / n, 3), "false_pos": int(((~tp) & (sc >= conf)).sum()),
                             "AP@0.5": ap, "ms_per_image": round(float(np.median(ms[name])), 1)})
    return rows


def part_faces(args) -> dict:
    """Both face detectors on the WIDER FACE val sample (:func:`wider_faces`), then :func:`grid_faces`."""
    r = {}
    if (SHARED / "faces" / "widerface-val").is_dir():
        rows = wider_faces()
        print(table(rows, list(rows[0])))
        r["wider_val_sample"] = rows
    for name in ("faces", "faces-retina"):
        r[name] = grid_faces(name)
    return r


def grid_faces(model: str = "faces") -> dict:
    """Our MTCNN (ONNX Runtime) on every GRID frame; facenet-pytorch's MTCNN (same weights, PyTorch) on the same
    frames of the first clips, interleaved batch by batch, for the speed ratio and the agreement."""
    from videolens.detect import load_detector
    from videolens.io.reader import VideoReader

    det = load_detector(model)
    try:
        from facenet_pytorch import MTCNN

        ref = MTCNN(keep_all=True, post_process=False, device="cpu") if model == "faces" else None
    except ImportError:
        ref = None
    counts, frames_total, seconds = [], 0, 0.0
    side = {"frames": 0, "ours": 0.0, "facenet": 0.0, "max_box_diff": 0.0, "count_diff": 0}
    clips = sorted((SHARED / "speech" / "GRID").glob("*.mpg"))
    for k, clip in enumerate(clips):
        reader = VideoReader(clip)
        for b in reader.iter_frames(batch=25):
            t = time.perf_counter()
            found = det.detect(list(b.frames))
            took = time.perf_counter() - t
            seconds += took
            counts += [len(d) for d in found]
            frames_total += len(b.frames)
            if ref is not None and k < 3:
                t = time.perf_counter()
                boxes, _ = ref.detect(np.stack(b.frames))
                side["facenet"] += time.perf_counter() - t
                side["ours"] += took
                side["frames"] += len(b.frames)
                h, w = b.frames[0].shape[:2]
                for d, rb in zip(found, boxes):
                    # Detections are clipped to the frame; facenet's boxes are not.
                    rb = np.zeros((0, 4)) if rb is None else np.clip(np.asarray(rb, float), 0, [w, h, w, h])
                    if len(rb) != len(d):
                        side["count_diff"] += 1
                    elif len(rb):
                        side["max_box_diff"] = max(side["max_box_diff"], float(np.abs(rb - d.xyxy).max()))
    share = float(np.mean(np.asarray(counts) == 1))
    r = {"model": model, "clips": len(clips), "frames": frames_total,
         "exactly_one_face": round(share, 4), "no_face": int(np.sum(np.asarray(counts) == 0)),
         "more_than_one": int(np.sum(np.asarray(counts) > 1)), "fps": round(frames_total / seconds, 1),
         "target_ge_0.98": share >= 0.98}
    print(table([r], list(r)))
    if side["frames"]:
        r["vs_facenet_pytorch"] = {"frames": side["frames"], "ours_fps": round(side["frames"] / side["ours"], 1),
                                   "facenet_fps": round(side["frames"] / side["facenet"], 1),
                                   "speedup": round(side["facenet"] / side["ours"], 2),
                                   "frames_with_other_count": side["count_diff"],
                                   "max_box_diff_px": round(side["max_box_diff"], 4)}
        print(table([r["vs_facenet_pytorch"]], list(r["vs_facenet_pytorch"])))
    return r


def part_memory(args) -> dict:
    """RSS while ``detect`` streams a long video (all outputs, tracking, stride 5): it must stay flat."""
    import threading

    from _common import bench_video, rss_mb

    from videolens.detect import detect_video, load_detector

    video = bench_video("detect_long_360p.mp4", seconds=args.long_seconds, size=(640, 360))
    ckpt = RUNS / "yolo_objects" / "best.pt"
    det = load_detector(str(ckpt)) if ckpt.exists() else load_detector("people-hog")
    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def watch():
        t0 = time.perf_counter()
        while not done.wait(1.0):
            samples.append((time.perf_counter() - t0, rss_mb()))
    th = threading.Thread(target=watch, daemon=True)
    th.start()
    t = time.perf_counter()
    r = detect_video(video, OUT / "detect_long", det, tracker="bytetrack", stride=5, overwrite=True, quiet=False,
                     lines=[((0, 180), (640, 180))])
    done.set()
    th.join()
    seconds = time.perf_counter() - t
    n = len(samples)
    early = max(v for _, v in samples[: max(1, n // 10)])
    late = max(v for _, v in samples[-max(1, n // 10):])
    out = {"video_seconds": args.long_seconds, "frames": r.frames, "detections": r.detections,
           "wall_seconds": round(seconds, 1), "fps": round(r.frames / seconds, 1), "rss_mb_first_10pct": round(early),
           "rss_mb_last_10pct": round(late), "rss_mb_peak": round(max(v for _, v in samples))}
    print(table([out], list(out)))
    return out


PARTS = {"yolo": part_yolo, "fasterrcnn": part_fasterrcnn, "speed": part_speed, "trapedesveh": part_trapedesveh,
         "faces": part_faces, "memory": part_memory}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--part", default="all", choices=[*PARTS, "all"])
    p.add_argument("--images", type=int, default=3000, help="objects training images")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--imgsz", type=int, default=256)
    p.add_argument("--cpu-minutes", type=float, default=30.0, help="fasterrcnn CPU budget")
    p.add_argument("--tp-epochs", type=int, default=60)
    p.add_argument("--tp-imgsz", type=int, default=320)
    p.add_argument("--tp-scale", default="n")
    p.add_argument("--resume", action="store_true",
                   help="yolo/trapedesveh: continue an interrupted run from its last.pt (times then cover the rest only)")
    p.add_argument("--long-seconds", type=float, default=300, help="memory: length of the generated video")
    args = p.parse_args()
    path = OUT / "detect.json"
    for name in (PARTS if args.part == "all" else [args.part]):
        print(f"== {name}")
        t = time.perf_counter()
        r = {**PARTS[name](args), "seconds": round(time.perf_counter() - t, 1),
             "command": " ".join([os.path.basename(sys.executable), *sys.argv])}
        # re-read just before writing: parts may run in parallel processes
        results = json.loads(path.read_text()) if path.exists() else {}
        results[name] = r
        save("detect", {k: v for k, v in results.items() if k not in ("machine", "command")})


if __name__ == "__main__":
    main()
