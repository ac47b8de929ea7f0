"""What ``videolens shots`` and ``videolens shots-eval`` do, for one video and for a batch (the CLI only parses).

>>> summary = shots_for_file("samples/sample.mp4", "out/sample", split=True)    # doctest: +SKIP
>>> summary["counts"]["shots"], summary["outputs"][:2]                          # doctest: +SKIP
(6, ['out/sample/shots.json', 'out/sample/shots.csv'])
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from ..errors import OutputExistsError
from ..utils.batch import BatchItem, run_batch
from ..utils.files import VIDEO_EXTENSIONS, expand_inputs, output_dirs
from .detect import detect
from .evaluate import evaluate, load_truth
from .export import output_paths, write_outputs, write_thumbnails


def shots_for_file(path: str | os.PathLike, out_dir: str | os.PathLike, *, detector: str = "auto",
                   threshold: float | None = None, min_shot_len: float = 0.5,
                   formats: tuple[str, ...] = ("json", "csv", "edl"), stats: bool = False, split: bool = False,
                   thumbnails: bool = False, overwrite: bool = False, device: str = "auto",
                   quiet: bool = True) -> dict:
    """Detect the shots of ``path`` and write the chosen files to ``out_dir``; returns the JSON summary."""
    path, out = os.fspath(path), Path(out_dir)
    if not overwrite:        # fail before decoding anything
        for p in output_paths(out, formats, stats):
            if p.exists():
                raise OutputExistsError(p)
        for folder, wanted in (("shots", split), ("thumbnails", thumbnails)):
            if wanted and (out / folder).exists():
                raise OutputExistsError(out / folder)
    t0 = time.perf_counter()
    result = detect(path, detector, threshold=threshold, min_shot_len=min_shot_len, device=device, quiet=quiet)
    seconds = time.perf_counter() - t0
    extra: dict = {"seconds": round(seconds, 3)}
    pieces, thumbs = [], []
    if split:
        from .split import split_shots

        pieces = split_shots(path, result, out, overwrite=True, quiet=quiet)
        extra["pieces"] = pieces
    if thumbnails:
        thumbs = [str(p) for p in write_thumbnails(result, out, overwrite=True)]
        extra["thumbnails"] = thumbs
    written = write_outputs(result, out, formats, stats=stats, overwrite=True, extra=extra)
    summary = {**result.to_dict(), **extra, "output_dir": str(out), "outputs": [str(p) for p in written]}
    return summary


def eval_file(path: str | os.PathLike, truth_file: str | os.PathLike, *, detector: str = "auto",
              threshold: float | None = None, min_shot_len: float = 0.5, tolerance: int = 2, device: str = "auto",
              quiet: bool = True) -> dict:
    """Detect the shots of ``path`` and score them against its ground truth in ``truth_file``."""
    truth = load_truth(truth_file, path)        # before decoding: a wrong truth file fails fast
    result = detect(path, detector, threshold=threshold, min_shot_len=min_shot_len, device=device, quiet=quiet)
    report = evaluate(result, truth, tolerance)
    return {"path": os.fspath(path), "detector": detector, "frames": result.frames, **report,
            "predicted": [t.to_dict() for t in result.transitions]}


def shots_for_files(inputs: Sequence[str], output: str | os.PathLike | None = None, *, quiet: bool = False,
                    **options) -> list[BatchItem]:
    """:func:`shots_for_file` over video files, folders or globs, each into its own folder
    (:func:`~videolens.utils.files.output_dirs`); one bad video is recorded in its item and the rest go on."""
    videos = expand_inputs(list(inputs), VIDEO_EXTENSIONS)
    dirs = output_dirs(videos, output)
    return run_batch(videos, lambda path: shots_for_file(path, dirs[path], quiet=quiet, **options), desc="shots",
                     quiet=quiet)


def eval_files(inputs: Sequence[str], truth_file: str | os.PathLike, *, quiet: bool = False,
               **options) -> list[BatchItem]:
    """:func:`eval_file` over video files, folders or globs; one bad video is recorded in its item."""
    videos = expand_inputs(list(inputs), VIDEO_EXTENSIONS)
    return run_batch(videos, lambda path: eval_file(path, truth_file, quiet=quiet, **options), desc="shots-eval",
                     quiet=quiet)
