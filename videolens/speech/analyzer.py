"""The ``speech`` analyzer for ``videolens analyze``: reads the audio itself and wants no frames.

>>> from videolens.stream import run_analyzers
>>> from videolens.speech import SpeechAnalyzer, write_subtitles
>>> run = run_analyzers("talk.mp4", [SpeechAnalyzer(language="en")])    # doctest: +SKIP
>>> run.results["speech"].to_dict()["transcript"]                        # doctest: +SKIP
>>> write_subtitles(run.results["speech"], "out/")                       # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
import os
import threading
from typing import Any

import numpy as np

from ..core.analyzer import Analyzer, MissingExtra
from ..core.events import Event
from ..errors import NoAudioError
from .transcript import Transcript
from .vad import VadOptions


class SpeechAnalyzer(Analyzer):
    """Transcribes a video's audio while the other analyzers look at its frames.

    Settings (constructor arguments) are those of :func:`videolens.transcribe`: ``model``, ``language``,
    ``word_timestamps``, ``audio_stream``, ``channel``, ``vad``, ``beam_size``, ``device``, ``threads`` (Whisper's
    CPU threads; 0: every core; ``analyze`` gives it one). With ``background``
    (default) the audio is read and recognised in a thread started by ``start(info)``, so it overlaps the video
    decode; ``finish()`` waits for it. A video without audio gives an empty :class:`Transcript` whose ``note`` is
    ``"no audio"``. Raises :class:`videolens.analyze.MissingExtra` when faster-whisper or silero-vad is missing.
    """

    name = "speech"
    wants_frames = False      # it reads the audio itself, in start()
    summary_keys = ("speech_seconds", "words")

    @classmethod
    def from_config(cls, config) -> SpeechAnalyzer:
        # One recognition thread: in analyze the decoder and the other analyzers keep the other core busy, and
        # CTranslate2's threads spin-wait when they share cores (BENCHMARKS.md, "Speech threads in analyze").
        return cls(device=config.device, threads=config.threads or 1)

    def __init__(self, model: str | os.PathLike | None = None, language: str | None = None,
                 word_timestamps: bool = False, audio_stream: int | None = None, channel: str | int = "mix",
                 vad: VadOptions | None = None, beam_size: int = 5, device: str = "auto", background: bool = True,
                 threads: int = 0):
        for module, package in (("faster_whisper", "faster-whisper"), ("silero_vad", "silero-vad")):
            if importlib.util.find_spec(module) is None:
                raise MissingExtra("speech", "speech", package)
        from .model import resolve_model

        self.spec = resolve_model(model)      # a missing model is an error now, not after the video is decoded
        self.options: dict[str, Any] = {"language": language, "word_timestamps": word_timestamps, "vad": vad,
                                            "beam_size": beam_size, "device": device, "threads": int(threads)}
        self.audio_stream, self.channel = audio_stream, channel
        self.background = background
        self._thread: threading.Thread | None = None
        self._result: Transcript | None = None
        self._error: BaseException | None = None
        self._events: list[Event] = []

    def start(self, info) -> None:
        self._result, self._error = None, None
        if not info.audio:
            self._result = Transcript(path=info.path, duration=0.0, model=self.spec.name, note="no audio")
            return
        if self.background:
            self._thread = threading.Thread(target=self._run, args=(info.path,), name="videolens-speech", daemon=True)
            self._thread.start()
        else:
            self._run(info.path)

    def _run(self, path: str) -> None:
        from .transcribe import Transcriber

        try:
            tr = Transcriber(self.spec.path, **self.options)
            t = tr(path, audio_stream=self.audio_stream, channel=self.channel, quiet=True)
            t.model = self.spec.name
            self._result = t
        except NoAudioError as e:
            self._result = Transcript(path=path, model=self.spec.name, note=f"no audio ({e.reason})")
        except BaseException as e:  # noqa: BLE001 - re-raised in finish(), in the caller's thread
            self._error = e

    def process(self, frames: np.ndarray, timestamps: np.ndarray, indices: np.ndarray) -> None:
        pass

    def finish(self) -> Transcript:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            raise self._error
        assert self._result is not None, "finish() called before start()"
        # Frames are -1: a speech segment is a span of the audio, not of frames.
        self._events = [Event("speech", s.start, s.end, -1, -1, {"text": s.text.strip()})
                        for s in self._result.segments]
        return self._result

    def abort(self) -> None:
        """Wait for the recognition thread: CTranslate2 must not be inside a call when the process exits."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def events(self) -> list[Event]:
        """Speech segments, once recognised (the whole file's at the end: Whisper sees all of it)."""
        out, self._events = self._events, []
        return out

    def fingerprint(self) -> dict:
        from dataclasses import asdict

        from ..utils.files import file_digest
        from ._silero import model_path

        vad = self.options["vad"]
        return {"model": self.spec.name, "model_sha256": file_digest(self.spec.path),
                "vad_sha256": file_digest(model_path()),
                **{k: v for k, v in self.options.items() if k not in ("device", "vad")},
                "vad": asdict(vad) if vad is not None else None, "audio_stream": self.audio_stream,
                "channel": self.channel}

    def summary(self, result: Transcript) -> dict:
        return {"speech_seconds": round(result.speech_seconds, 3), "words": len(result.text.split())}

    def write_files(self, result: Transcript, out_dir: str | os.PathLike) -> list[str]:
        from .transcript import write_subtitles

        return [str(p) for p in write_subtitles(result, out_dir, formats=("srt", "vtt"))]
