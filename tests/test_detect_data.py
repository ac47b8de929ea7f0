"""Detection datasets: COCO JSON, YOLO txt and Pascal VOC XML, with their broken and out-of-range cases."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from conftest import shared
from videolens.detect.data import load_dataset
from videolens.errors import VideolensError


def _image(path, w=64, h=48):
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8))


def _voc(path, filename, objects, w=64, h=48):
    objs = "".join(f"<object><name>{n}</name><bndbox><xmin>{a}</xmin><ymin>{b}</ymin><xmax>{c}</xmax>"
                   f"<ymax>{d}</ymax></bndbox></object>" for n, (a, b, c, d) in objects)
    path.write_text(f"<annotation><filename>{filename}</filename><size><width>{w}</width><height>{h}</height>"
                    f"<depth>3</depth></size>{objs}</annotation>")


def test_trapedesveh_voc_with_label_map_skips_the_unknown_truck():
    root = shared("detection", "TraPedesVeh")
    train = load_dataset(root, "train")
    test = load_dataset(root, "test")
    assert train.format == "voc" and len(train) == 184 and len(test) == 46
    assert train.class_names == ["Traffic sign", "bicycle", "cyclist", "motorcycle", "pedestrian", "scooter",
                                 "vehicle"]
    assert dict(train.unknown_classes) == {"truck": 1}
    assert "truck" in train.issues_summary()
    # 1008 objects in the XML files (grep -c "<name>"), one of them the truck.
    assert train.num_boxes + test.num_boxes == 1007
    s = train.samples[0]
    assert s.boxes.dtype == np.float32 and np.all(s.boxes[:, 2:] > s.boxes[:, :2])
    assert np.all(s.boxes[:, [0, 2]] <= s.width) and np.all(s.boxes[:, [1, 3]] <= s.height)
    with pytest.raises(VideolensError, match="truck"):
        load_dataset(root, "train", strict=True)
    # Training on it with --val pointing at the same folder validates on test/, not on train/ again.
    from videolens.detect.train import TrainConfig, resolve_datasets

    tr, va = resolve_datasets(TrainConfig(data=str(root), val=str(root), output="unused"))
    assert (len(tr), len(va)) == (184, 46)


def test_voc_clips_out_of_range_drops_degenerate_and_skips_broken_xml(tmp_path):
    _image(tmp_path / "a.jpg")
    _image(tmp_path / "b.jpg")
    _image(tmp_path / "c.jpg")
    _voc(tmp_path / "a.xml", "a.jpg", [("cat", (-5, 4, 30, 60)),          # outside: clipped to 0..48
                                       ("dog", (10, 10, 10, 30)),          # zero width: dropped
                                       ("dog", (40, 20, 20, 30))])         # reversed corners: reordered
    _voc(tmp_path / "b.xml", "b.jpg", [("cat", (1, 1, 20, 20))])
    (tmp_path / "c.xml").write_text("<annotation><object><name>cat</name>")   # truncated XML
    ds = load_dataset(tmp_path)
    assert len(ds) == 2 and ds.class_names == ["cat", "dog"]
    a = ds.samples[0]
    assert a.boxes.tolist() == [[0.0, 4.0, 30.0, 48.0], [20.0, 20.0, 40.0, 30.0]]
    assert a.labels.tolist() == [0, 1]
    assert ds.issues["clipped"] == 1 and ds.issues["degenerate"] == 1
    assert len(ds.skipped_files) == 1 and "c.xml" in ds.skipped_files[0] and "not valid XML" in ds.skipped_files[0]
    with pytest.raises(VideolensError, match="c.xml: not valid XML"):
        load_dataset(tmp_path, strict=True)


def test_coco_json_and_broken_json(tmp_path):
    (tmp_path / "images").mkdir()
    _image(tmp_path / "images" / "x.jpg")
    data = {"images": [{"id": 7, "file_name": "x.jpg", "width": 64, "height": 48}],
            "categories": [{"id": 3, "name": "b"}, {"id": 1, "name": "a"}],
            "annotations": [{"id": 1, "image_id": 7, "category_id": 3, "bbox": [50, 40, 30, 30], "iscrowd": 0},
                            {"id": 2, "image_id": 7, "category_id": 1, "bbox": [0, 0, 10, 10], "iscrowd": 1},
                            {"id": 3, "image_id": 7, "category_id": 9, "bbox": [0, 0, 10, 10]}]}
    (tmp_path / "annotations.json").write_text(json.dumps(data))
    ds = load_dataset(tmp_path / "annotations.json")
    assert ds.class_names == ["a", "b"] and len(ds) == 1
    s = ds.samples[0]
    assert s.boxes.tolist() == [[50.0, 40.0, 64.0, 48.0], [0.0, 0.0, 10.0, 10.0]]
    assert s.labels.tolist() == [1, 0] and s.crowd.tolist() == [False, True]
    assert ds.unknown_classes == {"9": 1}
    gt = ds.to_coco()
    assert [a["iscrowd"] for a in gt["annotations"]] == [0, 1]
    (tmp_path / "bad.json").write_text('{"images": [')
    with pytest.raises(VideolensError, match="bad.json: not valid JSON"):
        load_dataset(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"hello": 1}')
    with pytest.raises(VideolensError, match="not a COCO annotation file"):
        load_dataset(tmp_path / "other.json")


def test_yolo_txt_out_of_range_malformed_and_unknown_class(tmp_path):
    for split in ("train", "val"):
        (tmp_path / "images" / split).mkdir(parents=True)
        (tmp_path / "labels" / split).mkdir(parents=True)
        _image(tmp_path / "images" / split / "p.jpg", 100, 50)
    (tmp_path / "labels" / "train" / "p.txt").write_text(
        "0 0.5 0.5 0.2 0.4\n"          # 40..60 x 15..35
        "1 0.95 0.5 0.3 0.2\n"         # 80..110: clipped to 100
        "0 0.5 0.5 0.0 0.3\n"          # zero width: dropped
        "5 0.5 0.5 0.1 0.1\n"          # class 5 of 2: skipped
        "not a line\n")
    (tmp_path / "labels" / "val" / "p.txt").write_text("1 0.5 0.5 0.5 0.5\n")
    (tmp_path / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\nnames: {0: car, 1: bus}\n")
    ds = load_dataset(tmp_path / "data.yaml", "train")
    assert ds.format == "yolo" and ds.class_names == ["car", "bus"]
    assert np.allclose(ds.samples[0].boxes, [[40, 15, 60, 35], [80, 20, 100, 30]])
    assert ds.samples[0].labels.tolist() == [0, 1]
    assert ds.issues["clipped"] == 1 and ds.issues["degenerate"] == 1 and ds.issues["bad_lines"] == 1
    assert ds.unknown_classes == {"id 5": 1}
    val = load_dataset(tmp_path, "val")
    assert len(val) == 1 and val.samples[0].labels.tolist() == [1]
    with pytest.raises(VideolensError, match=r"p.txt:4: class id 5 is outside 0..1"):
        load_dataset(tmp_path / "data.yaml", "train", strict=True)


def test_missing_and_unreadable_images_are_skipped(tmp_path):
    _voc(tmp_path / "a.xml", "a.jpg", [("cat", (1, 1, 20, 20))])       # no a.jpg
    (tmp_path / "b.jpg").write_bytes(b"not a jpeg")
    _voc(tmp_path / "b.xml", "b.jpg", [("cat", (1, 1, 20, 20))])
    with pytest.raises(VideolensError, match="no usable images"):
        load_dataset(tmp_path)
    with pytest.raises(VideolensError, match="no such file"):
        load_dataset(tmp_path / "nothing")
