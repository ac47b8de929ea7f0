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


def espeak(text: str, voice: str = "en-us", speed: int = 160, pitch: int | None = None) -> np.ndarray:
    """One utterance as float32 at 16 kHz. ``voice`` may carry a variant (``en-gb+f3``); ``speed`` is in words per
    minute, ``pitch`` 0-99 (espeak's default 50)."""
    from ..io.audio import read_audio

    if not espeak_available():
        raise VideolensError("espeak-ng is not installed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as d:
        wav = os.path.join(d, "u.wav")
        extra = [] if pitch is None else ["-p", str(int(pitch))]
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), *extra, "-w", wav, text], check=True,
                       capture_output=True, timeout=60)
        return read_audio(wav, sample_rate=RATE)


def colored_noise(n: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of white, pink (1/f power) or brown (1/f^2) noise with unit standard deviation."""
    white = rng.normal(0.0, 1.0, n)
    if kind == "white":
        return white.astype(np.float32)
    power = {"pink": 1.0, "brown": 2.0}[kind]
    spectrum = np.fft.rfft(white)
    f = np.fft.rfftfreq(n, 1 / RATE)
    spectrum *= 1 / np.maximum(f, 20.0) ** (power / 2)      # flat below 20 Hz: no drifting DC
    x = np.fft.irfft(spectrum, n)
    return (x / max(float(x.std()), 1e-12)).astype(np.float32)


_SCALE = [0, 2, 4, 5, 7, 9, 11]      # a major scale, semitones above the key


def chord_music(seconds: float, rng: np.random.Generator, bpm: float | None = None) -> np.ndarray:
    """Music without words: a chord progression (triads of harmonic tones, a bass note, plucked envelopes) with a
    soft noise hi-hat, peak 1. What a video's soundtrack puts between and under speech."""
    n = round(seconds * RATE)
    out = np.zeros(n, np.float64)
    beat = 60.0 / (bpm or float(rng.uniform(80, 140)))
    key = float(rng.uniform(196, 330))
    t0 = 0.0
    while t0 < seconds:
        length = beat * int(rng.choice([1, 2, 2, 4]))
        degree = int(rng.integers(0, 7))
        notes = [key * 2 ** ((_SCALE[(degree + k) % 7] + 12 * ((degree + k) // 7)) / 12) for k in (0, 2, 4)]
        notes.append(notes[0] / 4)                               # bass, two octaves down
        i, j = round(t0 * RATE), min(n, round((t0 + length) * RATE))
        t = np.arange(j - i) / RATE
        env = np.minimum(1.0, t / 0.01) * np.exp(-t * float(rng.uniform(1.5, 4.0)))
        for f in notes:
            tone = sum(np.sin(2 * np.pi * f * h * t) / h ** 1.5 for h in (1, 2, 3, 4))
            out[i:j] += env * tone
        t0 += length
    hat = np.zeros(n)
    k = round(beat / 2 * RATE)
    for i in range(0, n, k):
        m = min(n - i, RATE // 20)
        hat[i:i + m] = rng.normal(0, 0.3, m) * np.exp(-np.arange(m) / (RATE / 200))
    out += hat
    return (out / max(float(np.abs(out).max()), 1e-9)).astype(np.float32)


def trim(x: np.ndarray) -> np.ndarray:
    """An utterance without espeak's leading and trailing silence."""
    lo, hi = _extent(x)
    return x[lo:hi]


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
