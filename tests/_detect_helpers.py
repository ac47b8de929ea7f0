"""Shared pieces of the detection tests: a tiny objects dataset and a tiny yolo trained on it (made once)."""

from __future__ import annotations

import os
from pathlib import Path


def tiny_objects(base: Path) -> Path:
    """40 still images (160x120) and a 48-frame video of the synthetic ``objects`` set (a few seconds to make)."""
    from videolens.datasets import make_dataset

    out = base / "tiny_objects"
    if not (out / "images" / "annotations.json").exists():
        make_dataset("objects", out, seed=3, num=1, frames=48, size=(160, 120), images=40, progress=False)
    return out


def tiny_yolo(base: Path) -> Path:
    """A yolo trained for a few iterations on :func:`tiny_objects` (its detections are poor, its files real)."""
    from videolens.detect.train import TrainConfig, train

    data = tiny_objects(base)
    run = base / "tiny_yolo"
    if not (run / "best.pt").exists():
        train(TrainConfig(data=os.fspath(data / "images" / "annotations.json"), output=os.fspath(run), epochs=2,
                          batch_size=8, imgsz=160, quiet=True, seed=0, val_fraction=0.2))
    return run / "best.pt"
