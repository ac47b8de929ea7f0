"""``videolens explain``: where and when in a video a classifier found the evidence for a class.

Three saliency methods, over space and time:

- ``guided-gradcam`` (the default; Selvaraju et al. 2017, in the same paper as Grad-CAM): the Grad-CAM map below
  times the magnitude of guided backpropagation (the gradient of the class score with respect to the input, passed
  back through every ``nn.ReLU`` only where both the activation and the gradient are positive), summed over the
  colour channels. Grad-CAM says which region and which moment speak for the class; guided backpropagation sharpens
  that to the pixels, the edges of the object, inside it. On ``motion`` (c3d, test clips) it put 0.71 of the
  saliency mass on the main object against Grad-CAM's 0.55 (BENCHMARKS.md "explain"). Guided backpropagation alone
  hardly depends on the class or the weights (Adebayo et al. 2018); the Grad-CAM factor is what does.
- ``gradcam`` (Grad-CAM, Selvaraju et al. 2017) on a convolutional feature map: the gradient of the class score
  (the logit) averaged over the map's positions weighs each channel; the weighted sum of the channels, clipped at
  zero, is upsampled to the clip. For 3D CNNs (``c3d``, ``r2plus1d``) the map spans time as well; for the per-frame
  CNN families (``tsn``, ``cnn_lstm``, ``cnn_gru``, ``tcn``) it is the backbone's last map of every frame, weighed
  with one set of channel weights for the clip. The layer is found by running the model once
  (:func:`gradcam_layer`): the last feature map that still has one position per input frame — for a 3D CNN the
  last one before it pools over time (``c3d``: the second block; its last block has a single time step at 4
  frames, and a 4x4 grid at 32 px, which locates the moving object worse: BENCHMARKS.md "explain") — or ``layer=``
  (``--layer``) for any other. A model whose positions are mixed by attention after its last such map
  (``transformer``) has none, and falls back to ``gradxinput``, which the result says (``method``, ``note``).
- ``gradxinput`` (gradient x input): the absolute value of the sum over colour channels of the input times the
  gradient of the class score with respect to it. It works for every family.

The video is covered completely: clips of the checkpoint's ``frames`` (every ``stride``-th frame) tile it in time,
the last one ending on the last frame, and square crops of the model's ``size`` tile each frame (decoded with its
short side at the checkpoint's ``scale``, as for ``predict``); overlapping crops are averaged. Frames between a
clip's sampled frames get the map interpolated linearly in time. The class explained is ``target`` or, by default,
the class ``predict`` gives the video when taken as one window (the same test views, averaged).

Outputs (:func:`write_explanation`, into ``-o DIR``): ``overlay.mp4`` (the heat map blended on the frames, at the
video's size and frame times), ``importance.png`` and ``explain.json`` (per frame: the saliency mass of the frame,
scaled so that the largest is 1), and ``evidence/frame_NNNNNN.jpg``: the ``top`` frames with the most evidence
(at least ``frames // (2 * top)`` frames apart), listed in the JSON.

>>> from videolens.classify.explain import explain, write_explanation       # doctest: +SKIP
>>> e = explain("runs/c3d/best.pt", "clip.mp4", method="gradcam")           # doctest: +SKIP
>>> e.label, e.importance.shape, e.saliency.shape                           # doctest: +SKIP
('move_left', (16,), (16, 36, 36))
>>> write_explanation(e, "out/clip")                                        # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import VideolensError
from ..utils.files import atomic_path, check_writable, write_bytes, write_text
from ..utils.progress import progress
from .checkpoint import Checkpoint, load_checkpoint
from .transforms import Preprocessing, _normalize, _to_float, view_indices

METHODS = ("guided-gradcam", "gradcam", "gradxinput")
_CAM = ("guided-gradcam", "gradcam")        # the methods that read a feature map
BOX_DILATION = 0.25      # the box of the saliency-mass check is scaled by 1.25 about its centre


@dataclass
class Explanation:
    """The saliency of one video for one class.

    ``saliency`` is ``(N, h, w)`` float32 for the video's ``N`` frames at the analysis size ``(w, h)`` (the decoded
    frames, short side ``preprocessing.scale``), >= 0; ``importance`` the per-frame mass, scaled to a maximum of 1.
    """

    path: str
    checkpoint: str
    model: str
    method: str
    layer: str | None
    label: str
    class_index: int
    score: float                   # the class's probability on predict's views of the whole video
    top5: list[dict]
    size: tuple[int, int]          # the video's frame size (w, h)
    fps: float
    timestamps: np.ndarray         # (N,) seconds (PTS)
    saliency: np.ndarray           # (N, h, w) at the analysis size
    importance: np.ndarray         # (N,) in [0, 1]
    views: dict = field(default_factory=dict)
    note: str | None = None

    @property
    def frames(self) -> int:
        return int(len(self.saliency))

    def frame_map(self, i: int) -> np.ndarray:
        """Frame ``i``'s saliency at the video's frame size ``(h, w)`` (bilinear)."""
        import cv2

        return cv2.resize(self.saliency[i], self.size, interpolation=cv2.INTER_LINEAR)

    def box_in_map(self, box) -> tuple[float, float, float, float]:
        """A box in video-frame pixels, in the pixels of :attr:`saliency`."""
        h, w = self.saliency.shape[1:]
        sx, sy = w / self.size[0], h / self.size[1]
        x1, y1, x2, y2 = (float(v) for v in box)
        return x1 * sx, y1 * sy, x2 * sx, y2 * sy

    def evidence(self, top: int = 5) -> list[int]:
        """The ``top`` frames of highest importance, best first, at least ``frames // (2 * top)`` frames apart."""
        return evidence_frames(self.importance, top)

    def to_dict(self, evidence: list[dict] | None = None, files: dict | None = None) -> dict:
        return {
            "video": self.path, "checkpoint": self.checkpoint, "model": self.model, "method": self.method,
            "layer": self.layer, "class": self.label, "class_index": self.class_index, "score": self.score,
            "top5": self.top5, "frames": self.frames, "fps": self.fps, "size": list(self.size),
            "analysis_size": [int(self.saliency.shape[2]), int(self.saliency.shape[1])], "views": self.views,
            "note": self.note,
            "importance": [round(float(v), 5) for v in self.importance],
            "times": [round(float(t), 5) for t in self.timestamps],
            "evidence": evidence if evidence is not None else [
                {"frame": i, "time": round(float(self.timestamps[i]), 5),
                 "importance": round(float(self.importance[i]), 5)} for i in self.evidence()],
            "files": files or {},
        }


# ---------------------------------------------------------------------------------------------------------------
# measures


def dilate_box(box, factor: float = BOX_DILATION) -> tuple[float, float, float, float]:
    """``box`` scaled by ``1 + factor`` about its centre (width and height).

    >>> dilate_box((10, 10, 30, 20), 0.25)
    (7.5, 8.75, 32.5, 21.25)
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    dx, dy = (x2 - x1) * factor / 2, (y2 - y1) * factor / 2
    return x1 - dx, y1 - dy, x2 + dx, y2 + dy


def box_mass(saliency: np.ndarray, box, dilate: float = 0.0) -> float:
    """The share of a map's mass inside ``box`` (``x1, y1, x2, y2`` in the map's pixels, pixel ``(i, j)`` covering
    ``[j, j+1] x [i, i+1]``), after scaling the box by ``1 + dilate``; a pixel cut by the box counts by the part of it
    inside. A map with no mass gives NaN.

    >>> m = np.zeros((4, 4)); m[1, 1] = 3; m[3, 3] = 1
    >>> box_mass(m, (1, 1, 2, 2)), box_mass(m, (0, 0, 2.5, 4))
    (0.75, 0.75)
    """
    m = np.asarray(saliency, dtype=np.float64)
    total = float(m.sum())
    if not total > 0:
        return float("nan")
    x1, y1, x2, y2 = dilate_box(box, dilate) if dilate else tuple(float(v) for v in box)
    h, w = m.shape

    def cover(lo: float, hi: float, n: int) -> np.ndarray:
        edges = np.arange(n, dtype=np.float64)
        return np.clip(np.minimum(edges + 1, hi) - np.maximum(edges, lo), 0, 1)

    return float(cover(y1, y2, h) @ m @ cover(x1, x2, w)) / total


def evidence_frames(importance: np.ndarray, top: int = 5) -> list[int]:
    """Indices of the ``top`` largest values, best first, no two closer than ``len // (2 * top)`` + 1 frames.

    >>> evidence_frames(np.array([0.1, 0.9, 1.0, 0.2, 0.8, 0.3]), top=2)
    [2, 4]
    """
    imp = np.asarray(importance, dtype=np.float64)
    if top < 1 or not len(imp):
        return []
    gap = len(imp) // (2 * top)
    picked: list[int] = []
    for i in np.argsort(-imp, kind="stable").tolist():
        if all(abs(i - j) > gap for j in picked):
            picked.append(int(i))
            if len(picked) == top:
                break
    return picked


# ---------------------------------------------------------------------------------------------------------------
# the saliency of one batch of clips


def _is_pool(module: torch.nn.Module) -> bool:
    return "Pool" in type(module).__name__


def gradcam_layer(model: torch.nn.Module, frames: int, size: int, full_time: bool = True) -> str | None:
    """The name of the module Grad-CAM reads.

    Candidates are the modules whose output is a feature map over positions — ``(B, C, T', H, W)``, or
    ``(B*T, C, H, W)`` per frame — with more than one position, that are no pooling layer and that no attention layer
    follows. With ``full_time`` (the default) the choice is the last candidate that still has one position per input
    frame (``T' = T``: every per-frame map; for a 3D CNN the last map before it pools over time), so that the
    saliency has the clip's time resolution; else (or when none has) the last candidate. None when there is none
    (then use ``gradxinput``).

    >>> from videolens.classify.models import create_model
    >>> c3d = create_model("c3d", 3, frames=4, size=32, width=8)
    >>> gradcam_layer(c3d, 4, 32), gradcam_layer(c3d, 4, 32, full_time=False)
    ('features.6', 'features.14')
    >>> gradcam_layer(create_model("transformer", 3, frames=4, size=32, depth=1, dim=32, heads=2), 4, 32) is None
    True
    """
    order: list[tuple[str, torch.nn.Module, object]] = []
    names = {id(m): n for n, m in model.named_modules()}
    handles = [m.register_forward_hook(lambda mod, inp, out: order.append((names[id(mod)], mod, out)))
               for m in model.modules()]
    was_training = model.training
    try:
        model.eval()
        p = next(model.parameters())
        with torch.no_grad():
            model(torch.zeros(1, 3, frames, size, size, dtype=p.dtype, device=p.device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    last_attention = max((k for k, (_, m, _) in enumerate(order) if isinstance(m, torch.nn.MultiheadAttention)),
                         default=-1)
    last = last_full = None
    for k, (name, module, out) in enumerate(order):
        if k < last_attention or not name or _is_pool(module) or not isinstance(out, torch.Tensor):
            continue
        per_frame = out.dim() == 4 and out.shape[0] == frames
        if (out.dim() == 5 and out.shape[0] == 1) or per_frame:
            if out.shape[-1] * out.shape[-2] > 1:
                last = name
                if per_frame or out.shape[2] == frames:
                    last_full = name
    return (last_full or last) if full_time else last


class _GuidedReLU(torch.autograd.Function):
    """ReLU whose backward passes only positive gradients where the input was positive (guided backpropagation)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        y = x.clamp_min(0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return grad.clamp_min(0) * (y > 0).to(grad.dtype)


def _guided_input_grad(model: torch.nn.Module, clips: torch.Tensor, target: int) -> torch.Tensor:
    """Guided backpropagation to the input: every ``nn.ReLU`` of ``model`` swapped for :class:`_GuidedReLU` for one
    forward and backward pass (the module objects stay; only their ``forward`` is replaced, then restored)."""
    relus = [m for m in model.modules() if isinstance(m, torch.nn.ReLU)]
    for m in relus:
        m.forward = _GuidedReLU.apply
    try:
        x = clips.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(model(x)[:, target].sum(), [x])
    finally:
        for m in relus:
            del m.forward
    return grad


class _Saliency:
    """Maps ``(B, T, size, size)`` >= 0 for a batch of clips ``(B, 3, T, size, size)`` and one class."""

    def __init__(self, model: torch.nn.Module, method: str, layer: str | None):
        self.model, self.method, self.layer = model, method, layer
        self.module = dict(model.named_modules())[layer] if method in _CAM else None

    def __call__(self, clips: torch.Tensor, target: int) -> torch.Tensor:
        b, _, t, s, _ = clips.shape
        x = clips.detach().clone().requires_grad_(self.method == "gradxinput")
        store: dict[str, torch.Tensor] = {}
        handle = None
        if self.module is not None:
            handle = self.module.register_forward_hook(lambda mod, inp, out: store.__setitem__("a", out))
        try:
            with torch.enable_grad():
                logits = self.model(x)
                score = logits[:, target].sum()          # clips are independent in eval mode
                wrt = store["a"] if self.module is not None else x
                (grad,) = torch.autograd.grad(score, [wrt])
        finally:
            if handle is not None:
                handle.remove()
        with torch.no_grad():
            if self.module is None:
                return (grad * x).sum(dim=1).abs().detach()                 # (B, T, s, s)
            act = wrt.detach()
            if act.dim() == 4:                                              # per frame: (B*T, C, h, w)
                act = act.reshape(b, t, *act.shape[1:]).transpose(1, 2)    # (B, C, T, h, w)
                grad = grad.reshape(b, t, *grad.shape[1:]).transpose(1, 2)
            weights = grad.mean(dim=(2, 3, 4), keepdim=True)                # one weight per channel and clip
            cam = torch.relu((weights * act).sum(dim=1, keepdim=True))      # (B, 1, T', h, w)
            cam = F.interpolate(cam, size=(t, s, s), mode="trilinear", align_corners=False)[:, 0].clamp_min(0)
        if self.method == "guided-gradcam":
            cam = cam * _guided_input_grad(self.model, clips, target).abs().sum(dim=1)
        return cam


# ---------------------------------------------------------------------------------------------------------------
# covering the video


def crop_offsets(length: int, size: int) -> list[int]:
    """Offsets of the fewest ``size``-long crops that cover ``length``, evenly spread.

    >>> crop_offsets(73, 64), crop_offsets(64, 64), crop_offsets(228, 112)
    ([0, 9], [0], [0, 58, 116])
    """
    if length <= size:
        return [0]
    n = math.ceil(length / size)
    return [int(round(v)) for v in np.linspace(0, length - size, n)]


def clip_windows(n: int, pre: Preprocessing) -> list[np.ndarray]:
    """The sampled frame indices of the clips that cover ``n`` frames: consecutive clips of the checkpoint's span
    (``frames`` every ``stride``), the last ending on the last frame; one set of segment centres for TSN sampling.

    >>> [w.tolist() for w in clip_windows(10, Preprocessing(frames=4, size=32, stride=1))]
    [[0, 1, 2, 3], [4, 5, 6, 7], [6, 7, 8, 9]]
    """
    if pre.sampling == "segments":
        return [view_indices(n, pre, clips=1)[0]]
    span = (pre.frames - 1) * pre.stride + 1
    starts = list(range(0, max(n - span, 0) + 1, span))
    if starts[-1] + span < n:
        starts.append(n - span)
    return [np.minimum(s + np.arange(pre.frames) * pre.stride, n - 1) for s in starts]


def _spread(positions: np.ndarray, maps: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Maps at sampled frame ``positions`` -> one map per frame ``lo .. hi`` (linear in time, held at the ends;
    repeated positions averaged)."""
    uniq, inv = np.unique(positions, return_inverse=True)
    m = np.zeros((len(uniq),) + maps.shape[1:], np.float32)
    np.add.at(m, inv, maps)
    m /= np.bincount(inv, minlength=len(uniq)).astype(np.float32)[:, None, None]
    out = np.empty((hi - lo + 1,) + maps.shape[1:], np.float32)
    for j in range(lo, hi + 1):
        k = int(np.searchsorted(uniq, j, side="right")) - 1
        if k < 0:
            out[j - lo] = m[0]
        elif k >= len(uniq) - 1 or uniq[k] == j:
            out[j - lo] = m[min(k, len(uniq) - 1)]
        else:
            w = (j - uniq[k]) / (uniq[k + 1] - uniq[k])
            out[j - lo] = (1 - w) * m[k] + w * m[k + 1]
    return out


def _top(probs: np.ndarray, classes: list[str], k: int = 5) -> list[dict]:
    order = np.argsort(-probs, kind="stable")[:k]
    return [{"label": classes[i], "score": round(float(probs[i]), 4)} for i in order]


def explain(checkpoint: str | os.PathLike | Checkpoint, video: str | os.PathLike, method: str = "guided-gradcam",
            target: str | None = None, device: str = "auto", quiet: bool = False,
            layer: str | None = None) -> Explanation:
    """The saliency of ``video`` for class ``target`` (default: the predicted class) under ``checkpoint``.

    ``method`` is ``guided-gradcam`` or ``gradcam`` (both fall back to ``gradxinput`` for models without a
    convolutional feature map, with a ``note``) or ``gradxinput``. ``layer`` names the module Grad-CAM reads (a name
    of ``model.named_modules()``) instead of :func:`gradcam_layer`'s choice. A bad checkpoint or an unreadable video
    raises :class:`~videolens.errors.VideolensError` naming the file.

    >>> e = explain("runs/c3d/best.pt", "clip.mp4")                  # doctest: +SKIP
    >>> e.label, e.method, e.importance.round(2).tolist()[:4]         # doctest: +SKIP
    ('move_left', 'guided-gradcam', [0.91, 0.95, 0.98, 1.0])
    """
    from ..io.reader import VideoReader
    from .prediction import Predictor

    if method not in METHODS:
        raise VideolensError(f"--method {method!r}: choose {', '.join(METHODS[:-1])} or {METHODS[-1]}")
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint, device)
    model, pre, classes = ckpt.model.eval(), ckpt.preprocessing, ckpt.classes
    dev = next(model.parameters()).device
    if target is not None and target not in classes:
        raise VideolensError(f"--class {target!r} is not one of the model's classes ({', '.join(classes[:20])}"
                             f"{', ...' if len(classes) > 20 else ''})")
    note, used = None, method
    if layer is not None and (method not in _CAM or layer not in dict(model.named_modules())):
        raise VideolensError(f"--layer {layer!r}: " + ("only for gradcam and guided-gradcam" if method not in _CAM
                                                        else f"no such module in {ckpt.name}"))
    if method in _CAM and layer is None:
        layer = gradcam_layer(model, pre.frames, pre.size)
        if layer is None:
            used = "gradxinput"
            note = (f"{ckpt.name} has no convolutional feature map that keeps its positions to the end (attention "
                    f"mixes them), so Grad-CAM does not apply: gradient x input was used")
    saliency_of = _Saliency(model, used, layer)
    with VideoReader(video, interpolation=pre.interpolation) as reader:
        n, ts, size, fps = len(reader), np.asarray(reader.timestamps, np.float64), reader.size, float(reader.fps)
        if n < 1:
            raise VideolensError(f"{os.fspath(video)}: the video has no frames")
        predictor = Predictor(ckpt)
        with torch.no_grad():
            probs = predictor.span_probs(lambda idx: reader.get_frames(idx, size=pre.scale), [(0, n)])[0]
        cls = classes.index(target) if target is not None else int(np.argmax(probs))
        windows = clip_windows(n, pre)
        acc: np.ndarray | None = None
        count = np.zeros(n, np.float32)
        crops = 0
        for pos in progress(windows, total=len(windows), desc="explain", quiet=quiet, unit="clip"):
            frames = reader.get_frames(pos, size=pre.scale)                 # (T, h, w, 3)
            clip, (h, w) = _to_float(frames), frames.shape[1:3]
            s = pre.size
            if h < s or w < s:   # never with scale >= size; as eval_crops does
                clip = F.interpolate(clip, size=(max(h, s), max(w, s)), mode="bilinear", align_corners=False)
            hh, ww = clip.shape[-2:]
            boxes = [(y, x) for y in crop_offsets(hh, s) for x in crop_offsets(ww, s)]
            crops = len(boxes)
            batch = torch.stack([_normalize(clip[:, :, y:y + s, x:x + s], pre) for y, x in boxes]).to(dev)
            maps = saliency_of(batch, cls).float().cpu().numpy()             # (B, T, s, s)
            total = np.zeros((len(pos), hh, ww), np.float32)
            cover = np.zeros((hh, ww), np.float32)
            for (y, x), m in zip(boxes, maps):
                total[:, y:y + s, x:x + s] += m
                cover[y:y + s, x:x + s] += 1
            total /= np.maximum(cover, 1)
            if (hh, ww) != (h, w):
                total = F.interpolate(torch.from_numpy(total)[None], size=(h, w), mode="bilinear",
                                      align_corners=False)[0].numpy()
            if acc is None:
                acc = np.zeros((n, h, w), np.float32)
            lo, hi = (0, n - 1) if pre.sampling == "segments" else (int(pos[0]), int(pos[-1]))
            acc[lo:hi + 1] += _spread(pos, total, lo, hi)
            count[lo:hi + 1] += 1
    saliency = acc / np.maximum(count, 1)[:, None, None]
    mass = saliency.reshape(n, -1).sum(axis=1)
    if not mass.max() > 0:
        note = ((note + "; ") if note else "") + (f"no positive evidence for '{classes[cls]}' anywhere in the video "
                                                   f"({used} is zero everywhere)")
    importance = mass / mass.max() if mass.max() > 0 else mass
    return Explanation(os.fspath(video), ckpt.path, ckpt.name, used, layer, classes[cls], cls,
                       round(float(probs[cls]), 4), _top(probs, classes), (int(size[0]), int(size[1])), fps, ts,
                       saliency.astype(np.float32), importance.astype(np.float32),
                       {"clips": len(windows), "crops": crops, "frames": pre.frames, "stride": pre.stride,
                        "sampling": pre.sampling, "size": pre.size, "scale": pre.scale}, note)


# ---------------------------------------------------------------------------------------------------------------
# files

FILES = ("overlay.mp4", "importance.png", "explain.json")


def heat_overlay(frame: np.ndarray, heat: np.ndarray, strength: float = 0.6) -> np.ndarray:
    """``frame`` (H, W, 3) uint8 RGB with the heat map ``heat`` (H, W) in [0, 1] blended on it (JET colours, more
    opaque where hotter).

    >>> heat_overlay(np.zeros((2, 2, 3), np.uint8), np.array([[0, 0], [0, 1.0]]))[1, 1].tolist()
    [77, 0, 0]
    """
    import cv2

    h = np.clip(heat, 0, 1).astype(np.float32)
    colours = cv2.applyColorMap((h * 255).astype(np.uint8), cv2.COLORMAP_JET)[:, :, ::-1].astype(np.float32)
    a = (strength * h)[:, :, None]
    return np.clip(frame.astype(np.float32) * (1 - a) + colours * a + 0.5, 0, 255).astype(np.uint8)


def _curve_png(e: Explanation, evidence: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3))
    t = e.timestamps
    ax.plot(t, e.importance, color="tab:red", lw=1.5)
    ax.fill_between(t, 0, e.importance, color="tab:red", alpha=0.15)
    if evidence:
        ax.plot(t[evidence], e.importance[evidence], "o", color="black", ms=4, label="evidence frames")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xlim(float(t[0]), float(t[-1]) if len(t) > 1 else float(t[0]) + 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("importance")
    ax.set_title(f"{Path(e.path).name}: evidence for '{e.label}' ({e.method}, {e.model})", fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def write_explanation(e: Explanation, out_dir: str | os.PathLike, top: int = 5, overwrite: bool = False,
                      quiet: bool = False) -> dict:
    """Write ``overlay.mp4``, ``importance.png``, ``explain.json`` and ``evidence/frame_NNNNNN.jpg`` into
    ``out_dir`` (each file atomically); returns the JSON document (with ``files``).

    The heat map is the saliency over its 99.5th percentile in the whole video (clipped at 1), so frames compare
    with each other; the percentile rather than the largest value because guided Grad-CAM's few sharpest pixels
    would otherwise leave the rest of the map too faint to see.
    """
    import cv2

    from ..io.reader import VideoReader
    from ..io.writer import VideoWriter

    out = Path(out_dir)
    picked = e.evidence(top)
    names = {i: f"evidence/frame_{i:06d}.jpg" for i in picked}
    for name in (*FILES, *names.values()):
        check_writable(out / name, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    peak = float(np.percentile(e.saliency, 99.5)) or float(e.saliency.max()) or 1.0
    evidence = []
    with VideoReader(e.path) as reader, VideoWriter(out / "overlay.mp4", fps=e.fps, size=e.size,
                                                    overwrite=overwrite) as writer:
        if len(reader) != e.frames:
            raise VideolensError(f"{e.path}: has {len(reader)} frames, the explanation {e.frames}")
        for batch in progress(reader.iter_frames(batch=16), total=math.ceil(e.frames / 16), desc="overlay",
                              quiet=quiet, unit="batch"):
            for frame, i, t in zip(batch.frames, batch.indices, batch.timestamps):
                blended = heat_overlay(frame, e.frame_map(int(i)) / peak)
                writer.write(blended, float(t) - float(e.timestamps[0]))
                if int(i) in names:
                    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(blended[:, :, ::-1]),
                                           [cv2.IMWRITE_JPEG_QUALITY, 92])
                    if not ok:
                        raise VideolensError(f"{out / names[int(i)]}: could not encode the image")
                    write_bytes(out / names[int(i)], buf.tobytes(), overwrite)
    for i in picked:
        evidence.append({"frame": i, "time": round(float(e.timestamps[i]), 5),
                         "importance": round(float(e.importance[i]), 5), "file": names[i]})
    _curve_png(e, picked, out / "importance.png")
    files = {"overlay": str(out / "overlay.mp4"), "curve": str(out / "importance.png"),
             "json": str(out / "explain.json"), "evidence": [str(out / names[i]) for i in picked]}
    doc = e.to_dict(evidence, files)
    write_text(out / "explain.json", json.dumps(doc, indent=1) + "\n", overwrite)
    return doc


__all__ = ["BOX_DILATION", "METHODS", "Explanation", "box_mass", "clip_windows", "crop_offsets", "dilate_box",
           "evidence_frames", "explain", "gradcam_layer", "heat_overlay", "write_explanation"]
