"""Checkpoint files of the three trainers: written atomically, read safely, refused in one line.

A videolens checkpoint is a plain dict of tensors, numbers, strings, lists and dicts with a ``format`` key that
names its kind, so it loads with ``torch.load(..., weights_only=True)``: a file that would run code when unpickled
is refused, never executed. Inference (detectors, predictors, the shot model, ONNX export) reads checkpoints
through :func:`read_checkpoint`; this module imports torch only inside its functions and nothing of videolens but
``errors`` and ``utils``, so loading a model never drags a trainer in.

>>> save_checkpoint({"format": FORMATS["shot model"], "state_dict": {}}, "last.pt")
>>> read_checkpoint("last.pt", "shot model")["format"]
'videolens.shots/1'
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..errors import VideolensError
from ..utils.files import atomic_path

if TYPE_CHECKING:
    import torch

# The kinds of checkpoint, their ``format`` values (kept as the trainers first wrote them, so old files load) and
# what writes them (named in the error for a file of another kind).
FORMATS = {"action": "videolens.classify/1", "detector": "videolens-detector", "shot model": "videolens.shots/1"}
WRITERS = {"action": "videolens train", "detector": "videolens detect-train", "shot model": "scripts/train_shots.py"}


def save_checkpoint(data: dict, path: str | os.PathLike) -> None:
    """Write ``data`` to ``path`` atomically: a temporary name in the same folder, then a rename, so a killed run
    leaves the previous file whole.

    >>> save_checkpoint({"format": "videolens.shots/1", "state_dict": {}}, "last.pt")
    """
    import torch

    with atomic_path(path) as tmp:
        torch.save(data, tmp)


def copy_checkpoint(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Copy a checkpoint file atomically (``best.pt`` from the ``last.pt`` just written).

    >>> copy_checkpoint("last.pt", "best.pt")
    """
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def load_file(path: str | os.PathLike) -> Any:
    """Whatever ``torch.load(path, weights_only=True)`` gives, on the CPU; any failure to read the file (missing,
    truncated, random bytes, a pickle that would run code) is a one-line :class:`VideolensError` naming it.

    >>> load_file("last.pt")["state_dict"]
    {}
    """
    import torch

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise VideolensError(f"{path}: no such checkpoint")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # torch's notes on pickle protocols: the error below says it all
            return torch.load(path, map_location="cpu", weights_only=True)
    # Broad on purpose: torch's unpickler lets IndexError, KeyError, struct.error... escape on garbage. Only the
    # reading of the user's file is inside this try; nothing of ours runs in it.
    except Exception as e:  # noqa: BLE001
        text = str(e)
        if isinstance(e, pickle.UnpicklingError) and ("GLOBAL" in text or "Unsupported global" in text):
            name = re.search(r"GLOBAL ([\w.]+)", text)
            raise VideolensError(f"{path}: refused: the file would import and run Python code when loaded"
                                 f"{f' ({name.group(1)})' if name else ''}; only plain tensors and values are "
                                 f"accepted") from None
        detail = re.search(r"WeightsUnpickler error:\s*(.+)", text)
        detail = detail.group(1) if detail else next((ln for ln in text.splitlines() if ln.strip()), "")
        detail = detail.strip() or type(e).__name__
        raise VideolensError(f"{path}: not a readable videolens checkpoint (not a PyTorch checkpoint: "
                             f"{detail[:160]})") from None


def read_checkpoint(path: str | os.PathLike, kind: str, require: Iterable[str] = ("state_dict",)) -> dict:
    """The checkpoint dict at ``path`` (a file, or a run folder: its ``best.pt``, else its ``last.pt``) if it is a
    videolens checkpoint of ``kind`` (a key of :data:`FORMATS`) holding the keys in ``require``; else a one-line
    :class:`VideolensError` that says what the file is.

    >>> read_checkpoint("last.pt", "shot model")["state_dict"]
    {}
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        for name in ("best.pt", "last.pt"):
            if os.path.isfile(os.path.join(path, name)):
                return read_checkpoint(os.path.join(path, name), kind, require)
        raise VideolensError(f"{path}: a folder without best.pt or last.pt")
    data = load_file(path)
    fmt = data.get("format") if isinstance(data, dict) else None
    if fmt != FORMATS[kind]:
        other = next((k for k, f in FORMATS.items() if f == fmt), None)
        if other:
            raise VideolensError(f"{path}: a videolens {other} checkpoint, not a {kind} one (written by "
                                 f"'{WRITERS[other]}')")
        import torch

        bare = isinstance(data, dict) and bool(data) and all(isinstance(v, torch.Tensor) for v in data.values())
        what = f"not a videolens {kind} checkpoint (train one with '{WRITERS[kind]}')"
        if bare:
            what = "a state_dict without the model's settings, " + what
        raise VideolensError(f"{path}: {what}")
    missing = [key for key in require if key not in data]
    if missing:
        raise VideolensError(f"{path}: an incomplete videolens {kind} checkpoint (no {', '.join(missing)})")
    return data


def load_weights(model: torch.nn.Module, state_dict: dict, path: str | os.PathLike, name: str) -> torch.nn.Module:
    """``model.load_state_dict(state_dict)``, with weights of another shape reported as the user's file, not as a
    traceback; returns ``model``.

    >>> import torch
    >>> load_weights(torch.nn.Linear(2, 1), {"weight": torch.zeros(1, 2), "bias": torch.zeros(1)}, "x.pt", "linear")
    Linear(in_features=2, out_features=1, bias=True)
    """
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as e:
        # torch's first line only says "Error(s) in loading state_dict for X:"; the next names the first misfit
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()] or [type(e).__name__]
        detail = lines[1] if len(lines) > 1 and lines[0].startswith("Error(s) in loading") else lines[0]
        raise VideolensError(f"{os.fspath(path)}: the weights do not fit model {name!r} ({detail[:160]})") from None
    return model


__all__ = ["FORMATS", "WRITERS", "copy_checkpoint", "load_file", "load_weights", "read_checkpoint",
           "save_checkpoint"]
