"""HOTA (Luiten et al., "HOTA: A Higher Order Metric for Evaluating Multi-Object Tracking", IJCV 2021), with its
detection (DetA) and association (AssA) parts, and the evaluation of MOTChallenge files behind
``videolens track-eval``.

MOTA and IDF1 weigh detection and association very unevenly (MOTA barely sees id switches, IDF1 barely sees
localisation); HOTA is the geometric mean of the two accuracies, averaged over IoU thresholds 0.05..0.95. This is
TrackEval's algorithm (the MOTChallenge reference), checked against it to 1e-3 (tests/test_track_eval.py):
ids are first aligned globally (how often each ground-truth/track pair overlaps over the whole sequence), then each
frame is matched by that alignment times IoU.

>>> import numpy as np
>>> from videolens.core.detections import Detections
>>> gt = {f: Detections([[0, 0, 10, 10]], track_ids=[1], frame_index=f) for f in range(4)}
>>> hota(gt, gt)["HOTA"]
1.0
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.detections import Detections, box_iou
from ..errors import VideolensError

ALPHAS = np.arange(0.05, 0.96, 0.05)
_EPS = np.finfo(float).eps


def _ids(frames: Iterable[Detections]) -> dict[int, int]:
    ids = sorted({int(i) for d in frames for i in d.track_ids.tolist()})
    return {v: k for k, v in enumerate(ids)}


def hota_counts(ground_truth: dict[int, Detections], tracks: dict[int, Detections]) -> dict[str, np.ndarray]:
    """HOTA's sums per IoU threshold (``TP``, ``FN``, ``FP``, ``AssA_sum``, ``LocA_sum``): what adds up over
    sequences. Ground-truth boxes with score 0 are MOTChallenge's "ignore" rows and are left out."""
    gt = {f: (d[d.scores != 0] if len(d) and (d.scores == 0).any() else d) for f, d in ground_truth.items()}
    frames = sorted(set(gt) | set(tracks))
    empty = Detections.empty()
    gmap, tmap = _ids(gt.values()), _ids(tracks.values())
    na = len(ALPHAS)
    tp, fn, fp, loc = np.zeros(na), np.zeros(na), np.zeros(na), np.zeros(na)
    per_frame = []
    potential = np.zeros((len(gmap), len(tmap)))
    g_count, t_count = np.zeros((len(gmap), 1)), np.zeros((1, len(tmap)))
    for f in frames:
        g, t = gt.get(f, empty), tracks.get(f, empty)
        gi = np.array([gmap[int(i)] for i in g.track_ids.tolist()], np.int64)
        ti = np.array([tmap[int(i)] for i in t.track_ids.tolist()], np.int64)
        sim = box_iou(g.xyxy, t.xyxy) if len(gi) and len(ti) else np.zeros((len(gi), len(ti)))
        per_frame.append((gi, ti, sim))
        if len(gi) and len(ti):
            denom = sim.sum(0)[None, :] + sim.sum(1)[:, None] - sim
            part = np.where(denom > _EPS, sim / np.where(denom > _EPS, denom, 1.0), 0.0)
            np.add.at(potential, (gi[:, None], ti[None, :]), part)
        np.add.at(g_count, (gi, 0), 1)
        np.add.at(t_count, (0, ti), 1)
    if not any(len(gi) for gi, _, _ in per_frame) or not any(len(ti) for _, ti, _ in per_frame):
        n_gt = sum(len(gi) for gi, _, _ in per_frame)
        n_tr = sum(len(ti) for _, ti, _ in per_frame)
        return {"TP": tp, "FN": fn + n_gt, "FP": fp + n_tr, "AssA_sum": np.zeros(na), "LocA_sum": loc,
                "empty": True}
    alignment = potential / np.maximum(g_count + t_count - potential, _EPS)
    matches = np.zeros((na, len(gmap), len(tmap)))
    from scipy.optimize import linear_sum_assignment

    for gi, ti, sim in per_frame:
        if not len(gi) or not len(ti):
            fp += len(ti)
            fn += len(gi)
            continue
        rows, cols = linear_sum_assignment(-(alignment[gi[:, None], ti[None, :]] * sim))
        s = sim[rows, cols]
        for a, alpha in enumerate(ALPHAS):
            ok = s >= alpha - _EPS
            n = int(ok.sum())
            tp[a] += n
            fn[a] += len(gi) - n
            fp[a] += len(ti) - n
            if n:
                loc[a] += s[ok].sum()
                np.add.at(matches[a], (gi[rows[ok]], ti[cols[ok]]), 1)
    ass = np.array([np.sum(m * (m / np.maximum(1, g_count + t_count - m))) for m in matches])
    return {"TP": tp, "FN": fn, "FP": fp, "AssA_sum": ass, "LocA_sum": loc}


def hota_from_counts(c: dict[str, np.ndarray]) -> dict[str, float]:
    """HOTA, DetA, AssA, DetRe, DetPr, LocA from :func:`hota_counts` (of one sequence, or summed over several)."""
    tp, fn, fp = c["TP"], c["FN"], c["FP"]
    det_a = tp / np.maximum(1, tp + fn + fp)
    ass_a = c["AssA_sum"] / np.maximum(1, tp)
    loc_a = np.maximum(1e-10, c["LocA_sum"]) / np.maximum(1e-10, tp)
    if c.get("empty"):
        loc_a = np.ones_like(tp)
    out = {"HOTA": np.sqrt(det_a * ass_a), "DetA": det_a, "AssA": ass_a, "DetRe": tp / np.maximum(1, tp + fn),
           "DetPr": tp / np.maximum(1, tp + fp), "LocA": loc_a}
    return {k: float(np.mean(v)) for k, v in out.items()}


def hota(ground_truth: dict[int, Detections], tracks: dict[int, Detections]) -> dict[str, float]:
    """HOTA, DetA, AssA (and DetRe, DetPr, LocA) of one sequence, each averaged over IoU 0.05..0.95."""
    return hota_from_counts(hota_counts(ground_truth, tracks))


def sum_counts(counts: Iterable[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Several sequences' HOTA sums as one (TrackEval's combined score: detections weigh, not sequences)."""
    out: dict[str, np.ndarray] = {}
    for c in counts:
        for k in ("TP", "FN", "FP", "AssA_sum", "LocA_sum"):
            out[k] = out.get(k, 0) + c[k]
    return out


# ---- MOTChallenge files: videolens track-eval ----------------------------------------------------------------

SUMMARY = ("HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDs")


@dataclass
class SequenceScore:
    """One sequence's scores (``row()`` for a table or JSON)."""

    name: str
    hota: dict[str, float]
    clear: dict
    counts: dict = field(default_factory=dict, repr=False)

    def row(self) -> dict:
        c = self.clear
        return {"sequence": self.name, "HOTA": round(self.hota["HOTA"], 4), "DetA": round(self.hota["DetA"], 4),
                "AssA": round(self.hota["AssA"], 4), "MOTA": round(c["mota"], 4), "IDF1": round(c["idf1"], 4),
                "IDs": int(c["num_switches"]), "FP": int(c["num_false_positives"]), "FN": int(c["num_misses"]),
                "frames": int(c["num_frames"])}


def evaluate_sequence(ground_truth: dict[int, Detections], tracks: dict[int, Detections],
                      name: str = "video") -> SequenceScore:
    """HOTA (TrackEval's algorithm) and MOTA / IDF1 / ID switches (motmetrics) of one sequence."""
    from .mot import mot_metrics

    counts = hota_counts(ground_truth, tracks)
    return SequenceScore(name, hota_from_counts(counts), mot_metrics(ground_truth, tracks, name=name), counts)


def _find(folder: Path, *names: str) -> Path | None:
    for n in names:
        for p in (folder / n, folder / (n + ".gz")):
            if p.exists():
                return p
    return None


def _pairs(gt: Path, pred: Path) -> list[tuple[str, Path, Path]]:
    """(name, gt file, prediction file) for a file pair, or for MOTChallenge folders: ``GT/SEQ/gt/gt.txt`` with
    ``PRED/SEQ.txt`` (or ``PRED/SEQ/tracks.txt``, what ``videolens detect`` writes)."""
    if gt.is_file() or not gt.exists():
        if pred.is_dir():
            raise VideolensError(f"{pred}: a folder, but --gt {gt} is a file: give a tracks file")
        return [(gt.parent.parent.name if gt.parent.name == "gt" else gt.stem, gt, pred)]
    if not pred.is_dir():
        raise VideolensError(f"{pred}: not a folder, but --gt {gt} is one: give the folder of results")
    single = _find(gt, "gt/gt.txt")
    if single is not None:                  # one sequence folder
        return [(gt.name, single, pred / f"{gt.name}.txt")]
    out = []
    for seq in sorted(p for p in gt.iterdir() if p.is_dir()):
        g = _find(seq, "gt/gt.txt")
        if g is None:
            continue
        p = _find(pred, f"{seq.name}.txt", f"{seq.name}/tracks.txt")
        if p is None:
            raise VideolensError(f"{pred}: no {seq.name}.txt for ground truth {g}")
        out.append((seq.name, g, p))
    if not out:
        raise VideolensError(f"{gt}: no SEQUENCE/gt/gt.txt inside (a MOTChallenge folder)")
    return out


def evaluate_files(gt: str | os.PathLike, pred: str | os.PathLike, scale: float = 1.0) -> dict:
    """Score MOTChallenge result files against ground truth: one pair of files, or folders of sequences.

    Returns ``{"sequences": [row, ...], "combined": row}``; the combined HOTA sums detections over sequences
    (TrackEval's way), MOTA and IDF1 come from motmetrics' overall accumulator. ``scale`` multiplies the ground
    truth's coordinates (PETS09's 768x576 annotations against results on the 480x360 video: 0.625).
    """
    from .mot import mot_metrics, read_mot

    gt, pred = Path(gt), Path(pred)
    scores, truth, found = [], {}, {}
    for name, g, p in _pairs(gt, pred):
        if not p.exists():
            raise VideolensError(f"{p}: no such tracks file")
        truth[name], found[name] = read_mot(g, scale=scale), read_mot(p)
        scores.append(evaluate_sequence(truth[name], found[name], name))
    rows = [s.row() for s in scores]
    if len(scores) == 1:
        return {"sequences": rows, "combined": dict(rows[0], sequence="combined")}
    h = hota_from_counts(sum_counts(s.counts for s in scores))
    clear = mot_metrics(truth, found, name="combined")
    combined = SequenceScore("combined", h, clear).row()
    return {"sequences": rows, "combined": combined}
