"""Scoring detected transitions against ground truth, TRECVID-style.

Cuts and gradual transitions (dissolve, fade, wipe) are scored separately. Within a category each truth transition
matches at most one prediction and each prediction at most one truth transition (a maximum 1-to-1 matching), where a
pair may match when the two frame ranges overlap once widened by ``tolerance`` frames on each side; for two cuts
that means ``|predicted - truth| <= tolerance``. A cut reported as a gradual transition (or the other way round)
counts as a miss in one category and a false alarm in the other; the ``all`` figures ignore the type.

Ground truth comes in two shapes (``load_truth``):

- the ``transitions.json`` schema that the ``edits`` generator writes:
  ``{"frames": N, "fps": F, "transitions": [{"type": ..., "start": i, "end": j}, ...]}``, or a file that maps video
  file names to such objects (the generator's ``OUT/transitions.json``);
- an entry of ``../shared/data/shots/cuts.json`` (keyed by file name): ``hard_cuts`` become cuts and ``gradual``
  (approximate frames of soft transitions) one-frame gradual transitions. Its ``fade_scene_starts`` are left out:
  they are where PySceneDetect's threshold detector puts scene starts (the middle of black stretches, and frame 0),
  not transitions.

>>> r = evaluate([{"type": "cut", "start": 31, "end": 31}], [{"type": "cut", "start": 30, "end": 30}])
>>> r["cut"]["f1"], r["cut"]["tp"]
(1.0, 1)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import VideolensError
from .result import ShotsResult, Transition

CATEGORIES = ("cut", "gradual", "all")


def _as_transitions(items: Any) -> list[Transition]:
    """Transitions from a ShotsResult, a result dict, a truth dict, or a list of Transition / dicts / cut frames."""
    if isinstance(items, ShotsResult):
        return list(items.transitions)
    if isinstance(items, dict):
        items = items.get("transitions", [])
    out = []
    for t in items:
        if isinstance(t, Transition):
            out.append(t)
        elif isinstance(t, dict):
            kind = str(t.get("type", "cut"))
            out.append(Transition(kind, int(t["start"]), int(t.get("end", t["start"]))))
        else:
            out.append(Transition("cut", int(t), int(t)))
    return out


def _max_matching(pred: list[Transition], truth: list[Transition], tol: int) -> list[tuple[int, int]]:
    """Maximum 1-to-1 matching (augmenting paths); among ties it prefers the nearest pairs (tried first)."""
    def centre(t: Transition) -> float:
        return (t.start + t.end) / 2

    cand: list[list[int]] = []
    for t in truth:
        ok = [j for j, p in enumerate(pred) if p.start <= t.end + tol and t.start <= p.end + tol]
        cand.append(sorted(ok, key=lambda j: abs(centre(pred[j]) - centre(t))))
    match_pred: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in cand[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in match_pred or augment(match_pred[j], seen):
                match_pred[j] = i
                return True
        return False

    for i in sorted(range(len(truth)), key=lambda i: len(cand[i])):
        augment(i, set())
    return sorted((i, j) for j, i in match_pred.items())


def _scores(tp: int, n_pred: int, n_truth: int) -> dict:
    fp, fn = n_pred - tp, n_truth - tp
    precision = tp / n_pred if n_pred else (1.0 if n_truth == 0 else 0.0)
    recall = tp / n_truth if n_truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(f1, 4)}


def evaluate(predicted: Any, truth: Any, tolerance: int = 2) -> dict:
    """Precision, recall and F1 of ``predicted`` transitions against ``truth``, for cuts, gradual and all.

    Both arguments take a :class:`ShotsResult`, a dict with ``transitions``, or a list of transitions (dicts with
    ``type``/``start``/``end``, :class:`Transition` objects, or plain cut frames). Returns
    ``{"cut": {...}, "gradual": {...}, "all": {...}, "missed": [...], "false_alarms": [...], "tolerance": k}``,
    each category with ``tp``, ``fp``, ``fn``, ``precision``, ``recall`` and ``f1``. With nothing to find and
    nothing found, precision and recall are 1.
    """
    tol = int(tolerance)
    if tol < 0:
        raise VideolensError(f"tolerance must be >= 0, not {tolerance}")
    pred, gt = _as_transitions(predicted), _as_transitions(truth)
    out: dict[str, Any] = {"tolerance": tol}
    missed: list[dict] = []
    false_alarms: list[dict] = []
    for cat in CATEGORIES:
        if cat == "all":
            p, g = pred, gt
        else:
            p = [t for t in pred if (t.type == "cut") == (cat == "cut")]
            g = [t for t in gt if (t.type == "cut") == (cat == "cut")]
        pairs = _max_matching(p, g, tol)
        out[cat] = _scores(len(pairs), len(p), len(g))
        if cat != "all":
            got_t, got_p = {i for i, _ in pairs}, {j for _, j in pairs}
            missed += [{"type": t.type, "start": t.start, "end": t.end} for i, t in enumerate(g) if i not in got_t]
            false_alarms += [{"type": t.type, "start": t.start, "end": t.end}
                             for j, t in enumerate(p) if j not in got_p]
    out["missed"] = sorted(missed, key=lambda d: d["start"])
    out["false_alarms"] = sorted(false_alarms, key=lambda d: d["start"])
    return out


def combine(reports: Iterable[dict]) -> dict:
    """Pool per-video reports of :func:`evaluate` into one (sums of tp/fp/fn, then P/R/F1)."""
    reports = list(reports)
    out: dict[str, Any] = {"videos": len(reports), "tolerance": reports[0]["tolerance"] if reports else 2}
    for cat in CATEGORIES:
        tp = sum(r[cat]["tp"] for r in reports)
        fp = sum(r[cat]["fp"] for r in reports)
        fn = sum(r[cat]["fn"] for r in reports)
        out[cat] = _scores(tp, tp + fp, tp + fn)
    return out


def truth_from_cuts_entry(entry: dict) -> dict:
    """A ``cuts.json`` entry as a transitions object (see the module docstring)."""
    trans = [{"type": "cut", "start": int(c), "end": int(c)} for c in entry.get("hard_cuts", [])]
    trans += [{"type": "dissolve", "start": int(g), "end": int(g)} for g in entry.get("gradual", [])]
    frames = entry.get("frames")
    return {"frames": frames, "fps": entry.get("fps"), "transitions": sorted(trans, key=lambda t: t["start"])}


def _is_truth_object(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("transitions"), list)


def _is_cuts_entry(obj: Any) -> bool:
    return isinstance(obj, dict) and ("hard_cuts" in obj or "gradual" in obj)


def load_truth(path: str | os.PathLike, video: str | os.PathLike | None = None) -> dict:
    """Ground truth for ``video`` from a file: a transitions object, or a file keyed by video file name.

    >>> load_truth("../shared/data/shots/cuts.json", "testvideo.mp4")["transitions"][0]   # doctest: +SKIP
    {'type': 'cut', 'start': 30, 'end': 30}
    """
    path = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise VideolensError(f"{path}: no such file (--truth)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise VideolensError(f"{path}: cannot read ({e})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise VideolensError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    obj = data
    if not _is_truth_object(obj) and not _is_cuts_entry(obj):
        if not isinstance(data, dict):
            raise VideolensError(f"{path}: expected a JSON object with 'transitions' or one keyed by file name")
        if video is None:
            raise VideolensError(f"{path}: holds ground truth for several videos; say which video it is for")
        name = os.path.basename(os.fspath(video))
        if name not in data:
            known = ", ".join(k for k in data if not k.startswith("_"))
            raise VideolensError(f"{path}: no ground truth for {name!r} (it has: {known})")
        obj = data[name]
    if _is_cuts_entry(obj) and not _is_truth_object(obj):
        obj = truth_from_cuts_entry(obj)
    if not _is_truth_object(obj):
        raise VideolensError(f"{path}: no 'transitions' list (expected the transitions.json schema or a cuts.json "
                             "entry)")
    for k, t in enumerate(obj["transitions"]):
        try:
            start, end = int(t["start"]), int(t.get("end", t["start"]))
        except (KeyError, TypeError, ValueError):
            raise VideolensError(f"{path}: transition {k} needs integer 'start' and 'end'") from None
        if end < start or start < 0:
            raise VideolensError(f"{path}: transition {k} has start {start} and end {end}")
    return obj
