"""``videolens analyze``: every analysis in one decode pass per video, into a report; batches local or on Ray."""

from __future__ import annotations

import argparse

from ..errors import VideolensError
from ._common import add_device, add_quiet_json, add_tracker, batch_exit, emit, error, positive_int, tracker_settings


def _add_analyze(sub) -> None:
    p = sub.add_parser(
        "analyze", help="every analysis in one pass per video: report.json, report.html, annotated video; batches",
        description="Analyze videos in one decode pass each: shots, faces, motion and speech (when there is audio) "
                    "by default, objects and actions on request. Each video gets OUT/<video-name>/ with report.json, "
                    "report.html and the analyzers' files; a batch adds index.html and summary.csv. An analyzer "
                    "whose optional extra is missing is skipped and the report says how to install it.")
    p.add_argument("videos", nargs="+", metavar="INPUT", help="video files, directories or glob patterns")
    p.add_argument("-o", "--output", default="videolens-out", metavar="OUT",
                   help="output folder; each video gets OUT/<video-name>/ (default ./videolens-out)")
    bool_flag = argparse.BooleanOptionalAction
    p.add_argument("--shots", action=bool_flag, default=True, help="shot boundaries (default on)")
    p.add_argument("--faces", action=bool_flag, default=True, help="face detection (default on)")
    p.add_argument("--people", nargs="?", const=True, default=None, metavar="GALLERY",
                   help="face identities: who appears when (default on with faces); with GALLERY (a folder of "
                        "photos per person, or a gallery.npz from 'videolens people enroll'), known people are named")
    p.add_argument("--no-people", dest="people", action="store_false", help="no face identities")
    p.add_argument("--motion", action=bool_flag, default=True, help="motion activity per second (default on)")
    p.add_argument("--speech", action=bool_flag, default=None,
                   help="speech transcription (default: on when the video has audio)")
    p.add_argument("--text", action=bool_flag, default=False,
                   help="on-screen text, Chinese and English: one frame a second and each cut (default off)")
    p.add_argument("--objects", metavar="MODEL|PATH", help="detect objects with this model (off by default)")
    add_tracker(p, "track the detected objects")
    p.add_argument("--actions", metavar="CKPT", help="recognise actions with this checkpoint (off by default)")
    p.add_argument("--analyzer", action="append", default=[], metavar="MODULE:CLASS",
                   help="also run your own analyzer class (importable by the workers; repeatable)")
    p.add_argument("--stride", type=positive_int, help="analyze every N-th frame (faces, objects, motion)")
    p.add_argument("--annotated-video", action="store_true",
                   help="also write annotated.mp4: boxes, ids, current shot and subtitles, audio kept")
    p.add_argument("--proxy", choices=["auto", "always", "never"], default="auto",
                   help="write proxy.mp4 for the report's player: auto = when a browser cannot play the source")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local processes (default) or a Ray cluster (inputs must be readable by the workers)")
    p.add_argument("--address", metavar="ADDR", help="--engine ray: an existing cluster (default: start one)")
    p.add_argument("--jobs", type=positive_int,
                   help="videos in parallel: processes (default 1), or workers of the Ray cluster started for the "
                        "run (default: one per core)")
    p.add_argument("--resume", action="store_true", help="skip videos whose outputs are complete")
    p.add_argument("--overwrite", action="store_true", help="replace existing output folders")
    add_device(p)
    add_quiet_json(p, json_help="print the outcome of every video as one JSON document")
    p.set_defaults(func=_run_analyze)


def _run_analyze(args: argparse.Namespace) -> int:
    from ..analyze import AnalyzeConfig, analyze

    if args.address and args.engine != "ray":
        raise VideolensError("--address needs --engine ray")
    config = AnalyzeConfig(shots=args.shots, faces=args.faces, people=args.people, motion=args.motion,
                           speech=args.speech, objects=args.objects, tracker=args.tracker,
                           tracker_settings=tracker_settings(args), actions=args.actions, stride=args.stride,
                           annotated_video=args.annotated_video, proxy=args.proxy, device=args.device,
                           plugins=tuple(args.analyzer), enable={"text": True} if args.text else {})
    run = analyze(args.videos, args.output, config, engine=args.engine, jobs=args.jobs, address=args.address,
                  resume=args.resume, overwrite=args.overwrite, quiet=args.quiet)
    for v in run.videos:
        if v.status == "failed":
            error(v.error or f"{v.video}: failed")
    if run.summary_error:
        error(run.summary_error)
    emit(args, run.to_dict, lambda: _format_analyze(run))
    code = batch_exit(run.ok, run.failed)
    return code or (1 if run.summary_error else 0)


def _format_analyze(run) -> str:
    lines = []
    skipped: dict[str, dict] = {}
    for v in run.videos:
        if v.status == "failed":
            lines.append(f"{v.name}: FAILED ({v.error})")
            continue
        s = v.summary
        parts = [f"{s.get('duration', 0):.1f} s"]
        for key, unit in (("shots", "shots"), ("faces", "faces at most"), ("people", "people"), ("tracks", "tracks"),
                          ("speech_seconds", "s of speech"), ("text_segments", "text segments")):
            if s.get(key) is not None:
                parts.append(f"{s[key]:g} {unit}")
        if v.status == "skipped":
            parts.append("complete already (--resume)")
        elif v.seconds:
            parts.append(f"{s.get('duration', 0) / v.seconds:.1f}x real time")
        lines.append(f"{v.name}: {', '.join(parts)}")
        lines.append(f"  report: {v.html}")
        for sk in v.skipped:
            skipped.setdefault(sk["name"], sk)
    for sk in skipped.values():
        lines.append(f"not analyzed: {sk['name']}: {sk['reason']}" + (f" ({sk['install']})" if sk["install"] else ""))
    if run.index:
        lines.append(f"{len(run.videos)} videos: {run.ok} done, {run.failed} failed; index: {run.index}")
    return "\n".join(lines)


COMMANDS = [_add_analyze]
