"""An on-disk cache of decoded, resized clips: uint8 ``.npy`` files read back memory-mapped.

The first epoch decodes each video's frames (the trimmed span, short side scaled to ``Preprocessing.scale``) once
and stores them; later epochs read them from the page cache instead of decoding. Random crops, flips and clip
positions still vary per epoch because augmentation runs on the cached frames.

An entry's name is a hash of the source file's real path, size and modification time, the span of frames and the
scaling settings, so an edited video or other preprocessing simply misses and is decoded again; nothing stale is
ever read. Entries are written under a temporary name and renamed, so workers filling the same entry at once, or a
killed run, never leave a half-written file behind.

>>> cache = ClipCache("/tmp/videolens-clip-cache")                      # doctest: +SKIP
>>> frames = cache.frames(VideoReader("clip.mp4"), 0, 16, scale=128)    # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..io.reader import VideoReader

_VERSION = 1


class ClipCache:
    """Decoded frames of video spans, keyed by source file identity and preprocessing.

    ``max_frames``: longer spans are not cached (they are decoded each time), which bounds the disk use of a long
    video sampled sparsely. ``hits`` and ``misses`` count this process's lookups.
    """

    def __init__(self, root: str | os.PathLike, max_frames: int = 1024):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_frames = int(max_frames)
        self.hits = self.misses = 0

    def key(self, path: str, i0: int, i1: int, scale: int, interpolation: str) -> str:
        real = os.path.realpath(path)
        st = os.stat(real)
        ident = [_VERSION, real, st.st_size, st.st_mtime_ns, int(i0), int(i1), int(scale), interpolation]
        return hashlib.sha1(json.dumps(ident).encode()).hexdigest()

    def entry(self, path: str, i0: int, i1: int, scale: int, interpolation: str = "fast_bilinear") -> Path:
        k = self.key(path, i0, i1, scale, interpolation)
        return self.root / k[:2] / f"{k}.npy"

    def cacheable(self, i0: int, i1: int) -> bool:
        return 0 < i1 - i0 <= self.max_frames

    def frames(self, reader: VideoReader, i0: int, i1: int, scale: int) -> np.ndarray:
        """Frames ``i0 .. i1-1`` of ``reader`` with the short side at ``scale``: ``(n, H, W, 3)`` uint8, read-only."""
        file = self.entry(reader.path, i0, i1, scale, reader.interpolation)
        if file.exists():
            try:
                arr = np.load(file, mmap_mode="r")
                if arr.ndim == 4 and arr.shape[0] == i1 - i0 and arr.dtype == np.uint8:
                    self.hits += 1
                    return arr
            except (OSError, ValueError):
                pass  # damaged entry (disk full, foreign file): decode and replace it
        self.misses += 1
        arr = np.concatenate([b.frames for b in reader.iter_frames(i0, i1, size=scale, batch=64)])
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.stem}.{os.getpid()}.partial.npy")
        try:
            np.save(tmp, arr)
            os.replace(tmp, file)
        except OSError:
            with contextlib.suppress(OSError):
                os.remove(tmp)      # a full disk must not stop training: the frames are in memory anyway
        return arr

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*.npy"))


__all__ = ["ClipCache"]
