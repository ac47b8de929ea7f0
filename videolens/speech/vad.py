"""Voice activity detection with Silero VAD, streamed so hour-long files stay in bounded memory.

Silero VAD (the ``silero-vad`` package, which ships its weights) gives a speech probability per 32 ms window; its
own state machine (``get_speech_timestamps_from_probs``; copied in :mod:`._silero`, so that torch is not imported)
turns them into segments. :class:`StreamingVAD` runs both
over audio blocks as they are decoded and hands out each segment once its end is settled, with its audio, so the
caller never holds more than the current stretch of speech.

>>> from videolens.speech import detect_speech
>>> result = detect_speech("samples/sample.mp4")                   # doctest: +SKIP
>>> [(s.start, s.end) for s in result.segments]                    # doctest: +SKIP
[(0.42, 2.1), ...]
"""

from __future__ import annotations

import functools
import os
from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import VideolensError
from .audio import SAMPLE_RATE, audio_duration, speech_blocks

WINDOW = 512      # samples per Silero window at 16 kHz (32 ms)
CONTEXT = 64      # samples of the previous window the model sees
_MAX_FRAMES = 512  # windows per ONNX call


@dataclass
class VadOptions:
    """Silero VAD settings (the names of ``silero_vad.get_speech_timestamps``, in ms and s).

    - ``threshold``: speech probability above which a window is speech.
    - ``min_speech_ms``: shorter bursts are dropped.
    - ``min_silence_ms``: a pause must last this long to end a segment.
    - ``speech_pad_ms``: added to both ends of each segment.
    - ``max_speech_s``: longer segments are cut at their longest pause (this also bounds memory).
    """

    threshold: float = 0.5
    min_speech_ms: int = 250
    min_silence_ms: int = 500
    speech_pad_ms: int = 100
    max_speech_s: float = 30.0

    def __post_init__(self):
        if not 0.0 < self.threshold < 1.0:
            raise VideolensError(f"VAD threshold must be between 0 and 1, not {self.threshold}")
        if self.min_speech_ms < 0 or self.min_silence_ms < 0 or self.speech_pad_ms < 0 or self.max_speech_s <= 1:
            raise VideolensError("VAD durations must be >= 0 (and max_speech_s > 1)")

    def silero_kwargs(self) -> dict:
        return {"threshold": self.threshold, "min_speech_duration_ms": self.min_speech_ms,
                    "min_silence_duration_ms": self.min_silence_ms, "speech_pad_ms": self.speech_pad_ms,
                    "max_speech_duration_s": self.max_speech_s}


@dataclass
class SpeechSegment:
    """A stretch of speech, in seconds from the start of the audio."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class VadChunk:
    """A settled segment and its audio (from ``audio_start``, padded for the recogniser)."""

    segment: SpeechSegment
    audio: np.ndarray
    audio_start: float


@dataclass
class VadResult:
    """What :func:`detect_speech` finds in one file."""

    path: str
    duration: float
    segments: list[SpeechSegment] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def speech_seconds(self) -> float:
        return sum(s.duration for s in self.segments)

    def to_dict(self) -> dict:
        return {"path": self.path, "duration": round(self.duration, 3),
                "speech_seconds": round(self.speech_seconds, 3),
                "segments": [{k: round(v, 3) for k, v in asdict(s).items()} for s in self.segments],
                "warnings": list(self.warnings)}


def require_speech_packages() -> None:
    """A clear error when the ``speech`` extra is not installed."""
    import importlib.util

    for module, package in (("silero_vad", "silero-vad"), ("faster_whisper", "faster-whisper")):
        if importlib.util.find_spec(module) is None:
            raise VideolensError(f"speech needs {package}; install it with: pip install 'videolens[speech]'")


class StreamingVAD:
    """Feed 16 kHz mono blocks, get back settled speech segments with their audio.

    ``audio_pad`` seconds of audio are kept on each side of a segment for the recogniser (never overlapping the
    previous chunk's audio). Segments are exactly those Silero's ``get_speech_timestamps`` finds on the whole
    file: the state machine is re-run on the unsettled stretch only, from a point where it is idle.

    >>> vad = StreamingVAD()                                             # doctest: +SKIP
    >>> chunks = [c for block in blocks for c in vad.feed(block)] + vad.finish()   # doctest: +SKIP
    """

    def __init__(self, options: VadOptions | None = None, audio_pad: float = 0.0, keep_audio: bool = True):
        from ._silero import session, speech_timestamps_from_probs

        self.options = options or VadOptions()
        self._segment = functools.partial(speech_timestamps_from_probs, sampling_rate=SAMPLE_RATE,
                                          **self.options.silero_kwargs())
        self._session = session()    # Silero's batched ONNX model, loaded once
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(CONTEXT, np.float32)
        self._tail = np.zeros(0, np.float32)      # samples after the last whole window
        self._probs: list[float] = []             # one per window from _region
        self._region = 0                          # absolute sample where the unsettled stretch starts
        self._keep = keep_audio
        self._audio = np.zeros(0, np.float32)     # samples from _audio_start
        self._audio_start = 0
        self._emitted = 0                         # audio before this sample was handed out already
        self._last_end = 0                        # end of the last settled segment
        self._pad = round(audio_pad * SAMPLE_RATE)
        self.samples = 0

    def _forward(self, samples: np.ndarray) -> np.ndarray:
        frames = samples.reshape(-1, WINDOW)
        contexts = np.empty((len(frames), CONTEXT), np.float32)
        contexts[0] = self._context
        contexts[1:] = frames[:-1, -CONTEXT:]
        self._context = frames[-1, -CONTEXT:].copy()
        x = np.concatenate([contexts, frames], axis=1)
        out = []
        for i in range(0, len(x), _MAX_FRAMES):
            probs, self._h, self._c = self._session.run(["speech_probs", "hn", "cn"],
                                                        {"input": x[i:i + _MAX_FRAMES], "h": self._h, "c": self._c})
            out.append(np.asarray(probs).reshape(-1))
        return np.concatenate(out)

    def feed(self, block: np.ndarray) -> list[VadChunk]:
        block = np.asarray(block, np.float32).reshape(-1)
        self.samples += len(block)
        if self._keep:
            self._audio = np.concatenate([self._audio, block])
        data = np.concatenate([self._tail, block])
        whole = len(data) // WINDOW * WINDOW
        if whole:
            self._probs.extend(self._forward(data[:whole]).tolist())
        self._tail = data[whole:]
        return self._settle(final=False)

    def finish(self) -> list[VadChunk]:
        """Flush: the last, possibly open, segment is settled at the end of the audio."""
        if len(self._tail):
            self._probs.extend(self._forward(np.pad(self._tail, (0, WINDOW - len(self._tail)))).tolist())
            self._tail = np.zeros(0, np.float32)
        return self._settle(final=True)

    def _settle(self, final: bool) -> list[VadChunk]:
        if not self._probs:
            return []
        length = self.samples - self._region if final else len(self._probs) * WINDOW
        segs = self._segment(self._probs, audio_length_samples=length)
        o = self.options
        pad = o.speech_pad_ms * SAMPLE_RATE // 1000
        min_speech = o.min_speech_ms * SAMPLE_RATE // 1000
        # A segment's end (and padding) is final once no new segment could still start close enough to change it.
        margin = pad + min_speech + self._pad + 2 * WINDOW
        n_settled = len(segs)
        if not final:
            n_settled = 0
            for i, s in enumerate(segs):
                if i < len(segs) - 1 or (s["end"] < length and s["end"] + margin <= length):
                    n_settled = i + 1
                else:
                    break
        # Segments already handed out (the stretch is re-run until the state machine is idle) are skipped.
        chunks = [self._chunk(s) for s in segs[:n_settled] if self._region + s["end"] > self._last_end]
        if final:
            return chunks
        rest = segs[n_settled:]
        if not rest:
            # Idle: no segment is open, so re-running from here gives what a whole-file run gives.
            cut = max(segs[n_settled - 1]["end"] if n_settled else 0, length - min_speech - pad - 2 * WINDOW)
        elif length > 4 * o.max_speech_s * SAMPLE_RATE:
            # Speech with no pause for minutes (or music): bound memory, at the price of exactness at this cut.
            cut = rest[0]["start"]
        else:
            cut = 0
        cut = max(0, cut) // WINDOW * WINDOW
        if cut:
            del self._probs[:cut // WINDOW]
            self._region += cut
        keep_from = max(self._audio_start, min(self._region, self._last_end) - self._pad)
        if keep_from > self._audio_start:
            self._audio = self._audio[keep_from - self._audio_start:]
            self._audio_start = keep_from
        return chunks

    def _chunk(self, s: dict) -> VadChunk:
        # Padding may make neighbours touch; re-running from a window boundary can then reach back a little.
        start, end = max(self._region + s["start"], self._last_end), self._region + s["end"]
        self._last_end = end
        a = max(start - self._pad, self._emitted, self._audio_start)
        b = min(end + self._pad, self.samples)
        audio = self._audio[a - self._audio_start:b - self._audio_start].copy() if self._keep else np.zeros(0)
        self._emitted = max(self._emitted, b)
        return VadChunk(SpeechSegment(start / SAMPLE_RATE, end / SAMPLE_RATE), audio, a / SAMPLE_RATE)


def detect_speech(path: str | os.PathLike, options: VadOptions | None = None, *, audio_stream: int | None = None,
                  channel: str | int = "mix", quiet: bool = True) -> VadResult:
    """Speech segments (seconds) in a file's audio, with Silero VAD. Raises :class:`videolens.NoAudioError`
    (a :class:`videolens.VideoError`) when the file has no audio.

    >>> from videolens.speech import detect_speech, VadOptions
    >>> r = detect_speech("talk.mp4", VadOptions(min_silence_ms=300))   # doctest: +SKIP
    >>> r.speech_seconds, r.segments[0].start                          # doctest: +SKIP
    """
    from ..utils.progress import progress

    require_speech_packages()
    path = os.fspath(path)
    vad = StreamingVAD(options, keep_audio=False)
    segments: list[SpeechSegment] = []
    notes: list[str] = []
    blocks = speech_blocks(path, audio_stream, channel, on_warning=notes.append)
    total = audio_duration(path, audio_stream)
    bar = progress(total=round(total, 1) if total else None, desc=os.path.basename(path), quiet=quiet, unit="s")
    try:
        for block in blocks:
            segments += [c.segment for c in vad.feed(block)]
            bar.update(round(len(block) / SAMPLE_RATE, 1))
        segments += [c.segment for c in vad.finish()]
    finally:
        bar.close()
    return VadResult(path, vad.samples / SAMPLE_RATE, segments, notes)
