"""MOTChallenge files and tracking metrics.

MOTChallenge numbers frames from 1 and pixels from 1: the top-left pixel's ``bb_left`` is 1. videolens numbers
both from 0 (conventions.md), so reading subtracts 1 and writing adds 1. A row is
``frame, id, bb_left, bb_top, bb_width, bb_height, conf, x, y, z`` (``gt.txt`` puts class and visibility in
columns 8 and 9; detections have id -1).

>>> rows = read_mot("PETS09-S2L1/gt/gt.txt", scale=0.625)      # doctest: +SKIP
>>> rows[0]                                                     # frame index 0 (MOT frame 1)  # doctest: +SKIP
Detections(4 boxes, frame_index=0)
"""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Iterable

import numpy as np

from ..core.detections import Detections, box_iou
from ..errors import VideolensError


def read_mot(path: str | os.PathLike, scale: float = 1.0, min_visibility: float | None = None,
             classes: Iterable[int] | None = None) -> dict[int, Detections]:
    """Read a MOTChallenge ``gt.txt`` / ``det.txt`` / result file into ``{frame_index: Detections}``.

    ``scale`` multiplies coordinates (PETS09's 768x576 ground truth on the 480x360 file: 0.625). A ``.gz`` file is
    read decompressed. A bad row is a one-line error naming the file and line. For ground truth,
    ``min_visibility`` and ``classes`` filter on columns 9 and 8 (rows whose column 7 ``conf`` is 0 are
    "ignore" rows in MOT16+ and are dropped). Track ids go to ``track_ids`` and column 7 to ``scores``.
    """
    path = os.fspath(path)
    try:
        if path.endswith(".gz"):
            import gzip

            with gzip.open(path, "rt", encoding="utf-8") as f:
                text = f.read()
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
    except FileNotFoundError:
        raise VideolensError(f"{path}: no such MOTChallenge file") from None
    except (OSError, UnicodeDecodeError, EOFError, zlib.error) as e:    # EOFError, zlib.error: a damaged .gz
        raise VideolensError(f"{path}: not a MOTChallenge text file ({e})") from None
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.replace(" ", "").split(",")
        try:
            vals = [float(v) for v in parts[:10]]
        except ValueError:
            raise VideolensError(f"{path}:{n}: not a MOTChallenge row ({line.strip()[:60]!r})") from None
        if len(vals) < 6:
            raise VideolensError(f"{path}:{n}: expected at least 6 comma-separated numbers")
        rows.append(vals + [-1.0] * (10 - len(vals)))
    arr = np.asarray(rows, np.float64).reshape(-1, 10)
    if min_visibility is not None and len(arr):
        arr = arr[(arr[:, 6] != 0) & ((arr[:, 8] < 0) | (arr[:, 8] >= min_visibility))]
    if classes is not None and len(arr):
        arr = arr[np.isin(arr[:, 7], list(classes)) | (arr[:, 7] < 0)]
    out: dict[int, Detections] = {}
    # One stable sort and a split, not a mask per frame: that was quadratic (an hour of gt.txt took hours).
    arr = arr[np.argsort(arr[:, 0], kind="stable")]
    frames, starts = np.unique(arr[:, 0].astype(int), return_index=True)
    for f, r in zip(frames.tolist(), np.split(arr, starts[1:])):
        x1 = (r[:, 2] - 1) * scale
        y1 = (r[:, 3] - 1) * scale
        xyxy = np.stack([x1, y1, x1 + r[:, 4] * scale, y1 + r[:, 5] * scale], 1)
        conf = np.where(r[:, 6] >= 0, r[:, 6], 1.0)
        out[f - 1] = Detections(xyxy, conf, np.zeros(len(r), np.int64), ["object"] * len(r), r[:, 1].astype(int),
                                frame_index=f - 1)
    return out


def mot_lines(detections: Iterable[Detections]) -> str:
    """MOTChallenge rows (1-based frames and pixels) for tracked detections; boxes without a track id are
    left out."""
    buf = io.StringIO()
    for d in detections:
        if d.frame_index is None:
            raise ValueError("MOTChallenge rows need Detections.frame_index")
        for (x1, y1, x2, y2), s, tid in zip(d.xyxy.tolist(), d.scores.tolist(), d.track_ids.tolist()):
            if tid < 0:
                continue
            buf.write(f"{d.frame_index + 1},{tid},{x1 + 1:.2f},{y1 + 1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},"
                      f"{s:.4f},-1,-1,-1\n")
    return buf.getvalue()


def write_mot(detections: Iterable[Detections], path: str | os.PathLike) -> None:
    """Write tracked detections as a MOTChallenge result file (atomically)."""
    from ..utils.files import write_text

    write_text(path, mot_lines(detections))


def track_sequence(tracker, detections: dict[int, Detections], frames: int, stride: int = 1) -> dict[int, Detections]:
    """Run ``tracker`` over per-frame detections (e.g. :func:`read_mot` of a MOTChallenge ``det.txt``: the
    public-detection protocol), feeding every ``stride``-th frame of ``0..frames-1``; returns the tracked
    detections by frame index, ready for :func:`mot_metrics`. The input's track ids are ignored."""
    out = {}
    for f in range(0, frames, stride):
        d = detections.get(f, Detections.empty(f)).copy()
        d.frame_index, d.track_ids[:] = f, -1
        out[f] = tracker.update(d)
    return out


def _accumulate(ground_truth: dict[int, Detections], tracks: dict[int, Detections], iou: float):
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=False)
    frames = sorted(set(ground_truth) | set(tracks))
    for f in frames:
        g = ground_truth.get(f, Detections.empty())
        if len(g) and (g.scores == 0).any():
            g = g[g.scores != 0]
        t = tracks.get(f, Detections.empty())
        # motmetrics' own iou_matrix uses np.asfarray, gone in numpy 2: the same distances, computed here.
        dist = 1.0 - box_iou(g.xyxy, t.xyxy)
        dist[dist > 1 - iou] = np.nan
        acc.update(g.track_ids.tolist(), t.track_ids.tolist(), dist, frameid=f)
    return acc


_NAMES = ["mota", "motp", "idf1", "idp", "idr", "num_switches", "num_false_positives", "num_misses",
          "mostly_tracked", "mostly_lost", "num_unique_objects", "num_frames", "precision", "recall"]


def _row(summary, i: int) -> dict:
    row = summary.iloc[i].to_dict()
    return {k: (float(v) if isinstance(v, (float, np.floating)) else int(v)) for k, v in row.items()}


def mot_metrics(ground_truth: dict[int, Detections], tracks: dict[int, Detections], iou: float = 0.5,
                name: str = "video") -> dict:
    """MOTA, IDF1, ID switches and friends from ``motmetrics`` (the reference implementation).

    Frames present in either input are evaluated; a pair matches at IoU >= ``iou`` (MOTChallenge uses 0.5).
    Ground-truth boxes whose score is 0 are MOTChallenge's "ignore" rows (column 7 of ``gt.txt`` is 0) and are
    left out, as py-motmetrics' MOTChallenge evaluation does (``loadtxt(min_confidence=1)``). Given dicts of
    sequences (``{name: {frame: Detections}}`` for both), the result is their overall score.
    """
    try:
        import motmetrics as mm
    except ImportError:
        raise VideolensError("tracking metrics need motmetrics (pip install motmetrics)") from None
    mh = mm.metrics.create()
    first = next(iter(ground_truth.values()), None)
    if isinstance(first, dict):                  # several sequences: motmetrics' overall row
        names = list(ground_truth)
        accs = [_accumulate(ground_truth[n], tracks.get(n, {}), iou) for n in names]
        summary = mh.compute_many(accs, metrics=_NAMES, names=names, generate_overall=True)
        return _row(summary, len(names))
    summary = mh.compute(_accumulate(ground_truth, tracks, iou), metrics=_NAMES, name=name)
    return _row(summary, 0)
