"""Tracking benchmark: videolens bytetrack / ocsort / botsort / sort vs the `trackers` package's ByteTrack and
OC-SORT, same detections, with a development / test split.

- **Development (defaults were chosen here)**: MOT17 train, second halves (MOT17-02/04/05/09/10/11/13, frames
  n//2+2..n), YOLOX-X ablation detections, BoT-SORT's per-frame camera motion replayed through the trackers' own
  warp (no images here). ``bench/data/mot/README.md`` gives the sources.
- **Test (never tuned on)**: PETS09-S2L1 (../shared/data, the SORT repository's Faster R-CNN detections, 10 fps as
  the video file plays) and the other ten MOT15 train sequences with the same detector (bench/data/mot).
- Metrics: HOTA / DetA / AssA (TrackEval's algorithm, videolens.track.metrics), MOTA / IDF1 / ID switches
  (py-motmetrics, IoU 0.5); combined over sequences by summing (TrackEval's and motmetrics' "overall").
- Speed: updates per second with 50 moving objects (500 frames), interleaved.

    .venv/bin/python bench/track.py [--part pets,mot15,mot17,stride,speed]
"""

from __future__ import annotations

import argparse
import configparser
import gzip
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # a shared machine: spinning OpenMP threads starve the rest

import numpy as np

from _common import ROOT, SHARED, save, table

from videolens.core.detections import Detections
from videolens.io.reader import VideoReader
from videolens.track import create_tracker, mot_metrics, read_mot, track_sequence
from videolens.track.metrics import hota_counts, hota_from_counts, sum_counts

PETS = SHARED / "tracking" / "PETS09-S2L1"
SCALE = 0.625     # MOT15 coordinates are for 768x576; vtest.avi is 480x360
DATA = ROOT / "bench" / "data" / "mot"
DEV = ["MOT17-02", "MOT17-04", "MOT17-05", "MOT17-09", "MOT17-10", "MOT17-11", "MOT17-13"]
MOT15 = ["ADL-Rundle-6", "ADL-Rundle-8", "ETH-Bahnhof", "ETH-Pedcross2", "ETH-Sunnyday", "KITTI-13", "KITTI-17",
         "TUD-Campus", "TUD-Stadtmitte", "Venice-2"]
OURS = ["bytetrack", "ocsort", "botsort", "sort"]


class ReplayedMotion:
    """Stands in for CameraMotion: per-frame affines computed elsewhere (BoT-SORT's GMC files), by frame index."""

    def __init__(self, affines: dict[int, np.ndarray]):
        self.affines = affines

    def reset(self) -> None:
        pass

    def estimate(self, frame_index, boxes=None, box_size=None):
        return self.affines.get(int(frame_index))


def load_sequence(name: str) -> dict:
    """A bench/data/mot sequence: ground truth, detections, frame rate, length and camera motion (MOT17)."""
    folder = DATA / name
    info = configparser.ConfigParser()
    info.read(folder / "seqinfo.ini")
    motion = {}
    if (folder / "gmc.txt.gz").exists():
        with gzip.open(folder / "gmc.txt.gz", "rt") as f:
            for line in f:
                v = [float(x) for x in line.split(",")]
                motion[int(v[0]) - 1] = np.array(v[1:]).reshape(2, 3)
    return {"name": name, "gt": read_mot(folder / "gt" / "gt.txt.gz"), "det": read_mot(folder / "det" / "det.txt.gz"),
            "fps": float(info["Sequence"]["frameRate"]), "frames": int(info["Sequence"]["seqLength"]),
            "motion": motion}


def pets_sequence() -> dict:
    reader = VideoReader(PETS / "vtest.avi")
    return {"name": "PETS09-S2L1", "gt": read_mot(PETS / "gt" / "gt.txt", scale=SCALE),
            "det": read_mot(PETS / "det" / "det.txt", scale=SCALE), "fps": reader.fps, "frames": len(reader),
            "video": PETS / "vtest.avi", "motion": {}}


def run_ours(name: str, seq: dict, frames=None, **settings) -> dict[int, Detections]:
    """videolens tracker ``name`` over a sequence; with camera motion replayed (MOT17) or the video's frames."""
    tracker = create_tracker(name, frame_rate=seq["fps"], **settings)
    if seq["motion"] and getattr(tracker, "cmc", None) is not None:
        tracker.cmc = ReplayedMotion(seq["motion"])
        frames = range(seq["frames"])
    if frames is None:
        return track_sequence(tracker, seq["det"], seq["frames"])
    out = {}
    for f, image in zip(range(seq["frames"]), frames):
        d = seq["det"].get(f, Detections.empty(f)).copy()
        d.frame_index, d.track_ids[:] = f, -1
        out[f] = tracker.update(d, frame=image)
    return out


def video_frames(path):
    yield from VideoReader(path)


def run_reference(kind: str, seq: dict, fps: float | None = None) -> dict[int, Detections]:
    """The `trackers` package's ByteTrack or OC-SORT (its defaults, at ``fps`` or its own 30)."""
    import supervision as sv
    from trackers import ByteTrackTracker, OCSORTTracker

    cls = ByteTrackTracker if kind == "bytetrack" else OCSORTTracker
    tracker = cls(frame_rate=fps) if fps else cls()
    out = {}
    for f in range(seq["frames"]):
        d = seq["det"].get(f, Detections.empty(f))
        r = tracker.update(sv.Detections(xyxy=d.xyxy.astype(np.float32), confidence=d.scores.astype(np.float32),
                                         class_id=np.zeros(len(d), int)))
        keep = r.tracker_id >= 0 if r.tracker_id is not None else np.zeros(len(r), bool)
        out[f] = Detections(r.xyxy[keep], r.confidence[keep], None, None, r.tracker_id[keep], f)
    return out


def score(label: str, seqs: list[dict], runner) -> dict:
    """One row: a tracker over several sequences, combined (HOTA summed over detections, motmetrics overall)."""
    truth, found, counts, frames, seconds = {}, {}, [], 0, 0.0
    for seq in seqs:
        t = time.perf_counter()
        found[seq["name"]] = runner(seq)
        seconds += time.perf_counter() - t
        truth[seq["name"]] = seq["gt"]
        counts.append(hota_counts(seq["gt"], found[seq["name"]]))
        frames += seq["frames"]
    m = mot_metrics(truth, found) if len(seqs) > 1 else mot_metrics(seqs[0]["gt"], found[seqs[0]["name"]])
    h = hota_from_counts(sum_counts(counts))
    return {"tracker": label, "HOTA": round(h["HOTA"], 4), "DetA": round(h["DetA"], 4), "AssA": round(h["AssA"], 4),
            "MOTA": round(m["mota"], 4), "IDF1": round(m["idf1"], 4), "IDs": int(m["num_switches"]),
            "FP": int(m["num_false_positives"]), "FN": int(m["num_misses"]), "updates/s": round(frames / seconds)}


COLS = ["tracker", "HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDs", "FP", "FN", "updates/s"]


def compare(seqs: list[dict], fps_for_reference: bool = True, video: bool = False) -> list[dict]:
    """Every videolens tracker with its defaults, and the references (at the sequences' frame rate and at their
    own defaults)."""
    rows = [score(f"videolens {n}", seqs, lambda s, n=n: run_ours(n, s)) for n in OURS]
    if video:   # botsort with the real frames (its camera-motion estimate at work)
        rows.append(score("videolens botsort, given the video's frames", seqs,
                          lambda s: run_ours("botsort", s, video_frames(s["video"]))))
    for kind in ("bytetrack", "ocsort"):
        rows.append(score(f"trackers {kind} (frame rate given)", seqs,
                          lambda s, k=kind: run_reference(k, s, s["fps"])))
        rows.append(score(f"trackers {kind}, its defaults (30 fps)", seqs, lambda s, k=kind: run_reference(k, s)))
    return rows


def pets() -> list[dict]:
    return compare([pets_sequence()], video=True)


def mot15() -> list[dict]:
    return compare([load_sequence(n) for n in MOT15])


def mot17() -> list[dict]:
    seqs = [load_sequence(n) for n in DEV]
    rows = compare(seqs)
    rows.insert(3, score("videolens ocsort, camera motion on (cmc)", seqs,
                         lambda s: run_ours("ocsort", s, cmc="sparse")))
    return rows


def strides(max_stride: int = 5) -> list[dict]:
    fps = VideoReader(PETS / "vtest.avi").fps
    frames = len(VideoReader(PETS / "vtest.avi"))
    gt = read_mot(PETS / "gt" / "gt.txt", scale=SCALE)
    det = read_mot(PETS / "det" / "det.txt", scale=SCALE)
    rows = []
    for kind, dets in (("perfect (gt boxes)", gt), ("public", det)):
        for stride in range(1, max_stride + 1):
            sub = {f: d for f, d in gt.items() if f % stride == 0}
            m = mot_metrics(sub, track_sequence(create_tracker("bytetrack", frame_rate=fps), dets, frames, stride))
            rows.append({"detections": kind, "stride": stride, "updates": len(range(0, frames, stride)),
                         "MOTA": round(m["mota"], 4), "IDF1": round(m["idf1"], 4), "IDs": m["num_switches"],
                         "FP": m["num_false_positives"], "FN": m["num_misses"]})
    return rows


def speed(n_objects: int = 50, frames: int = 500) -> list[dict]:
    import supervision as sv
    from trackers import ByteTrackTracker, OCSORTTracker

    from _common import interleaved

    rng = np.random.default_rng(0)
    pos = rng.uniform(50, 1800, (n_objects, 2))
    vel = rng.normal(0, 2, (n_objects, 2))
    size = rng.uniform(30, 90, (n_objects, 2))
    dets = []
    for f in range(frames):
        p = pos + vel * f + rng.normal(0, 1, pos.shape)
        xyxy = np.concatenate([p - size / 2, p + size / 2], 1).astype(np.float32)
        dets.append((xyxy, rng.uniform(0.3, 1.0, n_objects).astype(np.float32)))

    def ours(name):
        tracker = create_tracker(name, frame_rate=30)

        def go():
            tracker.reset()
            for f, (b, s) in enumerate(dets):
                tracker.update(Detections(b, s, frame_index=f))
        return go

    def ref(cls):
        tracker = cls(frame_rate=30)

        def go():
            tracker.reset()
            for b, s in dets:
                tracker.update(sv.Detections(xyxy=b, confidence=s, class_id=np.zeros(len(b), int)))
        return go

    runs = {"videolens bytetrack": ours("bytetrack"), "videolens ocsort": ours("ocsort"),
            "trackers ByteTrack": ref(ByteTrackTracker), "trackers OC-SORT": ref(OCSORTTracker)}
    best = interleaved(runs, rounds=3)
    return [{"tracker": k, "objects": n_objects, "updates/s": round(frames / v)} for k, v in best.items()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", default="pets,mot15,mot17,stride,speed")
    parts = ap.parse_args().part.split(",")
    if not PETS.exists():
        sys.exit(f"{PETS} is missing: this benchmark needs ../shared/data")
    results = {}
    titles = {"pets": "TEST: PETS09-S2L1 (795 frames, 10 fps), Faster R-CNN detections",
              "mot15": "TEST: MOT15 train, the other 10 sequences, Faster R-CNN detections (SORT repository)",
              "mot17": "DEVELOPMENT: MOT17 train second halves, YOLOX-X ablation detections, camera motion replayed"}
    for part in ("pets", "mot15", "mot17"):
        if part in parts:
            results[part] = globals()[part]()
            print(f"\n{titles[part]}\n" + table(results[part], COLS), flush=True)
    if "stride" in parts:
        results["stride"] = strides()
        print("\nvideolens bytetrack at --stride N, PETS09 (scored on the frames it saw)\n"
              + table(results["stride"], ["detections", "stride", "updates", "MOTA", "IDF1", "IDs", "FP", "FN"]))
    if "speed" in parts:
        results["speed"] = speed()
        print("\nUpdates per second, 50 objects, 500 frames (best of 3, interleaved)\n"
              + table(results["speed"], ["tracker", "objects", "updates/s"]))
    path = save("track", results)
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
