"""The clip Dataset that decodes action-recognition samples for training and evaluation, and its loader.

Items come from the :class:`~videolens.classify.data.Sample` lists of :func:`~videolens.classify.data.load_dataset`;
decoding happens in DataLoader workers, one decoder thread each, with an optional on-disk cache of decoded clips.

>>> ds = load_dataset("motion/", seed=0)                                           # doctest: +SKIP
>>> loader = make_loader(ClipDataset(ds.train, pre, train=True), batch_size=8, workers=1)   # doctest: +SKIP
"""

from __future__ import annotations

import gc
import os
from collections import OrderedDict

import numpy as np
import torch

from ..errors import VideolensError
from ..io.reader import VideoReader
from .cache import ClipCache
from .data import Sample, _span
from .transforms import Preprocessing, eval_crops, train_clip_flipped, train_indices, view_indices


class ClipDataset(torch.utils.data.Dataset):
    """Clips of ``samples`` decoded on demand (in DataLoader workers, one decoder thread each).

    ``train=True``: one randomly placed, augmented clip per item; the randomness is a function of
    ``(seed, epoch, index)`` only, so a run repeats exactly and ``--resume`` continues it exactly. Set
    :attr:`epoch` before each epoch. ``train=False``: every test view of :func:`view_indices` x ``crops``.

    An item is ``(clip, label, index, error)``: a video that fails to decode gives ``clip=None`` and
    ``error=(path, reason)``, so one bad file costs one item, not the run (:func:`collate` drops it and keeps the
    error in ``batch["bad"]``).
    """

    def __init__(self, samples: list[Sample], pre: Preprocessing, train: bool, *, flip: bool = True, seed: int = 0,
                 cache: ClipCache | str | None = None, bad: set[int] | None = None, max_readers: int = 8,
                 flip_labels: dict[int, int] | None = None):
        self.samples = list(samples)
        self.pre = pre
        self.train = train
        self.flip = flip
        self.flip_labels = dict(flip_labels or {})
        self.seed = int(seed)
        self.epoch = 0
        self.cache = ClipCache(cache) if isinstance(cache, (str, os.PathLike)) else cache
        self.bad = set(bad or ())
        self.max_readers = max_readers
        self._readers: OrderedDict[str, VideoReader] = OrderedDict()

    def __len__(self) -> int:
        return len(self.samples)

    def _reader(self, path: str) -> VideoReader:
        r = self._readers.pop(path, None) or VideoReader(path, threads=1, interpolation=self.pre.interpolation)
        self._readers[path] = r
        while len(self._readers) > self.max_readers:
            self._readers.popitem(last=False)[1].close()
        return r

    def frames(self, sample: Sample, indices: np.ndarray) -> np.ndarray:
        """Frames at ``indices`` (relative to the sample's span), scaled to ``pre.scale``: ``(*indices.shape, H, W, 3)``."""
        reader = self._reader(sample.path)
        i0, i1 = _span(reader.timestamps, sample.start, sample.end)
        if i1 <= i0:
            raise VideolensError(f"{sample.path}: no frames between {sample.start}s and {sample.end}s")
        return read_span_frames(reader, i0, i1, indices, self.pre, self.cache)

    def __getitem__(self, item):
        # (epoch, index) from EpochSampler: persistent workers learn the epoch with each index
        epoch, i = item if isinstance(item, tuple) else (self.epoch, item)
        sample = self.samples[i]
        if i in self.bad:
            return None, sample.label, i, (sample.path, "skipped earlier")
        try:
            reader = self._reader(sample.path)
            i0, i1 = _span(reader.timestamps, sample.start, sample.end)
            n = i1 - i0
            if n < 1:
                raise VideolensError(f"{sample.path}: no frames in its span")
            if self.train:
                rng = np.random.default_rng([self.seed, epoch, i])
                idx = train_indices(n, self.pre, rng)
                frames = read_span_frames(reader, i0, i1, idx, self.pre, self.cache)
                clip, flipped = train_clip_flipped(frames, self.pre, rng, flip=self.flip)
                if flipped:
                    return clip, self.flip_labels.get(sample.label, sample.label), i, None
            else:
                clip = views_tensor(read_span_frames(reader, i0, i1, view_indices(n, self.pre), self.pre,
                                                     self.cache), self.pre)
        except Exception as e:  # noqa: BLE001 - any failure on one video is that video's problem
            reason = getattr(e, "reason", None) or (str(e).splitlines() or [type(e).__name__])[0]
            return None, sample.label, i, (sample.path, reason)
        return clip, sample.label, i, None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_readers"] = OrderedDict()
        return state


def read_span_frames(reader: VideoReader, i0: int, i1: int, indices: np.ndarray, pre: Preprocessing,
                     cache: ClipCache | None = None) -> np.ndarray:
    """Frames ``i0 + indices`` of ``reader`` scaled to ``pre.scale``; through ``cache`` when given and the span fits."""
    indices = np.asarray(indices, dtype=np.int64)
    if cache is not None and cache.cacheable(i0, i1):
        frames = cache.frames(reader, i0, i1, pre.scale)
        return np.asarray(frames[indices.reshape(-1)]).reshape(*indices.shape, *frames.shape[1:])
    flat = indices.reshape(-1) + i0
    uniq, inverse = np.unique(flat, return_inverse=True)
    decoded = reader.get_frames(uniq, size=pre.scale)
    return decoded[inverse].reshape(*indices.shape, *decoded.shape[1:])


def views_tensor(frames: np.ndarray, pre: Preprocessing) -> torch.Tensor:
    """Test views ``(V, T, H, W, 3)`` uint8 -> ``(V * crops, 3, T, size, size)``: every clip, every crop."""
    return torch.cat([eval_crops(v, pre) for v in frames])


def collate(items: list) -> dict:
    """Stack the good items; keep the failed ones' ``(path, reason)`` for the log.

    Test items carry several views each: ``counts`` says how many rows of ``clips`` belong to each video.
    """
    good = [it for it in items if it[0] is not None]
    out = {"bad": [it[3] for it in items if it[0] is None], "clips": None,
           "labels": torch.tensor([it[1] for it in good], dtype=torch.long),
           "indices": torch.tensor([it[2] for it in good], dtype=torch.long), "counts": []}
    if good:
        if good[0][0].dim() == 5:
            out["counts"] = [it[0].shape[0] for it in good]
            out["clips"] = torch.cat([it[0] for it in good])
        else:
            out["clips"] = torch.stack([it[0] for it in good])
    return out


class EpochSampler(torch.utils.data.Sampler):
    """Wraps a sampler with ``set_epoch`` (e.g. ``DistributedSampler``) and yields ``(epoch, index)``, so that
    persistent DataLoader workers draw each epoch's augmentation without being restarted."""

    def __init__(self, sampler):
        self.sampler = sampler
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.sampler.set_epoch(epoch)

    def __iter__(self):
        return ((self.epoch, int(i)) for i in self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)


def worker_init(_worker_id: int) -> None:
    """One thread per DataLoader worker: 2 cores are not oversubscribed by the workers' torch ops."""
    torch.set_num_threads(1)


class _Loader(torch.utils.data.DataLoader):
    """A DataLoader whose worker processes never finalise this process's objects.

    Workers are forked: a copy of this process's memory, including decoders and scalers whose threads do not exist
    in the child. Were the child's garbage collector to free one of them, it would wait for those threads forever
    (seen with PyAV's swscale contexts). So garbage is collected here first, and what is left is frozen
    (``gc.freeze``, made for fork) while the workers start, so that their collectors never look at it.
    """

    def __iter__(self):
        if not self.num_workers:
            return super().__iter__()
        gc.collect()
        gc.freeze()
        try:
            return super().__iter__()
        finally:
            gc.unfreeze()


def make_loader(dataset: ClipDataset, batch_size: int, workers: int, sampler=None, persistent: bool = False
                ) -> torch.utils.data.DataLoader:
    """A DataLoader with :func:`collate`; workers decode with one thread each.

    Its own generator (for the workers' base seed) leaves the global RNG alone, so a resumed run draws the same
    dropout masks as an uninterrupted one.
    """
    return _Loader(
        dataset, batch_size=batch_size, sampler=sampler, shuffle=False, num_workers=workers, collate_fn=collate,
        worker_init_fn=worker_init if workers else None, persistent_workers=bool(workers and persistent),
        prefetch_factor=4 if workers else None, generator=torch.Generator().manual_seed(0))


__all__ = ["ClipDataset", "EpochSampler", "collate", "make_loader", "read_span_frames", "views_tensor"]

