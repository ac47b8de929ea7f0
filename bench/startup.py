"""Start-up time of the CLI (issue 2: `videolens --help` and `videolens info` under 1 s), against bare Python.

    .venv/bin/python bench/startup.py
    .venv/bin/python bench/startup.py --trees ../wt-base . --runs 30

Each command runs as a fresh process, 7 times; the table shows the median and the best wall time. ``--trees``
compares the package of several checkouts (each first on PYTHONPATH) on the videolens commands, one invocation of
each tree in turn, so that a change in the machine's load falls on every tree alike, and adds each run's CPU time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, run, save, table

VL = str(Path(sys.executable).with_name("videolens"))


def _once(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run; CPU time barely moves when other work shares the cores."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = run(cmd, env=env)
    seconds = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert out.returncode == 0, out.stderr
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def timed(cmd: list[str], n: int = 7) -> tuple[float, float]:
    times = [_once(cmd)[0] for _ in range(n)]
    return statistics.median(times), min(times)


def compare(trees: list[str], cases: list[tuple[str, list[str]]], n: int) -> None:
    """The videolens commands for each tree's package, interleaved run by run (the entry script, like -P, does
    not put the working folder on sys.path: PYTHONPATH decides)."""
    envs = {}
    for tree in trees:
        envs[tree] = {**os.environ, "PYTHONPATH": str(Path(tree).resolve())}
        where = subprocess.run([sys.executable, "-P", "-c", "import videolens; print(videolens.__file__)"],
                               capture_output=True, text=True, env=envs[tree], check=True).stdout.strip()
        assert where.startswith(envs[tree]["PYTHONPATH"] + os.sep), (tree, where)
    rows = []
    for label, cmd in cases:
        times: dict[str, list[tuple[float, float]]] = {tree: [] for tree in trees}
        for _ in range(n):
            for tree in trees:
                times[tree].append(_once(cmd, envs[tree]))
        for tree in trees:
            wall, cpu = zip(*times[tree])
            rows.append({"command": label, "tree": tree, "median s": round(statistics.median(wall), 3),
                         "best s": round(min(wall), 3), "CPU median s": round(statistics.median(cpu), 3)})
            print(rows[-1], flush=True)
    print(table(rows, ["command", "tree", "median s", "best s", "CPU median s"]))
    print("saved", save("startup-compare", {"runs": n, "rows": rows}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trees", nargs="+", metavar="DIR", help="compare the package of these checkouts")
    ap.add_argument("--runs", type=int, default=7, help="runs of each command (default 7)")
    opts = ap.parse_args()
    sample = str(ROOT / "samples" / "sample.mp4")
    cases = [("python -c pass (floor)", [sys.executable, "-c", "pass"]),
             ("python -c 'import torch' (what we avoid)", [sys.executable, "-c", "import torch"]),
             ("videolens --help", [VL, "--help"]),
             ("videolens info sample.mp4", [VL, "info", sample]),
             ("videolens info sample.mp4 --json", [VL, "info", sample, "--json"])]
    if opts.trees:
        compare(opts.trees, cases[2:], opts.runs)
        return
    rows = []
    for label, cmd in cases:
        med, best = timed(cmd, opts.runs)
        rows.append({"command": label, "median s": round(med, 3), "best s": round(best, 3)})
        print(rows[-1], flush=True)
    print(table(rows, ["command", "median s", "best s"]))
    print("saved", save("startup", {"rows": rows}))


if __name__ == "__main__":
    main()
