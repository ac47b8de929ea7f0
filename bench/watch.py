"""`videolens watch` benchmark: live cameras over a real RTSP server, side by side with a bare PyAV loop.

The cameras are H.264 files served by GStreamer's gst-rtsp-server (the system python3, as in
tests/_rtsp_server.py) without re-encoding, paced at 25 fps; every client gets its own stream from the file's
start. Each measured run is a child process (so its CPU and memory are its own) that samples its CPU time and
RSS every second with psutil and, through ``Watcher``'s ``on_frame``, every analyzed frame's lag. The reference,
a bare PyAV loop decoding the same stream (the decode floor), runs right before and right after, in the same run.

Parts (each runnable on its own):

- ``camera``: one 1080p25 camera: (a) a yolo detect-train checkpoint and (b) ``people-hog`` on a busy ``objects``
  scene, then (c) an idle static 1080p scene behind the motion gate. Analyzed frames/s, drops, lag p50/p95/max
  (target p95 < 0.5 s), CPU, RSS over time; (c): CPU at most 1.2x the bare decode loop's.
- ``cameras``: N 720p cameras at 5 analyzed frames/s with the motion gate, N going up until the lag p95 passes
  1 s or the analysis misses more than 10 % of its frames (target: at least 4). Each camera's scene is busy
  (``objects``) ``--busy`` seconds of every ``--period``, idle the rest, the cameras staggered in time.
- ``ultralytics``: the same model (a yolo11n trained from scratch with Ultralytics on the same ``objects`` stills)
  through Ultralytics' own stream mode (``model.track(url, stream=True)``) and through videolens, on the same
  720p camera; Ultralytics lives in its own venv (``--ultra-python``), never in the project's.
- ``replay``: an M-minute file (an ``objects`` video looped by stream copy), watched without ``--realtime``: RSS
  over time (slope over the last two thirds) and the same line crossings and zone entries as ``videolens detect``
  with ``--line/--zone`` on the same file with the same detector (run right after it).

    .venv/bin/python bench/watch.py --part camera --minutes 1.5
    .venv/bin/python bench/watch.py --part cameras --minutes 1 --cameras 8
    .venv/bin/python bench/watch.py --part ultralytics --minutes 1 --ultra-python /work/ultra-venv/bin/python
    .venv/bin/python bench/watch.py --part replay --minutes 5

Generated media, models and runs are cached under bench/out/watch/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from _common import OUT, ROOT, save, table

W = OUT / "watch"
FPS = 25
SYSTEM_PYTHON = "/usr/bin/python3"
DEFAULT_MODEL = ROOT / "tests" / "data" / "yolo-objects.pt"     # videolens yolo n, 160 px (scripts/make_test_detector.py)
SRC_SIZE = (640, 360)           # the objects scene is rendered at this size, then scaled up to the camera's
KBPS = {1080: 4000, 720: 2000}  # a camera's usual H.264 main stream: VBR capped at this rate
STAMP_BLOCK, STAMP_BITS = 16, 16
SETTLE = 5.0                    # seconds after the first analyzed frame before CPU and RSS are measured

# One RTSP server process, one mount point per file: rtsp://127.0.0.1:PORT/cam0, /cam1... (no re-encoding).
SERVER = r"""
import sys
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer
Gst.init(None)
port, files = sys.argv[1], sys.argv[2:]
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
mounts = server.get_mount_points()
for i, path in enumerate(files):
    f = GstRtspServer.RTSPMediaFactory()
    f.set_launch(f'( filesrc location="{path}" ! qtdemux ! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 )')
    f.set_shared(False)
    mounts.add_factory(f"/cam{i}", f)
if server.attach(None) == 0:
    sys.exit(f"cannot listen on 127.0.0.1:{port}")
print("ready", flush=True)
GLib.MainLoop().run()
"""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ==== media =========================================================================================================

def objects_source(seconds: float = 60.0, seed: int = 7) -> Path:
    """A 640x360 ``objects`` video (shapes that move, enter and leave all the time), rendered once."""
    from videolens.datasets import make_dataset

    out = W / f"objects_src_{seed}_{int(seconds)}s"
    video = out / "videos" / "objects_0000.mp4"
    if not video.exists():
        log(f"generating the objects scene ({seconds:.0f} s at {SRC_SIZE[0]}x{SRC_SIZE[1]})")
        make_dataset("objects", out, seed=seed, num=1, frames=int(seconds * FPS), size=SRC_SIZE, images=0,
                     progress=False)
    return video


def stamp(img: np.ndarray, index: int) -> None:
    """The frame index as STAMP_BITS black/white blocks along the top-left corner (read back by read_stamp)."""
    for k in range(STAMP_BITS):
        img[:STAMP_BLOCK, k * STAMP_BLOCK:(k + 1) * STAMP_BLOCK] = 255 if (index >> k) & 1 else 0


def read_stamp(gray: np.ndarray) -> int:
    c = STAMP_BLOCK // 2
    return sum(1 << k for k in range(STAMP_BITS) if gray[c, k * STAMP_BLOCK + c] > 127)


def camera_pattern(height: int, busy: float, idle: float, stamped: bool = False) -> Path:
    """One period of a camera: ``busy`` seconds of the objects scene, then ``idle`` seconds of its last frame
    standing still (sensor noise only), scaled to ``height`` lines and encoded as a camera does: H.264 without
    B-frames, a keyframe every 2 s, VBR capped at KBPS."""
    import av
    import cv2

    from videolens.io.writer import VideoWriter

    w, h = round(height * 16 / 9), height
    name = f"pattern_{h}p_b{busy:g}_i{idle:g}{'_stamp' if stamped else ''}.mp4"
    path = W / name
    if path.exists():
        return path
    log(f"encoding {name}")
    W.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    noise = [rng.normal(0, 2.0, (h, w, 3)).astype(np.int16) for _ in range(7)]
    kbps = KBPS.get(h, 3000)
    vw = VideoWriter(path, fps=FPS, size=(w, h), crf=23, preset="veryfast")
    vw._v.options = {**vw._v.options, "x264-params": f"keyint={2 * FPS}:min-keyint={2 * FPS}:scenecut=0:bframes=0:"
                                                     f"vbv-maxrate={kbps}:vbv-bufsize={kbps}"}
    n_busy, n_idle = round(busy * FPS), round(idle * FPS)
    last = None
    src = objects_source(max(60.0, busy))
    with av.open(str(src)) as c:
        frames = c.decode(video=0)
        for i in range(n_busy + n_idle):
            if i < n_busy or last is None:
                last = cv2.resize(next(frames).to_ndarray(format="rgb24"), (w, h), interpolation=cv2.INTER_LINEAR)
            img = np.clip(last.astype(np.int16) + noise[i % len(noise)], 0, 255).astype(np.uint8)
            if stamped:
                stamp(img, i)
            vw.write(img)
    vw.close()
    return path


def loop_copy(src: Path, seconds: float, offset: float = 0.0, name: str | None = None) -> Path:
    """``src`` repeated until ``seconds`` long, by stream copy (no re-encoding), starting ``offset`` seconds in
    (rounded down to a keyframe; the copy wraps around): a long camera, or one staggered against the others."""
    import av

    period_frames = None
    dst = W / (name or f"{src.stem}_{int(seconds)}s_o{offset:g}.mp4")
    if dst.exists():
        return dst
    with av.open(str(src)) as inp:
        s = inp.streams.video[0]
        tb = s.time_base
        packets = [(bytes(p), p.pts, p.dts, p.is_keyframe) for p in inp.demux(s) if p.dts is not None and p.size]
        period_frames = len(packets)
        step = round(1 / (FPS * tb))
        period = period_frames * step
        keys = [k for k, p in enumerate(packets) if p[3]]
        start = max([k for k in keys if packets[k][1] - packets[0][1] <= offset / tb] or [0])
        base = packets[start][2]
        tmp = dst.with_suffix(".partial.mp4")
        with av.open(str(tmp), "w", format="mp4") as out:
            v = out.add_stream_from_template(s)
            n = int(np.ceil(seconds * FPS))
            k, loop = start, 0
            for _ in range(n):
                data, pts, dts, key = packets[k]
                p = av.Packet(data)
                p.pts, p.dts = pts - base + loop * period, dts - base + loop * period
                p.time_base, p.stream = tb, v
                p.is_keyframe = key
                out.mux(p)
                k += 1
                if k == len(packets):
                    k, loop = 0, loop + 1
    os.replace(tmp, dst)
    return dst


# ==== the RTSP server ==============================================================================================

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gst-rtsp-server with one mount per file, in a subprocess of the system python3."""

    def __init__(self, files: list[Path]):
        self.port = free_port()
        self.proc = subprocess.Popen([SYSTEM_PYTHON, "-c", SERVER, str(self.port), *map(str, files)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the RTSP server did not start (apt: gir1.2-gst-rtsp-server-1.0 python3-gst-1.0)")

    def url(self, i: int) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam{i}"

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Monitor(threading.Thread):
    """Samples the CPU time of some processes (and the machine's busy share) every second, in the driver."""

    def __init__(self, pids: list[int]):
        super().__init__(daemon=True)
        import psutil

        self.procs = [psutil.Process(p) for p in pids]
        self.samples: list[tuple[float, float, float]] = []     # (wall, our processes' cpu s, machine busy cpu s)
        self._halt = threading.Event()

    def run(self) -> None:
        import psutil

        while True:
            cpu = 0.0
            for p in self.procs:
                try:
                    t = p.cpu_times()
                    cpu += t.user + t.system
                except psutil.Error:
                    pass
            m = psutil.cpu_times()
            self.samples.append((time.time(), cpu, m.user + m.system + m.nice + getattr(m, "irq", 0)
                                 + getattr(m, "softirq", 0)))
            if self._halt.wait(1.0):
                break

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def window(self, t0: float, t1: float) -> dict:
        """CPU % (of one core) of the processes, and the whole machine's busy %, between t0 and t1."""
        s = [x for x in self.samples if t0 <= x[0] <= t1]
        if len(s) < 2:
            return {"cpu": None, "machine": None}
        dt = s[-1][0] - s[0][0]
        return {"cpu": round(100 * (s[-1][1] - s[0][1]) / dt, 1), "machine": round(100 * (s[-1][2] - s[0][2]) / dt, 1)}


# ==== the measured children =========================================================================================

class Sampler(threading.Thread):
    """This process's CPU seconds and RSS, every ``every`` seconds."""

    def __init__(self, every: float = 1.0):
        super().__init__(daemon=True)
        self.every, self.samples, self._halt = every, [], threading.Event()

    def run(self) -> None:
        import psutil

        p = psutil.Process()
        while True:
            t = p.cpu_times()
            self.samples.append((time.time(), t.user + t.system, p.memory_info().rss / 1e6))
            if self._halt.wait(self.every):
                break

    def stop(self) -> list:
        self._halt.set()
        self.join()
        return self.samples


def child_bare(spec: dict) -> dict:
    """The reference: PyAV decoding every frame of each stream (one thread per stream, FFmpeg's threads), opened
    with the options videolens uses, no conversion at all."""
    import av

    from videolens.live.sources import parse_source

    seconds, urls = spec["seconds"], spec["urls"]
    sampler = Sampler()
    sampler.start()
    stop = threading.Event()
    frames: list[list] = [[] for _ in urls]
    first: list[float] = []

    def read(k: int, url: str) -> None:
        src = parse_source(url)
        with av.open(src.url, options=dict(src.options), timeout=(10.0, 5.0)) as c:
            s = c.streams.video[0]
            s.thread_type = "AUTO"
            for packet in c.demux(s):
                if stop.is_set():
                    break
                for f in packet.decode():
                    now = time.time()
                    if not first:
                        first.append(now)
                    frames[k].append((now, float(f.time) if f.time is not None else len(frames[k]) / FPS))

    threads = [threading.Thread(target=read, args=(k, u), daemon=True) for k, u in enumerate(urls)]
    for t in threads:
        t.start()
    t0 = time.time()
    while not first and time.time() - t0 < 60:
        time.sleep(0.05)
    stop.wait(seconds)
    stop.set()
    end = time.time()
    for t in threads:
        t.join(10)
    return {"kind": "bare", "first": first[0] if first else None, "end": end, "samples": sampler.stop(),
            "streams": [{"frames": [(round(a, 4), round(b, 4)) for a, b in f]} for f in frames]}


def guard_hog() -> None:
    """Work around a crash of the library (reported, not fixed here): ``CameraWorker._warm_up`` runs the detector
    on a 64x64 black frame, and OpenCV's HOG ``detectMultiScale`` segfaults on a picture smaller than its 64x128
    window, so ``watch --objects people-hog`` dies before its first frame. A frame that small is padded to the
    window here (the warm-up still loads what the first frame needs: torchvision's NMS); camera frames are never
    that small, so what is measured is unchanged."""
    from videolens.detect.detectors import HogPeopleDetector

    detect = HogPeopleDetector._detect

    def _detect(self, frames):
        frames = [f if f.shape[0] >= 128 and f.shape[1] >= 64 else
                  np.pad(f, ((0, max(0, 128 - f.shape[0])), (0, max(0, 64 - f.shape[1])), (0, 0))) for f in frames]
        return detect(self, frames)

    HogPeopleDetector._detect = _detect


def child_watch(spec: dict) -> dict:
    """videolens: a Watcher on the cameras for ``seconds`` after its first analyzed frame."""
    from videolens.live.config import Camera
    from videolens.live.watch import Watcher

    if any(c.get("objects") == "people-hog" for c in spec["cameras"]):
        guard_hog()

    cams = [Camera(name=c["name"], url=c["url"], objects=c.get("objects"), fps=c.get("fps", 5.0),
                   motion_gate=c.get("gate", True), zones={k: tuple(map(tuple, v)) for k, v in c["zones"].items()},
                   lines={k: tuple(map(tuple, v)) for k, v in c["lines"].items()}) for c in spec["cameras"]]
    out = Path(spec["out"])
    shutil.rmtree(out, ignore_errors=True)
    sampler = Sampler()
    sampler.start()
    seconds = spec["seconds"]
    frames: dict[str, list] = {c.name: [] for c in cams}
    state = {"first": None}
    watcher = Watcher(cams, out, duration=120.0)     # until the first frame: then ``seconds`` more
    by_name: dict = {}

    def stop() -> None:
        watcher.duration = 0.0          # the run loop checks it every 0.2 s, then closes everything

    def on_frame(camera: str, index: int, t: float) -> None:
        now = time.time()
        w = by_name.get(camera)
        if w is None:
            w = by_name[camera] = next(x for x in watcher.workers if x.camera.name == camera)
        frame = w.last[0]
        frames[camera].append((round(now, 4), round(now - frame.wall, 4), round(t, 4), round(frame.wall, 4),
                               int(w.gate_open)))
        if state["first"] is None:
            state["first"] = now
            watcher.duration = None     # the 120 s were for the first frame only: the timer stops the run
            threading.Timer(seconds, stop).start()

    watcher.on_frame = on_frame
    reported: list = []         # status.json's own per-camera "cpu" figures, to check them against psutil's
    done = threading.Event()

    def read_status() -> None:
        while not done.wait(2.0):
            try:
                doc = json.loads((out / "status.json").read_text())
                reported.append([time.time(), {k: v.get("cpu") for k, v in doc["cameras"].items()}])
            except (OSError, ValueError, KeyError):
                pass

    threading.Thread(target=read_status, daemon=True).start()
    kinds: dict[str, int] = {}
    for e in watcher.run():
        key = e["kind"] + (f"/{e['direction']}" if e.get("direction") else "") + \
            (f"/{e['state']}" if e["state"] != "instant" else "")
        kinds[key] = kinds.get(key, 0) + 1
    end = time.time()
    done.set()
    status = watcher.status()["cameras"]
    samples = sampler.stop()
    logged: dict[str, int] = {}         # what events.jsonl holds (events published while stopping included)
    for line in (out / "events.jsonl").read_text().splitlines():
        k = json.loads(line)["kind"]
        logged[k] = logged.get(k, 0) + 1
    events_dir = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e6
    return {"kind": "watch", "first": state["first"], "end": end, "samples": samples, "frames": frames,
            "status": status, "events": kinds, "events_logged": logged, "output_mb": round(events_dir, 1),
            "status_cpu": reported}


def child_replay(spec: dict) -> dict:
    """videolens: a Watcher on a file, every frame analyzed (no --realtime); each line crossing and zone entry."""
    from videolens.live.config import Camera
    from videolens.live.watch import Watcher

    cam = Camera(name="replay", url=spec["file"], objects=spec["model"],
                 zones={"zone1": tuple(map(tuple, spec["zone"]))}, lines={"line1": tuple(map(tuple, spec["line"]))})
    out = Path(spec["out"])
    shutil.rmtree(out, ignore_errors=True)
    sampler = Sampler(2.0)
    sampler.start()
    kinds: dict[str, int] = {}
    crossings, entries = [], []
    t0 = time.time()
    for e in Watcher([cam], out).run():
        key = e["kind"] + (f"/{e['direction']}" if e.get("direction") else "")
        kinds[key] = kinds.get(key, 0) + 1
        if e["kind"] == "line_cross":
            crossings.append([e["track_id"], e["frame_start"], e["direction"]])
        elif e["kind"] == "zone_enter":
            entries.append([e["track_id"], e["frame_start"]])
    end = time.time()
    return {"kind": "replay", "first": t0, "end": end, "samples": sampler.stop(), "events": kinds,
            "crossings": crossings, "entries": entries,
            "status": json.loads((out / "status.json").read_text())["cameras"]}


# Ultralytics' stream mode, run by the Ultralytics venv's python (not the project's). Each result's frame index is
# read from the stamp in the picture; OpenCV's capture is wrapped to note when each frame was grabbed.
ULTRA_CHILD = r"""
import json, os, sys, threading, time
spec = json.loads(sys.argv[1])
os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "rtsp_transport;tcp"
import cv2, numpy as np, psutil
samples, stop, proc = [], threading.Event(), psutil.Process()
def sample():
    while True:
        t = proc.cpu_times()
        samples.append((time.time(), t.user + t.system, proc.memory_info().rss / 1e6))
        if stop.wait(1.0):
            break
threading.Thread(target=sample, daemon=True).start()
grabs = []
_VC = cv2.VideoCapture
class Capture:
    def __init__(self, *a, **k):
        self._c = _VC(*a, **k)
    def grab(self):
        ok = self._c.grab()
        if ok:
            grabs.append(time.time())
        return ok
    def read(self):
        ok, im = self._c.read()
        if ok:
            grabs.append(time.time())
        return ok, im
    def __getattr__(self, name):
        return getattr(self._c, name)
cv2.VideoCapture = Capture
from ultralytics import YOLO
B, N = spec["block"], spec["bits"]
def read_stamp(im):
    g = im[:B, :B * N].mean(axis=2)
    c = B // 2
    return sum(1 << k for k in range(N) if g[c, k * B + c] > 127)
model = YOLO(spec["model"], task="detect")
model.predict(np.zeros((spec["imgsz"], spec["imgsz"], 3), np.uint8), imgsz=spec["imgsz"], verbose=False)
results, first = [], None
for r in model.track(source=spec["url"], stream=True, vid_stride=spec["vid_stride"], imgsz=spec["imgsz"],
                     conf=spec["conf"], tracker="bytetrack.yaml", persist=True, verbose=False):
    now = time.time()
    results.append((round(now, 4), read_stamp(r.orig_img), len(r.boxes)))
    if first is None:
        first = now
    if now - first >= spec["seconds"]:
        break
end = time.time()
stop.set()
time.sleep(0.05)
print(json.dumps({"kind": "ultralytics", "first": first, "end": end, "samples": samples, "results": results,
                  "grabs": [round(g, 4) for g in grabs]}), flush=True)
os._exit(0)
"""


def run_child(spec: dict, python: str | None = None, timeout: float | None = None) -> dict:
    if spec["kind"] == "ultralytics":
        cmd = [python, "-c", ULTRA_CHILD, json.dumps(spec)]
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    env = {**os.environ, **spec.get("env", {})}
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout, env=env, check=False)
    if p.returncode != 0:
        raise RuntimeError(f"child {spec['kind']} failed ({p.returncode}): {p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


# ==== statistics ===================================================================================================

def pct(values, q) -> float | None:
    return round(float(np.percentile(values, q)), 3) if len(values) else None


def cpu_rss(res: dict, settle: float = SETTLE) -> dict:
    """CPU % (of one core) from ``settle`` s after the first frame to the end; RSS at the start of that window,
    at the end, its max, and its slope (MB/min) over the last two thirds of the run."""
    s = np.asarray(res["samples"], float)
    if res.get("first") is None or len(s) < 3:
        return {}
    t0 = res["first"] + settle
    w = s[(s[:, 0] >= t0) & (s[:, 0] <= res["end"] + 1)]
    if len(w) < 3:
        w = s[s[:, 0] >= res["first"]]
    dt = w[-1, 0] - w[0, 0]
    third = w[w[:, 0] >= w[0, 0] + dt / 3]
    slope = float(np.polyfit((third[:, 0] - third[0, 0]) / 60, third[:, 2], 1)[0]) if len(third) >= 3 else None
    return {"cpu": round(100 * (w[-1, 1] - w[0, 1]) / dt, 1) if dt > 0 else None, "window_s": round(dt, 1),
            "rss_start_mb": round(w[0, 2], 1), "rss_end_mb": round(w[-1, 2], 1), "rss_max_mb": round(w[:, 2].max(), 1),
            "rss_slope_mb_per_min": None if slope is None else round(slope, 2),
            "rss_curve": [[round(x[0] - res["first"], 1), round(x[2], 1)] for x in w[:: max(1, len(w) // 12)]],
            "rss_steps": rss_steps(w, res["first"])}


def rss_steps(w: np.ndarray, first: float, rise_mb: float = 4.0, within_s: float = 10.0) -> list:
    """Where RSS rose by more than ``rise_mb`` within ``within_s`` seconds: [seconds after the first frame, MB],
    so that a step can be told from a steady rise and placed against the run's events."""
    out, i = [], 0
    while i < len(w):
        j = int(np.searchsorted(w[:, 0], w[i, 0] + within_s, side="right")) - 1
        if j > i and w[j, 2] - w[i, 2] > rise_mb:
            out.append([round(w[i, 0] - first, 1), round(float(w[j, 2] - w[i, 2]), 1)])
            i = j
        i += 1
    return out


def bare_stats(res: dict) -> dict:
    """Decoded frames/s per stream and its stream lag: now minus when the stream clock says the frame was due."""
    out = []
    for st in res["streams"]:
        f = np.asarray(st["frames"], float).reshape(-1, 2)
        if not len(f):
            out.append({"fps": 0})
            continue
        lag = f[:, 0] - f[:, 1]
        lag -= lag.min()
        span = f[-1, 0] - f[0, 0]
        out.append({"frames": len(f), "fps": round((len(f) - 1) / span, 2) if span > 0 else None,
                    "stream_lag_p95": pct(lag, 95), "stream_lag_max": pct(lag, 100)})
    return {**cpu_rss(res), "streams": out}


def watch_stats(res: dict, fps: float) -> dict:
    """Per camera: analyzed frames/s, lag as videolens reports it (now minus when the frame was read) and as the
    stream's clock says (now minus when the camera sent it: it also counts a reader that falls behind), drops."""
    cams = {}
    for name, rows in res["frames"].items():
        f = np.asarray(rows, float).reshape(-1, 5)
        st = res["status"][name]
        if not len(f):
            cams[name] = {"analyzed": 0, "status": st}
            continue
        span = res["end"] - f[0, 0]
        lag = f[:, 1]
        stream_lag = f[:, 0] - f[:, 2]
        stream_lag -= (f[:, 3] - f[:, 2]).min()          # the earliest a frame was read, on the stream's clock
        late = f[:, 0] >= f[0, 0] + 10
        wanted = min(fps, FPS) * span
        cams[name] = {"analyzed": len(f), "fps": round(len(f) / span, 2),
                      "miss_pct": round(max(0.0, 100 * (1 - len(f) / wanted)), 1),
                      "frames_in": st["frames_in"], "decoded_fps": round(st["frames_in"] / span, 2),
                      "reader_dropped_pct": round(100 * st["frames_dropped"] / max(1, st["frames_in"]), 1),
                      "lag_p50": pct(lag, 50), "lag_p95": pct(lag, 95), "lag_max": pct(lag, 100),
                      "stream_lag_p50": pct(stream_lag, 50), "stream_lag_p95": pct(stream_lag, 95),
                      "stream_lag_max": pct(stream_lag, 100),
                      "stream_lag_max_after_10s": pct(stream_lag[late], 100) if late.any() else None,
                      "gate_open_pct": round(100 * f[:, 4].mean(), 1),
                      "lag_first_vs_last_third": _thirds(f[:, 0], stream_lag)}
    rep = [sum(v for v in c.values() if v is not None) for t, c in res.get("status_cpu", [])
           if res["first"] + SETTLE <= t <= res["end"]]
    return {**cpu_rss(res), "cameras": cams, "events": res.get("events"), "events_logged": res.get("events_logged"),
            "output_mb": res.get("output_mb"), "status_cpu_mean": round(float(np.mean(rep)), 1) if rep else None}


def _thirds(t, v) -> list | None:
    """Median of ``v`` over the first and the last third of the run: a lag that grows shows here."""
    if len(t) < 6:
        return None
    a, b = t[0] + (t[-1] - t[0]) / 3, t[-1] - (t[-1] - t[0]) / 3
    return [round(float(np.median(v[t <= a])), 3), round(float(np.median(v[t >= b])), 3)]


def merge_cams(cams: dict, keys) -> dict:
    """Across cameras: the worst lag and miss figures, the slowest decoding, the mean of the rest."""
    vals = list(cams.values())
    out = {}
    for k in keys:
        xs = [v.get(k) for v in vals if v.get(k) is not None]
        if not xs:
            continue
        if "lag" in k or "miss" in k:
            out[k] = round(max(xs), 3)
        elif "decoded" in k:
            out[k] = round(min(xs), 2)
        else:
            out[k] = round(float(np.mean(xs)), 2)
    return out


# ==== part 1: one 1080p camera ======================================================================================

def scaled_rules(w: int, h: int) -> tuple[dict, dict]:
    """The live tests' zone (left half) and line (vertical, mid-frame), scaled from 320x240 to w x h."""
    sx, sy = w / 320, h / 240
    zone = [[0, 0], [160 * sx, 0], [160 * sx, 240 * sy], [0, 240 * sy]]
    line = [[160 * sx, 0], [160 * sx, 240 * sy]]
    return {"zone1": zone}, {"line1": line}


def camera_spec(url: str, name: str, objects: str | None, size, fps: float = 5.0, gate: bool = True) -> dict:
    zones, lines = scaled_rules(*size)
    return {"name": name, "url": url, "objects": objects, "fps": fps, "gate": gate, "zones": zones, "lines": lines}


def chosen(plan: list, args) -> list:
    """The runs of ``plan`` that ``--only`` keeps and ``--skip`` does not leave out (label substrings)."""
    if args.only:
        plan = [p for p in plan if any(o in p[0] for o in args.only.split(","))]
    if args.skip:
        plan = [p for p in plan if not any(o in p[0] for o in args.skip.split(","))]
    return plan


def part_camera(args) -> dict:
    seconds = args.minutes * 60
    length = seconds + 180
    busy = loop_copy(camera_pattern(1080, 60, 0), length)
    idle = loop_copy(camera_pattern(1080, 0, 60), length)
    model = str(args.model)
    runs = W / "runs"
    results: dict = {"load_before": load(), "model": model, "minutes": args.minutes, "ref_seconds": args.ref_seconds}
    log(f"part camera: load {results['load_before']}")
    with Server([busy, idle]) as srv:
        mon = Monitor([srv.proc.pid])
        mon.start()
        plan = [("bare busy", {"kind": "bare", "urls": [srv.url(0)], "seconds": args.ref_seconds})]
        plan += [("videolens yolo", {"kind": "watch", "seconds": seconds, "out": str(runs / "cam_yolo"),
                                     "cameras": [camera_spec(srv.url(0), "cam1080", model, (1920, 1080))]}),
                 ("bare busy", {"kind": "bare", "urls": [srv.url(0)], "seconds": args.ref_seconds}),
                 ("videolens yolo, OMP_WAIT_POLICY=PASSIVE",
                  {"kind": "watch", "seconds": seconds, "out": str(runs / "cam_yolo_passive"),
                   "env": {"OMP_WAIT_POLICY": "PASSIVE"},
                   "cameras": [camera_spec(srv.url(0), "cam1080", model, (1920, 1080))]}),
                 ("videolens people-hog", {"kind": "watch", "seconds": seconds, "out": str(runs / "cam_hog"),
                                           "cameras": [camera_spec(srv.url(0), "cam1080", "people-hog",
                                                                   (1920, 1080))]}),
                 ("bare busy", {"kind": "bare", "urls": [srv.url(0)], "seconds": args.ref_seconds}),
                 ("bare idle", {"kind": "bare", "urls": [srv.url(1)], "seconds": args.ref_seconds}),
                 ("videolens idle (gate, yolo)", {"kind": "watch", "seconds": seconds, "out": str(runs / "cam_idle"),
                                                  "cameras": [camera_spec(srv.url(1), "cam1080", model,
                                                                          (1920, 1080))]}),
                 ("bare idle", {"kind": "bare", "urls": [srv.url(1)], "seconds": args.ref_seconds})]
        plan = chosen(plan, args)
        rows, raw = [], []
        for label, spec in plan:
            log(f"  {label} ({spec['seconds']:.0f} s), load {load()}")
            res = run_child(spec)
            st = bare_stats(res) if spec["kind"] == "bare" else watch_stats(res, 5.0)
            server = mon.window(res["first"] + SETTLE, res["end"]) if res.get("first") else {}
            raw.append({"label": label, "stats": st, "server": server})
            row = {"run": label, "cpu %": st.get("cpu"), "machine busy %": server.get("machine"),
                   "server cpu %": server.get("cpu"), "rss MB start/end": f"{st.get('rss_start_mb')}/"
                                                                         f"{st.get('rss_end_mb')}",
                   "rss slope MB/min": st.get("rss_slope_mb_per_min"), "s": st.get("window_s")}
            if spec["kind"] == "bare":
                s0 = st["streams"][0]
                row.update({"fps": s0.get("fps"), "stream lag p95": s0.get("stream_lag_p95"),
                            "stream lag max": s0.get("stream_lag_max")})
            else:
                c = st["cameras"]["cam1080"]
                row.update({"fps": c.get("fps"), "decoded fps": c.get("decoded_fps"), "miss %": c.get("miss_pct"),
                            "lag p50/p95/max": f"{c.get('lag_p50')}/{c.get('lag_p95')}/{c.get('lag_max')}",
                            "stream lag p50/p95/max": f"{c.get('stream_lag_p50')}/{c.get('stream_lag_p95')}/"
                                                      f"{c.get('stream_lag_max')}",
                            "gate open %": c.get("gate_open_pct"), "status.json cpu %": st.get("status_cpu_mean"),
                            "events": ", ".join(f"{k} {v}" for k, v in sorted((st.get("events_logged") or {}).items()))})
            rows.append(row)
            print(table([row], list(row)), flush=True)
        mon.stop()
    for r in rows:          # CPU against the mean of the bare decode runs of the same scene
        scene = "idle" if "idle" in r["run"] else "busy"
        ref = [x["cpu %"] for x in rows if x["run"] == f"bare {scene}" and x["cpu %"]]
        if r["run"].startswith("videolens") and ref and r["cpu %"]:
            r["cpu vs bare"] = round(r["cpu %"] / float(np.mean(ref)), 2)
            results[f"cpu_ratio {r['run']} / bare {scene}"] = r["cpu vs bare"]
    results.update({"rows": rows, "raw": raw, "load_after": load()})
    print(table(rows, ["run", "fps", "decoded fps", "miss %", "lag p50/p95/max", "stream lag p50/p95/max",
                       "stream lag p95", "gate open %", "cpu %", "cpu vs bare", "status.json cpu %", "server cpu %",
                       "machine busy %", "rss MB start/end",
                       "rss slope MB/min", "events", "s"]))
    for k, v in results.items():
        if k.startswith("cpu_ratio"):
            print(f"{k}: {v}")
    return results


# ==== part 2: N 720p cameras ========================================================================================

def part_cameras(args) -> dict:
    seconds = args.minutes * 60
    length = seconds + 180
    pattern = camera_pattern(720, args.busy, args.period - args.busy)
    model = str(args.model)
    steps = sorted({n for n in (1, 2, 4, 6, 8, 10, 12, 16) if n <= args.cameras} | {args.cameras})
    if args.cameras_list:
        steps = [int(x) for x in args.cameras_list.split(",")]
    results: dict = {"load_before": load(), "model": model, "busy": args.busy, "period": args.period,
                     "minutes": args.minutes, "max_lag_p95": args.max_lag, "max_miss_pct": args.max_miss, "steps": []}
    log(f"part cameras: steps {steps}, load {results['load_before']}")
    rows = []
    passed, failed = [], []
    tried = set()
    queue = list(steps)
    while queue:
        n = queue.pop(0)
        if n in tried:
            continue
        tried.add(n)
        # Camera k starts k/n of a period in: their busy spells are staggered, as real cameras' are.
        files = [loop_copy(pattern, length, offset=(k * args.period / n) // 2 * 2) for k in range(n)]
        with Server(files) as srv:
            mon = Monitor([srv.proc.pid])
            mon.start()
            log(f"  {n} cameras: bare decode ({args.ref_seconds:.0f} s), load {load()}")
            bare = run_child({"kind": "bare", "urls": [srv.url(k) for k in range(n)], "seconds": args.ref_seconds})
            bst = bare_stats(bare)
            bsrv = mon.window(bare["first"] + SETTLE, bare["end"])
            log(f"  {n} cameras: videolens ({seconds:.0f} s), load {load()}")
            cams = [camera_spec(srv.url(k), f"cam{k}", model, (1280, 720)) for k in range(n)]
            res = run_child({"kind": "watch", "seconds": seconds, "out": str(W / "runs" / f"cams_{n}"),
                             "cameras": cams})
            st = watch_stats(res, 5.0)
            vsrv = mon.window(res["first"] + SETTLE, res["end"])
            mon.stop()
        m = merge_cams(st["cameras"], ["fps", "decoded_fps", "miss_pct", "lag_p50", "lag_p95", "lag_max",
                                       "stream_lag_p50", "stream_lag_p95", "stream_lag_max", "gate_open_pct"])
        ok = bool(m.get("stream_lag_p95", 99) < args.max_lag and m.get("miss_pct", 100) <= args.max_miss
                  and m.get("decoded_fps", 0) >= 0.95 * FPS)
        row = {"cameras": n, "ok": ok, "fps/cam": m.get("fps"), "miss % (worst)": m.get("miss_pct"),
               "decoded fps/cam": m.get("decoded_fps"), "gate open %": m.get("gate_open_pct"),
               "lag p50/p95/max (worst cam)": f"{m.get('lag_p50')}/{m.get('lag_p95')}/{m.get('lag_max')}",
               "stream lag p50/p95/max": f"{m.get('stream_lag_p50')}/{m.get('stream_lag_p95')}/"
                                         f"{m.get('stream_lag_max')}",
               "cpu %": st.get("cpu"), "bare decode cpu %": bst.get("cpu"),
               "bare fps/cam": round(float(np.mean([s.get("fps") or 0 for s in bst["streams"]])), 1),
               "server cpu %": vsrv.get("cpu"), "server cpu % (bare)": bsrv.get("cpu"),
               "machine busy %": vsrv.get("machine"), "rss MB start/end": f"{st.get('rss_start_mb')}/"
                                                                           f"{st.get('rss_end_mb')}",
               "events": sum((st.get("events") or {}).values()), "load": load()}
        rows.append(row)
        results["steps"].append({"cameras": n, "ok": ok, "watch": st, "bare": bst, "server": vsrv,
                                 "server_bare": bsrv})
        print(table([row], list(row)), flush=True)
        (passed if ok else failed).append(n)
        if not ok and not args.all_steps:
            lower = max([p for p in passed if p < n] or [0])
            queue = [x for x in range(lower + 1, n) if x not in tried][-1:]   # one step below the first failure
            if not queue:
                break
    results.update({"rows": rows, "fit": max(passed or [0]), "first_fail": min(failed) if failed else None,
                    "load_after": load()})
    print(table(rows, list(rows[0])))
    print(f"cameras that fit: {results['fit']} (first failure: {results['first_fail']})")
    return results


# ==== part 3: Ultralytics' stream mode ==============================================================================

def yolo_format(train_json: Path, dest: Path) -> Path:
    """The objects stills as an Ultralytics dataset (images/ + labels/ with class cx cy w h), a data.yaml."""
    coco = json.loads(train_json.read_text())
    if (dest / "data.yaml").exists():
        return dest / "data.yaml"
    ids = sorted(c["id"] for c in coco["categories"])
    names = {c["id"]: c["name"] for c in coco["categories"]}
    images = sorted(coco["images"], key=lambda i: i["id"])
    rng = np.random.default_rng(0)
    val = set(rng.choice([i["id"] for i in images], size=max(1, len(images) // 10), replace=False).tolist())
    by_img: dict = {}
    for a in coco["annotations"]:
        by_img.setdefault(a["image_id"], []).append(a)
    for split in ("train", "val"):
        (dest / split / "images").mkdir(parents=True, exist_ok=True)
        (dest / split / "labels").mkdir(parents=True, exist_ok=True)
    for im in images:
        split = "val" if im["id"] in val else "train"
        src = train_json.parent / im["file_name"]
        link = dest / split / "images" / Path(im["file_name"]).name
        if not link.exists():
            link.symlink_to(src)
        lines = []
        for a in by_img.get(im["id"], []):
            x, y, w, h = a["bbox"]
            lines.append(f"{ids.index(a['category_id'])} {(x + w / 2) / im['width']:.6f} "
                         f"{(y + h / 2) / im['height']:.6f} {w / im['width']:.6f} {h / im['height']:.6f}")
        (dest / split / "labels" / (link.stem + ".txt")).write_text("\n".join(lines) + "\n")
    (dest / "data.yaml").write_text(f"path: {dest}\ntrain: train/images\nval: val/images\nnames:\n"
                                    + "".join(f"  {k}: {names[i]}\n" for k, i in enumerate(ids)))
    return dest / "data.yaml"


ULTRA_TRAIN = r"""
import sys
from ultralytics import YOLO
data, project, epochs, imgsz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
model = YOLO("yolo11n.yaml")
model.train(data=data, epochs=epochs, imgsz=imgsz, batch=16, workers=0, device="cpu", project=project, name="run",
            exist_ok=True, pretrained=False, amp=False, plots=False, seed=0, deterministic=True, verbose=False)
best = YOLO(f"{project}/run/weights/best.pt")
print("map50", best.val(data=data, imgsz=imgsz, batch=16, workers=0, device="cpu", plots=False, verbose=False).box.map50)
best.export(format="onnx", imgsz=imgsz, simplify=False, dynamic=False)
"""


def ultra_model(args) -> tuple[Path, Path]:
    """yolo11n trained from scratch by Ultralytics on the objects stills that ``--train`` trains videolens's yolo on
    (600 stills, seed 11; a tenth held out), exported to ONNX by Ultralytics; cached."""

    dest = W / "ultra"
    pt, onnx = dest / "run" / "weights" / "best.pt", dest / "run" / "weights" / "best.onnx"
    if pt.exists() and onnx.exists():
        return pt, onnx
    data = objects_stills()
    yaml = yolo_format(data / "images" / "annotations.json", W / "ultra_data")
    log(f"training yolo11n with Ultralytics ({args.ultra_epochs} epochs, {args.ultra_imgsz} px)")
    env = {**os.environ, "YOLO_OFFLINE": "1", "YOLO_CONFIG_DIR": str(W / "ultra_cfg"), "OMP_NUM_THREADS": "1",
           "OMP_WAIT_POLICY": "PASSIVE"}     # training is not measured: one core, the other is the benchmark's
    p = subprocess.run([args.ultra_python, "-c", ULTRA_TRAIN, str(yaml), str(dest), str(args.ultra_epochs),
                        str(args.ultra_imgsz)], capture_output=True, text=True, cwd=W, env=env, check=False)
    (dest / "train.log").parent.mkdir(parents=True, exist_ok=True)
    (dest / "train.log").write_text(p.stdout + p.stderr)
    if p.returncode != 0 or not onnx.exists():
        raise RuntimeError(f"Ultralytics training failed: {(p.stdout + p.stderr)[-3000:]}")
    return pt, onnx


def ultra_stats(res: dict) -> dict:
    r = np.asarray(res["results"], float).reshape(-1, 3)
    g = np.asarray(res["grabs"], float)
    if not len(r):
        return {"analyzed": 0}
    idx = r[:, 1].astype(int)
    period = res.get("period_frames") or 0
    if period:          # the stamp counts frames of one period of the looped pattern: unwrap it
        loops, prev = 0, idx[0]
        for k in range(len(idx)):
            if idx[k] + loops * period < prev - period // 2:
                loops += 1
            idx[k] += loops * period
            prev = idx[k]
    anchor = float(np.min(g - np.arange(len(g)) / FPS)) if len(g) else float(np.min(r[:, 0] - idx / FPS))
    stream_lag = r[:, 0] - (anchor + idx / FPS)
    ok = (idx >= 0) & (idx < len(g))
    lag = r[ok, 0] - g[idx[ok]]      # now minus when the frame was grabbed (the definition videolens uses)
    span = res["end"] - r[0, 0]
    return {**cpu_rss(res), "analyzed": len(r), "fps": round(len(r) / span, 2), "decoded_fps": round(
        len([x for x in g if x >= r[0, 0]]) / span, 2), "lag_p50": pct(lag, 50), "lag_p95": pct(lag, 95),
        "lag_max": pct(lag, 100), "stream_lag_p50": pct(stream_lag, 50), "stream_lag_p95": pct(stream_lag, 95),
        "stream_lag_max": pct(stream_lag, 100), "boxes_per_frame": round(float(r[:, 2].mean()), 2),
        "lag_first_vs_last_third": _thirds(r[:, 0], stream_lag)}


def part_ultralytics(args) -> dict:
    results: dict = {"load_before": load(), "ultra_python": args.ultra_python}
    if not args.ultra_python or not Path(args.ultra_python).exists():
        results["error"] = f"no Ultralytics python at {args.ultra_python!r}"
        print(results["error"])
        return results
    probe = "import ultralytics, torch, cv2; print(ultralytics.__version__, torch.__version__, cv2.__version__)"
    pv = subprocess.run([args.ultra_python, "-c", probe], capture_output=True, text=True, check=False)
    if pv.returncode != 0:
        results["error"] = f"ultralytics does not import: {pv.stderr.strip().splitlines()[-1:]}"
        print(results["error"])
        return results
    results["versions"] = dict(zip(["ultralytics", "torch", "opencv"], pv.stdout.strip().splitlines()[-1].split()))
    pt, onnx = ultra_model(args)
    results["model"] = {"pt": str(pt), "onnx": str(onnx)}
    log_text = (W / "ultra" / "train.log").read_text() if (W / "ultra" / "train.log").exists() else ""
    results["model"]["map50"] = next((ln.split()[1] for ln in log_text.splitlines() if ln.startswith("map50")), None)
    seconds = args.minutes * 60
    cam = loop_copy(camera_pattern(720, 60, 0, stamped=True), seconds + 180)
    imgsz = args.ultra_imgsz
    vid_stride = max(1, round(FPS / args.fps))
    rows, raw = [], []
    with Server([cam]) as srv:
        mon = Monitor([srv.proc.pid])
        mon.start()
        url = srv.url(0)
        spec_u = {"kind": "ultralytics", "url": url, "seconds": seconds, "imgsz": imgsz, "conf": 0.25,
                  "vid_stride": vid_stride, "block": STAMP_BLOCK, "bits": STAMP_BITS}
        plan = [("bare PyAV decode", {"kind": "bare", "urls": [url], "seconds": args.ref_seconds}),
                (f"ultralytics track stream (.pt, vid_stride={vid_stride})", {**spec_u, "model": str(pt)}),
                (f"videolens watch (onnx:, fps {args.fps:g}, gate off)",
                 {"kind": "watch", "seconds": seconds, "out": str(W / "runs" / "ultra_vl_nogate"),
                  "cameras": [camera_spec(url, "cam720", f"onnx:{onnx}", (1280, 720), args.fps, gate=False)]}),
                (f"ultralytics track stream (.onnx, vid_stride={vid_stride})", {**spec_u, "model": str(onnx)}),
                (f"videolens watch (onnx:, fps {args.fps:g}, gate on)",
                 {"kind": "watch", "seconds": seconds, "out": str(W / "runs" / "ultra_vl_gate"),
                  "cameras": [camera_spec(url, "cam720", f"onnx:{onnx}", (1280, 720), args.fps, gate=True)]}),
                ("bare PyAV decode", {"kind": "bare", "urls": [url], "seconds": args.ref_seconds})]
        plan = chosen(plan, args)
        for label, spec in plan:
            log(f"  {label} ({spec['seconds']:.0f} s), load {load()}")
            res = run_child(spec, python=args.ultra_python)
            if spec["kind"] == "bare":
                st = bare_stats(res)
                st.update({k: st["streams"][0].get(k) for k in ("fps", "stream_lag_p95", "stream_lag_max")})
            elif spec["kind"] == "watch":
                w = watch_stats(res, args.fps)
                st = {**{k: v for k, v in w.items() if k != "cameras"}, **w["cameras"]["cam720"]}
            else:
                st = ultra_stats({**res, "period_frames": 60 * FPS})
            server = mon.window(res["first"] + SETTLE, res["end"]) if res.get("first") else {}
            raw.append({"label": label, "stats": st, "server": server})
            row = {"run": label, "fps": st.get("fps"), "decoded fps": st.get("decoded_fps"),
                   "lag p50/p95/max": f"{st.get('lag_p50')}/{st.get('lag_p95')}/{st.get('lag_max')}",
                   "stream lag p50/p95/max": f"{st.get('stream_lag_p50')}/{st.get('stream_lag_p95')}/"
                                             f"{st.get('stream_lag_max')}",
                   "cpu %": st.get("cpu"), "server cpu %": server.get("cpu"), "machine busy %": server.get("machine"),
                   "rss MB start/end": f"{st.get('rss_start_mb')}/{st.get('rss_end_mb')}", "s": st.get("window_s")}
            rows.append(row)
            print(table([row], list(row)), flush=True)
        mon.stop()
    results.update({"rows": rows, "raw": raw, "load_after": load()})
    print(table(rows, list(rows[0])))
    return results


# ==== part 4: replay ===============================================================================================

def looped_gt(gt: Path, frames: int, n: int, name: str) -> Path:
    """``gt.txt`` of a ``frames``-frame video, repeated for the ``n`` frames of its stream-copied loop (ids made
    unique per loop)."""
    dst = W / name
    if dst.exists():
        return dst
    rows = [r.split(",") for r in gt.read_text().split()]
    top = max(int(r[1]) for r in rows)
    with open(dst, "w") as f:
        for k in range(int(np.ceil(n / frames))):
            for r in rows:
                frame = int(r[0]) + k * frames
                if frame <= n:
                    f.write(",".join([str(frame), str(int(r[1]) + k * top), *r[2:]]) + "\n")
    return dst


def part_replay(args) -> dict:
    """An M-minute file watched frame by frame (no --realtime), then `videolens detect` on the same file with the
    same detector, for each detector: ``gt`` (the scene's true boxes replayed: many tracks, many events) and the
    yolo checkpoint."""
    import psutil

    from videolens.datasets import make_dataset

    src_dir = W / "replay_src"
    src = src_dir / "videos" / "objects_0000.mp4"
    if not src.exists():
        log("generating the replay scene (320x240, 60 s)")
        make_dataset("objects", src_dir, seed=21, num=1, frames=60 * FPS, images=0, progress=False)
    seconds = args.minutes * 60
    video = loop_copy(src, seconds, name=f"replay_{args.minutes:g}min.mp4")
    gt = looped_gt(src_dir / "videos" / "objects_0000" / "gt" / "gt.txt", 60 * FPS, round(seconds * FPS),
                   f"replay_{args.minutes:g}min_gt.txt")
    models = {"gt": f"replay:{gt}", "yolo": str(args.model)}
    zone = [[0, 0], [160, 0], [160, 240], [0, 240]]
    line = [[160, 0], [160, 240]]
    # Memory and events do not depend on it; on a loaded machine it keeps torch's spinning threads from making
    # both runs crawl (see the camera part's OMP_WAIT_POLICY row). Both runs get the same environment.
    env = {"OMP_WAIT_POLICY": "PASSIVE"} if args.passive else {}
    results: dict = {"load_before": load(), "file": str(video), "minutes": args.minutes, "env": env, "runs": {}}
    rows = []
    for key in args.replay_models.split(","):
        model = models[key]
        log(f"part replay ({key}): watch on {video.name}, load {load()}")
        res = run_child({"kind": "replay", "file": str(video), "model": model, "zone": zone, "line": line,
                         "out": str(W / "runs" / f"replay_watch_{key}"), "env": env})
        st = cpu_rss(res, settle=(res["end"] - res["first"]) / 10)
        st["seconds"] = round(res["end"] - res["first"], 1)
        st["fps"] = round(res["status"]["replay"]["frames_analyzed"] / st["seconds"], 1)
        watch = {**st, "events": res["events"], "status": res["status"]}
        log(f"part replay ({key}): videolens detect on the same file, load {load()}")
        out = W / "runs" / f"replay_detect_{key}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        cmd = [sys.executable, "-m", "videolens", "detect", str(video), "--model", model, "--tracker", "bytetrack",
               "--zone", ",".join(f"{x:g},{y:g}" for x, y in zone),
               "--line", ",".join(f"{x:g},{y:g}" for x, y in line), "--format", "csv", "-o", str(out), "--json",
               "--quiet", "--overwrite"]
        t0 = time.time()
        with open(out / "result.json", "w") as stdout:
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE, text=True,
                                    env={**os.environ, **env})
            ps, samples = psutil.Process(proc.pid), []
            while proc.poll() is None:
                try:
                    c = ps.cpu_times()
                    samples.append((time.time(), c.user + c.system, ps.memory_info().rss / 1e6))
                except psutil.Error:
                    pass
                time.sleep(2.0)
        if proc.returncode != 0:
            raise RuntimeError(f"detect failed: {proc.stderr.read()[-2000:]}")
        t1 = time.time()
        det = json.loads((out / "result.json").read_text())
        dst = {"seconds": round(t1 - t0, 1), "frames": det["frames_analyzed"],
               "fps": round(det["frames_analyzed"] / (t1 - t0), 1), "tracks": len(det["tracks"]),
               **cpu_rss({"samples": samples, "first": t0, "end": t1}, settle=(t1 - t0) / 10),
               "command": " ".join(cmd)}
        cmp = compare_events(res, det)
        results["runs"][key] = {"model": model, "watch": watch, "detect": dst, "compare": cmp}
        for name, r in (("videolens watch (file, every frame)", watch), ("videolens detect (same file)", dst)):
            rows.append({"detector": key, "run": name, "s": r["seconds"], "fps": r["fps"],
                         "rss MB start/end/max": f"{r.get('rss_start_mb')}/{r.get('rss_end_mb')}/{r.get('rss_max_mb')}",
                         "rss slope MB/min (last 2/3)": r.get("rss_slope_mb_per_min"),
                         "line in/out": "{}/{}".format(*(cmp["line_in"][0], cmp["line_out"][0]) if "watch" in name
                                                       else (cmp["line_in"][1], cmp["line_out"][1])),
                         "tracks entering zone": cmp["zone_tracks_entered"][0 if "watch" in name else 1],
                         "same events": cmp["same"]})
        print(table(rows[-2:], list(rows[-1])), flush=True)
        print(json.dumps(cmp), flush=True)
    results.update({"rows": rows, "load_after": load()})
    print(table(rows, list(rows[0])))
    return results


def compare_events(res: dict, det: dict) -> dict:
    """Line crossings (track, frame, direction) and zone entries (track, first frame): watch's events against
    ``videolens detect --json``'s counts, one by one."""
    line = det["counts"]["lines"][0]
    zone = det["counts"]["zones"][0]
    w_cross = {tuple(c) for c in res["crossings"]}
    d_cross = {(c["track_id"], c["frame"], c["direction"]) for c in line["crossings"]}
    first_entry: dict = {}
    for tid, frame in res["entries"]:
        first_entry[tid] = min(frame, first_entry.get(tid, frame))
    w_zone = set(first_entry.items())
    d_zone = {(d["track_id"], d["first_frame"]) for d in zone["dwell"]}
    return {"line_in": [res["events"].get("line_cross/in", 0), line["in"]],
            "line_out": [res["events"].get("line_cross/out", 0), line["out"]],
            "crossings_only_in_watch": sorted(w_cross - d_cross)[:20], "crossings_only_in_detect":
                sorted(d_cross - w_cross)[:20],
            "zone_tracks_entered": [len(w_zone), len(d_zone)], "zone_enter_events (re-entries included)":
                res["events"].get("zone_enter", 0),
            "zone_only_in_watch": sorted(w_zone - d_zone)[:20], "zone_only_in_detect": sorted(d_zone - w_zone)[:20],
            "same": w_cross == d_cross and w_zone == d_zone}


# ==== main ==========================================================================================================

def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=["camera", "cameras", "ultralytics", "replay"], required=False)
    p.add_argument("--minutes", type=float, default=1.5, help="length of each videolens run (replay: the file's)")
    p.add_argument("--ref-seconds", type=float, default=30.0, help="length of each bare PyAV decode run")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="yolo checkpoint (default: tests/data/yolo-objects.pt)")
    p.add_argument("--train", action="store_true", help="train a yolo n at 320 px with detect-train and use it")
    p.add_argument("--train-epochs", type=int, default=15)
    p.add_argument("--cameras", type=int, default=8, help="cameras part: the most cameras to try")
    p.add_argument("--cameras-list", help="cameras part: exactly these counts, e.g. 1,2,4")
    p.add_argument("--busy", type=float, default=20.0, help="cameras part: seconds of activity per period")
    p.add_argument("--period", type=float, default=60.0)
    p.add_argument("--max-lag", type=float, default=1.0, help="cameras part: stream lag p95 limit (s)")
    p.add_argument("--all-steps", action="store_true", help="cameras part: go on past the first failure")
    p.add_argument("--max-miss", type=float, default=10.0, help="cameras part: analyzed frames missed limit (%%)")
    p.add_argument("--fps", type=float, default=5.0, help="ultralytics part: analyzed frames/s")
    p.add_argument("--ultra-python", default="/work/ultra-venv/bin/python")
    p.add_argument("--ultra-epochs", type=int, default=20)
    p.add_argument("--ultra-imgsz", type=int, default=160)
    p.add_argument("--passive", action="store_true", help="replay part: OMP_WAIT_POLICY=PASSIVE for both runs")
    p.add_argument("--replay-models", default="gt,yolo", help="replay part: gt (true boxes replayed), yolo, or both")
    p.add_argument("--only", help="run only the runs whose label contains one of these (comma-separated)")
    p.add_argument("--skip", help="leave out the runs whose label contains one of these (comma-separated)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        spec = json.loads(args.child)
        fn = {"bare": child_bare, "watch": child_watch, "replay": child_replay}[spec["kind"]]
        print(json.dumps(fn(spec)), flush=True)
        return
    if not args.part:
        p.error("--part is required")
    # SIGTERM as an exception, so that the `with Server(...)` blocks stop the RTSP server: killed without it, the
    # benchmark left the server streaming to nobody.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    W.mkdir(parents=True, exist_ok=True)
    if args.train:
        args.model = str(train_yolo(args.train_epochs))
    t0 = time.time()
    res = {"camera": part_camera, "cameras": part_cameras, "ultralytics": part_ultralytics,
           "replay": part_replay}[args.part](args)
    res["wall_minutes"] = round((time.time() - t0) / 60, 1)
    path = save(f"watch_{args.part}", res)
    print(f"load before {res.get('load_before')}, after {res.get('load_after')}; wrote {path}")


def objects_stills() -> Path:
    """600 ``objects`` stills (seed 11) with COCO boxes: the training set of both trained models."""
    from videolens.datasets import make_dataset

    data = W / "objects_stills_600"
    if not (data / "images" / "annotations.json").exists():
        make_dataset("objects", data, seed=11, num=1, frames=2, images=600, progress=False)
    return data


def train_yolo(epochs: int) -> Path:
    """videolens's yolo n at 320 px, trained by detect-train on 600 objects stills (at most 20 CPU minutes);
    cached."""

    run = W / "yolo_n_320"
    if (run / "best.pt").exists():
        return run / "best.pt"
    data = objects_stills()
    log(f"training yolo n at 320 px ({epochs} epochs)")
    subprocess.run([sys.executable, "-m", "videolens", "detect-train", "--data",
                    str(data / "images" / "annotations.json"), "--model", "yolo", "--scale", "n", "--imgsz", "320",
                    "--epochs", str(epochs), "--batch-size", "16", "--cpu-minutes", "20", "-o", str(run), "--overwrite",
                    "--quiet"],
                   cwd=ROOT, check=True)
    return run / "best.pt"


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main()
