"""videolens.detect.evaluate against pycocotools' COCOeval on the same predictions (all 12 statistics)."""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
import pytest

from videolens.detect import Detections, evaluate


def _dataset(seed: int, n_img: int = 30, n_cat: int = 3, crowd: float = 0.05):
    """Random ground truth of all sizes plus predictions: jittered boxes, misses, wrong classes, false positives,
    tied scores and duplicates."""
    rng = np.random.default_rng(seed)
    images = [{"id": i + 1, "width": 640, "height": 480} for i in range(n_img)]
    cats = [{"id": 2 * c + 1, "name": f"class{c}"} for c in range(n_cat)]
    anns, dets = [], []
    for im in images:
        for _ in range(int(rng.integers(0, 8))):
            w, h = rng.uniform(4, 220, 2)
            x, y = rng.uniform(0, 400, 2)
            c = cats[int(rng.integers(n_cat))]["id"]
            anns.append({"id": len(anns) + 1, "image_id": im["id"], "category_id": c, "bbox": [x, y, w, h],
                         "area": float(w * h * rng.uniform(0.4, 1.0)), "iscrowd": int(rng.random() < crowd)})
            if rng.random() < 0.85:
                j = rng.normal(0, 0.1 * np.array([w, h, w, h]))
                cc = c if rng.random() < 0.9 else cats[int(rng.integers(n_cat))]["id"]
                dets.append({"image_id": im["id"], "category_id": cc,
                             "bbox": np.abs(np.array([x, y, w, h]) + j).tolist(), "score": float(rng.random())})
        for _ in range(int(rng.integers(0, 4))):
            w, h = rng.uniform(4, 220, 2)
            x, y = rng.uniform(0, 400, 2)
            dets.append({"image_id": im["id"], "category_id": cats[int(rng.integers(n_cat))]["id"],
                         "bbox": [x, y, w, h], "score": float(rng.random() * 0.7)})
    for d in list(dets[:25]):           # exact duplicates with rounded (tied) scores
        dd = copy.deepcopy(d)
        dd["score"] = round(d["score"], 1)
        dets.append(dd)
    return {"images": images, "annotations": anns, "categories": cats}, dets


def _pycocotools(gt: dict, dets: list[dict]) -> np.ndarray:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        res = coco.loadRes(copy.deepcopy(dets)) if dets else COCO()
        if not dets:
            res.dataset = {"images": gt["images"], "categories": gt["categories"], "annotations": []}
            res.createIndex()
        e = COCOeval(coco, res, "bbox")
        e.evaluate()
        e.accumulate()
        e.summarize()
    return np.asarray(e.stats)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_matches_pycocotools_on_random_predictions(seed):
    gt, dets = _dataset(seed)
    ours = evaluate(dets, gt)
    ref = _pycocotools(gt, dets)
    assert np.abs(np.asarray(ours.stats) - ref).max() < 1e-3, (ours.stats, ref.tolist())
    assert 0.05 < ours.map < 0.95          # a set with real hits and real errors, not a degenerate one


def test_matches_pycocotools_with_many_detections_per_image():
    # More than 100 detections on an image: the maxDets cut-offs (1, 10, 100) matter.
    rng = np.random.default_rng(5)
    gt = {"images": [{"id": 1}, {"id": 2}], "categories": [{"id": 1, "name": "dot"}], "annotations": []}
    dets = []
    for im in (1, 2):
        for k in range(60):
            x, y = rng.uniform(0, 600, 2)
            gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": im, "category_id": 1,
                                      "bbox": [x, y, 20, 20], "area": 400.0, "iscrowd": 0})
            for _ in range(2):
                dets.append({"image_id": im, "category_id": 1, "bbox": [x + rng.normal(0, 3), y + rng.normal(0, 3),
                                                                         20, 20], "score": float(rng.random())})
    ours = evaluate(dets, gt)
    assert np.abs(np.asarray(ours.stats) - _pycocotools(gt, dets)).max() < 1e-3


def test_perfect_and_empty_predictions():
    gt, _ = _dataset(7, crowd=0.0)
    perfect = [{**{k: a[k] for k in ("image_id", "category_id", "bbox")}, "score": 1.0} for a in gt["annotations"]]
    r = evaluate(perfect, gt)
    assert r.map == pytest.approx(1.0) and r.map50 == pytest.approx(1.0)
    r = evaluate([], gt)
    assert r.map == 0 and r.map50 == 0
    assert np.abs(np.asarray(r.stats) - _pycocotools(gt, [])).max() < 1e-3


def test_detections_input_matches_coco_dicts():
    gt, dets = _dataset(11)
    names = {c["id"]: c["name"] for c in gt["categories"]}
    by_image = {}
    for im in gt["images"]:
        mine = [d for d in dets if d["image_id"] == im["id"]]
        d = Detections.from_coco(mine)
        d.class_names = np.array([names[c] for c in d.class_ids.tolist()], dtype=object)
        by_image[im["id"]] = d
    a = evaluate(by_image, gt)
    b = evaluate(dets, gt)
    assert np.allclose(a.stats, b.stats, atol=1e-6)
    assert set(a.per_class) == {"class0", "class1", "class2"}
    assert all(0 <= v["ap"] <= 1 for v in a.per_class.values())


def test_predictions_for_unknown_images_are_an_error():
    from videolens.errors import VideolensError

    gt, dets = _dataset(3)
    with pytest.raises(VideolensError, match="not in the ground truth"):
        evaluate(dets + [{"image_id": 999, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5}], gt)
