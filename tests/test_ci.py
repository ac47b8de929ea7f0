"""CI cannot pass by skipping: with CI=true, a test whose optional package is missing fails; a user's clone skips."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT

PROBE = '''
from conftest import require

def test_needs_a_missing_package():
    require("videolens_no_such_package", "a probe")
'''


def _run(tmp_path, ci: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_probe.py").write_text(PROBE)
    (tmp_path / "conftest.py").write_text((ROOT / "tests" / "conftest.py").read_text())
    env = {**os.environ, "CI": ci, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_a_missing_optional_package_fails_in_ci_and_skips_elsewhere(tmp_path):
    ci = _run(tmp_path, "true")
    assert ci.returncode == 1 and "1 failed" in ci.stdout and "CI=true requires it" in ci.stdout, ci.stdout
    user = _run(tmp_path, "")
    assert user.returncode == 0 and "1 skipped" in user.stdout, user.stdout
