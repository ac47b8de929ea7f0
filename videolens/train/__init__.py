"""The plumbing the three trainers share (``classify.training``, ``detect.train``, ``shots.train``); each keeps
its own loop.

- :mod:`~videolens.train.run`: the run folder (create, refuse, resume, overwrite) and ``last.pt`` / ``best.pt``;
- :mod:`~videolens.train.checkpoint`: atomic save, safe load (``weights_only=True``), one-line refusals; the
  only part inference imports;
- :mod:`~videolens.train.log`: ``metrics.csv``, TensorBoard, ``config.yaml``, ``train.log``;
- :mod:`~videolens.train.optim`: AdamW parameter groups, warm-up + cosine schedule;
- :mod:`~videolens.train.ema`: an exponential moving average of the weights.

Nothing here imports torch at import time, nor any videolens package but ``errors`` and ``utils``: the graph
points one way (trainers and inference import this, never the reverse).

>>> from videolens.train.optim import lr_factor
>>> lr_factor(0, warmup=4, total=100)
0.25
"""
