"""``report.json`` stays field for field what it was: stored reports of the sample and of a generated ``edits``
video, with the defaults and with ``--objects`` (a small trained checkpoint) and a tracker, are compared with what
``videolens analyze`` writes now, apart from ``created``, timings and where the files are.

A stored report changes only on purpose: ``VIDEOLENS_REFRESH_REPORTS=1 pytest tests/test_report_stability.py``
rewrites them, and the change goes into its own commit (with the schema's version and notes when a field changes).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest

from conftest import SAMPLE, run_cli

DATA = Path(__file__).resolve().parent / "data"
STORED = DATA / "reports"
CHECKPOINT = DATA / "yolo-objects.pt"       # scripts/make_test_detector.py made it
REFRESH = os.environ.get("VIDEOLENS_REFRESH_REPORTS") == "1"

CASES = {
    "sample": ("sample", []),
    "sample-objects": ("sample", ["--objects", CHECKPOINT, "--tracker", "bytetrack"]),
    "edits": ("edits", []),
    "edits-objects": ("edits", ["--objects", CHECKPOINT, "--tracker", "bytetrack", "--stride", "2"]),
    "objects": ("objects", ["--objects", CHECKPOINT, "--tracker", "bytetrack", "--no-faces"]),
}


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    from videolens.datasets import make_dataset

    out = tmp_path_factory.mktemp("stability")
    make_dataset("edits", out / "edits", seed=5, num=1, frames=150, size=(192, 108), progress=False)
    edits = next((out / "edits").rglob("*.mp4"))
    make_dataset("objects", out / "objects", seed=21, num=1, frames=75, images=1, progress=False)
    objects = next((out / "objects" / "videos").glob("*.mp4"))
    shutil.copy(SAMPLE, out / "sample.mp4")
    return {"sample": out / "sample.mp4", "edits": edits, "objects": objects}


def normalised(report: dict, video: Path) -> dict:
    """The report without what changes from run to run (creation time, timings, the file's location)."""
    text = json.dumps(report)
    for path, name in ((video, "VIDEO"), (CHECKPOINT, "CHECKPOINT")):
        text = text.replace(json.dumps(str(path))[1:-1], name)
    report = json.loads(text)
    for key in ("created", "timings"):
        report.pop(key)
    if report.get("speech"):
        report["speech"].pop("timings")
        report["speech"].pop("rtf")
    return report


SPEECH_FLOAT_TOL = 0.05     # Whisper's probabilities and times under .speech
SPEECH_WORDS = 0.2          # share of a text's words that may change under .speech (at least one)


def _words_apart(a: str, b: str) -> int:
    """Words to insert, delete or replace to turn ``a`` into ``b``."""
    import difflib

    x, y = a.split(), b.split()
    ops = difflib.SequenceMatcher(a=x, b=y, autojunk=False).get_opcodes()
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal")


def differences(a, b, where: str = "") -> list[str]:
    """Where two JSON values differ; floats within 2e-3 (the report rounds to ms) count as equal.

    Under ``.speech`` Whisper's output is compared loosely: CTranslate2's int8 kernels differ from one CPU to another
    (an AMD EPYC heard "Set white in Z3 no." where the stored report, made on another machine, has "now", with log
    probabilities 0.01-0.04 apart), so its floats may differ by SPEECH_FLOAT_TOL and its texts by a word in five.
    Everything else about the section (its fields, the number of segments, the speech regions) stays exact."""
    speech = where.startswith(".speech")
    if speech and isinstance(a, str) and isinstance(b, str) and a != b:
        if _words_apart(a, b) <= max(1, int(SPEECH_WORDS * len(a.split()))):
            return []
    if speech and isinstance(a, (int, float)) and isinstance(b, (int, float)) and (isinstance(a, float) or
                                                                                      isinstance(b, float)):
        if math.isclose(a, b, abs_tol=SPEECH_FLOAT_TOL):
            return []
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{where}.{k}: only in the stored report" for k in a if k not in b]
        out += [f"{where}.{k}: only in the new report" for k in b if k not in a]
        for k in a:
            if k in b:
                out += differences(a[k], b[k], f"{where}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items stored, {len(b)} now"]
        return [d for k, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{where}[{k}]")]
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, abs_tol=2e-3):
            return []
    return [] if a == b else [f"{where}: {a!r} stored, {b!r} now"]


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_report_is_what_it_was(case, videos, tmp_path):
    source, extra = CASES[case]
    if extra and not CHECKPOINT.exists():
        pytest.fail(f"{CHECKPOINT} is missing: run scripts/make_test_detector.py")
    video = videos[source]
    r = run_cli("analyze", video, "-o", tmp_path, "--quiet", "--device", "cpu", *extra)
    assert r.code == 0, r
    new = normalised(json.loads((tmp_path / video.stem / "report.json").read_text()), video)
    stored_path = STORED / f"{case}.json"
    if REFRESH:
        stored_path.write_text(json.dumps(new, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    stored = json.loads(stored_path.read_text(encoding="utf-8"))
    diff = differences(stored, new)
    assert not diff, f"{case}: report.json changed:\n" + "\n".join(diff[:40])
