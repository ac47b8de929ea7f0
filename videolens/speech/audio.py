"""Audio for speech: one channel at 16 kHz, in blocks, from any file PyAV reads."""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Callable, Iterator

import numpy as np

from ..errors import VideolensError

SAMPLE_RATE = 16000          # what Silero VAD and Whisper expect
CHANNELS = ("mix", "left", "right")


def parse_channel(channel: str | int | None) -> str | int:
    """``mix`` (average all channels), ``left``, ``right``, or a channel number (0-based)."""
    if channel is None:
        return "mix"
    if isinstance(channel, int) or (isinstance(channel, str) and channel.isdigit()):
        return int(channel)
    name = str(channel).lower()
    if name not in CHANNELS:
        raise VideolensError(f"--channel {channel}: expected left, right, mix or a channel number")
    return name


def _pick(block: np.ndarray, channel: str | int, path: str, warned: list[bool],
          on_warning: Callable[[str], None]) -> np.ndarray:
    """One channel (or the mix) of a ``(channels, samples)`` block."""
    if channel == "mix":
        return block.mean(axis=0) if block.shape[0] > 1 else block[0]
    k = {"left": 0, "right": 1}.get(channel, channel)   # type: ignore[arg-type]
    if block.shape[0] == 1:
        # A mono file has its one voice on "both sides": use it rather than fail a batch of mixed files.
        if k != 0 and not warned[0]:
            on_warning(f"{path}: the audio is mono; --channel {channel} uses its only channel")
            warned[0] = True
        return block[0]
    if not 0 <= int(k) < block.shape[0]:
        raise VideolensError(f"{path}: --channel {channel}: the audio has {block.shape[0]} channels")
    return block[int(k)]


def speech_blocks(path: str | os.PathLike, stream: int | None = None, channel: str | int = "mix",
                  block_seconds: float = 4.0, on_warning: Callable[[str], None] | None = None) -> Iterator[np.ndarray]:
    """float32 blocks of one channel at 16 kHz, decoded as they are needed (bounded memory). Errors about the
    file (no audio, unreadable) are raised by this call, not by the first iteration. Warnings about the audio
    (damaged packets, a mono file asked for one side) go to ``on_warning`` (default: :func:`warnings.warn`).

    >>> sum(len(b) for b in speech_blocks("samples/sample.mp4")) / 16000     # doctest: +SKIP
    18.0
    """
    from ..io.audio import iter_audio

    channel = parse_channel(channel)
    warned = [False]
    warn = on_warning or (lambda message: warnings.warn(message, stacklevel=2))
    blocks = iter_audio(path, SAMPLE_RATE, mono=channel == "mix", stream=stream, block_seconds=block_seconds,
                        on_warning=warn)
    first = next(blocks)    # a file without audio fails here, before the caller shows any progress

    def picked():
        for block in itertools.chain([first], blocks):
            yield block if block.ndim == 1 else _pick(block, channel, os.fspath(path), warned, warn)

    return picked()


def audio_duration(path: str | os.PathLike, stream: int | None = None) -> float | None:
    """The audio stream's duration from the container's header (no decoding), or None when it does not say."""
    import av

    try:
        with av.open(os.fspath(path), metadata_errors="ignore") as c:
            streams = c.streams.audio
            if not streams:
                return None
            s = streams[0 if stream is None else min(int(stream), len(streams) - 1)]
            if s.duration is not None and s.time_base is not None:
                return float(s.duration * s.time_base)
            if c.duration is not None:
                return c.duration / 1_000_000
    except Exception:  # noqa: BLE001 - only for the progress bar; decoding reports real errors
        return None
    return None
