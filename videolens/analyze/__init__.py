"""``videolens analyze``: every analyzer over one decode pass per video, into a report; batches local or on Ray.

- :func:`run_analyzers` (base): the single-pass loop that feeds many analyzers from one decode.
- :class:`MotionAnalyzer`: activity per second; the other analyzers live in their parts and are built by name
  through the registry (:func:`build_analyzers`, :func:`register_analyzer`), which imports each part lazily.
- :func:`analyze_video`: one video into ``report.json``, ``report.html`` and the parts' files.
- :func:`analyze`: many videos (files, folders, globs), ``jobs`` processes or a Ray cluster, ``resume``.

>>> from videolens.analyze import AnalyzeConfig, analyze
>>> run = analyze(["samples/sample.mp4"], "videolens-out", AnalyzeConfig(speech=False))   # doctest: +SKIP
>>> run.videos[0].html                                                                     # doctest: +SKIP
'videolens-out/sample/report.html'
"""

from .base import Analyzer, MissingExtra, StreamRun, run_analyzers
from .batch import AnalyzeRun, VideoOutcome, analyze, output_names
from .motion import MotionAnalyzer, MotionResult
from .pipeline import SCHEMA_PATH, SCHEMA_VERSION, AnalyzeConfig, analyze_video, load_schema, validate_report
from .registry import REGISTRY, build_analyzers, register_analyzer

__all__ = [
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
