"""`videolens analyze` benchmark (issue 7): real-time factor, decode vs analyzer time, memory, Ray scale-out.

    .venv/bin/python bench/analyze.py                 # everything (~15 min the first time: it generates videos)
    .venv/bin/python bench/analyze.py --skip-memory --skip-ray
    .venv/bin/python bench/analyze.py --skip-memory --skip-ray --speech test2    # held-out speech on the same video
    .venv/bin/python bench/analyze.py --skip-realtime --skip-ray --skip-memory --hour    # one hour: analyze, transcribe
    .venv/bin/python bench/analyze.py --trees OLD_CHECKOUT NEW_CHECKOUT     # the same analyzers, two versions

Targets (2 cores):
- default analyzers (shots, faces, people, speech, motion) on a ~2-minute 720p file with speech: >= 2x real time
  (issue 7), >= 8x the goal of the people issue; compare with the bare decode of the same run (~14x on a quiet
  machine), and with the load average, which each round records;
- shots alone: >= 0.8x the frames/s of a bare PyAV decode of the same file (both in one run, interleaved);
- time split: decode vs each analyzer, and every frame decoded once;
- memory with the defaults on a 10-minute 720p file with speech: peak RSS < 1.5 GB, flat over time;
- with --hour, the same and ``videolens transcribe`` on a one-hour 720p file with speech: RSS slope over the last
  two thirds of the run < 1 MB per minute, peak < 1.5 GB (RSS sampled from this process: see _common.run_sampled);
- --engine ray with 2 workers vs --engine local --jobs 1, one thread per worker, 8 videos of 60 s, excluding
  cluster start-up: >= 1.6x throughput.
The analyzers measured are the ones installed in this tree; the output says which ran and which were skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import OUT, ROOT, bench_video, rss_mb, rss_slope, run_sampled, save, table

SAMPLE = ROOT / "samples" / "sample.mp4"


def with_speech(src, name: str, speech_set: str | None = None):
    """``src`` with a mono AAC track of the sample's speech (six GRID sentences) looped over its length; with
    ``speech_set`` (e.g. ``"test2"`` of bench/speech_sets.py) that set's files end to end instead.

    The video packets are copied, not re-encoded, and interleaved with the audio by time.
    """
    import av

    from videolens.io.audio import read_audio
    from videolens.io.reader import probe

    dst = OUT / name
    if dst.exists():
        return dst
    rate = 16000
    seconds = probe(src).duration
    if speech_set:
        import speech_sets

        speech = np.concatenate([read_audio(i["path"], sample_rate=rate) for i in speech_sets.build(speech_set)])
    else:
        speech = read_audio(SAMPLE, sample_rate=rate)
    audio = np.tile(speech, int(np.ceil(seconds * rate / len(speech))))[: int(seconds * rate)].astype(np.float32)
    tmp = OUT / f".{name}.partial.mp4"
    with av.open(str(src)) as inp, av.open(str(tmp), "w", format="mp4") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        aout = out.add_stream("aac", rate=rate, layout="mono")
        pos = 0

        def audio_until(t: float) -> None:
            nonlocal pos
            while pos < len(audio) and pos / rate <= t:
                chunk = audio[pos:pos + 1024]
                frame = av.AudioFrame.from_ndarray(chunk[None], format="fltp", layout="mono")
                frame.sample_rate, frame.pts = rate, pos
                pos += len(chunk)
                for p in aout.encode(frame):
                    out.mux(p)

        for packet in inp.demux(vin):
            if packet.dts is None:
                continue
            audio_until(float(packet.pts * vin.time_base))
            packet.stream = vout
            out.mux(packet)
        audio_until(float("inf"))
        for p in aout.encode(None):
            out.mux(p)
    os.replace(tmp, dst)
    return dst


def bare_decode(path) -> int:
    """The reference: PyAV decoding every frame with FFmpeg's threads, no conversion at all."""
    import av

    n = 0
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        for _ in c.decode(s):
            n += 1
    return n


def analyze_once(path, config, out_dir) -> tuple[float, dict]:
    from videolens.analyze import analyze_video

    shutil.rmtree(out_dir, ignore_errors=True)
    t = time.perf_counter()
    report = analyze_video(path, out_dir, config, quiet=True)
    return time.perf_counter() - t, report


def realtime(path, rounds: int) -> dict:
    """Defaults and shots alone, interleaved with a bare PyAV decode of the same file."""
    from videolens.analyze import AnalyzeConfig
    from videolens.io.reader import probe

    info = probe(path)
    scratch = tempfile.mkdtemp(prefix="vl-bench-")
    configs = {"defaults": AnalyzeConfig(),
               "shots only": AnalyzeConfig(faces=False, motion=False, speech=False),
               "motion only": AnalyzeConfig(shots=False, faces=False, speech=False)}
    # Wall time (best of the rounds) and CPU time of this process (all its threads): on a machine shared with
    # other work, CPU seconds per frame compare the costs more steadily than wall time does.
    best = {k: float("inf") for k in ["bare decode", *configs]}
    cpu = {k: float("inf") for k in best}
    reports = {}

    def timed(key, fn):
        c, t = os.times(), time.perf_counter()
        out = fn()
        c2 = os.times()
        best[key] = min(best[key], time.perf_counter() - t)
        cpu[key] = min(cpu[key], (c2.user - c.user) + (c2.system - c.system))
        return out

    loads = []
    for _ in range(rounds):
        timed("bare decode", lambda: bare_decode(path))
        for name, cfg in configs.items():
            out = os.path.join(scratch, name.replace(" ", "_"))
            reports[name] = timed(name, lambda cfg=cfg, out=out: analyze_once(path, cfg, out)[1])
        loads.append(round(os.getloadavg()[0], 1))
    shutil.rmtree(scratch, ignore_errors=True)
    rows = []
    bare_fps = info.frames / best["bare decode"]
    rows.append({"run": "bare PyAV decode", "analyzers": "-", "seconds": round(best["bare decode"], 2),
                 "fps": round(bare_fps), "x real time": round(info.duration / best["bare decode"], 2),
                 "vs bare decode": 1.0, "cpu s": round(cpu["bare decode"], 2), "vs bare (cpu)": 1.0})
    for name in configs:
        rep = reports[name]
        ran = [a["name"] for a in rep["analyzers"]["ran"]]
        fps = info.frames / best[name]
        rows.append({"run": name, "analyzers": "+".join(ran) or "(none)", "seconds": round(best[name], 2),
                     "fps": round(fps), "x real time": round(info.duration / best[name], 2),
                     "vs bare decode": round(fps / bare_fps, 3), "cpu s": round(cpu[name], 2),
                     "vs bare (cpu)": round(cpu["bare decode"] / cpu[name], 3)})
    split = {name: {"decode": r["timings"]["decode"], **r["timings"]["analyzers"],
                    "thumbnails": r["timings"]["thumbnails"], "writing": r["timings"]["writing"],
                    "total": r["timings"]["total"], "frames decoded": r["stream"]["frames_decoded"],
                    "frames": r["stream"]["frames"]} for name, r in reports.items()}
    skipped = {s["name"]: s["reason"] for s in reports["defaults"]["analyzers"]["skipped"]}
    return {"file": str(path), "duration": info.duration, "frames": info.frames, "rows": rows, "split": split,
            "skipped": skipped, "load_after_each_round": loads}


def memory(path, command: str = "analyze", interval: float = 2.0) -> dict:
    """``videolens analyze`` (defaults) or ``videolens transcribe`` on ``path`` in a fresh process, its RSS (with
    its children's) sampled from this one (``_common.run_sampled``: ru_maxrss would report this driver's peak).

    ``slope_mb_per_min``: MB per minute of run time over the last two thirds of the run (start-up and model
    loading left out); ``growth_per_video_min``: the same growth per minute of the video.
    """
    from videolens.io.reader import probe

    scratch = tempfile.mkdtemp(prefix="vl-bench-mem-")
    args = {"analyze": ["analyze", str(path), "-o", scratch, "--quiet"],
            "transcribe": ["transcribe", str(path), "-o", scratch, "--quiet", "--format", "json"]}[command]
    try:
        res = run_sampled([sys.executable, "-m", "videolens", *args], interval=interval,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
        if res["returncode"] != 0:
            raise RuntimeError(f"{command} failed: {res['stderr'][-1000:]}")
        if command == "analyze":
            with open(os.path.join(scratch, os.path.splitext(os.path.basename(path))[0], "report.json")) as f:
                ran = "+".join(a["name"] for a in json.load(f)["analyzers"]["ran"])
        else:
            ran = "transcribe"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rss = [r for _, r in res["samples"]]
    third = max(1, len(rss) // 3)
    slope = rss_slope(res["samples"])
    minutes = probe(path).duration / 60
    return {"command": command, "file": str(path), "analyzers": ran, "seconds": round(res["seconds"], 1),
            "peak_rss_mb": round(res["peak_mb"], 1), "vmhwm_mb": round(res["hwm_mb"] or 0, 1),
            "rss_first_third_mb": round(float(np.mean(rss[:third])), 1),
            "rss_last_third_mb": round(float(np.mean(rss[-third:])), 1),
            "slope_mb_per_min": round(slope, 2),
            "growth_per_video_min": round(slope * res["seconds"] / 60 / minutes, 2),
            "samples": res["samples"][:: max(1, len(rss) // 30)]}


def _warm(n: int) -> None:
    """Start ``n`` workers and import videolens in each (part of cluster start-up, not of the work)."""
    import ray

    @ray.remote(num_cpus=1)
    def ready():
        import videolens.analyze  # noqa: F401

        time.sleep(1.0)        # hold the CPU so the next task lands on another worker
        return os.getpid()

    pids = set(ray.get([ready.remote() for _ in range(n)]))
    assert len(pids) == n, f"expected {n} distinct workers, got {pids}"


def scale_out(n_videos: int = 8, seconds: float = 60, rounds: int = 2) -> dict:
    import ray

    from videolens.analyze import AnalyzeConfig, analyze
    from videolens.analyze.batch import start_local_ray

    src = bench_video("ray720_60s.mp4", seconds, (1280, 720))
    folder = OUT / "ray8"
    folder.mkdir(exist_ok=True)
    videos = []
    for k in range(n_videos):
        v = folder / f"v{k}.mp4"
        if not v.exists():
            os.link(src, v)
        videos.append(str(v))
    config = AnalyzeConfig(threads=1)        # one decoder / numeric thread per worker, both engines
    scratch = tempfile.mkdtemp(prefix="vl-bench-ray-")
    times: dict[str, list[float]] = {"local": [], "ray": []}
    loads = []
    try:
        t = time.perf_counter()
        start_local_ray(2)           # as --engine ray starts it: loopback only
        _warm(2)
        t_start = time.perf_counter() - t
        # Alternate the two, so that other work on the machine hits both alike; keep each one's best.
        for k in range(rounds):
            for engine, jobs in (("local", 1), ("ray", 2)):
                out = os.path.join(scratch, f"{engine}{k}")
                t = time.perf_counter()
                run = analyze(videos, out, config, engine=engine, jobs=jobs, quiet=True)
                times[engine].append(time.perf_counter() - t)
                loads.append(round(os.getloadavg()[0], 1))
                assert run.failed == 0, run.to_dict()
                with open(run.videos[0].report) as f:
                    ran = [a["name"] for a in json.load(f)["analyzers"]["ran"]]
                shutil.rmtree(out, ignore_errors=True)
        ray.shutdown()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    t_local, t_ray = min(times["local"]), min(times["ray"])
    return {"videos": n_videos, "seconds_each": seconds, "size": "1280x720", "analyzers": "+".join(ran),
            "local_jobs1_s": round(t_local, 1), "ray_2workers_s": round(t_ray, 1),
            "all_local_s": [round(x, 1) for x in times["local"]], "all_ray_s": [round(x, 1) for x in times["ray"]],
            "load_after_each": loads, "cluster_start_s": round(t_start, 1), "speedup": round(t_local / t_ray, 2)}


def compare_trees(trees: list[str], path, rounds: int) -> dict:
    """The same analyzers through each tree's own ``videolens analyze`` (its CLI, its package), interleaved
    A B B A ..., with the CPU seconds of each child: the cost of the code's structure, apart from new analyzers.

    The analyzers are those both trees have with the same defaults: shots, motion and speech (faces are off: their
    default model changed between the trees; people are off where the tree has them)."""
    import resource
    import subprocess

    order = [t for k in range(rounds) for t in (trees if k % 2 == 0 else trees[::-1])]
    cpu: dict[str, list[float]] = {t: [] for t in trees}
    wall: dict[str, list[float]] = {t: [] for t in trees}
    shots: dict[str, set] = {t: set() for t in trees}
    for tree in order:
        help_text = subprocess.run([sys.executable, "-m", "videolens", "analyze", "--help"], cwd=tree,
                                   capture_output=True, text=True).stdout
        out = tempfile.mkdtemp(prefix="vl-trees-")
        cmd = [sys.executable, "-m", "videolens", "analyze", str(path), "-o", out, "--no-faces", "--quiet",
               *(["--no-people"] if "--no-people" in help_text else [])]
        before, t = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        subprocess.run(cmd, cwd=tree, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall[tree].append(time.perf_counter() - t)
        cpu[tree].append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
        report = json.loads((Path(out) / Path(path).stem / "report.json").read_text())
        shots[tree].add(len(report["shots"]["shots"]))
        shutil.rmtree(out, ignore_errors=True)
    old, new = trees
    rows = [{"tree": t, "cpu s (median)": round(float(np.median(cpu[t])), 2),
             "wall s (median)": round(float(np.median(wall[t])), 2), "shots": sorted(shots[t])} for t in trees]
    return {"rows": rows, "cpu_ratio_new_over_old": round(float(np.median(cpu[new]) / np.median(cpu[old])), 3),
            "wall_ratio_new_over_old": round(float(np.median(wall[new]) / np.median(wall[old])), 3),
            "cpu": cpu, "wall": wall, "file": str(path)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--skip-realtime", action="store_true")
    ap.add_argument("--ray-rounds", type=int, default=2)
    ap.add_argument("--hour", action="store_true",
                    help="also memory over a one-hour 720p file with speech: analyze (defaults), then transcribe "
                         "(~20 min to generate the file the first time, then ~25 + ~10 min on 2 cores)")
    ap.add_argument("--hour-commands", default="analyze,transcribe",
                    help="with --hour: which commands to run (comma-separated)")
    ap.add_argument("--speech", choices=["grid", "test2"], default="grid",
                    help="the 2-minute file's audio: the sample's GRID sentences looped (default, the benchmark), or "
                         "bench/speech_sets.py's test2 files end to end (speech no setting was chosen on)")
    ap.add_argument("--trees", nargs=2, metavar=("OLD", "NEW"),
                    help="only compare two checkouts' analyze (shots, motion, speech) on the 2-minute file")
    args = ap.parse_args()
    if args.trees:
        two_min = with_speech(bench_video("gen720_2min.mp4", 120, (1280, 720)), "gen720_2min_speech.mp4")
        r = compare_trees(args.trees, two_min, args.rounds)
        print(table(r["rows"], list(r["rows"][0])))
        print(f"new/old: cpu {r['cpu_ratio_new_over_old']}, wall {r['wall_ratio_new_over_old']}; "
              f"load {os.getloadavg()[0]:.1f}")
        print("saved", save("analyze-trees", r))
        return
    load = os.getloadavg()[0]
    print(f"load average at start: {load:.1f} on {os.cpu_count()} cores (other work shares this machine)")
    results: dict = {}

    def stamp() -> dict:
        return {"command": " ".join(["python", *sys.argv]), "at": time.strftime("%Y-%m-%d %H:%M"),
                "malloc_env": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_") or k == "GLIBC_TUNABLES"},
                "load_average": round(os.getloadavg()[0], 1)}

    if not args.skip_realtime:
        video = bench_video("gen720_2min.mp4", 120, (1280, 720))
        if args.speech == "grid":
            two_min, key = with_speech(video, "gen720_2min_speech.mp4"), "realtime"
        else:
            two_min, key = with_speech(video, f"gen720_2min_{args.speech}.mp4", args.speech), f"realtime_{args.speech}"
        rt = realtime(two_min, args.rounds)
        results[key] = {**rt, **stamp()}
        print(table(rt["rows"], list(rt["rows"][0])))
        print("time split (s):")
        for name, split in rt["split"].items():
            print(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in split.items()))
        print("skipped with the defaults:", json.dumps(rt["skipped"]), "; load after each round:",
              rt["load_after_each_round"])

    if not args.skip_memory:
        long = with_speech(bench_video("gen720_10min.mp4", 600, (1280, 720)), "gen720_10min_speech.mp4")
        results["memory"] = {**memory(long), **stamp()}
        print("memory:", json.dumps({k: v for k, v in results["memory"].items() if k != "samples"}), flush=True)
        print("  rss over time (s, MB):", results["memory"]["samples"])

    if args.hour:
        hour = with_speech(bench_video("gen720_60min.mp4", 3600, (1280, 720)), "gen720_60min_speech.mp4")
        for command in args.hour_commands.split(","):
            r = {**memory(hour, command, interval=5.0), **stamp()}
            results[f"hour_{command}"] = r
            met = r["slope_mb_per_min"] < 1.0 and r["peak_rss_mb"] < 1500
            print(f"one hour, {command}:", json.dumps({k: v for k, v in r.items() if k != "samples"}),
                  f"(slope < 1 MB/min and peak < 1.5 GB: {'met' if met else 'NOT met'})", flush=True)
            print("  rss over time (s, MB):", r["samples"])

    if not args.skip_ray:
        results["ray"] = {**scale_out(rounds=args.ray_rounds), **stamp()}
        print("ray:", json.dumps(results["ray"]), flush=True)
    print(f"driver rss {rss_mb():.0f} MB; load average at end {os.getloadavg()[0]:.1f}")
    # Keep the sections of an earlier run that this one skipped (--skip-memory, --skip-ray, --skip-realtime).
    previous = OUT / "analyze.json"
    if previous.exists():
        old = json.loads(previous.read_text())
        results = {**{k: v for k, v in old.items() if k not in ("machine", "command")}, **results}
    print("saved", save("analyze", results))


if __name__ == "__main__":
    main()
