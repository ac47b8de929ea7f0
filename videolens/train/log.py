"""What a run writes besides checkpoints: ``metrics.csv``, TensorBoard scalars, ``config.yaml``, ``train.log``.

TensorBoard is optional and imported only when a run starts; without it the scalars are dropped and
``metrics.csv`` still has every number.

>>> log = MetricsLog("runs/doc", events=None)
>>> log.write([{"epoch": 1, "train_loss": 0.9, "lr": 0.001}], step=1); log.close()
>>> open("runs/doc/metrics.csv").read().splitlines()
['epoch,train_loss,lr', '1,0.9,0.001']
"""

from __future__ import annotations

import csv
import io
import os
import sys
import time
from pathlib import Path

from ..utils.files import write_text

COUNTERS = ("epoch", "step")   # the x axis of a metrics row, not a scalar to plot


class _NoWriter:
    """Stands in for TensorBoard's writer when tensorboard cannot be imported."""

    def add_scalar(self, *args, **kwargs) -> None:
        pass

    flush = close = add_scalar


def tensorboard(folder: str | os.PathLike | None, purge_step: int | None = None):
    """A TensorBoard ``SummaryWriter`` for ``folder`` (a do-nothing writer if ``folder`` is None or tensorboard
    is missing). ``purge_step`` drops the events a killed run wrote after its last checkpoint.

    >>> tensorboard(None).add_scalar("loss", 1.0, 1)
    """
    if folder is None:
        return _NoWriter()
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # noqa: BLE001 - not installed, or a protobuf it cannot use: train on, log to metrics.csv
        return _NoWriter()
    return SummaryWriter(log_dir=os.fspath(folder), purge_step=purge_step)


def write_metrics(path: str | os.PathLike, rows: list[dict]) -> None:
    """Rewrite ``path`` as a CSV of ``rows`` (columns: every key, in the order first seen; None is empty).

    >>> write_metrics("metrics.csv", [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5, "f1": None}])
    >>> open("metrics.csv").read().splitlines()
    ['step,loss,f1', '1,2.0,', '2,1.5,']
    """
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(dict.fromkeys(k for r in rows for k in r)), restval="",
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())


class MetricsLog:
    """``metrics.csv`` in ``folder`` and TensorBoard events in ``events`` (None: no events). Give ``resumed_at``,
    the step (epoch) of the checkpoint a resumed run starts from, so the events it had written past it go."""

    def __init__(self, folder: str | os.PathLike, events: str | os.PathLike | None, resumed_at: int = 0):
        self.path = Path(folder) / "metrics.csv"
        self.tb = tensorboard(events, purge_step=resumed_at + 1 if resumed_at else None)

    def write(self, history: list[dict], step: int) -> None:
        """Rewrite ``metrics.csv`` from the whole ``history`` (what the checkpoint holds, so a resumed run's file
        has no rows of the lost epochs) and plot the last row's numbers at ``step`` (``train_loss`` as
        ``train/loss``)."""
        write_metrics(self.path, history)
        for key, value in history[-1].items():
            if key not in COUNTERS and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.tb.add_scalar(key.replace("_", "/", 1), value, step)
        self.tb.flush()

    def close(self) -> None:
        self.tb.close()


def write_config(path: str | os.PathLike, settings: dict) -> None:
    """``settings`` as YAML (``config.yaml``), in their own order.

    >>> write_config("config.yaml", {"model": "c3d", "lr": 0.001})
    >>> open("config.yaml").read()
    'model: c3d\\nlr: 0.001\\n'
    """
    import yaml

    write_text(path, yaml.safe_dump(settings, sort_keys=False))


def append_log(path: str | os.PathLike, message: str, echo: bool = False) -> None:
    """Append ``message`` to ``path`` (``train.log``) after the local time; ``echo`` also prints it to stderr.

    >>> append_log("train.log", "epoch 1/2: loss 0.9")
    """
    with open(path, "a", encoding="utf-8") as f:
        f.write(time.strftime("%Y-%m-%d %H:%M:%S ") + message + "\n")
    if echo:
        sys.stderr.write(message + "\n")


__all__ = ["MetricsLog", "append_log", "tensorboard", "write_config", "write_metrics"]
