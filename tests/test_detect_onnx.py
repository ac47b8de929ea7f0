"""onnx:PATH — Ultralytics YOLOv8/YOLO11 ONNX layout: decoding, letterbox undo, class-wise NMS, names, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from _detect_helpers import tiny_objects, tiny_yolo
from videolens.detect import Detections, load_detector
from videolens.detect.export import add_ultralytics_metadata
from videolens.errors import VideolensError

NAMES = ["person", "car", "dog"]


class KnownBoxes(torch.nn.Module):
    """Outputs fixed candidates in Ultralytics' layout (1, 4 + C, N): cx, cy, w, h in input pixels, then scores."""

    def __init__(self, table: np.ndarray):
        super().__init__()
        self.register_buffer("table", torch.from_numpy(table.astype(np.float32)))

    def forward(self, images):
        return self.table[None] + 0.0 * images.mean()


def _export(module, path, imgsz=(640, 640), names=NAMES, metadata=True):
    torch.onnx.export(module, (torch.zeros(1, 3, *imgsz),), str(path), input_names=["images"],
                      output_names=["output0"], opset_version=17, dynamo=False)
    if metadata:
        add_ultralytics_metadata(str(path), names, list(imgsz))
    return path


def _table():
    # Candidates in a 640x640 letterboxed input (columns: cx, cy, w, h, person, car, dog).
    rows = [
        (320, 320, 100, 200, 0.90, 0.05, 0.00),   # person A
        (324, 322, 100, 196, 0.80, 0.00, 0.00),   # overlaps A, same class: NMS removes it
        (322, 320, 100, 200, 0.00, 0.70, 0.00),   # same place, other class: class-wise NMS keeps it
        (100, 150, 40, 40, 0.00, 0.00, 0.60),     # dog
        (500, 500, 50, 50, 0.10, 0.20, 0.05),     # below 0.25: dropped
    ]
    return np.asarray(rows, np.float32).T        # (4 + C, N)


def test_decodes_ultralytics_layout_and_undoes_the_letterbox(tmp_path):
    path = _export(KnownBoxes(_table()), tmp_path / "known.onnx")
    det = load_detector(f"onnx:{path}", conf=0.25)
    assert det.class_names == NAMES and det.input_hw == (640, 640)
    # A 1280x960 frame is scaled by 0.5 and padded by 80 rows on top: original = (input - (0, 80)) / 0.5.
    d = det(np.zeros((960, 1280, 3), np.uint8))
    order = np.argsort(-d.scores)
    d = d[order]
    assert d.class_names.tolist() == ["person", "car", "dog"]
    assert np.allclose(d.scores, [0.9, 0.7, 0.6], atol=1e-6)
    expected = np.array([[270, 220, 370, 420], [272, 220, 372, 420], [80, 130, 120, 170]], np.float32)
    expected = (expected - [0, 80, 0, 80]) / 0.5
    assert np.allclose(d.xyxy, expected, atol=1e-3)
    only_dogs = load_detector(f"onnx:{path}", classes=["dog"])(np.zeros((960, 1280, 3), np.uint8))
    assert only_dogs.class_names.tolist() == ["dog"]


def test_without_metadata_names_are_numbers(tmp_path):
    path = _export(KnownBoxes(_table()), tmp_path / "plain.onnx", metadata=False)
    det = load_detector(str(path))
    assert det.class_names == ["0", "1", "2"]
    assert sorted(det(np.zeros((640, 640, 3), np.uint8)).class_names.tolist()) == ["0", "1", "2"]


def test_other_layouts_and_truncated_files_get_clear_errors(tmp_path):
    path = _export(KnownBoxes(_table()), tmp_path / "good.onnx")
    data = path.read_bytes()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(VideolensError, match=r"cut.onnx: not a loadable ONNX model"):
        load_detector(f"onnx:{tmp_path / 'cut.onnx'}")

    class Classifier(torch.nn.Module):
        def forward(self, images):
            return images.mean(dim=(2, 3))            # (1, 3): a classifier's layout
    _export(Classifier(), tmp_path / "cls.onnx", metadata=False)
    with pytest.raises(VideolensError, match="expected an Ultralytics YOLO detection output"):
        load_detector(f"onnx:{tmp_path / 'cls.onnx'}")
    _export(KnownBoxes(_table()), tmp_path / "names.onnx", names=["a", "b"])
    with pytest.raises(VideolensError, match="3 class scores but the metadata names 2"):
        load_detector(f"onnx:{tmp_path / 'names.onnx'}")
    with pytest.raises(VideolensError, match="no such ONNX file"):
        load_detector("onnx:/nonexistent/model.onnx")


def test_exported_yolo_checkpoint_agrees_with_pytorch(tmp_path_factory, cli):
    base = tmp_path_factory.getbasetemp()
    ckpt = tiny_yolo(base)
    out = tmp_path_factory.mktemp("export") / "tiny.onnx"
    r = cli("detect-export", ckpt, "-o", out, "--quiet")
    assert r.code == 0, r
    # A few iterations of training leave scores low: compare everything above 0.001, best first.
    ort_det = load_detector(f"onnx:{out}", conf=0.001)
    pt_det = load_detector(str(ckpt), conf=0.001)
    assert ort_det.class_names == pt_det.class_names == ["circle", "square", "triangle"]
    from videolens.detect.augment import read_image

    frame = read_image(str(tiny_objects(base) / "images" / "000001.jpg"))
    # The exported graph computes what the PyTorch network does, on the same letterboxed input.
    import torch

    from videolens.detect import augment as A
    from videolens.detect.export import UltralyticsLayout

    th, tw = ort_det.input_hw
    img, _, _ = A.letterbox(frame, (tw, th))
    x = img.transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    raw_ort = ort_det.session.run(None, {ort_det.input_name: x})[0]
    with torch.no_grad():
        raw_pt = UltralyticsLayout(pt_det.model.net.cpu()).eval()(torch.from_numpy(x)).numpy()
    assert raw_pt.shape == raw_ort.shape and raw_pt.shape[1] == 4 + 3
    assert np.allclose(raw_pt, raw_ort, atol=1e-3)
    # End to end. A barely trained model scores hundreds of boxes in a near tie just above 0.001, so float
    # differences decide a few of them (and NMS among them) either way: about as many boxes, the same best score.
    a, b = pt_det(frame), ort_det(frame)
    assert isinstance(b, Detections) and len(a) > 0
    assert abs(len(a) - len(b)) <= 0.1 * len(a)
    assert abs(a.scores.max() - b.scores.max()) < 1e-4
    assert (a.area > 0).all() and (b.area > 0).all()
