"""Export facenet-pytorch's MTCNN weights (P-, R- and O-Net) to the ONNX files in videolens/detect/weights/.

The shipped files were written by exactly this command, from the repository root:

    .venv/bin/python scripts/export_mtcnn.py

The weights are those inside the ``facenet-pytorch==2.5.3`` wheel (MIT licence; converted there from the original
MTCNN Caffe models of Zhang et al., 2016, via davidsandberg/facenet). videolens runs them in ONNX Runtime
(:mod:`videolens.detect.mtcnn`), which is several times faster on CPU than the PyTorch pipeline and keeps torch out of
``videolens analyze``. The script checks that ONNX Runtime reproduces PyTorch's outputs before it writes anything.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch
from facenet_pytorch.models.mtcnn import ONet, PNet, RNet

OUT = Path(__file__).resolve().parent.parent / "videolens" / "detect" / "weights"


def export(model: torch.nn.Module, example: torch.Tensor, names: list[str], dst: Path, dynamic_hw: bool) -> None:
    import onnxruntime as ort

    axes = {"input": {0: "batch", 2: "height", 3: "width"} if dynamic_hw else {0: "batch"}}
    axes.update({n: {0: "batch"} for n in names})
    tmp = dst.with_suffix(".partial.onnx")
    torch.onnx.export(model, example, str(tmp), input_names=["input"], output_names=names, dynamic_axes=axes,
                      opset_version=17, dynamo=False)
    session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    for shape in ([3, *example.shape[1:]], [1, 3, 97, 131]) if dynamic_hw else ([5, *example.shape[1:]],):
        x = torch.randn(*shape)
        with torch.no_grad():
            ref = model(x)
        got = session.run(names, {"input": x.numpy()})
        for r, g in zip(ref, got):
            err = float(np.abs(r.numpy() - g).max())
            if err > 1e-4:
                raise SystemExit(f"{dst.name}: ONNX Runtime differs from PyTorch by {err}")
    os.replace(tmp, dst)
    print(f"{dst}: {dst.stat().st_size / 1e3:.0f} kB")


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    export(PNet().eval(), torch.randn(1, 3, 64, 80), ["reg", "prob"], OUT / "mtcnn_pnet.onnx", dynamic_hw=True)
    export(RNet().eval(), torch.randn(2, 3, 24, 24), ["reg", "prob"], OUT / "mtcnn_rnet.onnx", dynamic_hw=False)
    export(ONet().eval(), torch.randn(2, 3, 48, 48), ["reg", "landmarks", "prob"], OUT / "mtcnn_onet.onnx",
           dynamic_hw=False)


if __name__ == "__main__":
    main()
