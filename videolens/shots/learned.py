"""The learned shot detector: ShotNet (see :mod:`videolens.shots.model`) run in ONNX Runtime on 48x27 frames.

The weights ship inside the package (``videolens/shots/weights/shotnet.onnx``, trained by
``scripts/train_shots.py``; the exact command and the data are in ``shotnet.json`` beside it). Frames stream in;
the network runs on chunks of ``chunk`` frames with ``CONTEXT`` frames of overlap either side, so memory stays
bounded and every prediction sees its full receptive field. The video's first and last frames are repeated to
fill the context at the ends, so a video shorter than the window still gets an answer.

>>> from videolens.analyze import run_analyzers
>>> run = run_analyzers("samples/sample.mp4", [LearnedDetector()], quiet=True)    # doctest: +SKIP
>>> [t.type for t in run.results["shots"].transitions]                            # doctest: +SKIP
['cut', 'cut', 'cut', 'cut', 'cut']
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..errors import VideolensError
from ..utils.threads import worker_pool
from .detectors import DETECT_SIZE, ShotDetector
from .result import Transition

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_MODEL = WEIGHTS_DIR / "shotnet.onnx"
TYPES = ("cut", "dissolve", "fade", "wipe")    # the order of the model's type logits (model.TYPES)
CONTEXT = 40                                   # >= the network's receptive radius (~37 frames)

_SESSIONS: dict[tuple, object] = {}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def model_info(path: str | os.PathLike = DEFAULT_MODEL) -> dict:
    """The JSON sidecar of a model file (training command, data, development scores), or ``{}``."""
    side = Path(path).with_suffix(".json")
    try:
        return json.loads(side.read_text())
    except (OSError, ValueError):
        return {}


def load_session(path: str | os.PathLike = DEFAULT_MODEL, device: str = "cpu", threads: int = 0):
    """An ONNX Runtime session for the model at ``path`` (cached per path, device and thread count)."""
    path = Path(path)
    key = (str(path), device, threads)
    if key in _SESSIONS:
        return _SESSIONS[key]
    if not path.exists():
        raise VideolensError(f"the shot model is missing: put shotnet.onnx at {path} "
                             "(it ships with videolens; scripts/train_shots.py rebuilds it)")
    try:
        import onnxruntime as ort
    except ImportError:
        raise VideolensError("the learned shot detector needs onnxruntime: pip install onnxruntime") from None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.log_severity_level = 3
    providers = ["CPUExecutionProvider"]
    if device.startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise VideolensError(f"--device {device}: this onnxruntime has no CUDA support "
                                 "(install onnxruntime-gpu, or use --device cpu)")
        providers.insert(0, "CUDAExecutionProvider")
    try:
        sess = ort.InferenceSession(str(path), opts, providers=providers)
    except Exception as e:  # noqa: BLE001 - ORT raises its own exception types for unreadable models
        raise VideolensError(f"{path}: not a usable ONNX model ({str(e).splitlines()[0]})") from None
    _SESSIONS[key] = sess
    return sess


def transitions_from_probs(prob: np.ndarray, type_prob: np.ndarray, threshold: float = 0.5,
                           low: float | None = None, min_gradual: int = 1,
                           cut_threshold: float | None = None) -> list[Transition]:
    """Per-frame transition probabilities (and type probabilities ``(T, 4)``) -> transitions.

    Hysteresis keeps a gradual transition in one piece: a transition is a run of frames at or above ``low``
    (default ``threshold / 2``) that reaches ``threshold`` somewhere. Its type is the one with the highest mean
    probability over the run; a cut is placed at the run's most probable frame. Gradual transitions shorter than
    ``min_gradual`` frames are dropped (a dissolve over one or two frames is motion, not an edit), and so are cuts
    whose peak stays under ``cut_threshold`` (default ``threshold``; fast motion looks like a weak cut).

    >>> p = np.array([0, 0, .9, 0, 0, .3, .6, .7, .4, 0], dtype=float)
    >>> types = np.tile([[1.0, 0, 0, 0]], (10, 1)); types[5:9] = [0, 1, 0, 0]
    >>> [(t.type, t.start, t.end) for t in transitions_from_probs(p, types)]
    [('cut', 2, 2), ('dissolve', 5, 8)]
    """
    low = threshold / 2 if low is None else low
    cut_threshold = threshold if cut_threshold is None else cut_threshold
    n = len(prob)
    out = []
    i = 0
    while i < n:
        if prob[i] < low:
            i += 1
            continue
        a = i
        while i + 1 < n and prob[i + 1] >= low:
            i += 1
        b = i
        i += 1
        seg = prob[a:b + 1]
        if seg.max() < threshold:
            continue
        kind = TYPES[int(np.argmax((type_prob[a:b + 1] * seg[:, None]).sum(axis=0)))]
        if kind == "cut":
            if seg.max() < cut_threshold:
                continue
            peak = a + int(np.argmax(seg))
            out.append(Transition("cut", peak, peak, float(seg.max())))
        elif b - a + 1 >= min_gradual:
            out.append(Transition(kind, a, b, float(seg.max())))
    return out


class _ChunkRunner:
    """Feeds frames through the network in overlapping chunks and collects per-frame logits in order.

    With ``background=True`` each chunk runs in a worker thread (ONNX Runtime releases the GIL) while the caller goes
    on decoding the next frames, so the network's time hides behind the decoder's; at most one chunk is in flight.
    """

    def __init__(self, session, chunk: int, background: bool = True):
        self.session = session
        self.chunk = int(chunk)
        self.buf: list[np.ndarray] = []    # frames from (emitted - CONTEXT) on; the first ones may be padding
        self.logits: list[np.ndarray] = []
        self._pool = None
        self._pending = None
        if background:
            self._pool = worker_pool("shotnet")

    def _run(self, frames: np.ndarray, keep: slice) -> None:
        self._collect()
        if self._pool is None:
            self.logits.append(self.session.run(None, {"frames": frames[None]})[0][0][keep])
        else:
            self._pending = self._pool.submit(lambda: self.session.run(None, {"frames": frames[None]})[0][0][keep])

    def _collect(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self.logits.append(pending.result())

    def add(self, frames: np.ndarray) -> None:
        if not self.buf and len(frames):
            self.buf = [frames[0]] * CONTEXT        # repeat the first frame as left context
        self.buf.extend(frames)
        while len(self.buf) >= self.chunk + 2 * CONTEXT:
            window = np.stack(self.buf[:self.chunk + 2 * CONTEXT])
            self._run(window, slice(CONTEXT, CONTEXT + self.chunk))
            del self.buf[:self.chunk]

    def close(self) -> None:
        """Stop the worker thread without finishing (the run failed)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def finish(self) -> np.ndarray:
        try:
            pending = len(self.buf) - CONTEXT
            if pending > 0:
                window = np.stack(self.buf + [self.buf[-1]] * CONTEXT)
                self._run(window, slice(CONTEXT, CONTEXT + pending))
            self._collect()
        finally:
            self.buf = []
            if self._pool is not None:
                self._pool.shutdown(wait=True)
        return np.concatenate(self.logits) if self.logits else np.zeros((0, 1 + len(TYPES)), np.float32)


class LearnedDetector(ShotDetector):
    """Transitions of every kind (cut, dissolve, fade, wipe) from ShotNet's per-frame probabilities.

    ``threshold``: the transition probability a transition must reach (default 0.4; runs down to half of it
    belong to the transition). ``model``: another ONNX file with the same input and output. ``chunk``: frames per
    network call (memory ~ 0.2 MB per frame). ``device``: cpu, or cuda with onnxruntime-gpu. ``threads``: ONNX
    Runtime's threads (default 1: the network runs beside the decoder, which keeps the other core busy).
    ``background``: run the network in a worker thread while decoding goes on. ``min_gradual``: shortest gradual
    transition reported, in frames (default 6). ``cut_threshold``: the probability a cut must reach (default 0.9;
    never below ``threshold``): fast motion inside a shot looks to the network like a short gradual transition or a
    weak cut. The defaults are the values chosen on the development set (scripts/select_shots.py).
    Per-frame scores: ``transition_prob`` and the type probabilities.
    """

    detector = "learned"
    default_threshold = 0.4           # chosen on the development set (scripts/select_shots.py)
    default_min_gradual = 6           # ditto
    default_cut_threshold = 0.9       # ditto
    size = DETECT_SIZE

    def __init__(self, threshold: float | None = None, min_shot_len: float = 0.5,
                 model: str | os.PathLike | None = None, chunk: int = 400, device: str = "cpu", threads: int = 1,
                 background: bool = True, min_gradual: int | None = None, cut_threshold: float | None = None):
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, not {chunk}")
        if threshold is not None and not 0 < threshold <= 1:
            raise ValueError(f"threshold is a probability: between 0 and 1, not {threshold}")
        self.model = Path(model) if model is not None else DEFAULT_MODEL
        self.chunk, self.device, self.threads, self.background = int(chunk), device, int(threads), bool(background)
        min_gradual = self.default_min_gradual if min_gradual is None else int(min_gradual)
        cut_threshold = self.default_cut_threshold if cut_threshold is None else cut_threshold
        self.min_gradual = min_gradual
        if min_gradual < 1:
            raise ValueError(f"min_gradual is a number of frames (1 or more), not {min_gradual}")
        if not 0 < cut_threshold <= 1:
            raise ValueError(f"cut_threshold is a probability: between 0 and 1, not {cut_threshold}")
        self.cut_threshold = float(cut_threshold)
        super().__init__(threshold, min_shot_len)

    def settings(self) -> dict:
        return {**super().settings(), "model": self.model.name, "min_gradual": self.min_gradual,
                "cut_threshold": self.cut_threshold}

    def model_files(self) -> list[Path]:
        return [self.model]

    def _reset(self, info) -> None:
        super()._reset(info)
        self._runner = None

    def start(self, info) -> None:
        super().start(info)
        self._runner = self._new_runner()

    def _new_runner(self) -> _ChunkRunner:
        return _ChunkRunner(load_session(self.model, self.device, self.threads), self.chunk, self.background)

    def _update(self, frames: np.ndarray) -> None:
        if self._runner is None:     # used without start(): load the model now
            self._runner = self._new_runner()
        if frames.shape[1:] != (DETECT_SIZE[1], DETECT_SIZE[0], 3):
            raise ValueError(f"the learned detector needs {DETECT_SIZE[0]}x{DETECT_SIZE[1]} RGB frames, "
                             f"got {frames.shape[1:]}")
        self._runner.add(np.ascontiguousarray(frames, dtype=np.uint8))

    def abort(self) -> None:
        if self._runner is not None:
            self._runner.close()
        self._runner = None

    def _detect(self, scores, timestamps) -> list[Transition]:
        logits = self._runner.finish() if self._runner is not None else np.zeros((0, 5), np.float32)
        self._runner = None
        prob = _sigmoid(logits[:, 0].astype(np.float64))
        types = _softmax(logits[:, 1:].astype(np.float64))
        scores["transition_prob"] = prob
        for k, name in enumerate(TYPES):
            scores[f"{name}_prob"] = types[:, k]
        return transitions_from_probs(prob, types, self.threshold, min_gradual=self.min_gradual,
                                      cut_threshold=max(self.threshold, self.cut_threshold))
