"""Many videos: one output folder each, on this machine (``jobs`` processes) or on a Ray cluster.

Each video's folder is built under a temporary name and renamed when complete, so a killed run never leaves a
report that looks complete but is not; the next run over the same output removes what a killed run left behind.
``resume=True`` skips videos whose folder is complete and whose report's fingerprint (:mod:`.fingerprint`: the
analyzers, their settings, their model files, the videolens version) is what this run would record; the others are
analyzed again, and their outcome says why. A video that fails is recorded with its error and the others go on. A
batch also writes ``index.html`` and ``summary.csv`` at the top.

With ``engine="ray"`` every video is one Ray task, on a local cluster started for the run (``jobs`` workers) or on
an existing cluster (``address``). Workers write into their own temporary folder and send the files back; the
driver writes them, so the outputs are the same as with the local engine. The inputs must be readable by the
workers under the same path (shared storage). A task whose worker dies is retried once, then reported failed.

>>> from videolens.analyze import analyze
>>> run = analyze(["a.mp4", "clips/"], "out", jobs=2)         # doctest: +SKIP
>>> [(v.name, v.status) for v in run.videos]                   # doctest: +SKIP
[('a', 'ok'), ('b', 'failed')]
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ..errors import OutputExistsError, VideolensError
from ..utils.batch import run_batch
from ..utils.files import VIDEO_EXTENSIONS, atomic_dir, expand_inputs, output_names, remove_leftovers, write_text
from ..utils.progress import progress
from .config import AnalyzeConfig, check_config
from .fingerprint import changes
from .pipeline import analyze_video, planned_fingerprint

# summary.csv: these, with every analyzer's summary numbers between them (registration order).
HEAD_COLUMNS = ["video", "name", "status", "duration", "frames"]
TAIL_COLUMNS = ["seconds", "error", "report"]


@dataclass
class VideoOutcome:
    """What happened to one input video."""

    video: str
    name: str
    status: str                     # "ok", "failed", or "skipped" (complete from an earlier run, --resume)
    error: str | None = None
    seconds: float = 0.0
    summary: dict = field(default_factory=dict)
    report: str | None = None       # path of report.json
    html: str | None = None         # path of report.html
    skipped: list = field(default_factory=list)   # analyzers not run: [{name, reason, install}]
    redone: str | None = None       # --resume analyzed it again, because of this (its report's fingerprint differed)

    def row(self) -> dict:
        """This video's line of ``summary.csv``: its facts, its analyzers' summary numbers, its outcome."""
        return {"video": self.video, "name": self.name, "status": self.status, **(self.summary or {}),
                "seconds": round(self.seconds, 3), "error": self.error, "report": self.html}


@dataclass
class AnalyzeRun:
    """The outcome of :func:`analyze`: one :class:`VideoOutcome` per input, in input order."""

    output: str
    videos: list[VideoOutcome]
    engine: str = "local"
    index: str | None = None
    summary_csv: str | None = None
    seconds: float = 0.0
    summary_error: str | None = None        # summary.csv / index.html could not be written (the videos stand)

    @property
    def failed(self) -> int:
        return sum(v.status == "failed" for v in self.videos)

    @property
    def ok(self) -> int:
        return sum(v.status != "failed" for v in self.videos)

    def to_dict(self) -> dict:
        return {"output": self.output, "engine": self.engine, "index": self.index, "summary_csv": self.summary_csv,
                "seconds": round(self.seconds, 3), "ok": self.ok, "failed": self.failed,
                "summary_error": self.summary_error, "videos": [asdict(v) for v in self.videos]}


def is_complete(folder: str | os.PathLike, video: str, config: AnalyzeConfig) -> dict | None:
    """The report in ``folder`` if that folder holds a complete analysis of ``video`` for ``config``, else None.

    Complete means: every file the report lists is there, and the source has the size it had. Whether the report
    is still what ``config`` would give is :func:`stale`'s question.
    """
    folder = Path(folder)
    try:
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = report.get("files") or []
    if not all((folder / f).exists() for f in files):
        return None
    if config.annotated_video and "annotated.mp4" not in files:
        return None
    try:
        if int(report["video"]["file_size"]) != os.path.getsize(video):
            return None     # the source changed since
    except (KeyError, TypeError, ValueError, OSError):
        return None
    return report


def stale(report: dict, planned: dict) -> str | None:
    """Why a complete ``report`` is not what this run would write (its fingerprint differs from ``planned``, the
    fingerprint this run records), in a few words; None when it is."""
    old = report.get("fingerprint")
    if not isinstance(old, dict) or "sha256" not in old:
        return f"its report has no fingerprint (written by videolens {report.get('videolens', '?')})"
    if old["sha256"] == planned["sha256"]:
        return None
    return changes(old.get("parts") or {}, planned["parts"])


def _usual_modes(*paths: Path) -> None:
    """Give outputs the permissions a plain open() would (temporary names are created private, 0600/0700)."""
    mask = os.umask(0)
    os.umask(mask)
    for path in paths:
        for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
            try:
                os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~mask)
            except OSError:
                pass


def _limit_threads(threads: int) -> None:
    """Keep one worker to ``threads`` CPU threads (numeric libraries read these when they load)."""
    if threads <= 0:
        return
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    try:
        import cv2

        cv2.setNumThreads(threads)
    except ImportError:
        pass


def _local_task(path: str, names: dict, out_root: str, config: AnalyzeConfig, quiet: bool,
                threads: int) -> dict:
    """One video, written straight into its folder (local engine; runs in this process or a worker process)."""
    _limit_threads(threads)
    name = names[path]
    final = Path(out_root) / name
    with atomic_dir(final) as tmp:
        report = analyze_video(os.path.abspath(path), tmp, config, name=name, final_dir=final.absolute(),
                               quiet=quiet)
        _usual_modes(tmp)
    return {"summary": report["summary"], "skipped": report["analyzers"]["skipped"]}


def _ray_task(path: str, name: str, final_dir: str, config: AnalyzeConfig, threads: int) -> dict:
    """One video in a Ray worker: analyze into a scratch folder and return every file's bytes to the driver."""
    _limit_threads(threads)
    scratch = tempfile.mkdtemp(prefix="videolens-ray-")
    t = time.perf_counter()
    try:
        report = analyze_video(path, scratch, config, name=name, final_dir=final_dir, quiet=True)
        files = {}
        for p in sorted(Path(scratch).rglob("*")):
            if p.is_file() and not p.name.startswith("."):
                files[p.relative_to(scratch).as_posix()] = p.read_bytes()
        return {"ok": True, "result": {"summary": report["summary"], "skipped": report["analyzers"]["skipped"]},
                "files": files, "seconds": time.perf_counter() - t}
    except VideolensError as e:
        return {"ok": False, "error": str(e), "seconds": time.perf_counter() - t}
    except Exception as e:  # noqa: BLE001 - a bug on one video must not look like a dead worker (no retry)
        return {"ok": False, "error": f"{path}: {type(e).__name__}: {e}", "seconds": time.perf_counter() - t}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _write_files(final: Path, files: dict[str, bytes]) -> None:
    with atomic_dir(final) as tmp:
        for rel, data in files.items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)        # the whole folder is renamed into place at the end
        _usual_modes(tmp)


def _run_local(todo: list[str], names: dict, out_root: Path, config: AnalyzeConfig, jobs: int,
               quiet: bool) -> dict[str, VideoOutcome]:
    cpus = os.cpu_count() or 1
    threads = config.threads or (max(1, cpus // jobs) if jobs > 1 else 0)
    if jobs > 1 and not config.threads:
        config = replace(config, threads=threads)
    fn = functools.partial(_local_task, names=names, out_root=str(out_root), config=config,
                           quiet=quiet or jobs > 1, threads=threads if jobs > 1 else 0)
    out = {}
    for item in run_batch(todo, fn, jobs=jobs, desc="videos", quiet=quiet):
        out[item.input] = _outcome(item.input, names[item.input], out_root, item.ok, item.result, item.error,
                                   item.seconds)
    return out


def _outcome(path, name, out_root: Path, ok: bool, result: dict | None, error, seconds) -> VideoOutcome:
    if not ok:
        return VideoOutcome(path, name, "failed", error, seconds)
    folder = out_root / name
    return VideoOutcome(path, name, "ok", None, seconds, result["summary"], str(folder / "report.json"),
                        str(folder / "report.html"), result["skipped"])


def _run_ray(todo: list[str], names: dict, out_root: Path, config: AnalyzeConfig, jobs: int, address: str | None,
             quiet: bool) -> dict[str, VideoOutcome]:
    try:
        import ray
        import ray.exceptions
    except ImportError:
        raise VideolensError("--engine ray needs Ray: pip install 'videolens[scale]'") from None
    # Ray's driver prints worker deaths to stdout from a thread of its own: keep stdout for our --json document.
    with contextlib.redirect_stdout(sys.stderr if not quiet else open(os.devnull, "w")) as sink:
        try:
            return _run_ray_cluster(ray, todo, names, out_root, config, jobs, address, quiet)
        finally:
            if sink is not sys.stderr:
                sink.close()


def start_local_ray(num_cpus: int) -> None:
    """Start a Ray cluster on this machine for one run, reachable from this machine only.

    Every server it starts (GCS, raylet, object manager, each worker's gRPC server, the runtime-env agent) listens
    on 127.0.0.1, and there is no dashboard. Ray binds its servers to the node's address, and on Linux it never
    takes 127.0.0.1 for that address (``_node_ip_address="127.0.0.1"`` is replaced by the machine's outward one)
    unless clusters of several machines are off, as they are on macOS and Windows: that switch is
    ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, read by Ray's constants and inherited by the processes it starts.
    ``tests/test_analyze_ray.py`` lists the listening sockets to hold Ray to it.
    """
    import ray

    try:
        from ray._private import ray_constants
    except ImportError:     # another layout: the environment variable alone, for a Ray imported after this
        ray_constants = None
    saved = os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")
    was = getattr(ray_constants, "ENABLE_RAY_CLUSTER", None)
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    if was is not None:
        ray_constants.ENABLE_RAY_CLUSTER = False      # read when ray was imported; the driver's own node address
    try:
        ray.init(num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
                 logging_level="ERROR")
    finally:
        if saved is None:
            os.environ.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)
        else:
            os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = saved
        if was is not None:
            ray_constants.ENABLE_RAY_CLUSTER = was


def _run_ray_cluster(ray, todo: list[str], names: dict, out_root: Path, config: AnalyzeConfig, jobs: int,
                     address: str | None, quiet: bool) -> dict[str, VideoOutcome]:
    threads = config.threads or 1
    config = replace(config, threads=threads)
    started = False
    if not ray.is_initialized():
        # No runtime_env: setting one up costs seconds per worker; each task limits its own threads instead.
        try:
            if address:
                ray.init(address=address, log_to_driver=False, logging_level="ERROR")
            else:
                start_local_ray(max(1, jobs))
        except (ConnectionError, RuntimeError, ValueError) as e:
            where = f"at {address}" if address else "on this machine"
            raise VideolensError(f"cannot start or reach a Ray cluster {where}: {e}") from None
        started = True
    out: dict[str, VideoOutcome] = {}
    bar = progress(total=len(todo), desc="videos", quiet=quiet, unit="video")
    try:
        # max_retries: a worker that dies (crash, OOM kill) gets one more try; errors in the video do not.
        task = ray.remote(num_cpus=1, max_retries=1, retry_exceptions=False)(_ray_task)
        submitted = time.perf_counter()
        # Absolute paths: a worker's current directory is not the driver's.
        refs = {task.remote(os.path.abspath(p), names[p], str((out_root / names[p]).absolute()), config,
                            threads): p for p in todo}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            path = refs[done[0]]
            try:
                res = ray.get(done[0])
            except ray.exceptions.RayError as e:
                msg = f"{path}: its Ray worker died on both tries ({type(e).__name__})"
                out[path] = VideoOutcome(path, names[path], "failed", msg, time.perf_counter() - submitted)
            else:
                if res["ok"]:
                    _write_files(out_root / names[path], res["files"])
                out[path] = _outcome(path, names[path], out_root, res["ok"], res.get("result"), res.get("error"),
                                     res["seconds"])
            bar.update(1)
    finally:
        bar.close()
        if started:
            ray.shutdown()
    return out


def _planned(config: AnalyzeConfig, has_audio: bool) -> dict:
    """The fingerprint this run records; an analyzer that cannot even be built makes every folder stale (the run
    then reports that error per video, as without --resume)."""
    try:
        return planned_fingerprint(config, has_audio)
    except Exception as e:  # noqa: BLE001 - raised again, per video, when the video is analyzed
        return {"sha256": "", "parts": {"error": f"cannot build the analyzers ({type(e).__name__}: {e})"}}


def write_summary(out_root: str | os.PathLike, videos: list[VideoOutcome]) -> tuple[str, str]:
    """``summary.csv`` and ``index.html`` at the top of the output folder."""
    from ..report.library import render_index_html

    out_root = Path(out_root)
    rows = [v.row() for v in videos]
    numbers = [k for k in dict.fromkeys(k for v in videos for k in v.summary or {}) if k not in HEAD_COLUMNS]
    columns = HEAD_COLUMNS + numbers + TAIL_COLUMNS
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: "" if r.get(k) is None else r[k] for k in columns})
    write_text(out_root / "summary.csv", buf.getvalue())
    shown = [k for k in numbers if any(r.get(k) is not None for r in rows)]
    write_text(out_root / "index.html", render_index_html(rows, shown, title=f"videolens analyze — {out_root.name}",
                                                          root=out_root))
    _usual_modes(out_root / "summary.csv", out_root / "index.html")
    return str(out_root / "summary.csv"), str(out_root / "index.html")


def analyze(inputs: Sequence[str | os.PathLike], output: str | os.PathLike = "videolens-out",
            config: AnalyzeConfig | None = None, *, engine: str = "local", jobs: int | None = None,
            address: str | None = None, resume: bool = False, overwrite: bool = False,
            quiet: bool = False) -> AnalyzeRun:
    """Analyze videos (files, directories, globs) into ``output/<video-name>/``; returns what happened to each.

    Raises :class:`~videolens.errors.VideolensError` before doing any work for bad settings, for inputs that
    match nothing, and for an existing output folder without ``resume`` or ``overwrite``.
    """
    t0 = time.perf_counter()
    config = config or AnalyzeConfig()
    check_config(config)
    if engine not in ("local", "ray"):
        raise VideolensError(f"--engine must be local or ray, not {engine!r}")
    if jobs is None:    # one process locally; on a Ray cluster started for the run, one worker per core
        jobs = (os.cpu_count() or 1) if engine == "ray" else 1
    if jobs < 1:
        raise VideolensError(f"--jobs must be >= 1, not {jobs}")
    paths = expand_inputs([os.fspath(p) for p in inputs], VIDEO_EXTENSIONS)
    if not paths:
        raise VideolensError("no input videos")
    out_root = Path(output)
    names = dict(zip(paths, output_names(paths)))
    done: dict[str, VideoOutcome] = {}
    todo: list[str] = []
    redone: dict[str, str] = {}
    planned: dict[bool, dict] = {}      # the fingerprint this run records, for videos with and without audio
    for p in paths:
        folder = out_root / names[p]
        report = is_complete(folder, p, config) if resume else None
        if report is not None:
            audio = bool((report.get("video") or {}).get("audio"))
            if audio not in planned:
                planned[audio] = _planned(config, audio)
            why = stale(report, planned[audio])
            if why is None:
                done[p] = VideoOutcome(p, names[p], "skipped", None, 0.0, report.get("summary") or {},
                                       str(folder / "report.json"), str(folder / "report.html"),
                                       (report.get("analyzers") or {}).get("skipped") or [])
                continue
            redone[p] = why
            # Said now, before the work: the earlier results are about to be replaced.
            sys.stderr.write(f"videolens: {p}: analyzing again (--resume): {why}\n")
            sys.stderr.flush()
        elif folder.exists() and not (overwrite or resume):
            raise OutputExistsError(folder)
        todo.append(p)
    out_root.mkdir(parents=True, exist_ok=True)
    remove_leftovers(out_root, [*names.values(), "summary", "index"])
    if todo:
        if engine == "ray":
            done.update(_run_ray(todo, names, out_root, config, jobs, address, quiet))
        else:
            done.update(_run_local(todo, names, out_root, config, jobs, quiet))
    for p, why in redone.items():
        done[p].redone = why
    videos = [done[p] for p in paths]
    run = AnalyzeRun(str(out_root), videos, engine)
    if len(paths) > 1:
        try:
            run.summary_csv, run.index = write_summary(out_root, videos)
        except VideolensError as e:
            # Each video's outcome stands (and is reported); the batch's own pages failing is one more error
            run.summary_error = str(e)
    run.seconds = time.perf_counter() - t0
    return run
