"""AdamW's parameter groups and the learning-rate schedule, the same for every trainer.

Weight decay: none on parameters with at most one dimension (biases, the scales and shifts of batch, layer and
group norms, learned scalars), the given rate on everything else. That is the one rule. The classify trainer used
it already; detect also exempted names ending in ``.bias``, which changes nothing (no model here has a bias of more
than one dimension); the shot trainer decayed every parameter and now exempts its biases and norms too.

Schedule: a linear warm-up over ``warmup`` steps, then a half cosine from the base rate down to ``final`` times it
at step ``total`` (``final=0.01`` for detection, as YOLO trains; 0 elsewhere).

>>> [round(lr_factor(s, warmup=2, total=6), 3) for s in range(7)]
[0.5, 1.0, 1.0, 0.854, 0.5, 0.146, 0.0]
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Two AdamW groups of ``model``'s trainable parameters: decayed (2-D and up) and not (0-D and 1-D).

    >>> import torch
    >>> [len(g["params"]) for g in param_groups(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.LayerNorm(2)),
    ...                                         0.05)]
    [1, 3]
    """
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_factor(step: int, warmup: int, total: int, final: float = 0.0) -> float:
    """The multiplier of the base learning rate for optimiser step ``step`` (0-based).

    >>> lr_factor(0, warmup=10, total=100), lr_factor(100, warmup=10, total=100, final=0.01)
    (0.1, 0.01)
    """
    if step < warmup:
        return (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return final + (1 - final) * 0.5 * (1.0 + math.cos(math.pi * t))


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup: int, total: int,
                  final: float = 0.0) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` stepped once per optimiser step with :func:`lr_factor`; its state (``last_epoch``) goes into
    checkpoints, the shape itself is rebuilt from the settings on resume.

    >>> import torch
    >>> opt = torch.optim.AdamW(torch.nn.Linear(2, 2).parameters(), lr=1e-3)
    >>> warmup_cosine(opt, warmup=4, total=100).get_last_lr()
    [0.00025]
    """
    import torch

    # A plain function, not a callable object: LambdaLR would otherwise save its attributes in the checkpoint.
    def factor(step: int) -> float:
        return lr_factor(step, warmup, total, final)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


__all__ = ["lr_factor", "param_groups", "warmup_cosine"]
