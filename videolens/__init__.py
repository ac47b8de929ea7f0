"""videolens: deep learning on video — shots, objects, faces, actions and speech, from one reader.

Heavy libraries (PyAV, torch) load on first use, so ``import videolens`` and ``videolens --help`` stay fast.

>>> import videolens
>>> reader = videolens.VideoReader("samples/sample.mp4")      # doctest: +SKIP
>>> frames = reader.get_frames([0, 10, 20], size=224)        # doctest: +SKIP
"""

from __future__ import annotations

from .errors import NoAudioError, OutputExistsError, VideoError, VideolensError
from .utils.lazy import lazy_exports

from ._version import __version__

# Public name -> module that defines it; imported on first access.
_LAZY = {
    "VideoReader": "videolens.io.reader",
    "FrameBatch": "videolens.io.reader",
    "VideoInfo": "videolens.io.reader",
    "probe": "videolens.io.reader",
    "VideoWriter": "videolens.io.writer",
    "read_audio": "videolens.io.audio",
    "uniform_segments": "videolens.io.sampling",
    "random_clip": "videolens.io.sampling",
    "sliding_windows": "videolens.io.sampling",
    "sliding_windows_seconds": "videolens.io.sampling",
    "transcribe": "videolens.speech.transcribe",
    "Transcript": "videolens.speech.transcript",
    "detect_speech": "videolens.speech.vad",
    "analyze": "videolens.analyze",
    "analyze_video": "videolens.analyze",
    "AnalyzeConfig": "videolens.analyze",
    "MotionAnalyzer": "videolens.analyze",
    "detect_shots": "videolens.shots.detect",
    "Detections": "videolens.core.detections",
    "ActionsAnalyzer": "videolens.classify.analyzer",
    "watch": "videolens.live.watch",
}

__all__ = ["NoAudioError", "OutputExistsError", "VideoError", "VideolensError", "__version__", *_LAZY]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
