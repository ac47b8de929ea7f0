"""Fuzz the CLI with damaged copies of real clips (issue 17): no traceback, no hang, exit 0/1/2, one-line errors.

Each case is a real clip from ../shared/data or the sample, damaged by one kind from ``bench/_damage.py`` with its
own seed, then run through ``videolens info`` and ``videolens shots`` (and, for every ``--heavy-every``-th case of a
short clip, ``analyze --no-speech`` and ``transcribe``), each in a fresh process with a time limit.

Outcome of one run: ``exit0``, ``exit1``, ``exit2``, ``exitN`` (any other code), ``traceback`` (a Python traceback
on stderr), ``timeout`` (killed at ``--timeout``), ``internal`` (a one-line error that reports an unexpected
Python exception: a bug the batch runner caught), ``multiline`` (an error not on exactly one stderr line) and
``unnamed`` (an error line that does not name the file). Only exit0/exit1/exit2 are good.

    nice -n 10 python bench/fuzz.py --seed 0 --count 500 --jobs 2

writes bench/out/fuzz.json (every run: case, command, outcome, seconds, stderr) and prints kind x outcome tables.
"""

from __future__ import annotations

import argparse
import builtins
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _damage import KINDS, damage, plan  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "bench" / "out"
GOOD = ("exit0", "exit1", "exit2")

# name -> (path, what it is, short enough for analyze/transcribe in the fuzz). Several containers and codecs.
SOURCES = {
    "sample.mp4": (ROOT / "samples" / "sample.mp4", "MP4 H.264 + AAC, fast start, 18 s", False),
    "sample.mkv": (None, "the sample remuxed to Matroska (H.264 + AAC)", False),
    "counter.mp4": (SHARED / "shots" / "counter.mp4", "MP4 H.264, moov at the end", True),
    "goldeneye-vfr-drop3.mp4": (SHARED / "shots" / "goldeneye-vfr-drop3.mp4", "MP4 H.264, variable frame rate", True),
    "ucf_style_sample.avi": (SHARED / "actions" / "ucf_style_sample.avi", "AVI MPEG-4 Part 2 + MP3", True),
    "brbk7n.mpg": (SHARED / "speech" / "GRID" / "brbk7n.mpg", "MPEG-PS MPEG-1 + MP2, 3 s", True),
    "issue-236-split-copy.mkv": (SHARED / "shots" / "issue-236-split-copy.mkv", "Matroska H.264 1080p, 48 frames",
                                 True),
}


def remux(src: Path, dst: Path) -> Path:
    """``src``'s streams copied into another container (no re-encoding), cached."""
    import av

    if dst.exists():
        return dst
    tmp = dst.with_name(dst.stem + ".partial" + dst.suffix)
    with av.open(str(src)) as inp, av.open(str(tmp), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams if s.type in ("video", "audio")}
        for pkt in inp.demux(*[s for s in inp.streams if s.index in streams]):
            if pkt.dts is None:
                continue
            pkt.stream = streams[pkt.stream.index]
            out.mux(pkt)
    tmp.rename(dst)
    return dst


def source_paths() -> dict[str, Path]:
    paths = {}
    for name, (path, _, _) in SOURCES.items():
        paths[name] = remux(ROOT / "samples" / "sample.mp4", OUT / "fuzz_sample.mkv") if path is None else path
        if not paths[name].exists():
            raise SystemExit(f"{paths[name]} is missing (../shared/data must be beside this checkout)")
    return paths


_EXC = re.compile(r": ([A-Z]\w*): ")


def classify(code: int | None, err: str, path: str) -> str:
    """One run's outcome (see the module docstring)."""
    if code is None:
        return "timeout"
    if "Traceback (most recent call last)" in err:
        return "traceback"
    errors = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("videolens: warning:")]
    if code != 0 or errors:
        if len(errors) != 1:
            return "multiline"
        if path not in errors[0]:
            return "unnamed"
        m = _EXC.search(errors[0][len("videolens: error: "):].replace(path, "", 1))
        if m and (hasattr(builtins, m.group(1)) or m.group(1).endswith(("Error", "Exception"))):
            return "internal"
    return f"exit{code}" if code in (0, 1, 2) else "exitN"


def run(cmd: list[str], path: str, timeout: float) -> dict:
    t = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
    try:
        p = subprocess.run([sys.executable, "-m", "videolens", *cmd], capture_output=True, text=True, timeout=timeout,
                           cwd=ROOT, env=env, errors="replace")
        code, err = p.returncode, p.stderr
    except subprocess.TimeoutExpired as e:
        code, err = None, (e.stderr or b"").decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
    return {"seconds": round(time.perf_counter() - t, 2), "code": code, "outcome": classify(code, err, path),
            "stderr": err[-2000:]}


def run_case(case: dict, paths: dict[str, Path], work: Path, timeout: float) -> list[dict]:
    """Write one damaged copy, run its commands, remove it; one record per command."""
    src = paths[case["source"]]
    d = work / f"c{case['case']:04d}"
    d.mkdir()
    path = d / f"{case['kind']}-{case['seed']}{src.suffix}"
    path.write_bytes(damage(src.read_bytes(), case["kind"], case["seed"]))
    size = path.stat().st_size
    cmds = {"info": ["info", str(path)],
            "shots": ["shots", str(path), "-o", str(d / "shots"), "--quiet"]}
    if case["heavy"]:
        cmds["analyze"] = ["analyze", "--no-speech", str(path), "-o", str(d / "analyze"), "--quiet"]
        cmds["transcribe"] = ["transcribe", str(path), "-o", str(d / "transcribe"), "--quiet"]
    out = []
    for name, cmd in cmds.items():
        rec = {**case, "command": name, "size": size, **run(cmd, str(path), timeout)}
        if name == "analyze" and rec["code"] == 0:
            report = json.loads((d / "analyze" / path.stem / "report.json").read_text())
            rec["stream"] = report.get("stream")
        out.append(rec)
    shutil.rmtree(d, ignore_errors=True)
    return out


def tables(records: list[dict]) -> str:
    """Markdown: per command, damage kind x outcome counts."""
    outcomes = sorted({r["outcome"] for r in records}, key=lambda o: (o not in GOOD, o))
    lines = []
    for cmd in dict.fromkeys(r["command"] for r in records):
        rs = [r for r in records if r["command"] == cmd]
        lines += [f"`{cmd}` ({len(rs)} runs, slowest {max(r['seconds'] for r in rs):.1f} s)", "",
                  "| damage | " + " | ".join(outcomes) + " |", "|---|" + "---|" * len(outcomes)]
        for kind in (*KINDS, "all"):
            c = Counter(r["outcome"] for r in rs if kind in ("all", r["kind"]))
            lines.append(f"| {kind} | " + " | ".join(str(c[o]) for o in outcomes) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--count", type=int, default=500, help="damaged copies (each through info and shots)")
    ap.add_argument("--heavy-every", type=int, default=3,
                    help="every N-th case of a short clip also goes through analyze --no-speech and transcribe")
    ap.add_argument("--jobs", type=int, default=2, help="cases run at once")
    ap.add_argument("--timeout", type=float, default=90, help="seconds before a run counts as a hang")
    ap.add_argument("--out", default=str(OUT / "fuzz.json"))
    args = ap.parse_args()

    paths = source_paths()
    cases, short = [], 0
    for k, (source, kind, seed) in enumerate(plan(list(SOURCES), args.count, args.seed)):
        heavy = SOURCES[source][2] and short % args.heavy_every == 0
        short += SOURCES[source][2]
        cases.append({"case": k, "source": source, "kind": kind, "seed": seed, "heavy": heavy})
    print(f"{len(cases)} cases, {sum(c['heavy'] for c in cases)} heavy, {args.jobs} at once", flush=True)
    work = Path(tempfile.mkdtemp(prefix="videolens-fuzz-"))
    records: list[dict] = []
    t0 = time.time()
    try:
        with ThreadPoolExecutor(args.jobs) as pool:
            for k, recs in enumerate(pool.map(lambda c: run_case(c, paths, work, args.timeout), cases)):
                records += recs
                bad = [r for r in recs if r["outcome"] not in GOOD]
                for r in bad:
                    print(f"BAD case {r['case']} {r['source']} {r['kind']} seed {r['seed']} {r['command']}: "
                          f"{r['outcome']} {r['stderr'][-600:]!r}", flush=True)
                if k % 25 == 0:
                    print(f"[{time.time() - t0:.0f} s] {k + 1}/{len(cases)}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        partly = [r for r in records if r.get("stream") and r["stream"].get("bad_frames")]
        doc = {"seed": args.seed, "count": args.count, "cases": len(cases), "runs": len(records),
               "seconds": round(time.time() - t0), "sources": {k: v[1] for k, v in SOURCES.items()},
               "analyze_with_bad_frames": len(partly), "records": records}
        Path(args.out).write_text(json.dumps(doc, indent=1))
    print(tables(records))
    print(f"analyze reports with bad_frames > 0: {len(partly)}; "
          f"runs over 60 s: {sum(r['seconds'] > 60 for r in records)}; "
          f"not good: {sum(r['outcome'] not in GOOD for r in records)}")


if __name__ == "__main__":
    main()
