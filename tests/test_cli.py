"""The CLI surface: info, contact-sheet, exit codes, and start-up that does not import heavy libraries."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np

from conftest import ROOT, SAMPLE, shared
from videolens.io.reader import VideoReader


def test_info_json_one_object_per_file(cli):
    paths = [shared("shots", "goldeneye-vfr-drop3.mp4"), shared("shots", "issue-134-rotate.mp4"), SAMPLE]
    res = cli("info", *paths, "--json")
    assert res.code == 0, res
    objs = res.json_lines()
    assert len(objs) == 3
    vfr, rot, sample = objs
    assert vfr["frames"] == 160 and vfr["vfr"] is True and vfr["codec"] == "h264"
    assert rot["rotation"] == 90 and rot["stored_size"] == [1280, 544] and rot["display_size"] == [544, 1280]
    assert sample["audio"][0]["codec"] == "aac" and sample["audio"][0]["channels"] == 2
    assert sample["frames"] == len(VideoReader(SAMPLE))
    for o in objs:
        assert {"container", "codec", "sample_aspect_ratio", "fps", "duration", "start_time"} <= set(o)


def test_info_human_summary(cli):
    res = cli("info", shared("shots", "delayed_start.mp4"))
    assert res.code == 0
    assert "24 at 25.000 fps" in res.out and "starts at 1.075 s" in res.out and "audio      none" in res.out


def test_info_bad_inputs_exit_2_with_one_line(cli, tmp_path):
    text = tmp_path / "fake.mp4"
    text.write_text("hello")
    for bad in [tmp_path / "nope.mp4", tmp_path, text, shared("speech", "faster-whisper", "jfk.flac")]:
        res = cli("info", bad)
        assert res.code == 2, res
        lines = res.err.strip().splitlines()
        assert len(lines) == 1 and str(bad) in lines[0] and "Traceback" not in res.err
    mixed = cli("info", SAMPLE, tmp_path / "nope.mp4", "--json")
    assert mixed.code == 1 and len(mixed.json_lines()) == 1


def test_usage_errors_exit_2(cli):
    assert cli().code == 2
    assert cli("info").code == 2
    assert cli("datasets", "make", "nonsense", "-o", "x").code == 2


def test_contact_sheet(cli, tmp_path):
    res = cli("contact-sheet", SAMPLE, "-o", tmp_path, "--frames", "6", "--columns", "3", "--width", "90", "--json")
    assert res.code == 0, res
    out = res.json()
    from PIL import Image

    img = np.asarray(Image.open(tmp_path / "contact_sheet.png"))
    assert img.shape[1] == 3 * 94 + 4 and img.shape[0] == out["size"][1]
    # the first tile is the sampled frame itself (a 90-px-wide thumbnail)
    th = round(90 * 288 / 360)
    expected = VideoReader(SAMPLE).get_frames([out["indices"][0]], size=(90, th))[0]
    assert np.abs(img[4:4 + th, 4:94].astype(int) - expected.astype(int)).mean() < 2
    again = cli("contact-sheet", SAMPLE, "-o", tmp_path)
    assert again.code == 2 and "already exists" in again.err


def test_help_and_info_do_not_import_torch():
    code = ("import sys; from videolens.cli import main; main(['info', sys.argv[1], '--json']); "
            "print('heavy:' + ','.join(m for m in ('torch', 'cv2', 'torchvision') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(SAMPLE)], capture_output=True, text=True, cwd=ROOT,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "heavy:"
    helped = subprocess.run([sys.executable, "-c", "import sys; from videolens.cli import build_parser; "
                             "build_parser().format_help(); print('av' in sys.modules, 'torch' in sys.modules)"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert helped.stdout.strip() == "False False"
    json.loads(out.stdout.strip().splitlines()[0])


def test_datasets_make_from_the_cli(cli, tmp_path):
    res = cli("datasets", "make", "motion", "-o", tmp_path / "m", "--num", "1", "--size", "32x32", "--frames", "6",
              "--seed", "3", "--json", "--quiet")
    assert res.code == 0, res
    summary = res.json()
    assert summary["kind"] == "motion" and (tmp_path / "m" / "classInd.txt").exists()
    assert len(list((tmp_path / "m").rglob("*.mp4"))) == 9
    bad = cli("datasets", "make", "objects", "-o", tmp_path / "o", "--size", "33x32")
    assert bad.code == 2 and len(bad.err.strip().splitlines()) == 1


# ---- one rule for output folders, one --format rule, names from the registries -----------------------------------


def _same_named(tmp_path, source=SAMPLE, name="clip.mp4"):
    """``a/clip.mp4`` and ``b/clip.mp4``: copies of one file under the same name in two folders."""
    import shutil

    paths = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        paths.append(tmp_path / folder / name)
        shutil.copy(source, paths[-1])
    return paths


def test_one_output_folder_rule_everywhere():
    from videolens.analyze import output_names as analyze_names
    from videolens.utils.files import output_dirs, output_names

    assert analyze_names is output_names
    paths = ["a/clip.mp4", "b/clip.mp4", "c/other.mkv", "/", "a/x.y.mp4", "b/x.y.mkv"]
    names = output_names(paths)
    assert names[2] == "other" and len(set(names)) == len(names)
    assert names[0].startswith("clip-") and names[1].startswith("clip-") and len(names[0]) == len("clip-") + 8
    assert output_names(paths[1::-1]) == names[1::-1]           # a folder's name does not depend on the order
    dirs = output_dirs(paths, "out")
    assert len(set(dirs.values())) == len(paths) and dirs["c/other.mkv"].as_posix() == "out/other"
    assert output_dirs(["a/clip.mp4"], "out")["a/clip.mp4"].as_posix() == "out"
    assert output_dirs(["a/clip.mp4"], None)["a/clip.mp4"].as_posix() == "videolens-out/clip"


def test_shots_same_named_inputs_get_two_folders(cli, tmp_path):
    a, b = _same_named(tmp_path)
    res = cli("shots", a, b, "--detector", "content", "-o", tmp_path / "out", "--json")
    assert res.code == 0, res
    docs = res.json_lines()
    assert [d["path"] for d in docs] == [str(a), str(b)]
    folders = [d["output_dir"] for d in docs]
    assert len(set(folders)) == 2 and all(f.startswith(str(tmp_path / "out" / "clip-")) for f in folders)
    for path, folder in zip((a, b), folders):       # each folder holds its own video's shots, neither overwritten
        assert json.loads((tmp_path / folder / "shots.json").read_text())["path"] == str(path)


def test_detect_same_named_inputs_get_two_folders(cli, tmp_path, monkeypatch):
    a, b = _same_named(tmp_path)
    monkeypatch.chdir(tmp_path)         # no -o: ./videolens-out/<name>/
    res = cli("detect", "a/clip.mp4", "b/clip.mp4", "--model", "people-hog", "--stride", "90", "--format", "json",
              "--json", "--quiet")
    assert res.code == 0, res
    docs = res.json()
    assert [d["video"] for d in docs] == ["a/clip.mp4", "b/clip.mp4"]
    folders = sorted((tmp_path / "videolens-out").iterdir())
    assert len(folders) == 2 and all(f.name.startswith("clip-") for f in folders)
    seen = {json.loads((f / "detections.json").read_text())["video"]["path"] for f in folders}
    assert seen == {"a/clip.mp4", "b/clip.mp4"}


def test_format_has_one_rule_and_one_message(cli, tmp_path):
    """shots, detect, transcribe and predict parse --format alike; a bad one is refused before any work."""
    for args in (["shots", SAMPLE], ["detect", SAMPLE, "--model", "people-hog"], ["transcribe", SAMPLE],
                 ["predict", tmp_path / "missing.pt", SAMPLE]):
        res = cli(*args, "--format", "json,XML", "-o", tmp_path / "out")
        assert res.code == 2, (args, res)
        assert re.fullmatch(f"videolens: error: --format: unknown format 'xml' for {args[0]} "
                            r"\(choose from (\w+, )+all\)\n", res.err), res.err
    assert not (tmp_path / "out").exists()
    from videolens.cli._common import parse_formats

    assert parse_formats("JSON,all", ("json", "csv"), "shots") == ("json", "csv")
    assert parse_formats("", ("json", "csv"), "shots", empty=()) == ()


def test_shot_detectors_and_trackers_come_from_the_registries(cli):
    import subprocess

    from videolens.shots.detect import DETECTORS
    from videolens.track import TRACKERS

    bad = cli("shots", SAMPLE, "--detector", "nope")
    assert bad.code == 2 and ", ".join(map(repr, DETECTORS)) in bad.err
    bad = cli("detect", SAMPLE, "--tracker", "nope")
    assert bad.code == 2 and ", ".join(map(repr, TRACKERS)) in bad.err
    # the shot registry's module loads ONNX Runtime and PyAV: building the parser must not import it
    code = ("import sys; from videolens.cli import build_parser; p = build_parser(); "
            "p.parse_args(['shots', 'x.mp4']); print('videolens.shots.detect' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.stdout.strip() == "False", out
