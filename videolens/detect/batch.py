"""Detection over many videos: what ``videolens detect`` does, usable from Python.

The detector is loaded once; each video gets its own folder (:func:`~videolens.utils.files.output_dirs`) and
goes through :func:`~videolens.detect.video.detect_video`. A video that fails is reported and skipped (its partial
files stay), so one broken file does not cost the rest of the batch.

>>> run = detect_videos(["a/clip.mp4", "b/clip.mp4"], "out", "people-hog", tracker="bytetrack")  # doctest: +SKIP
>>> run.ok, [str(i.output) for i in run.items]                                                  # doctest: +SKIP
(2, ['out/clip-1f0c...', 'out/clip-9a7e...'])
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import VideolensError
from ..utils.batch import BatchRun
from ..utils.files import expand_inputs, output_dirs


@dataclass
class DetectItem:
    """One video of a batch: its result, or why it failed."""

    video: str
    output: Path
    result: Any = None              # a VideoDetectionResult when it worked
    error: str | None = None        # the line for the user (stderr)
    detail: str | None = None       # the error as the JSON output gives it

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return self.result.to_dict() if self.ok else {"video": self.video, "error": self.detail}


class DetectRun(BatchRun):
    """The outcome of :func:`detect_videos`: one :class:`DetectItem` per video, in input order."""

    def to_json(self) -> dict[str, Any] | list[dict[str, Any]]:
        """What ``videolens detect --json`` prints: the video's object, or a list of them for several videos."""
        docs = [i.to_dict() for i in self.items]
        return docs[0] if len(docs) == 1 else docs


def detect_videos(inputs: Sequence[str], output: str | os.PathLike | None, model, *,
                  weights: str | None = None, conf: float | None = None, iou: float | None = None,
                  classes: Sequence[str] | None = None, imgsz: int | None = None, device: str = "auto",
                  tracker=None, stride: int = 1, tracker_settings: dict | None = None, lines=(),
                  zones=(), anchor: str = "center",
                  anonymize: bool = False, anonymize_method: str = "blur",
                  formats: Sequence[str] = ("csv", "json", "mot", "mp4"), overwrite: bool = False,
                  quiet: bool = False, on_item: Callable[[DetectItem], None] | None = None) -> DetectRun:
    """Run one detector over files, folders or globs. ``model``: a name or path for
    :func:`~videolens.detect.detectors.load_detector`, or a ready :class:`~videolens.detect.detectors.Detector`;
    with ``anonymize`` it defaults to the default face detector (:func:`~videolens.detect.detectors.default_face_model`).

    ``on_item`` is called as each video finishes (the CLI prints as it goes). The options are those of
    :func:`~videolens.detect.detectors.load_detector` and :func:`~videolens.detect.video.detect_video`.
    """
    from .detectors import Detector, default_face_model, load_detector
    from .video import detect_video

    model = model or (default_face_model() if anonymize else None)
    if model is None:
        raise VideolensError("detect: --model is required (faces, people-hog, fasterrcnn, a checkpoint .pt, "
                             "onnx:PATH ...)")
    inputs = expand_inputs(list(inputs))
    detector = model if isinstance(model, Detector) else load_detector(
        model, weights=weights, conf=conf, iou=iou, classes=list(classes) if classes else None, device=device,
        imgsz=imgsz)
    run = DetectRun()
    for path, out in output_dirs(inputs, output).items():
        item = DetectItem(path, out)
        try:
            item.result = detect_video(path, out, detector, tracker=tracker, stride=stride, lines=lines, zones=zones,
                                       tracker_settings=tracker_settings,
                                       anonymize=anonymize, anonymize_method=anonymize_method, formats=formats,
                                       overwrite=overwrite, quiet=quiet, anchor=anchor)
        except VideolensError as e:
            item.error = item.detail = str(e)
        except Exception as e:  # noqa: BLE001 - one broken video must not stop the batch; its partial files stay
            item.detail = f"{type(e).__name__}: {e}"
            item.error = f"{path}: {item.detail} (partial results kept in {out})"
        run.items.append(item)
        if on_item is not None:
            on_item(item)
    return run
