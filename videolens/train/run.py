"""A training run's folder, with the same rules for every trainer.

``last.pt`` (or ``best.pt``) in the folder means a run is there: starting again needs ``overwrite``, continuing it
``resume`` (which needs ``last.pt``). An overwritten run's files are removed only by :meth:`RunDir.start`, which a
trainer calls once its inputs have loaded, so a mistyped dataset never costs the old run.

>>> run = RunDir.open("runs/doc", overwrite=True)
>>> run.start(); run.last.name
'last.pt'
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import VideolensError
from .checkpoint import copy_checkpoint, save_checkpoint

RUN_FILES = ("last.pt", "best.pt", "metrics.csv", "config.yaml", "train.log")


@dataclass(frozen=True)
class RunDir:
    """The folder of one run: ``last.pt``, ``best.pt``, ``metrics.csv``, ``config.yaml``, ``train.log`` and
    TensorBoard events (in the folder or its ``tensorboard/``, as each command always wrote them)."""

    path: Path
    resume: bool = False
    overwrite: bool = False

    @classmethod
    def open(cls, path: str | os.PathLike, *, resume: bool = False, overwrite: bool = False) -> RunDir:
        """Check that a run may start (or resume) in ``path``; nothing is written yet.

        >>> RunDir.open("runs/none", resume=True)
        Traceback (most recent call last):
        videolens.errors.VideolensError: runs/none/last.pt: nothing to resume (no last.pt in runs/none)
        """
        path = Path(path)
        if resume:
            if not (path / "last.pt").is_file():
                raise VideolensError(f"{path / 'last.pt'}: nothing to resume (no last.pt in {path})")
        elif not overwrite and any((path / name).exists() for name in ("last.pt", "best.pt")):
            raise VideolensError(f"{path}: a run is already there (use --resume to continue it or --overwrite to "
                                 "start again)")
        return cls(path, resume, overwrite)

    @property
    def last(self) -> Path:
        return self.path / "last.pt"

    @property
    def best(self) -> Path:
        return self.path / "best.pt"

    def start(self) -> None:
        """Create the folder; over an old run (``overwrite``), first remove its files, so nothing of it is taken
        for the new run's (other files, such as a clip cache, stay)."""
        if self.overwrite and not self.resume:
            for name in RUN_FILES:
                (self.path / name).unlink(missing_ok=True)
            for events in self.path.glob("events.out.tfevents.*"):
                events.unlink()
            shutil.rmtree(self.path / "tensorboard", ignore_errors=True)
        self.path.mkdir(parents=True, exist_ok=True)

    def save(self, checkpoint: dict, best: bool = False) -> None:
        """Write ``last.pt`` and, when ``best``, the same file as ``best.pt`` (both atomically).

        ``best.pt`` is written first: a run killed between the two writes then never leaves a ``last.pt`` that
        names a best state ``best.pt`` does not hold (a resumed run that does not improve again writes no
        ``best.pt`` of its own)."""
        if best:
            save_checkpoint(checkpoint, self.best)
            copy_checkpoint(self.best, self.last)
        else:
            save_checkpoint(checkpoint, self.last)


__all__ = ["RUN_FILES", "RunDir"]
