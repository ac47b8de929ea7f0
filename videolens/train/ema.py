"""An exponential moving average of a model's weights, ramped up early (YOLO's ``ModelEMA``).

The average is what detection evaluates and saves: it is smoother than the last step's weights.

>>> import torch
>>> net = torch.nn.Linear(2, 1)
>>> ema = EMA(net, tau=10)
>>> ema.update(net); ema.updates
1
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


class EMA:
    """``module``: a frozen copy of the model holding the average; the decay rises from 0 towards ``decay`` with
    time constant ``tau`` (in updates), so the first steps' weights do not linger."""

    def __init__(self, model: torch.nn.Module, decay: float = 0.9999, tau: float = 2000.0):
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.decay, self.tau, self.updates = decay, tau, 0

    def update(self, model: torch.nn.Module) -> None:
        """Blend ``model``'s current weights into the average; integer buffers (counters) are copied."""
        import torch

        with torch.no_grad():
            self.updates += 1
            d = self.decay * (1 - math.exp(-self.updates / self.tau))
            msd = model.state_dict()
            for k, v in self.module.state_dict().items():
                if v.dtype.is_floating_point:
                    v.mul_(d).add_(msd[k].detach(), alpha=1 - d)
                else:
                    v.copy_(msd[k])


__all__ = ["EMA"]
