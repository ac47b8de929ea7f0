"""The analyzer contract (conventions.md, docs/analyzers.md): one small class per analysis, fed by one decode loop.

Settings are constructor arguments; frames arrive in batches through ``process``; ``finish`` returns the result.
``videolens analyze`` runs many analyzers over one decode pass (:func:`videolens.stream.run_analyzers`); a standalone
command (``videolens shots``, ``videolens detect``) runs one through the same loop; ``videolens watch`` feeds the
same classes from a live camera. Everything beyond the five members below is optional and has a default, so a
minimal analyzer stays five lines:

>>> import numpy as np
>>> class Brightness(Analyzer):
...     name, size, stride = "brightness", 32, 5
...     def __init__(self):
...         self.values = []
...     def process(self, frames, timestamps, indices):
...         self.values += frames.reshape(len(frames), -1).mean(axis=1).tolist()
...     def finish(self):
...         return {"mean": float(np.mean(self.values))}
>>> Brightness().events(), Brightness().wants_frames
([], True)
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .events import Event


class Analyzer:
    """Base class. Subclasses set ``name``, ``size`` and ``stride`` and implement ``process`` and ``finish``.

    Frames:
    - ``size``: the frame size it wants: ``(w, h)``, an int (short side) or None (stored size). The reader scales
      at decode time; analyzers that share a size share the converted array (do not modify frames in place).
    - ``stride``: it sees frames whose index is a multiple of ``stride``.
    - ``gray``: True to receive ``(N, H, W)`` luma instead of RGB; ``interpolation``: its own scaler ("area"
      against aliasing at tiny sizes; None: the reader's); ``batch_size``: frames per ``process`` call.
    - ``wants_frames``: False for an audio-only analyzer (speech): the loop never decodes or converts a frame for
      it and never calls its ``process``; it reads what it needs in ``start(info)``.

    Lifecycle: ``start(info)`` once with the video's facts, ``process`` per batch, ``finish()`` once. A missing
    optional dependency raises :class:`MissingExtra` from the constructor or ``start``.

    Optional outputs, each with a default:
    - ``events()``: what became final since the last call, as :class:`~videolens.core.events.Event`; called after
      each ``process`` (and once after ``finish``) by a loop that listens.
    - ``summary(result)``: the numbers ``summary.csv`` and the batch index show; ``summary_keys`` names them, so a
      report can list them (as null) when the analyzer did not run.
    - ``write_files(result, out_dir)``: its standard files (``shots.csv``, ``tracks.txt``, subtitles); returns
      their paths.
    - ``report_section``: where its result sits in ``report.json``; None means its ``name`` for a registered
      analyzer and ``other.<name>`` for an ``--analyzer MODULE:CLASS`` plugin. ``report_copies``: keys of its
      result also repeated at the top of the report (``transitions`` of shots, ``tracks`` of objects).
    - ``from_config(config)``: how ``videolens analyze`` builds it from an
      :class:`~videolens.analyze.AnalyzeConfig` (default: no arguments).
    - ``fingerprint()``: what shapes its result beyond ``name``, ``size`` and ``stride``: settings, and model
      files by content hash (:func:`videolens.utils.files.file_digest`). ``analyze --resume`` redoes a video whose
      report was made with another fingerprint.
    - ``abort()``: called instead of ``finish`` when the run fails part-way (release threads and files).
    - ``requires`` and ``bind(analyzers)``: an analyzer that follows others in the same pass names them in
      ``requires``; ``analyze`` builds those first, then calls ``bind({name: analyzer})`` (the ``people`` analyzer
      subscribes to the faces analyzer's ``listeners`` there). When one of them does not run, neither does it, and
      the report says why.
    """

    name: str = "analyzer"
    size: tuple[int, int] | int | None = None
    stride: int = 1
    gray: bool = False
    batch_size: int = 16
    interpolation: str | None = None
    wants_frames: bool = True
    report_section: str | None = None
    report_copies: tuple[str, ...] = ()
    summary_keys: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: Any) -> Analyzer:
        """Build it for ``videolens analyze`` (``config`` is an ``AnalyzeConfig``)."""
        return cls()

    def bind(self, analyzers: dict[str, Analyzer]) -> None:  # noqa: B027 - optional hook
        """Called by ``analyze`` with the analyzers named in ``requires``, before ``start``."""

    def start(self, info: Any) -> None:  # noqa: B027 - optional hook
        """Called once with the video's facts (a :class:`videolens.io.VideoInfo`) before any frame arrives."""

    def process(self, frames: np.ndarray, timestamps: np.ndarray, indices: np.ndarray) -> None:
        raise NotImplementedError

    def finish(self) -> Any:
        raise NotImplementedError

    def events(self) -> list[Event]:
        """Events that became final since the last call (none by default)."""
        return []

    def summary(self, result: Any) -> dict[str, Any]:
        """Numbers for ``summary.csv`` and the batch index (``summary_keys`` names them)."""
        return {}

    def write_files(self, result: Any, out_dir: str | os.PathLike) -> list[str]:
        """Write the analyzer's standard files into ``out_dir``; returns their paths."""
        return []

    def fingerprint(self) -> dict[str, Any]:
        """Settings and model files (by content hash) that shape the result, as JSON values; none by default.

        Called once the analyzer is built and before ``start``, so that ``analyze --resume`` can tell whether a
        stored report is still what this analyzer would give. Name no absolute paths: the same model elsewhere
        is the same model.
        """
        return {}

    def abort(self) -> None:  # noqa: B027 - optional hook
        """The run failed before ``finish``: let go of what it holds (threads, open files), with no result. An
        analyzer that starts a thread must stop or join it here: a thread still inside native code when the
        process exits aborts it."""


class MissingExtra(ImportError):
    """An analyzer's optional dependency is not installed; the report says so and how to install it.

    ``install``: the command, when ``pip install 'videolens[EXTRA]'`` is not all it takes (a package installed
    without its dependencies, say).
    """

    def __init__(self, analyzer: str, extra: str, package: str, install: str | None = None):
        self.analyzer, self.extra, self.package = analyzer, extra, package
        self.install = install or f"pip install 'videolens[{extra}]'"
        super().__init__(f"{analyzer}: needs {package}; install it with: {self.install}")


def result_dict(result: Any) -> dict:
    """An analyzer's result as the JSON-able dict a report stores (``to_dict()``, a dict, or a dataclass)."""
    if hasattr(result, "to_dict"):
        return result.to_dict()
    if isinstance(result, dict):
        return result
    import dataclasses

    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.asdict(result)
    raise TypeError(f"an analyzer result must have to_dict() or be a dict, not {type(result).__name__}")
