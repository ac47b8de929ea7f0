"""Preprocessing shared by training, evaluation, prediction and the analyzer, and the training augmentations.

A clip arrives as uint8 RGB frames ``(T, H, W, 3)`` already scaled by the decoder so that the short side is
``Preprocessing.scale`` pixels. Training takes a random resized crop (one box for the whole clip), a horizontal flip
(off with ``--no-flip`` for direction-sensitive classes) and a colour jitter (one draw per clip); evaluation takes
``crops`` fixed ``size`` x ``size`` crops. Both end as a normalised float tensor ``(3, T, size, size)``.

Temporal jitter lives in the frame samplers (:func:`train_indices`): a random clip start, or a random frame inside
each TSN segment.

>>> import numpy as np
>>> pre = Preprocessing(frames=8, size=32)
>>> pre.scale
37
>>> eval_crops(np.zeros((8, 37, 49, 3), np.uint8), pre).shape
torch.Size([1, 3, 8, 32, 32])
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..io.sampling import clip_indices, multi_clips, random_clip, uniform_segments

# torchvision's Kinetics-400 statistics (what its video models were trained with) and ImageNet's.
KINETICS_MEAN, KINETICS_STD = (0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
SAMPLINGS = ("clip", "segments")


@dataclass
class Preprocessing:
    """How a model sees a video; stored in every checkpoint so that every later use prepares clips the same way.

    - ``frames``: frames per clip; ``size``: the square crop the model takes; ``scale``: the short side the decoder
      scales frames to before cropping (default ``round(size * 8 / 7)``, 128 for 112 as in torchvision and MMAction2).
    - ``sampling``: ``"clip"`` takes ``frames`` consecutive frames every ``stride`` frames (3D CNNs, RNNs,
      Transformers); ``"segments"`` splits the video into ``frames`` equal segments and takes one frame from each
      (TSN).
    - ``clips`` x ``crops``: the views averaged at test time (evaluate, predict and the analyzer alike).
    """

    frames: int = 16
    size: int = 112
    scale: int = 0
    sampling: str = "clip"
    stride: int = 1
    mean: tuple[float, float, float] = KINETICS_MEAN
    std: tuple[float, float, float] = KINETICS_STD
    clips: int = 3
    crops: int = 1
    interpolation: str = "fast_bilinear"
    area: tuple[float, float] = field(default=(0.4, 1.0))   # random resized crop: fraction of the frame's area

    def __post_init__(self):
        if not self.scale:
            self.scale = max(self.size, int(round(self.size * 8 / 7)))
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, not {self.sampling!r}")
        if self.scale < self.size:
            raise ValueError(f"scale ({self.scale}) must be at least size ({self.size})")
        if min(self.frames, self.size, self.stride, self.clips, self.crops) < 1:
            raise ValueError("frames, size, stride, clips and crops must be >= 1")
        self.mean, self.std = tuple(map(float, self.mean)), tuple(map(float, self.std))
        self.area = tuple(map(float, self.area))

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> Preprocessing:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


# ---------------------------------------------------------------------------------------------------------------
# which frames


def train_indices(n: int, pre: Preprocessing, rng: np.random.Generator) -> np.ndarray:
    """One training clip of ``pre.frames`` indices in ``[0, n)``, with temporal jitter from ``rng``."""
    if pre.sampling == "segments":
        return uniform_segments(n, pre.frames, rng)
    return random_clip(n, pre.frames, pre.stride, rng)


def view_indices(n: int, pre: Preprocessing, clips: int | None = None) -> np.ndarray:
    """The test-time clips of a span of ``n`` frames, ``(V, frames)``; identical views are kept once.

    ``clips`` clips spread evenly over the span (MMAction2's ``SampleFrames(test_mode=True)``): for ``"clip"``
    sampling evenly spaced starts, for ``"segments"`` evenly spaced offsets inside each segment.

    >>> view_indices(16, Preprocessing(frames=8, size=32, clips=3)).tolist()
    [[0, 1, 2, 3, 4, 5, 6, 7], [4, 5, 6, 7, 8, 9, 10, 11], [8, 9, 10, 11, 12, 13, 14, 15]]
    """
    clips = clips or pre.clips
    if pre.sampling == "segments":
        edges = np.linspace(0, n, pre.frames + 1)
        lo, hi = edges[:-1], edges[1:]
        offsets = (np.arange(clips) + 0.5) / clips
        views = np.floor(lo[None] + offsets[:, None] * (hi - lo)[None])
        views = np.clip(views, 0, n - 1).astype(np.int64)
    elif clips == 1:
        span = (pre.frames - 1) * pre.stride + 1
        views = clip_indices(max(n - span, 0) // 2, pre.frames, pre.stride, n)[None]
    else:
        views = multi_clips(n, pre.frames, pre.stride, clips)
    _, first = np.unique(views, axis=0, return_index=True)
    return views[np.sort(first)]


# ---------------------------------------------------------------------------------------------------------------
# pixels


def _normalize(x: torch.Tensor, pre: Preprocessing) -> torch.Tensor:
    """``(T, 3, H, W)`` float in 0..255 -> normalised ``(3, T, H, W)``."""
    mean = torch.tensor(pre.mean, dtype=x.dtype).view(1, 3, 1, 1) * 255.0
    std = torch.tensor(pre.std, dtype=x.dtype).view(1, 3, 1, 1) * 255.0
    return ((x - mean) / std).transpose(0, 1).contiguous()


def _to_float(frames: np.ndarray) -> torch.Tensor:
    """``(T, H, W, 3)`` uint8 -> ``(T, 3, H, W)`` float32."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()


def _random_box(h: int, w: int, area: tuple[float, float], rng: np.random.Generator) -> tuple[int, int, int, int]:
    """torchvision's RandomResizedCrop box: a random area fraction and aspect ratio (3/4 .. 4/3), inside the frame."""
    for _ in range(10):
        target = h * w * rng.uniform(*area)
        ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        cw, ch = int(round(math.sqrt(target * ratio))), int(round(math.sqrt(target / ratio)))
        if 0 < cw <= w and 0 < ch <= h:
            return int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1)), ch, cw
    side = min(h, w)
    return (h - side) // 2, (w - side) // 2, side, side


def train_clip(frames: np.ndarray, pre: Preprocessing, rng: np.random.Generator, flip: bool = True,
               color: float = 0.25) -> torch.Tensor:
    """Augment one training clip ``(T, H, W, 3)`` uint8 -> ``(3, T, size, size)`` float.

    The same crop, flip and colour change apply to every frame of the clip, so motion is unchanged.
    """
    return train_clip_flipped(frames, pre, rng, flip, color)[0]


def train_clip_flipped(frames: np.ndarray, pre: Preprocessing, rng: np.random.Generator, flip: bool = True,
                       color: float = 0.25) -> tuple[torch.Tensor, bool]:
    """:func:`train_clip`, and whether the clip was flipped (the trainer's ``flip_map`` then changes its label)."""
    t, h, w, _ = frames.shape
    y, x, ch, cw = _random_box(h, w, pre.area, rng)
    clip = _to_float(frames[:, y:y + ch, x:x + cw])
    clip = F.interpolate(clip, size=(pre.size, pre.size), mode="bilinear", align_corners=False)
    flipped = bool(flip and rng.random() < 0.5)
    if flipped:
        clip = clip.flip(-1)
    if color > 0:
        b, c, s = 1 + rng.uniform(-color, color, 3)
        gray = (clip * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
        clip = gray + (clip - gray) * s                      # saturation
        clip = clip.mean() + (clip - clip.mean()) * c        # contrast
        clip = (clip * b).clamp(0, 255)                      # brightness
    return _normalize(clip, pre), flipped


def _crop_offsets(length: int, size: int, n: int) -> list[int]:
    if n == 1:
        return [(length - size) // 2]
    return [int(round(v)) for v in np.linspace(0, length - size, n)]


def eval_crops(frames: np.ndarray, pre: Preprocessing) -> torch.Tensor:
    """``pre.crops`` crops of one clip ``(T, H, W, 3)`` -> ``(crops, 3, T, size, size)``.

    One crop is the centre; three run along the long side (left/centre/right), as in MMAction2's ThreeCrop.
    """
    t, h, w, _ = frames.shape
    s = pre.size
    clip = _to_float(frames)
    if h < s or w < s:   # a frame smaller than the crop (never with scale >= size): stretch it up
        clip = F.interpolate(clip, size=(max(h, s), max(w, s)), mode="bilinear", align_corners=False)
        h, w = clip.shape[-2:]
    if w >= h:
        boxes = [((h - s) // 2, x) for x in _crop_offsets(w, s, pre.crops)]
    else:
        boxes = [(y, (w - s) // 2) for y in _crop_offsets(h, s, pre.crops)]
    return torch.stack([_normalize(clip[:, :, y:y + s, x:x + s], pre) for y, x in boxes])


__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "KINETICS_MEAN", "KINETICS_STD", "Preprocessing", "eval_crops",
           "train_clip", "train_indices", "view_indices"]
