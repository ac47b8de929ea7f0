"""Checkpoints: everything ``predict``, ``evaluate``, ``export`` and ``--resume`` need, in one ``.pt`` file.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, read by
:func:`videolens.train.checkpoint.read_checkpoint` with ``weights_only=True``: a file that tries to run code when
unpickled is refused, never executed.

Keys: ``format``, ``model`` (``name``, ``num_classes``, ``frames``, ``size``, ``args``), ``state_dict``, ``classes``,
``preprocessing`` (:class:`~videolens.classify.transforms.Preprocessing` as a dict), ``metrics``, ``history``,
``config`` (the training settings), ``epoch``, ``splits`` and, for resuming, ``optimizer``, ``scheduler``,
``scaler``, ``rng`` and ``early_stop``.

>>> ckpt = load_checkpoint("runs/c3d/best.pt")          # doctest: +SKIP
>>> ckpt.classes[:2], ckpt.preprocessing.frames         # doctest: +SKIP
(['move_left', 'move_right'], 16)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ..train.checkpoint import FORMATS, load_weights
from ..train.checkpoint import read_checkpoint as _read
from .models import create_model
from .transforms import Preprocessing

FORMAT = FORMATS["action"]


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model (in eval mode, on ``device``) and how to feed it."""

    path: str
    model: torch.nn.Module
    classes: list[str]
    preprocessing: Preprocessing
    data: dict          # the raw checkpoint dict (metrics, config, history, ...)

    @property
    def name(self) -> str:
        return self.data["model"]["name"]

    @property
    def metrics(self) -> dict:
        return self.data.get("metrics", {})


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The checkpoint dict (of a file, or of a run folder's ``best.pt`` / ``last.pt``), loaded with
    ``weights_only=True``; a clear one-line error for anything else."""
    return _read(path, "action", require=("state_dict", "model", "classes", "preprocessing"))


def model_from(data: dict, path: str = "checkpoint") -> torch.nn.Module:
    m = data["model"]
    model = create_model(m["name"], m["num_classes"], m["frames"], m["size"], pretrained=False, **m.get("args", {}))
    return load_weights(model, data["state_dict"], path, m["name"])


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint written by ``videolens train``: the model in eval mode on ``device``, classes and
    preprocessing. Raises :class:`~videolens.errors.VideolensError` for anything that is not one."""
    from ..utils.device import resolve_device

    data = read_checkpoint(path)
    device = resolve_device(device) if isinstance(device, str) else device
    model = model_from(data, os.fspath(path)).to(device).eval()
    return Checkpoint(os.fspath(path), model, list(data["classes"]), Preprocessing.from_dict(data["preprocessing"]),
                      data)


__all__ = ["FORMAT", "Checkpoint", "load_checkpoint", "read_checkpoint"]
