"""``videolens predict``: what happens in a video, from a checkpoint alone.

- A clip no longer than ``window`` seconds gets one label and its top-5, computed exactly as ``evaluate`` computes
  it (the same test views through the same code), so the two always agree.
- A longer video is cut into windows of ``window`` seconds every ``hop`` seconds (by timestamps, so right on
  variable-frame-rate files). Each window is treated as a trimmed clip and classified like one; consecutive windows
  with the same top label are merged into segments ``(start, end, label, score)``. A window owns the time from
  halfway after the previous window's centre to halfway before the next one's, so segments tile the video.

Times are seconds on the stream's PTS clock (``reader.timestamps``).

>>> from videolens.classify import predict
>>> p = predict("runs/c3d/best.pt", "long.mp4", window=2.0, hop=1.0)   # doctest: +SKIP
>>> [(s["start"], s["end"], s["label"]) for s in p.segments]          # doctest: +SKIP
[(0.0, 4.5, 'move_left'), (4.5, 9.0, 'rotate_cw')]
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import VideolensError
from ..io.reader import VideoReader
from ..io.sampling import sliding_windows_seconds
from ..utils.files import check_writable, write_text
from .checkpoint import Checkpoint, load_checkpoint
from .clips import views_tensor
from .evaluation import clip_probs
from .transforms import Preprocessing, view_indices


@dataclass
class ActionPrediction:
    """The result for one video. ``windows[i]["probs"]`` lists the probability of every class, in ``classes`` order."""

    path: str
    classes: list[str]
    label: str                 # the top class of the whole video (mean of the windows' probabilities)
    score: float
    top5: list[dict]           # [{label, score}]
    segments: list[dict]       # [{start, end, label, score}]
    windows: list[dict]        # [{start, end, label, score, probs}]
    window: float
    hop: float
    duration: float

    def to_dict(self, probs: bool = True) -> dict:
        d = asdict(self)
        if not probs:
            for w in d["windows"]:
                w.pop("probs", None)
        return d


def window_times(t_start: float, duration: float, window: float, hop: float) -> list[tuple[float, float]]:
    """``(start, end)`` of each window: every ``hop`` seconds from ``t_start``, the last one ending at the end.

    >>> window_times(0.0, 4.0, 2.0, 1.0)
    [(0.0, 2.0), (1.0, 3.0), (2.0, 4.0)]
    """
    wins = sliding_windows_seconds(np.array([t_start]), window, hop, 1, duration=duration)
    return [(float(w.start), float(w.end)) for w in wins]


def frames_in(ts: np.ndarray, start: float, end: float, last: bool) -> tuple[int, int]:
    """``(i0, i1)``: the frames shown from ``start`` to before ``end`` (to the end of ``ts`` for the last window).

    A window that falls in a gap of a variable-rate stream gets the frame on screen at its start.
    """
    i0 = int(np.searchsorted(ts, start - 1e-6, side="left"))
    i1 = len(ts) if last else int(np.searchsorted(ts, end - 1e-6, side="left"))
    if i1 <= i0:
        i0 = max(0, min(len(ts) - 1, int(np.searchsorted(ts, start + 1e-6, side="right")) - 1))
        i1 = i0 + 1
    return i0, i1


def window_spans(timestamps: np.ndarray, duration: float, window: float, hop: float
                 ) -> list[tuple[float, float, int, int]]:
    """``(start, end, i0, i1)`` per window: frames ``i0 .. i1-1`` are those shown from ``start`` to before ``end``.

    A video no longer than ``window`` is one window holding every frame.

    >>> [w[2:] for w in window_spans(np.arange(100) / 25, 4.0, 2.0, 1.0)]
    [(0, 50), (25, 75), (50, 100)]
    """
    ts = np.asarray(timestamps, dtype=np.float64)
    times = window_times(float(ts[0]), duration, window, hop)
    return [(a, b, *frames_in(ts, a, b, k == len(times) - 1)) for k, (a, b) in enumerate(times)]


def merge_segments(spans: list[tuple[float, float]], probs: np.ndarray, classes: list[str], t_start: float,
                   t_end: float) -> list[dict]:
    """Merge consecutive windows with the same top class; a segment's score is that class's mean probability.

    >>> merge_segments([(0, 2), (1, 3), (2, 4)], np.array([[.9, .1], [.8, .2], [.3, .7]]), ["a", "b"], 0, 4)
    [{'start': 0.0, 'end': 2.5, 'label': 'a', 'score': 0.85}, {'start': 2.5, 'end': 4.0, 'label': 'b', 'score': 0.7}]
    """
    if not spans:
        return []
    centres = [(a + b) / 2 for a, b in spans]
    bounds = [float(t_start)] + [(centres[k] + centres[k + 1]) / 2 for k in range(len(spans) - 1)] + [float(t_end)]
    top = probs.argmax(axis=1)
    segments, k = [], 0
    while k < len(spans):
        j = k
        while j + 1 < len(spans) and top[j + 1] == top[k]:
            j += 1
        c = int(top[k])
        segments.append({"start": round(bounds[k], 3), "end": round(bounds[j + 1], 3), "label": classes[c],
                         "score": round(float(probs[k:j + 1, c].mean()), 4)})
        k = j + 1
    return segments


def _top(probs: np.ndarray, classes: list[str], k: int = 5) -> list[dict]:
    order = np.argsort(-probs, kind="stable")[:k]
    return [{"label": classes[i], "score": round(float(probs[i]), 4)} for i in order]


class Predictor:
    """A loaded checkpoint that classifies videos and windows; load once, predict many.

    >>> predictor = Predictor("runs/c3d/best.pt")                       # doctest: +SKIP
    >>> predictor("clip.mp4").label                                     # doctest: +SKIP
    """

    def __init__(self, checkpoint: str | os.PathLike | Checkpoint, device: str = "auto", batch_size: int = 16):
        self.ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint, device)
        self.model = self.ckpt.model.eval()
        self.device = next(self.model.parameters()).device
        self.classes = self.ckpt.classes
        self.pre: Preprocessing = self.ckpt.preprocessing
        self.batch_size = batch_size

    def span_probs(self, decode, spans: list[tuple[int, int]]) -> np.ndarray:
        """Class probabilities of each frame span ``(i0, i1)``: every test view, averaged.

        ``decode(indices)`` returns the frames at the sorted, unique absolute ``indices``, scaled to ``pre.scale``
        (``(N, H, W, 3)`` uint8). Frames shared by overlapping windows are decoded once per batch of windows.
        """
        out = []
        for k in range(0, len(spans), self.batch_size):
            chunk = spans[k:k + self.batch_size]
            wanted = [i0 + view_indices(i1 - i0, self.pre) for i0, i1 in chunk]
            uniq = np.unique(np.concatenate([w.reshape(-1) for w in wanted]))
            frames = decode(uniq)
            views = [views_tensor(frames[np.searchsorted(uniq, w)], self.pre) for w in wanted]
            out.append(clip_probs(self.model, torch.cat(views), [len(v) for v in views], self.device,
                                  chunk=self.batch_size))
        return torch.cat(out).numpy() if out else np.zeros((0, len(self.classes)), np.float32)

    def __call__(self, video: str | os.PathLike, window: float = 2.0, hop: float = 1.0) -> ActionPrediction:
        if not window > 0 or not hop > 0:
            raise VideolensError(f"--window and --hop must be > 0 seconds, not {window} and {hop}")
        with VideoReader(video, interpolation=self.pre.interpolation) as reader:
            ts = reader.timestamps
            spans = window_spans(ts, reader.duration, window, hop)
            probs = self.span_probs(lambda idx: reader.get_frames(idx, size=self.pre.scale),
                                    [(i0, i1) for _, _, i0, i1 in spans])
        return self.result(os.fspath(video), spans, probs, float(ts[0]), float(ts[0]) + reader.duration,
                           window, hop, reader.duration)

    def result(self, path: str, spans, probs: np.ndarray, t_start: float, t_end: float, window: float,
               hop: float, duration: float) -> ActionPrediction:
        windows = []
        for (a, b, _, _), p in zip(spans, probs):
            c = int(p.argmax())
            windows.append({"start": round(a, 3), "end": round(b, 3), "label": self.classes[c],
                            "score": round(float(p[c]), 4), "probs": [round(float(x), 6) for x in p]})
        overall = probs.mean(axis=0)
        c = int(overall.argmax())
        segments = merge_segments([(a, b) for a, b, _, _ in spans], probs, self.classes, t_start, t_end)
        return ActionPrediction(path, list(self.classes), self.classes[c], round(float(overall[c]), 4),
                                _top(overall, self.classes), segments, windows, float(window), float(hop),
                                round(float(duration), 3))


def predict(checkpoint: str | os.PathLike | Checkpoint, video: str | os.PathLike, window: float = 2.0,
            hop: float = 1.0, device: str = "auto") -> ActionPrediction:
    """Classify ``video`` with ``checkpoint``: one label and top-5, plus windows and segments for long videos."""
    return Predictor(checkpoint, device)(video, window, hop)


def write_outputs(result: ActionPrediction, out_dir: str | os.PathLike, formats=("csv",),
                  overwrite: bool = True) -> list[str]:
    """Write ``actions.csv`` (segments: start,end,label,score) and/or ``actions.json`` (everything) into
    ``out_dir``, atomically. Returns the paths written."""
    out = Path(out_dir)
    formats = {"csv", "json"} if "all" in formats else set(formats)
    bad = formats - {"csv", "json"}
    if bad:
        raise VideolensError(f"--format {','.join(sorted(bad))}: predict writes csv or json")
    paths = []
    if "csv" in formats:
        check_writable(out / "actions.csv", overwrite)
    if "json" in formats:
        check_writable(out / "actions.json", overwrite)
    if "csv" in formats:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["start", "end", "label", "score"])
        for s in result.segments:
            w.writerow([f"{s['start']:.3f}", f"{s['end']:.3f}", s["label"], f"{s['score']:.4f}"])
        write_text(out / "actions.csv", buf.getvalue())
        paths.append(str(out / "actions.csv"))
    if "json" in formats:
        write_text(out / "actions.json", json.dumps(result.to_dict(), indent=1) + "\n")
        paths.append(str(out / "actions.json"))
    return paths


__all__ = ["ActionPrediction", "Predictor", "frames_in", "merge_segments", "predict", "window_spans", "window_times",
           "write_outputs"]

