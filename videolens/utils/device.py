"""Choosing the torch device: CUDA, then Apple MPS, then CPU."""

from __future__ import annotations

from ..errors import VideolensError


def resolve_device(name: str = "auto"):
    """``auto`` picks cuda, then mps, then cpu; an explicit device that is not available is a clear error.

    >>> str(resolve_device("cpu"))
    'cpu'
    """
    import torch

    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise VideolensError(f"--device {name}: CUDA is not available on this machine (use --device cpu or auto)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise VideolensError("--device mps: Apple MPS is not available on this machine (use --device cpu or auto)")
    try:
        return torch.device(name)
    except RuntimeError:
        raise VideolensError(f"--device {name}: unknown device (use auto, cpu, cuda or mps)") from None
