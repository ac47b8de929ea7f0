"""OC-SORT and camera-motion compensation: each part does what it is for (the tests fail with the part removed),
and the new trackers run through detect, analyze and watch."""

from __future__ import annotations

import numpy as np
from conftest import run_cli

from videolens.core.detections import Detections
from videolens.track import TRACKERS, CameraMotion, create_tracker, mot_metrics


def _panning(frames: int = 40, n: int = 6):
    """Six people standing 12 px apart while the camera pans right at 12 px per frame and then swings straight
    back: in the picture every box runs left and suddenly right, a jump the constant-velocity filter overshoots
    by two widths, onto the neighbour."""
    import cv2

    rng = np.random.default_rng(5)
    scene = cv2.GaussianBlur((rng.random((400, 1200)) * 255).astype(np.uint8), (0, 0), 2)
    scene = cv2.cvtColor(scene, cv2.COLOR_GRAY2RGB)
    xs = 300 + np.concatenate([np.arange(0, 180, 12), 180 - np.arange(1, frames - 14) * 12])
    world = np.array([[600 + 36 * k, 150, 624 + 36 * k, 230] for k in range(n)], float)
    out = []
    for f, x in enumerate(xs[:frames].tolist()):
        img = np.ascontiguousarray(scene[40:280, x:x + 480])
        boxes = world - [x, 40, x, 40]
        for b in boxes.astype(int):
            img[b[1]:b[3], b[0]:b[2]] = (200, 60, 60)
        out.append((img, Detections(boxes, [0.9] * n, track_ids=list(range(1, n + 1)), frame_index=f)))
    return out


def _track(name: str, seq, frames: bool = True, **settings) -> dict:
    tracker = create_tracker(name, frame_rate=30, **settings)
    out = {}
    for img, d in seq:
        d = d.copy()
        d.track_ids[:] = -1
        out[d.frame_index] = tracker.update(d, frame=img) if frames else tracker.update(d)
    return mot_metrics({d.frame_index: d for _, d in seq}, out)


def test_botsort_follows_a_panning_camera_where_bytetrack_switches():
    seq = _panning()
    bt, bot = _track("bytetrack", seq), _track("botsort", seq)
    assert bt["num_switches"] >= 6, bt                  # measured: 15 (every id moves to its neighbour)
    assert bot["num_switches"] == 0 and bot["mota"] == 1.0, bot
    # The same tracker without frames is ByteTrack, and ByteTrack with cmc= is botsort.
    assert _track("botsort", seq, frames=False)["num_switches"] == bt["num_switches"]
    assert _track("bytetrack", seq, cmc="sparse")["num_switches"] == 0


def test_camera_motion_is_measured_in_the_boxes_pixels():
    seq = _panning(18)
    cmc = CameraMotion()
    (img0, d0), (img1, _) = seq[3], seq[4]
    half = [img[::2, ::2] for img in (img0, img1)]           # frames half the size of the boxes' pixels
    assert cmc.estimate(half[0], d0.xyxy, (480, 240)) is None
    a = cmc.estimate(half[1], d0.xyxy, (480, 240))
    np.testing.assert_allclose(a[:, 2], [-12, 0], atol=0.5)  # the camera moved 12 px right: the scene 12 left
    np.testing.assert_allclose(a[:, :2], np.eye(2), atol=0.01)
    ecc = CameraMotion("ecc")                                  # the slower alternative agrees
    ecc.estimate(half[0])
    np.testing.assert_allclose(ecc.estimate(half[1], None, (480, 240))[:, 2], [-12, 0], atol=0.5)


def test_ocsort_reupdate_reruns_the_filter_along_the_missed_stretch():
    # A walker goes right at 8 px per frame, is missed for 6 frames while it turns down-right, and is seen again.
    # ORU rolls the filter back to its last observation (frame 11) and re-runs it along the straight line to the
    # new one, a predict and an update per frame; without ORU the state is one update after six blind predictions.
    from videolens.track.kalman import xyxy_to_xyah

    def run(**settings):
        tracker = create_tracker("ocsort", frame_rate=30, **settings)
        x = y = 0.0
        for f in range(19):
            x += 8
            y += 4 if f >= 12 else 0
            seen = not 12 <= f < 18
            box = [x, 100 + y, x + 30, 180 + y]
            if f == 18:
                (t,) = tracker.active_tracks()
                saved, last = t.data["saved"], t.data["obs"][-1]
            tracker.update(Detections([box] if seen else np.zeros((0, 4)), [0.9] if seen else [], frame_index=f))
        (t,) = tracker.active_tracks()
        return tracker, t, saved, last, np.array([box])

    tracker, t, (mean, cov, seen_at), last, box = run()
    assert seen_at == 11
    z0, z1 = xyxy_to_xyah(last), xyxy_to_xyah(box)
    m, c = mean[None], cov[None]
    for k in range(1, 8):
        m, c = tracker.kf.predict(m, c, 1.0, tracker.velocity_noise)
        m, c = tracker.kf.update(m, c, z0 + (z1 - z0) * k / 7)
    np.testing.assert_allclose(t.mean, m[0], atol=1e-9)
    np.testing.assert_allclose(t.cov, c[0], atol=1e-9)
    _, plain, *_ = run(reupdate=False)
    assert np.abs(plain.cov - c[0]).max() > 1.0               # the feature is what made the state


def test_ocsort_momentum_decides_between_equal_overlaps():
    # Two tracks whose predictions coincide, one moving right and one moving down, and two detections, one just
    # right and one just below that spot: both pairings overlap equally in sum; the direction of motion (OCM) gives
    # each track the detection on its way.
    det = Detections([[106, 50, 136, 110], [100, 56, 130, 116]], [0.9, 0.9], frame_index=4)
    for momentum in (0.2, 0.0):
        tracker = create_tracker("ocsort", frame_rate=30, momentum=momentum)
        for f in range(4):
            tracker.update(Detections([[70 + 10 * f, 50, 100 + 10 * f, 110], [100, 20 + 10 * f, 130, 80 + 10 * f]],
                                      [0.9, 0.9], frame_index=f))
        pool = sorted(tracker.active_tracks(), key=lambda t: t.id)       # 1 moves right, 2 moves down
        for t in pool:                                                    # the same predicted box for both
            t.mean = pool[0].mean.copy()
        cost = tracker._cost(pool, det, np.arange(2), tracker.fuse_score)
        assert abs(cost[0, 0] + cost[1, 1] - cost[0, 1] - cost[1, 0]) < 1e-9     # no preference from overlaps
        matches, _, _ = tracker._first_match(pool, det, np.arange(2))
        # With OCM each track takes the box on its way; without it the solver's tie-break swaps them (measured).
        assert sorted(matches.tolist()) == ([[0, 0], [1, 1]] if momentum else [[0, 1], [1, 0]])


def test_ocsort_recovers_a_stopped_object_by_its_last_observation():
    # A walker moves right, stops, is missed for 8 frames while standing, and is seen again where it stood. The
    # filter carried it on to the right: only recovery (OCR) by the last observation gives it its id back.
    seq = []
    for f in range(30):
        x = 10 + 6 * min(f, 12)
        d = Detections([[x, 50, x + 20, 110]], [0.9], track_ids=[1], frame_index=f) if not 13 <= f < 21 else \
            Detections.empty(f)
        seq.append((None, d))
    with_ocr = _track("ocsort", seq, frames=False)
    without = _track("ocsort", seq, frames=False, recover_thresh=1.01)
    assert with_ocr["num_switches"] == 0 and with_ocr["num_unique_objects"] == 1
    assert without["idf1"] < with_ocr["idf1"], (without, with_ocr)


def test_new_trackers_in_detect_analyze_and_watch(objects_video, tmp_path):
    from videolens.live.watch import watch

    video, gt = objects_video
    assert {"ocsort", "botsort"} <= set(TRACKERS.names())
    for name in ("ocsort", "botsort"):
        r = run_cli("detect", video, "--model", f"replay:{gt}", "--tracker", name, "--track-thresh", "0.4",
                    "-o", tmp_path / name, "--format", "json,mot", "--quiet", "--json")
        assert r.code == 0, r
        assert r.json()["videos"][0]["tracks"] if "videos" in r.json() else True
        assert (tmp_path / name / "tracks.txt").read_text().strip()
    r = run_cli("detect", video, "--model", f"replay:{gt}", "--tracker", "sort", "--track-low-thresh", "0.2",
                "-o", tmp_path / "bad", "--quiet")
    assert r.code == 2 and "sort has no setting low_thresh" in r.err, r
    # analyze: the tracker and its settings reach the objects analyzer through AnalyzeConfig.
    from videolens.analyze import AnalyzeConfig
    from videolens.detect.analyzers import ObjectsAnalyzer
    from videolens.detect.detectors import ReplayDetector
    from videolens.stream import run_analyzers

    config = AnalyzeConfig(objects=ReplayDetector(gt), tracker="ocsort", tracker_settings={"track_buffer": 60})
    objects = ObjectsAnalyzer.from_config(config)
    assert objects.tracker.name == "ocsort" and objects.tracker.track_buffer == 60
    result = run_analyzers(str(video), [objects]).results["objects"].to_dict()
    assert result["tracker"] == "ocsort" and result["tracks"]
    events = list(watch([str(video)], output=tmp_path / "w", objects=f"replay:{gt}", tracker="botsort"))
    assert any(e["kind"] == "track_end" for e in events)


def test_warning_when_most_detections_are_never_tracked(objects_video):
    # Scores of 1 against thresholds of 2 (a detector whose scores are on another scale): nothing is ever tracked,
    # and the objects analyzer says so once for the video, with the numbers.
    import warnings

    from videolens.detect.analyzers import ObjectsAnalyzer
    from videolens.detect.detectors import ReplayDetector
    from videolens.stream import run_analyzers

    video, gt = objects_video
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        objects = ObjectsAnalyzer(ReplayDetector(gt), tracker="bytetrack", high_thresh=2.0, new_track_thresh=2.0)
        run_analyzers(str(video), [objects])
        ok = ObjectsAnalyzer(ReplayDetector(gt), tracker="bytetrack")
        run_analyzers(str(video), [ok])
    mine = [w for w in caught if "detections were tracked" in str(w.message)]
    assert len(mine) == 1, [str(w.message) for w in caught]
    text = str(mine[0].message)
    assert text.startswith("objects_0000.mp4: only 0 of ") and "high_thresh 2" in text and "--track-thresh" in text
