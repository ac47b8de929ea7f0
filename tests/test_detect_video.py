"""videolens detect on real videos: faces, tracking, counting, anonymisation, audio, empty and broken inputs."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from _detect_helpers import tiny_objects, tiny_yolo
from conftest import SAMPLE, require, shared
from videolens import VideoReader, VideoWriter
from videolens.detect import FacesAnalyzer, ObjectsAnalyzer, load_detector, write_tracks_mot
from videolens.analyze import run_analyzers
from videolens.track import read_mot


@pytest.fixture(scope="module")
def faces():
    return load_detector("faces")


@pytest.fixture(scope="module")
def short_sample(tmp_path_factory):
    """The first 3 s of the bundled sample (a talking face, with audio), cut with the writer."""
    path = tmp_path_factory.mktemp("sample") / "short.mp4"
    reader = VideoReader(SAMPLE)
    with VideoWriter(path, fps=reader.fps, size=reader.size, audio_from=SAMPLE) as w:
        for b in reader.iter_frames(0, 75, batch=25):
            w.write_batch(b.frames, b.timestamps)
    return path


def test_grid_frames_have_exactly_one_face(faces):
    clips = sorted(shared("speech", "GRID").glob("*.mpg"))[:3]
    counts = []
    for clip in clips:
        reader = VideoReader(clip)
        frames = reader.get_frames(np.linspace(0, len(reader) - 1, 6).round().astype(int))
        counts += [len(d) for d in faces.detect(list(frames))]
    assert counts == [1] * len(counts)


def test_onnx_mtcnn_matches_facenet_pytorch(faces):
    """Our ONNX Runtime cascade gives facenet-pytorch's MTCNN results (the weights' reference implementation), on
    real faces, a frame without one, and a batch of frames at once."""
    facenet = require("facenet_pytorch", "the dev extra: MTCNN's reference")
    ref = facenet.MTCNN(keep_all=True, post_process=False, device="cpu")
    frames = [VideoReader(c).get_frames([5, 50]) for c in sorted(shared("speech", "GRID").glob("*.mpg"))[:3]]
    frames = np.concatenate(frames + [VideoReader(SAMPLE).get_frames([120, 300])])
    frames = np.concatenate([frames, np.full((1, *frames.shape[1:]), 90, np.uint8)])   # flat grey: no face
    ours = faces.mtcnn.detect(frames)
    assert len(ours) == len(frames)
    found = 0
    for frame, (boxes, probs, marks) in zip(frames, ours):
        rb, rp, rm = ref.detect(frame, landmarks=True)
        if rb is None:
            assert len(boxes) == 0
            continue
        rb, rp, rm = (np.asarray(a, np.float64) for a in (rb, rp, rm))
        assert boxes.shape == rb.shape
        np.testing.assert_allclose(boxes, rb, atol=0.01)
        np.testing.assert_allclose(probs, rp, atol=1e-4)
        np.testing.assert_allclose(marks, rm, atol=0.01)
        found += len(boxes)
    assert found >= len(frames) - 1       # every GRID/sample frame shows one face


def test_faces_analyzer_contract(short_sample):
    run = run_analyzers(short_sample, [FacesAnalyzer(stride=5)], quiet=True)
    d = run.results["faces"].to_dict()
    inline = run_analyzers(short_sample, [FacesAnalyzer(stride=5, background=False)], quiet=True)
    assert inline.results["faces"].to_dict() == d     # the worker thread changes nothing but the timing
    assert [c["index"] for c in d["counts"]] == list(range(0, 75, 5))
    assert d["max_count"] == 1 and d["frames_with_faces"] == 15
    rec = d["detections"][0]["boxes"][0]
    box = rec["box"]
    assert rec["class"] == "face" and rec["track_id"] == -1 and rec["score"] > 0.9
    assert 0 <= box[0] < box[2] <= 360 and 0 <= box[1] < box[3] <= 288
    json.dumps(d)


def test_faces_analyzer_memory_does_not_grow_on_faceless_looks(short_sample):
    """Two looks a second, most without a face: each used to stay in memory as an empty Detections (~1 KB, 7 MB for
    an hour); now as an index and a time until finish(), which still returns every look, in order."""
    import tracemalloc

    faces = FacesAnalyzer(stride=1, background=False)
    faces.start(VideoReader(short_sample).info)
    blank = np.full((16, 288, 360, 3), 128, np.uint8)
    looks = 0

    def feed() -> None:
        nonlocal looks
        faces.process(blank, np.arange(looks, looks + 16) / 25.0, np.arange(looks, looks + 16))
        looks += 16

    feed()                                              # warm-up: the session's first run allocates
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(10):
            feed()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 160 * 200, grown                      # 160 looks: 156 kB when each kept a Detections
    frames = faces.finish().frames
    assert [d.frame_index for d in frames] == list(range(176)) and not any(len(d) for d in frames)
    assert frames[-1].timestamp == 175 / 25.0


def test_faces_analyzer_scales_boxes_back_to_the_video(short_sample, tmp_path):
    import cv2

    big = tmp_path / "big.mp4"
    small = VideoReader(short_sample).get_frames(range(0, 20))
    with VideoWriter(big, fps=25, size=(720, 576)) as w:
        for f in small:
            w.write(cv2.resize(f, (720, 576), interpolation=cv2.INTER_LINEAR))
    a = run_analyzers(short_sample, [FacesAnalyzer(stride=10)], end=20, quiet=True).results["faces"].frames
    b = run_analyzers(big, [FacesAnalyzer(stride=10, max_side=288)], quiet=True).results["faces"].frames
    assert [len(d) for d in a] == [len(d) for d in b] == [1, 1]
    # Detected at 360x288 both times; reported in each video's own pixels.
    assert np.allclose(b[0].xyxy, a[0].xyxy * 2, atol=15)     # MTCNN is not exactly scale-invariant


def test_detect_cli_faces_tracked_with_audio(short_sample, tmp_path, cli):
    out = tmp_path / "out"
    r = cli("detect", short_sample, "--model", "faces", "--tracker", "bytetrack", "--stride", "3", "-o", out,
            "--quiet", "--json")
    assert r.code == 0, r
    res = r.json()
    assert res["complete"] and res["frames"] == 75 and res["frames_analyzed"] == 25
    assert [t["id"] for t in res["tracks"]] == [1]
    rows = list(csv.DictReader(open(out / "detections.csv")))
    assert list(rows[0]) == ["frame", "time", "track_id", "class", "score", "x1", "y1", "x2", "y2"]
    assert [int(r["frame"]) for r in rows] == list(range(0, 75, 3))
    assert {r["track_id"] for r in rows} == {"1"} and {r["class"] for r in rows} == {"face"}
    data = json.loads((out / "detections.json").read_text())
    assert data["complete"] and len(data["frames"]) == 25 and data["summary"]["detections"] == 25
    mot = read_mot(out / "tracks.txt")
    assert sorted(mot) == list(range(0, 75, 3))
    assert np.allclose(mot[0].xyxy[0], [float(rows[0][k]) for k in ("x1", "y1", "x2", "y2")], atol=0.02)
    video = VideoReader(out / "annotated.mp4")
    assert len(video) == 75 and video.size == (360, 288)
    assert video.info.audio and abs(video.duration - 3.0) < 0.1
    from videolens import read_audio

    assert len(read_audio(out / "annotated.mp4", sample_rate=16000)) > 16000 * 2.8
    # Existing outputs are not replaced without --overwrite.
    r = cli("detect", short_sample, "--model", "faces", "-o", out, "--quiet")
    assert r.code == 2 and "already exists" in r.err


def test_anonymize_hides_every_face_on_strided_frames(short_sample, tmp_path, cli, faces):
    out = tmp_path / "anon"
    r = cli("detect", short_sample, "--anonymize", "--stride", "4", "-o", out, "--quiet", "--json")
    assert r.code == 0, r
    assert r.json()["faces_hidden"] >= 75
    video = VideoReader(out / "annotated.mp4")
    frames = video.get_frames(range(len(video)))
    assert len(frames) == 75
    found = faces.detect(list(frames))
    # Every frame, including the three of every four the detector skipped: no face left to find.
    assert [len(d) for d in found] == [0] * 75
    original = VideoReader(short_sample).get_frames([1, 2])
    assert [len(d) for d in faces.detect(list(original))] == [1, 1]


def test_objects_tracked_counted_on_synthetic_video(tmp_path_factory, tmp_path, cli):
    base = tmp_path_factory.getbasetemp()
    ckpt = tiny_yolo(base)
    video = tiny_objects(base) / "videos" / "objects_0000.mp4"
    out = tmp_path / "objects"
    r = cli("detect", video, "--model", ckpt, "--conf", "0.01", "--tracker", "sort", "--line", "0,60,160,60",
            "--zone", "0,0,80,0,80,120,0,120", "-o", out, "--quiet", "--json", "--format", "csv,json,mot")
    assert r.code == 0, r
    res = r.json()
    assert res["frames"] == 48 and res["frames_analyzed"] == 48
    assert not (out / "annotated.mp4").exists()
    counts = list(csv.DictReader(open(out / "counts.csv")))
    assert list(counts[0]) == ["frame", "time", "objects", "line1_in", "line1_out", "zone1_count"]
    assert len(counts) == 48
    line = res["counts"]["lines"][0]
    assert int(counts[-1]["line1_in"]) == line["in"] and int(counts[-1]["line1_out"]) == line["out"]
    # The analyzer gives the same tracks as the command, and writes the same MOT file.
    analyzer = ObjectsAnalyzer(str(ckpt), tracker="sort", conf=0.01)
    result = run_analyzers(video, [analyzer], quiet=True).results["objects"]
    d = result.to_dict()
    assert [t["id"] for t in d["tracks"]] == [t["id"] for t in res["tracks"]]
    assert sum(c["count"] for c in d["counts"]) == res["detections"]
    write_tracks_mot(result, tmp_path / "tracks.txt")
    assert (tmp_path / "tracks.txt").read_text() == (out / "tracks.txt").read_text()


def test_video_without_objects_and_bad_videos(tmp_path, cli, faces):
    plain = tmp_path / "plain.mp4"
    with VideoWriter(plain, fps=25, size=(96, 64)) as w:
        for i in range(20):
            w.write(np.full((64, 96, 3), 40 + i, np.uint8))
    out = tmp_path / "none"
    r = cli("detect", plain, "--model", "faces", "--tracker", "bytetrack", "-o", out, "--quiet", "--json")
    assert r.code == 0, r
    assert r.json()["detections"] == 0 and r.json()["tracks"] == []
    assert (out / "detections.csv").read_text() == "frame,time,track_id,class,score,x1,y1,x2,y2\n"
    data = json.loads((out / "detections.json").read_text())
    assert data["complete"] and len(data["frames"]) == 20 and all(f["boxes"] == [] for f in data["frames"])
    assert (out / "tracks.txt").read_text() == "" and len(VideoReader(out / "annotated.mp4")) == 20
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "junk.mp4").write_bytes(b"this is not a video" * 100)
    r = cli("detect", tmp_path / "empty.mp4", tmp_path / "junk.mp4", plain, "--model", "faces", "-o",
            tmp_path / "batch", "--quiet")
    assert r.code == 1
    assert "empty.mp4: empty file" in r.err and "junk.mp4: not a readable video" in r.err
    assert (tmp_path / "batch" / "plain" / "detections.json").is_file()
    assert not (tmp_path / "batch" / "empty").exists() or not any((tmp_path / "batch" / "empty").iterdir())
    r = cli("detect", plain, "--model", "faces", "--line", "0,0,10", "-o", tmp_path / "x")
    assert r.code == 2 and "--line" in r.err


def test_truncated_video_keeps_what_was_written(tmp_path, cli):
    src = tmp_path / "long.mp4"
    with VideoWriter(src, fps=25, size=(96, 64)) as w:
        for i in range(100):
            w.write(np.full((64, 96, 3), (i * 2) % 255, np.uint8))
    data = src.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    r = cli("detect", cut, "--model", "faces", "-o", tmp_path / "out", "--quiet", "--json")
    # A damaged file is either read up to where it breaks or rejected with a clear message; never a traceback.
    assert "Traceback" not in r.err
    if r.code == 0:
        data = json.loads((tmp_path / "out" / "detections.json").read_text())
        assert data["complete"] and len(data["frames"]) >= 1
    else:
        assert r.code == 2 and "cut.mp4" in r.err
