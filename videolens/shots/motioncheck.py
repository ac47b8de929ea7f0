"""The motion check: a transition whose two sides show the same picture, up to a shift, was motion, not an edit.

Fast motion inside a shot (an object crossing close to the lens, a flash, a shaking camera) can look to a detector
like a wipe, a dissolve or a cut. An edit changes the picture: the frames before and after it show different shots.
So the check compares the frame ``offset`` frames before a transition with the one ``offset`` frames after it, by
phase correlation of their high-passed luma at 48x27 (the detectors' frames): the response is near 1 when one
global shift explains the second frame from the first, and low for unrelated pictures, whatever their colours.
Both ``offset = 0`` (the frames right next to it) and ``offset`` must respond at least ``min_response``: looking a
little further keeps a flash or blur frame next to a real cut from vetoing it.

Only gradual transitions (dissolves, fades, wipes) get this before/after check. A cut between two shots of the same
static set-up (two speakers in front of the same wall, as in the GRID clips of ``samples/sample.mp4``) shows
"the same picture" on both sides and would be dropped; the fast-motion development set lost only one of its false
cuts to the check, while the false wipes and dissolves of fast pans are what it is for. The same blind spot remains
for a dissolve between two shots of one static set-up.

Two more tests look at the frame pairs *inside* and around a transition, each pair by the same phase correlation
(the peak's distance from zero shift, as a fraction of the frame's width, and its response):

- ``pan_shift`` (gradual transitions): when every pair over the transition (from the frame before it to the one after
  it) matches with a response of at least ``pan_response``, and the median peak lies at least ``pan_shift`` of the
  width from zero, the whole picture slid by one shift from frame to frame: a fast pan, not a dissolve or a wipe. A
  fade through black has plain frames with no response, so it is never taken for one; a dissolve between still shots
  matches near zero shift.
- ``whip_shift`` (cuts): when the median peak of the four pairs around a cut lies at least ``whip_shift`` of the width
  from zero, the frames there move by a large fraction of the picture from one to the next or are blurred past
  matching (a whip pan, whose peaks land anywhere): a cut in the middle of a static or slowly moving shot has peaks
  near zero on both sides of it. A real cut between two whip pans is lost to this; the development set's spliced
  cuts during fast motion (median peaks up to 0.08 of the width) are kept.

The thresholds and the offset were chosen on the development set (``scripts/select_shots.py``: the ``edits``
development videos and the ``fastmotion`` development videos), never on the benchmark's test sets.

Memory: the luma of every frame at 48x27 (1.3 KB a frame, ~117 MB for an hour at 25 fps) goes to an unnamed
temporary file (in ``TMPDIR``) until the result is built, and only the two frames of each checked transition are
read back: kept in memory, it was most of what an hour-long ``analyze`` grew by.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> a = (rng.random((27, 60)) * 255).astype(np.uint8)
>>> other = (rng.random((27, 48)) * 255).astype(np.uint8)
>>> shift_response(a[:, :48], a[:, 6:54]) > 0.8, shift_response(a[:, :48], other) < 0.2     # shifted; unrelated
(True, True)
"""

from __future__ import annotations

import os
import tempfile
from typing import IO

import numpy as np

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_WINDOWS: dict[tuple[int, int], np.ndarray] = {}


def luma(frames: np.ndarray) -> np.ndarray:
    """``(N, H, W, 3)`` RGB uint8 -> ``(N, H, W)`` luma uint8."""
    return np.clip(frames.astype(np.float32) @ _LUMA + 0.5, 0, 255).astype(np.uint8)


def _highpass(x: np.ndarray) -> np.ndarray:
    import cv2

    x = x.astype(np.float32)
    return x - cv2.GaussianBlur(x, (0, 0), 1.5)


def _correlate(a: np.ndarray, b: np.ndarray) -> tuple[tuple[float, float], float]:
    import cv2

    if a.shape not in _WINDOWS:
        _WINDOWS[a.shape] = cv2.createHanningWindow((a.shape[1], a.shape[0]), cv2.CV_32F)
    (dx, dy), response = cv2.phaseCorrelate(_highpass(b), _highpass(a), _WINDOWS[a.shape])
    return (float(dx), float(dy)), float(response)


def shift_response(a: np.ndarray, b: np.ndarray) -> float:
    """Phase-correlation response of two luma frames' high-passed pictures: ~1 when a shift maps one onto the
    other, low when they show different things."""
    return _correlate(a, b)[1]


def shift(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """The shift ``(dx, dy)`` in pixels at the phase-correlation peak of two luma frames (where ``b``'s picture
    sits relative to ``a``'s; anywhere when they are unrelated)."""
    return _correlate(a, b)[0]


class MotionCheck:
    """Collects luma frames; :meth:`is_motion` tells whether a transition's two sides show the same picture."""

    def __init__(self, min_response: float = 0.8, offset: int = 2, pan_shift: float | None = None,
                 pan_response: float = 0.5, whip_shift: float | None = None):
        if not 0 < min_response <= 1.5:
            raise ValueError(f"min_response must be in (0, 1.5], not {min_response}")
        if offset < 0:
            raise ValueError(f"offset must be >= 0 frames, not {offset}")
        for name, value in (("pan_shift", pan_shift), ("whip_shift", whip_shift)):
            if value is not None and not 0 < value <= 1:
                raise ValueError(f"{name} is a fraction of the frame's width: in (0, 1], not {value}")
        if not 0 < pan_response <= 1.5:
            raise ValueError(f"pan_response must be in (0, 1.5], not {pan_response}")
        self.min_response = float(min_response)
        self.offset = int(offset)
        self.pan_shift = None if pan_shift is None else float(pan_shift)
        self.pan_response = float(pan_response)
        self.whip_shift = None if whip_shift is None else float(whip_shift)
        self._pairs: dict[int, tuple[float, float]] = {}
        self._file: IO[bytes] | None = None
        self._memory: list[np.ndarray] | None = None      # where the frames go when the temporary file cannot
        self._shape: tuple[int, ...] = (1, 1)
        self._count = 0

    def settings(self) -> dict:
        out = {"min_response": self.min_response, "offset": self.offset}
        if self.pan_shift is not None:
            out.update(pan_shift=self.pan_shift, pan_response=self.pan_response)
        if self.whip_shift is not None:
            out["whip_shift"] = self.whip_shift
        return out

    def reset(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file, self._memory, self._shape, self._count = None, None, (1, 1), 0
        self._pairs = {}

    def __len__(self) -> int:
        return self._count

    def add(self, frames: np.ndarray) -> None:
        """Adds ``(N, H, W, 3)`` RGB frames (the detectors' small frames)."""
        self.add_luma(luma(frames))

    def add_luma(self, frames: np.ndarray) -> None:
        """Adds ``(N, H, W)`` luma frames."""
        frames = np.ascontiguousarray(frames, dtype=np.uint8)
        if not len(frames):
            return
        if not self._count:
            self._shape = tuple(frames.shape[1:])
        elif tuple(frames.shape[1:]) != self._shape:
            raise ValueError(f"motion check: frames of {frames.shape[1:]}, earlier ones were {self._shape}")
        if self._memory is None:
            try:
                if self._file is None:
                    self._file = tempfile.TemporaryFile(prefix="videolens-luma-", buffering=0)
                data = memoryview(frames.tobytes())
                while data:
                    data = data[self._file.write(data):]
            except OSError:
                # TMPDIR is full (or capped): the check goes on in memory, as it did before it had a file; the
                # run's own outputs, not this scratch file, are where a full disk is reported.
                self._memory = [self.frames()]
                if self._file is not None:
                    self._file.close()
                self._file = None
        if self._memory is not None:
            self._memory.append(frames)
        self._count += len(frames)

    def frame(self, k: int) -> np.ndarray:
        """Luma frame ``k`` (0-based, in the order added)."""
        if not 0 <= k < self._count:
            raise IndexError(f"motion check: frame {k} of {self._count}")
        if self._file is None:
            return self.frames()[k]
        size = int(np.prod(self._shape))
        return np.frombuffer(os.pread(self._file.fileno(), size, k * size), np.uint8).reshape(self._shape)

    def frames(self) -> np.ndarray:
        """Every luma frame, ``(N, H, W)`` (all of them in memory: for analysis scripts)."""
        if self._memory is not None:
            if len(self._memory) > 1:
                self._memory = [np.concatenate(self._memory)]
            return self._memory[0]
        if self._file is None:
            return np.zeros((0, *self._shape), np.uint8)
        size = int(np.prod(self._shape))
        data = os.pread(self._file.fileno(), self._count * size, 0)
        return np.frombuffer(data, np.uint8).reshape(self._count, *self._shape)

    def response(self, start: int, end: int, offset: int) -> float:
        """Response between the frame ``offset`` before ``start`` and the one ``offset`` after the transition
        (for a cut, ``start == end`` is the first frame of the new shot; -1 when a side is outside the video)."""
        before = start - 1 - offset
        after = end + offset if start == end else end + 1 + offset
        if before < 0 or after >= len(self):
            return -1.0
        return shift_response(self.frame(before), self.frame(after))

    def pair(self, k: int) -> tuple[float, float]:
        """Frames ``k - 1`` and ``k``: (distance of the phase-correlation peak from zero, as a fraction of the
        width; its response)."""
        if k not in self._pairs:
            a = self.frame(k - 1)
            (dx, dy), response = _correlate(a, self.frame(k))
            self._pairs[k] = (float(np.hypot(dx, dy)) / a.shape[1], response)
        return self._pairs[k]

    def _pairs_over(self, first: int, last: int) -> list[tuple[float, float]]:
        return [self.pair(k) for k in range(max(1, first), min(len(self), last + 1))]

    def is_pan(self, start: int, end: int) -> bool:
        """Whether every frame of ``start - 1 .. end + 1`` follows from the one before by one fast shift."""
        pairs = self._pairs_over(start, end + 1)
        return bool(pairs and self.pan_shift is not None and min(r for _, r in pairs) >= self.pan_response
                    and float(np.median([d for d, _ in pairs])) >= self.pan_shift)

    def is_whip(self, cut: int) -> bool:
        """Whether the frames around the cut at ``cut`` move (or blur) by a large fraction of the picture."""
        pairs = self._pairs_over(cut - 1, cut + 2)
        return bool(pairs and self.whip_shift is not None
                    and float(np.median([d for d, _ in pairs])) >= self.whip_shift)

    def is_motion(self, start: int, end: int, kind: str = "dissolve") -> bool:
        """Whether the transition ``start..end`` of type ``kind`` was motion (see the module docstring)."""
        if kind == "cut":
            return self.is_whip(start)
        if self.is_pan(start, end):
            return True
        offsets = sorted({0, self.offset})
        return all(self.response(start, end, k) >= self.min_response for k in offsets)
