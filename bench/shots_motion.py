"""Issue 16, shots: ``auto`` with and without its motion check on the fast-motion and edits test sets.

The first motion check (before/after only: ``min_response`` 0.5, ``offset`` 3, no pan or whip test) is run beside
the shipped one for comparison; every row has the rule that the last shot is at least ``min_shot_len`` long.

    .venv/bin/python bench/shots_motion.py          # results: bench/out/shots_motion.json

Each test video is decoded once (scripts/select_shots.py's ``run_all``: every detector's per-frame scores and the
luma frames the motion check reads); ``auto``'s members, thresholds and motion check are then applied from
``videolens/shots/weights/auto.json`` with the post-processing of detection (select_shots.py's ``score``, as used to
choose them on the development set). The test sets are bench/shots.py's (edits: seed 2024, 30 videos; fast motion:
seed 2025, 64 videos of 480 frames, 20.5 minutes), built by it into bench/out/ when missing. Nothing here chooses
anything: ``auto.json`` was chosen on the development set only.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "scripts")]


def main() -> int:
    import shots as B
    import select_shots as S

    from videolens.shots.detect import AUTO_CONFIG

    cfg = json.loads(AUTO_CONFIG.read_text())
    members = [(m["detector"], m["threshold"], {k: m[k] for k in ("min_gradual", "cut_threshold") if k in m})
               if m["detector"] == "learned" else (m["detector"], m["threshold"]) for m in cfg["members"]]
    c = cfg.get("motion_check")
    check = (c["min_response"], c["offset"], (c["pan_shift"], c["pan_response"]) if "pan_shift" in c else None,
             c.get("whip_shift")) if c else None
    out = {"auto.json": {k: cfg[k] for k in ("members", "motion_check") if k in cfg}, "sets": {}}
    for label, make in (("fast-motion test set", B.fast_test_set), ("edits test set", B.edits_test_set)):
        items = make()
        t0, c0 = time.perf_counter(), time.process_time()
        cache = [S.run_all(p) for p, _ in items]
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        frames = sum(len(c[1]) for c in cache)
        minutes = sum(len(c[1]) / c[3] for c in cache) / 60
        truths = [t for _, t in items]
        res = {"videos": len(items), "frames": frames, "minutes": round(minutes, 2),
               "decode+all detectors seconds": round(seconds, 1), "CPU s": round(cpu, 1)}
        for name, c in (("auto", check), ("auto with the first motion check (0.5, 3)", (0.5, 3, None, None)),
                        ("auto without motion check", None)):
            m = S.score(members, cache, truths, check=c)
            res[name] = {"false transitions": m["all"]["fp"],
                         "false per 10 min": round(m["all"]["fp"] / minutes * 10, 2),
                         "cut R": m["cut"]["recall"], "cut F1": m["cut"]["f1"], "gradual R": m["gradual"]["recall"],
                         "gradual F1": m["gradual"]["f1"], "all F1": m["all"]["f1"],
                         "missed cuts": m["cut"]["fn"], "missed gradual": m["gradual"]["fn"]}
        out["sets"][label] = res
        print(label, json.dumps(res, indent=1), flush=True)
    path = B.save("shots_motion", out)
    print(f"saved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
