"""Shot detection end to end on real clips: detectors, PTS times on VFR, output files, CLI, bad input."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from conftest import SAMPLE, require, shared
from videolens import VideoError, VideoReader, VideoWriter
from videolens.shots import (AdaptiveDetector, ContentDetector, FadeDetector, HistogramDetector, detect,
                             detect_shots, make_detector)
from videolens.shots.export import csv_text, edl_text, stats_text, write_outputs
from videolens.shots.result import Transition, build_result

SAMPLE_CUTS = [75, 150, 225, 300, 375]


@pytest.fixture(scope="module")
def auto_sample():
    return detect(SAMPLE, "auto")


def test_default_detector_finds_exactly_the_sample_cuts(auto_sample):
    r = auto_sample
    assert [(t.type, t.start, t.end) for t in r.transitions] == [("cut", c, c) for c in SAMPLE_CUTS]
    assert [(s.start_frame, s.end_frame) for s in r.shots] == [(0, 74), (75, 149), (150, 224), (225, 299),
                                                               (300, 374), (375, 449)]
    assert [s.start_time for s in r.shots] == [0.0, 3.0, 6.0, 9.0, 12.0, 15.0] and r.shots[-1].end_time == 18.0
    # The public one-liner gives the same shots.
    assert [s.start_frame for s in detect_shots(SAMPLE)] == [0, *SAMPLE_CUTS]


def test_vfr_times_come_from_pts():
    # Every 3rd frame dropped: frame index / average fps would put the cuts at 3.74 s and 8.72 s.
    path = shared("shots", "goldeneye-vfr-drop3.mp4")
    for name in ("auto", "content"):
        r = detect(path, name)
        assert r.cuts == [60, 140], name
        assert [round(s.start_time, 3) for s in r.shots[1:]] == [3.754, 8.759]
        assert r.shots[1].to_dict()["start_timecode"] == "00:00:03.754"


@pytest.mark.parametrize("cls", [ContentDetector, AdaptiveDetector, HistogramDetector])
def test_classical_cut_detectors_on_real_clips(cls):
    assert detect(shared("shots", "issue-134-rotate.mp4"), cls()).cuts == [90, 210]     # rotated 1280x544
    assert detect(shared("shots", "counter.mp4"), cls()).cuts == [10, 20]               # 1080p, 10 fps


def test_fade_detector_on_testvideo():
    r = detect(shared("shots", "testvideo.mp4"), FadeDetector())
    got = [(t.type, t.start, t.end) for t in r.transitions]
    # Cut from the black title at 30, cut to black at 180, its fade-in (~211-240), the fade out and in through
    # black (331-423) and the fade-out at the end (663-694): read off the frames' mean intensity.
    assert [g[0] for g in got] == ["cut", "cut", "fade", "fade", "fade"]
    assert got[0][1] == 30 and got[1][1] == 180
    for (_, a, b), (ta, tb) in zip(got[2:], [(210, 240), (331, 423), (663, 694)]):
        assert abs(a - ta) <= 2 and abs(b - tb) <= 2
    assert "luma_mean" in r.scores and len(r.scores["luma_mean"]) == 720


def test_min_shot_len_keeps_the_stronger_boundary():
    ts = np.arange(100) / 25.0
    trans = [Transition("cut", 20, 20, 30.0), Transition("cut", 27, 27, 80.0), Transition("cut", 60, 60, 40.0),
             Transition("cut", 5, 5, 99.0)]
    r = build_result("x.mp4", "content", trans, ts, 4.0, 25.0, min_shot_len=0.5)
    # 27 beats 20 (0.28 s apart); 5 makes a first shot of 0.2 s; 60 is 1.32 s after 27.
    assert r.cuts == [27, 60]
    assert build_result("x.mp4", "content", trans, ts, 4.0, 25.0, min_shot_len=0.0).cuts == [5, 20, 27, 60]
    # Through a detector: a 2 s minimum on sample.mp4 keeps all cuts (3 s apart), 3.5 s keeps every other one.
    assert detect(SAMPLE, "histogram", threshold=0.08, min_shot_len=2.0).cuts == SAMPLE_CUTS
    assert len(detect(SAMPLE, "histogram", threshold=0.08, min_shot_len=3.5).cuts) == 2


def test_csv_matches_pyscenedetect_list_scenes(auto_sample):
    text = csv_text(auto_sample)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Timecode List:", "00:00:03.000", "00:00:06.000", "00:00:09.000", "00:00:12.000",
                       "00:00:15.000"]
    assert rows[2] == ["1", "1", "00:00:00.000", "0.000", "75", "00:00:03.000", "3.000", "75", "00:00:03.000", "3.000"]
    assert len(rows) == 2 + 6
    sd = require("scenedetect", "the reference the CSV is compared with")
    from scenedetect import FrameTimecode
    from scenedetect.output import write_scene_list

    # PySceneDetect 0.7 writing the same scenes (constant 25 fps) gives the same bytes, cut list row included.
    fps = 25.0
    bounds = [0, *SAMPLE_CUTS, 450]
    scenes = [(FrameTimecode(a, fps), FrameTimecode(b, fps)) for a, b in zip(bounds[:-1], bounds[1:])]
    buf = io.StringIO()
    write_scene_list(buf, scenes, cut_list=[FrameTimecode(c, fps) for c in SAMPLE_CUTS])
    assert text == buf.getvalue(), sd.__version__


def test_edl_json_stats_files(auto_sample, tmp_path):
    written = write_outputs(auto_sample, tmp_path, formats=("json", "csv", "edl"), stats=True)
    assert sorted(p.name for p in written) == ["shots.csv", "shots.edl", "shots.json", "stats.csv"]
    assert not list(tmp_path.glob(".*partial*"))
    edl = (tmp_path / "shots.edl").read_text().splitlines()
    assert edl[1:3] == ["TITLE: sample", "FCM: NON-DROP FRAME"]
    events = [line for line in edl if line[:3].isdigit()]
    assert len(events) == 6
    assert events[1].split()[-4:] == ["00:00:03:00", "00:00:06:00", "00:00:03:00", "00:00:06:00"]
    doc = json.loads((tmp_path / "shots.json").read_text())
    assert doc["detector"] == "auto" and doc["counts"]["shots"] == 6 and doc["counts"]["cut"] == 5
    assert set(doc["shots"][0]) >= {"index", "start_frame", "end_frame", "start_time", "end_time"}
    assert set(doc["transitions"][0]) >= {"type", "start", "end", "start_time", "end_time"}
    stats = list(csv.reader(io.StringIO((tmp_path / "stats.csv").read_text())))
    assert stats[0][:2] == ["frame", "time"] and "transition_prob" in stats[0] and "cut_prob" in stats[0]
    assert len(stats) == 451 and stats[76][0] == "75" and float(stats[76][1]) == pytest.approx(3.0)
    # analyze's use: only shots.csv.
    only = tmp_path / "only"
    assert [p.name for p in write_outputs(auto_sample, only, formats=("csv",))] == ["shots.csv"]
    assert stats_text(auto_sample) == (tmp_path / "stats.csv").read_text()
    assert edl_text(auto_sample) == (tmp_path / "shots.edl").read_text()


def test_cli_shots_outputs_json_and_batch_errors(cli, tmp_path):
    out = tmp_path / "one"
    r = cli("shots", SAMPLE, "-o", out, "--detector", "content", "--threshold", "10", "--thumbnails", "--json")
    assert r.code == 0, r
    doc = r.json()
    assert doc["detector"] == "content" and doc["settings"]["threshold"] == 10.0
    assert [s["start_frame"] for s in doc["shots"]] == [0, *SAMPLE_CUTS]
    assert sorted(p.name for p in out.iterdir()) == ["shots.csv", "shots.edl", "shots.json", "thumbnails"]
    thumbs = sorted((out / "thumbnails").iterdir())
    assert [p.name for p in thumbs] == [f"{k:03d}.jpg" for k in range(6)]
    # Each thumbnail is its shot's middle frame (JPEG-close to it, far from the other shots' middle frames).
    from PIL import Image

    middles = VideoReader(SAMPLE).get_frames([(s["start_frame"] + s["end_frame"]) // 2 for s in doc["shots"]])
    for k, p in enumerate(thumbs):
        img = np.asarray(Image.open(p).convert("RGB")).astype(float)
        d = [np.abs(img - m).mean() for m in middles.astype(float)]
        assert int(np.argmin(d)) == k and d[k] < 4
    # Existing outputs: a one-line error naming the file, exit 2; --overwrite replaces them.
    r = cli("shots", SAMPLE, "-o", out, "--detector", "content")
    assert r.code == 2 and "shots.json: already exists" in r.err and "Traceback" not in r.err
    assert cli("shots", SAMPLE, "-o", out, "--detector", "content", "--overwrite", "--quiet").code == 0
    # A batch with one bad input: the good one is done, the bad one reported, exit 1.
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video\n" * 50)
    r = cli("shots", SAMPLE, bad, "-o", tmp_path / "batch", "--format", "csv")
    assert r.code == 1
    assert "notes.mp4: not a readable video file" in r.err and "Traceback" not in r.err
    assert (tmp_path / "batch" / "sample" / "shots.csv").exists()
    assert "6 shots" in r.out and "transitions: 5 cuts" in r.out
    # Every input bad: exit 2. Bad options: exit 2 with a message.
    assert cli("shots", bad, "-o", tmp_path / "b2").code == 2
    r = cli("shots", SAMPLE, "-o", tmp_path / "b3", "--format", "xml")
    assert r.code == 2 and "unknown format 'xml'" in r.err
    r = cli("shots", SAMPLE, "-o", tmp_path / "b4", "--detector", "learned", "--threshold", "3")
    assert r.code == 2 and "between 0 and 1" in r.err


def _write(path, frames, fps=25):
    with VideoWriter(path, fps=fps, size=(frames.shape[2], frames.shape[1])) as w:
        for f in frames:
            w.write(f)
    return path


def test_bad_inputs_give_an_answer_or_one_line(cli, tmp_path):
    rng = np.random.default_rng(0)
    # Shorter than the learned model's window (and its context): still a valid answer, with the cut in it.
    frames = VideoReader(SAMPLE).get_frames(range(69, 81))            # the sample's cut at 75 is frame 6 here
    short = _write(tmp_path / "short.mp4", frames)
    for name, threshold in (("auto", None), ("learned", None), ("content", 15)):
        r = detect(short, name, threshold=threshold, min_shot_len=0.1)
        assert r.frames == 12 and r.cuts == [6], name
    # One frame, and a still image: one shot.
    one = _write(tmp_path / "one.mp4", frames[:1])
    png = tmp_path / "still.png"
    from PIL import Image

    Image.fromarray(frames[0]).save(png)
    for path in (one, png):
        shots = detect_shots(path)
        assert [(s.start_frame, s.end_frame) for s in shots] == [(0, 0)]
    # No video stream: a one-line error.
    with pytest.raises(VideoError, match="no video stream"):
        detect(shared("speech", "faster-whisper", "jfk.flac"))
    r = cli("shots", shared("speech", "faster-whisper", "jfk.flac"), "-o", tmp_path / "x")
    assert r.code == 2 and "no video stream" in r.err and "Traceback" not in r.err
    # A corrupt middle: garbage over 20% of the file; the damage is counted, the answer still covers every frame.
    data = bytearray(SAMPLE.read_bytes())
    mid = len(data) // 2
    data[mid:mid + len(data) // 5] = rng.integers(0, 256, len(data) // 5, dtype=np.uint8).tobytes()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(data))
    r = detect(broken)
    assert r.shots[0].start_frame == 0 and r.shots[-1].end_frame == r.frames - 1
    assert all(x.end_frame + 1 == y.start_frame for x, y in zip(r.shots, r.shots[1:]))
    assert r.cuts[:2] == SAMPLE_CUTS[:2]          # the undamaged first part is right
    assert r.settings["bad_frames"] > 0


def test_registry_and_settings_errors():
    from videolens import VideolensError

    assert make_detector("adaptive", threshold=2.5).settings()["threshold"] == 2.5
    with pytest.raises(VideolensError, match="--detector magic: unknown shot detector"):
        make_detector("magic")
    with pytest.raises(VideolensError, match="content detector: weights"):
        make_detector("content", weights=(0, 0, 0, 0))


def test_motion_check_frames_live_in_a_temporary_file():
    """The motion check keeps the luma of every frame until the shots are built (1.3 KB a frame at 48x27, 117 MB for
    an hour): in memory that was most of what a one-hour `analyze` grew by, so it goes to a temporary file. Frames
    read back are the ones added, in order, across batches; a slow pan is motion, unrelated pictures are not."""
    import tracemalloc

    from videolens.shots.motioncheck import MotionCheck, luma

    rng = np.random.default_rng(0)
    scene = (rng.random((27, 200, 3)) * 255).astype(np.uint8)
    pan = np.stack([scene[:, k // 4:k // 4 + 48] for k in range(150)])      # one pixel every 4 frames
    check = MotionCheck(min_response=0.5, offset=2)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(20):                             # 3,000 frames: 3.9 MB of luma if they stayed in memory
            for batch in np.array_split(pan, 5):
                check.add(batch)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(check) == 3000 and grown < 300_000, grown
    assert np.array_equal(check.frame(1234), luma(pan[1234 % 150][None])[0])
    assert np.array_equal(check.frames()[[7, 2999]], luma(pan[[7, 149]]))
    assert check.is_motion(40, 50, "dissolve") and not check.is_motion(40, 50, "cut")
    with pytest.raises(IndexError):
        check.frame(3000)
    check.reset()
    assert len(check) == 0 and check.frames().shape[0] == 0
    check.add((rng.random((150, 27, 48, 3)) * 255).astype(np.uint8))       # unrelated pictures on both sides
    assert not check.is_motion(40, 50, "dissolve")


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth random picture (blurred noise), the kind phase correlation locks onto."""
    import cv2

    return cv2.GaussianBlur((rng.random((h, w)) * 255).astype(np.float32), (0, 0), 1.0).clip(0, 255).astype(np.uint8)


def test_motion_check_pan_and_whip_tests():
    """The pan test drops a "dissolve" over frames that slide by one fast shift each (3 px a frame at 48 px wide,
    above its 0.04 of the width) and leaves a slow pan, a real dissolve and a fade through black alone; the whip test
    drops a cut among frames that match nowhere and keeps one between two still shots."""
    from videolens.shots.motioncheck import MotionCheck

    rng = np.random.default_rng(3)
    scene = _texture(rng, 27, 400)
    a, b = _texture(rng, 27, 48), _texture(rng, 27, 48)
    check = MotionCheck(min_response=1.5, pan_shift=0.04, pan_response=0.5, whip_shift=0.15)   # before/after: off

    check.add_luma(np.stack([scene[:, 3 * k:3 * k + 48] for k in range(100)]))                  # a fast pan
    assert check.is_pan(40, 50) and check.is_motion(40, 50, "wipe")
    assert check.pair(45)[0] == pytest.approx(3 / 48, abs=0.01) and check.pair(45)[1] > 0.5
    assert not check.is_whip(45) and not check.is_motion(45, 45, "cut")
    check.reset()

    check.add_luma(np.stack([scene[:, k // 4:k // 4 + 48] for k in range(100)]))               # a slow pan
    assert not check.is_pan(40, 50)
    check.reset()

    mix = [a] * 40 + [np.uint8(a * (1 - t) + b * t) for t in np.linspace(0, 1, 12)] + [b] * 48
    check.add_luma(np.stack(mix))                                                               # a dissolve
    assert not check.is_pan(40, 51) and not check.is_motion(40, 51, "dissolve")
    check.reset()

    fade = [a] * 40 + [np.uint8(a * g) for g in np.linspace(1, 0, 6)] + [np.uint8(b * g) for g in np.linspace(0, 1, 6)]
    check.add_luma(np.stack(fade + [b] * 48))                                                   # through black
    assert not check.is_pan(40, 51)
    check.reset()

    check.add_luma(np.stack([a] * 50 + [b] * 50))                                               # a cut
    assert not check.is_whip(50) and not check.is_motion(50, 50, "cut")
    check.reset()

    check.add_luma(np.stack([_texture(rng, 27, 48) for _ in range(100)]))                      # nothing matches
    assert check.is_whip(50) and check.is_motion(50, 50, "cut")
    assert MotionCheck().settings() == {"min_response": 0.8, "offset": 2}                      # both tests off
    assert not MotionCheck().is_motion(50, 50, "cut")
    with pytest.raises(ValueError, match="pan_shift is a fraction"):
        MotionCheck(pan_shift=2.0)


def test_the_last_shot_is_as_long_as_the_others():
    """min_shot_len holds at both ends of the video: a transition whose new shot would last less than it (the
    learned detector's "dissolves" into the last frames of a moving shot) is dropped, one just long enough stays."""
    from videolens.shots.result import Transition, build_result

    ts = np.arange(300) / 25.0
    found = [Transition("cut", 5, 5, 1.0), Transition("cut", 100, 100, 1.0), Transition("dissolve", 280, 285, 0.9),
             Transition("dissolve", 292, 299, 0.9)]
    res = build_result("x.mp4", "test", found, ts, 12.0, 25.0, min_shot_len=0.5)
    assert [(t.start, t.end) for t in res.transitions] == [(100, 100), (280, 285)]   # 283 -> 12.0 s: 0.68 s
    assert res.shots[-1].start_frame == 283 and res.shots[-1].end_time == 12.0
    cuts = [Transition("cut", 287, 287, 1.0), Transition("cut", 288, 288, 1.0)]
    kept = [[t.start for t in build_result("x.mp4", "test", [c], ts, 12.0, 25.0, min_shot_len=0.5).transitions]
            for c in cuts]
    assert kept == [[287], []]                       # the last shot: 11.48 -> 12.0 s (0.52 s), 11.52 -> 12.0 (0.48)


_CAPPED_CHECK = """
import resource, signal, sys
import numpy as np
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)      # a write past the limit fails with EFBIG, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))
from videolens.shots.motioncheck import MotionCheck
frames = (np.random.default_rng(0).random((10, 27, 48, 3)) * 255).astype(np.uint8)
check = MotionCheck()
for k in range(0, 10, 2):
    check.add(frames[k:k + 2])
kept = check.frames()
print(len(check), kept.shape, int(kept.sum()), int(check.frame(9).sum()))
"""


def test_motion_check_goes_on_in_memory_when_its_temporary_file_cannot_grow():
    """A full TMPDIR (here: a 3,000-byte file size limit, the 13 KB of luma meet it on the third batch) is not the
    run's failure: the frames written so far are read back and the rest stays in memory."""
    import subprocess
    import sys

    from videolens.shots.motioncheck import MotionCheck

    frames = (np.random.default_rng(0).random((10, 27, 48, 3)) * 255).astype(np.uint8)
    free = MotionCheck()
    free.add(frames)
    expected = f"10 (10, 27, 48) {int(free.frames().sum())} {int(free.frame(9).sum())}"
    r = subprocess.run([sys.executable, "-c", _CAPPED_CHECK], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == expected, (r.stdout, r.stderr)
