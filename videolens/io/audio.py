"""Audio extraction from any container or codec that PyAV (FFmpeg) reads."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator

import av
import av.error
import numpy as np

from ..errors import NoAudioError, VideoError
from .paths import check_path


def audio_streams(path: str | os.PathLike) -> int:
    """How many audio streams the file has (0 when none)."""
    path = os.fspath(path)
    check_path(path)
    try:
        with av.open(path, metadata_errors="ignore") as c:
            return len(c.streams.audio)
    except av.error.FFmpegError as e:
        raise VideoError(path, f"not a readable media file ({getattr(e, 'strerror', None) or e})") from None


def read_audio(path: str | os.PathLike, sample_rate: int = 16000, mono: bool = True, stream: int | None = None,
               start: float | None = None, end: float | None = None) -> np.ndarray:
    """Decode an audio stream to float32 in [-1, 1], resampled to ``sample_rate``.

    Returns ``(samples,)`` when ``mono`` (channels averaged), else ``(channels, samples)``. ``stream`` picks the
    audio stream by its position among the file's audio streams (default: the first). ``start``/``end`` trim, in
    seconds from the start of the audio. A damaged stream yields what decodes, with a warning; a file without
    audio raises :class:`videolens.NoAudioError`. For long files, :func:`iter_audio` gives the same samples in blocks.

    >>> from videolens import read_audio
    >>> audio = read_audio("samples/sample.mp4")   # doctest: +SKIP
    >>> audio.dtype, audio.ndim
    (dtype('float32'), 1)
    """
    blocks = list(iter_audio(path, sample_rate, mono=False, stream=stream, block_seconds=60.0,
                             on_warning=lambda message: warnings.warn(message, stacklevel=3)))
    audio = np.concatenate(blocks, axis=1)
    if start is not None or end is not None:
        a = max(0, int(round((start or 0.0) * sample_rate)))
        b = audio.shape[1] if end is None else max(a, int(round(end * sample_rate)))
        audio = audio[:, a:b]
    if mono:
        return audio.mean(axis=0) if audio.shape[0] > 1 else audio[0]
    return audio


def iter_audio(path: str | os.PathLike, sample_rate: int = 16000, mono: bool = True, stream: int | None = None,
               block_seconds: float = 5.0, on_warning: Callable[[str], None] | None = None) -> Iterator[np.ndarray]:
    """Decode an audio stream in blocks of about ``block_seconds``, so memory stays bounded on hour-long files.

    Yields float32 blocks shaped like :func:`read_audio`'s result: ``(samples,)`` when ``mono``, else
    ``(channels, samples)``; concatenated they equal ``read_audio(path, sample_rate, mono, stream)``. Damaged
    packets are skipped with one warning at the end (passed to ``on_warning`` when given, which is thread-safe,
    unlike catching warnings); a file without audio raises :class:`videolens.NoAudioError` before the first block.

    >>> from videolens.io.audio import iter_audio
    >>> sum(len(b) for b in iter_audio("samples/sample.mp4")) / 16000     # doctest: +SKIP
    18.0
    """
    path = os.fspath(path)
    check_path(path)
    try:
        container = av.open(path, metadata_errors="ignore")
    except av.error.FFmpegError as e:
        raise VideoError(path, f"not a readable media file ({getattr(e, 'strerror', None) or e})") from None
    block = max(1, round(block_seconds * sample_rate))
    with container:
        streams = container.streams.audio
        if not streams:
            raise NoAudioError(path, "no audio stream")
        k = 0 if stream is None else int(stream)
        if not 0 <= k < len(streams):
            raise NoAudioError(path, f"no audio stream {k} (the file has {len(streams)})")
        astream = streams[k]
        layout = astream.codec_context.layout.name if astream.codec_context.layout else None
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
        pending: list[np.ndarray] = []
        held = 0
        errors = 0
        emitted = False

        def take(final: bool) -> Iterator[np.ndarray]:
            nonlocal pending, held
            if not pending or (held < block and not final):
                return
            audio = np.concatenate(pending, axis=1).astype(np.float32, copy=False)
            pending, held = [], 0
            yield audio.mean(axis=0) if mono and audio.shape[0] > 1 else (audio[0] if mono else audio)

        packets = container.demux(astream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except (av.error.FFmpegError, OSError):
                errors += 1
                break
            try:
                frames = packet.decode()
            except (av.error.FFmpegError, ValueError):
                errors += 1
                continue
            for frame in frames:
                for out in resampler.resample(frame):
                    a = out.to_ndarray()
                    a = a.reshape(a.shape[0], -1)
                    pending.append(a)
                    held += a.shape[1]
            for out in take(final=False):
                emitted = True
                yield out
        for out in resampler.resample(None):
            a = out.to_ndarray()
            pending.append(a.reshape(a.shape[0], -1))
        for out in take(final=True):
            emitted = True
            yield out
    if not emitted:
        raise NoAudioError(path, "the audio stream has no decodable samples")
    if errors:
        message = f"{path}: {errors} damaged audio packet(s) skipped; the rest decoded"
        if on_warning is not None:
            on_warning(message)
        else:
            warnings.warn(message, stacklevel=2)
