"""The space-time Transformer of the model zoo (``transformer``): TimeSformer-style divided attention over patch
tokens, with a linear or convolutional patch stem (:mod:`videolens.classify.models` registers it)."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import VideolensError
from .models import diff_order, input_channels, with_differences


class _DividedBlock(nn.Module):
    """TimeSformer's divided attention: each patch attends over time, then each frame over space, then an MLP."""

    def __init__(self, dim: int, heads: int, mlp: float = 2.0, dropout: float = 0.0):
        super().__init__()
        self.norm_t, self.norm_s, self.norm_m = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn_t = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.attn_s = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(dim, int(dim * mlp)), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(int(dim * mlp), dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, n, d = (int(v) for v in x.shape[1:])   # only the batch stays dynamic in an exported graph
        xt = x.transpose(1, 2).reshape(-1, t, d)                        # one sequence per patch position
        h = self.norm_t(xt)
        xt = xt + self.attn_t(h, h, h, need_weights=False)[0]
        xs = xt.reshape(-1, n, t, d).transpose(1, 2).reshape(-1, n, d)  # one sequence per frame
        h = self.norm_s(xs)
        xs = xs + self.attn_s(h, h, h, need_weights=False)[0]
        xs = xs + self.mlp(self.norm_m(xs))
        return xs.reshape(-1, t, n, d)


def _conv_stem(channels: int, dim: int, patch: int) -> nn.Module:
    """Tokens from stacked 3x3 convolutions (BN, ReLU, 2x2 max pooling) instead of one linear patch projection.

    Why: a linear patch embedding leaves all the spatial inductive bias to attention, which ~1k training clips do not
    teach (the plain transformer stayed near chance on ``motion``); a conv stem gives ViTs the locality of a CNN
    and trains far more easily (Xiao et al., "Early convolutions help transformers see better", 2021).
    """
    steps = patch.bit_length() - 1
    if patch < 2 or 1 << steps != patch:
        raise VideolensError(f"transformer: stem='conv' needs a patch size that is a power of 2, not {patch}")
    layers: list[nn.Module] = []
    cin = channels
    for k in range(steps):   # the first conv at full resolution: small motions survive until they are seen
        cout = dim if k == steps - 1 else max(16, dim >> (steps - 1 - k))
        layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                   nn.MaxPool2d(2)]
        cin = cout
    layers.append(nn.Conv2d(dim, dim, 1))   # a linear projection after the last ReLU, as a patch embedding is
    return nn.Sequential(*layers)


class SpaceTimeTransformer(nn.Module):
    """A small TimeSformer: non-overlapping patches per frame, learned space and time position embeddings,
    ``depth`` blocks of divided space-time attention, mean of all tokens, linear classifier.

    ``stem="conv"``: tokens from a small conv stem (:func:`_conv_stem`) instead of a linear patch projection;
    ``diff=True``: every frame comes with its difference to the previous one (:func:`with_differences`), so each
    token carries local motion.
    """

    def __init__(self, num_classes: int, frames: int, size: int, dim: int = 96, depth: int = 4, heads: int = 4,
                 patch: int | None = None, dropout: float = 0.1, stem: str = "patch", diff: int | bool = False):
        super().__init__()
        patch = patch or max(2, size // 8)
        if size % patch:
            raise VideolensError(f"transformer: size {size} is not a multiple of the patch size {patch}")
        grid = size // patch
        channels = input_channels(diff)
        if stem == "patch":
            self.patch_embed = nn.Conv2d(channels, dim, patch, stride=patch)
        elif stem == "conv":
            self.patch_embed = _conv_stem(channels, dim, patch)
        else:
            raise VideolensError(f"transformer: stem must be patch or conv, not {stem!r}")
        self.diff = diff_order(diff)
        self.pos_space = nn.Parameter(torch.zeros(1, 1, grid * grid, dim))
        self.pos_time = nn.Parameter(torch.zeros(1, frames, 1, dim))
        nn.init.trunc_normal_(self.pos_space, std=0.02)
        nn.init.trunc_normal_(self.pos_time, std=0.02)
        self.blocks = nn.ModuleList(_DividedBlock(dim, heads, dropout=dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        self.frames = frames

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = with_differences(x, self.diff)
        c, t, h, w = (int(v) for v in x.shape[1:])
        tokens = self.patch_embed(x.transpose(1, 2).reshape(-1, c, h, w))   # (B*T, D, gh, gw)
        dim, n = int(tokens.shape[1]), int(tokens.shape[2] * tokens.shape[3])
        tokens = tokens.flatten(2).transpose(1, 2).reshape(-1, t, n, dim)
        pos_time = self.pos_time
        if t != self.frames:   # other clip lengths: interpolate the time embedding
            pos_time = nn.functional.interpolate(pos_time[0, :, 0].T[None], size=t, mode="linear",
                                                 align_corners=False)[0].T[None, :, None]
        x = tokens + self.pos_space + pos_time
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x.mean(dim=(1, 2))))
