"""Loaders of user files given seeded garbage, truncated copies or valid text of the wrong shape: each raises the
one-line VideolensError naming the file, never KeyError/TypeError/UnicodeDecodeError/EOFError tracebacks (issue 17).

Loaders with their own garbage tests elsewhere are not repeated here: checkpoints (test_train, test_classify,
test_detect_train, test_shots_learned), ONNX detectors (test_detect_onnx), watch configs (test_live_watch).
"""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from videolens.errors import VideolensError


def _one_line_naming(e: pytest.ExceptionInfo, path) -> None:
    msg = str(e.value)
    assert str(path) in msg and "\n" not in msg, msg


def test_detection_datasets(tmp_path):
    from videolens.detect.data import has_splits, load_dataset

    rng = np.random.default_rng(1701)
    coco = json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "width": 9, "height": 9}],
                       "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]}],
                       "categories": [{"id": 1, "name": "car"}]}).encode()
    yolo = b"path: .\ntrain: images/train\nval: images/val\nnames: {0: car, 1: bus}\n"
    cases = {
        "random.json": rng.bytes(4096),
        "truncated.json": coco[: len(coco) // 2],
        # Valid JSON of the wrong shape reached KeyError 'id' / TypeError on sorting.
        "images_not_objects.json": json.dumps({"images": [1, 2], "annotations": [], "categories": []}).encode(),
        "category_without_id.json": json.dumps({"images": [], "annotations": [{}],
                                                "categories": [{"name": "a"}]}).encode(),
        "mixed_ids.json": json.dumps({"images": [], "annotations": [],
                                      "categories": [{"id": 1, "name": "a"}, {"id": "x", "name": "b"}]}).encode(),
        "random.yaml": rng.bytes(4096),                    # was UnicodeDecodeError
        "truncated.yaml": yolo[: len(yolo) * 7 // 10],
        "names_a_number.yaml": b"names: 5\ntrain: images\n",
        "split_numbers.yaml": b"names: [car]\ntrain: [1, 2]\n",     # was TypeError from Path(1)
        "path_a_list.yaml": b"path: [a]\nnames: [car]\ntrain: images\n",
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(VideolensError) as e:
            load_dataset(path, "train")
        _one_line_naming(e, path)
    assert has_splits(tmp_path / "random.yaml") is False      # was UnicodeDecodeError before the load could explain


def test_mot_files(tmp_path):
    from videolens.track.mot import read_mot

    rng = np.random.default_rng(1702)
    rows = "".join(f"{f},{k},{x},{y},20,20,1,1,1\n" for f, k, x, y in rng.integers(1, 400, (300, 4)))
    good = gzip.compress(rows.encode())
    cases = {"truncated.txt.gz": good[: len(good) // 2],     # was EOFError from gzip
             "flipped.txt.gz": bytes(b ^ 0x55 if 12 < k < 40 else b for k, b in enumerate(good)),  # zlib.error
             "random.txt.gz": rng.bytes(2048), "random.txt": rng.bytes(2048)}
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(VideolensError) as e:
            read_mot(path)
        _one_line_naming(e, path)


def test_gallery_of_random_bytes_is_not_called_pickled(tmp_path):
    from videolens.people.gallery import load_gallery

    good = tmp_path / "good.npz"
    np.savez(good, names=np.array(["a"]), embeddings=np.ones((1, 128), np.float32), files=np.array(["x.jpg"]))
    rng = np.random.default_rng(1703)
    for seed in range(3):
        path = tmp_path / f"random{seed}.npz"
        path.write_bytes(b"\x00" + rng.bytes(4095))     # np.load reads anything unknown as a pickle
        with pytest.raises(VideolensError) as e:
            load_gallery(path)
        _one_line_naming(e, path)
        assert "not a gallery .npz" in str(e.value) and "pickled" not in str(e.value)
    for frac in (0.3, 0.9):
        path = tmp_path / f"truncated{frac}.npz"
        path.write_bytes(good.read_bytes()[: int(good.stat().st_size * frac)])
        with pytest.raises(VideolensError, match="not a gallery .npz") as e:
            load_gallery(path)
        _one_line_naming(e, path)
    assert load_gallery(good).names == ["a"]


def test_garbage_through_the_cli(tmp_path, cli):
    """The same holes seen from the commands: exit 2, one line naming the file."""
    from conftest import shared

    video = shared("shots", "counter.mp4")
    rng = np.random.default_rng(1704)
    truth, data, gt = tmp_path / "truth.json", tmp_path / "data.yaml", tmp_path / "gt.txt.gz"
    truth.write_bytes(rng.bytes(1024))
    data.write_bytes(rng.bytes(1024))
    rows = "".join(f"{f},{k},{x},{y},20,20,1,1,1\n" for f, k, x, y in rng.integers(1, 400, (300, 4)))
    full = gzip.compress(rows.encode())
    gt.write_bytes(full[: len(full) // 2])
    for args, path in ((["shots-eval", video, "--truth", truth], truth),
                       (["detect-train", "--data", data, "-o", tmp_path / "run", "--epochs", "1"], data),
                       (["track-eval", "--gt", gt, "--pred", gt], gt)):
        r = cli(*args)
        lines = r.err.strip().splitlines()
        assert r.code == 2 and len(lines) == 1 and str(path) in lines[0] and "Traceback" not in r.err, (args, r)
