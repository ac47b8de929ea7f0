"""``edits``: videos assembled from shots, with cuts, fades, dissolves and wipes at known frames.

Shots come from real footage (``source``: a folder, file or glob of clips; random segments of random clips, read at
the output size after a centre-ish crop to its aspect ratio, sometimes mirrored) or, without a source, from
procedural scenes: camera pans (some fast, with motion blur) and slow zooms over a large textured world, shapes moving
over a gradient, and flowing textures. Most shots differ from the previous one in palette and kind of scene, some
are another look at a similar "location"; every shot has motion inside it, so frame differencing alone is not
perfect. Source clips should be single shots: a cut inside a clip would be an unrecorded boundary. Clips shorter
than a shot needs are played forwards then backwards.

Ground truth (``conventions.md``): frame index = 0-based presentation order. With ``A`` the outgoing and ``B`` the
incoming shot:

- ``cut``: ``start == end`` = the first frame of ``B``.
- ``dissolve`` of ``D`` frames: frame ``start + i`` (``i = 0 .. D-1``) is ``(1 - a) A + a B`` with
  ``a = (i + 1) / (D + 1)``: ``start`` is the first frame that is not pure ``A``, ``end`` the last that is not pure
  ``B``.
- ``wipe`` of ``D`` frames: an edge moves across the picture (left, right, up or down); frame ``start + i`` shows
  ``B`` on the fraction ``(i + 1) / (D + 1)`` of it. ``start``/``end`` as for a dissolve.
- ``fade`` (through black, sometimes white): ``A`` fades out over ``D1`` frames (gain ``1 - (i + 1) / D1``, so the
  last one is plain colour), ``hold`` plain frames (0-4) follow, then ``B`` fades in over ``D2`` frames
  (gain ``j / D2``, so the first is plain colour). ``start`` = the first darkened frame of ``A``, ``end`` = the last
  frame before ``B`` is fully shown. The whole fade is one transition.

Gradual transitions last 6 to 30 frames (``--frames`` permitting); shots show at least 12 frames on their own.

Layout::

    OUT/edits_NNNN.mp4
    OUT/edits_NNNN.json      {"frames": N, "fps": F, "transitions": [{"type": ..., "start": i, "end": j}, ...]}
    OUT/transitions.json     {"edits_NNNN.mp4": <the same object>, ...}
    OUT/details.json         per video: shots (where each came from, which frames) and transition details
                             (fade colour and lengths, wipe direction)
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
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
MIN_SHOT = 12               # frames a shot shows on its own (outside transitions)
MAX_SHOT = 100
GRADUAL = (6, 30)           # frames of a dissolve, wipe or whole fade
_TYPES = ("cut", "dissolve", "fade", "wipe")
_TYPE_P = (0.4, 0.2, 0.2, 0.2)
_WIPE_DIRECTIONS = ("right", "left", "down", "up")  # where the edge travels


@dataclass
class Edit:
    type: str
    start: int = 0
    end: int = 0
    length: int = 0           # frames; 0 for a cut
    color: str = ""           # fade: "black" or "white"
    fade_out: int = 0
    hold: int = 0
    fade_in: int = 0
    direction: str = ""       # wipe

    def truth(self) -> dict:
        return {"type": self.type, "start": self.start, "end": self.end}

    def details(self) -> dict:
        d = self.truth()
        if self.type == "fade":
            d.update(color=self.color, fade_out=self.fade_out, hold=self.hold, fade_in=self.fade_in)
        elif self.type == "wipe":
            d["direction"] = self.direction
        return d


def _sample_edit(rng: np.random.Generator) -> Edit:
    kind = _TYPES[int(rng.choice(len(_TYPES), p=_TYPE_P))]
    if kind == "cut":
        return Edit("cut")
    if kind == "fade":
        out_n = int(rng.integers(3, 14))
        in_n = int(rng.integers(3, 14))
        hold = int(rng.integers(0, 5))  # 6..30 frames in all, like GRADUAL
        return Edit("fade", length=out_n + hold + in_n, color="white" if rng.random() < 0.25 else "black",
                    fade_out=out_n, hold=hold, fade_in=in_n)
    length = int(rng.integers(GRADUAL[0], GRADUAL[1] + 1))
    direction = _WIPE_DIRECTIONS[int(rng.integers(4))] if kind == "wipe" else ""
    return Edit(kind, length=length, direction=direction)


def plan_video(rng: np.random.Generator, n_frames: int,
               max_shot: int = MAX_SHOT) -> tuple[list[tuple[int, int]], list[Edit]]:
    """Shot ranges ``(first, last)`` (output frames each shot's picture is used in, overlaps included) and edits.

    Shots show ``MIN_SHOT .. max_shot`` frames on their own (log-uniform); the last one takes what is left, which
    can be somewhat more.
    """
    pure: list[int] = []
    edits: list[Edit] = []
    remaining = n_frames
    while True:
        length = int(round(math.exp(rng.uniform(math.log(MIN_SHOT), math.log(max(max_shot, MIN_SHOT) + 1)))))
        length = max(MIN_SHOT, min(length, max_shot))
        edit = _sample_edit(rng)
        if remaining - length - edit.length >= MIN_SHOT:
            pure.append(length)
            edits.append(edit)
            remaining -= length + edit.length
        else:
            pure.append(remaining)
            break
    shots = []
    pos = 0
    first = 0
    for k, length in enumerate(pure):
        pos += length
        if k == len(edits):
            shots.append((first, pos - 1))
            break
        e = edits[k]
        e.start = pos
        if e.type == "cut":
            e.end = pos
            shots.append((first, pos - 1))
            first = pos
        elif e.type == "fade":
            e.end = pos + e.length - 1
            shots.append((first, pos + e.fade_out - 1))
            first = pos + e.fade_out + e.hold
        else:
            e.end = pos + e.length - 1
            shots.append((first, e.end))
            first = pos
        pos += e.length
    return shots, edits


# ---------------------------------------------------------------------------------------------------------------
# procedural shots: each yields float32 (h, w, 3) frames


def _palette_world(rng: np.random.Generator, h: int, w: int, hue: float, detail: int) -> np.ndarray:
    """A textured image with scattered shapes (features that make camera motion visible)."""
    world = C.background(rng, h, w, hue=hue, contrast=(0.25, 0.6))
    short = min(h, w)
    for _ in range(detail):
        r = short * math.exp(rng.uniform(math.log(0.015), math.log(0.2)))
        kind = ("circle", "polygon", "ellipse")[int(rng.integers(3))]
        col = C.random_color(rng, hue=hue + rng.uniform(-90, 90), sat=(0.2, 0.9), val=(0.15, 1.0))
        shape = C.Shape(kind, rng.uniform(0, w), rng.uniform(0, h), r, rng.uniform(0, 6.3),
                        aspect=rng.uniform(0.3, 1.0), color=col,
                        verts=C.random_convex_polygon(rng) if kind == "polygon" else None)
        if rng.random() < 0.4:
            shape.texture, shape.color = C.object_texture(rng, col, size=32), None
        C.composite(world, shape.patch(w, h))
    return world


def _pan_shot(rng, look, w: int, h: int, n: int, hue: float) -> Iterator[np.ndarray]:
    """A camera pan (some fast, with motion blur) and maybe a slow zoom over a large textured world."""
    cv2 = C._cv2()
    speed = math.exp(rng.uniform(math.log(0.3), math.log(24.0))) * w / 320  # px per frame
    if rng.random() < 0.7:
        direction = rng.choice([0.0, math.pi]) + rng.uniform(-0.35, 0.35)   # mostly horizontal
    else:
        direction = rng.uniform(0, 2 * math.pi)
    vx, vy = speed * math.cos(direction), speed * math.sin(direction)
    zoom = rng.choice([0.0, rng.uniform(-0.006, 0.006)], p=[0.6, 0.4])
    wob_a, wob_p, wob_ph = rng.uniform(0, 1.5), rng.uniform(20, 60), rng.uniform(0, 6.3)
    base_scale = rng.uniform(0.8, 1.1)
    # A half-frame shutter: fast pans blur along the motion, as a camera's would.
    taps = np.linspace(-0.25, 0.25, min(8, 1 + int(speed * 0.5 / 1.5))) if speed > 3 else np.zeros(1)
    t = (np.arange(n, dtype=np.float64)[:, None] + taps[None, :]).ravel()
    scale = np.exp(zoom * (t - n / 2)) * base_scale   # world px per output px
    wob = wob_a * np.sin(2 * math.pi * t / wob_p + wob_ph)
    cx, cy = vx * t + wob, vy * t + 0.6 * wob
    half_w, half_h = scale * w / 2, scale * h / 2
    x0, x1 = float(np.min(cx - half_w)) - 4, float(np.max(cx + half_w)) + 4
    y0, y1 = float(np.min(cy - half_h)) - 4, float(np.max(cy + half_h)) + 4
    ww, wh = int(math.ceil(x1 - x0)), int(math.ceil(y1 - y0))
    world = _palette_world(look, wh, ww, hue, detail=int(ww * wh / (h * w) * look.uniform(10, 40)) + 3)
    k = len(taps)
    for i in range(n):
        acc = None
        for j in range(i * k, i * k + k):
            s = scale[j]
            m = np.array([[s, 0, cx[j] - x0 - s * w / 2 + 0.5 * s - 0.5],
                          [0, s, cy[j] - y0 - s * h / 2 + 0.5 * s - 0.5]], np.float64)
            f = cv2.warpAffine(world, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REFLECT)
            acc = f if acc is None else acc + f
        yield acc if k == 1 else acc * np.float32(1.0 / k)


def _shapes_shot(rng, look, w: int, h: int, n: int, hue: float) -> Iterator[np.ndarray]:
    """Textured shapes moving, turning and bouncing over a gradient."""
    c1 = C.hsv(hue, look.uniform(0.2, 0.8), look.uniform(0.2, 0.9))
    c2 = C.hsv(hue + look.uniform(-40, 40), look.uniform(0.2, 0.8), look.uniform(0.2, 0.9))
    g = C.grid_coords(2 * h, 2 * w, look.uniform(0, 2 * math.pi))
    g = (g - g.min()) / max(float(np.ptp(g)), 1e-6)
    field = np.clip(0.6 * g + 0.4 * C.smooth_noise(look, 2 * h, 2 * w, cell=min(w, h) * 0.3), 0, 1)
    oy, ox = int(rng.integers(0, h + 1)), int(rng.integers(0, w + 1))   # this shot's view of the location
    bg = C.colorize(field[oy:oy + h, ox:ox + w], [c1, c2])
    short = min(w, h)
    movers = []
    for _ in range(int(look.integers(3, 8))):
        kind = ("circle", "polygon", "ellipse")[int(look.integers(3))]
        col = C.random_color(look, hue=hue + look.uniform(-150, 150))
        shape = C.Shape(kind, 0, 0, short * look.uniform(0.06, 0.25), aspect=look.uniform(0.4, 1.0),
                        verts=C.random_convex_polygon(look) if kind == "polygon" else None,
                        texture=C.object_texture(look, col, size=32))
        sp, ang = rng.uniform(0.5, 6.0), rng.uniform(0, 2 * math.pi)
        movers.append([shape, rng.uniform(0, w), rng.uniform(0, h), sp * math.cos(ang), sp * math.sin(ang),
                       rng.uniform(0, 6.3), math.radians(rng.uniform(-5, 5))])
    for _ in range(n):
        canvas = bg.copy()
        for m in movers:
            shape, x, y, vx, vy, a, va = m
            C.composite(canvas, shape.moved(x, y, angle=a).patch(w, h))
            # Bounce off the borders (keeps the shapes on screen for the whole shot).
            x, y = x + vx, y + vy
            if not 0 <= x <= w:
                vx, x = -vx, min(max(x, 0), w)
            if not 0 <= y <= h:
                vy, y = -vy, min(max(y, 0), h)
            m[1:] = [x, y, vx, vy, a + va, va]
        yield canvas


def _flow_shot(rng, look, w: int, h: int, n: int, hue: float) -> Iterator[np.ndarray]:
    """A texture that flows like water (a travelling sine displacement) and drifts."""
    cv2 = C._cv2()
    pad = 40
    tex = C.background(look, 2 * h + 2 * pad, 2 * w + 2 * pad, hue=hue, contrast=(0.3, 0.7))
    ox, oy = rng.uniform(0, w), rng.uniform(0, h)   # which part of the texture this shot looks at
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    amp = rng.uniform(2, 10)
    kx, ky = 2 * math.pi / rng.uniform(40, 160), 2 * math.pi / rng.uniform(40, 160)
    om = rng.uniform(0.05, 0.3)
    drift = rng.uniform(-1.5, 1.5, 2)
    for i in range(n):
        dx = amp * np.sin(ys * ky + om * i) + drift[0] * i
        dy = amp * np.cos(xs * kx + om * i * 0.7) + drift[1] * i
        mx = (xs + pad + ox + dx).astype(np.float32)
        my = (ys + pad + oy + dy).astype(np.float32)
        yield cv2.remap(tex, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


_PROCEDURAL = ((_pan_shot, 0.45, "pan"), (_shapes_shot, 0.3, "shapes"), (_flow_shot, 0.25, "flow"))


# ---------------------------------------------------------------------------------------------------------------
# shots from real footage


@dataclass
class _Clip:
    path: str
    frames: int
    size: tuple[int, int]


def _source_clips(source: str) -> list[_Clip]:
    from ..io.reader import VideoReader
    from ..utils.files import VIDEO_EXTENSIONS, expand_inputs

    src = os.fspath(source)
    if not os.path.exists(src) and not any(ch in src for ch in "*?["):
        raise VideolensError(f"{src}: no such file or directory (--source)")
    paths = expand_inputs([src], VIDEO_EXTENSIONS)
    clips = []
    for p in paths:
        r = VideoReader(p)
        if len(r) >= 2:
            clips.append(_Clip(p, len(r), r.size))
        r.close()
    if not clips:
        raise VideolensError(f"{src}: no usable video clips (--source)")
    return clips


def _source_shot(clip: _Clip, start: int, n: int, w: int, h: int, flip: bool,
                 offset: tuple[float, float]) -> Iterator[np.ndarray]:
    """``n`` frames of ``clip`` from ``start``, scaled to cover ``w x h`` and cropped; ping-pong if it is too short."""
    from ..io.reader import VideoReader

    sw, sh = clip.size
    scale = max(w / sw, h / sh)
    cw, ch = max(w, int(round(sw * scale))), max(h, int(round(sh * scale)))
    ox, oy = int(round(offset[0] * (cw - w))), int(round(offset[1] * (ch - h)))

    def crop(f: np.ndarray) -> np.ndarray:
        f = f[oy:oy + h, ox:ox + w]
        return (f[:, ::-1] if flip else f).astype(np.float32)

    with VideoReader(clip.path) as reader:
        if start + n <= clip.frames:
            for batch in reader.iter_frames(start, start + n, size=(cw, ch), batch=8):
                for f in batch.frames:
                    yield crop(f)
            return
        # Too short: play forwards and backwards (no jump in the picture, so no unrecorded cut).
        frames = reader.get_frames(np.arange(clip.frames), size=(cw, ch))
    period = 2 * (clip.frames - 1)
    for i in range(n):
        k = i % period
        yield crop(frames[k if k < clip.frames else period - k])


# ---------------------------------------------------------------------------------------------------------------
# assembly


def _wipe_mask(direction: str, frac: float, w: int, h: int) -> np.ndarray:
    """Coverage of the incoming shot, with an anti-aliased edge: ``(h, w, 1)`` or broadcastable."""
    if direction in ("right", "left"):
        x = np.arange(w, dtype=np.float32) + 0.5
        if direction == "left":
            x = w - x
        return np.clip(frac * w - x + 0.5, 0, 1)[None, :, None]
    y = np.arange(h, dtype=np.float32) + 0.5
    if direction == "up":
        y = h - y
    return np.clip(frac * h - y + 0.5, 0, 1)[:, None, None]


def _compose(n: int, edit: Edit, a: np.ndarray | None, b: np.ndarray | None, w: int, h: int) -> np.ndarray:
    """Output frame ``n`` inside gradual transition ``edit`` from frames ``a`` (outgoing) and ``b`` (incoming)."""
    i = n - edit.start
    if edit.type == "dissolve":
        alpha = (i + 1) / (edit.length + 1)
        return (1 - alpha) * a + alpha * b
    if edit.type == "wipe":
        m = _wipe_mask(edit.direction, (i + 1) / (edit.length + 1), w, h)
        return a + m * (b - a)
    level = 255.0 if edit.color == "white" else 0.0
    if i < edit.fade_out:
        g = 1 - (i + 1) / edit.fade_out
        return g * a + (1 - g) * level
    j = i - edit.fade_out - edit.hold
    if j < 0:
        return np.full((h, w, 3), level, np.float32)
    g = j / edit.fade_in
    return g * b + (1 - g) * level


def _make_video(path: Path, rng: np.random.Generator, w: int, h: int, n_frames: int, fps: float,
                clips: list[_Clip] | None) -> tuple[dict, dict]:
    from ..io.writer import VideoWriter

    max_shot = MAX_SHOT
    if clips:
        max_shot = min(MAX_SHOT, max(24, max(c.frames for c in clips) - 2 * GRADUAL[1]))
    shots, edits = plan_video(rng, n_frames, max_shot)
    noise = C.NoiseBank(np.random.default_rng(int(rng.integers(2**62))), (h, w, 3), float(rng.uniform(0.8, 3.0)))
    makers, shot_info = [], []
    hue = rng.uniform(0, 360)
    prev_clip, kind = -1, 0
    for first, last in shots:
        need = last - first + 1
        if clips:
            choices = [i for i in range(len(clips)) if i != prev_clip] or [0]
            longer = [i for i in choices if clips[i].frames >= need]
            ci = int(rng.choice(longer or choices))
            prev_clip = ci
            clip = clips[ci]
            start = int(rng.integers(0, clip.frames - need + 1)) if clip.frames >= need else 0
            flip, offset = bool(rng.random() < 0.5), (float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.2, 0.8)))
            makers.append(lambda clip=clip, start=start, need=need, flip=flip, offset=offset:
                          _source_shot(clip, start, need, w, h, flip, offset))
            shot_info.append({"first": first, "last": last, "source": clip.path, "source_start": start,
                              "source_frames": need, "mirrored": flip})
        else:
            # Most neighbouring shots look clearly different; some stay in a similar "location" (the same kind
            # of scene in about the same colours, different textures), which makes for cuts that are harder to see.
            same = bool(first > 0 and rng.random() < 0.2)
            if same:
                hue = (hue + rng.uniform(-20, 20)) % 360
            else:
                hue = (hue + rng.uniform(60, 300)) % 360
                kind = int(rng.choice(len(_PROCEDURAL), p=[p for _, p, _ in _PROCEDURAL]))
            look_seed = int(rng.integers(2**62))
            fn, _, name = _PROCEDURAL[kind]
            motion_seed = int(rng.integers(2**62))
            makers.append(lambda fn=fn, ms=motion_seed, ls=look_seed, need=need, hue=hue:
                          fn(np.random.default_rng(ms), np.random.default_rng(ls), w, h, need, hue))
            shot_info.append({"first": first, "last": last, "scene": name, "same_location": same})
    active: dict[int, Iterator[np.ndarray]] = {}
    lo = ei = 0
    with VideoWriter(path, fps=fps, size=(w, h), crf=CRF, preset=C.X264_PRESET) as writer:
        for n in range(n_frames):
            while shots[lo][1] < n:
                active.pop(lo, None)
                lo += 1
            while ei < len(edits) and edits[ei].end < n:
                ei += 1
            got: dict[int, np.ndarray] = {}
            for k in (lo, lo + 1):
                if k < len(shots) and shots[k][0] <= n <= shots[k][1]:
                    if k not in active:
                        active[k] = makers[k]()
                    f = next(active[k])
                    if not clips:
                        f = noise.add(f)
                    got[k] = f
            if ei < len(edits) and edits[ei].start <= n and edits[ei].type != "cut":
                frame = _compose(n, edits[ei], got.get(ei), got.get(ei + 1), w, h)
            else:
                (frame,) = got.values()
            writer.write(C.to_uint8(frame))
        for it in active.values():
            it.close()
    truth = {"frames": n_frames, "fps": fps, "transitions": [e.truth() for e in edits]}
    details = {"shots": shot_info, "transitions": [e.details() for e in edits]}
    return truth, details


def generate(output: str | os.PathLike, *, seed: int, num: int | None, size: tuple[int, int] | None,
             frames: int | None, fps: float | None, source: str | None = None, progress: bool = True) -> dict:
    """Write the ``edits`` dataset to ``output`` (see the module docstring); returns a summary."""
    num = C.check_int("--num", num, DEFAULT_NUM, 1, 100000)
    w, h = C.check_size(size, DEFAULT_SIZE, 32)
    n_frames = C.check_int("--frames", frames, DEFAULT_FRAMES, 2, 1_000_000)
    fps = C.check_fps(fps, DEFAULT_FPS)
    clips = _source_clips(source) if source is not None else None
    out = C.prepare_output(output)
    index, all_details, written = {}, {}, []
    counts = {t: 0 for t in _TYPES}
    with C.progress_bar(num, "edits", progress, "video") as bar:
        for k, rng in enumerate(C.child_rngs(seed, num)):
            name = f"edits_{k:04d}"
            truth, details = _make_video(out / f"{name}.mp4", rng, w, h, n_frames, fps, clips)
            C.write_json(out / f"{name}.json", truth)
            index[f"{name}.mp4"] = truth
            all_details[f"{name}.mp4"] = details
            for t in truth["transitions"]:
                counts[t["type"]] += 1
            written += [f"{name}.mp4", f"{name}.json"]
            bar.update(1)
    C.write_json(out / "transitions.json", index)
    C.write_json(out / "details.json", {
        "kind": "edits", "seed": seed, "size": [w, h], "fps": fps, "source": source,
        "note": "first/last: output frames in which a shot's picture is used (transitions included)",
        "videos": all_details})
    written += ["transitions.json", "details.json"]
    return {
        "kind": "edits", "output": str(out), "seed": seed, "size": [w, h], "frames": n_frames, "fps": fps,
        "source": source,
        "counts": {"videos": num, "transitions": sum(counts.values()), **{f"{t}s": c for t, c in counts.items()}},
        "files": written,
    }
