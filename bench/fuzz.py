"""Fuzz the CLI with damaged copies of real clips (issue 17): no traceback, no hang, exit 0/1/2, one-line errors.

Each case is a real clip from ../shared/data or the sample, damaged by one kind from ``bench/_damage.py`` with its
own seed. Each damaged copy gets a fresh Python process that runs ``videolens info`` and ``videolens shots`` on it
(and, for ``--heavy`` of the copies of short clips, ``videolens analyze --no-speech`` and ``videolens transcribe``)
through the CLI's ``main()``, one after the other, timing each; a command still running after ``--limit`` seconds
is a hang: faulthandler prints where it was and ends the process. (One process per copy rather than per command:
on this shared 2-core machine the interpreter and import start-up of four processes per copy cost more than the
commands.) What reaches the real stderr besides (FFmpeg's own logging, say) is kept too.

Outcome of one command: ``exit0``, ``exit1``, ``exit2``, ``exitN`` (any other code), ``traceback`` (an exception
escaped ``main()``: the user would see a traceback), ``timeout`` (over ``--limit``), ``internal`` (a one-line
error that reports an unexpected Python exception: a bug the batch runner caught), ``multiline`` (an error not on
exactly one stderr line) and ``unnamed`` (an error line that does not name the file). Only exit0/1/2 are good.

    nice -n 10 python bench/fuzz.py --seed 0 --count 500 --heavy 100 --jobs 3

writes bench/out/fuzz.json (every command: case, outcome, seconds, stderr; analyze's ``stream`` section) and prints
damage kind x outcome tables.
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

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _damage import KINDS, damage, plan  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "bench" / "out"
GOOD = ("exit0", "exit1", "exit2")

# name -> (path, what it is, short enough for analyze/transcribe in the fuzz). Several containers and codecs.
SOURCES = {
    "sample.mp4": (ROOT / "samples" / "sample.mp4", "MP4 H.264 + AAC, fast start, 18 s", False),
    "counter.mkv": (None, "counter.mp4 remuxed to Matroska (H.264)", True),
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
        paths[name] = remux(SHARED / "shots" / "counter.mp4", OUT / "fuzz_counter.mkv") if path is None else path
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


DRIVER = r"""
import contextlib, faulthandler, io, json, sys, time, traceback
spec = json.loads(sys.argv[1])
from videolens.cli import main
for name, args in spec["commands"]:
    out, err = io.StringIO(), io.StringIO()
    faulthandler.dump_traceback_later(spec["limit"], exit=True)     # a hang: say where, end the process
    t = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 2
        except BaseException:       # what a user would see as a traceback
            err.write(traceback.format_exc())
            code = "raised"
    seconds = time.perf_counter() - t
    faulthandler.cancel_dump_traceback_later()
    rec = {"command": name, "code": code, "seconds": round(seconds, 2), "stderr": err.getvalue()[-2000:]}
    if name == "analyze" and code == 0:
        rec["report"] = spec["report"]
    print(json.dumps(rec), flush=True)
"""


def run_case(case: dict, paths: dict[str, Path], work: Path, limit: float) -> list[dict]:
    """Write one damaged copy, run its commands in one fresh process, remove it; one record per command."""
    src = paths[case["source"]]
    d = work / f"c{case['case']:04d}"
    d.mkdir()
    path = d / f"{case['kind']}-{case['seed']}{src.suffix}"
    path.write_bytes(damage(src.read_bytes(), case["kind"], case["seed"]))
    size = path.stat().st_size
    cmds = [("info", ["info", str(path)]), ("shots", ["shots", str(path), "-o", str(d / "shots"), "--quiet"])]
    if case["heavy"]:
        cmds += [("analyze", ["analyze", "--no-speech", str(path), "-o", str(d / "analyze"), "--quiet"]),
                 ("transcribe", ["transcribe", str(path), "-o", str(d / "transcribe"), "--quiet"])]
    spec = {"commands": cmds, "limit": limit, "report": str(d / "analyze" / path.stem / "report.json")}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
    try:
        p = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(spec)], capture_output=True, text=True,
                           errors="replace", cwd=ROOT, env=env, timeout=limit * len(cmds) + 60)
        stdout, raw_err = p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:      # the process itself stuck (faulthandler could not end it)
        stdout = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        raw_err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
    done = {r["command"]: r for r in (json.loads(ln) for ln in stdout.splitlines() if ln.startswith("{"))}
    out = []
    for name, _ in cmds:
        rec = done.get(name)
        base = {**case, "command": name, "size": size}
        if rec is None:     # the command that was running when the process ended, and those after it
            hung = not any(r["outcome"] in ("timeout", "not run") for r in out)
            out.append({**base, "code": None, "seconds": None, "stderr": raw_err[-3000:] if hung else "",
                        "outcome": "timeout" if hung else "not run"})
            continue
        code = 3 if rec["code"] == "raised" else rec["code"]
        err = rec["stderr"] if rec["code"] != "raised" else "Traceback (most recent call last)\n" + rec["stderr"]
        rec = {**base, **rec, "outcome": classify(code, err, str(path))}
        if "report" in rec:
            rec["stream"] = json.loads(Path(rec.pop("report")).read_text()).get("stream")
        out.append(rec)
    if raw_err.strip() and out and all(r["outcome"] != "timeout" for r in out):
        out[-1]["raw_stderr"] = raw_err[-2000:]     # FFmpeg or other C-level output beside videolens' own
    shutil.rmtree(d, ignore_errors=True)
    return out


def tables(records: list[dict]) -> str:
    """Markdown: per command, damage kind x outcome counts."""
    outcomes = sorted({r["outcome"] for r in records}, key=lambda o: (o not in GOOD, o))
    lines = []
    for cmd in dict.fromkeys(r["command"] for r in records):
        rs = [r for r in records if r["command"] == cmd]
        slowest = max((r["seconds"] or 0) for r in rs)
        lines += [f"`{cmd}` ({len(rs)} runs, slowest {slowest:.1f} s)", "",
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
    ap.add_argument("--heavy", type=int, default=100,
                    help="how many copies of short clips also go through analyze --no-speech and transcribe")
    ap.add_argument("--jobs", type=int, default=3, help="copies run at once")
    ap.add_argument("--limit", type=float, default=60, help="seconds before a command counts as a hang")
    ap.add_argument("--only", help="comma-separated case numbers: replay these cases of the same plan (after a fix)")
    ap.add_argument("--out", default=str(OUT / "fuzz.json"))
    args = ap.parse_args()

    paths = source_paths()
    cases = [{"case": k, "source": source, "kind": kind, "seed": seed, "heavy": False}
             for k, (source, kind, seed) in enumerate(plan(list(SOURCES), args.count, args.seed))]
    short = [c for c in cases if SOURCES[c["source"]][2]]
    for k in np.linspace(0, len(short) - 1, min(args.heavy, len(short))).round().astype(int):
        short[k]["heavy"] = True        # spread evenly over the (seeded, shuffled) short-clip cases
    if args.only:
        keep = {int(k) for k in args.only.split(",")}
        cases = [c for c in cases if c["case"] in keep]
    print(f"{len(cases)} cases, {sum(c['heavy'] for c in cases)} heavy, {args.jobs} at once", flush=True)
    work = Path(tempfile.mkdtemp(prefix="videolens-fuzz-"))
    records: list[dict] = []
    t0 = time.time()
    try:
        with ThreadPoolExecutor(args.jobs) as pool:
            futures = [pool.submit(run_case, c, paths, work, args.limit) for c in cases]
            for k, fut in enumerate(futures):
                try:
                    recs = fut.result()
                except KeyboardInterrupt:
                    pool.shutdown(wait=False, cancel_futures=True)      # keep what is done, write it below
                    break
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
          f"runs over 60 s: {sum((r['seconds'] or 0) > 60 for r in records)}; "
          f"not good: {sum(r['outcome'] not in GOOD for r in records)}")


if __name__ == "__main__":
    main()
