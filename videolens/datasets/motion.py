"""``motion``: a small action-recognition benchmark whose classes can only be told apart over time.

Each clip shows one main object (random outline, colour and pattern) over a random textured background, with a few
smaller, slower distractor objects that drift and turn independently of the class, and sensor noise. The class is
what the main object does: ``move_left, move_right, move_up, move_down, rotate_cw, rotate_ccw, grow, shrink, static``.

Why one frame cannot tell the classes apart: every quantity a frame shows (centre ``x``, ``y``, size, angle) has the
same distribution in every class when the frame is picked at random from the clip.

- A moving coordinate follows a path of random length placed uniformly in the frame; the opposite direction runs the
  same set of paths backwards, so frame ``t`` of one class is distributed like frame ``T-1-t`` of its pair. The size
  of ``grow``/``shrink`` does the same on a log scale. Angles start uniform on the circle.
- A coordinate (or the size) that does not move in a class is drawn from the same per-frame distribution as a
  moving one, so ``static`` or ``rotate_cw`` frames look like ``move_left`` frames too.
- For a *known* frame index other than the middle one, translations and size changes cannot match exactly (a
  bounded path that only grows ends bigger than it starts, on average); pick frames at random, as single-frame
  baselines do. Rotation matches at every frame.

Layout (UCF101 style)::

    OUT/classInd.txt            "1 move_left" ... (1-based)
    OUT/trainlist.txt           "move_left/move_left_0000.mp4 1"
    OUT/testlist.txt            "move_left/move_left_0031.mp4"
    OUT/<class>/<class>_NNNN.mp4
    OUT/labels.json             classes in order and every clip's parameters, per-frame track (for debugging) and
                                the main object's box per frame (``boxes``: ``[x1, y1, x2, y2]`` in frame pixels,
                                the extent of its outline clipped to the frame; ``videolens explain`` is checked
                                against them)

The split is stratified: in every class the last ``round(num / 5)`` clips (at least one when ``num >= 2``) are test.
Clip ``k`` of a class is the same whatever ``--num`` is.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from . import _common as C

VERSION = 2   # of the generator's settings; labels.json records it (2: larger main object, faster turns, slower
              # distractors, no disc: see the constants below)
CLASSES = ("move_left", "move_right", "move_up", "move_down", "rotate_cw", "rotate_ccw", "grow", "shrink", "static")
DEFAULT_NUM = 40
DEFAULT_SIZE = (64, 64)
DEFAULT_FRAMES = 16
DEFAULT_FPS = 25.0
CRF = 17  # near-lossless: coarse quantisation leaves motion-dependent smears a single frame could read

_MARGIN = 0.15            # centres stay this fraction of the frame away from the edges
_TRAVEL = (0.15, 0.55)    # path length as a fraction of the frame
# What the class shows must be visible at the benchmark's 32 px: until 2026-11 the main object could be 3 px in
# radius, a rotating disc showed its turn only in its texture, and distractors drifted as fast as the main object,
# so rotate_cw/ccw were read as static and c3d topped out at 54 % (BENCHMARKS.md). Single frames still tell nothing.
_SIZE_RANGE = (0.15, 0.35)  # main object radius as a fraction of the short side
_GROWTH = (1.5, 2.0)      # size ratio between the first and last frame of grow/shrink
_TURN_DEG = (6.0, 10.0)   # rotation speed, degrees per frame (x5 < 60: a triangle's turn stays unambiguous)
_DISTRACTOR_SPEED = (0.0, 0.02)  # distractor drift, fraction of the short side per frame
_DISTRACTOR_SIZE = (0.03, 0.06)  # distractor radius, fraction of the short side
_SHAPES = ("ellipse", "rectangle", "triangle", "polygon")   # main object: no disc, whose turn only its texture shows


@dataclass
class ClipSpec:
    """Everything that defines one clip; sampling it is cheap (no pixels)."""

    cls: str
    width: int
    height: int
    x: np.ndarray          # (T,) main object centre, pixels
    y: np.ndarray
    radius: np.ndarray     # (T,) pixels
    angle: np.ndarray      # (T,) radians, growing = clockwise on screen
    shape: str
    speed: float
    speed_unit: str
    noise: float
    appearance_seed: int
    distractors: list[dict] = field(default_factory=list)


def _path(rng: np.random.Generator, length: float, frames: int, sign: int) -> tuple[np.ndarray, float]:
    """Positions along one axis: a path of random length placed uniformly, run forwards (+1) or backwards (-1)."""
    travel = rng.uniform(*_TRAVEL) * length
    margin = _MARGIN * length
    a = rng.uniform(margin, length - margin - travel)
    step = travel / max(frames - 1, 1)
    t = np.arange(frames, dtype=np.float64)
    return (a + step * t if sign > 0 else a + travel - step * t), step


def _log_size_path(rng: np.random.Generator, short: float, frames: int, sign: int) -> tuple[np.ndarray, float]:
    lo, hi = math.log(_SIZE_RANGE[0] * short), math.log(_SIZE_RANGE[1] * short)
    span = math.log(rng.uniform(*_GROWTH))
    a = rng.uniform(lo, hi - span)
    step = span / max(frames - 1, 1)
    t = np.arange(frames, dtype=np.float64)
    return np.exp(a + step * t if sign > 0 else a + span - step * t), step


def _frozen(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A constant track whose value is one random frame of a moving track: the same per-frame distribution."""
    return np.full(values.shape, values[rng.integers(values.size)])


def sample_clip(rng: np.random.Generator, cls: str, width: int, height: int, frames: int) -> ClipSpec:
    """Draw the parameters and per-frame main-object track of one clip of class ``cls``."""
    if cls not in CLASSES:
        raise ValueError(f"unknown motion class {cls!r}")
    short = min(width, height)
    x, vx = _path(rng, width, frames, -1 if cls == "move_left" else 1)
    y, vy = _path(rng, height, frames, -1 if cls == "move_up" else 1)
    r, vr = _log_size_path(rng, short, frames, -1 if cls == "shrink" else 1)
    turn = math.radians(rng.uniform(*_TURN_DEG))
    a0 = rng.uniform(0, 2 * math.pi)
    angle = a0 + turn * np.arange(frames) * (-1 if cls == "rotate_ccw" else 1)
    if cls not in ("move_left", "move_right"):
        x = _frozen(x, rng)
    if cls not in ("move_up", "move_down"):
        y = _frozen(y, rng)
    if cls not in ("grow", "shrink"):
        r = _frozen(r, rng)
    if cls not in ("rotate_cw", "rotate_ccw"):
        angle = np.full(frames, a0)
    speed, unit = {"move_left": (vx, "px/frame"), "move_right": (vx, "px/frame"), "move_up": (vy, "px/frame"),
                   "move_down": (vy, "px/frame"), "grow": (vr, "log(size)/frame"), "shrink": (vr, "log(size)/frame"),
                   "rotate_cw": (math.degrees(turn), "deg/frame"), "rotate_ccw": (math.degrees(turn), "deg/frame"),
                   }.get(cls, (0.0, ""))
    shape = _SHAPES[int(rng.integers(len(_SHAPES)))]
    distractors = []
    for _ in range(int(rng.integers(2, 5))):
        ang = rng.uniform(0, 2 * math.pi)
        sp = rng.uniform(*_DISTRACTOR_SPEED) * short
        distractors.append(dict(
            x0=rng.uniform(0, width), y0=rng.uniform(0, height), vx=sp * math.cos(ang), vy=sp * math.sin(ang),
            radius=rng.uniform(*_DISTRACTOR_SIZE) * short, angle0=rng.uniform(0, 2 * math.pi),
            turn=math.radians(rng.uniform(-6, 6)), above=bool(rng.random() < 0.25),
        ))
    return ClipSpec(cls, width, height, x, y, r, angle, shape, float(speed), unit, float(rng.uniform(1.5, 6.0)),
                    int(rng.integers(2**62)), distractors)


def _make_shape(rng: np.random.Generator, kind: str, texture: np.ndarray) -> C.Shape:
    if kind == "ellipse":
        return C.Shape("ellipse", 0, 0, 1, aspect=rng.uniform(0.5, 0.85), texture=texture)
    if kind == "circle":
        return C.Shape("circle", 0, 0, 1, texture=texture)
    if kind == "rectangle":
        phi = math.radians(rng.uniform(25, 40))
        hw, hh = math.cos(phi), math.sin(phi)
        verts = np.array([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]])
        return C.Shape("polygon", 0, 0, 1, verts=verts, texture=texture)
    if kind == "triangle":
        verts = C.regular_polygon(3) + rng.uniform(-0.15, 0.15, (3, 2))
        verts /= np.linalg.norm(verts, axis=1).max()
        return C.Shape("polygon", 0, 0, 1, verts=verts, texture=texture)
    return C.Shape("polygon", 0, 0, 1, verts=C.random_convex_polygon(rng), texture=texture)


def render_clip(spec: ClipSpec) -> np.ndarray:
    """The frames of a clip, ``(T, H, W, 3)`` uint8 RGB."""
    return render_clip_and_boxes(spec)[0]


def render_clip_and_boxes(spec: ClipSpec) -> tuple[np.ndarray, np.ndarray]:
    """The frames of a clip, ``(T, H, W, 3)`` uint8 RGB, and the main object's box per frame, ``(T, 4)`` float
    ``x1, y1, x2, y2`` in frame pixels: the exact extent of its outline (not of its visible part, as in
    ``objects``), clipped to the frame. Computing the boxes draws no random numbers: the frames are those of
    :func:`render_clip`.

    >>> import numpy as np
    >>> spec = sample_clip(np.random.default_rng(0), "move_right", 64, 48, 4)
    >>> frames, boxes = render_clip_and_boxes(spec)
    >>> frames.shape, boxes.shape, bool((boxes[:, 2] > boxes[:, 0]).all())
    ((4, 48, 64, 3), (4, 4), True)
    """
    rng = np.random.default_rng(spec.appearance_seed)
    w, h = spec.width, spec.height
    bg = C.background(rng, h, w)
    # Re-draw colours too close to the background's mean: the class must be learnable from the main object.
    bg_mean = bg.reshape(-1, 3).mean(axis=0)
    color = C.random_color(rng)
    for _ in range(20):
        if np.linalg.norm(color - bg_mean) > 70:
            break
        color = C.random_color(rng)
    main = _make_shape(rng, spec.shape, C.object_texture(rng, color, patterned=True))
    dshapes = []
    for _ in spec.distractors:
        kind = ("circle", "rectangle", "triangle", "polygon")[int(rng.integers(4))]
        tex = C.object_texture(rng, size=24) if rng.random() < 0.5 else None
        s = _make_shape(rng, kind, tex)
        if tex is None:
            s.color = C.random_color(rng)
        dshapes.append(s)
    frames = np.empty((len(spec.x), h, w, 3), np.uint8)
    boxes = np.empty((len(spec.x), 4), np.float64)
    for t in range(len(spec.x)):
        canvas = bg.copy()
        above = []
        for d, s in zip(spec.distractors, dshapes):
            ds = s.moved(d["x0"] + d["vx"] * t, d["y0"] + d["vy"] * t, d["radius"], d["angle0"] + d["turn"] * t)
            if d["above"]:
                above.append(ds)
            else:
                C.composite(canvas, ds.patch(w, h))
        shape = main.moved(spec.x[t], spec.y[t], spec.radius[t], spec.angle[t])
        C.composite(canvas, shape.patch(w, h))
        boxes[t] = C.clip_box(shape.extent(), w, h)
        for ds in above:
            C.composite(canvas, ds.patch(w, h))
        frames[t] = C.to_uint8(canvas, rng, spec.noise)
    return frames, boxes


def _test_count(num: int) -> int:
    return 0 if num < 2 else max(1, int(round(num / 5)))


def _clip_record(spec: ClipSpec, file: str, split: str, boxes: np.ndarray) -> dict:
    def r3(a):
        return [round(float(v), 3) for v in a]

    return {
        "file": file, "class": spec.cls, "class_index": CLASSES.index(spec.cls), "split": split,
        "shape": spec.shape, "speed": round(spec.speed, 4), "speed_unit": spec.speed_unit,
        "start": {"x": round(float(spec.x[0]), 3), "y": round(float(spec.y[0]), 3),
                  "radius": round(float(spec.radius[0]), 3), "angle_deg": round(math.degrees(spec.angle[0]), 3)},
        "track": {"x": r3(spec.x), "y": r3(spec.y), "radius": r3(spec.radius),
                  "angle_deg": r3(np.degrees(spec.angle))},
        "distractors": len(spec.distractors), "noise": round(spec.noise, 3),
        "boxes": [[round(float(v), 2) for v in b] for b in boxes],
    }


def generate(output: str | os.PathLike, *, seed: int, num: int | None, size: tuple[int, int] | None,
             frames: int | None, fps: float | None, progress: bool = True) -> dict:
    """Write the ``motion`` dataset to ``output`` (see the module docstring); returns a summary."""
    from ..io.writer import VideoWriter

    num = C.check_int("--num", num, DEFAULT_NUM, 1, 100000)
    w, h = C.check_size(size, DEFAULT_SIZE, 16)
    frames = C.check_int("--frames", frames, DEFAULT_FRAMES, 2, 10000)
    fps = C.check_fps(fps, DEFAULT_FPS)
    out = C.prepare_output(output)
    written: list[str] = []
    records: list[dict] = []
    train_lines, test_lines = [], []
    n_test = _test_count(num)
    with C.progress_bar(num * len(CLASSES), "motion", progress, "clip") as bar:
        for ci, cls in enumerate(CLASSES):
            (out / cls).mkdir(exist_ok=True)
            for k, rng in enumerate(C.child_rngs(seed, num, stream=ci)):
                spec = sample_clip(rng, cls, w, h, frames)
                name = f"{cls}/{cls}_{k:04d}.mp4"
                with VideoWriter(out / name, fps=fps, size=(w, h), crf=CRF, preset=C.X264_PRESET) as writer:
                    pixels, boxes = render_clip_and_boxes(spec)
                    for frame in pixels:
                        writer.write(frame)
                split = "test" if k >= num - n_test else "train"
                if split == "train":
                    train_lines.append(f"{name} {ci + 1}")
                else:
                    test_lines.append(name)
                records.append(_clip_record(spec, name, split, boxes))
                written.append(name)
                bar.update(1)
    C.write_text(out / "classInd.txt", "".join(f"{i + 1} {c}\n" for i, c in enumerate(CLASSES)))
    C.write_text(out / "trainlist.txt", "".join(line + "\n" for line in train_lines))
    C.write_text(out / "testlist.txt", "".join(line + "\n" for line in test_lines))
    C.write_json(out / "labels.json", {
        "kind": "motion", "version": VERSION, "seed": seed, "fps": fps, "size": [w, h], "frames": frames,
        "classes": list(CLASSES),
        "note": "class_index is 0-based into 'classes'; classInd.txt and trainlist.txt use 1-based labels like UCF101. "
                "track: main object centre (px), radius (px) and angle (degrees, clockwise) per frame.",
        "box_format": "boxes: the main object's box in every frame of the clip, [x1, y1, x2, y2] in frame pixels "
                      "((0, 0) = the top-left corner of the top-left pixel): the extent of its outline, clipped to "
                      "the frame, whether or not a distractor hides part of it",
        "clips": records,
    })
    written += ["classInd.txt", "trainlist.txt", "testlist.txt", "labels.json"]
    return {
        "kind": "motion", "output": str(out), "seed": seed, "size": [w, h], "frames": frames, "fps": fps,
        "counts": {"classes": len(CLASSES), "clips": len(records), "train": len(train_lines),
                   "test": len(test_lines)},
        "files": written,
    }


__all__ = ["CLASSES", "VERSION", "ClipSpec", "generate", "render_clip", "render_clip_and_boxes", "sample_clip"]
