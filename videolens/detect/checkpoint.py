"""Reading ``detect-train`` checkpoints for inference (``videolens detect``, ``detect-eval``, ONNX export, resume).

A checkpoint holds ``format``, ``model`` (the architecture's name), ``config`` (its settings), ``class_names``,
``preprocess`` (``imgsz``, letterbox), ``state_dict`` (the averaged weights inference uses), ``metrics``, ``history``
and, for ``--resume``, ``train_state``. Reading goes through :mod:`videolens.train.checkpoint`, which imports no
trainer.

>>> ckpt = load_checkpoint("runs/shapes/best.pt")                     # doctest: +SKIP
>>> model_from_checkpoint(ckpt, "runs/shapes/best.pt").name           # doctest: +SKIP
'yolo'
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..train.checkpoint import FORMATS, load_weights, read_checkpoint

if TYPE_CHECKING:
    from .models import DetectorModel

FORMAT = FORMATS["detector"]


def load_checkpoint(path: str | os.PathLike) -> dict:
    """The checkpoint dict of a ``detect-train`` run (a ``.pt`` file, or a run folder: its ``best.pt``), read with
    ``weights_only=True``; anything else is a one-line :class:`~videolens.errors.VideolensError`."""
    return read_checkpoint(path, "detector", require=("model", "config", "class_names", "preprocess", "state_dict"))


def model_from_checkpoint(ckpt: dict, path: str | os.PathLike = "checkpoint") -> DetectorModel:
    """The :class:`~videolens.detect.models.DetectorModel` of a checkpoint dict, with its weights, in eval mode."""
    from .models import build_model

    config = dict(ckpt["config"])
    model = build_model(ckpt["model"], num_classes=config.pop("num_classes"), **config)
    return load_weights(model, ckpt["state_dict"], path, ckpt["model"]).eval()


__all__ = ["FORMAT", "load_checkpoint", "model_from_checkpoint"]
