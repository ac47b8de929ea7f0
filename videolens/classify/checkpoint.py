"""Checkpoints: everything ``predict``, ``evaluate``, ``export`` and ``--resume`` need, in one ``.pt`` file.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so it loads with
``torch.load(..., weights_only=True)``: a file that tries to run code when unpickled is refused, never executed.

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
import pickle
import re
import warnings
import zipfile
from dataclasses import dataclass

import torch

from ..errors import VideolensError
from ..utils.files import atomic_path
from .models import create_model
from .transforms import Preprocessing

FORMAT = "videolens.classify/1"


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


def save_checkpoint(data: dict, path: str | os.PathLike) -> None:
    """Write ``data`` to ``path`` atomically (temp name in the same folder, then rename)."""
    with atomic_path(path) as tmp:
        torch.save(data, tmp)


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The checkpoint dict, loaded with ``weights_only=True``; a clear one-line error for anything else."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise VideolensError(f"{path}: no such checkpoint")
    if os.path.isdir(path):
        for name in ("best.pt", "last.pt"):
            if os.path.isfile(os.path.join(path, name)):
                return read_checkpoint(os.path.join(path, name))
        raise VideolensError(f"{path}: a folder without best.pt or last.pt")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # torch's notes on pickle protocols: the error below says it all
            data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        text = str(e)
        if "GLOBAL" in text or "Unsupported global" in text:
            name = re.search(r"GLOBAL ([\w.]+)", text)
            raise VideolensError(f"{path}: refused: the file would import and run Python code when loaded"
                                 f"{f' ({name.group(1)})' if name else ''}; only plain tensors and values are "
                                 f"accepted") from None
        detail = re.search(r"WeightsUnpickler error:\s*(.+)", text)
        detail = detail.group(1).strip() if detail else (text.strip().splitlines() or ["unreadable"])[0]
        raise VideolensError(f"{path}: not a PyTorch checkpoint ({detail[:160]})") from None
    except (RuntimeError, zipfile.BadZipFile, EOFError, OSError, ValueError, AttributeError, KeyError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise VideolensError(f"{path}: not a PyTorch checkpoint ({first[:160]})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or "state_dict" not in data:
        kind = "a state_dict without the model's settings" if isinstance(data, dict) and data and all(
            isinstance(v, torch.Tensor) for v in data.values()) else "not a videolens action checkpoint"
        raise VideolensError(f"{path}: {kind} (train one with 'videolens train')")
    return data


def model_from(data: dict, path: str = "checkpoint") -> torch.nn.Module:
    m = data["model"]
    model = create_model(m["name"], m["num_classes"], m["frames"], m["size"], pretrained=False, **m.get("args", {}))
    try:
        model.load_state_dict(data["state_dict"])
    except RuntimeError as e:
        raise VideolensError(f"{path}: the weights do not fit model {m['name']!r} "
                             f"({str(e).splitlines()[0][:160]})") from None
    return model


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint written by ``videolens train``: the model in eval mode on ``device``, classes and
    preprocessing. Raises :class:`~videolens.errors.VideolensError` for anything that is not one."""
    from ..utils.device import resolve_device

    data = read_checkpoint(path)
    device = resolve_device(device) if isinstance(device, str) else device
    model = model_from(data, os.fspath(path)).to(device).eval()
    return Checkpoint(os.fspath(path), model, list(data["classes"]), Preprocessing.from_dict(data["preprocessing"]),
                      data)


__all__ = ["FORMAT", "Checkpoint", "load_checkpoint", "read_checkpoint", "save_checkpoint"]
