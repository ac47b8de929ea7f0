"""Action prediction over many videos: what ``videolens predict`` does, usable from Python.

The checkpoint is loaded once; each video is labelled (or split into action segments when longer than the
window) and, when ``formats`` are given, gets ``actions.csv`` / ``actions.json`` in its own folder
(:func:`~videolens.utils.files.output_dirs`).

>>> items = predict_files("runs/c3d/best.pt", ["clips/"], "out", formats=("csv",))    # doctest: +SKIP
>>> prediction, files = items[0].result                                              # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..utils.batch import BatchItem, run_batch
from ..utils.files import VIDEO_EXTENSIONS, expand_inputs, output_dirs

FORMATS = ("csv", "json")       # what prediction.write_outputs writes


def predict_files(checkpoint: str | os.PathLike, inputs: Sequence[str], output: str | os.PathLike | None = None,
                  formats: Sequence[str] = (), *, window: float = 2.0, hop: float = 1.0, overwrite: bool = False,
                  device: str = "auto", quiet: bool = False) -> list[BatchItem]:
    """Predict each video of files, folders or globs; an item's ``result`` is ``(ActionPrediction, files)``.

    One bad video is recorded in its item and the rest go on.
    """
    from .prediction import Predictor, write_outputs

    videos = expand_inputs(list(inputs), VIDEO_EXTENSIONS)
    predictor = Predictor(checkpoint, device)
    dirs = output_dirs(videos, output)

    def one(video: str):
        result = predictor(video, window, hop)
        files = write_outputs(result, dirs[video], formats, overwrite=overwrite) if formats else []
        return result, files

    return run_batch(videos, one, jobs=1, desc="predict", quiet=quiet)
