"""Synthetic datasets with exact ground truth: ``videolens datasets make KIND -o OUT``.

- ``motion``: UCF101-style action clips whose classes only show over time (see :mod:`videolens.datasets.motion`).
- ``edits``: videos with cuts, fades, dissolves and wipes at known frames (:mod:`videolens.datasets.edits`).
- ``objects``: moving, occluding shapes with COCO boxes and MOTChallenge tracks (:mod:`videolens.datasets.objects`).
- ``fastmotion``: single shots of real footage (``--source``) under a fast, shaky camera, with fast objects and
  flashes: what must not look like a transition (:mod:`videolens.datasets.fastmotion`).

Every kind is deterministic for a given ``seed`` (same ground truth, same video bytes) and writes each file under a
temporary name first. The generators use numpy, OpenCV and PyAV only (no torch), and are imported on first use.
"""

from __future__ import annotations

import os
import time

from ..errors import VideolensError

KINDS = ("motion", "edits", "objects", "fastmotion")


def make_dataset(kind: str, output: str | os.PathLike, *, seed: int = 0, num: int | None = None,
                 size: tuple[int, int] | None = None, frames: int | None = None, source: str | None = None,
                 fps: float | None = None, progress: bool = True, images: int | None = None) -> dict:
    """Generate a dataset of ``kind`` into the folder ``output``; returns a JSON-able summary.

    ``num``: clips per class (motion, default 40), videos (edits, default 10; objects, default 4).
    ``size``: ``(width, height)``, even numbers (defaults 64x64, 320x180, 320x240). ``frames``: frames per clip or
    video (defaults 16, 300, 120). ``fps``: default 25. ``source`` (edits only): a folder (or file) of real clips to
    cut shots from instead of procedural scenes. ``images`` (objects only): still training images, default
    ``50 * num``.

    The summary holds ``kind``, ``output``, ``seed``, ``size``, ``frames``, ``fps``, ``counts`` and ``files`` (paths
    relative to ``output``) plus ``seconds``. Raises :class:`~videolens.errors.VideolensError` on bad arguments.

    >>> make_dataset("motion", "/tmp/motion", num=2, progress=False)["counts"]["clips"]  # doctest: +SKIP
    18
    """
    from . import _common as C

    if kind not in KINDS:
        raise VideolensError(f"unknown dataset kind {kind!r} (choose from {', '.join(KINDS)})")
    seed = C.check_seed(seed)
    if source is not None and kind not in ("edits", "fastmotion"):
        raise VideolensError(f"--source is only used by the 'edits' and 'fastmotion' datasets, not {kind!r}")
    if images is not None and kind != "objects":
        raise VideolensError(f"images is only used by the 'objects' dataset, not {kind!r}")
    start = time.perf_counter()
    if kind == "motion":
        from . import motion

        summary = motion.generate(output, seed=seed, num=num, size=size, frames=frames, fps=fps, progress=progress)
    elif kind == "edits":
        from . import edits

        summary = edits.generate(output, seed=seed, num=num, size=size, frames=frames, fps=fps, source=source,
                                 progress=progress)
    elif kind == "fastmotion":
        from . import fastmotion

        summary = fastmotion.generate(output, seed=seed, num=num, size=size, frames=frames, fps=fps, source=source,
                                      progress=progress)
    else:
        from . import objects

        summary = objects.generate(output, seed=seed, num=num, size=size, frames=frames, fps=fps, images=images,
                                   progress=progress)
    summary["seconds"] = round(time.perf_counter() - start, 3)
    return summary


__all__ = ["KINDS", "make_dataset"]
