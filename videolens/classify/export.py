"""``videolens export``: a checkpoint as an ONNX model with a dynamic batch dimension, checked in ONNX Runtime.

The graph takes ``clips``: float32 ``(batch, 3, frames, size, size)``, normalised as the checkpoint's preprocessing
says, and returns ``logits`` ``(batch, classes)``. The model's metadata holds ``classes`` and ``preprocessing``
(JSON), so an ONNX Runtime user needs nothing else. After writing, the file is run in ONNX Runtime on random clips at
two batch sizes and compared with PyTorch; the largest difference is reported (and must stay below ``tolerance``).

>>> from videolens.classify import export_onnx
>>> export_onnx("runs/c3d/best.pt", "c3d.onnx")["max_abs_diff"] < 1e-4      # doctest: +SKIP
True
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from ..errors import VideolensError
from ..utils.files import atomic_path, check_writable
from .checkpoint import load_checkpoint

FORMATS = ("onnx",)


def export_onnx(checkpoint: str | os.PathLike, output: str | os.PathLike | None = None, *, opset: int = 17,
                tolerance: float = 1e-4, overwrite: bool = False, check: bool = True) -> dict:
    """Export ``checkpoint`` to ``output`` (default: beside it, ``.onnx``); returns a summary with
    ``path``, ``inputs``, ``outputs``, ``classes``, ``opset`` and ``max_abs_diff`` (ORT vs PyTorch)."""
    ckpt = load_checkpoint(checkpoint, "cpu")
    out = Path(output) if output is not None else Path(checkpoint).with_suffix(".onnx")
    if out.is_dir():
        out = out / (Path(checkpoint).stem + ".onnx")
    check_writable(out, overwrite)
    pre = ckpt.preprocessing
    model = ckpt.model.eval()
    example = torch.randn(2, 3, pre.frames, pre.size, pre.size, generator=torch.Generator().manual_seed(0))
    with atomic_path(out) as tmp:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            # The TorchScript-based exporter: it handles LSTM/GRU and attention with a dynamic batch without
            # needing onnxscript.
            torch.onnx.export(model, (example,), tmp, input_names=["clips"], output_names=["logits"],
                              dynamic_axes={"clips": {0: "batch"}, "logits": {0: "batch"}}, opset_version=opset,
                              dynamo=False, do_constant_folding=True)
        _add_metadata(tmp, ckpt)
        diff = verify_onnx(tmp, model, pre) if check else None
        if diff is not None and diff > tolerance:
            raise VideolensError(f"{out}: ONNX Runtime differs from PyTorch by {diff:.2e} (> {tolerance:g}); "
                                 f"not written")
    return {"path": str(out), "model": ckpt.name, "inputs": {"clips": ["batch", 3, pre.frames, pre.size, pre.size]},
            "outputs": {"logits": ["batch", len(ckpt.classes)]}, "classes": ckpt.classes, "opset": opset,
            "max_abs_diff": diff, "bytes": out.stat().st_size}


def _add_metadata(path: str, ckpt) -> None:
    import onnx

    m = onnx.load(path)
    for key, value in (("classes", json.dumps(ckpt.classes)),
                       ("preprocessing", json.dumps(ckpt.preprocessing.to_dict())),
                       ("model", ckpt.name), ("producer", "videolens")):
        entry = m.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(m, path)


def verify_onnx(path: str | os.PathLike, model: torch.nn.Module, pre) -> float:
    """Largest absolute difference of ORT's and PyTorch's logits, on random clips at batch sizes 1 and 3."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    worst = 0.0
    g = torch.Generator().manual_seed(1)
    for batch in (1, 3):
        x = torch.randn(batch, 3, pre.frames, pre.size, pre.size, generator=g)
        with torch.no_grad():
            ref = model(x).numpy()
        got = session.run(["logits"], {"clips": x.numpy()})[0]
        worst = max(worst, float(np.abs(got - ref).max()))
    return worst


__all__ = ["FORMATS", "export_onnx", "verify_onnx"]
