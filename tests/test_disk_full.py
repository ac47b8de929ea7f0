"""A disk that fills mid-write: a one-line error naming the file, a non-zero exit, no traceback, and nothing left
that looks complete.

Tests run as root, for whom a read-only folder blocks nothing, so the full disk is the file size limit
(``RLIMIT_FSIZE``) of a child process that ignores SIGXFSZ: a write past the limit fails with EFBIG, as one on a
full disk fails with ENOSPC, and both take the same path through videolens.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE, shared

from videolens.datasets.testvideo import make_index_video

LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)        # else the kernel kills the process at the limit
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from videolens.cli import main
sys.exit(main(sys.argv[2:]))
"""


def run_limited(limit: int, *args) -> subprocess.CompletedProcess:
    """``videolens ARGS`` in a child that cannot write a file past ``limit`` bytes."""
    return subprocess.run([sys.executable, "-c", LIMITED, str(limit), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)


def one_line_naming(r: subprocess.CompletedProcess, folder: Path) -> str:
    assert r.returncode != 0, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("videolens: error: ") and "cannot write: file too large" in lines[0], lines[0]
    assert str(folder) in lines[0] and ".partial" not in lines[0], lines[0]
    return lines[0]


def visible(folder: Path) -> list[str]:
    """Everything under ``folder`` a user (or --resume) would take for output."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not any(
        part.startswith(".") for part in p.relative_to(folder).parts)) if folder.exists() else []


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_index_video(tmp_path_factory.mktemp("full") / "clip.mp4", 50, size=(320, 240), fps=25)


def test_analyze_on_a_full_disk(clip, tmp_path):
    # proxy.mp4 (FFmpeg's writes) is the file that meets the limit.
    out = tmp_path / "out"
    r = run_limited(20_000, "analyze", clip, "-o", out, "--proxy", "always", "--no-faces", "--quiet")
    line = one_line_naming(r, out / "clip")
    assert line.split(": cannot write")[0].endswith(str(out / "clip" / "proxy.mp4"))
    assert visible(out) == [] and not list(out.iterdir())
    # report.html (our own atomic write) meets it, in a batch of two: every video fails, each says why in one line.
    r = run_limited(6_000, "analyze", clip, SAMPLE, "-o", out, "--no-faces", "--no-speech", "--quiet", "--json")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    errors = r.stderr.strip().splitlines()
    # one line per video, then the batch's own index.html (bigger than the limit too), each naming its file
    assert len(errors) == 3 and all("cannot write: file too large" in e for e in errors), errors
    doc = json.loads(r.stdout)
    assert [v["status"] for v in doc["videos"]] == ["failed", "failed"] and "index.html" in doc["summary_error"]
    assert "clip/report.html" in errors[0] or "clip/shots.csv" in errors[0], errors[0]
    assert errors[2].split(": cannot write")[0] == f"videolens: error: {out / 'index.html'}", errors[2]
    assert all(not (out / name).exists() for name in ("clip", "sample"))


def test_detect_on_a_full_disk(clip, tmp_path):
    out = tmp_path / "out"
    r = run_limited(30_000, "detect", SAMPLE, "--model", "faces", "--stride", "5", "-o", out, "--quiet")
    line = one_line_naming(r, out)
    assert "annotated.mp4" in line
    assert visible(out) == []
    r = run_limited(3_000, "detect", SAMPLE, "--model", "faces", "--stride", "5", "-o", out, "--quiet",
                    "--format", "json,csv,mp4")
    line = one_line_naming(r, out)
    assert any(name in line for name in ("detections.json", "detections.csv", "annotated.mp4")), line
    assert visible(out) == []


def test_transcribe_on_a_full_disk(tmp_path):
    pytest.importorskip("faster_whisper", reason="transcribe needs the speech extra")
    audio = shared("speech", "faster-whisper", "jfk.flac")
    out = tmp_path / "out"
    r = run_limited(300, "transcribe", audio, "-o", out, "--quiet", "--format", "srt,json")
    line = one_line_naming(r, out)
    assert "transcript.json" in line
    # What is there is whole: srt (short enough) was written before json met the limit.
    assert visible(out) in ([], ["transcript.srt"])
    if visible(out):
        assert (out / "transcript.srt").read_text().rstrip().endswith("country.")
