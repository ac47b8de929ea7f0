"""``objects``: moving, occluding shapes of three classes with detection (COCO) and tracking (MOTChallenge) truth.

Classes: ``circle`` (1), ``square`` (2), ``triangle`` (3). Every class comes in any colour, size, angle and pattern
(plain, stripes, checks, noise, rings...), so neither colour nor texture gives the class away; only the outline
does. Objects move with smooth random velocities, turn slowly, enter at the edges and leave, and occlude each other
in a fixed depth order per object, over a random textured background with sensor noise.

Definitions:

- Box: the exact extent of the object's outline (not of its visible part), clipped to the image; pixel
  coordinates with ``(0, 0)`` the top-left corner of the top-left pixel. COCO ``bbox`` is
  ``[x1, y1, x2 - x1, y2 - y1]``; MOT ``x, y, w, h`` is ``[x1 + 1, y1 + 1, x2 - x1, y2 - y1]``, because MOTChallenge
  numbers pixels from 1 (as in the PETS09 ground truth).
- Visibility: the fraction of the object's (anti-aliased) area that is seen, i.e. inside the image and not covered
  by objects in front of it, in ``[0, 1]``. Truncation at the border and occlusion both reduce it (as in MOT17).
- An object has a row in a frame when its clipped box is at least one pixel wide and high, including when it is
  completely occluded (visibility 0). COCO ``area`` is the visible area in pixels.
- Track ids start at 1 in every video and are never reused; MOT frame numbers are 1-based (frame index + 1).

Layout::

    OUT/videos/objects_NNNN.mp4
    OUT/videos/objects_NNNN.json          COCO: videos, images (one per frame, with frame_index), annotations
                                          (bbox, category_id, track_id, visibility, area), categories
    OUT/videos/objects_NNNN/gt/gt.txt     MOTChallenge: frame,id,x,y,w,h,1,class_id,visibility
    OUT/videos/objects_NNNN/seqinfo.ini   sequence length, frame rate and size (for MOT evaluation tools)
    OUT/images/NNNNNN.jpg                 independent still scenes (their own seeds)
    OUT/images/annotations.json           COCO, objects with visibility >= 0.3 only; file_name relative to images/

``num`` is the number of videos; the image set has ``images`` stills, by default ``50 * num`` (200 for the default
4 videos).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _common as C

CATEGORIES = ("circle", "square", "triangle")
DEFAULT_NUM = 4
DEFAULT_SIZE = (320, 240)
DEFAULT_FRAMES = 120
DEFAULT_FPS = 25.0
IMAGES_PER_VIDEO = 50
MIN_IMAGE_VISIBILITY = 0.3
CRF = 18
_MAX_OBJECTS = 9
_SPAWN_P = 0.05          # chance per frame that a new object enters at an edge
_RADIUS = (0.05, 0.14)   # circumradius as a fraction of the short side
_SPEED = (0.5, 3.0)      # px per frame at a short side of 240


@dataclass
class _Obj:
    track_id: int
    cls: int                # 0-based index into CATEGORIES
    shape: C.Shape
    x: float
    y: float
    vx: float
    vy: float
    pvx: float              # preferred velocity the random one relaxes to
    pvy: float
    turn: float
    z: float


def _make_shape(rng: np.random.Generator, cls: int, radius: float, bg_mean: np.ndarray) -> C.Shape:
    color = C.random_color(rng, sat=(0.25, 1.0), val=(0.3, 1.0))
    for _ in range(20):  # keep objects distinguishable from the background
        if np.linalg.norm(color - bg_mean) > 60:
            break
        color = C.random_color(rng, sat=(0.25, 1.0), val=(0.3, 1.0))
    tex = C.object_texture(rng, color, size=32)
    angle = rng.uniform(0, 2 * math.pi)
    if cls == 0:
        return C.Shape("circle", 0, 0, radius, angle, texture=tex)
    if cls == 1:
        return C.Shape("polygon", 0, 0, radius, angle, verts=C.regular_polygon(4, math.pi / 4), texture=tex)
    verts = C.regular_polygon(3, -math.pi / 2) + rng.uniform(-0.12, 0.12, (3, 2))
    verts -= verts.mean(axis=0)
    verts /= np.linalg.norm(verts, axis=1).max()
    return C.Shape("polygon", 0, 0, radius, angle, verts=verts, texture=tex)


def _new_object(rng, track_id: int, w: int, h: int, bg_mean: np.ndarray, at_edge: bool) -> _Obj:
    short = min(w, h)
    cls = int(rng.integers(len(CATEGORIES)))
    radius = short * rng.uniform(*_RADIUS)
    speed = rng.uniform(*_SPEED) * short / 240
    shape = _make_shape(rng, cls, radius, bg_mean)
    if at_edge:
        # Enter from a random edge, 1-3 px of it already inside, heading into the picture.
        edge = int(rng.integers(4))
        along, inside = rng.uniform(0.1, 0.9), rng.uniform(1, 3)
        heading = rng.uniform(-0.9, 0.9) + (0.0, math.pi, math.pi / 2, -math.pi / 2)[edge]
        x1, y1, x2, y2 = shape.extent()          # relative to the centre: the shape sits at (0, 0)
        x, y = ((inside - x2, along * h), (w - inside - x1, along * h), (along * w, inside - y2),
                (along * w, h - inside - y1))[edge]
    else:
        x, y, heading = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0, 2 * math.pi)
    vx, vy = speed * math.cos(heading), speed * math.sin(heading)
    return _Obj(track_id, cls, shape, x, y, vx, vy, vx, vy, math.radians(rng.uniform(-3, 3)), rng.random())


def _outside(shape: C.Shape, w: int, h: int) -> bool:
    x1, y1, x2, y2 = shape.extent()
    return x2 <= 0 or y2 <= 0 or x1 >= w or y1 >= h


def render_scene(background: np.ndarray, objects: list[_Obj]) -> tuple[np.ndarray, list[dict]]:
    """Draw objects (back to front by ``z``) over a float background; boxes, visibility and visible area per object.

    Returns the float32 image and one record per object whose clipped box is at least 1 x 1 px.
    """
    h, w = background.shape[:2]
    placed = [(o, o.shape.moved(o.x, o.y)) for o in objects]
    placed.sort(key=lambda p: -p[0].z)          # front first: what is in front hides what is behind
    uncovered = np.ones((h, w), np.float32)
    patches, records = [], []
    for obj, shape in placed:
        patch = shape.patch(w, h)
        if patch is None:
            continue
        region = patch.region
        seen = float((patch.alpha * uncovered[region]).sum())
        uncovered[region] *= 1.0 - patch.alpha
        patches.append(patch)
        x1, y1, x2, y2 = C.clip_box(shape.extent(), w, h)
        if x2 - x1 >= 1 and y2 - y1 >= 1:
            records.append({"track_id": obj.track_id, "category_id": obj.cls + 1, "box": (x1, y1, x2, y2),
                            "visibility": min(1.0, seen / max(patch.full_area, 1e-6)), "area": seen})
    canvas = background.copy()
    for patch in reversed(patches):
        C.composite(canvas, patch)
    records.sort(key=lambda r: r["track_id"])
    return canvas, records


def _simulate(rng: np.random.Generator, w: int, h: int, frames: int):
    """Yield ``(frame_float32, records)`` for each frame of one video."""
    bg = C.background(rng, h, w)
    bg_mean = bg.reshape(-1, 3).mean(axis=0)
    noise = C.NoiseBank(np.random.default_rng(int(rng.integers(2**62))), (h, w, 3), rng.uniform(1.5, 4.0))
    next_id = 1
    alive: list[_Obj] = []
    for _ in range(int(rng.integers(3, 7))):
        alive.append(_new_object(rng, next_id, w, h, bg_mean, at_edge=False))
        next_id += 1
    short = min(w, h)
    jitter = 0.06 * short / 240
    for _ in range(frames):
        img, records = render_scene(bg, alive)
        yield noise.add(img), records
        if len(alive) < _MAX_OBJECTS and rng.random() < _SPAWN_P:
            alive.append(_new_object(rng, next_id, w, h, bg_mean, at_edge=True))
            next_id += 1
        kept = []
        for o in alive:
            # Velocity: a random walk pulled back to the object's preferred velocity (smooth, no sudden turns).
            o.vx = 0.95 * o.vx + 0.05 * o.pvx + rng.normal(0, jitter)
            o.vy = 0.95 * o.vy + 0.05 * o.pvy + rng.normal(0, jitter)
            o.x += o.vx
            o.y += o.vy
            o.shape.angle += o.turn
            if not _outside(o.shape.moved(o.x, o.y), w, h):
                kept.append(o)
        alive = kept


def _categories() -> list[dict]:
    return [{"id": i + 1, "name": n, "supercategory": "shape"} for i, n in enumerate(CATEGORIES)]


def _bbox(box) -> list[float]:
    x1, y1, x2, y2 = box
    return [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)]


def _write_video(out: Path, name: str, rng: np.random.Generator, w: int, h: int, frames: int,
                 fps: float) -> dict:
    from ..io.writer import VideoWriter

    vdir = out / "videos"
    images, annotations, mot_rows = [], [], []
    tracks: set[int] = set()
    with VideoWriter(vdir / f"{name}.mp4", fps=fps, size=(w, h), crf=CRF, preset=C.X264_PRESET) as writer:
        for i, (img, records) in enumerate(_simulate(rng, w, h, frames)):
            writer.write(C.to_uint8(img))
            images.append({"id": i + 1, "video_id": 1, "file_name": f"{name}.mp4", "frame_index": i,
                           "width": w, "height": h})
            for r in records:
                bbox = _bbox(r["box"])
                vis = round(r["visibility"], 4)
                annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": r["category_id"],
                                    "bbox": bbox, "area": round(r["area"], 2), "iscrowd": 0,
                                    "track_id": r["track_id"], "visibility": vis})
                # MOTChallenge numbers pixels from 1 (bb_left of the top-left pixel is 1), frames from 1 too.
                mot_rows.append(f"{i + 1},{r['track_id']},{bbox[0] + 1:.2f},{bbox[1] + 1:.2f},{bbox[2]:.2f},{bbox[3]:.2f},"
                                f"1,{r['category_id']},{vis:.4f}\n")
                tracks.add(r["track_id"])
    C.write_json(vdir / f"{name}.json", {
        "info": {"description": "videolens synthetic objects", "frame_index": "0-based presentation order"},
        "videos": [{"id": 1, "name": name, "file_name": f"{name}.mp4", "width": w, "height": h, "frames": frames,
                    "fps": fps}],
        "images": images, "annotations": annotations, "categories": _categories()})
    C.write_text(vdir / name / "gt" / "gt.txt", "".join(mot_rows))
    C.write_text(vdir / name / "seqinfo.ini",
                 f"[Sequence]\nname={name}\nframeRate={fps:g}\nseqLength={frames}\nimWidth={w}\nimHeight={h}\n")
    return {"tracks": len(tracks), "boxes": len(annotations),
            "files": [f"videos/{name}.mp4", f"videos/{name}.json", f"videos/{name}/gt/gt.txt",
                      f"videos/{name}/seqinfo.ini"]}


def _still(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, list[dict]]:
    """One independent scene: a background and 2-10 objects anywhere (some cut by the border)."""
    bg = C.background(rng, h, w)
    bg_mean = bg.reshape(-1, 3).mean(axis=0)
    objs = []
    for k in range(int(rng.integers(2, 11))):
        o = _new_object(rng, k + 1, w, h, bg_mean, at_edge=False)
        o.x, o.y = rng.uniform(-0.05 * w, 1.05 * w), rng.uniform(-0.05 * h, 1.05 * h)
        objs.append(o)
    img, records = render_scene(bg, objs)
    return C.to_uint8(img, rng, rng.uniform(1.5, 4.0)), records


def generate(output: str | os.PathLike, *, seed: int, num: int | None, size: tuple[int, int] | None,
             frames: int | None, fps: float | None, images: int | None = None, progress: bool = True) -> dict:
    """Write the ``objects`` dataset to ``output`` (see the module docstring); returns a summary."""
    num = C.check_int("--num", num, DEFAULT_NUM, 1, 100000)
    w, h = C.check_size(size, DEFAULT_SIZE, 32)
    frames = C.check_int("--frames", frames, DEFAULT_FRAMES, 1, 1_000_000)
    fps = C.check_fps(fps, DEFAULT_FPS)
    n_images = C.check_int("images", images, IMAGES_PER_VIDEO * num, 0, 10_000_000)
    out = C.prepare_output(output)
    (out / "videos").mkdir(exist_ok=True)
    written: list[str] = []
    n_tracks = n_boxes = 0
    with C.progress_bar(num * frames + n_images, "objects", progress, "frame") as bar:
        for k, rng in enumerate(C.child_rngs(seed, num, stream=0)):
            info = _write_video(out, f"objects_{k:04d}", rng, w, h, frames, fps)
            n_tracks += info["tracks"]
            n_boxes += info["boxes"]
            written += info["files"]
            bar.update(frames)
        coco_images, coco_anns = [], []
        if n_images:
            (out / "images").mkdir(exist_ok=True)
        for k, rng in enumerate(C.child_rngs(seed, n_images, stream=1)):
            img, records = _still(rng, w, h)
            file_name = f"{k:06d}.jpg"
            C.write_image(out / "images" / file_name, img)
            coco_images.append({"id": k + 1, "file_name": file_name, "width": w, "height": h})
            for r in records:
                if r["visibility"] >= MIN_IMAGE_VISIBILITY:
                    coco_anns.append({"id": len(coco_anns) + 1, "image_id": k + 1, "category_id": r["category_id"],
                                      "bbox": _bbox(r["box"]), "area": round(r["area"], 2), "iscrowd": 0,
                                      "visibility": round(r["visibility"], 4)})
            written.append(f"images/{file_name}")
            bar.update(1)
    if n_images:
        C.write_json(out / "images" / "annotations.json", {
            "info": {"description": "videolens synthetic objects (stills)",
                     "min_visibility": MIN_IMAGE_VISIBILITY},
            "images": coco_images, "annotations": coco_anns, "categories": _categories()})
        written.append("images/annotations.json")
    return {
        "kind": "objects", "output": str(out), "seed": seed, "size": [w, h], "frames": frames, "fps": fps,
        "categories": list(CATEGORIES),
        "counts": {"videos": num, "frames": num * frames, "tracks": n_tracks, "boxes": n_boxes,
                   "images": n_images, "image_boxes": len(coco_anns)},
        "files": written,
    }
