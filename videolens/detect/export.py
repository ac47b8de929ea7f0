"""``videolens detect-export``: a ``yolo`` checkpoint to ONNX, in the layout Ultralytics exports.

The graph takes ``images (1, 3, S, S)`` (RGB in ``[0, 1]``, letterboxed with grey 114) and returns
``output0 (1, 4 + C, N)``: box centre, width, height in input pixels, then class scores. The metadata holds
``names`` (a Python dict literal), ``imgsz``, ``stride``, ``task``, as Ultralytics writes them, so the file runs
with ``videolens detect --model onnx:FILE`` and with any tool made for Ultralytics' ONNX files.

>>> export_onnx("runs/shapes/best.pt", "shapes.onnx")         # doctest: +SKIP
'shapes.onnx'
"""

from __future__ import annotations

import datetime
import os

import torch
from torch import nn

from .._version import __version__
from ..errors import VideolensError
from ..utils.files import atomic_path


class UltralyticsLayout(nn.Module):
    """Wraps a :class:`~videolens.detect.yolo.YoloNet`: ``(B, A, 4 + C)`` xyxy + logits -> ``(B, 4 + C, A)``
    cxcywh + sigmoid scores."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        out = self.net(images)
        xy1, xy2 = out[..., :2], out[..., 2:4]
        boxes = torch.cat([(xy1 + xy2) / 2, xy2 - xy1], -1)
        return torch.cat([boxes, out[..., 4:].sigmoid()], -1).transpose(1, 2)


def add_ultralytics_metadata(path: str, names: list[str], imgsz: int | tuple[int, int], stride: int = 32,
                             description: str = "videolens yolo", author: str = "videolens") -> None:
    """Write Ultralytics' metadata keys into an ONNX file (values are Python literals as strings, as there)."""
    import onnx

    model = onnx.load(path)
    size = [int(imgsz), int(imgsz)] if isinstance(imgsz, int) else [int(v) for v in imgsz]
    meta = {"description": description, "author": author, "date": datetime.datetime.now().isoformat(),
            "version": __version__, "stride": int(stride), "task": "detect", "batch": 1, "imgsz": size,
            "names": {i: n for i, n in enumerate(names)}, "channels": 3}
    del model.metadata_props[:]
    for k, v in meta.items():
        p = model.metadata_props.add()
        p.key, p.value = k, str(v)
    onnx.save(model, path)


def export_onnx(checkpoint: str | os.PathLike, output: str | os.PathLike, imgsz: int | None = None,
                opset: int = 17, overwrite: bool = True) -> str:
    """Export a ``detect-train`` ``yolo`` checkpoint to ONNX (Ultralytics layout); returns the output path."""
    from .train import load_checkpoint, model_from_checkpoint

    ckpt = load_checkpoint(checkpoint)
    if ckpt["model"] != "yolo":
        raise VideolensError(f"{checkpoint}: a {ckpt['model']} checkpoint; ONNX export supports yolo checkpoints")
    model = model_from_checkpoint(ckpt)
    size = int(imgsz or ckpt["preprocess"]["imgsz"])
    if size % 32:
        raise VideolensError(f"--imgsz {size}: must be a multiple of 32")
    wrapper = UltralyticsLayout(model.net).eval()
    output = os.fspath(output)
    with atomic_path(output, overwrite) as tmp, torch.no_grad():
        torch.onnx.export(wrapper, (torch.zeros(1, 3, size, size),), tmp, input_names=["images"],
                          output_names=["output0"], opset_version=opset, dynamo=False)
        add_ultralytics_metadata(tmp, ckpt["class_names"], size)
    return output
