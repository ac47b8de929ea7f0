"""``yolo``: a compact anchor-free one-stage detector, small enough to train from scratch on a CPU.

The layout is the YOLOv8 family's, scaled down: a CSP backbone (C2f blocks, SPPF), a PAN neck, and a decoupled head
per stride (8, 16, 32) with separate box and class branches. Each cell of a stride predicts the distances from its
centre to the four sides of a box, and one score per class (no objectness). Training assigns cells to boxes with
YOLOv8's task-aligned assigner (top-k cells inside a box by ``score^0.5 * IoU^6``) and minimises
``7.5 * (1 - GIoU) + 0.5 * BCE`` against IoU-scaled class targets. Inference letterboxes the input and runs
class-wise NMS from ``torchvision.ops``.

>>> model = YoloNet(num_classes=3, scale="n")
>>> out = model(torch.zeros(1, 3, 320, 320))
>>> tuple(out.shape)                     # (batch, cells, 4 box + 3 classes): 40*40 + 20*20 + 10*10 cells
(1, 2100, 7)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import batched_nms, generalized_box_iou_loss

# (width of the five stages, C2f repeats of the middle stages)
SCALES = {"n": ((16, 32, 64, 96, 128), 1), "s": ((24, 48, 96, 160, 224), 1), "m": ((32, 64, 128, 224, 320), 2)}
STRIDES = (8, 16, 32)


class Conv(nn.Sequential):
    """Conv2d + BatchNorm + SiLU."""

    def __init__(self, c_in: int, c_out: int, k: int = 3, s: int = 1):
        super().__init__(nn.Conv2d(c_in, c_out, k, s, k // 2, bias=False), nn.BatchNorm2d(c_out), nn.SiLU(inplace=True))


class Bottleneck(nn.Module):
    def __init__(self, c: int, shortcut: bool = True):
        super().__init__()
        self.cv1, self.cv2 = Conv(c, c, 3), Conv(c, c, 3)
        self.add = shortcut

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    """CSP block: split, run ``n`` bottlenecks on one half, concatenate every intermediate output."""

    def __init__(self, c_in: int, c_out: int, n: int = 1, shortcut: bool = True):
        super().__init__()
        self.c = c_out // 2
        self.cv1 = Conv(c_in, 2 * self.c, 1)
        self.cv2 = Conv((2 + n) * self.c, c_out, 1)
        self.m = nn.ModuleList(Bottleneck(self.c, shortcut) for _ in range(n))

    def forward(self, x):
        y = list(self.cv1(x).chunk(2, 1))
        for m in self.m:
            y.append(m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    """Spatial pyramid pooling (fast): three chained 5x5 max-pools, concatenated."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        c = c_in // 2
        self.cv1, self.cv2 = Conv(c_in, c, 1), Conv(4 * c, c_out, 1)
        self.pool = nn.MaxPool2d(5, 1, 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.pool(x)
        y2 = self.pool(y1)
        return self.cv2(torch.cat([x, y1, y2, self.pool(y2)], 1))


class Head(nn.Module):
    """Decoupled head for one stride: a box branch (4 distances) and a class branch."""

    def __init__(self, c_in: int, num_classes: int, stride: int, c_box: int, c_cls: int):
        super().__init__()
        self.box = nn.Sequential(Conv(c_in, c_box), Conv(c_box, c_box), nn.Conv2d(c_box, 4, 1))
        self.cls = nn.Sequential(Conv(c_in, c_cls), Conv(c_cls, c_cls), nn.Conv2d(c_cls, num_classes, 1))
        self.stride = stride
        # Start with boxes about 3 strides wide and class scores of about 0.01 (RetinaNet's prior), which keeps
        # the first iterations' loss sane when training from scratch.
        nn.init.constant_(self.box[-1].bias, math.log(math.expm1(1.5)))
        nn.init.constant_(self.cls[-1].bias, -math.log((1 - 0.01) / 0.01))

    def forward(self, x):
        return self.box(x), self.cls(x)


class YoloNet(nn.Module):
    """Backbone + neck + heads. ``forward`` returns ``(B, cells, 4 + C)``: ``x1, y1, x2, y2`` in input pixels
    and class logits (apply a sigmoid for scores)."""

    def __init__(self, num_classes: int, scale: str = "n"):
        super().__init__()
        if scale not in SCALES:
            raise ValueError(f"yolo scale must be one of {', '.join(SCALES)}, not {scale!r}")
        (w0, w1, w2, w3, w4), n = SCALES[scale]
        self.num_classes, self.scale = int(num_classes), scale
        self.stem = nn.Sequential(Conv(3, w0, 3, 2), Conv(w0, w1, 3, 2), C2f(w1, w1, 1))          # /4
        self.stage3 = nn.Sequential(Conv(w1, w2, 3, 2), C2f(w2, w2, n))                           # /8
        self.stage4 = nn.Sequential(Conv(w2, w3, 3, 2), C2f(w3, w3, n))                           # /16
        self.stage5 = nn.Sequential(Conv(w3, w4, 3, 2), C2f(w4, w4, 1), SPPF(w4, w4))             # /32
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.td4 = C2f(w4 + w3, w3, 1, shortcut=False)
        self.td3 = C2f(w3 + w2, w2, 1, shortcut=False)
        self.down3 = Conv(w2, w2, 3, 2)
        self.bu4 = C2f(w2 + w3, w3, 1, shortcut=False)
        self.down4 = Conv(w3, w3, 3, 2)
        self.bu5 = C2f(w3 + w4, w4, 1, shortcut=False)
        c_box = max(16, w2 // 2)
        c_cls = max(w2, min(num_classes, 100))
        self.heads = nn.ModuleList(Head(c, num_classes, s, c_box, c_cls) for c, s in zip((w2, w3, w4), STRIDES))
        self._grid_cache: dict = {}

    def grid(self, shapes: list[tuple[int, int]], device, dtype):
        """Cell centres ``(A, 2)`` in input pixels and each cell's stride ``(A, 1)``."""
        key = (tuple(shapes), device, dtype)
        if key not in self._grid_cache:
            points, strides = [], []
            for (h, w), s in zip(shapes, STRIDES):
                ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=dtype),
                                        torch.arange(w, device=device, dtype=dtype), indexing="ij")
                points.append(torch.stack([xs, ys], -1).reshape(-1, 2).add(0.5).mul(s))
                strides.append(torch.full((h * w, 1), float(s), device=device, dtype=dtype))
            self._grid_cache = {key: (torch.cat(points), torch.cat(strides))}
        return self._grid_cache[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p3 = self.stage3(self.stem(x))
        p4 = self.stage4(p3)
        p5 = self.stage5(p4)
        t4 = self.td4(torch.cat([self.up(p5), p4], 1))
        o3 = self.td3(torch.cat([self.up(t4), p3], 1))
        o4 = self.bu4(torch.cat([self.down3(o3), t4], 1))
        o5 = self.bu5(torch.cat([self.down4(o4), p5], 1))
        boxes, logits, shapes = [], [], []
        for feat, head in zip((o3, o4, o5), self.heads):
            b, c = head(feat)
            shapes.append(tuple(feat.shape[2:]))
            boxes.append(b.flatten(2))
            logits.append(c.flatten(2))
        dist = F.softplus(torch.cat(boxes, 2)).transpose(1, 2)          # (B, A, 4), in strides
        logits = torch.cat(logits, 2).transpose(1, 2)                    # (B, A, C)
        points, strides = self.grid(shapes, x.device, dist.dtype)
        dist = dist * strides
        xyxy = torch.cat([points - dist[..., :2], points + dist[..., 2:]], -1)
        return torch.cat([xyxy, logits], -1)


# ---- training -------------------------------------------------------------------------------------------------


def _pairwise_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of boxes ``a (..., M, 1, 4)`` with ``b (..., 1, A, 4)`` broadcast to ``(..., M, A)``."""
    lt = torch.maximum(a[..., :2], b[..., :2])
    rb = torch.minimum(a[..., 2:], b[..., 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).clamp(min=0).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).clamp(min=0).prod(-1)
    return inter / (area_a + area_b - inter + 1e-9)


@torch.no_grad()
def assign(scores: torch.Tensor, pred_boxes: torch.Tensor, points: torch.Tensor, gt_boxes: torch.Tensor,
           gt_labels: torch.Tensor, gt_mask: torch.Tensor, topk: int = 10, alpha: float = 0.5, beta: float = 6.0):
    """YOLOv8's task-aligned assigner.

    ``scores (B, A, C)`` sigmoid scores, ``pred_boxes (B, A, 4)``, ``points (A, 2)``, ``gt_boxes (B, M, 4)``,
    ``gt_labels (B, M)``, ``gt_mask (B, M)`` (padding is False). Returns ``(target_boxes (B, A, 4),
    target_scores (B, A, C), fg (B, A) bool)``.
    """
    b_n, a_n, c_n = scores.shape
    m_n = gt_boxes.shape[1]
    if m_n == 0:
        return (torch.zeros_like(pred_boxes), torch.zeros_like(scores),
                torch.zeros(b_n, a_n, dtype=torch.bool, device=scores.device))
    # Cells whose centre lies inside a box are its candidates.
    lt = points[None, None] - gt_boxes[..., None, :2]
    rb = gt_boxes[..., None, 2:] - points[None, None]
    inside = (torch.cat([lt, rb], -1).amin(-1) > 1e-9) & gt_mask[..., None]           # (B, M, A)
    overlaps = _pairwise_iou(gt_boxes[:, :, None], pred_boxes[:, None]).clamp(min=0) * inside
    cls_scores = scores.gather(2, gt_labels.clamp(min=0)[:, None, :].expand(b_n, a_n, m_n).long())
    cls_scores = cls_scores.transpose(1, 2)                                             # (B, M, A)
    align = cls_scores.pow(alpha) * overlaps.pow(beta)
    # A tiny tie-breaker toward the box centre, so that a box still gets cells when every prediction is poor.
    centre = (gt_boxes[..., None, :2] + gt_boxes[..., None, 2:]) / 2
    size = (gt_boxes[..., None, 2:] - gt_boxes[..., None, :2]).clamp(min=1)
    near = 1 - ((points[None, None] - centre) / size).abs().amax(-1)                    # 1 at the centre
    metric = torch.where(inside, align + 1e-9 * near, torch.full_like(align, -1.0))
    k = min(topk, a_n)
    top = metric.topk(k, dim=-1).indices
    chosen = torch.zeros_like(inside).scatter_(-1, top, True) & inside                  # (B, M, A)
    # A cell chosen by several boxes keeps the one it overlaps most.
    several = chosen.sum(1) > 1                                                         # (B, A)
    if several.any():
        best = overlaps.argmax(1)                                                       # (B, A)
        one_hot = F.one_hot(best, m_n).permute(0, 2, 1).bool()
        chosen = torch.where(several[:, None], one_hot & inside, chosen)
    fg = chosen.any(1)
    gt_idx = chosen.float().argmax(1)                                                   # (B, A)
    batch = torch.arange(b_n, device=scores.device)[:, None]
    target_boxes = gt_boxes[batch, gt_idx]
    target_labels = gt_labels[batch, gt_idx].clamp(min=0)
    # Soft class targets: the alignment, normalised so each box's best cell gets its best IoU.
    align = align * chosen
    norm = align.amax(-1, keepdim=True)
    best_iou = (overlaps * chosen).amax(-1, keepdim=True)
    soft = (align * best_iou / (norm + 1e-9)).amax(1)                                   # (B, A)
    target_scores = F.one_hot(target_labels, c_n).float() * (soft * fg)[..., None]
    return target_boxes, target_scores, fg


def yolo_loss(out: torch.Tensor, targets: list[dict], num_classes: int, points: torch.Tensor,
              box_weight: float = 7.5, cls_weight: float = 0.5) -> dict[str, torch.Tensor]:
    """Loss of a batch: ``out`` from :meth:`YoloNet.forward`, ``targets`` ``[{"boxes", "labels"}]`` per image."""
    b_n = out.shape[0]
    pred_boxes, logits = out[..., :4], out[..., 4:]
    m_n = max((len(t["boxes"]) for t in targets), default=0)
    gt_boxes = out.new_zeros(b_n, m_n, 4)
    gt_labels = torch.zeros(b_n, m_n, dtype=torch.long, device=out.device)
    gt_mask = torch.zeros(b_n, m_n, dtype=torch.bool, device=out.device)
    for i, t in enumerate(targets):
        n = len(t["boxes"])
        if n:
            gt_boxes[i, :n] = t["boxes"].to(out)
            gt_labels[i, :n] = t["labels"].to(out.device)
            gt_mask[i, :n] = True
    target_boxes, target_scores, fg = assign(logits.detach().sigmoid(), pred_boxes.detach(), points, gt_boxes,
                                             gt_labels, gt_mask)
    norm = target_scores.sum().clamp(min=1.0)
    cls = F.binary_cross_entropy_with_logits(logits, target_scores, reduction="sum") / norm
    if fg.any():
        weight = target_scores.sum(-1)[fg]
        giou = generalized_box_iou_loss(pred_boxes[fg], target_boxes[fg], reduction="none")
        box = (giou * weight).sum() / norm
    else:
        box = pred_boxes.sum() * 0.0
    return {"box": box_weight * box, "cls": cls_weight * cls}


def postprocess(out: torch.Tensor, conf: float = 0.25, iou: float = 0.45, max_det: int = 300,
                multi_label: bool = False, agnostic: bool = False) -> list[tuple[torch.Tensor, ...]]:
    """Per image ``(boxes (N, 4), scores (N,), labels (N,))`` after the score threshold and NMS.

    ``out`` is ``(B, A, 4 + C)`` with class scores (already sigmoid-ed) or logits; ``multi_label`` keeps every
    class above ``conf`` for a cell (better mAP), otherwise only its best class.
    """
    results = []
    for o in out:
        boxes, scores = o[:, :4], o[:, 4:]
        if multi_label:
            cell, label = (scores > conf).nonzero(as_tuple=True)
            score = scores[cell, label]
            boxes = boxes[cell]
        else:
            score, label = scores.max(1)
            keep = score > conf
            boxes, score, label = boxes[keep], score[keep], label[keep]
        if len(score) > 30000:   # a degenerate model: keep NMS bounded
            top = score.topk(30000).indices
            boxes, score, label = boxes[top], score[top], label[top]
        keep = batched_nms(boxes.float(), score.float(), label if not agnostic else torch.zeros_like(label), iou)
        keep = keep[:max_det]
        results.append((boxes[keep], score[keep], label[keep]))
    return results
