"""Ultralytics parity (issue 16 part 7): videolens's ``onnx:`` path against Ultralytics' own ``predict`` output.

Reads tests/data/ultralytics/predictions.json (made by scripts/make_ultralytics_parity.py) and runs the same ONNX
files on the same frames with the videolens tree given (``--tree``, default this one; ``--tree /work/main`` for the
code before the change). Per model and frame size: boxes Ultralytics found, boxes videolens found, boxes matched
(same class, IoU >= 0.5, the nearest corners, by Ultralytics' score order), boxes found there with another class, the largest score and box differences of the matches.
videolens runs with its own defaults for the model unless ``--ultralytics-settings`` (conf 0.25, IoU 0.7).

    .venv/bin/python bench/ultralytics_parity.py [--tree DIR] [--ultralytics-settings] [--low-conf]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "tests" / "data" / "ultralytics"


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area = lambda x: (x[:, 2:] - x[:, :2]).prod(-1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None] - inter + 1e-9)


def match(found, exp: dict) -> dict:
    """Greedy matching by Ultralytics' score order: same place (IoU >= 0.5) and how the class and score compare."""
    xyxy, conf, cls = np.asarray(exp["xyxy"], float).reshape(-1, 4), np.asarray(exp["conf"]), np.asarray(exp["cls"])
    out = {"ultralytics": len(conf), "videolens": len(found), "matched": 0, "class_changed": 0, "score_diff": 0.0,
           "box_diff": 0.0}
    if not len(conf) or not len(found):
        return out
    a = np.lexsort((found.xyxy[:, 1], found.xyxy[:, 0], -found.scores))
    b = np.lexsort((xyxy[:, 1], xyxy[:, 0], -conf))
    if len(a) == len(b) and np.array_equal(found.class_ids[a], cls[b].astype(int)) \
            and np.abs(found.xyxy[a] - xyxy[b]).max() < 0.5:   # the same list (what the test checks)
        out.update(matched=len(b), score_diff=float(np.abs(found.scores[a] - conf[b]).max()),
                   box_diff=float(np.abs(found.xyxy[a] - xyxy[b]).max()))
        return out
    m = iou(xyxy, found.xyxy.astype(float))
    same = cls[:, None].astype(int) == found.class_ids[None, :].astype(int)
    dist = np.abs(xyxy[:, None] - found.xyxy[None].astype(float)).max(-1)    # nearest corners first
    used: set[int] = set()
    unmatched = []
    for i in np.argsort(-conf):     # first the same class at the same place (IoU >= 0.5) ...
        free = [j for j in np.argsort(dist[i]) if m[i, j] >= 0.5 and same[i, j] and j not in used]
        if not free:
            unmatched.append(i)
            continue
        j = free[0]
        used.add(j)
        out["matched"] += 1
        out["score_diff"] = max(out["score_diff"], float(abs(found.scores[j] - conf[i])))
        out["box_diff"] = max(out["box_diff"], float(np.abs(found.xyxy[j] - xyxy[i]).max()))
    for i in unmatched:             # ... then another class there: a class change
        free = [j for j in np.argsort(dist[i]) if m[i, j] >= 0.5 and j not in used]
        if free:
            used.add(free[0])
            out["class_changed"] += 1
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tree", type=Path, default=HERE.parent, help="the videolens source tree to measure")
    p.add_argument("--ultralytics-settings", action="store_true", help="pass conf and IoU as Ultralytics used them")
    p.add_argument("--low-conf", action="store_true", help="the second set of predictions (a low score threshold)")
    args = p.parse_args()
    sys.path.insert(0, str(args.tree))
    sys.path.insert(0, str(HERE.parent / "scripts"))
    import cv2
    import videolens
    from make_ultralytics_parity import resized   # the frames at other sizes, made as the script made them

    from videolens.detect import load_detector

    RECORD = json.loads((DATA / "predictions.json").read_text())
    FRAMES = {}
    for name, src in RECORD["frames"].items():
        rgb = cv2.cvtColor(cv2.imread(str(DATA / src["png"])), cv2.COLOR_BGR2RGB)
        FRAMES[name] = rgb if src["scale"] == 1 else resized(rgb, src["scale"])

    key = "predictions_low_conf" if args.low_conf else "predictions"
    conf = RECORD["low_conf"] if args.low_conf else RECORD["predict"]["conf"]
    print(f"videolens from {Path(videolens.__file__).parent}; Ultralytics {RECORD['ultralytics']}; {key} "
          f"(conf {conf}, IoU {RECORD['predict']['iou']})")
    rows = []
    for model in ("dynamic", "batch4"):
        kw = {"conf": conf, **({"iou": RECORD["predict"]["iou"]} if args.ultralytics_settings else {})}
        det = load_detector(f"onnx:{DATA / RECORD['models'][model]}", **kw)
        by_scale: dict[str, dict] = {}
        for name, frame in FRAMES.items():
            try:
                found = det(frame)
            except Exception as e:  # noqa: BLE001 - the old code fails on fixed-batch exports: say how
                rows.append((model, "all", {"error": str(e).split(": ", 1)[-1][:120]}))
                break
            r = match(found, RECORD[key][model][name])
            s = by_scale.setdefault(name.split("@")[1], {k: 0 for k in r})
            for k, v in r.items():
                s[k] = max(s[k], v) if k.endswith("diff") else s[k] + v
        for scale, s in by_scale.items():
            rows.append((model, scale, s))
    print("| model | frames at | Ultralytics boxes | videolens boxes | matched | class changed | max score diff "
          "| max box diff (px) |")
    print("|---|---|---|---|---|---|---|---|")
    for model, scale, s in rows:
        if "error" in s:
            print(f"| {model} | {scale} | fails: {s['error']} |||||")
            continue
        print(f"| {model} | {scale} | {s['ultralytics']} | {s['videolens']} | {s['matched']} | {s['class_changed']} "
              f"| {s['score_diff']:.2g} | {s['box_diff']:.2g} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
