"""Make ``tests/data/yolo-objects.pt``: the small detector the stored-report tests run ``--objects`` with.

    .venv/bin/python scripts/make_test_detector.py            # about 10 minutes on 2 cores

It generates the synthetic ``objects`` set (seed 11, 3 videos of 60 frames, 150 stills), trains videolens's own
``yolo`` (scale n, 160 px, 12 epochs, seed 0) on the stills, and keeps only what inference reads (the EMA weights
as float16, the model config, class names and preprocessing): about 2.6 MB instead of 21 MB. Its mAP@.5 on its
validation split is about 0.4: good enough to give real, varied boxes and tracks, which is all the tests need.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def strip(checkpoint: Path, target: Path) -> None:
    """Keep the inference part of a detect-train checkpoint, weights as float16, written atomically."""
    import torch

    ck = torch.load(checkpoint, map_location="cpu", weights_only=True)
    keep = {k: ck[k] for k in ("format", "version", "model", "config", "class_names", "preprocess", "epoch",
                               "metrics") if k in ck}
    keep["state_dict"] = {k: v.half() if v.is_floating_point() else v for k, v in ck["state_dict"].items()}
    tmp = target.with_name(f".{target.name}.partial")
    torch.save(keep, tmp)
    os.replace(tmp, target)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", default=str(ROOT / "tests" / "data" / "yolo-objects.pt"))
    args = p.parse_args()
    from videolens.datasets import make_dataset
    from videolens.detect.train import TrainConfig, train

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "objects"
        make_dataset("objects", data, seed=11, num=3, frames=60, progress=True)
        run = Path(tmp) / "yolo"
        train(TrainConfig(data=str(data / "images" / "annotations.json"), model="yolo", output=str(run), epochs=12,
                          batch_size=16, imgsz=160, seed=0))
        strip(run / "best.pt", Path(args.output))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
