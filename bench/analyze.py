"""`videolens analyze` benchmark (issue 7): real-time factor, decode vs analyzer time, memory, Ray scale-out.

    .venv/bin/python bench/analyze.py                 # everything (~15 min the first time: it generates videos)
    .venv/bin/python bench/analyze.py --skip-memory --skip-ray

Targets (2 cores):
- default analyzers (shots, faces, people, speech, motion) on a ~2-minute 720p file with speech: >= 2x real time
  (issue 7), >= 8x the goal of the people issue; compare with the bare decode of the same run (~14x on a quiet
  machine), and with the load average, which each round records;
- shots alone: >= 0.8x the frames/s of a bare PyAV decode of the same file (both in one run, interleaved);
- time split: decode vs each analyzer, and every frame decoded once;
- memory with the defaults on a 10-minute 720p file with speech: peak RSS < 1.5 GB, flat over time;
- --engine ray with 2 workers vs --engine local --jobs 1, one thread per worker, 8 videos of 60 s, excluding
  cluster start-up: >= 1.6x throughput.
The analyzers measured are the ones installed in this tree; the output says which ran and which were skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from _common import OUT, ROOT, bench_video, rss_mb, save, table

SAMPLE = ROOT / "samples" / "sample.mp4"


def with_speech(src, name: str):
    """``src`` with a mono AAC track of the sample's speech (six GRID sentences) looped over its length.

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


MEMORY_PROBE = """
import json, sys, threading, time
import psutil
sys.path.insert(0, sys.argv[2])
from videolens.analyze import AnalyzeConfig, analyze_video
proc, samples, done = psutil.Process(), [], False
def sample():
    t0 = time.time()
    while not done:
        samples.append((round(time.time() - t0, 1), round(proc.memory_info().rss / 1e6, 1)))
        time.sleep(2.0)
th = threading.Thread(target=sample, daemon=True); th.start()
report = analyze_video(sys.argv[1], sys.argv[3], AnalyzeConfig(), quiet=True)
done = True; th.join()
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the parent (this benchmark's own process).
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"samples": samples, "peak_rss_mb": hwm * 1024 / 1e6,
                  "ran": [a["name"] for a in report["analyzers"]["ran"]], "total": report["timings"]["total"]}))
"""


def memory(path) -> dict:
    scratch = tempfile.mkdtemp(prefix="vl-bench-mem-")
    try:
        out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(path), str(ROOT), scratch],
                             capture_output=True, text=True, check=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    res = json.loads(out.stdout)
    rss = [r for _, r in res["samples"]]
    third = max(1, len(rss) // 3)
    return {"file": str(path), "analyzers": "+".join(res["ran"]), "seconds": round(res["total"], 1),
            "peak_rss_mb": round(res["peak_rss_mb"], 1),
            "rss_first_third_mb": round(float(np.mean(rss[:third])), 1),
            "rss_last_third_mb": round(float(np.mean(rss[-third:])), 1),
            "growth_mb": round(float(np.mean(rss[-third:]) - np.mean(rss[:third])), 1),
            "samples": res["samples"][:: max(1, len(rss) // 20)]}


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
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--skip-realtime", action="store_true")
    ap.add_argument("--ray-rounds", type=int, default=2)
    args = ap.parse_args()
    load = os.getloadavg()[0]
    print(f"load average at start: {load:.1f} on {os.cpu_count()} cores (other work shares this machine)")
    results: dict = {}

    def stamp() -> dict:
        return {"command": " ".join(["python", *sys.argv]), "at": time.strftime("%Y-%m-%d %H:%M"),
                "load_average": round(os.getloadavg()[0], 1)}

    if not args.skip_realtime:
        two_min = with_speech(bench_video("gen720_2min.mp4", 120, (1280, 720)), "gen720_2min_speech.mp4")
        rt = realtime(two_min, args.rounds)
        results["realtime"] = {**rt, **stamp()}
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
