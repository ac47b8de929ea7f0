"""Tests of the synthetic dataset generators (``videolens datasets make``): real files, decoded back.

Every set is generated into a temporary folder at a tiny size and read back with VideoReader; the checks compare
the ground truth with the pixels, not with the generator's code.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from videolens.datasets import KINDS, make_dataset
from videolens.errors import VideolensError
from videolens.io.reader import VideoReader

MOTION_CLASSES = ["move_left", "move_right", "move_up", "move_down", "rotate_cw", "rotate_ccw", "grow", "shrink",
                  "static"]


def tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def decode(path: Path, gray: bool = False) -> np.ndarray:
    with VideoReader(path) as r:
        return r.get_frames(np.arange(len(r)), gray=gray)


# ---------------------------------------------------------------------------------------------------------------
# arguments


def test_kinds_and_bad_arguments(tmp_path):
    assert KINDS == ("motion", "edits", "objects", "fastmotion")
    bad = [
        dict(kind="nope"),
        dict(kind="motion", size=(63, 64)),          # odd: H.264 would pad it
        dict(kind="motion", size=(8, 8)),
        dict(kind="motion", size="64x64"),
        dict(kind="motion", num=0),
        dict(kind="motion", frames=1),
        dict(kind="motion", seed=-1),
        dict(kind="motion", fps=0),
        dict(kind="motion", source=str(tmp_path)),  # only edits takes footage
        dict(kind="objects", num=1, frames=2, images=-1),
        dict(kind="edits", source=str(tmp_path / "missing")),
        dict(kind="edits", source=str(tmp_path)),   # exists, but holds no clips
        dict(kind="fastmotion"),                    # needs real footage
        dict(kind="fastmotion", source=str(tmp_path)),
    ]
    for args in bad:
        kind = args.pop("kind")
        with pytest.raises(VideolensError) as info:
            make_dataset(kind, tmp_path / "out", progress=False, **args)
        msg = str(info.value)
        assert msg and "\n" not in msg, (kind, args)
    (tmp_path / "file").write_text("x")
    with pytest.raises(VideolensError):
        make_dataset("motion", tmp_path / "file", num=1, progress=False)


# ---------------------------------------------------------------------------------------------------------------
# determinism


@pytest.mark.parametrize("kind,args", [
    ("motion", dict(num=1, size=(32, 32), frames=6)),
    ("edits", dict(num=1, size=(64, 48), frames=60)),
    ("objects", dict(num=1, size=(64, 48), frames=15, images=3)),
])
def test_same_seed_same_bytes_other_seed_other_data(tmp_path, kind, args):
    a = make_dataset(kind, tmp_path / "a", seed=11, progress=False, **args)
    b = make_dataset(kind, tmp_path / "b", seed=11, progress=False, **args)
    make_dataset(kind, tmp_path / "c", seed=12, progress=False, **args)
    da, db, dc = tree_digest(tmp_path / "a"), tree_digest(tmp_path / "b"), tree_digest(tmp_path / "c")
    assert sorted(a["files"]) == sorted(da) == sorted(b["files"])
    assert da == db                       # every file, videos included, byte for byte
    assert set(da) == set(dc)
    videos = [k for k in da if k.endswith(".mp4")]
    truth = [k for k in da if k.endswith((".json", ".txt"))]
    assert videos and truth
    assert all(da[k] != dc[k] for k in videos)
    assert any(da[k] != dc[k] for k in truth if not k.endswith("classInd.txt"))
    json.dumps(a)  # the summary is JSON-able


def test_motion_item_does_not_depend_on_num(tmp_path):
    make_dataset("motion", tmp_path / "one", seed=4, num=1, size=(32, 32), frames=6, progress=False)
    make_dataset("motion", tmp_path / "three", seed=4, num=3, size=(32, 32), frames=6, progress=False)
    one, three = tree_digest(tmp_path / "one"), tree_digest(tmp_path / "three")
    for name in one:
        if name.endswith(".mp4"):
            assert one[name] == three[name]


# ---------------------------------------------------------------------------------------------------------------
# motion

MOTION_NUM, MOTION_SIZE, MOTION_FRAMES = 5, (64, 64), 12


@pytest.fixture(scope="module")
def motion_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("motion")
    summary = make_dataset("motion", out, seed=7, num=MOTION_NUM, size=MOTION_SIZE, frames=MOTION_FRAMES,
                           progress=False)
    return out, summary


def test_motion_layout(motion_set):
    out, summary = motion_set
    lines = (out / "classInd.txt").read_text().splitlines()
    class_ind = {}
    for i, line in enumerate(lines):
        num, name = line.split(" ")
        assert int(num) == i + 1
        class_ind[name] = int(num)
    assert list(class_ind) == MOTION_CLASSES
    train = [line.split(" ") for line in (out / "trainlist.txt").read_text().splitlines()]
    test = (out / "testlist.txt").read_text().splitlines()
    assert all(len(t) == 2 for t in train)
    for path, label in train:
        assert class_ind[path.split("/")[0]] == int(label)
    train_files = {p for p, _ in train}
    assert not train_files & set(test)
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*.mp4")}
    assert train_files | set(test) == on_disk
    assert len(on_disk) == MOTION_NUM * len(MOTION_CLASSES) == summary["counts"]["clips"]
    for cls in MOTION_CLASSES:   # stratified: every class has the same number of test clips (20%)
        assert sum(t.startswith(cls + "/") for t in test) == round(MOTION_NUM / 5)
    labels = json.loads((out / "labels.json").read_text())
    assert labels["classes"] == MOTION_CLASSES
    assert {c["file"] for c in labels["clips"]} == on_disk
    for c in labels["clips"]:
        assert c["split"] == ("test" if c["file"] in test else "train")
        assert labels["classes"][c["class_index"]] == c["class"] == c["file"].split("/")[0]
    for name in sorted(on_disk)[::7]:
        with VideoReader(out / name) as r:
            assert len(r) == MOTION_FRAMES and r.size == MOTION_SIZE


def _object_flow(frames: np.ndarray, track: dict) -> np.ndarray:
    """Median over frame pairs of the optical flow on the main object: mean (u, v), curl and divergence."""
    import cv2

    h, w = frames.shape[1:3]
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    vals = []
    for t in range(len(frames) - 1):
        flow = cv2.calcOpticalFlowFarneback(frames[t], frames[t + 1], None, 0.5, 2, 9, 3, 5, 1.1, 0)
        cx, cy, r = track["x"][t], track["y"][t], track["radius"][t]
        dx, dy = xx - cx, yy - cy
        m = np.hypot(dx, dy) < 0.6 * r
        if m.sum() < 3:
            continue
        u, v = flow[..., 0][m], flow[..., 1][m]
        vals.append([u.mean(), v.mean(), np.mean(dx[m] * v - dy[m] * u) / r, np.mean(dx[m] * u + dy[m] * v) / r])
    return np.median(np.array(vals), axis=0)


def test_motion_pixels_move_as_labelled(motion_set):
    """Optical flow measured on the decoded object region has the direction the class (and labels.json) says."""
    out, _ = motion_set
    labels = json.loads((out / "labels.json").read_text())
    flows: dict[str, list[np.ndarray]] = {}
    for c in labels["clips"]:
        flows.setdefault(c["class"], []).append(_object_flow(decode(out / c["file"], gray=True), c["track"]))
    expect = {"move_left": (0, -1), "move_right": (0, 1), "move_up": (1, -1), "move_down": (1, 1),
              "rotate_cw": (2, 1), "rotate_ccw": (2, -1), "grow": (3, 1), "shrink": (3, -1)}
    for cls, (k, sign) in expect.items():
        f = np.array(flows[cls])
        assert np.mean(np.sign(f[:, k]) == sign) >= 0.8, (cls, f[:, k])
    moving = np.abs(np.array(flows["move_left"] + flows["move_right"])[:, 0]).mean()
    still = np.abs(np.array(flows["static"])[:, :2]).mean()
    assert still < 0.25 * moving
    # Labelled speeds agree with the measured flow (px/frame), within the precision of dense flow at this size.
    speeds = [c["speed"] for c in labels["clips"] if c["class"] in ("move_left", "move_right")]
    assert abs(moving - np.mean(speeds)) < 0.35 * np.mean(speeds)


def test_motion_boxes_hold_the_pixels_that_move(motion_set):
    """labels.json's per-frame main-object boxes: where the decoded pixels change between two frames of a moving
    clip is inside the two frames' boxes (distractors drift slowly and change little), and the changes reach the
    boxes' sides (the boxes are tight)."""
    out, _ = motion_set
    labels = json.loads((out / "labels.json").read_text())
    assert "box_format" in labels
    inside = total = 0
    reach = []
    for c in labels["clips"]:
        boxes = np.array(c["boxes"])
        assert boxes.shape == (MOTION_FRAMES, 4)
        assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2:] <= np.array(MOTION_SIZE))
        assert np.all(boxes[:, 2:] > boxes[:, :2])
        if not c["class"].startswith("move_"):
            continue
        f = decode(out / c["file"]).astype(np.int16)
        for t in range(len(f) - 1):
            changed = np.abs(f[t + 1] - f[t]).max(axis=2) > 40
            x1, y1 = np.floor(np.minimum(boxes[t, :2], boxes[t + 1, :2])).astype(int) - 1
            x2, y2 = np.ceil(np.maximum(boxes[t, 2:], boxes[t + 1, 2:])).astype(int) + 1
            box = np.zeros_like(changed)
            box[max(y1, 0):y2, max(x1, 0):x2] = True
            inside += int((changed & box).sum())
            total += int(changed.sum())
            ys, xs = np.nonzero(changed & box)
            if len(xs):
                reach.append(((np.ptp(xs) + 1) / (x2 - x1 - 2), (np.ptp(ys) + 1) / (y2 - y1 - 2)))
    assert total > 1000
    assert inside / total >= 0.85, inside / total
    assert np.all(np.median(reach, axis=0) >= 0.8), np.median(reach, axis=0)


# What the generator wrote before it wrote boxes (commit 1b348f6), for seed 5, 2 clips a class, 48x32, 6 frames:
# the rendered frames and the labels (without the boxes) must stay exactly these. The videos' bytes too, with the
# PyAV (and so libx264) of constraints.txt that they were recorded with.
_BEFORE_BOXES = {"frames": "2f46137aab03395f41ed51b7a810f3b95e134d72eded8c4908ee6396e9c52343",
                 "labels": "2e23ff3c8252adda81508a7d638c4eebdb6f3ff50c8d5065fde2b9b776d57f16",
                 "videos": "75496b2dc745b42516d9a42bfef3a9d4b9d687f783394dfe45398b6731a6409f", "av": "18.1.0"}


def test_motion_boxes_leave_videos_and_labels_as_they_were(tmp_path):
    import av

    from videolens.datasets import _common as C
    from videolens.datasets.motion import CLASSES, render_clip, render_clip_and_boxes, sample_clip

    root = tmp_path / "m"
    make_dataset("motion", root, seed=5, num=2, size=(48, 32), frames=6, progress=False)
    frames = hashlib.sha256()
    for ci, cls in enumerate(CLASSES):
        for rng in C.child_rngs(5, 2, stream=ci):
            spec = sample_clip(rng, cls, 48, 32, 6)
            pixels = render_clip(spec)
            assert np.array_equal(pixels, render_clip_and_boxes(spec)[0])
            frames.update(pixels.tobytes())
    assert frames.hexdigest() == _BEFORE_BOXES["frames"]
    labels = json.loads((root / "labels.json").read_text())
    assert labels.pop("box_format")
    for c in labels["clips"]:
        assert len(c.pop("boxes")) == 6
    lists = "".join((root / n).read_text() for n in ("classInd.txt", "trainlist.txt", "testlist.txt"))
    assert hashlib.sha256((json.dumps(labels, sort_keys=True) + lists).encode()).hexdigest() == _BEFORE_BOXES["labels"]
    videos = hashlib.sha256()
    for p in sorted(root.rglob("*.mp4")):
        videos.update(f"{p.relative_to(root).as_posix()} {hashlib.sha256(p.read_bytes()).hexdigest()}\n".encode())
    if av.__version__ == _BEFORE_BOXES["av"]:
        assert videos.hexdigest() == _BEFORE_BOXES["videos"]


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the two empirical CDFs."""
    a, b = np.sort(a.ravel()), np.sort(b.ravel())
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / a.size
    cdf_b = np.searchsorted(b, grid, side="right") / b.size
    return float(np.abs(cdf_a - cdf_b).max())


def test_motion_single_frames_do_not_tell_pairs_apart():
    """A random frame of a class looks like a random frame of its pair; the change over time differs."""
    from videolens.datasets import motion
    from videolens.datasets._common import child_rngs

    w, h, frames, n = 64, 48, 16, 600
    # Two-sample KS critical value at p = 0.001 for n clips each (frames of one clip are not independent draws).
    crit = 1.95 * math.sqrt(2 / n)
    tracks = {}
    for ci, cls in enumerate(motion.CLASSES):
        specs = [motion.sample_clip(rng, cls, w, h, frames) for rng in child_rngs(1, n, stream=ci)]
        tracks[cls] = {"x": np.array([s.x for s in specs]), "y": np.array([s.y for s in specs]),
                       "size": np.array([s.radius for s in specs]),
                       "angle": np.mod(np.array([s.angle for s in specs]), 2 * math.pi)}
    pairs = [("move_left", "move_right", "x"), ("move_up", "move_down", "y"), ("rotate_ccw", "rotate_cw", "angle"),
             ("shrink", "grow", "size")]
    for a, b, moving in pairs:
        for key in ("x", "y", "size", "angle"):
            # pooled over all frames: the distribution a frame picked at random is drawn from
            assert _ks(tracks[a][key], tracks[b][key]) < crit, (a, b, key)
        # over time they differ: in every clip the moving quantity falls in the first class and rises in the other
        da, db = tracks[a][moving], tracks[b][moving]
        if moving == "angle":
            da, db = np.unwrap(da, axis=1), np.unwrap(db, axis=1)
        assert np.all(np.diff(da, axis=1) < 0) and np.all(np.diff(db, axis=1) > 0), (a, b)
    # A coordinate that does not move in a class is drawn like one frame of a moving one: no single-frame tell
    # between static and moving classes either.
    for cls in ("static", "rotate_cw", "grow"):
        assert _ks(tracks[cls]["x"], tracks["move_left"]["x"]) < crit
    for cls in ("static", "move_left"):
        assert _ks(tracks[cls]["size"], tracks["grow"]["size"]) < crit
    assert np.ptp(tracks["static"]["x"], axis=1).max() == 0


# ---------------------------------------------------------------------------------------------------------------
# edits

EDIT_SIZE, EDIT_FRAMES = (128, 72), 240


@pytest.fixture(scope="module")
def edits_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("edits")
    summary = make_dataset("edits", out, seed=5, num=6, size=EDIT_SIZE, frames=EDIT_FRAMES, progress=False)
    return out, summary


def _check_schema(truth: dict, n_frames: int) -> None:
    assert set(truth) == {"frames", "fps", "transitions"}
    assert truth["frames"] == n_frames
    prev_pure_start = 0
    for t in truth["transitions"]:
        assert set(t) == {"type", "start", "end"}
        assert t["type"] in ("cut", "dissolve", "fade", "wipe")
        assert 0 < t["start"] <= t["end"] < n_frames
        if t["type"] == "cut":
            assert t["start"] == t["end"]
        else:
            assert 6 <= t["end"] - t["start"] + 1 <= 30
        assert t["start"] - prev_pure_start >= 12        # the shot before shows >= 12 frames on its own
        prev_pure_start = t["start"] if t["type"] == "cut" else t["end"] + 1
    assert n_frames - prev_pure_start >= 12


def _pure_mask(truth: dict) -> np.ndarray:
    """True for frames that show one shot only."""
    pure = np.ones(truth["frames"], bool)
    for t in truth["transitions"]:
        if t["type"] != "cut":
            pure[t["start"]:t["end"] + 1] = False
    return pure


def test_edits_layout_and_schema(edits_set):
    out, summary = edits_set
    index = json.loads((out / "transitions.json").read_text())
    assert sorted(index) == sorted(p.name for p in out.glob("*.mp4")) and len(index) == 6
    types = set()
    for name, truth in index.items():
        assert json.loads((out / name.replace(".mp4", ".json")).read_text()) == truth
        with VideoReader(out / name) as r:
            assert len(r) == EDIT_FRAMES and r.size == EDIT_SIZE
            assert truth["fps"] == pytest.approx(r.fps)
        _check_schema(truth, EDIT_FRAMES)
        types |= {t["type"] for t in truth["transitions"]}
    assert types == {"cut", "dissolve", "fade", "wipe"}
    assert summary["counts"]["transitions"] == sum(len(t["transitions"]) for t in index.values())


def test_edits_transitions_are_visible_where_recorded(edits_set):
    out, _ = edits_set
    index = json.loads((out / "transitions.json").read_text())
    details = json.loads((out / "details.json").read_text())["videos"]
    dissolve_ok = []
    for name, truth in index.items():
        f = decode(out / name).astype(np.float32)
        diff = np.zeros(len(f))
        diff[1:] = np.abs(np.diff(f, axis=0)).mean(axis=(1, 2, 3))     # diff[i]: frame i against frame i-1
        pure = _pure_mask(truth)
        cuts = [t["start"] for t in truth["transitions"] if t["type"] == "cut"]
        within = np.array([diff[i] for i in range(1, len(f)) if pure[i] and pure[i - 1] and i not in cuts])
        base = np.median(within)
        brightness = f.mean(axis=(1, 2, 3))
        plain = (f.std(axis=(1, 2)).max(axis=1) < 4)               # a frame of one flat colour
        for t, d in zip(truth["transitions"], details[name]["transitions"]):
            s, e = t["start"], t["end"]
            if t["type"] == "cut":
                assert diff[s] > max(4 * base, 10), (name, t, diff[s], base)
                assert diff[s] >= diff[s - 1] and diff[s] >= diff[s + 1]
            elif t["type"] == "fade":
                level = 255 if d["color"] == "white" else 0
                inside = np.flatnonzero(plain[s:e + 1]) + s
                assert inside.size >= 2 and np.all(np.abs(brightness[inside] - level) < 12), (name, t)
                assert not plain[s - 1] and not plain[e + 1]
                # fading out, then in: the first frame is already mixed with the fade colour, the last still is
                assert abs(brightness[s] - level) < abs(brightness[s - 1] - level) + 1
                assert abs(brightness[e] - level) < abs(brightness[e + 1] - level) + 1
                _check_gradual_ends(f, s, e, level - f[s - 1], f[e + 1] - level)
            elif t["type"] == "dissolve":
                m = (s + e) // 2
                a, b = f[s - 1], f[e + 1]
                mix = np.abs(f[m] - (a + b) / 2).mean()
                dissolve_ok.append(mix < min(np.abs(f[m] - a).mean(), np.abs(f[m] - b).mean()))
                _check_gradual_ends(f, s, e, b - a, b - a)
            else:
                _check_wipe(f, s, e, d["direction"])
        # every flat frame (black or white) belongs to a fade
        for i in np.flatnonzero(plain):
            assert any(t["type"] == "fade" and t["start"] <= i <= t["end"] for t in truth["transitions"]), (name, i)
    assert dissolve_ok and np.mean(dissolve_ok) >= 0.75


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))


def _check_gradual_ends(f: np.ndarray, s: int, e: int, toward_start: np.ndarray, toward_end: np.ndarray) -> None:
    """The recorded first frame is the first to move toward the transition's target, the recorded last frame the
    last one before the picture stops doing so: the frame change there (and not one frame earlier or later)
    correlates with the direction of the blend."""
    assert _corr(f[s] - f[s - 1], toward_start) > _corr(f[s - 1] - f[s - 2], toward_start) + 0.1
    assert _corr(f[e + 1] - f[e], toward_end) > _corr(f[e + 2] - f[e + 1], toward_end) + 0.1


def _check_wipe(f: np.ndarray, s: int, e: int, direction: str) -> None:
    """The band that turns to the new shot at the first and last wipe frames is where the pixels change most."""
    def profile(i):  # change from frame i-1 to i, along the direction the edge travels
        d = np.abs(f[i] - f[i - 1]).mean(axis=2)
        p = d.mean(axis=0) if direction in ("left", "right") else d.mean(axis=1)
        return p[::-1] if direction in ("left", "up") else p

    n = len(profile(s))
    width = n / (e - s + 2)                  # the edge moves this far per frame
    first, last = profile(s), profile(e + 1)
    band = max(1, int(width))
    assert first[:band].mean() > 2 * first[band + 2:].mean() + 5, (direction, first)
    assert last[n - band:].mean() > 2 * last[:n - band - 2].mean() + 5, (direction, last)
    # half way, the leading half shows the new shot: it matches the frame after the wipe better than before
    m = (s + e) // 2
    cols = lambda img: (img.mean(axis=2).mean(axis=0) if direction in ("left", "right")  # noqa: E731
                        else img.mean(axis=2).mean(axis=1))
    frac = (m - s + 1) / (e - s + 2)
    k = int(n * frac)
    to_b = np.abs(cols(f[m] - f[e + 1]))
    to_a = np.abs(cols(f[m] - f[s - 1]))
    if direction in ("left", "up"):
        to_b, to_a = to_b[::-1], to_a[::-1]
    lead, trail = slice(0, max(1, k - 2)), slice(min(n - 1, k + 2), n)
    assert to_b[lead].mean() < to_a[lead].mean() and to_a[trail].mean() < to_b[trail].mean()


def test_edits_from_source_footage(tmp_path, shared_data):
    actions = shared_data("actions")   # skips without ../shared/data, fails when CI=true
    summary = make_dataset("edits", tmp_path, seed=2, num=2, size=(128, 96), frames=150, source=str(actions),
                           progress=False)
    assert summary["counts"]["videos"] == 2
    details = json.loads((tmp_path / "details.json").read_text())["videos"]
    for name, truth in json.loads((tmp_path / "transitions.json").read_text()).items():
        _check_schema(truth, 150)
        shots = details[name]["shots"]
        assert all(Path(s["source"]).parent == actions for s in shots)
        f = decode(tmp_path / name).astype(np.float32)
        diff = np.zeros(len(f))
        diff[1:] = np.abs(np.diff(f, axis=0)).mean(axis=(1, 2, 3))
        pure = _pure_mask(truth)
        base = np.median(diff[1:][pure[1:] & pure[:-1]])
        brightness = f.mean(axis=(1, 2, 3))
        for t, d in zip(truth["transitions"], details[name]["transitions"]):
            if t["type"] == "cut":
                assert diff[t["start"]] > 2 * base, (name, t, diff[t["start"]], base)
            elif t["type"] == "fade":
                level = 255 if d["color"] == "white" else 0
                assert np.abs(brightness[t["start"]:t["end"] + 1] - level).min() < 12
    # different segments of real footage: the first frames of the shots differ
    assert len({(s["source"], s["source_start"]) for v in details.values() for s in v["shots"]}) > 2


def test_fastmotion_is_deterministic_single_shots_with_fast_motion(tmp_path, shared_data):
    from videolens.datasets import fastmotion

    source = [str(shared_data("actions", "ucf_style_sample.avi")), str(shared_data("actions", "kinetics_sample.mp4"))]
    args = dict(num=2, size=(96, 54), frames=40, source=source, progress=False)
    a = make_dataset("fastmotion", tmp_path / "a", seed=3, **args)
    make_dataset("fastmotion", tmp_path / "b", seed=3, **args)
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b") and sorted(a["files"]) == sorted(
        tree_digest(tmp_path / "a"))
    details = json.loads((tmp_path / "a" / "details.json").read_text())["videos"]
    for name, truth in json.loads((tmp_path / "a" / "transitions.json").read_text()).items():
        _check_schema(truth, 40)
        cut = details[name]["cut"]             # one spliced cut in about a quarter of the videos, else none
        assert truth["transitions"] == ([] if cut is None else [{"type": "cut", "start": cut, "end": cut}])
        assert set(details[name]["camera"]) <= set(fastmotion.CAMERAS)
    # A spliced cut is recorded where the footage changes: the largest frame difference of the video.
    fastmotion.generate(tmp_path / "c", seed=3, num=1, size=(96, 54), frames=40, fps=25, source=source,
                        cut_prob=1.0, progress=False)
    truth = json.loads((tmp_path / "c" / "transitions.json").read_text())["fastmotion_0000.mp4"]
    (cut,) = truth["transitions"]
    f = decode(tmp_path / "c" / "fastmotion_0000.mp4").astype(np.float32)
    # frame differences, compared with the difference after the best shift of up to 12 px (camera motion)
    diff = [min(np.abs(f[i, 12:-12, 12:-12] - f[i - 1, 12 + dy:42 + dy, 12 + dx:84 + dx]).mean()
                for dy in range(-12, 13, 2) for dx in range(-12, 13, 2)) for i in range(1, len(f))]
    assert cut["type"] == "cut" and 1 + int(np.argmax(diff)) == cut["start"], (cut, np.round(diff, 1))


# ---------------------------------------------------------------------------------------------------------------
# objects

OBJ_SIZE, OBJ_FRAMES = (160, 120), 60


@pytest.fixture(scope="module")
def objects_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("objects")
    summary = make_dataset("objects", out, seed=3, num=2, size=OBJ_SIZE, frames=OBJ_FRAMES, images=12,
                           progress=False)
    return out, summary


def _read_mot(path: Path) -> np.ndarray:
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split(",")
        assert len(parts) == 9, line
        rows.append([float(p) for p in parts])
    rows = np.array(rows)
    rows[:, 2:4] -= 1          # MOT pixels are 1-based; back to videolens' 0-based coordinates
    return rows


def test_objects_layout_and_formats(objects_set):
    out, summary = objects_set
    w, h = OBJ_SIZE
    names = sorted(p.stem for p in (out / "videos").glob("*.mp4"))
    assert names == ["objects_0000", "objects_0001"]
    entered_or_left = occluded = 0
    for name in names:
        with VideoReader(out / "videos" / f"{name}.mp4") as r:
            assert len(r) == OBJ_FRAMES and r.size == OBJ_SIZE
        mot = _read_mot(out / "videos" / name / "gt" / "gt.txt")
        frame, tid, x, y, bw, bh, conf, cls, vis = mot.T
        assert frame.min() >= 1 and frame.max() <= OBJ_FRAMES and np.all(frame == np.round(frame))
        assert tid.min() >= 1 and np.all(conf == 1) and set(cls) <= {1, 2, 3}
        assert np.all((vis >= 0) & (vis <= 1))
        assert np.all(x >= 0) and np.all(y >= 0) and np.all(x + bw <= w + 0.01) and np.all(y + bh <= h + 0.01)
        assert np.all(bw >= 1) and np.all(bh >= 1)
        assert len({(a, b) for a, b in zip(frame, tid)}) == len(mot)
        for t in np.unique(tid):
            fr = np.sort(frame[tid == t])
            assert np.all(np.diff(fr) == 1)                        # a track is not interrupted
            assert len(set(cls[tid == t])) == 1
            entered_or_left += fr[0] > 1 or fr[-1] < OBJ_FRAMES
        inside = (x > 1) & (y > 1) & (x + bw < w - 1) & (y + bh < h - 1)
        occluded += np.sum(inside & (vis < 0.9))
        # a box cut by the image border belongs to an object partly outside: visibility counts that
        cut = (x <= 0) | (y <= 0) | (x + bw >= w - 0.01) | (y + bh >= h - 0.01)
        assert cut.sum() > 0 and np.mean(vis[cut] < 0.999) > 0.9
        coco = json.loads((out / "videos" / f"{name}.json").read_text())
        assert [c["id"] for c in coco["categories"]] == [1, 2, 3]
        assert [c["name"] for c in coco["categories"]] == ["circle", "square", "triangle"]
        images = {im["id"]: im for im in coco["images"]}
        assert len(images) == OBJ_FRAMES and sorted(im["frame_index"] for im in images.values()) == list(
            range(OBJ_FRAMES))
        ann_ids = [a["id"] for a in coco["annotations"]]
        assert len(set(ann_ids)) == len(ann_ids)
        from_coco = set()
        for a in coco["annotations"]:
            assert a["image_id"] in images and a["category_id"] in (1, 2, 3)
            fi = images[a["image_id"]]["frame_index"]
            from_coco.add((fi + 1, a["track_id"], *[round(v, 2) for v in a["bbox"]], a["category_id"],
                           round(a["visibility"], 4)))
        from_mot = {(int(r[0]), int(r[1]), *[round(v, 2) for v in r[2:6]], int(r[7]), round(r[8], 4)) for r in mot}
        assert from_coco == from_mot
        seqinfo = (out / "videos" / name / "seqinfo.ini").read_text()
        assert f"seqLength={OBJ_FRAMES}" in seqinfo
    assert entered_or_left > 0 and occluded > 0

    ann = json.loads((out / "images" / "annotations.json").read_text())
    assert len(ann["images"]) == 12 == summary["counts"]["images"]
    import cv2

    ids = {im["id"] for im in ann["images"]}
    for im in ann["images"]:
        pic = cv2.imread(str(out / "images" / im["file_name"]))
        assert pic is not None and pic.shape[:2] == (h, w) == (im["height"], im["width"])
    assert ann["annotations"]
    for a in ann["annotations"]:
        assert a["image_id"] in ids and a["visibility"] >= 0.3
        bx, by, bw, bh = a["bbox"]
        assert bx >= 0 and by >= 0 and bx + bw <= w + 0.01 and by + bh <= h + 0.01


def test_objects_boxes_match_pixels(objects_set):
    """Foreground against a background estimated from frames where no box covers a pixel fits the boxes."""
    out, _ = objects_set
    w, h = OBJ_SIZE
    tight, covered, edges, shapes = [], [], [], []
    for name in ("objects_0000", "objects_0001"):
        f = decode(out / "videos" / f"{name}.mp4").astype(np.float32)
        mot = _read_mot(out / "videos" / name / "gt" / "gt.txt")
        boxes = [mot[mot[:, 0] == i + 1] for i in range(len(f))]
        free = np.ones(f.shape[:3], bool)
        for i, rows in enumerate(boxes):
            for r in rows:
                x1, y1 = int(math.floor(r[2])) - 1, int(math.floor(r[3])) - 1
                free[i, max(y1, 0):int(math.ceil(r[3] + r[5])) + 1, max(x1, 0):int(math.ceil(r[2] + r[4])) + 1] = 0
        known = free.sum(axis=0) >= 5
        stack = np.where(free[..., None], f, np.nan)
        bg = np.nanmedian(stack[:, known], axis=0)
        for i, rows in enumerate(boxes):
            fg = np.zeros((h, w), bool)
            fg[known] = np.abs(f[i][known] - bg).max(axis=1) > 30
            covered.append(np.mean(~free[i][fg]) if fg.any() else 1.0)
            for r in rows:
                x1, y1, x2, y2 = r[2], r[3], r[2] + r[4], r[3] + r[5]
                others = [o for o in rows if o[1] != r[1]]
                alone = all(o[2] > x2 + 3 or o[2] + o[4] < x1 - 3 or o[3] > y2 + 3 or o[3] + o[5] < y1 - 3
                            for o in others)
                if r[8] < 1 or not alone or r[4] * r[5] < 100:
                    continue
                X1, Y1 = max(int(x1) - 3, 0), max(int(y1) - 3, 0)
                X2, Y2 = min(int(math.ceil(x2)) + 3, w), min(int(math.ceil(y2)) + 3, h)
                win, ok = fg[Y1:Y2, X1:X2], known[Y1:Y2, X1:X2]
                if ok.mean() < 0.95 or not win.any():
                    continue
                ys, xs = np.nonzero(win)
                fx1, fy1, fx2, fy2 = xs.min() + X1, ys.min() + Y1, xs.max() + 1 + X1, ys.max() + 1 + Y1
                inter = max(0, min(x2, fx2) - max(x1, fx1)) * max(0, min(y2, fy2) - max(y1, fy1))
                union = (x2 - x1) * (y2 - y1) + (fx2 - fx1) * (fy2 - fy1) - inter
                tight.append(inter / union)
                edges.append([fx1 - x1, fy1 - y1, fx2 - x2, fy2 - y2])
                shapes.append((int(r[7]), _outline_class(xs + X1, ys + Y1)))
    assert np.mean(covered) > 0.97        # what differs from the background lies inside the boxes
    tight = np.array(tight)
    tight, edges = np.array(tight), np.array(edges)
    assert len(tight) > 50 and np.mean(tight > 0.75) > 0.9, np.percentile(tight, [5, 50])
    # Each side of the box sits on the object's outline to within about a pixel (anti-aliasing, compression):
    # a box shifted or grown by one pixel fails here.
    assert np.all(np.abs(np.median(edges, axis=0)) < 0.6), np.median(edges, axis=0)
    assert np.all(np.percentile(np.abs(edges), 90, axis=0) < 1.5)
    # The category is the outline seen in the pixels.
    truth, seen = np.array(shapes).T
    assert set(truth) == {1, 2, 3} and np.mean(truth == seen) > 0.9


def _outline_class(xs: np.ndarray, ys: np.ndarray) -> int:
    """1 circle, 2 square, 3 triangle, from foreground pixel coordinates: how much of its smallest enclosing
    rectangle the convex hull fills (1 for a square, pi/4 for a disc, 1/2 for any triangle). The hull also fills
    holes where the object's pattern happens to match the background."""
    import cv2

    pts = np.stack([xs, ys], axis=1).astype(np.float32)
    hull = cv2.convexHull(pts)
    (_, _), (rw, rh), _ = cv2.minAreaRect(hull)
    fill = cv2.contourArea(hull) / max(rw * rh, 1e-6)
    return 1 + int(np.argmin(np.abs(fill - np.array([math.pi / 4, 1.0, 0.5]))))


def test_objects_images_are_independent_of_videos(objects_set):
    out, _ = objects_set
    import cv2

    first = cv2.imread(str(out / "images" / "000000.jpg"))[:, :, ::-1].astype(np.float32)
    with VideoReader(out / "videos" / "objects_0000.mp4") as r:
        frame = r.get_frames([0])[0].astype(np.float32)
    assert np.abs(first - frame).mean() > 10
    names = [p.name for p in (out / "images").glob("*.jpg")]
    assert all(re.fullmatch(r"\d{6}\.jpg", n) for n in names) and len(names) == 12
