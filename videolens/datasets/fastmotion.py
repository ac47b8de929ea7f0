"""``fastmotion``: single shots of real footage under a fast, shaky camera, with fast objects and flashes.

A shot detector's false alarms come from motion inside a shot: a whip pan, a shaking hand-held camera, something big
crossing close to the lens, a camera flash. Each video here is one shot (no transition, unless a cut is spliced in
on purpose, see below) made from real footage (``source``: single-shot clips and/or still photos): a virtual camera
looks at a window of the footage's frames (which play on) and moves fast:

- ``pan``: bursts of fast panning (3-40 px per frame at 320 px wide), eased in and out, with motion blur;
- ``whip``: whip pans (up to 100 px per frame, heavily blurred) between slower stretches;
- ``shake``: a shaking hand-held camera (jitter of 3-15 px with some rotation) over a slow drift;
- ``zoom``: fast zooms in and out (up to ~8 % per frame);

and, on top, in some videos ``objects`` (1-3 patches of other footage, up to the frame's height, crossing the
picture in 3-25 frames, motion-blurred) and ``flash`` (camera flashes of 1-3 frames, strobes, a flash from one
side). Where the camera would leave the footage it bounces back.

Ground truth (``conventions.md``): ``transitions`` is empty, except in the videos with a spliced cut (``cut_prob``):
there the footage switches to another source clip at a random frame while the camera keeps moving, and that frame is
a ``cut`` (the first frame of the new shot). Those check that filtering motion does not lose real cuts.

Layout (as ``edits``, so the same evaluation reads it)::

    OUT/fastmotion_NNNN.mp4
    OUT/fastmotion_NNNN.json   {"frames": N, "fps": F, "transitions": [...]}
    OUT/transitions.json       {"fastmotion_NNNN.mp4": <the same object>, ...}
    OUT/details.json           per video: sources, camera style, speeds, objects, flashes, spliced cut
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import VideolensError
from . import _common as C

DEFAULT_NUM = 10
DEFAULT_SIZE = (320, 180)
DEFAULT_FRAMES = 300
DEFAULT_FPS = 25.0
CRF = 20
CAMERAS = ("pan", "whip", "shake", "zoom")
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
MAX_DECODE_WIDTH = 640      # footage is decoded at most this wide (the camera window is 320 px at most 2x zoomed)
CUT_PROB = 0.25             # share of videos with one spliced real cut


@dataclass
class _Item:
    """One piece of source footage: a single-shot clip, or a still photo (one frame)."""

    path: str
    frames: int
    size: tuple[int, int]
    image: bool


def _source_items(source: str | os.PathLike | list) -> list[_Item]:
    from ..io.reader import VideoReader
    from ..utils.files import VIDEO_EXTENSIONS, expand_inputs

    sources = [os.fspath(s) for s in (source if isinstance(source, (list, tuple)) else [source])]
    for s in sources:
        if not os.path.exists(s) and not any(ch in s for ch in "*?["):
            raise VideolensError(f"{s}: no such file or directory (--source)")
    items = []
    for p in expand_inputs(sources, VIDEO_EXTENSIONS | IMAGE_EXTENSIONS):
        if Path(p).suffix.lower() in IMAGE_EXTENSIONS:
            img = C._cv2().imread(p)
            if img is not None:
                items.append(_Item(p, 1, (img.shape[1], img.shape[0]), True))
            continue
        r = VideoReader(p)
        if len(r) >= 2:
            items.append(_Item(p, len(r), r.size, False))
        r.close()
    if len(items) < 2:
        raise VideolensError(f"{', '.join(sources)}: fastmotion needs at least two clips or photos (--source)")
    return items


def _pick(rng: np.random.Generator, items: list[_Item], k: int) -> list[_Item]:
    """``k`` different items; clips and photos equally likely whatever their numbers (a few clips, many photos)."""
    groups = [g for g in ([i for i in items if not i.image], [i for i in items if i.image]) if g]
    out: list[_Item] = []
    while len(out) < k:
        g = groups[int(rng.integers(len(groups)))]
        left = [i for i in g if i not in out] or [i for i in items if i not in out] or items
        out.append(left[int(rng.integers(len(left)))])
    return out


def _load(item: _Item, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Up to ``n`` RGB frames of ``item`` (at most MAX_DECODE_WIDTH wide) from a random start, mirrored or not."""
    from ..io.reader import VideoReader

    sw, sh = item.size
    scale = min(1.0, MAX_DECODE_WIDTH / sw)
    size = (max(2, int(round(sw * scale / 2)) * 2), max(2, int(round(sh * scale / 2)) * 2))
    flip = bool(rng.random() < 0.5)
    if item.image:
        img = C._cv2().imread(item.path)[:, :, ::-1]
        frames = [C._cv2().resize(img, size, interpolation=C._cv2().INTER_AREA)]
    else:
        start = int(rng.integers(0, max(1, item.frames - n + 1)))
        with VideoReader(item.path, interpolation="area") as reader:
            frames = [f for b in reader.iter_frames(start, min(item.frames, start + n), size=size, batch=16)
                      for f in b.frames]
    return [np.ascontiguousarray(f[:, ::-1] if flip else f) for f in frames]


def _ease(n: int, rng: np.random.Generator, peak: tuple[float, float], gaps: tuple[int, int],
          bursts: tuple[int, int], ramp: tuple[int, int]) -> np.ndarray:
    """Per-frame 2D velocity: bursts of motion at a speed from ``peak`` (log-uniform), eased in and out."""
    vel = np.zeros((n, 2))
    i = int(rng.integers(0, gaps[1] + 1))
    while i < n:
        length = int(rng.integers(*bursts))
        speed = math.exp(rng.uniform(math.log(peak[0]), math.log(peak[1])))
        ang = (rng.choice([0.0, math.pi]) + rng.uniform(-0.4, 0.4)) if rng.random() < 0.7 else rng.uniform(0, 6.3)
        r = max(1, int(rng.integers(*ramp)))
        t = np.arange(length)
        prof = np.minimum(1.0, np.minimum((t + 1) / r, (length - t) / r))     # trapezoid
        seg = vel[i:i + length]
        seg += np.outer(prof[:len(seg)] * speed, [math.cos(ang), math.sin(ang)])
        i += length + int(rng.integers(*gaps))
    return vel


def _camera(rng: np.random.Generator, styles: list[str], n: int, w: int) -> dict:
    """The camera's path: per-frame velocity (output px), shake offset (px), rotation (degrees), zoom (log scale)."""
    k = w / 320.0
    vel = np.zeros((n, 2))
    shake = np.zeros((n, 2))
    rot = np.zeros(n)
    zoom = np.zeros(n)
    if "pan" in styles:
        vel += _ease(n, rng, (3.0 * k, 40.0 * k), (0, 30), (8, 60), (1, 8))
    if "whip" in styles:
        vel += _ease(n, rng, (40.0 * k, 100.0 * k), (20, 80), (4, 14), (2, 5))
        vel += _ease(n, rng, (0.5 * k, 4.0 * k), (0, 10), (20, 80), (5, 15))
    if "shake" in styles:
        amp = rng.uniform(3, 15) * k
        a = rng.uniform(0.3, 0.8)                 # AR(1): lower is jerkier
        e = rng.normal(0, amp * math.sqrt(1 - a * a), (n, 2))
        r = rng.normal(0, rng.uniform(0.3, 2.0) * math.sqrt(1 - a * a), n)
        for i in range(1, n):
            e[i] += a * e[i - 1]
            r[i] += a * r[i - 1]
        shake, rot = e, r
        vel += _ease(n, rng, (0.5 * k, 6.0 * k), (0, 20), (20, 100), (5, 20))
    if "zoom" in styles:
        z = _ease(n, rng, (0.02, 0.08), (5, 40), (4, 25), (2, 6))[:, 0]
        zoom = np.cumsum(z * rng.choice([-1, 1], n))
        vel += _ease(n, rng, (0.5 * k, 8.0 * k), (0, 20), (10, 60), (3, 10))
    return {"vel": vel, "shake": shake, "rot": rot, "zoom": zoom}


def _reflect(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Fold an unbounded path into ``[lo, hi]`` (the camera bounces off the footage's edges)."""
    span = np.maximum(hi - lo, 1e-6)
    u = np.mod(x - lo, 2 * span)
    return lo + np.where(u > span, 2 * span - u, u)


class _Object:
    """A patch of other footage with a soft edge that crosses the picture fast (close to the lens)."""

    def __init__(self, rng: np.random.Generator, frame: np.ndarray, w: int, h: int, n: int):
        cv2 = C._cv2()
        ph = int(h * rng.uniform(0.3, 1.0))
        pw = int(ph * rng.uniform(0.4, 1.5))
        fh, fw = frame.shape[:2]
        cw, ch = min(fw, max(8, int(fw * rng.uniform(0.2, 0.6)))), min(fh, max(8, int(fh * rng.uniform(0.2, 0.6))))
        y0, x0 = int(rng.integers(0, fh - ch + 1)), int(rng.integers(0, fw - cw + 1))
        self.patch = cv2.resize(frame[y0:y0 + ch, x0:x0 + cw], (pw, ph)).astype(np.float32)
        yy, xx = np.mgrid[0:ph, 0:pw].astype(np.float32)
        u, v = (xx + 0.5) / pw * 2 - 1, (yy + 0.5) / ph * 2 - 1
        p = rng.uniform(2, 6)                       # 2: an ellipse; larger: a rounded rectangle
        d = (np.abs(u) ** p + np.abs(v) ** p) ** (1 / p)
        feather = rng.uniform(0.05, 0.25)
        self.mask = np.clip((1 - d) / feather, 0, 1)[..., None]
        cross = int(rng.integers(3, 26))            # frames to cross the picture
        ang = (rng.choice([0.0, math.pi]) + rng.uniform(-0.5, 0.5)) if rng.random() < 0.75 else rng.uniform(0, 6.3)
        d = np.array([math.cos(ang), math.sin(ang)])
        dist = abs(d[0]) * (w + pw) + abs(d[1]) * (h + ph)
        self.vel = d * dist / cross
        centre = np.array([w / 2 + rng.uniform(-0.3, 0.3) * w, h / 2 + rng.uniform(-0.3, 0.3) * h])
        self.first = int(rng.integers(0, max(1, n - cross)))
        self.start = centre - self.vel * cross / 2
        self.blur = int(min(25, np.hypot(*self.vel) * 0.5))
        self.info = {"first": self.first, "frames": cross, "size": [pw, ph],
                     "speed": round(float(np.hypot(*self.vel)), 1)}

    def draw(self, frame: np.ndarray, i: int) -> None:
        cv2 = C._cv2()
        if i < self.first:
            return
        h, w = frame.shape[:2]
        ph, pw = self.patch.shape[:2]
        c = self.start + self.vel * (i - self.first)
        x0, y0 = int(round(c[0] - pw / 2)), int(round(c[1] - ph / 2))
        xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + pw, w), min(y0 + ph, h)
        if xa >= xb or ya >= yb:
            return
        patch, mask = self.patch, self.mask
        if self.blur >= 2:
            k = (self.blur, 1) if abs(self.vel[0]) >= abs(self.vel[1]) else (1, self.blur)
            patch, mask = cv2.blur(patch, k), cv2.blur(mask, k)[..., None]
        p = patch[ya - y0:yb - y0, xa - x0:xb - x0]
        a = mask[ya - y0:yb - y0, xa - x0:xb - x0]
        frame[ya:yb, xa:xb] = frame[ya:yb, xa:xb] * (1 - a) + p * a


def _flashes(rng: np.random.Generator, n: int, w: int, h: int) -> tuple[dict, list]:
    """Frame -> (gain, offset, spatial weight or None) for camera flashes, strobes and side flashes."""
    out: dict[int, tuple] = {}
    info = []
    for _ in range(int(rng.integers(1, 5))):
        at = int(rng.integers(0, n))
        kind = str(rng.choice(["flash", "strobe", "side"], p=[0.5, 0.25, 0.25]))
        gain, offset = rng.uniform(1.3, 2.5), rng.uniform(20, 120)
        weight = None
        if kind == "side":
            ang = rng.uniform(0, 2 * math.pi)
            yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
            g = (xx / w - 0.5) * math.cos(ang) + (yy / h - 0.5) * math.sin(ang)
            weight = np.clip(g + 0.5, 0, 1)[..., None] ** 1.5
        frames = [at + j for j in range(int(rng.integers(1, 4)))] if kind != "strobe" else \
            [at + 2 * j for j in range(int(rng.integers(3, 7)))]
        for f in frames:
            if 0 <= f < n:
                out[f] = (gain, offset, weight)
        info.append({"kind": kind, "frames": [f for f in frames if 0 <= f < n]})
    return out, info


def _make_video(path: Path, rng: np.random.Generator, items: list[_Item], w: int, h: int, n: int, fps: float,
                cut_prob: float) -> tuple[dict, dict]:
    from ..io.writer import VideoWriter

    cv2 = C._cv2()
    base, other, third = _pick(rng, items, 3)
    cut = int(rng.integers(n // 4, 3 * n // 4)) if rng.random() < cut_prob else -1
    styles = [str(s) for s in rng.choice(CAMERAS, size=int(rng.choice([1, 1, 2])), replace=False)]
    cam = _camera(rng, styles, n, w)
    pieces = [(0, _load(base, n if cut < 0 else cut, rng))]
    if cut >= 0:
        pieces.append((cut, _load(other, n - cut, rng)))
    objects = []
    if rng.random() < 0.45:
        donor = _load(third if cut >= 0 else other, 1, rng)[0]
        objects = [_Object(rng, donor, w, h, n) for _ in range(int(rng.integers(1, 4)))]
    flashes, flash_info = _flashes(rng, n, w, h) if rng.random() < 0.35 else ({}, [])
    base_zoom = rng.uniform(1.0, 1.6)           # output px per footage px over the smallest covering scale
    # The unbounded path in output px (integrated velocity), folded into the footage later per piece.
    pos = np.cumsum(cam["vel"], axis=0)
    speed = np.hypot(*cam["vel"].T) + np.hypot(*np.diff(cam["shake"], axis=0, prepend=cam["shake"][:1]).T)
    truth = {"frames": n, "fps": fps, "transitions": [{"type": "cut", "start": cut, "end": cut}] if cut >= 0 else []}
    details = {"sources": [Path(base.path).name] + ([Path(other.path).name] if cut >= 0 else []),
               "camera": styles, "max_speed": round(float(speed.max()), 1),
               "mean_speed": round(float(speed.mean()), 1), "objects": [o.info for o in objects],
               "object_source": Path((third if cut >= 0 else other).path).name if objects else None,
               "flashes": flash_info, "cut": cut if cut >= 0 else None}
    with VideoWriter(path, fps=fps, size=(w, h), crf=CRF, preset=C.X264_PRESET) as writer:
        for i in range(n):
            first, frames = pieces[-1] if cut >= 0 and i >= cut else pieces[0]
            j = i - first
            period = max(1, 2 * (len(frames) - 1))
            k = j % period if len(frames) > 1 else 0
            src = frames[k if k < len(frames) else period - k]
            fh, fw = src.shape[:2]
            cover = max(w / fw, h / fh) * 1.02
            scale = cover * base_zoom * math.exp(cam["zoom"][i])
            scale = max(scale, cover * 1.02)
            # Where the window's centre may go (footage px) so it stays inside the footage.
            lo = np.array([w / 2 / scale, h / 2 / scale])
            hi = np.array([fw, fh]) - lo
            v = cam["vel"][i]
            taps = max(1, min(8, 1 + int(np.hypot(*v) * 0.5 / 1.5)))
            acc = np.zeros((h, w, 3), np.float32)
            for t in np.linspace(-0.5, 0.0, taps) if taps > 1 else [0.0]:
                c = (pos[i] + t * v + cam["shake"][i]) / scale + np.array([fw, fh]) / 2
                c = _reflect(c, lo, hi)
                m = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), float(cam["rot"][i]), scale)
                m[:, 2] += np.array([w / 2, h / 2]) - c
                acc += cv2.warpAffine(src, m, (w, h), flags=cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_REFLECT).astype(np.float32)
            frame = acc / taps
            for o in objects:
                o.draw(frame, i)
            if i in flashes:
                gain, offset, weight = flashes[i]
                lit = frame * gain + offset
                frame = lit if weight is None else frame + (lit - frame) * weight
            writer.write(C.to_uint8(frame))
    return truth, details


def generate(output: str | os.PathLike, *, seed: int, num: int | None, size: tuple[int, int] | None,
             frames: int | None, fps: float | None, source: str | os.PathLike | list | None,
             cut_prob: float = CUT_PROB, progress: bool = True) -> dict:
    """Write the ``fastmotion`` dataset to ``output`` (see the module docstring); returns a summary."""
    if source is None:
        raise VideolensError("fastmotion needs real footage: --source DIR (single-shot clips and/or photos)")
    num = C.check_int("--num", num, DEFAULT_NUM, 1, 100000)
    w, h = C.check_size(size, DEFAULT_SIZE, 32)
    n = C.check_int("--frames", frames, DEFAULT_FRAMES, 8, 1_000_000)
    fps = C.check_fps(fps, DEFAULT_FPS)
    items = _source_items(source)
    out = C.prepare_output(output)
    index, details, written = {}, {}, []
    with C.progress_bar(num, "fastmotion", progress, "video") as bar:
        for k, rng in enumerate(C.child_rngs(seed, num)):
            name = f"fastmotion_{k:04d}.mp4"
            truth, info = _make_video(out / name, rng, items, w, h, n, fps, cut_prob)
            C.write_json(out / name.replace(".mp4", ".json"), truth)
            index[name], details[name] = truth, info
            written += [name, name.replace(".mp4", ".json")]
            bar.update(1)
    C.write_json(out / "transitions.json", index)
    C.write_json(out / "details.json", {"kind": "fastmotion", "seed": seed, "size": [w, h], "fps": fps,
                                        "sources": [i.path for i in items], "videos": details})
    cuts = sum(len(t["transitions"]) for t in index.values())
    return {"kind": "fastmotion", "output": str(out), "seed": seed, "size": [w, h], "frames": n, "fps": fps,
            "source": [i.path for i in items], "counts": {"videos": num, "spliced_cuts": cuts},
            "files": written + ["transitions.json", "details.json"]}
