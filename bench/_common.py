"""Shared benchmark helpers: generated test videos (cached in bench/out/), timing, and result tables."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))


def bench_video(name: str, seconds: float, size: tuple[int, int], fps: float = 25, gop_seconds: float = 2.0,
                preset: str = "veryfast") -> Path:
    """A realistic-to-decode H.264 MP4: a detailed texture panning under moving shapes, with light sensor noise.

    Cached by name in bench/out/; generated once (a 10-minute 720p file takes ~2-3 minutes on 2 cores).
    """
    import cv2

    from videolens.io.writer import VideoWriter

    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    if path.exists():
        return path
    w, h = size
    rng = np.random.default_rng(0)
    tex = cv2.resize(rng.integers(0, 256, (h // 4 + 64, w // 4 + 256, 3), dtype=np.uint8), (w + 256, h + 64),
                     interpolation=cv2.INTER_CUBIC)
    tex = cv2.GaussianBlur(tex, (0, 0), 1.5)
    noise = [rng.normal(0, 3, (h, w, 3)).astype(np.int16) for _ in range(7)]
    n = int(round(seconds * fps))
    gop = max(1, int(round(gop_seconds * fps)))
    from videolens.io import writer as _w  # noqa: F401  (VideoWriter picks x264 params from options below)

    vw = VideoWriter(path, fps=fps, size=(w, h), preset=preset, crf=23)
    vw._v.options = {**vw._v.options, "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"}
    for i in range(n):
        x = int(128 + 120 * np.sin(i / 90))
        y = int(32 + 30 * np.cos(i / 70))
        frame = tex[y:y + h, x:x + w].astype(np.int16) + noise[i % len(noise)]
        for k in range(4):
            cx = int((w * (0.2 + 0.2 * k) + i * (3 + k)) % w)
            cy = int(h / 2 + h / 3 * np.sin(i / (20 + 5 * k) + k))
            cv2.circle(frame, (cx, cy), h // (8 + k), (40 * k, 200 - 30 * k, 90 + 40 * k), -1)
        vw.write(np.clip(frame, 0, 255).astype(np.uint8))
    vw.close()
    return path


def machine() -> dict:
    import av

    return {"python": platform.python_version(), "cpus": os.cpu_count(), "pyav": av.__version__,
            "ffmpeg": ".".join(map(str, av.ffmpeg_version_info)) if hasattr(av, "ffmpeg_version_info") else "?",
            "platform": platform.platform()}


def best_of(fn, rounds: int = 3) -> float:
    """Best (smallest) wall time of ``rounds`` runs: the least disturbed by other load on the machine."""
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def interleaved(fns: dict, rounds: int = 3) -> dict:
    """Run each function once per round, alternating, and keep each one's best time."""
    best = {k: float("inf") for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t)
    return best


def save(name: str, results: dict) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    results = {"machine": machine(), "command": " ".join([Path(sys.executable).name, *sys.argv]), **results}
    path.write_text(json.dumps(results, indent=1))
    return path


def table(rows: list[dict], cols: list[str]) -> str:
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols]
    line = lambda vals: "| " + " | ".join(str(v).ljust(w) for v, w in zip(vals, widths)) + " |"  # noqa: E731
    return "\n".join([line(cols), "|" + "|".join("-" * (w + 2) for w in widths) + "|",
                      *(line([r.get(c, "") for c in cols]) for r in rows)])


def _hwm_mb(pid: int) -> float | None:
    """A process's own peak RSS (``VmHWM``, which exec resets), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) * 1024 / 1e6
    except (OSError, StopIteration, ValueError):
        return None


def run_sampled(cmd: list[str], interval: float = 1.0, timeout: float | None = None, **kw) -> dict:
    """Run ``cmd`` as a child and sample, from this process, the RSS of the child and its descendants every
    ``interval`` seconds (psutil); also the child's own ``VmHWM`` (its true peak, read while it runs).

    Why from outside: Linux carries ``ru_maxrss`` over fork and exec, so a child that reports its own
    ``getrusage().ru_maxrss`` reports at least its parent's peak (a benchmark driver that loaded models first
    makes every child look as big as itself, and hides the child's growth).

    Returns ``returncode``, ``stdout``, ``stderr``, ``seconds``, ``samples`` ``[(seconds, MB)]``, ``peak_mb`` (the
    largest sample), ``hwm_mb`` (the child's VmHWM at the last sample).
    """
    import psutil

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, **{"cwd": ROOT, **kw})
        ps = psutil.Process(proc.pid)
        samples, hwm = [], None
        while proc.poll() is None:
            if timeout is not None and time.perf_counter() - t0 > timeout:
                proc.kill()
                proc.wait()
                raise TimeoutError(f"{cmd[:4]} ran over {timeout} s")
            try:
                rss = sum(p.memory_info().rss for p in [ps, *ps.children(recursive=True)])
                samples.append((round(time.perf_counter() - t0, 2), round(rss / 1e6, 1)))
                hwm = _hwm_mb(proc.pid) or hwm
            except psutil.Error:
                pass
            time.sleep(interval)
        seconds = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        return {"returncode": proc.returncode, "stdout": out.read().decode(errors="replace"),
                "stderr": err.read().decode(errors="replace"), "seconds": seconds, "samples": samples,
                "peak_mb": max((m for _, m in samples), default=None), "hwm_mb": hwm}


def rss_slope(samples: list[tuple[float, float]], skip: float = 1 / 3) -> float:
    """Least-squares slope of RSS in MB per minute over the samples after the first ``skip`` of the run (start-up,
    model loading). Flat memory gives ~0 whatever its level."""
    t = np.array([s[0] for s in samples], np.float64)
    m = np.array([s[1] for s in samples], np.float64)
    keep = t >= t[-1] * skip
    if keep.sum() < 3:
        raise ValueError(f"too few RSS samples to fit a slope ({int(keep.sum())})")
    return float(np.polyfit(t[keep] / 60.0, m[keep], 1)[0])


def rss_mb(pid: int | None = None) -> float:
    import psutil

    return psutil.Process(pid or os.getpid()).memory_info().rss / 1e6


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, **kw)
