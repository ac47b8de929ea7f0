"""onnx:PATH gives what Ultralytics' own predictor gives on its ONNX exports (issue 16 part 7).

The data in tests/data/ultralytics/ was made by scripts/make_ultralytics_parity.py with ``ultralytics`` installed
beside the project: a YOLO11 (width 0.125) trained from scratch on the ``objects`` stills, exported by Ultralytics
with a dynamic input shape and as a static batch-4 graph, and Ultralytics' ``predict`` output (its defaults: conf
0.25, IoU 0.7) on three held-out images at 0.5x, 1x and 3x the input size. Here videolens runs the same files on
the same pixels through its own ONNX path and must find the same boxes.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from videolens.detect import load_detector
from videolens.errors import VideolensError, VideolensWarning

DATA = Path(__file__).parent / "data" / "ultralytics"
RECORD = json.loads((DATA / "predictions.json").read_text())
BOX_TOL, SCORE_TOL = 0.5, 1e-3


def _script():
    """scripts/make_ultralytics_parity.py, which made the stored frames (numpy only at import: ultralytics is
    imported inside its functions)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / "make_ultralytics_parity.py"
    spec = importlib.util.spec_from_file_location("make_ultralytics_parity", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def resized(img: np.ndarray, scale: float) -> np.ndarray:
    """The script's own bilinear resize (float64, the same pixels anywhere), so the frames match its stored ones."""
    return _script().resized(img, scale)


def frames() -> dict[str, np.ndarray]:
    out = {}
    for name, src in RECORD["frames"].items():
        rgb = cv2.cvtColor(cv2.imread(str(DATA / src["png"])), cv2.COLOR_BGR2RGB)
        out[name] = rgb if src["scale"] == 1 else resized(rgb, src["scale"])
        assert list(out[name].shape) == RECORD["predictions"]["dynamic"][name]["shape"]
    return out


FRAMES = frames()


def model(key: str) -> str:
    return f"onnx:{DATA / RECORD['models'][key]}"


def compare(found, expected: dict) -> tuple[float, float]:
    """The same boxes with the same classes and scores, one to one; returns the largest box and score differences.

    Boxes are paired by class and position, not by their order: ONNX Runtime's kernels differ in the last bits from
    one CPU to another, and boxes whose scores differ by 1e-5 came out the other way round on an AMD EPYC."""
    xyxy, conf, cls = (np.asarray(expected[k], float) for k in ("xyxy", "conf", "cls"))
    assert len(found) == len(conf), f"{len(found)} boxes where Ultralytics has {len(conf)}"
    if not len(conf):
        return 0.0, 0.0
    free = np.ones(len(found), bool)
    box_err = score_err = 0.0
    for k in np.argsort(-conf, kind="stable"):
        dist = np.abs(found.xyxy - xyxy[k]).max(axis=1)
        dist[~free | (found.class_ids != int(cls[k]))] = np.inf
        j = int(np.argmin(dist))
        assert dist[j] <= BOX_TOL, f"no box of class {int(cls[k])} near {xyxy[k].round(2).tolist()} ({conf[k]:.4f})"
        free[j] = False
        box_err, score_err = max(box_err, float(dist[j])), max(score_err, abs(float(found.scores[j]) - conf[k]))
    assert score_err <= SCORE_TOL, score_err
    return box_err, score_err


@pytest.mark.parametrize("key", ["dynamic", "batch4"])
@pytest.mark.parametrize("predictions", ["predictions", "predictions_low_conf"])
def test_same_boxes_as_ultralytics_predict(key, predictions):
    expected = RECORD[predictions][key]
    conf = RECORD["predict"]["conf"] if predictions == "predictions" else RECORD["low_conf"]
    det = load_detector(model(key)) if predictions == "predictions" else load_detector(model(key), conf=conf)
    # Ultralytics' defaults, from the library (not only the CLI), for a model Ultralytics made.
    assert (det.conf, det.iou, det.max_det) == (conf, 0.7, 300)
    assert det.input_hw == (RECORD["imgsz"], RECORD["imgsz"]) and det.class_names == RECORD["names"]
    assert det.describe()["iou"] == 0.7 and det.describe()["imgsz"] == [RECORD["imgsz"]] * 2
    total = 0
    for name, frame in FRAMES.items():
        compare(det(frame), expected[name])
        total += len(expected[name]["conf"])
    assert total >= 3 * len(FRAMES) if predictions != "predictions" else total >= len(FRAMES)


def test_downscaling_as_ultralytics_matters_at_3x():
    # The point of matching the resize: at 3x, INTER_AREA (what videolens used) changes what this model finds.
    from videolens.detect import augment as A

    det = load_detector(model("batch4"), conf=RECORD["low_conf"])
    frame = FRAMES[next(n for n in FRAMES if n.endswith("@3x"))]
    linear = A.ultralytics_letterbox(frame, det.input_hw)
    area, _, _ = A.letterbox(frame, det.input_hw[::-1])
    assert linear.shape == area.shape and np.abs(linear.astype(int) - area.astype(int)).max() > 2
    raw = [det._run(np.stack([x.transpose(2, 0, 1).astype(np.float32) / np.float32(255)]))[0]
           for x in (linear, area)]
    assert np.abs(raw[0][4:] - raw[1][4:]).max() > SCORE_TOL       # class scores move by more than the tolerance


def test_fixed_batch_runs_any_number_of_frames():
    # A batch-4 export gets 6 frames: one full batch and one filled up with blank images; the same boxes as one
    # frame at a time (what Ultralytics' predictor does with its batch of 1).
    det = load_detector(model("batch4"), conf=RECORD["low_conf"])
    assert det.batch == 4
    names = list(FRAMES)[:6]
    together = det.detect([FRAMES[n] for n in names])
    for n, d in zip(names, together):
        one = det(FRAMES[n])
        assert len(one) == len(d) and np.array_equal(one.class_ids, d.class_ids)
        assert np.allclose(one.xyxy, d.xyxy, atol=1e-4) and np.allclose(one.scores, d.scores, atol=1e-6)


def test_segment_model_is_refused_by_its_task(cli):
    path = DATA / RECORD["models"]["segment"]
    with pytest.raises(VideolensError, match=r"videolens runs detect models; this is a segment model"):
        load_detector(f"onnx:{path}")
    r = cli("detect", str(DATA / RECORD["frames"][next(iter(FRAMES))]["png"]), "--model", f"onnx:{path}", "--quiet")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err, r
    assert "this is a segment model" in r.err and "class scores" not in r.err


def test_imgsz_on_a_static_model_warns_and_sets_a_dynamic_one():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        static = load_detector(model("batch4"), imgsz=640)
        dynamic = load_detector(model("dynamic"), imgsz=256)
        odd = load_detector(model("dynamic"), imgsz=300)
    msgs = [str(w.message) for w in caught if issubclass(w.category, VideolensWarning)]
    assert static.input_hw == (320, 320) and dynamic.input_hw == (256, 256) and odd.input_hw == (320, 320)
    assert len(msgs) == 2, msgs
    assert "--imgsz 640 ignored: the model's input is fixed at 320x320" in msgs[0]
    assert "not a multiple of the model's stride 32" in msgs[1]
    # A dynamic model letterboxes to the minimum rectangle, as Ultralytics' predictor does: 320x240 -> 320x256.
    frame = FRAMES[next(n for n in FRAMES if n.endswith("@1x"))]
    assert load_detector(model("dynamic")).preprocess(frame).shape == (3, 256, 320)
    assert static.preprocess(frame).shape == (3, 320, 320)


def test_imgsz_warning_is_one_line_in_the_cli(cli, tmp_path, objects_video):
    video, _ = objects_video
    r = cli("detect", video, "--model", model("batch4"), "--imgsz", "640", "--format", "json", "-o", tmp_path,
            "--stride", "5", "--quiet")
    assert r.code == 0, r
    lines = [ln for ln in r.err.splitlines() if "--imgsz" in ln]
    assert lines == ["videolens: warning: yolo11t-objects-batch4.onnx: --imgsz 640 ignored: the model's input is "
                     "fixed at 320x320 (export it with dynamic=True to choose)"], r.err
    head = json.loads((tmp_path / "detections.json").read_text())
    assert head["model"]["iou"] == 0.7 and head["model"]["imgsz"] == [320, 320] and head["model"]["conf"] == 0.25


def test_tracker_thresholds_suit_an_ultralytics_model(objects_video, tmp_path):
    from videolens.detect import detect_video
    from videolens.detect.analyzers import ObjectsAnalyzer
    from videolens.track import ByteTrack

    video, _ = objects_video
    det = load_detector(model("dynamic"))
    assert det.tracker_settings == {"high_thresh": 0.25, "low_thresh": 0.1, "new_track_thresh": 0.25}
    plain = detect_video(video, tmp_path / "plain", det, formats=("json",), quiet=True, stride=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        suited = detect_video(video, tmp_path / "suited", det, tracker="bytetrack", formats=("json",), quiet=True,
                              stride=2)
        own = detect_video(video, tmp_path / "own", det, tracker=ByteTrack(), formats=("json", "mot"), quiet=True,
                           stride=2)
    head = json.loads((tmp_path / "suited" / "detections.json").read_text())
    assert {k: head["tracker_settings"][k] for k in det.tracker_settings} == det.tracker_settings
    assert json.loads((tmp_path / "own" / "detections.json").read_text())["tracker_settings"]["high_thresh"] == 0.5
    # Ultralytics' thresholds keep most of its model's boxes in tracks; videolens's own (0.5 / 0.6), given as a
    # tracker object, keep fewer, and the run says so when that is most of them.
    assert plain.detections > 0 and suited.detections >= 0.5 * plain.detections, (plain.detections, suited.detections)
    assert own.detections < suited.detections and (tmp_path / "own" / "tracks.txt").exists()
    warned = [str(w.message) for w in caught if "detections were tracked" in str(w.message)]
    assert len(warned) == (1 if own.detections < 0.5 * plain.detections else 0), warned
    # The user's own threshold (--track-thresh) wins over the detector's suggestion.
    settings = ObjectsAnalyzer(det, tracker="bytetrack", high_thresh=0.4).tracker_thresholds()
    assert settings["high_thresh"] == 0.4 and settings["new_track_thresh"] == 0.25
    with pytest.raises(VideolensError, match="go to the tracker object itself"):
        ObjectsAnalyzer(det, tracker=ByteTrack(), high_thresh=0.3)


def test_watch_config_sets_tracker_thresholds():
    from videolens.live.config import ConfigError, load_config_text

    cfg = load_config_text("defaults:\n  track_thresh: 0.3\ncameras:\n  - url: a.mp4\n    new_track_thresh: 0.35\n"
                           "    track_buffer: 60\n  - url: b.mp4\n")
    assert cfg.cameras[0].tracker_settings == {"high_thresh": 0.3, "new_track_thresh": 0.35, "track_buffer": 60}
    assert cfg.cameras[1].tracker_settings == {"high_thresh": 0.3}
    with pytest.raises(ConfigError, match=r"<config>:3: cameras\[0\].track_buffer: out of range"):
        load_config_text("cameras:\n  - url: a.mp4\n    track_buffer: 0\n")
