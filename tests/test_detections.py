"""The Detections type and its conversions, the annotators, and the classical HOG people detector."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, shared
from videolens.detect import Anonymizer, BoxAnnotator, Detections, box_iou


def _dets():
    return Detections([[10, 20, 50, 80], [0, 0, 5, 5], [30, 30, 60, 70]], [0.9, 0.3, 0.6], [0, 1, 0],
                      ["person", "car", "person"], [4, -1, 7], frame_index=12, timestamp=0.48)


def test_detections_module_is_numpy_only():
    code = ("import sys, videolens; d = videolens.Detections([[0, 0, 1, 1]]); "
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)[:5]")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_selection_filter_merge_and_geometry():
    d = _dets()
    assert len(d) == 3 and d.xyxy.dtype == np.float32 and d.track_ids.dtype == np.int64
    assert d[d.scores > 0.5].class_names.tolist() == ["person", "person"]
    assert d[1].frame_index == 12 and len(d[1]) == 1
    assert d.filter(min_score=0.5, classes=["person"]).track_ids.tolist() == [4, 7]
    assert d.filter(classes=["1"]).class_names.tolist() == ["car"]      # a class id works too
    assert d.area.tolist() == [2400, 25, 1200]
    assert d.anchors("bottom-center")[0].tolist() == [30, 80]
    m = Detections.merge([d, d[[0]]])
    assert len(m) == 4 and m.frame_index == 12
    assert np.allclose(d.scaled(2).xyxy[0], [20, 40, 100, 160])
    assert np.allclose(d.clipped(40, 40).xyxy[0], [10, 20, 40, 40])
    assert len(Detections.empty(3)) == 0 and Detections.empty(3).xyxy.shape == (0, 4)
    with pytest.raises(ValueError, match="scores has 1 entries for 2 boxes"):
        Detections([[0, 0, 1, 1], [1, 1, 2, 2]], [0.5])
    assert np.allclose(box_iou(d.xyxy, d.xyxy).diagonal(), 1)


def test_coco_round_trip():
    d = _dets()
    cats = [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}]
    anns = d.to_coco(image_id=5, categories=cats)
    assert anns[0] == {"image_id": 5, "category_id": 1, "bbox": [10.0, 20.0, 40.0, 60.0], "score": 0.9,
                       "track_id": 4}
    assert anns[1]["category_id"] == 3 and "track_id" not in anns[1]
    back = Detections.from_coco(anns, cats)
    assert np.allclose(back.xyxy, d.xyxy) and back.class_names.tolist() == d.class_names.tolist()
    assert back.class_ids.tolist() == [0, 1, 0] and back.track_ids.tolist() == [4, -1, 7]


def test_supervision_round_trip():
    import supervision as sv

    d = _dets()
    s = d.to_supervision()
    assert isinstance(s, sv.Detections) and s.tracker_id.tolist() == [4, -1, 7]
    assert s.data["class_name"].tolist() == ["person", "car", "person"]
    assert len(s[s.confidence > 0.5]) == 2      # it behaves as supervision's own type
    back = Detections.from_supervision(s, frame_index=12)
    assert np.allclose(back.xyxy, d.xyxy) and np.allclose(back.scores, d.scores)
    assert back.class_names.tolist() == d.class_names.tolist() and back.track_ids.tolist() == [4, -1, 7]
    plain = Detections.from_supervision(sv.Detections(xyxy=np.array([[1.0, 2, 3, 4]])))
    assert plain.scores.tolist() == [1.0] and plain.track_ids.tolist() == [-1]


def test_box_annotator_draws_boxes_labels_and_trails():
    frame = np.zeros((120, 160, 3), np.uint8)
    ann = BoxAnnotator(trail=10)
    for k in range(5):
        d = Detections([[10 + 5 * k, 10, 50 + 5 * k, 80]], [0.9], [0], ["person"], [3])
        out = ann.annotate(frame, d)
    assert not frame.any()                       # the input is left alone
    assert out[10, 35:75].any()                  # the top edge of the last box
    assert len(ann.trails[3]) == 5               # the trail keeps the anchor's path
    ann.reset()
    assert ann.trails == {}


def test_anonymizer_methods():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (80, 80, 3), dtype=np.uint8)
    for method in ("blur", "pixelate"):
        out = Anonymizer(method, margin=0.0).annotate(img, [[20, 20, 60, 60]])
        inside, outside = out[20:60, 20:60].astype(float), out[:15].astype(float)
        assert np.array_equal(out[:15], img[:15])                     # outside the box: untouched
        assert inside.std() < 0.5 * img[20:60, 20:60].astype(float).std()
    with pytest.raises(ValueError):
        Anonymizer("paint")


def test_people_hog_finds_pedestrians_in_real_images():
    from videolens.detect import load_detector
    from videolens.detect.augment import read_image
    from videolens.detect.data import load_dataset

    root = shared("detection", "TraPedesVeh")
    ds = load_dataset(root, "test")
    det = load_detector("people-hog")
    pid = ds.class_names.index("pedestrian")
    hits = total = 0
    for s in ds.samples:
        if s.path.endswith(("/2.jpeg", "/7.png")):
            gt = s.boxes[s.labels == pid]
            d = det(read_image(s.path))
            assert set(d.class_names.tolist()) <= {"person"} and np.all((d.scores > 0) & (d.scores < 1))
            hits += int((box_iou(gt, d.xyxy).max(1) > 0.3).sum()) if len(d) else 0
            total += len(gt)
    assert total == 4 and hits >= 3


def test_people_hog_on_frames_smaller_than_its_window():
    """OpenCV's HOG crashed the process on pictures under 64x128 (watch's warm-up frame is 64x64)."""
    from videolens.detect import load_detector

    det = load_detector("people-hog")
    for shape in ((64, 64, 3), (30, 200, 3), (127, 63, 3)):
        d = det(np.zeros(shape, np.uint8))
        assert len(d) == 0 and d.xyxy.shape == (0, 4)
