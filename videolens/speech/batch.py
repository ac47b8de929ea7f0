"""Speech over many files: what ``videolens transcribe`` and ``videolens vad`` do, usable from Python.

:func:`transcribe_files` splits the cores between parallel jobs, loads the model once when it runs in this
process (so a missing model is one error, not one per file, and short files share Whisper windows), writes each
file's ``transcript.*`` into its own folder and measures the real-time factor of the whole batch.

>>> run = transcribe_files(["talks/"], "out", formats=("srt", "json"))      # doctest: +SKIP
>>> run.ok, round(run.rtf, 2)                                              # doctest: +SKIP
(3, 0.1)
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..utils.batch import BatchRun, run_batch
from ..utils.files import expand_inputs, output_dirs
from .transcript import FORMATS
from .vad import VadOptions, require_speech_packages


def _cores() -> int:
    """Cores this process may use (the affinity mask, which containers and taskset narrow), else all."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass
class TranscribeRun(BatchRun):
    """The outcome of :func:`transcribe_files`: one :class:`~videolens.utils.batch.BatchItem` per input, in input
    order, its ``result`` :func:`~videolens.speech.transcribe.transcribe_to_files`'s summary (``input``,
    ``output``, ``files``, ``result``: the transcript as a dict).
    """

    model_load_seconds: float | None = None     # None when the workers loaded the model (--jobs > 1)

    @property
    def audio_seconds(self) -> float:
        return sum(b.result["result"]["duration"] for b in self.done)

    @property
    def busy_seconds(self) -> float:
        """Time spent transcribing, summed over the files (model loading excluded)."""
        return sum(b.result["result"]["timings"].get("total", 0.0) for b in self.done)

    @property
    def rtf(self) -> float | None:
        """Real-time factor: seconds of work per second of audio (below 1 is faster than real time)."""
        audio = self.audio_seconds
        return self.busy_seconds / audio if audio else None

    def to_dict(self) -> dict[str, Any]:
        """What ``videolens transcribe --json`` prints."""
        rtf, load = self.rtf, self.model_load_seconds
        return {"ok": self.ok, "failed": self.failed, "audio_seconds": round(self.audio_seconds, 3),
                "rtf": None if rtf is None else round(rtf, 4),
                "model_load_seconds": None if load is None else round(load, 3),
                "items": [{"input": b.input, "ok": b.ok, "error": b.error, **(b.result or {})} for b in self.items]}


def transcribe_files(inputs: Sequence[str], output: str | os.PathLike | None = None,
                     formats: str | Sequence[str] = FORMATS, *, overwrite: bool = False, jobs: int = 1,
                     model: str | None = None, language: str | None = None, word_timestamps: bool = False,
                     beam_size: int = 5, vad: VadOptions | None = None, device: str = "auto",
                     compute_type: str = "auto", audio_stream: int | None = None, channel: str | int = "mix",
                     quiet: bool = False) -> TranscribeRun:
    """Transcribe files, folders or globs into ``transcript.*`` files, one folder per input
    (:func:`~videolens.utils.files.output_dirs`); one bad file is recorded in its item and the rest go on.

    ``jobs`` files are transcribed in parallel worker processes, each with an equal share of the cores.
    """
    require_speech_packages()
    inputs = expand_inputs(list(inputs))
    dirs = {p: str(d) for p, d in output_dirs(inputs, output).items()}
    jobs = min(jobs, len(inputs))
    options = {"model": model, "language": language, "word_timestamps": word_timestamps, "beam_size": beam_size,
               "vad": vad or VadOptions(), "device": device, "compute_type": compute_type,
               "threads": max(1, _cores() // jobs)}
    if jobs == 1:
        from .transcribe import Transcriber, transcribe_many_to_files

        tr = Transcriber(**options)
        items = transcribe_many_to_files(inputs, dirs, formats, overwrite, audio_stream=audio_stream,
                                         channel=channel, quiet=quiet, transcriber=tr)
        return TranscribeRun(items, tr.load_seconds)
    from .model import resolve_model

    resolve_model(model)            # a missing model: one error before any worker starts
    fn = functools.partial(_transcribe_item, dirs=dirs, formats=formats, overwrite=overwrite,
                           audio_stream=audio_stream, channel=channel, quiet=True, **options)
    return TranscribeRun(run_batch(inputs, fn, jobs=jobs, desc="transcribe", quiet=quiet))


def _transcribe_item(path: str, dirs: dict, formats, overwrite: bool, **kwargs) -> dict[str, Any]:
    """One file of a parallel batch (module level so worker processes can pickle it)."""
    from .transcribe import transcribe_to_files

    return transcribe_to_files(path, dirs[path], formats, overwrite, **kwargs)


class VadRun(BatchRun):
    """The outcome of :func:`detect_speech_files`: one :class:`~videolens.utils.batch.BatchItem` per input, its
    ``result`` a :class:`~videolens.speech.vad.VadResult`."""

    def to_dict(self) -> dict[str, Any]:
        """What ``videolens vad --json`` prints."""
        return {"ok": self.ok, "failed": self.failed,
                "items": [{"input": b.input, "ok": b.ok, "error": b.error, **(b.result.to_dict() if b.ok else {})}
                          for b in self.items]}


def detect_speech_files(inputs: Sequence[str], options: VadOptions | None = None, *, audio_stream: int | None = None,
                        channel: str | int = "mix", quiet: bool = False) -> VadRun:
    """Speech segments of files, folders or globs; one bad file is recorded in its item and the rest go on."""
    from .vad import detect_speech

    require_speech_packages()
    inputs = expand_inputs(list(inputs))
    fn = functools.partial(detect_speech, options=options or VadOptions(), audio_stream=audio_stream,
                           channel=channel, quiet=quiet or len(inputs) > 1)
    return VadRun(run_batch(inputs, fn, desc="vad", quiet=quiet))
