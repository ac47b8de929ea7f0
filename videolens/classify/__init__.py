"""Action recognition: datasets, a model zoo, and train / evaluate / predict / export / tune.

>>> from videolens.classify import train, evaluate, predict, create_model      # doctest: +SKIP
>>> result = train("motion/", model="c3d", output="runs/c3d", size=64, epochs=10)  # doctest: +SKIP
>>> evaluate(result.best, "motion/").top1                                          # doctest: +SKIP
>>> predict(result.best, "long_video.mp4", window=2.0, hop=1.0).segments           # doctest: +SKIP

Modules load on first use (torch is heavy): ``data``, ``cache``, ``transforms``, ``models``, ``checkpoint``,
``training``, ``evaluation``, ``prediction``, ``batch`` (predict over many videos), ``export``, ``tuning``,
``analyzer``.
"""

from __future__ import annotations

from ..utils.lazy import lazy_exports

_LAZY = {
    "create_model": "videolens.classify.models",
    "list_models": "videolens.classify.models",
    "MODELS": "videolens.classify.models",
    "RECIPES": "videolens.classify.models",
    "recipe": "videolens.classify.models",
    "load_dataset": "videolens.classify.data",
    "ActionDataset": "videolens.classify.data",
    "ClipDataset": "videolens.classify.clips",
    "Sample": "videolens.classify.data",
    "ClipCache": "videolens.classify.cache",
    "Preprocessing": "videolens.classify.transforms",
    "load_checkpoint": "videolens.classify.checkpoint",
    "Checkpoint": "videolens.classify.checkpoint",
    "train": "videolens.classify.training",
    "TrainConfig": "videolens.classify.training",
    "TrainResult": "videolens.classify.training",
    "evaluate": "videolens.classify.evaluation",
    "EvalResult": "videolens.classify.evaluation",
    "predict": "videolens.classify.prediction",
    "Predictor": "videolens.classify.prediction",
    "ActionPrediction": "videolens.classify.prediction",
    "write_outputs": "videolens.classify.prediction",
    "predict_files": "videolens.classify.batch",
    "export_onnx": "videolens.classify.export",
    "tune": "videolens.classify.tuning",
    "ActionsAnalyzer": "videolens.classify.analyzer",
    "ActionsResult": "videolens.classify.analyzer",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
