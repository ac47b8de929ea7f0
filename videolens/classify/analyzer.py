"""``ActionsAnalyzer``: action segments for ``videolens analyze --actions CKPT``, from the shared decode loop.

It asks the loop for frames at the checkpoint's decode size (short side ``preprocessing.scale``), keeps only the
frames of windows still open, classifies windows as soon as their last frame has arrived, and merges them into
segments exactly as ``videolens predict`` does. With ``stride=1`` (the default) it sees the frames ``predict``
decodes and gives the same windows and segments.

Result (``finish().to_dict()``, docs/analyzers.md): ``segments`` ``[{start, end, label, score}]``, ``classes``,
``label`` / ``score`` / ``top5`` for the whole video, ``windows`` ``[{start, end, label, score}]``, ``window``,
``hop``, ``model``.

>>> from videolens.stream import run_analyzers
>>> from videolens.classify import ActionsAnalyzer
>>> run = run_analyzers("video.mp4", [ActionsAnalyzer("runs/c3d/best.pt", window=2.0, hop=1.0)])  # doctest: +SKIP
>>> run.results["actions"].segments                                                             # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..core.analyzer import Analyzer


@dataclass
class ActionsResult:
    """Action segments of one video (times in seconds on the stream's PTS clock)."""

    segments: list[dict]
    classes: list[str]
    label: str | None
    score: float
    top5: list[dict]
    windows: list[dict]
    window: float
    hop: float
    model: str

    def to_dict(self) -> dict:
        return asdict(self)


class ActionsAnalyzer(Analyzer):
    """Classify sliding windows of ``window`` seconds every ``hop`` seconds with an action checkpoint.

    ``checkpoint``: a ``.pt`` written by ``videolens train``; ``device``: auto, cpu, cuda or mps; ``stride``: see
    only every n-th frame (less decoding work; 1 gives exactly ``predict``'s result); ``batch_windows``: windows
    classified per model call.
    """

    name = "actions"
    summary_keys = ("actions",)

    @classmethod
    def from_config(cls, config) -> ActionsAnalyzer:
        return cls(config.actions, device=config.device)

    def summary(self, result: ActionsResult) -> dict:
        return {"actions": len(result.segments)}

    def fingerprint(self) -> dict:
        import os

        from ..utils.files import file_digest

        path = os.fspath(self.checkpoint)
        return {"checkpoint": {"file": os.path.basename(os.path.normpath(path)), "sha256": file_digest(path)},
                "window": self.window, "hop": self.hop}

    def __init__(self, checkpoint: str, window: float = 2.0, hop: float = 1.0, device: str = "auto",
                 stride: int = 1, batch_windows: int = 8):
        from ..errors import VideolensError
        from .prediction import Predictor

        if not window > 0 or not hop > 0:
            raise VideolensError(f"actions: window and hop must be > 0 seconds, not {window} and {hop}")
        self.predictor = Predictor(checkpoint, device, batch_size=batch_windows)
        self.checkpoint = checkpoint
        self.window, self.hop = float(window), float(hop)
        self.size = int(self.predictor.pre.scale)
        self.stride = max(1, int(stride))
        self.batch_size = 32
        self._info = None
        self._reset(0)

    def _reset(self, capacity: int) -> None:
        self._ts = np.empty(max(capacity, 16), np.float64)   # timestamps of the frames seen, by position
        self._n = 0
        self._frames: dict[int, np.ndarray] = {}              # position -> frame, for open windows only
        self._times: list[tuple[float, float]] = []           # every window's (start, end)
        self._spans: list[tuple[float, float, int, int]] = []  # the classified ones, with positions
        self._probs: list[np.ndarray] = []

    def start(self, info) -> None:
        self._info = info
        self._reset(info.frames // self.stride + 2)

    def process(self, frames: np.ndarray, timestamps: np.ndarray, indices: np.ndarray) -> None:
        from .prediction import window_times

        if self._info is None:
            raise RuntimeError("ActionsAnalyzer.start(info) must be called before process()")
        if not self._times:
            # frame 0 is on every stride grid: its timestamp starts the windows, exactly as in predict
            self._times = window_times(float(timestamps[0]), self._info.duration, self.window, self.hop)
        n = len(frames)
        if self._n + n > len(self._ts):
            self._ts = np.concatenate([self._ts, np.empty(max(n, len(self._ts)), np.float64)])
        self._ts[self._n:self._n + n] = timestamps
        for k in range(n):
            self._frames[self._n + k] = frames[k]
        self._n += n
        self._classify(final=False)

    def _classify(self, final: bool) -> None:
        from .prediction import frames_in

        ts = self._ts[:self._n]
        if not self._n:
            return
        todo = []
        for k in range(len(self._spans), len(self._times)):
            start, end = self._times[k]
            last = k == len(self._times) - 1
            if not final and (last or ts[-1] < end - 1e-6):
                break   # frames of this window may still come
            todo.append((start, end, *frames_in(ts, start, end, last)))
        if not todo or (not final and len(todo) < self.predictor.batch_size):
            return

        def decode(positions: np.ndarray) -> np.ndarray:
            return np.stack([self._frames[int(p)] for p in positions])

        self._probs.append(self.predictor.span_probs(decode, [(i0, i1) for _, _, i0, i1 in todo]))
        self._spans += todo
        # frames before the start of the next window are needed no more
        k = len(self._spans)
        keep_from = self._n if k >= len(self._times) else int(np.searchsorted(ts, self._times[k][0] - 1e-6))
        for p in [p for p in self._frames if p < keep_from - 1]:   # -1: a window in a gap takes the frame before
            del self._frames[p]

    def finish(self) -> ActionsResult:
        self._classify(final=True)
        pred, info = self.predictor, self._info
        name = pred.ckpt.name
        self._frames.clear()
        if not self._probs:
            return ActionsResult([], list(pred.classes), None, 0.0, [], [], self.window, self.hop, name)
        probs = np.concatenate(self._probs)
        t0 = float(self._ts[0])
        r = pred.result(info.path, self._spans, probs, t0, t0 + info.duration, self.window, self.hop, info.duration)
        windows = [{k: w[k] for k in ("start", "end", "label", "score")} for w in r.windows]
        return ActionsResult(r.segments, list(pred.classes), r.label, r.score, r.top5, windows, self.window,
                             self.hop, name)


__all__ = ["ActionsAnalyzer", "ActionsResult"]
