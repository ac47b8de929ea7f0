"""Shot and scene boundaries: detectors, evaluation, and the files users take elsewhere.

>>> import videolens
>>> shots = videolens.detect_shots("samples/sample.mp4")        # doctest: +SKIP
>>> [(s.start_frame, s.end_frame) for s in shots][:2]           # doctest: +SKIP
[(0, 74), (75, 149)]
"""

from __future__ import annotations

from .detect import DETECTORS, detect, detect_shots, make_detector
from .detectors import AdaptiveDetector, ContentDetector, FadeDetector, HistogramDetector, ShotDetector
from .evaluate import evaluate, load_truth
from .export import write_outputs, write_thumbnails
from .result import Shot, ShotsResult, Transition

__all__ = ["DETECTORS", "AdaptiveDetector", "ContentDetector", "FadeDetector", "HistogramDetector", "Shot",
           "ShotDetector", "ShotsResult", "Transition", "detect", "detect_shots", "evaluate", "load_truth",
           "make_detector", "write_outputs", "write_thumbnails"]
