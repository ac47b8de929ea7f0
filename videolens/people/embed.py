"""Face boxes -> unit vectors: dlib's 5-point alignment and its 128-d face-embedding ResNet (in ONNX Runtime).

The models are dlib's (Davis King; both released under CC0 / public domain): ``shape_predictor_5_face_landmarks.dat``
and ``dlib_face_recognition_resnet_model_v1.dat`` (99.38 % on LFW's standard protocol per dlib's author), as the
``face-recognition-models`` package (0.3.0) ships them. Alignment is dlib's own: the 5-point shape predictor on the
face box, then ``get_face_chip`` (150x150, padding 0.25) - the chip the network was trained on. The network runs in
ONNX Runtime from a graph built from dlib's file (:mod:`videolens.people.dlib_resnet`), about 10-40x faster than
dlib's BLAS-less wheel, with the same output.

Two faces of one person have a cosine similarity around 0.9 and above; of two people, mostly below 0.8
(BENCHMARKS.md: verification on public face pairs, and GRID speakers).

>>> embedder = FaceEmbedder()                                   # doctest: +SKIP
>>> vectors = embedder.embed(frame, detections.xyxy)            # (N, 128) float32, unit length   # doctest: +SKIP
>>> float(vectors[0] @ vectors[1])                              # cosine similarity   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ..core.analyzer import MissingExtra
from . import dlib_resnet

CHIP_SIZE, CHIP_PADDING = 150, 0.25


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "videolens"


def resnet_onnx(path: str) -> bytes:
    """The ONNX graph of dlib's ResNet at ``path``; built once and cached under ``~/.cache/videolens/`` (keyed by
    the model file's size and modification time; building takes a few seconds)."""
    st = os.stat(path)
    key = hashlib.sha256(f"{os.path.abspath(path)}:{st.st_size}:{st.st_mtime_ns}:v1".encode()).hexdigest()[:16]
    cached = _cache_dir() / f"dlib_resnet_{key}.onnx"
    try:
        return cached.read_bytes()
    except OSError:
        pass
    data = dlib_resnet.build_onnx(dlib_resnet.parse(path))
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, cached)
    except OSError:
        pass                                    # a read-only home: build it each time
    return data


_SHARED: dict = {}


class FaceEmbedder:
    """Face boxes in a frame -> unit vectors (128-d), with dlib's alignment.

    ``threads``: ONNX Runtime threads for the network (1 by default: ``analyze`` runs it beside decoding and the
    other analyzers; None: every core). ``batch``: chips per network call. :meth:`shared` gives one instance per
    thread setting and process (loading the models takes about a second; ``analyze`` reuses them across videos).
    """

    dim = 128

    @classmethod
    def shared(cls, threads: int | None = 1) -> FaceEmbedder:
        """One embedder per ``threads`` value in this process (its ONNX session is safe to share)."""
        if threads not in _SHARED:
            _SHARED[threads] = cls(threads=threads)
        return _SHARED[threads]

    def __init__(self, threads: int | None = 1, batch: int = 16):
        try:
            import dlib
        except ImportError:
            raise MissingExtra("people", "people", "dlib-bin") from None
        try:
            import onnxruntime as ort
        except ImportError:
            raise MissingExtra("people", "people", "onnxruntime") from None
        self._dlib = dlib
        self.batch = max(1, int(batch))
        self.shape_predictor = dlib.shape_predictor(dlib_resnet.model_path("shape_predictor_5_face_landmarks.dat"))
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if threads:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(resnet_onnx(dlib_resnet.model_path()), opts,
                                            providers=["CPUExecutionProvider"])

    def chips(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Aligned 150x150 RGB chips ``(N, 150, 150, 3)`` uint8 of the faces in ``boxes`` (xyxy, frame pixels)."""
        frame = np.ascontiguousarray(frame)
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        if not len(boxes):
            return np.zeros((0, CHIP_SIZE, CHIP_SIZE, 3), np.uint8)
        shapes = self._dlib.full_object_detections()
        for x1, y1, x2, y2 in boxes:
            rect = self._dlib.rectangle(int(round(x1)), int(round(y1)), int(round(x2)), int(round(y2)))
            shapes.append(self.shape_predictor(frame, rect))
        return np.stack([np.asarray(c) for c in self._dlib.get_face_chips(frame, shapes, size=CHIP_SIZE,
                                                                          padding=CHIP_PADDING)])

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """``(N, 128)`` float32 unit vectors of aligned chips (what :meth:`chips` returns)."""
        chips = np.asarray(chips)
        if not len(chips):
            return np.zeros((0, self.dim), np.float32)
        out = [self.session.run(None, {"input": dlib_resnet.normalise(chips[i:i + self.batch])})[0]
               for i in range(0, len(chips), self.batch)]
        v = np.concatenate(out).astype(np.float32)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

    def embed(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """``(N, 128)`` unit vectors of the faces in ``boxes`` (xyxy in the pixels of ``frame``, uint8 RGB)."""
        return self.embed_chips(self.chips(frame, boxes))
