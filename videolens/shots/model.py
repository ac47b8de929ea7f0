"""ShotNet: a small TransNet-style network that predicts, for every frame, whether it belongs to a shot transition.

Only training (``scripts/train_shots.py``) and ONNX export import this module (it needs torch); detection runs the
exported ``weights/shotnet.onnx`` in ONNX Runtime.

The design follows TransNet V2 (Souček and Lokoč, 2020), scaled down to run beside a video decoder on a CPU:

- input: a window of frames decoded at 48x27, ``(B, T, 27, 48, 3)`` uint8 RGB;
- three dilated-convolution blocks (DDCNN): a 3x3 spatial convolution, then four temporal convolutions with
  dilations 1, 2, 4 and 8 frames side by side, each block followed by 2x2 average pooling. They are written as 2D
  convolutions over ``(frames, pixels)`` because ONNX Runtime's 2D kernels are much faster than its 3D ones;
- two similarity features that make abrupt and gradual changes easy to see: the cosine similarity of each frame's
  learned features, and of its 64-bin RGB colour histogram, with the frames up to ``neighbours`` away;
- a small temporal head: per frame, one logit "this frame is part of a transition" (a cut marks the first frame of
  the new shot; a gradual transition all of its frames) and four logits for its type (cut, dissolve, fade, wipe).

The receptive field is about +-27 frames, so inference runs on chunks with ``CONTEXT`` frames of overlap.

>>> import torch
>>> net = ShotNet().eval()
>>> net(torch.zeros(1, 40, 27, 48, 3, dtype=torch.uint8)).shape
torch.Size([1, 40, 5])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

WIDTH, HEIGHT = 48, 27
TYPES = ("cut", "dissolve", "fade", "wipe")
CONTEXT = 32            # frames of context either side that a prediction depends on (receptive field is ~27)


class DDCNN(nn.Module):
    """Spatial 3x3 convolution, then temporal convolutions at several dilations side by side; BN + ReLU."""

    def __init__(self, cin: int, filters: int, dilations: tuple[int, ...] = (1, 2, 4, 8)):
        super().__init__()
        self.spatial = nn.Conv2d(cin, 2 * filters, 3, padding=1)
        self.temporal = nn.ModuleList(
            nn.Conv2d(2 * filters, filters, (3, 1), dilation=(d, 1), padding=(d, 0), bias=False) for d in dilations)
        self.bn = nn.BatchNorm2d(filters * len(dilations))

    def forward(self, x: torch.Tensor, b: int, t: int) -> torch.Tensor:
        # x: (B*T, C, H, W) -> (B*T, C', H, W)
        s = F.relu(self.spatial(x))   # no batch norm here: at 48x27 it costs a third of a training step
        _, c, h, w = s.shape
        s = s.reshape(b, t, c, h * w).transpose(1, 2)                 # (B, C, T, HW): time is a 2D axis
        y = F.relu(self.bn(torch.cat([conv(s) for conv in self.temporal], 1)))
        return y.transpose(1, 2).reshape(b * t, y.shape[1], h, w)


def _neighbour_similarity(feat: torch.Tensor, k: int) -> torch.Tensor:
    """``(B, T, D)`` unit vectors -> ``(B, T, 2k+1)`` dot products with the frames ``-k .. k`` away (0 outside)."""
    t = feat.shape[1]
    padded = F.pad(feat, (0, 0, k, k))
    return torch.stack([(feat * padded[:, d:d + t]).sum(-1) for d in range(2 * k + 1)], dim=-1)


class ShotNet(nn.Module):
    """Per-frame transition logits for a window of 48x27 frames; see the module docstring."""

    def __init__(self, widths: tuple[int, ...] = (4, 8, 16), hidden: int = 128, neighbours: int = 12):
        super().__init__()
        self.config = {"widths": list(widths), "hidden": hidden, "neighbours": neighbours}
        self.blocks = nn.ModuleList()
        cin = 3
        for f in widths:
            self.blocks.append(DDCNN(cin, f))
            cin = 4 * f
        h, w = HEIGHT, WIDTH
        for _ in widths:
            h, w = h // 2, w // 2
        self.neighbours = neighbours
        self.fc = nn.Linear(cin * h * w, hidden)
        self.embed = nn.Linear(4 * sum(widths), 64)
        self.sim_fc = nn.Linear(2 * neighbours + 1, 32)
        self.hist_fc = nn.Linear(2 * neighbours + 1, 32)
        self.head = nn.Conv1d(hidden + 64, 64, 3, padding=1)
        self.out = nn.Conv1d(64, 1 + len(TYPES), 1)

    def _histogram(self, frames: torch.Tensor) -> torch.Tensor:
        """64-bin RGB histogram (4 levels per channel) of each frame, L2-normalised: ``(B, T, 64)``.

        One scatter-add of each pixel's bin index: in ONNX Runtime a third of the network's time went to the
        one-hot products this replaced (same counts, bit for bit).
        """
        b, t = frames.shape[:2]
        q = torch.div(frames.reshape(b * t, -1, 3).long(), 64, rounding_mode="floor")    # (N, P, 3) in 0..3
        bins = q[:, :, 0] * 16 + q[:, :, 1] * 4 + q[:, :, 2]                              # (N, P) in 0..63
        ones = torch.ones(bins.shape, dtype=torch.float32, device=frames.device)
        hist = torch.zeros(b * t, 64, dtype=torch.float32, device=frames.device).scatter_add(1, bins, ones)
        return F.normalize(hist, dim=-1).reshape(b, t, 64)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """``(B, T, 27, 48, 3)`` uint8 -> ``(B, T, 5)`` logits: transition, then cut/dissolve/fade/wipe."""
        b, t = frames.shape[0], frames.shape[1]
        x = frames.reshape(b * t, HEIGHT, WIDTH, 3).permute(0, 3, 1, 2).float() / 255.0
        pooled = []
        for block in self.blocks:
            x = block(x, b, t)
            pooled.append(x.mean(dim=(2, 3)))
            x = F.avg_pool2d(x, 2)
        trunk = F.relu(self.fc(x.reshape(b, t, -1)))
        emb = F.normalize(self.embed(torch.cat(pooled, 1).reshape(b, t, -1)), dim=-1)
        sim = F.relu(self.sim_fc(_neighbour_similarity(emb, self.neighbours)))
        hist = F.relu(self.hist_fc(_neighbour_similarity(self._histogram(frames), self.neighbours)))
        y = torch.cat([trunk, sim, hist], -1).transpose(1, 2)                         # (B, C, T)
        y = F.relu(self.head(y))
        return self.out(y).transpose(1, 2)


def export_onnx(net: ShotNet, path: str, frames: int = 96) -> None:
    """Write ``net`` as ONNX (input ``frames``: ``(1, T, 27, 48, 3)`` uint8, output ``logits``: ``(1, T, 5)``)."""
    import warnings

    net = net.eval()
    dummy = torch.randint(0, 256, (1, frames, HEIGHT, WIDTH, 3), dtype=torch.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # the TorchScript exporter's notes on constant folding and deprecation
        torch.onnx.export(net, (dummy,), path, input_names=["frames"], output_names=["logits"],
                          dynamic_axes={"frames": {1: "T"}, "logits": {1: "T"}}, opset_version=17, dynamo=False)
