"""Tracking (bytetrack, sort) on real PETS09 detections with motmetrics, stride stability, counting lines/zones."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared
from videolens.detect import Detections, LineCounter, ZoneCounter
from videolens.track import create_tracker, mot_lines, mot_metrics, read_mot, track_sequence

PETS_SCALE = 0.625   # MOT15 PETS09-S2L1 coordinates are for 768x576; the file here is 480x360


def _pets(frames: int):
    root = shared("tracking", "PETS09-S2L1")
    gt = read_mot(root / "gt" / "gt.txt", scale=PETS_SCALE)
    det = read_mot(root / "det" / "det.txt", scale=PETS_SCALE)
    return ({f: d for f, d in gt.items() if f < frames}, {f: d for f, d in det.items() if f < frames})


def test_pets09_public_detections_with_motmetrics():
    gt, det = _pets(200)
    assert gt[0].xyxy.max() <= 480 and len(gt[0]) == 3    # MOT frame 1 -> index 0, scaled into 480x360
    results = {}
    for name in ("bytetrack", "sort"):
        out = track_sequence(create_tracker(name, frame_rate=10), det, 200)
        results[name] = mot_metrics(gt, out)
    bt, so = results["bytetrack"], results["sort"]
    # The public detections of this stretch are poor (recall ~0.66, precision ~0.74 after tracking): ByteTrack
    # gets MOTA 0.41, IDF1 0.52 (the `trackers` reference is on a par over the whole sequence, see BENCHMARKS.md);
    # a broken filter or matcher falls well below. ByteTrack beats SORT on it.
    assert bt["mota"] > 0.38 and bt["idf1"] > 0.43
    assert bt["mota"] >= so["mota"] and bt["idf1"] >= so["idf1"]
    assert bt["num_frames"] == 200


def _perfect(stride: int):
    # Up to frame 145: after it, two walkers are occluded ("ignore" rows) for longer than a track is kept.
    gt, _ = _pets(145)
    sub = {f: d for f, d in gt.items() if f % stride == 0}
    tracker = create_tracker("bytetrack", frame_rate=10)
    out = track_sequence(tracker, gt, 145, stride)
    return gt, tracker, out, mot_metrics(sub, out)


def test_perfect_detections_give_perfect_tracks():
    gt, tracker, out, m = _perfect(1)
    assert m["mota"] > 0.97 and m["num_switches"] == 0, m
    # Ids count 1, 2, 3... without gaps, and reset() starts them again.
    ids = sorted({i for d in out.values() for i in d.track_ids.tolist()})
    assert ids == list(range(1, len(ids) + 1))
    tracker.reset()
    assert tracker.update(gt[0].copy()).track_ids.tolist() == list(range(1, len(gt[0]) + 1))


def test_stride_keeps_new_tracks():
    # Every 3rd frame of 10 fps, walkers move up to half their width between looks: tentative tracks (no velocity
    # yet) still meet their object thanks to the buffered IoU (without it MOTA is 0.80).
    _, _, _, m = _perfect(3)
    assert m["mota"] > 0.87, m


def test_stable_ids_across_stride():
    # Fed every 3rd (4th) frame, the Kalman filter predicts over the real gap of 3 (4) frames with velocities per
    # frame. Measured: 0 id switches, MOTA 0.982 at stride 3 and 0.977 at stride 4. The bound allows one switch:
    # the walkers that cross here slow down and turn, and with the old one-step-per-update prediction (or without
    # the 10 fps velocity noise) there were 15 (7) switches at stride 3.
    for stride in (3, 4):
        _, _, _, m = _perfect(stride)
        assert m["num_switches"] <= 1 and m["mota"] > 0.97, (stride, m)


def test_kalman_predicts_over_the_gap():
    from videolens.track import KalmanXYAH

    kf = KalmanXYAH()
    mean, cov = kf.initiate(np.array([[100.0, 50.0, 0.4, 60.0], [20.0, 30.0, 0.5, 40.0]]), velocity_noise=3)
    mean[:, 4:6] = [[2.0, -1.0], [0.5, 0.0]]                 # px per frame; no height velocity
    m3, c3 = kf.predict(mean, cov, dt=3, velocity_noise=3)
    m1, c1 = mean, cov
    for _ in range(3):
        m1, c1 = kf.predict(m1, c1, velocity_noise=3)
    np.testing.assert_allclose(m3, m1, atol=1e-9)            # one 3-frame step == three 1-frame steps
    np.testing.assert_allclose(c3, c1, atol=1e-9)
    assert m3[0, :2].tolist() == [106.0, 47.0]


def test_gap_from_timestamps_without_frame_index():
    # A walker at 3 px per frame (25 fps), seen every 3rd frame with timestamps only: the filter learns 3 px per
    # frame, not 9 per update.
    tracker = create_tracker("bytetrack", frame_rate=25)
    for k in range(6):
        x = 10 + 9 * k
        tracker.update(Detections([[x, 10, x + 20, 60]], [0.9], timestamp=3 * k / 25))
    (t,) = tracker.active_tracks()
    assert tracker.frame == pytest.approx(15) and t.mean[4] == pytest.approx(3.0, abs=0.3)


def test_sort_confirms_after_min_hits_and_mot_lines_are_one_based():
    tracker = create_tracker("sort", min_hits=3)
    shown = []
    for f in range(6):
        box = [[10 + f, 20, 50 + f, 100]]
        out = tracker.update(Detections(box, [0.9], frame_index=f, timestamp=f / 25))
        shown.append(out.track_ids.tolist())
    # SORT shows tracks during its first min_hits frames, then only confirmed ones.
    assert shown == [[1]] * 6
    text = mot_lines([out])
    assert text == "6,1,16.00,21.00,40.00,80.00,0.9000,-1,-1,-1\n"    # frame 5 -> 6; x1 15 -> 16


def _walker(track_id: int, ys, x=100.0, h=40.0):
    return [(track_id, [x - 10, y - h / 2, x + 10, y + h / 2]) for y in ys]


def test_line_counts_once_per_track_despite_jitter():
    line = LineCounter((0, 200), (400, 200), margin=4)     # horizontal; "in" = moving down the picture
    rng = np.random.default_rng(0)
    ys_down = np.concatenate([np.linspace(150, 199, 20), 200 + rng.normal(0, 3, 40),   # jitter on the line
                              np.linspace(201, 260, 20), 200 + rng.normal(0, 2, 20), np.linspace(205, 300, 10)])
    ys_up = np.linspace(320, 120, 40)
    ys_wobble = 200 + rng.uniform(-3.9, 3.9, 100)            # never clearly leaves the band (margin 4)
    tracks = [_walker(1, ys_down), _walker(2, ys_up, x=200), _walker(3, ys_wobble, x=300)]
    n = max(len(t) for t in tracks)
    for f in range(n):
        rows = [t[f] for t in tracks if f < len(t)]
        line.trigger(Detections([r[1] for r in rows], track_ids=[r[0] for r in rows], frame_index=f,
                                timestamp=f / 10))
    assert (line.in_count, line.out_count) == (1, 1)
    assert sorted((c["track_id"], c["direction"]) for c in line.crossings) == [(1, "in"), (2, "out")]


def test_line_ignores_objects_passing_beside_the_segment():
    line = LineCounter((0, 200), (100, 200))
    for f, y in enumerate(np.linspace(100, 300, 30)):
        line.trigger(Detections([[290, y - 10, 310, y + 10]], track_ids=[1], frame_index=f))
    assert line.in_count == line.out_count == 0


def test_zone_count_and_dwell():
    zone = ZoneCounter([(0, 0), (100, 0), (100, 100), (0, 100)])
    counts = []
    for f in range(50):
        t = f * 0.1
        boxes, ids = [], []
        if f < 30:                      # track 1 inside from 0.0 s to 2.9 s
            boxes.append([40, 40, 60, 60])
            ids.append(1)
        if 10 <= f < 20 or f >= 40:     # track 2: inside twice, 1.0-1.9 s and 4.0-4.9 s
            boxes.append([70, 70, 90, 90])
            ids.append(2)
        boxes.append([150, 150, 170, 170])   # track 3: always outside
        ids.append(3)
        zone.trigger(Detections(boxes, track_ids=ids, frame_index=f, timestamp=t))
        counts.append(zone.current)
    assert counts[5] == 1 and counts[15] == 2 and counts[35] == 0 and counts[45] == 1
    dwell = {d["track_id"]: d["seconds"] for d in zone.to_dict()["dwell"]}
    assert dwell == {1: pytest.approx(2.9), 2: pytest.approx(0.9 + 0.9)}
    assert zone.max_count == 2
