"""Temporal families on real footage with a synthetic label (issue 16 part 3): camera pans, tilts and zooms made
by moving a crop window over real frames of ``../shared/data``.

    .venv/bin/python bench/camera_motion.py                      # make the set once, train and test every family
    .venv/bin/python bench/camera_motion.py --models tsn,c3d     # some families

- Classes (7): ``pan_left``, ``pan_right``, ``tilt_up``, ``tilt_down``, ``zoom_in``, ``zoom_out``, ``static``. A clip
  is 16 consecutive frames of one real video, seen through a square window that moves (pan: left or right, tilt: up
  or down, by 25-40 % of the frame), scales about its centre (zoom: by 1.4-1.8x) or stays (static), resized to 64x64.
  The footage moves on its own (people, water, a camera that already pans): only the window's motion is the label.
  As in ``motion``, one frame cannot tell the classes apart, except by chance cues.
- Training clips come from some real videos and test clips from others (:data:`TRAIN_SOURCES`,
  :data:`TEST_SOURCES`), so the test is on footage no model saw. Each family trains with its default recipe
  (``classify.models.RECIPES``) and ``bench/classify.py``'s data settings for ``motion`` (no flips: a flip turns a
  left pan into a right one; no crops; no early stopping), one thread, seed 0.
- What it shows: whether the gap between a 3D CNN and the frame models seen on ``motion`` holds on real pixels, and
  that ``tsn`` (no frame order) cannot tell opposite motions apart.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import time

import numpy as np

from _common import OUT, SHARED, save, table

CLASSES = ("pan_left", "pan_right", "tilt_up", "tilt_down", "zoom_in", "zoom_out", "static")
TRAIN_SOURCES = ("shots/testvideo.mp4", "tracking/PETS09-S2L1/vtest.avi", "actions/kinetics_arm_wrestling.mp4",
                 "shots/issue-134-rotate.mp4")
TEST_SOURCES = ("actions/kinetics_sample.mp4", "actions/ucf_style_sample.avi", "shots/goldeneye-vfr-drop3.mp4")
FRAMES, SIZE, SHORT = 16, 64, 256           # clip length, output size, decode short side
TRAIN_PER_CLASS, TEST_PER_CLASS = 80, 30
FOLDER = OUT / "camera-motion"
VERSION = 1


def window_path(cls: str, rng: np.random.Generator, w: int, h: int, frames: int = FRAMES) -> np.ndarray:
    """``(frames, 3)``: the crop window's centre x, centre y and side in source pixels, per frame."""
    short = min(w, h)
    side = rng.uniform(0.45, 0.6) * short
    t = np.linspace(0.0, 1.0, frames)
    if cls in ("zoom_in", "zoom_out"):
        big = min(side * rng.uniform(1.4, 1.8), short)
        small = big / rng.uniform(1.4, 1.8)
        sides = big * (small / big) ** t if cls == "zoom_in" else small * (big / small) ** t
        cx = rng.uniform(big / 2, w - big / 2)
        cy = rng.uniform(big / 2, h - big / 2)
        return np.stack([np.full(frames, cx), np.full(frames, cy), sides], axis=1)
    cx, cy = rng.uniform(side / 2, w - side / 2), rng.uniform(side / 2, h - side / 2)
    xs, ys = np.full(frames, cx), np.full(frames, cy)
    if cls in ("pan_left", "pan_right", "tilt_up", "tilt_down"):
        length = w if cls.startswith("pan") else h
        travel = min(rng.uniform(0.25, 0.4) * length, length - side)
        start = rng.uniform(side / 2, length - side / 2 - travel)
        forward = cls in ("pan_right", "tilt_down")       # the window moves right / down
        pos = start + travel * (t if forward else 1 - t)
        if cls.startswith("pan"):
            xs = pos
        else:
            ys = pos
    return np.stack([xs, ys, np.full(frames, side)], axis=1)


def crop_clip(frames: np.ndarray, path: np.ndarray) -> np.ndarray:
    import cv2

    out = np.empty((len(frames), SIZE, SIZE, 3), np.uint8)
    for k, (frame, (cx, cy, side)) in enumerate(zip(frames, path)):
        x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
        s = int(round(side))
        x0 = min(max(x0, 0), frame.shape[1] - s)
        y0 = min(max(y0, 0), frame.shape[0] - s)
        out[k] = cv2.resize(frame[y0:y0 + s, x0:x0 + s], (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    return out


def make_set(seed: int = 0) -> str:
    """Write the clips (``CLASS/CLASS_NNNN.mp4``) and ``list.csv`` into :data:`FOLDER` once."""
    from videolens.io.reader import VideoReader
    from videolens.io.writer import VideoWriter

    stamp = FOLDER / "made.json"
    want = {"version": VERSION, "seed": seed, "train": TRAIN_SOURCES, "test": TEST_SOURCES,
            "per_class": [TRAIN_PER_CLASS, TEST_PER_CLASS]}
    if stamp.exists() and json.loads(stamp.read_text()) == json.loads(json.dumps(want)):
        return str(FOLDER / "list.csv")
    missing = [s for s in TRAIN_SOURCES + TEST_SOURCES if not (SHARED / s).exists()]
    if missing:
        raise SystemExit(f"camera_motion needs ../shared/data: missing {missing}")
    rng = np.random.default_rng(seed)
    rows = []
    for split, sources, per_class in (("train", TRAIN_SOURCES, TRAIN_PER_CLASS), ("test", TEST_SOURCES,
                                                                                  TEST_PER_CLASS)):
        decoded = []
        for s in sources:
            with VideoReader(SHARED / s) as r:
                decoded.append(r.get_frames(np.arange(len(r)), size=SHORT))
        for cls in CLASSES:
            (FOLDER / cls).mkdir(parents=True, exist_ok=True)
            for k in range(per_class):
                frames = decoded[k % len(decoded)]
                start = int(rng.integers(0, len(frames) - FRAMES + 1))
                clip = crop_clip(frames[start:start + FRAMES],
                                 window_path(cls, rng, frames.shape[2], frames.shape[1]))
                name = f"{cls}/{cls}_{split}_{k:04d}.mp4"
                with VideoWriter(FOLDER / name, fps=25, size=(SIZE, SIZE), crf=18, preset="veryfast") as wr:
                    for f in clip:
                        wr.write(f)
                rows.append((name, cls, split))
    with open(FOLDER / "list.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "split"])
        w.writerows(rows)
    stamp.write_text(json.dumps(want))
    return str(FOLDER / "list.csv")


PAIRS = (("pan_left", "pan_right"), ("tilt_up", "tilt_down"), ("zoom_in", "zoom_out"))


def main() -> None:
    import classify as bench_classify
    from videolens.classify import evaluate, recipe, train

    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="tsn,c3d,cnn_lstm,cnn_gru,tcn,r2plus1d,transformer")
    ap.add_argument("--seed", type=int, default=0, help="of the clips (the training seed stays 0)")
    args = ap.parse_args()
    data = make_set(args.seed)
    rows = []
    for name in args.models.split(","):
        t, cpu = time.perf_counter(), bench_classify._cpu_seconds()
        r = train(data, name, OUT / "camera-motion-runs" / name, overwrite=True, quiet=True, threads=1, workers=0,
                  cache=str(OUT / "camera-motion-cache"), **bench_classify.TEMPORAL_DATA_SETTINGS)
        cpu = bench_classify._cpu_seconds() - cpu
        e = evaluate(r.best, data, quiet=True)
        pairs = bench_classify.pair_accuracy(e, PAIRS)
        mean_pairs = pairs.pop("mean")
        rows.append({"model": name, "test_top1": round(e.top1, 3), "pairs": mean_pairs,
                     **pairs, "best_val": round(r.best_val_acc, 3), "train_cpu_s": round(cpu), "recipe": recipe(name)})
        print(f"  {name}: test top-1 {e.top1:.3f}, pairs {pairs}, {time.perf_counter() - t:.0f} s", flush=True)
    cols = ["model", "test_top1", "pairs", *[f"{a}/{b}" for a, b in PAIRS], "best_val", "train_cpu_s"]
    print(table(rows, cols))
    print(f"chance: {1 / len(CLASSES):.3f}; {math.nan if not rows else len(rows)} families; data {data}")
    print("results:", save("camera-motion", {"classes": CLASSES, "train_sources": TRAIN_SOURCES,
                                            "test_sources": TEST_SOURCES, "rows": rows}))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
