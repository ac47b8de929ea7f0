"""On-screen text benchmark: videolens' text analyzer on generated clips with known text (bench/text_clips.py) and
on a real clip with burned-in text (../shared/data/shots/counter.mp4).

- CER (character error rate, Levenshtein / reference characters, after NFKC) of captions of 24 px and more, per
  script (English, Chinese, mixed) and for the moving ticker; of smaller captions separately.
- Segment timing: start and end errors, and how many are within one sampling interval.
- False segments: segments that match no caption, and those on frames without any text.
- Speed: OCR time per frame read, and the analyzer's real-time factor (video seconds per second).

The analyzer runs once per clip with a low confidence floor and records every line it reads; each confidence
threshold of the sweep is then applied to those lines and the segments rebuilt, as the analyzer would have.
Thresholds are chosen on ``--split dev`` (seeds 0-7) only; ``--split test`` (seeds 100-107) is reported.

    .venv/bin/python bench/text.py --split dev --sweep 0.5,0.6,0.7,0.8
    .venv/bin/python bench/text.py --split test
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, SHARED, machine, save
from text_clips import DEV_SEEDS, TEST_SEEDS, make_clip, score_clip, summarize

from videolens.stream import run_analyzers
from videolens.text import TextAnalyzer
from videolens.text.segments import SegmentBuilder

FLOOR = 0.3


class Recording(TextAnalyzer):
    """The text analyzer, also keeping every line it reads (for the threshold sweep) and the time OCR took."""

    def start(self, info) -> None:
        super().start(info)
        self.raw: list[tuple[float, list]] = []
        self.ocr_seconds = 0.0

    def _read(self, frame, t) -> None:
        t0 = time.perf_counter()
        lines = self._engine(frame)
        self.ocr_seconds += time.perf_counter() - t0
        self.raw.append((t, [(ln.text, ln.box, ln.confidence) for ln in lines]))
        self._builder.add(t, self.raw[-1][1])
        self._samples += 1
        self._last_read = t


def segments_at(raw: list, threshold: float, end: float) -> list[dict]:
    b = SegmentBuilder()
    for t, lines in raw:
        b.add(t, [(x[0], x[1], x[2]) for x in lines if x[2] >= threshold])
    return [s.to_dict() for s in b.finish(end)]


def run_clip(path: Path, interval: float, lang: str = "auto") -> dict:
    a = Recording(interval=interval, lang=lang, min_confidence=FLOOR)
    t0, c0 = time.perf_counter(), time.process_time()
    run = run_analyzers(str(path), [a], quiet=True)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    res = run.results["text"]
    return {"raw": a.raw, "samples": res.samples, "cut_samples": res.cut_samples, "duration": run.info.duration,
            "end": run.info.start_time + run.info.duration, "wall": wall, "cpu": cpu,
            "analyzer_seconds": run.timings.get("text", 0.0), "ocr_seconds": a.ocr_seconds,
            "decode_seconds": run.timings.get("decode", 0.0)}


def counter_truth(path: Path) -> dict:
    """counter.mp4: "Frame = n" and "PTS = t s" on every frame (10 fps, 30 frames), bottom right."""
    items = []
    for i in range(30):
        t = i / 10
        items.append({"text": f"Frame = {i + 1}", "script": "en", "size": 90, "moving": False, "start": t,
                      "end": t + 0.1, "box": [1250, 770, 1900, 920], "box_end": [1250, 770, 1900, 920]})
        items.append({"text": f"PTS = {t:g}s", "script": "en", "size": 90, "moving": False, "start": t,
                      "end": t + 0.1, "box": [1250, 920, 1900, 1075], "box_end": [1250, 920, 1900, 1075]})
    return {"items": items, "duration": 3.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=["dev", "test"], default="dev")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--sweep", default="", help="confidence thresholds to compare (default: the analyzer's)")
    ap.add_argument("--seeds", type=int, nargs="*", help="only these seeds")
    ap.add_argument("--no-real", action="store_true", help="skip ../shared/data/shots/counter.mp4")
    args = ap.parse_args()
    seeds = args.seeds or (DEV_SEEDS if args.split == "dev" else TEST_SEEDS)
    default = TextAnalyzer.__init__.__defaults__[4]            # min_confidence
    thresholds = [float(x) for x in args.sweep.split(",") if x] or [default]
    folder = OUT / "text" / args.split
    runs = {}
    for seed in seeds:
        path = folder / f"text_{seed:03d}.mp4"
        if not path.exists() or not path.with_suffix(".json").exists():
            make_clip(seed, path, args.seconds)
        truth = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        r = run_clip(path, args.interval)
        runs[seed] = (truth, r)
        print(f"seed {seed}: {truth['size']} {len(truth['items'])} captions, {r['samples']} frames read "
              f"({r['cut_samples']} at cuts), OCR {r['ocr_seconds'] / max(1, r['samples']):.2f} s/frame, "
              f"{r['duration'] / max(1e-9, r['wall']):.2f}x real time", file=sys.stderr)
    results = {"split": args.split, "seeds": seeds, "interval": args.interval, "seconds": args.seconds,
               "machine": machine(), "load_average": os.getloadavg(), "thresholds": {}}
    for thr in thresholds:
        scores = [score_clip(truth, segments_at(r["raw"], thr, r["end"]), args.interval)
                  for truth, r in runs.values()]
        results["thresholds"][str(thr)] = summarize(scores)
        if thr == default:
            results["per_item"] = [it for s in scores for it in s["items"]]
            results["false"] = [f for s in scores for f in s["false"]]
    rs = [r for _, r in runs.values()]
    samples = sum(r["samples"] for r in rs)
    results["speed"] = {"frames_read": samples, "video_seconds": round(sum(r["duration"] for r in rs), 1),
                        "ocr_seconds_per_frame": round(sum(r["ocr_seconds"] for r in rs) / max(1, samples), 3),
                        "analyzer_seconds": round(sum(r["analyzer_seconds"] for r in rs), 1),
                        "decode_seconds": round(sum(r["decode_seconds"] for r in rs), 1),
                        "wall_seconds": round(sum(r["wall"] for r in rs), 1),
                        "cpu_seconds": round(sum(r["cpu"] for r in rs), 1)}
    counter = SHARED / "shots" / "counter.mp4"
    if not args.no_real and counter.exists():
        r = run_clip(counter, 0.1)
        truth = counter_truth(counter)
        s = score_clip(truth, segments_at(r["raw"], default, r["end"]), 0.1)
        results["counter"] = {**summarize([s]), "frames_read": r["samples"],
                              "ocr_seconds_per_frame": round(r["ocr_seconds"] / max(1, r["samples"]), 3),
                              "wrong": [(it["text"], it["read"]) for it in s["items"] if it["errors"]]}
    for thr, summ in results["thresholds"].items():
        print(f"min_confidence {thr}: " + json.dumps(summ, ensure_ascii=False))
    print("speed: " + json.dumps(results["speed"]))
    if "counter" in results:
        print("counter.mp4: " + json.dumps(results["counter"], ensure_ascii=False))
    save(f"text_{args.split}", results)


if __name__ == "__main__":
    main()
