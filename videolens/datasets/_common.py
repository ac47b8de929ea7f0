"""Shared pieces of the synthetic data generators: seeds, argument checks, textures, noise and shape rendering.

Shapes are drawn from a signed distance function evaluated at pixel centres, with a one-pixel linear ramp at the
edge as coverage. That is anti-aliased and exact to a fraction of a pixel, so motions well below one pixel per frame
change the picture, and the coverage of each pixel doubles as the mask used for visibility.

Pixel ``(row i, column j)`` covers ``[j, j + 1) x [i, i + 1)``; its centre is ``(j + 0.5, i + 0.5)``. Angles are in
radians and, because image ``y`` points down, a growing angle turns a shape clockwise on screen.
"""

from __future__ import annotations

import colorsys
import json
import math
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import VideolensError
from ..utils.files import write_bytes, write_text

# x264's macroblock-tree lookahead (on in the "veryfast" preset and slower ones) reads memory it never initialised,
# so the same frames encode to different bytes from run to run (measured here with PyAV 18). "superfast" turns
# mb-tree and the lookahead off, which makes the output a function of the frames alone.
X264_PRESET = "superfast"

# ---------------------------------------------------------------------------------------------------------------
# seeds and arguments


def child_rngs(seed: int, n: int, stream: int = 0) -> list[np.random.Generator]:
    """Independent generators for items ``0 .. n-1`` of one stream of a dataset.

    Item ``k`` gets the same generator whatever ``n`` is, so ``--num 20`` starts with the items of ``--num 10``.
    """
    root = np.random.SeedSequence(entropy=int(seed), spawn_key=(int(stream),))
    return [np.random.default_rng(s) for s in root.spawn(int(n))]


def check_int(name: str, value, default: int, minimum: int, maximum: int | None = None) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise VideolensError(f"{name} must be an integer, not {value!r}")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise VideolensError(f"{name} must be {bound}, not {value}")
    return value


def check_size(value, default: tuple[int, int], minimum: int, maximum: int = 4096) -> tuple[int, int]:
    """``(width, height)``: both even (H.264 4:2:0 would pad odd sizes and shift the ground truth) and in range."""
    if value is None:
        return default
    try:
        w, h = value
    except (TypeError, ValueError):
        raise VideolensError(f"--size must be WIDTHxHEIGHT, not {value!r}") from None
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in (w, h)):
        raise VideolensError(f"--size must be two integers, not {value!r}")
    w, h = int(w), int(h)
    if min(w, h) < minimum or max(w, h) > maximum:
        raise VideolensError(f"--size {w}x{h}: width and height must be between {minimum} and {maximum}")
    if w % 2 or h % 2:
        raise VideolensError(f"--size {w}x{h}: width and height must be even (H.264 needs even sizes)")
    return w, h


def check_fps(value, default: float) -> float:
    if value is None:
        return float(default)
    try:
        fps = float(value)
    except (TypeError, ValueError):
        raise VideolensError(f"fps must be a number, not {value!r}") from None
    if not math.isfinite(fps) or fps <= 0 or fps > 1000:
        raise VideolensError(f"fps must be positive (and at most 1000), not {value!r}")
    return fps


def check_seed(value) -> int:
    return check_int("--seed", value, 0, 0, 2**63 - 1)


def prepare_output(output) -> Path:
    out = Path(os.fspath(output))
    if out.exists() and not out.is_dir():
        raise VideolensError(f"{out}: exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VideolensError(f"{out}: cannot create the output folder ({e.strerror})") from None
    return out


def progress_bar(total: int, desc: str, progress: bool, unit: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not progress, file=sys.stderr, leave=False)


def write_json(path: Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=1) + "\n")


def write_image(path: Path, rgb: np.ndarray, quality: int = 95) -> None:
    """Atomically write an RGB uint8 image (JPEG or PNG, from the extension)."""
    cv2 = _cv2()
    ext = path.suffix.lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if ext in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(rgb[:, :, ::-1]), params)
    if not ok:
        raise VideolensError(f"{path}: could not encode the image")
    write_bytes(path, buf.tobytes())


def _cv2():
    import cv2  # lazily: keeps `import videolens.datasets` light

    return cv2


def rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


# ---------------------------------------------------------------------------------------------------------------
# colours and textures (float32, 0..255 for colours, 0..1 for scalar fields)


def hsv(h: float, s: float, v: float) -> np.ndarray:
    """RGB (0..255, float32) from hue in degrees, saturation and value in 0..1."""
    return np.array(colorsys.hsv_to_rgb((h % 360.0) / 360.0, s, v), np.float32) * 255.0


def random_color(rng: np.random.Generator, hue: float | None = None, sat=(0.45, 1.0), val=(0.45, 1.0)) -> np.ndarray:
    h = rng.uniform(0, 360) if hue is None else hue
    return hsv(h, rng.uniform(*sat), rng.uniform(*val))


def smooth_noise(rng: np.random.Generator, h: int, w: int, cell: float, octaves: int = 4,
                 persistence: float = 0.55) -> np.ndarray:
    """Fractal value noise in [0, 1]: random grids of ``cell`` px (halving per octave), upsampled (cubic)."""
    cv2 = _cv2()
    out = np.zeros((h, w), np.float32)
    amp = 1.0
    for _ in range(octaves):
        c = max(cell, 1.5)
        gh, gw = int(math.ceil(h / c)) + 3, int(math.ceil(w / c)) + 3
        grid = rng.random((gh, gw), dtype=np.float32)
        up = cv2.resize(grid, (int(gw * c), int(gh * c)), interpolation=cv2.INTER_CUBIC)
        # A random phase so the grid lines of different octaves do not line up.
        oy, ox = int(rng.integers(0, int(c) + 1)), int(rng.integers(0, int(c) + 1))
        out += amp * up[oy:oy + h, ox:ox + w]
        amp *= persistence
        cell /= 2.0
        if cell < 1.5:
            break
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-6)


def grid_coords(h: int, w: int, angle: float) -> np.ndarray:
    """Pixel-centre coordinate along direction ``angle`` (pixels), shape ``(h, w)``."""
    ys = np.arange(h, dtype=np.float32)[:, None] + 0.5
    xs = np.arange(w, dtype=np.float32)[None, :] + 0.5
    return xs * math.cos(angle) + ys * math.sin(angle)


def stripes(h: int, w: int, period: float, angle: float, phase: float = 0.0, soft: bool = True) -> np.ndarray:
    t = grid_coords(h, w, angle) * (2 * math.pi / period) + phase
    s = 0.5 + 0.5 * np.sin(t)
    return s if soft else np.clip((s - 0.5) * 6 + 0.5, 0, 1)


def checker(h: int, w: int, cell: float, angle: float) -> np.ndarray:
    a = grid_coords(h, w, angle) / cell
    b = grid_coords(h, w, angle + math.pi / 2) / cell
    # Smoothed squares (sine product) keep the pattern free of aliasing at any angle.
    return np.clip(0.5 + 2.0 * np.sin(math.pi * a) * np.sin(math.pi * b), 0, 1)


def colorize(field: np.ndarray, colors: Iterable[np.ndarray]) -> np.ndarray:
    """Map a [0, 1] field through a piecewise-linear colour ramp: ``(h, w, 3)`` float32."""
    cols = np.stack(list(colors)).astype(np.float32)
    k = len(cols) - 1
    t = np.clip(field, 0, 1) * k
    i = np.minimum(t.astype(np.int32), k - 1)
    f = (t - i)[..., None]
    return cols[i] * (1 - f) + cols[i + 1] * f


def background(rng: np.random.Generator, h: int, w: int, hue: float | None = None,
               contrast: tuple[float, float] = (0.15, 0.45)) -> np.ndarray:
    """A random textured background ``(h, w, 3)`` float32: noise, stripes, checks or a gradient, mixed with noise."""
    hue = rng.uniform(0, 360) if hue is None else hue
    base_v = rng.uniform(0.3, 0.75)
    spread = rng.uniform(*contrast)
    c1 = hsv(hue, rng.uniform(0.05, 0.6), np.clip(base_v - spread / 2, 0.05, 1))
    c2 = hsv(hue + rng.uniform(-60, 60), rng.uniform(0.05, 0.6), np.clip(base_v + spread / 2, 0, 1))
    s = min(h, w)
    noise = smooth_noise(rng, h, w, cell=s * rng.uniform(0.15, 0.6))
    style = rng.integers(4)
    if style == 0:
        field = noise
    elif style == 1:
        field = 0.55 * stripes(h, w, s * rng.uniform(0.08, 0.4), rng.uniform(0, math.pi), rng.uniform(0, 6.3)) \
            + 0.45 * noise
    elif style == 2:
        field = 0.4 * checker(h, w, s * rng.uniform(0.08, 0.3), rng.uniform(0, math.pi)) + 0.6 * noise
    else:
        g = grid_coords(h, w, rng.uniform(0, 2 * math.pi))
        g = (g - g.min()) / max(float(np.ptp(g)), 1e-6)
        field = 0.6 * g + 0.4 * noise
    fine = smooth_noise(rng, h, w, cell=max(2.0, s * 0.04), octaves=2)
    return colorize(np.clip(field + 0.15 * (fine - 0.5), 0, 1), [c1, c2])


def object_texture(rng: np.random.Generator, color: np.ndarray | None = None, size: int = 48,
                   patterned: bool = False) -> np.ndarray:
    """A texture ``(size, size, 3)`` float32 for a shape, spanning its local square ``[-1, 1]^2``.

    ``patterned=True`` never returns a plain colour (rotation of a plain circle would be invisible).
    """
    color = random_color(rng) if color is None else color
    other = random_color(rng)
    # Keep the second colour related to the first so the shape reads as one object.
    other = np.clip(0.5 * color + 0.5 * other * rng.uniform(0.3, 1.0), 0, 255)
    style = int(rng.integers(1 if patterned else 0, 6))
    n = size
    if style == 0:
        f = np.zeros((n, n), np.float32) + 0.15 * grid_coords(n, n, rng.uniform(0, 6.3)) / n
    elif style == 1:
        f = stripes(n, n, n * rng.uniform(0.15, 0.45), rng.uniform(0, math.pi), rng.uniform(0, 6.3), soft=False)
    elif style == 2:
        f = checker(n, n, n * rng.uniform(0.15, 0.35), rng.uniform(0, math.pi))
    elif style == 3:
        f = smooth_noise(rng, n, n, cell=n * rng.uniform(0.2, 0.5), octaves=2)
    elif style == 4:  # two halves and an off-centre dot
        f = (grid_coords(n, n, rng.uniform(0, 6.3)) > grid_coords(n, n, 0).mean()).astype(np.float32) * 0.6
        yy, xx = np.mgrid[0:n, 0:n] + 0.5
        cx, cy = rng.uniform(0.25, 0.75, 2) * n
        f = np.maximum(f, np.clip((n * 0.14 - np.hypot(xx - cx, yy - cy)) / 1.5 + 0.5, 0, 1))
    else:  # rings around an off-centre point
        yy, xx = np.mgrid[0:n, 0:n] + 0.5
        cx, cy = rng.uniform(0.3, 0.7, 2) * n
        f = 0.5 + 0.5 * np.sin(np.hypot(xx - cx, yy - cy) * 2 * math.pi / (n * rng.uniform(0.15, 0.35)))
    return colorize(np.clip(f, 0, 1).astype(np.float32), [color, other])


def to_uint8(img: np.ndarray, rng: np.random.Generator | None = None, noise: float = 0.0) -> np.ndarray:
    """Round to uint8, adding Gaussian sensor noise of standard deviation ``noise`` (grey levels)."""
    if noise > 0 and rng is not None:
        img = img + rng.standard_normal(img.shape, dtype=np.float32) * np.float32(noise)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


class NoiseBank:
    """Gaussian sensor noise for many frames at a fraction of the cost of drawing it fresh for every pixel.

    Each frame takes a window at a random offset of a buffer of two frames' worth of normal noise, so the noise of
    consecutive frames is not aligned (it looks fresh) while the buffer is drawn once.
    """

    def __init__(self, rng: np.random.Generator, shape: tuple[int, ...], sigma: float):
        self.rng = rng
        self.shape = shape
        self.size = int(np.prod(shape))
        self.buf = rng.standard_normal(2 * self.size + 4099, dtype=np.float32) * np.float32(sigma)

    def add(self, img: np.ndarray) -> np.ndarray:
        o = int(self.rng.integers(0, self.buf.size - self.size))
        return img + self.buf[o:o + self.size].reshape(self.shape)


# ---------------------------------------------------------------------------------------------------------------
# shapes


def regular_polygon(k: int, rotation: float = 0.0) -> np.ndarray:
    a = rotation + np.arange(k) * (2 * math.pi / k)
    return np.stack([np.cos(a), np.sin(a)], axis=1)


def random_convex_polygon(rng: np.random.Generator, k: int | None = None) -> np.ndarray:
    """Vertices of a random convex polygon inside the unit circle (an irregular, asymmetric outline)."""
    k = int(rng.integers(4, 8)) if k is None else k
    while True:
        a = np.sort(rng.uniform(0, 2 * math.pi, k))
        gaps = np.diff(np.concatenate([a, a[:1] + 2 * math.pi]))
        if gaps.max() < math.pi * 0.9:  # no huge gap: the polygon stays fat and contains the centre
            break
    r = rng.uniform(0.7, 1.0, k)
    pts = np.stack([r * np.cos(a), r * np.sin(a)], axis=1)
    return _convex_hull(pts)


def _convex_hull(pts: np.ndarray) -> np.ndarray:
    pts = sorted(map(tuple, pts.tolist()))

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1], np.float64)


@dataclass
class Shape:
    """A filled shape: a circle, an ellipse or a convex polygon, in local units scaled by ``radius`` pixels.

    ``verts`` (polygons) are local coordinates within the unit circle; an ellipse has semi-axes ``1`` and ``aspect``.
    The texture (or a plain ``color``) spans the local square ``[-1, 1]^2`` and turns and scales with the shape.
    """

    kind: str
    cx: float
    cy: float
    radius: float
    angle: float = 0.0
    aspect: float = 1.0
    verts: np.ndarray | None = None
    texture: np.ndarray | None = None
    color: np.ndarray | None = None
    _planes: tuple | None = field(default=None, repr=False, compare=False)

    def moved(self, cx: float, cy: float, radius: float | None = None, angle: float | None = None) -> Shape:
        s = Shape(self.kind, cx, cy, self.radius if radius is None else radius, self.angle if angle is None else angle,
                  self.aspect, self.verts, self.texture, self.color)
        s._planes = self._planes
        return s

    def extent(self) -> tuple[float, float, float, float]:
        """Exact ``x1, y1, x2, y2`` of the geometric outline (pixels, not clipped)."""
        c, s, r = math.cos(self.angle), math.sin(self.angle), self.radius
        if self.kind == "circle":
            hw = hh = r
        elif self.kind == "ellipse":
            hw = r * math.hypot(c, self.aspect * s)
            hh = r * math.hypot(s, self.aspect * c)
        else:
            v = self.verts
            xs = self.cx + r * (c * v[:, 0] - s * v[:, 1])
            ys = self.cy + r * (s * v[:, 0] + c * v[:, 1])
            return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())
        return self.cx - hw, self.cy - hh, self.cx + hw, self.cy + hh

    def _sdf(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Signed distance in local units (negative inside); exact for circles and inside polygons."""
        if self.kind == "circle":
            return np.sqrt(u * u + v * v) - 1.0
        if self.kind == "ellipse":
            b = self.aspect
            q = np.sqrt(u * u + (v / b) ** 2)
            grad = np.sqrt(u * u + v * v / b ** 4) / np.maximum(q, 1e-6)
            return (q - 1.0) / np.maximum(grad, 1e-6)
        if self._planes is None:
            p = self.verts
            area = 0.5 * np.sum(p[:, 0] * np.roll(p[:, 1], -1) - np.roll(p[:, 0], -1) * p[:, 1])
            if area < 0:
                p = p[::-1]
            e = np.roll(p, -1, axis=0) - p
            n = np.stack([e[:, 1], -e[:, 0]], axis=1)
            n /= np.linalg.norm(n, axis=1, keepdims=True)
            self._planes = (n.astype(np.float32), np.sum(n * p, axis=1).astype(np.float32))
        n, d = self._planes
        return (u[..., None] * n[:, 0] + v[..., None] * n[:, 1] - d).max(axis=-1)

    def patch(self, width: int, height: int, with_color: bool = True) -> Patch | None:
        """Coverage (and colour) of the shape over its bounding pixels, cropped to a ``width x height`` image.

        ``full_area`` is the coverage summed over the whole shape, including any part outside the image.
        Returns None when the shape does not touch the image.
        """
        x1, y1, x2, y2 = self.extent()
        ix0, iy0 = math.floor(x1) - 1, math.floor(y1) - 1
        ix1, iy1 = math.ceil(x2) + 1, math.ceil(y2) + 1
        xs = np.arange(ix0, ix1, dtype=np.float32) + np.float32(0.5 - self.cx)
        ys = np.arange(iy0, iy1, dtype=np.float32) + np.float32(0.5 - self.cy)
        c, s = np.float32(math.cos(self.angle)), np.float32(math.sin(self.angle))
        inv = np.float32(1.0 / self.radius)
        u = (xs[None, :] * c + ys[:, None] * s) * inv
        v = (ys[:, None] * c - xs[None, :] * s) * inv
        alpha = np.clip(0.5 - self._sdf(u, v) * np.float32(self.radius), 0, 1).astype(np.float32)
        full = float(alpha.sum())
        cx0, cy0 = max(ix0, 0), max(iy0, 0)
        cx1, cy1 = min(ix1, width), min(iy1, height)
        if cx1 <= cx0 or cy1 <= cy0:
            return None
        sl = (slice(cy0 - iy0, cy1 - iy0), slice(cx0 - ix0, cx1 - ix0))
        alpha = alpha[sl]
        rgb = None
        if with_color:
            if self.texture is not None:
                cv2 = _cv2()
                th, tw = self.texture.shape[:2]
                mx = ((u[sl] + 1) * (0.5 * tw) - 0.5).astype(np.float32)
                my = ((v[sl] + 1) * (0.5 * th) - 0.5).astype(np.float32)
                rgb = cv2.remap(self.texture, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            else:
                rgb = np.broadcast_to(np.asarray(self.color, np.float32), alpha.shape + (3,))
        return Patch(cx0, cy0, alpha, rgb, full)


@dataclass
class Patch:
    x0: int
    y0: int
    alpha: np.ndarray        # (h, w) coverage in [0, 1]
    rgb: np.ndarray | None   # (h, w, 3) float32
    full_area: float         # coverage of the whole shape, in or out of the image

    @property
    def region(self) -> tuple[slice, slice]:
        h, w = self.alpha.shape
        return slice(self.y0, self.y0 + h), slice(self.x0, self.x0 + w)


def composite(canvas: np.ndarray, patch: Patch | None) -> None:
    """Draw a patch over a float32 ``(H, W, 3)`` canvas in place."""
    if patch is None:
        return
    dst = canvas[patch.region]
    dst += patch.alpha[..., None] * (patch.rgb - dst)


def clip_box(box: tuple[float, float, float, float], width: int, height: int) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = box
    return (min(max(x1, 0.0), width), min(max(y1, 0.0), height), min(max(x2, 0.0), width), min(max(y2, 0.0), height))
