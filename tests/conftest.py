"""Shared fixtures: the real clips in ../shared/data, generated videos, and an in-process CLI runner."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SAMPLE = ROOT / "samples" / "sample.mp4"

# Subprocesses (DDP, Ray workers, CLI runs) import this checkout, and nothing reaches for a model hub.
os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")


def shared(*parts: str) -> Path:
    """A file under ../shared/data. Skips the test when that folder is absent (a user's clone), fails in CI."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        msg = f"{path} is missing: ../shared/data is not beside this checkout"
        if os.environ.get("CI") == "true":
            pytest.fail(msg + " (CI=true requires it)")
        pytest.skip(msg, allow_module_level=True)
    return path


@pytest.fixture
def shared_data():
    return shared


def require(module: str, why: str = "", *, find_only: bool = False) -> object:
    """``import module``, or skip the test with the reason in a user's clone; with CI=true a missing optional package
    fails the test, so CI cannot pass by skipping (``pytest.importorskip`` would skip silently). ``find_only``: only
    check that it is installed (``face_recognition_models`` cannot be imported without ``pkg_resources``; videolens
    reads its files)."""
    import importlib
    import importlib.util

    try:
        if find_only:
            if importlib.util.find_spec(module) is None:
                raise ImportError(f"no module named {module}")
            return None
        return importlib.import_module(module)
    except ImportError as e:
        msg = f"{module} is not installed ({why or e}); `make setup` installs every extra"
        if os.environ.get("CI") == "true":
            pytest.fail(msg + " (CI=true requires it)")
        pytest.skip(msg)


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def json(self):
        import json

        return json.loads(self.out)

    def json_lines(self):
        import json

        return [json.loads(line) for line in self.out.splitlines() if line.strip()]

    def __repr__(self) -> str:
        return f"CliResult(code={self.code}, out={self.out[-500:]!r}, err={self.err[-1500:]!r})"


def run_cli(*args: str) -> CliResult:
    """Run ``videolens ARGS`` in this process (one torch import per test run), capturing its output."""
    from videolens.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:  # argparse usage errors
            code = e.code if isinstance(e.code, int) else 2
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def index_videos(tmp_path_factory):
    """Generated videos whose frames encode their own index, across codecs, containers and timings."""
    import numpy as np

    from videolens.datasets.testvideo import make_index_video

    d = tmp_path_factory.mktemp("index")
    n = 90
    rng = np.random.default_rng(7)
    vfr = np.concatenate([[0.0], np.cumsum(rng.choice([1 / 30, 2 / 30, 1 / 60], size=n - 1))])
    specs = {
        "h264_bframes.mp4": dict(),
        "h264_open_gop.mp4": dict(open_gop=True, bframes=3),
        "h264.mkv": dict(),
        "h264_avi.avi": dict(),
        "h264.ts": dict(),
        "mpeg2.mpg": dict(codec="mpeg2video"),
        "mpeg4_bframes.avi": dict(codec="mpeg4"),
        "vfr.mp4": dict(timestamps=vfr),
        "late_start.mp4": dict(timestamps=1.5 + np.arange(n) / 25),
        "rotated90.mp4": dict(rotation=90),
    }
    out = {}
    for name, kw in specs.items():
        out[name] = (make_index_video(d / name, n, size=(192, 108), fps=25, gop=15, **kw), kw)
    return out


@pytest.fixture(scope="session")
def objects_video(tmp_path_factory):
    """A generated objects video (150 frames, 25 fps, 320x240) and its MOTChallenge ground truth (gt.txt)."""
    from videolens.datasets import make_dataset

    out = tmp_path_factory.mktemp("objects_video")
    make_dataset("objects", out, seed=21, num=1, frames=150, images=1, progress=False)
    return out / "videos" / "objects_0000.mp4", out / "videos" / "objects_0000" / "gt" / "gt.txt"


CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's chromium and chromium-driver) through selenium; skips in a user's clone, fails
    when CI=true."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        msg = "chromium and chromium-driver are not installed (make setup installs them)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="videolens-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required", f"--user-data-dir={profile}", "--window-size=1280,1400"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)



def pytest_report_header(config):
    return [f"shared data: {SHARED} ({'present' if SHARED.exists() else 'ABSENT'})", f"python: {sys.version.split()[0]}"]
