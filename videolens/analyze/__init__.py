"""Analyzers and the single-pass streaming loop that feeds them (``videolens analyze``)."""

from .base import Analyzer, MissingExtra, StreamRun, run_analyzers

__all__ = ["Analyzer", "MissingExtra", "StreamRun", "run_analyzers"]
