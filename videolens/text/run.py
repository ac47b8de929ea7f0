"""``videolens ocr`` as library calls: the text on screen of one video, or of many into ``text.json`` + ``text.srt``.

>>> from videolens.text import read_text, ocr_files
>>> result = read_text("news.mp4", interval=1.0)                      # doctest: +SKIP
>>> [(s.text, s.start, s.end) for s in result.segments]                # doctest: +SKIP
>>> run = ocr_files(["clips/"], "out", lang="auto")                    # doctest: +SKIP
>>> run.ok, run.items[0].result["files"]                               # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import OutputExistsError
from ..stream import run_analyzers
from ..utils.batch import BatchRun, run_batch
from ..utils.files import VIDEO_EXTENSIONS, expand_inputs, output_dirs
from .analyzer import TextAnalyzer
from .engine import require_ocr
from .segments import TextResult


def read_text(video: str | os.PathLike, interval: float = 1.0, lang: str = "auto", *, cuts: bool = True,
              threads: int = 0, quiet: bool = True) -> TextResult:
    """The on-screen text of ``video`` as merged segments (one decode pass; see :class:`TextAnalyzer`).

    Bad input raises :class:`~videolens.errors.VideoError`; a missing rapidocr-onnxruntime raises
    :class:`~videolens.core.MissingExtra`.
    """
    analyzer = TextAnalyzer(interval=interval, lang=lang, cuts=cuts, threads=threads)
    return run_analyzers(os.fspath(video), [analyzer], quiet=quiet).results["text"]


@dataclass
class OcrRun(BatchRun):
    """The outcome of :func:`ocr_files`: one :class:`~videolens.utils.batch.BatchItem` per input, its ``result``
    ``{"input", "output", "files", "seconds", "result": text.json's content}``."""

    def to_dict(self) -> dict[str, Any]:
        """What ``videolens ocr --json`` prints."""
        return {"ok": self.ok, "failed": self.failed,
                "items": [{"input": b.input, "ok": b.ok, "error": b.error, **(b.result or {})} for b in self.items]}


def _one(path: str, dirs: dict[str, str], interval: float, lang: str, threads: int, overwrite: bool,
         quiet: bool) -> dict:
    out = dirs[path]
    if not overwrite:
        for name in ("text.json", "text.srt"):
            if os.path.exists(os.path.join(out, name)):
                raise OutputExistsError(os.path.join(out, name))
    t = time.perf_counter()
    result = read_text(path, interval, lang, threads=threads, quiet=quiet)
    seconds = time.perf_counter() - t
    files = [str(p) for p in result.save(out, overwrite=True)]
    return {"input": path, "output": out, "files": files, "seconds": round(seconds, 3),
            "duration": round(result.duration, 3), "result": result.to_dict()}


def ocr_files(inputs: Sequence[str], output: str | os.PathLike | None = None, *, interval: float = 1.0,
              lang: str = "auto", overwrite: bool = False, threads: int = 0, quiet: bool = False) -> OcrRun:
    """Read the text on screen of files, folders or globs into ``text.json`` and ``text.srt``, one folder per input
    (:func:`~videolens.utils.files.output_dirs`); a bad video is recorded in its item and the others go on."""
    require_ocr("ocr")
    TextAnalyzer(interval=interval, lang=lang)          # bad settings: one error before any video is touched
    paths = expand_inputs(list(inputs), VIDEO_EXTENSIONS)
    dirs = {p: str(d) for p, d in output_dirs(paths, output).items()}
    fn = functools.partial(_one, dirs=dirs, interval=interval, lang=lang, threads=threads, overwrite=overwrite,
                           quiet=quiet or len(paths) > 1)
    return OcrRun(run_batch(paths, fn, jobs=1, desc="videos", quiet=quiet))
