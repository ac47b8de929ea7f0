"""Start-up time of the CLI (issue 2: `videolens --help` and `videolens info` under 1 s), against bare Python.

    .venv/bin/python bench/startup.py

Each command runs as a fresh process, 7 times; the table shows the median and the best wall time.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from _common import ROOT, run, save, table

VL = str(Path(sys.executable).with_name("videolens"))


def timed(cmd: list[str], n: int = 7) -> tuple[float, float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        out = run(cmd)
        times.append(time.perf_counter() - t)
        assert out.returncode == 0, out.stderr
    return statistics.median(times), min(times)


def main() -> None:
    sample = str(ROOT / "samples" / "sample.mp4")
    cases = [("python -c pass (floor)", [sys.executable, "-c", "pass"]),
             ("python -c 'import torch' (what we avoid)", [sys.executable, "-c", "import torch"]),
             ("videolens --help", [VL, "--help"]),
             ("videolens info sample.mp4", [VL, "info", sample]),
             ("videolens info sample.mp4 --json", [VL, "info", sample, "--json"])]
    rows = []
    for label, cmd in cases:
        med, best = timed(cmd)
        rows.append({"command": label, "median s": round(med, 3), "best s": round(best, 3)})
        print(rows[-1], flush=True)
    print(table(rows, ["command", "median s", "best s"]))
    print("saved", save("startup", {"rows": rows}))


if __name__ == "__main__":
    main()
