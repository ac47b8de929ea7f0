"""Tracking benchmark: videolens ByteTrack / SORT vs the `trackers` package's ByteTrack, same detections.

1. PETS09-S2L1 (MOT15) under the public-detection protocol: every tracker gets the standard det.txt boxes,
   metrics (MOTA, IDF1, ID switches, FP, FN) come from motmetrics against gt.txt (IoU >= 0.5).
   Trackers run with the video's frame rate (10 fps; PETS09 was filmed at 7 fps, the file here plays at 10);
   the reference also runs with its own defaults (30 fps) for completeness.
2. ``--stride``: every N-th frame only (N = 1..5), videolens bytetrack with the ground-truth boxes as detections
   (perfect detections: every id switch is the tracker's) and with the public detections; scored on those frames.
3. Updates per second with 50 moving objects (500 frames), both trackers on the same boxes.

    .venv/bin/python bench/track.py
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # a shared machine: spinning OpenMP threads starve the rest

import numpy as np

from _common import SHARED, save, table

from videolens.core.detections import Detections
from videolens.io.reader import VideoReader
from videolens.track import create_tracker, mot_metrics, read_mot, track_sequence

PETS = SHARED / "tracking" / "PETS09-S2L1"
SCALE = 0.625     # MOT15 coordinates are for 768x576; vtest.avi is 480x360


def run_reference(tracker, dets: dict, frames: int) -> dict:
    import supervision as sv

    out = {}
    for f in range(frames):
        d = dets.get(f, Detections.empty(f))
        r = tracker.update(sv.Detections(xyxy=d.xyxy.astype(np.float32), confidence=d.scores.astype(np.float32),
                                         class_id=np.zeros(len(d), int)))
        keep = r.tracker_id >= 0 if r.tracker_id is not None else np.zeros(len(r), bool)
        out[f] = Detections(r.xyxy[keep], r.confidence[keep], None, None, r.tracker_id[keep], f)
    return out


def pets() -> list[dict]:
    from trackers import ByteTrackTracker

    fps = VideoReader(PETS / "vtest.avi").fps
    frames = len(VideoReader(PETS / "vtest.avi"))
    gt = read_mot(PETS / "gt" / "gt.txt", scale=SCALE)
    det = read_mot(PETS / "det" / "det.txt", scale=SCALE)
    runs = {
        "videolens bytetrack": lambda: track_sequence(create_tracker("bytetrack", frame_rate=fps), det, frames),
        "videolens bytetrack smooth=True": lambda: track_sequence(create_tracker("bytetrack", frame_rate=fps,
                                                                           smooth=True), det, frames),
        "videolens sort": lambda: track_sequence(create_tracker("sort", frame_rate=fps), det, frames),
        "trackers ByteTrack (reference)": lambda: run_reference(ByteTrackTracker(frame_rate=fps), det, frames),
        "trackers ByteTrack, its defaults (30 fps)": lambda: run_reference(ByteTrackTracker(), det, frames),
        "videolens bytetrack, frame_rate=30 (as the reference's defaults)":
            lambda: track_sequence(create_tracker("bytetrack", frame_rate=30), det, frames),
        # The reference's defaults keep a lost track 30 frames (3 s here); its frame_rate changes nothing else,
        # while ours also scales the Kalman velocity noise by it. The same lost-track time, at the file's rate:
        "videolens bytetrack, lost tracks kept 30 frames (the reference's default)":
            lambda: track_sequence(create_tracker("bytetrack", frame_rate=fps, track_buffer=round(30 * 30 / fps)),
                                   det, frames),
    }
    rows = []
    for name, fn in runs.items():
        t = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - t
        m = mot_metrics(gt, out)
        rows.append({"tracker": name, "MOTA": round(m["mota"], 4), "IDF1": round(m["idf1"], 4),
                     "IDs": m["num_switches"], "FP": m["num_false_positives"], "FN": m["num_misses"],
                     "MT": m["mostly_tracked"], "ML": m["mostly_lost"], "updates/s": round(frames / seconds)})
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
    from trackers import ByteTrackTracker

    rng = np.random.default_rng(0)
    pos = rng.uniform(50, 1800, (n_objects, 2))
    vel = rng.normal(0, 2, (n_objects, 2))
    size = rng.uniform(30, 90, (n_objects, 2))
    dets = []
    for f in range(frames):
        p = pos + vel * f + rng.normal(0, 1, pos.shape)
        xyxy = np.concatenate([p - size / 2, p + size / 2], 1).astype(np.float32)
        dets.append((xyxy, rng.uniform(0.3, 1.0, n_objects).astype(np.float32)))
    ours = create_tracker("bytetrack", frame_rate=30)
    ref = ByteTrackTracker(frame_rate=30)

    def run_a():
        ours.reset()
        for f, (b, s) in enumerate(dets):
            ours.update(Detections(b, s, frame_index=f))

    def run_b():
        ref.reset()
        for b, s in dets:
            ref.update(sv.Detections(xyxy=b, confidence=s, class_id=np.zeros(len(b), int)))

    from _common import interleaved

    best = interleaved({"videolens": run_a, "trackers": run_b}, rounds=3)
    return [{"tracker": "videolens bytetrack", "objects": n_objects, "updates/s": round(frames / best["videolens"])},
            {"tracker": "trackers ByteTrack", "objects": n_objects, "updates/s": round(frames / best["trackers"])},
            {"tracker": "ratio videolens / trackers", "objects": n_objects,
             "updates/s": round(best["trackers"] / best["videolens"], 2)}]


def main() -> None:
    if not PETS.exists():
        sys.exit(f"{PETS} is missing: this benchmark needs ../shared/data")
    rows = pets()
    cols = ["tracker", "MOTA", "IDF1", "IDs", "FP", "FN", "MT", "ML", "updates/s"]
    print("PETS09-S2L1, MOT15 public detections, motmetrics (IoU 0.5)\n" + table(rows, cols))
    ours = rows[0]
    ref = rows[3]
    ours30, ref30 = rows[5], rows[4]
    verdict = {"mota_ge_reference": ours["MOTA"] >= ref["MOTA"], "idf1_ge_reference": ours["IDF1"] >= ref["IDF1"],
               "mota_ge_reference_30fps": ours30["MOTA"] >= ref30["MOTA"],
               "idf1_ge_reference_30fps": ours30["IDF1"] >= ref30["IDF1"]}
    print(f"\nvideolens bytetrack vs reference (same frame rate): MOTA {ours['MOTA']} vs {ref['MOTA']}, "
          f"IDF1 {ours['IDF1']} vs {ref['IDF1']}; both at 30 fps: MOTA {ours30['MOTA']} vs {ref30['MOTA']}, "
          f"IDF1 {ours30['IDF1']} vs {ref30['IDF1']} -> {verdict}")
    strows = strides()
    print("\nvideolens bytetrack at --stride N (scored on the frames it saw)\n"
          + table(strows, ["detections", "stride", "updates", "MOTA", "IDF1", "IDs", "FP", "FN"]))
    srows = speed()
    print("\nUpdates per second, 50 objects, 500 frames (best of 3, interleaved)\n"
          + table(srows, ["tracker", "objects", "updates/s"]))
    path = save("track", {"pets09": rows, "stride": strows, "speed": srows, "verdict": verdict})
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
