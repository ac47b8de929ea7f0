"""Make the Ultralytics parity data of tests/test_ultralytics_parity.py (issue 16 part 7).

Runs with ``ultralytics`` installed beside the project, never in its venv (Ultralytics requires ``opencv-python``,
which would shadow the project's headless OpenCV). One way, reusing the project's torch, OpenCV and ONNX Runtime
read-only, so that both sides resize with the very same OpenCV::

    python3 -m venv /tmp/ulvenv
    echo "$PWD/.venv/lib/python3.11/site-packages" > /tmp/ulvenv/lib/python3.11/site-packages/zz_project.pth
    /tmp/ulvenv/bin/pip install --no-deps ultralytics polars ultralytics-thop onnxslim py-cpuinfo
    .venv/bin/python -m videolens datasets make objects -o /tmp/ulwork/objects --seed 7 --num 4
    YOLO_OFFLINE=1 /tmp/ulvenv/bin/python scripts/make_ultralytics_parity.py /tmp/ulwork/objects -w /tmp/ulwork

What it does:

1. converts the ``objects`` stills (COCO) to a YOLO-format dataset (the last 20 images are the validation split,
   never trained on);
2. trains YOLO11 from scratch (``yolo11.yaml``'s layers at width 0.125, so that each ONNX file is about 1 MB
   instead of yolo11n's 10 MB; the same kinds of layers, C3k2, C2PSA, SPPF and the Detect head) for a few epochs
   on the CPU: the model need not be good, only find boxes;
3. exports it to ONNX twice, with a dynamic input shape and as a static ``batch=4`` graph, and exports an
   untrained segment model of the same width (for the task check);
4. runs Ultralytics' own ``predict`` with its defaults (conf 0.25, IoU 0.7, ``imgsz`` the export's) on three
   validation images at 0.5x, 1x and 3x the input size, and stores its boxes, classes and scores as JSON.

The frames at 0.5x and 3x are made from the stored 1x PNGs by :func:`resized` (numpy only, float64, so that any
machine makes the same pixels). Outputs go to ``tests/data/ultralytics/``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "ultralytics"
IMGSZ = 320
SCALES = (0.5, 1.0, 3.0)
N_VAL = 20


def resized(img: np.ndarray, scale: float) -> np.ndarray:
    """``img`` (uint8 H, W, 3) resized by ``scale`` with bilinear interpolation in float64 (pixel centres aligned,
    edges clamped), rounded half up: the same pixels on every machine. The test uses this function too."""
    h, w = img.shape[:2]
    nh, nw = int(round(h * scale)), int(round(w * scale))
    ys = np.clip((np.arange(nh) + 0.5) * (h / nh) - 0.5, 0, h - 1)
    xs = np.clip((np.arange(nw) + 0.5) * (w / nw) - 0.5, 0, w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    f = img.astype(np.float64)
    top = f[y0][:, x0] * (1 - fx) + f[y0][:, x1] * fx
    bottom = f[y1][:, x0] * (1 - fx) + f[y1][:, x1] * fx
    return np.floor(top * (1 - fy) + bottom * fy + 0.5).clip(0, 255).astype(np.uint8)


def yolo_dataset(coco_dir: Path, work: Path) -> tuple[Path, list[str]]:
    """The ``objects`` stills as a YOLO dataset (images/{train,val}, labels/{train,val}, data.yaml)."""
    import yaml

    coco = json.loads((coco_dir / "images" / "annotations.json").read_text())
    names = [c["name"] for c in sorted(coco["categories"], key=lambda c: c["id"])]
    cat = {c["id"]: k for k, c in enumerate(sorted(coco["categories"], key=lambda c: c["id"]))}
    images = sorted(coco["images"], key=lambda i: i["file_name"])
    by_image: dict[int, list] = {}
    for a in coco["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    root = work / "yolo"
    for k, im in enumerate(images):
        split = "val" if k >= len(images) - N_VAL else "train"
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        shutil.copy(coco_dir / "images" / im["file_name"], root / "images" / split / im["file_name"])
        rows = []
        for a in by_image.get(im["id"], []):
            x, y, bw, bh = a["bbox"]
            rows.append(f"{cat[a['category_id']]} {(x + bw / 2) / im['width']:.6f} {(y + bh / 2) / im['height']:.6f} "
                        f"{bw / im['width']:.6f} {bh / im['height']:.6f}")
        (root / "labels" / split / (Path(im["file_name"]).stem + ".txt")).write_text("\n".join(rows) + "\n")
    data = root / "data.yaml"
    data.write_text(yaml.safe_dump({"path": str(root), "train": "images/train", "val": "images/val",
                                    "names": dict(enumerate(names))}))
    return data, names


def model_yaml(work: Path, task: str = "detect", nc: int = 3) -> Path:
    """yolo11.yaml (or yolo11-seg.yaml) with ``nc`` classes at width 0.125, depth 0.33, max 256 channels."""
    import ultralytics
    import yaml

    name = "yolo11.yaml" if task == "detect" else f"yolo11-{task}.yaml"
    cfg = yaml.safe_load((Path(ultralytics.__file__).parent / "cfg" / "models" / "11" / name).read_text())
    cfg = copy.deepcopy(cfg)
    cfg["nc"], cfg["scales"] = nc, {"t": [0.33, 0.125, 256]}
    path = work / name.replace("yolo11", "yolo11t")
    path.write_text(yaml.safe_dump(cfg))
    return path


def shift_class_bias(pt: Path, images: list[Path], out: Path, target: float = 0.9) -> float:
    """Add one constant to every class logit's bias of the Detect head so that the median over ``images`` of
    each image's best score becomes ``target``; returns the shift. A model this small, trained for minutes on a CPU, ranks its boxes but
    scores them all below 0.05; shifted, its best boxes pass the 0.25 default and NMS has real work. The order of
    the scores does not change, and the file stays an Ultralytics checkpoint that Ultralytics exports as usual."""
    import math

    import torch
    from ultralytics import YOLO

    model = YOLO(str(pt))
    best = float(np.median([float(r.boxes.conf.max()) if len(r.boxes) else 0.0
                            for r in model.predict([str(i) for i in images], imgsz=IMGSZ, conf=1e-6, verbose=False)]))
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    shift = logit(target) - logit(max(best, 1e-6))
    ckpt = torch.load(pt, map_location="cpu", weights_only=False)
    for key in ("model", "ema"):
        if ckpt.get(key) is not None:
            for branch in ckpt[key].model[-1].cv3:
                branch[-1].bias.data += shift
    torch.save(ckpt, out)
    return shift


def predictions(model_path: Path, frames: dict[str, np.ndarray], imgsz: int, conf: float = 0.25) -> dict[str, dict]:
    """Ultralytics' own predict (its defaults: conf 0.25, IoU 0.7, max_det 300) on each frame, one at a time."""
    from ultralytics import YOLO

    model = YOLO(str(model_path), task="detect")
    out = {}
    for name, rgb in frames.items():
        r = model.predict(np.ascontiguousarray(rgb[..., ::-1]), imgsz=imgsz, conf=conf, verbose=False)[0]   # it takes BGR
        b = r.boxes
        out[name] = {"shape": list(rgb.shape), "xyxy": b.xyxy.cpu().numpy().astype(float).tolist(),
                     "conf": b.conf.cpu().numpy().astype(float).tolist(),
                     "cls": b.cls.cpu().numpy().astype(int).tolist()}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("objects", type=Path, help="a folder made by 'videolens datasets make objects'")
    p.add_argument("-w", "--work", type=Path, default=Path("/tmp/ulwork"), help="scratch folder")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--hours", type=float, default=None, help="train for this long instead (Ultralytics' time=)")
    p.add_argument("-o", "--output", type=Path, default=OUT)
    p.add_argument("--low-conf", type=float, default=0.01, help="the score threshold of the second set of predictions")
    p.add_argument("--shift-scores", action="store_true",
                   help="raise the class scores by one bias shift so a training image's best box scores 0.6 (shift_class_bias)")
    p.add_argument("--weights", type=Path, help="skip training: export this checkpoint of an earlier run "
                                                "(runs/objects/weights/last.pt)")
    args = p.parse_args(argv)
    import cv2
    import ultralytics
    from ultralytics import YOLO

    args.work.mkdir(parents=True, exist_ok=True)
    args.output.mkdir(parents=True, exist_ok=True)
    data, names = yolo_dataset(args.objects, args.work)
    if args.weights is None:
        model = YOLO(str(model_yaml(args.work)), task="detect")
        # Small batches and a short warm-up: many steps in little CPU time (a model from scratch needs steps).
        model.train(data=str(data), epochs=args.epochs, time=args.hours, imgsz=IMGSZ, batch=4, workers=0,
                    device="cpu", seed=0, deterministic=True, pretrained=False, amp=False, plots=False, val=False,
                    optimizer="AdamW", lr0=0.004, warmup_epochs=1, project=str(args.work / "runs"), name="objects",
                    exist_ok=True, verbose=False)
    weights = args.work / "runs" / "objects" / "weights"
    best = args.weights or (weights / "best.pt" if (weights / "best.pt").exists() else weights / "last.pt")
    import torch

    ckpt = torch.load(best, map_location="cpu", weights_only=False)
    train = {k: ckpt.get("train_args", {}).get(k) for k in ("model", "epochs", "time", "batch", "imgsz", "optimizer",
                                                             "lr0", "warmup_epochs", "seed")}
    train["model"] = Path(str(train["model"])).name
    results = best.parent.parent / "results.csv"          # one row per epoch done: epoch, time (s), losses, metrics
    if results.exists():
        import csv

        rows = list(csv.DictReader(results.open()))
        train.update({"epochs_done": len(rows), "seconds": round(float(rows[-1]["time"]), 1),
                      "val_mAP50": float(rows[-1]["metrics/mAP50(B)"])})
    train["images"] = len(list((args.work / "yolo" / "images" / "train").glob("*.jpg")))
    shift = 0.0
    if args.shift_scores:
        train_imgs = sorted((args.work / "yolo" / "images" / "train").glob("*.jpg"))[:20]
        shifted = args.work / "shifted.pt"
        shift = shift_class_bias(best, train_imgs, shifted, target=0.6)
        best = shifted
    files = {}
    for key, kw in (("dynamic", {"dynamic": True}), ("batch4", {"batch": 4})):
        onnx = Path(YOLO(str(best)).export(format="onnx", imgsz=IMGSZ, opset=17, **kw))
        files[key] = f"yolo11t-objects-{key}.onnx"
        shutil.copy(onnx, args.output / files[key])
    seg = YOLO(str(model_yaml(args.work, "seg")), task="segment")
    seg_pt = args.work / "yolo11t-seg.pt"
    seg.save(str(seg_pt))
    onnx = Path(YOLO(str(seg_pt)).export(format="onnx", imgsz=IMGSZ, opset=17))
    files["segment"] = "yolo11t-seg-untrained.onnx"
    shutil.copy(onnx, args.output / files["segment"])

    val = sorted((args.work / "yolo" / "images" / "val").glob("*.jpg"))[:3]
    frames: dict[str, np.ndarray] = {}
    sources = {}
    for img in val:
        rgb = cv2.cvtColor(cv2.imread(str(img)), cv2.COLOR_BGR2RGB)
        png = f"frame-{img.stem}.png"
        cv2.imwrite(str(args.output / png), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        for s in SCALES:
            frames[f"{img.stem}@{s:g}x"] = rgb if s == 1 else resized(rgb, s)
            sources[f"{img.stem}@{s:g}x"] = {"png": png, "scale": s}
    record = {"ultralytics": ultralytics.__version__, "opencv": cv2.__version__, "imgsz": IMGSZ,
              "names": names, "train": {**train, "class_bias_shift": round(shift, 4)},
              "predict": {"conf": 0.25, "iou": 0.7, "max_det": 300, "imgsz": IMGSZ},
              "models": files, "frames": sources,
              "predictions": {key: predictions(args.output / files[key], frames, IMGSZ)
                              for key in ("dynamic", "batch4")},
              # many more boxes, most of them near ties: NMS and the score threshold must agree exactly
              "low_conf": args.low_conf,
              "predictions_low_conf": {key: predictions(args.output / files[key], frames, IMGSZ, args.low_conf)
                                       for key in ("dynamic", "batch4")},
              "command": "YOLO_OFFLINE=1 /tmp/ulvenv/bin/python scripts/make_ultralytics_parity.py OBJECTS"}
    (args.output / "predictions.json").write_text(json.dumps(record, indent=1) + "\n")
    for k, v in record["predictions"].items():
        print(k, {f: len(r["conf"]) for f, r in v.items()}, file=sys.stderr)
    print(f"trained: {train}; wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("YOLO_OFFLINE", "1")
    raise SystemExit(main())
