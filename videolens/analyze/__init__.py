"""``videolens analyze``: every analyzer over one decode pass per video, into a report; batches local or on Ray.

- :func:`run_analyzers` (:mod:`videolens.stream`): the single-pass loop that feeds many analyzers from one decode.
- Analyzers are registered by name (:func:`register_analyzer`, :data:`ANALYZERS`); each part's analyzer class is
  imported only when a run uses it. :class:`MotionAnalyzer` lives here; the others live in their parts.
- :func:`analyze_video`: one video into ``report.json``, ``report.html`` and the analyzers' own files.
- :func:`analyze`: many videos (files, folders, globs), ``jobs`` processes or a Ray cluster, ``resume``.

>>> from videolens.analyze import AnalyzeConfig, analyze
>>> run = analyze(["samples/sample.mp4"], "videolens-out", AnalyzeConfig(speech=False))   # doctest: +SKIP
>>> run.videos[0].html                                                                     # doctest: +SKIP
'videolens-out/sample/report.html'
"""

from ..core.analyzer import Analyzer, MissingExtra
from ..stream import StreamRun, run_analyzers
from .batch import AnalyzeRun, VideoOutcome, analyze, output_names
from .config import AnalyzeConfig
from .motion import MotionAnalyzer, MotionResult
from .pipeline import analyze_video
from .registry import ANALYZERS, REGISTRY, build_analyzers, register_analyzer
from .report import SCHEMA_PATH, SCHEMA_VERSION, load_schema, validate_report

__all__ = [
           "ANALYZERS",
           "REGISTRY",
           "SCHEMA_PATH",
           "SCHEMA_VERSION",
           "AnalyzeConfig",
           "AnalyzeRun",
           "Analyzer",
           "MissingExtra",
           "MotionAnalyzer",
           "MotionResult",
           "StreamRun",
           "VideoOutcome",
           "analyze",
           "analyze_video",
           "build_analyzers",
           "load_schema",
           "output_names",
           "register_analyzer",
           "run_analyzers",
           "validate_report",
]
