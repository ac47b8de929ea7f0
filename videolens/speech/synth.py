"""Speech at known times, for tests and benchmarks: espeak-ng utterances placed in silence and noise.

Needs the ``espeak-ng`` program (``apt-get install espeak-ng``). The truth is where each utterance's waveform
is above the noise, measured on the synthesised signal itself, so it does not depend on espeak's lead-in.

>>> from videolens.speech.synth import synth_speech
>>> truth = synth_speech("talk.wav", [(1.0, "hello there"), (4.0, "see you soon")], duration=7.0)  # doctest: +SKIP
>>> truth                                                                                       # doctest: +SKIP
[(1.07, 1.82), (4.06, 4.93)]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import numpy as np

from ..errors import VideolensError

RATE = 16000


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def espeak(text: str, voice: str = "en-us", speed: int = 160) -> np.ndarray:
    """One utterance as float32 at 16 kHz."""
    from ..io.audio import read_audio

    if not espeak_available():
        raise VideolensError("espeak-ng is not installed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as d:
        wav = os.path.join(d, "u.wav")
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", wav, text], check=True,
                       capture_output=True, timeout=60)
        return read_audio(wav, sample_rate=RATE)


def write_wav(path: str | os.PathLike, audio: np.ndarray, rate: int = RATE) -> None:
    """16-bit PCM WAV from float samples in [-1, 1]: ``(samples,)`` or ``(samples, channels)`` (stdlib ``wave``)."""
    import wave

    data = np.asarray(audio, np.float32)
    channels = 1 if data.ndim == 1 else data.shape[1]
    pcm = (np.clip(data, -1, 1) * 32767).round().astype("<i2")
    with wave.open(os.fspath(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def _extent(x: np.ndarray, floor: float = 0.02) -> tuple[int, int]:
    """First and last sample of an utterance: where its 10 ms energy rises above ``floor`` of its peak."""
    win = RATE // 100
    energy = np.sqrt(np.convolve(x.astype(np.float64) ** 2, np.ones(win) / win, mode="same"))
    loud = np.flatnonzero(energy > floor * energy.max())
    return int(loud[0]), int(loud[-1]) + 1


def synth_speech(path: str | os.PathLike, utterances: list[tuple[float, str]], duration: float,
                 noise: float = 0.003, bursts: list[tuple[float, float, float]] = (), seed: int = 0,
                 channels: int = 1) -> list[tuple[float, float]]:
    """Write a WAV with each ``(start, text)`` spoken from ``start`` seconds, over white noise of std ``noise``,
    plus noise-only ``bursts`` ``(start, end, std)``. Returns each utterance's true ``(start, end)`` in seconds."""
    rng = np.random.default_rng(seed)
    n = round(duration * RATE)
    audio = rng.normal(0.0, noise, n).astype(np.float32)
    for a, b, std in bursts:
        i, j = int(a * RATE), min(n, int(b * RATE))
        audio[i:j] += rng.normal(0.0, std, j - i).astype(np.float32)
    truth = []
    for start, text in utterances:
        x = espeak(text)
        lo, hi = _extent(x)
        x = x[lo:hi]
        i = round(start * RATE)
        if i + len(x) > n:
            raise ValueError(f"utterance {text!r} at {start} s does not fit in {duration} s")
        audio[i:i + len(x)] += 0.6 * x / max(1e-6, float(np.abs(x).max()))
        truth.append((i / RATE, (i + len(x)) / RATE))
    audio = np.clip(audio, -1, 1)
    data = np.stack([audio] * channels, axis=1) if channels > 1 else audio
    write_wav(path, data, RATE)
    return truth
