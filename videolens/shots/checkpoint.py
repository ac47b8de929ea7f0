"""ShotNet's files: training checkpoints and ONNX weights in, the checked ONNX model out.

Detection itself runs the exported ``weights/shotnet.onnx`` in ONNX Runtime and needs none of this; these are for
``scripts/train_shots.py`` (export after training) and ``scripts/reexport_shots.py`` (a new graph for shipped
weights). Checkpoints are read through :mod:`videolens.train.checkpoint`, which imports no trainer.

>>> net = load_checkpoint("runs/shots/train/best.pt")                       # doctest: +SKIP
>>> export(net, "shotnet.onnx", {"command": "..."})["max_abs_diff_vs_torch"] < 1e-3   # doctest: +SKIP
True
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..train.checkpoint import FORMATS, load_weights, read_checkpoint

if TYPE_CHECKING:
    from .model import ShotNet

FORMAT = FORMATS["shot model"]


def from_config(cfg: dict | None) -> ShotNet:
    """An untrained ShotNet of the shape a checkpoint's or a sidecar's ``config`` records (defaults if None).

    >>> from_config({"hidden": 64}).config["hidden"]
    64
    """
    from .model import ShotNet

    cfg = cfg or {}
    return ShotNet(widths=tuple(cfg.get("widths", (4, 8, 16))), hidden=int(cfg.get("hidden", 128)),
                   neighbours=int(cfg.get("neighbours", 12)))


def load_checkpoint(path: str | os.PathLike) -> ShotNet:
    """A ShotNet in eval mode from a checkpoint written by :func:`videolens.shots.train.train` (a ``.pt`` file or
    its run folder), read with ``weights_only=True``; anything else is a one-line
    :class:`~videolens.errors.VideolensError`."""
    data = read_checkpoint(path, "shot model", require=("state_dict", "config"))
    return load_weights(from_config(data["config"]), data["state_dict"], path, "ShotNet").eval()


def load_onnx_weights(path: str | os.PathLike, config: dict | None = None) -> ShotNet:
    """A ShotNet with the weights of an exported ``shotnet.onnx``: how a shipped model is re-exported when only the
    graph changes (e.g. a faster but equivalent operator), without retraining.

    The linear layers' weights are stored transposed, as ``MatMul`` inputs; each is named here by the bias added
    to its product.
    """
    import onnx
    import torch
    from onnx import numpy_helper

    model = onnx.load(str(path))
    weights = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    state = {k: torch.from_numpy(v.copy()) for k, v in weights.items() if not k.startswith("onnx::")}
    for node in model.graph.node:
        if node.op_type == "MatMul" and node.input[1] in weights:
            adds = [n for n in consumers.get(node.output[0], []) if n.op_type == "Add"]
            bias = [i for n in adds for i in n.input if i.endswith(".bias") and i in weights]
            if len(bias) != 1:
                raise ValueError(f"{path}: cannot tell which layer MatMul {node.name} belongs to")
            state[bias[0][:-len(".bias")] + ".weight"] = torch.from_numpy(weights[node.input[1]].T.copy())
    net = from_config(config)
    net.load_state_dict(state)
    return net.eval()


def export(net: ShotNet, path: str | os.PathLike, meta: dict | None = None) -> dict:
    """Write ``net`` as ONNX at ``path`` (atomically) and check ONNX Runtime reproduces PyTorch's outputs.

    A JSON sidecar with ``meta`` (training command, data, scores) goes next to it. Returns the check's numbers.
    """
    import onnxruntime as ort
    import torch

    from ..utils.files import atomic_path, write_text
    from .model import HEIGHT, WIDTH, export_onnx

    path = Path(path)
    with atomic_path(path) as tmp:
        export_onnx(net, tmp)
        x = np.random.default_rng(0).integers(0, 256, (1, 150, HEIGHT, WIDTH, 3), dtype=np.uint8)
        ref = net.eval()(torch.from_numpy(x)).detach().numpy()
        got = ort.InferenceSession(tmp, providers=["CPUExecutionProvider"]).run(None, {"frames": x})[0]
        err = float(np.abs(ref - got).max())
        if err > 1e-3:
            raise RuntimeError(f"ONNX Runtime differs from PyTorch by {err}")
    info = {"max_abs_diff_vs_torch": err, "bytes": path.stat().st_size,
            "params": int(sum(p.numel() for p in net.parameters())), "config": net.config, **(meta or {})}
    write_text(path.with_suffix(".json"), json.dumps(info, indent=1) + "\n")
    return info


__all__ = ["FORMAT", "export", "from_config", "load_checkpoint", "load_onnx_weights"]
