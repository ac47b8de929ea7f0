"""Object and face detection on video: detectors by name or checkpoint, training, metrics, counting, annotation.

Everything is imported on first use, so ``from videolens.detect import Detections`` stays numpy-only.

>>> from videolens.detect import load_detector, detect_video          # doctest: +SKIP
>>> detector = load_detector("faces")                                 # doctest: +SKIP
>>> detector(frame)                                                   # doctest: +SKIP
Detections(1 boxes)
>>> detect_video("clip.mp4", "out/", detector, tracker="bytetrack")   # doctest: +SKIP
"""

from __future__ import annotations

from ..utils.lazy import lazy_exports

_LAZY = {
    "Detections": "videolens.core.detections",
    "box_iou": "videolens.core.detections",
    "evaluate": "videolens.detect.metrics",
    "EvalResult": "videolens.detect.metrics",
    "DetectionDataset": "videolens.detect.data",
    "load_dataset": "videolens.detect.data",
    "Detector": "videolens.detect.detectors",
    "DETECTORS": "videolens.detect.detectors",
    "load_detector": "videolens.detect.detectors",
    "train": "videolens.detect.train",
    "TrainConfig": "videolens.detect.train",
    "evaluate_detector": "videolens.detect.evaluation",
    "export_onnx": "videolens.detect.export",
    "BoxAnnotator": "videolens.report.draw",
    "Anonymizer": "videolens.report.draw",
    "LineCounter": "videolens.detect.zones",
    "ZoneCounter": "videolens.detect.zones",
    "FacesAnalyzer": "videolens.detect.analyzers",
    "ObjectsAnalyzer": "videolens.detect.analyzers",
    "FacesResult": "videolens.detect.analyzers",
    "ObjectsResult": "videolens.detect.analyzers",
    "write_tracks_mot": "videolens.detect.analyzers",
    "detect_video": "videolens.detect.video",
    "VideoDetectionResult": "videolens.detect.video",
    "detect_videos": "videolens.detect.batch",
    "DetectRun": "videolens.detect.batch",
    "DetectItem": "videolens.detect.batch",
    "evaluate_model": "videolens.detect.evaluation",
    "ModelEvaluation": "videolens.detect.evaluation",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
