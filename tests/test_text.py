"""On-screen text: segment merging, the ``videolens ocr`` command and the ``text`` analyzer, with the real PP-OCRv4
models (rapidocr-onnxruntime) on generated clips whose text is known (bench/text_clips.py, Noto CJK fonts).

The accuracy test is a regression bound on one test-seed clip; the full measures are bench/text.py's
(BENCHMARKS.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import ROOT, require

sys.path.insert(0, str(ROOT / "bench"))

FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


def need_ocr() -> None:
    require("rapidocr_onnxruntime", "the text extra: pip install 'videolens[text]'")
    if not FONT.exists():
        import os

        msg = f"{FONT} is missing (Debian's fonts-noto-cjk; make setup installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)


# ---- no model ----------------------------------------------------------------------------------------------------


def test_text_is_nfkc_normalised():
    from videolens.text import normalize_text

    assert normalize_text("１２：３０　ＮＥＷＳ") == "12:30 NEWS"
    assert normalize_text("  a \t b ") == "a b"


def test_segments_merge_same_text_in_the_same_place():
    from videolens.text import SegmentBuilder

    b = SegmentBuilder()
    b.add(0.0, [("Breaking news", [10, 10, 200, 40], 0.9), ("天气预报", [10, 300, 120, 330], 0.8)])
    b.add(1.0, [("Breaklng news", [11, 10, 201, 41], 0.7), ("天气预报", [10, 300, 120, 330], 1.0)])
    b.add(2.0, [("Breaking news", [11, 10, 201, 41], 0.8), ("Ticker text", [100, 400, 300, 430], 0.9)])
    b.add(3.0, [("Ticker text", [160, 401, 360, 431], 0.9)])        # moved sideways: the same ticker
    b.add(4.0, [("Breaking news", [400, 10, 590, 40], 0.9)])        # elsewhere: a new segment
    segs = [(s.text, s.start, s.end, round(s.confidence, 3)) for s in b.finish(5.0)]
    assert segs == [("Breaking news", 0.0, 3.0, 0.8), ("天气预报", 0.0, 2.0, 0.9), ("Ticker text", 2.0, 4.0, 0.9),
                    ("Breaking news", 4.0, 5.0, 0.9)]


def test_srt_and_json_shape(tmp_path):
    from videolens.text import TextResult, TextSegment

    r = TextResult([TextSegment("第一 <b>", 1.0, 2.5, [1, 2, 3, 4], 0.91234)])
    paths = r.save(tmp_path)
    assert sorted(p.name for p in paths) == ["text.json", "text.srt"]
    doc = json.loads((tmp_path / "text.json").read_text(encoding="utf-8"))
    assert doc["segments"] == [{"text": "第一 <b>", "start": 1.0, "end": 2.5, "box": [1, 2, 3, 4],
                                "confidence": 0.9123}]
    assert (tmp_path / "text.srt").read_text(encoding="utf-8") == "1\n00:00:01,000 --> 00:00:02,500\n第一 <b>\n"


def test_cut_detector_ignores_motion_and_finds_cuts():
    import numpy as np

    from videolens.text import CutDetector

    x = np.arange(32)[None, :, None]
    y = np.arange(18)[:, None, None]
    d = CutDetector()
    a = 128 + 100 * np.sin(x / 5.0 + y / 7.0 + np.arange(3))           # a smooth picture, panning
    b = 128 - 100 * np.cos(x / 3.0 - y / 4.0)                          # another shot
    frames = [np.roll(a, k, axis=1) for k in range(10)] + [b] * 5
    assert [k for k, f in enumerate(frames) if d(f.astype(np.uint8))] == [10]


# ---- the real model ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A test-seed clip: 10 s at 640x360, English, Chinese and mixed captions (24-40 px, one moving), two cuts, a
    last shot without text."""
    need_ocr()
    from text_clips import make_clip

    path = tmp_path_factory.mktemp("text") / "clip.mp4"
    truth = make_clip(103, path, seconds=10.0, size=(640, 360))
    return path, truth


def test_ocr_command_reads_generated_captions(cli, clip, tmp_path):
    from text_clips import score_clip, summarize

    path, truth = clip
    assert {it["script"] for it in truth["items"]} >= {"en", "ch"} and truth["cuts"]
    r = cli("ocr", path, "-o", tmp_path / "out", "--json")
    assert r.code == 0, r
    item = r.json()["items"][0]
    assert sorted(Path(f).name for f in item["files"]) == ["text.json", "text.srt"]
    doc = json.loads((tmp_path / "out" / "text.json").read_text(encoding="utf-8"))
    assert doc == item["result"]
    assert set(doc["segments"][0]) == {"text", "start", "end", "box", "confidence"}
    s = summarize([score_clip(truth, doc["segments"], 1.0)])
    # Regression bounds (bench/text.py measures the full test split; BENCHMARKS.md).
    assert s["cer"] <= 0.03, s
    assert s["timing_within_interval"] == f"{s['items']}/{s['items']}", s
    assert s["false_on_blank"] == 0 and s["false_segments"] <= 1, s
    assert doc["cut_samples"] >= len(truth["cuts"]) - 1
    srt = (tmp_path / "out" / "text.srt").read_text(encoding="utf-8")
    assert srt.count(" --> ") == len(doc["segments"])

    again = cli("ocr", path, "-o", tmp_path / "out")
    assert again.code == 2 and "--overwrite" in again.err and again.err.count("\n") == 1


def test_ocr_bad_input_is_one_line(cli, tmp_path):
    need_ocr()
    r = cli("ocr", tmp_path / "missing.mp4", "-o", tmp_path / "o")
    assert r.code == 2 and r.err.count("\n") == 1 and "missing.mp4" in r.err
    r = cli("ocr", tmp_path / "missing.mp4", "--interval", "0")
    assert r.code == 2 and "--interval" in r.err
    r = cli("ocr", tmp_path / "missing.mp4", "--lang", "fr")
    assert r.code == 2 and "--lang" in r.err
