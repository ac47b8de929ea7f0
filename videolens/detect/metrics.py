"""COCO detection metrics: mAP@[.5:.95], mAP@.5, AP per class and per object size, in numpy.

This follows pycocotools' ``COCOeval`` (bbox) step for step, so the numbers agree with it (the test suite checks
all twelve summary statistics to 0.001 on several prediction sets): greedy matching of detections sorted by score
to the best still-free ground truth, crowd boxes and out-of-range sizes ignored, 101-point interpolated precision.
It is written here rather than called because pycocotools needs its own file format round trip and prints; this
version takes ``Detections`` directly, works per class name, and vectorises matching over the ten IoU thresholds.

>>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "car"}],
...       "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100}]}
>>> evaluate([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9}], gt).map50
1.0
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..errors import VideolensError
from ..core.detections import Detections

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)
AREA_RANGES = {"all": (0.0, 1e10), "small": (0.0, 32.0 ** 2), "medium": (32.0 ** 2, 96.0 ** 2),
               "large": (96.0 ** 2, 1e10)}
MAX_DETS = (1, 10, 100)
STAT_NAMES = ("map", "map50", "map75", "map_small", "map_medium", "map_large",
              "ar1", "ar10", "ar100", "ar_small", "ar_medium", "ar_large")


@dataclass
class EvalResult:
    """COCO metrics. ``-1`` means "no ground truth to measure this on" (as in pycocotools)."""

    map: float
    map50: float
    map75: float
    map_small: float
    map_medium: float
    map_large: float
    ar1: float
    ar10: float
    ar100: float
    ar_small: float
    ar_medium: float
    ar_large: float
    per_class: dict[str, dict] = field(default_factory=dict)   # name -> {ap, ap50, ap75, ap_small.., ar100, gt}
    images: int = 0
    precision: np.ndarray | None = field(default=None, repr=False)   # (T, R, K, A, M) as in COCOeval.eval

    @property
    def stats(self) -> list[float]:
        """The 12 numbers in the order of pycocotools' ``COCOeval.stats``."""
        return [getattr(self, n) for n in STAT_NAMES]

    def to_dict(self) -> dict:
        out = {n: round(float(getattr(self, n)), 5) for n in STAT_NAMES}
        out["per_class"] = {k: {kk: (round(float(vv), 5) if isinstance(vv, float) else vv) for kk, vv in v.items()}
                            for k, v in self.per_class.items()}
        out["images"] = self.images
        return out

    def summary(self) -> str:
        lines = [f"mAP@[.5:.95] {self.map:.4f}   mAP@.5 {self.map50:.4f}   mAP@.75 {self.map75:.4f}   "
                 f"AR@100 {self.ar100:.4f}",
                 f"by size: small {self.map_small:.4f}  medium {self.map_medium:.4f}  large {self.map_large:.4f}"]
        for name, v in self.per_class.items():
            lines.append(f"  {name:<20} AP {v['ap']:.4f}  AP50 {v['ap50']:.4f}  ({v['gt']} boxes)")
        return "\n".join(lines)


# ---- input normalisation ------------------------------------------------------------------------------------


def _load_json(obj, what: str):
    if isinstance(obj, (str, os.PathLike)):
        try:
            with open(obj, encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            raise VideolensError(f"{os.fspath(obj)}: no such file ({what})") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise VideolensError(f"{os.fspath(obj)}: not valid JSON ({e})") from None
    return obj


def _from_detections(items: Mapping, categories: list[dict] | None):
    """``{image_id: Detections}`` -> COCO-style annotation dicts (and categories if none were given)."""
    if categories is None:
        seen: dict[int, str] = {}
        for d in items.values():
            for cid, name in zip(d.class_ids.tolist(), d.class_names.tolist()):
                seen.setdefault(int(cid), str(name))
        categories = [{"id": k, "name": v} for k, v in sorted(seen.items())]
    by_name = {c["name"]: c["id"] for c in categories}
    anns = []
    for image_id, d in items.items():
        crowd = d.data.get("crowd")
        for i, rec in enumerate(d.to_coco(image_id)):
            rec["category_id"] = by_name.get(str(d.class_names[i]), int(d.class_ids[i]))
            if crowd is not None:
                rec["iscrowd"] = int(bool(crowd[i]))
            anns.append(rec)
    return anns, categories


def _normalise(predictions, ground_truth):
    gt = _load_json(ground_truth, "ground truth")
    if isinstance(gt, Mapping) and "annotations" in gt:
        categories = list(gt.get("categories") or [])
        gt_anns = list(gt["annotations"])
        image_ids = [im["id"] for im in gt.get("images", [])] or sorted({a["image_id"] for a in gt_anns})
        if not categories:
            categories = [{"id": c, "name": str(c)} for c in sorted({a["category_id"] for a in gt_anns})]
    elif isinstance(gt, Mapping):   # {image_id: Detections}
        gt_anns, categories = _from_detections(gt, None)
        for a in gt_anns:
            a["score"] = 1.0
        image_ids = list(gt.keys())
    else:
        raise VideolensError("ground truth must be a COCO dict (images, annotations, categories), a path to one, "
                             "or {image_id: Detections}")
    pred = _load_json(predictions, "predictions")
    if isinstance(pred, Mapping) and pred and all(isinstance(v, Detections) for v in pred.values()):
        dt_anns, _ = _from_detections(pred, categories)
    elif isinstance(pred, Mapping) and "annotations" in pred:
        dt_anns = list(pred["annotations"])
    elif isinstance(pred, Mapping) and not pred:
        dt_anns = []
    else:
        dt_anns = list(pred)
    known = set(image_ids)
    unknown = {a["image_id"] for a in dt_anns} - known
    if unknown:
        raise VideolensError(f"predictions for {len(unknown)} image id(s) not in the ground truth, e.g. "
                             f"{sorted(unknown, key=str)[:3]}")
    return gt_anns, dt_anns, sorted(image_ids, key=_sort_key), sorted(categories, key=lambda c: c["id"])


def _sort_key(v):
    return (0, v, "") if isinstance(v, (int, np.integer)) else (1, 0, str(v))


def _xywh(anns: list[dict]) -> np.ndarray:
    return np.asarray([a["bbox"] for a in anns], np.float64).reshape(-1, 4)


def _iou_xywh(dt: np.ndarray, gt: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """IoU as pycocotools' ``maskUtils.iou`` for boxes: a crowd box's "union" is the detection's own area."""
    dx2, dy2 = dt[:, 0] + dt[:, 2], dt[:, 1] + dt[:, 3]
    gx2, gy2 = gt[:, 0] + gt[:, 2], gt[:, 1] + gt[:, 3]
    iw = np.minimum(dx2[:, None], gx2[None]) - np.maximum(dt[:, None, 0], gt[None, :, 0])
    ih = np.minimum(dy2[:, None], gy2[None]) - np.maximum(dt[:, None, 1], gt[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    inter = np.where((iw > 0) & (ih > 0), inter, 0.0)
    da = (dt[:, 2] * dt[:, 3])[:, None]
    ga = (gt[:, 2] * gt[:, 3])[None]
    union = np.where(crowd[None, :], da, da + ga - inter)
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _match(ious: np.ndarray, gt_ignore: np.ndarray, crowd: np.ndarray, thr: np.ndarray):
    """Greedy matching of score-sorted detections (rows) to ground truth (columns, non-ignored first).

    Returns ``(dt_matched (T, D) bool, dt_ignored (T, D) bool)``. Per threshold, a detection takes the free
    ground truth with the highest IoU >= threshold (the last one on ties, as pycocotools), preferring
    non-ignored ones; crowd boxes stay free. The loop runs over detections, vectorised over thresholds.
    """
    t_n, (d_n, g_n) = len(thr), ious.shape
    dtm = np.zeros((t_n, d_n), bool)
    dt_ig = np.zeros((t_n, d_n), bool)
    if g_n == 0 or d_n == 0:
        return dtm, dt_ig
    taken = np.zeros((t_n, g_n), bool)
    limit = np.minimum(thr, 1 - 1e-10)[:, None]
    rev = slice(None, None, -1)
    for d in range(d_n):
        iou = ious[d][None, :]
        ok = (~taken | crowd[None, :]) & (iou >= limit)
        if not ok.any():
            continue
        ok_main = ok & ~gt_ignore[None, :]
        use_main = ok_main.any(axis=1, keepdims=True)
        cand = np.where(use_main, ok_main, ok)
        score = np.where(cand, iou, -1.0)
        m = g_n - 1 - np.argmax(score[:, rev], axis=1)       # last index of the maximum
        found = cand[np.arange(t_n), m]
        rows = np.flatnonzero(found)
        cols = m[rows]
        dtm[rows, d] = True
        dt_ig[rows, d] = gt_ignore[cols]
        taken[rows, cols] = True
    return dtm, dt_ig


def evaluate(predictions, ground_truth, *, iou_thresholds=None, max_dets: tuple[int, ...] = MAX_DETS,
             class_names: list[str] | None = None) -> EvalResult:
    """COCO box metrics of ``predictions`` against ``ground_truth``.

    - ``ground_truth``: a COCO dataset dict (``images``, ``annotations`` with ``bbox`` / ``area`` / ``iscrowd``,
      ``categories``), a path to one, or ``{image_id: Detections}``.
    - ``predictions``: COCO result dicts (``image_id``, ``category_id``, ``bbox`` as ``[x, y, w, h]``,
      ``score``), a path to a JSON list of them, or ``{image_id: Detections}`` (classes matched by name).

    Size ranges use each ground-truth box's ``area`` (COCO's; the box area when absent) and each detection's
    box area. Returns an :class:`EvalResult`.
    """
    gt_anns, dt_anns, image_ids, categories = _normalise(predictions, ground_truth)
    thr = IOU_THRESHOLDS if iou_thresholds is None else np.asarray(iou_thresholds, np.float64)
    max_dets = tuple(int(m) for m in max_dets)
    cat_ids = [c["id"] for c in categories]
    gts: dict[tuple, list] = defaultdict(list)
    dts: dict[tuple, list] = defaultdict(list)
    for a in gt_anns:
        gts[a["image_id"], a["category_id"]].append(a)
    for a in dt_anns:
        dts[a["image_id"], a["category_id"]].append(a)

    areas = list(AREA_RANGES.values())
    t_n, r_n, k_n, a_n, m_n = len(thr), len(RECALL_THRESHOLDS), len(cat_ids), len(areas), len(max_dets)
    precision = -np.ones((t_n, r_n, k_n, a_n, m_n))
    recall = -np.ones((t_n, k_n, a_n, m_n))
    gt_count = {}
    for k, cat in enumerate(cat_ids):
        # Per area range: lists over images of (scores, dtm, dt_ig, gt_ig) to accumulate.
        per_area: list[list[tuple]] = [[] for _ in areas]
        gt_count[cat] = 0
        for image_id in image_ids:
            g = gts.get((image_id, cat), [])
            d = dts.get((image_id, cat), [])
            if not g and not d:
                continue
            crowd0 = np.asarray([bool(a.get("iscrowd", 0)) for a in g], bool)
            gt_count[cat] += int((~crowd0).sum())
            g_box = _xywh(g)
            g_area = np.asarray([a.get("area", b[2] * b[3]) for a, b in zip(g, g_box)], np.float64)
            scores = np.asarray([a["score"] for a in d], np.float64)
            order = np.argsort(-scores, kind="mergesort")[:max_dets[-1]]
            d_box = _xywh(d)[order]
            scores = scores[order]
            d_area = d_box[:, 2] * d_box[:, 3]
            for ai, (lo, hi) in enumerate(areas):
                ig = crowd0 | (g_area < lo) | (g_area > hi)
                gorder = np.argsort(ig, kind="mergesort")
                ious = _iou_xywh(d_box, g_box[gorder], crowd0[gorder]) if len(d) and len(g) else \
                    np.zeros((len(d_box), len(g)))
                dtm, dt_ig = _match(ious, ig[gorder], crowd0[gorder], thr)
                outside = (d_area < lo) | (d_area > hi)
                dt_ig |= ~dtm & outside[None, :]
                per_area[ai].append((scores, dtm, dt_ig, ig))
        for ai in range(a_n):
            items = per_area[ai]
            if not items:
                continue
            gt_ig = np.concatenate([it[3] for it in items])
            npig = int(np.count_nonzero(~gt_ig))
            if npig == 0:
                continue
            for mi, md in enumerate(max_dets):
                sc = np.concatenate([it[0][:md] for it in items])
                order = np.argsort(-sc, kind="mergesort")
                dtm = np.concatenate([it[1][:, :md] for it in items], axis=1)[:, order]
                dt_ig = np.concatenate([it[2][:, :md] for it in items], axis=1)[:, order]
                tps = np.cumsum(dtm & ~dt_ig, axis=1, dtype=np.float64)
                fps = np.cumsum(~dtm & ~dt_ig, axis=1, dtype=np.float64)
                nd = tps.shape[1]
                if nd == 0:
                    recall[:, k, ai, mi] = 0
                    precision[:, :, k, ai, mi] = 0
                    continue
                rc = tps / npig
                pr = tps / (fps + tps + np.spacing(1))
                recall[:, k, ai, mi] = rc[:, -1]
                # Precision envelope: running maximum from the right.
                pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
                for ti in range(t_n):
                    idx = np.searchsorted(rc[ti], RECALL_THRESHOLDS, side="left")
                    q = np.zeros(r_n)
                    valid = idx < nd
                    q[valid] = pr[ti, idx[valid]]
                    precision[ti, :, k, ai, mi] = q

    def mean_valid(x: np.ndarray) -> float:
        v = x[x > -1]
        return float(v.mean()) if v.size else -1.0

    m_last = m_n - 1

    def ap(iou: float | None = None, area: int = 0, m: int = m_last) -> float:
        p = precision[:, :, :, area, m]
        if iou is not None:
            p = p[np.flatnonzero(np.isclose(thr, iou))]
        return mean_valid(p)

    def ar(area: int = 0, m: int = m_last) -> float:
        return mean_valid(recall[:, :, area, m])

    def m_index(n: int) -> int:
        return max_dets.index(n) if n in max_dets else m_last

    names = [str(c.get("name", c["id"])) for c in categories]
    if class_names is not None:
        names = [class_names[i] if i < len(class_names) else n for i, n in enumerate(names)]
    per_class = {}
    for k, (cat, name) in enumerate(zip(cat_ids, names)):
        p = precision[:, :, k, :, m_last]
        i50 = np.flatnonzero(np.isclose(thr, 0.5))
        i75 = np.flatnonzero(np.isclose(thr, 0.75))
        per_class[name] = {
            "ap": mean_valid(p[:, :, 0]), "ap50": mean_valid(p[i50, :, 0]), "ap75": mean_valid(p[i75, :, 0]),
            "ap_small": mean_valid(p[:, :, 1]), "ap_medium": mean_valid(p[:, :, 2]),
            "ap_large": mean_valid(p[:, :, 3]), "ar100": mean_valid(recall[:, k, 0, m_last]),
            "gt": gt_count.get(cat, 0)}
    return EvalResult(
        map=ap(), map50=ap(0.5), map75=ap(0.75), map_small=ap(area=1), map_medium=ap(area=2), map_large=ap(area=3),
        ar1=ar(m=m_index(1)), ar10=ar(m=m_index(10)), ar100=ar(), ar_small=ar(1), ar_medium=ar(2), ar_large=ar(3),
        per_class=per_class, images=len(image_ids), precision=precision)
