"""dlib's face-embedding ResNet (``dlib_face_recognition_resnet_model_v1.dat``) as an ONNX graph, built in memory.

dlib's own forward pass on a CPU is slow when the wheel has no BLAS (``dlib-bin`` 20.0.1 has none): about 0.7 s a
face on this project's 2-core machines. The network is small (29 convolutions, 128-d output), so videolens reads
its weights from dlib's file and runs the same computation in ONNX Runtime instead, with equal outputs
(``tests/test_people.py`` compares with dlib to 1e-4).

The file is dlib's serialisation of ``anet_type`` from dlib's ``dnn_face_recognition_ex.cpp``: the loss layer, then
the layers from the input up. Tensors (format 2) are raw little-endian float32 after a version and four packed
integers (dlib's integers: one byte of length and sign, then the bytes). What each layer holds:

- ``con_4``: weights ``(filters, k, nr, nc)`` then biases, flat; then filters, nr, nc, strides and paddings;
- ``affine_``: gamma then beta (batch norm folded by dlib at the end of training);
- ``max_pool_2`` / ``avg_pool_2``: window, stride, padding (window 0: the average over the whole map);
- ``add_prev_``: the residual sum; when the two maps differ in size, dlib zero-pads the smaller one;
- ``fc_2``: outputs, inputs, then a ``(inputs, outputs)`` matrix (no bias).

Affine layers are folded into the convolution before them. Input: a 150x150 RGB chip from dlib's
``get_face_chip`` (size 150, padding 0.25), minus (122.782, 117.001, 104.298), divided by 256.

>>> layers = parse(model_path())                    # doctest: +SKIP
>>> onnx_bytes = build_onnx(layers)                # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass, field

import numpy as np

from ..core.analyzer import MissingExtra
from ..errors import VideolensError

MEAN_RGB = np.array([122.782, 117.001, 104.298], np.float32)
CHIP = 150
_NAMES = re.compile(rb"\x01(.)(con_4|affine_|fc_2|avg_pool_2|max_pool_2|add_prev_|relu_)", re.S)


def models_dir() -> str:
    """The folder of dlib's model files inside the ``face-recognition-models`` package (not imported: its
    ``__init__`` needs ``pkg_resources``)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtra("people", "people", "face-recognition-models")
    return os.path.join(list(spec.submodule_search_locations)[0], "models")


def model_path(name: str = "dlib_face_recognition_resnet_model_v1.dat") -> str:
    path = os.path.join(models_dir(), name)
    if not os.path.isfile(path):
        raise VideolensError(f"{path} is missing: reinstall face-recognition-models (pip install 'videolens[people]')")
    return path


@dataclass
class Layer:
    kind: str                                    # con, affine, relu, max, avg, add, fc
    arrays: list[np.ndarray] = field(default_factory=list)
    ints: list[int] = field(default_factory=list)


class _Reader:
    def __init__(self, data: bytes):
        self.b = data

    def int(self, p: int) -> tuple[int, int]:
        h = self.b[p]
        n = h & 0x0F
        v = int.from_bytes(self.b[p + 1:p + 1 + n], "little")
        return (-v if h & 0x80 else v), p + 1 + n

    def ints(self, p: int, k: int) -> tuple[list[int], int]:
        out = []
        for _ in range(k):
            v, p = self.int(p)
            out.append(v)
        return out, p

    def tensor(self, p: int) -> tuple[np.ndarray, int]:
        (version, *dims), p = self.ints(p, 5)
        if version != 2:
            raise VideolensError(f"dlib model: tensor format {version}, expected 2")
        n = int(np.prod(dims))
        return np.frombuffer(self.b, "<f4", n, p).astype(np.float32), p + 4 * n


def parse(path: str) -> list[Layer]:
    """The network's layers, input first."""
    with open(path, "rb") as f:
        data = f.read()
    r = _Reader(data)
    layers = []
    for m in _NAMES.finditer(data):
        if m.group(1)[0] != len(m.group(2)):
            continue
        kind, p = m.group(2).decode(), m.end()
        if kind == "con_4":
            w, p = r.tensor(p)
            (nf, nr, nc, sy, sx, py, px), p = r.ints(p, 7)
            k = (len(w) - nf) // (nf * nr * nc)
            layers.append(Layer("con", [w[:nf * k * nr * nc].reshape(nf, k, nr, nc), w[nf * k * nr * nc:]],
                                [sy, sx, py, px]))
        elif kind == "affine_":
            w, p = r.tensor(p)
            c = len(w) // 2
            layers.append(Layer("affine", [w[:c], w[c:]]))
        elif kind == "fc_2":
            (no, ni), p = r.ints(p, 2)
            w, p = r.tensor(p)
            layers.append(Layer("fc", [w[:ni * no].reshape(ni, no)]))
        elif kind in ("max_pool_2", "avg_pool_2"):
            v, p = r.ints(p, 6)
            layers.append(Layer(kind[:3], ints=v))
        else:
            layers.append(Layer("add" if kind == "add_prev_" else "relu"))
    kinds = [x.kind for x in layers]
    if kinds.count("con") != 29 or kinds.count("fc") != 1 or kinds[-1] != "fc":
        raise VideolensError(f"{path}: not dlib's face recognition ResNet v1 ({kinds.count('con')} convolutions)")
    return layers


def build_onnx(layers: list[Layer]) -> bytes:
    """An ONNX model: ``input`` (N, 3, 150, 150) normalised chips -> ``embedding`` (N, 128), not normalised."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    counter = iter(range(10**6))

    def name(prefix: str) -> str:
        return f"{prefix}{next(counter)}"

    def const(arr: np.ndarray, prefix: str = "w") -> str:
        n = name(prefix)
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), n))
        return n

    x, shape = "input", (3, CHIP, CHIP)            # the name of the current tensor, and its (C, H, W)
    saved = short = None                           # residual input (tag1), and its pooled copy
    started = False                                # after the stem (conv, max pool), convs open blocks
    i = 0
    while i < len(layers):
        layer = layers[i]
        if layer.kind == "con":
            w, b = layer.arrays
            if i + 1 < len(layers) and layers[i + 1].kind == "affine":          # fold the affine layer in
                g, beta = layers[i + 1].arrays
                w, b = w * g[:, None, None, None], b * g + beta
                i += 1
            if started and saved is None:
                saved = (x, shape)
            sy, sx, py, px = layer.ints
            out = name("conv")
            nodes.append(helper.make_node("Conv", [x, const(w), const(b, "b")], [out], strides=[sy, sx],
                                          pads=[py, px, py, px], kernel_shape=list(w.shape[2:])))
            h = (shape[1] + 2 * py - w.shape[2]) // sy + 1
            wd = (shape[2] + 2 * px - w.shape[3]) // sx + 1
            x, shape = out, (w.shape[0], h, wd)
        elif layer.kind == "affine":
            g, beta = layer.arrays
            m, out = name("mul"), name("aff")
            nodes.append(helper.make_node("Mul", [x, const(g.reshape(-1, 1, 1))], [m]))
            nodes.append(helper.make_node("Add", [m, const(beta.reshape(-1, 1, 1))], [out]))
            x = out
        elif layer.kind == "relu":
            out = name("relu")
            nodes.append(helper.make_node("Relu", [x], [out]))
            x = out
        elif layer.kind == "max":
            wy, wx, sy, sx, py, px = layer.ints
            out = name("max")
            nodes.append(helper.make_node("MaxPool", [x], [out], kernel_shape=[wy, wx], strides=[sy, sx],
                                          pads=[py, px, py, px]))
            x, shape = out, (shape[0], (shape[1] + 2 * py - wy) // sy + 1, (shape[2] + 2 * px - wx) // sx + 1)
            started = True
        elif layer.kind == "avg":
            wy, wx, sy, sx, py, px = layer.ints
            if wy == 0:                             # avg_pool_everything, then flatten
                g, out = name("gap"), name("flat")
                nodes.append(helper.make_node("GlobalAveragePool", [x], [g]))
                nodes.append(helper.make_node("Flatten", [g], [out]))
                x, shape = out, (shape[0],)
            else:                                   # the shortcut of a down-sampling block
                sx_name, s_shape = saved
                out = name("pool")
                nodes.append(helper.make_node("AveragePool", [sx_name], [out], kernel_shape=[wy, wx],
                                              strides=[sy, sx], pads=[py, px, py, px]))
                short = (out, (s_shape[0], (s_shape[1] + 2 * py - wy) // sy + 1,
                               (s_shape[2] + 2 * px - wx) // sx + 1))
        elif layer.kind == "add":
            other = short or saved
            full = tuple(max(a, b) for a, b in zip(shape, other[1]))
            terms = []
            for t, s in ((x, shape), other):
                if s != full:                       # dlib zero-pads the smaller map (at the end of each axis)
                    padded = name("pad")
                    pads = np.array([0, 0, 0, 0, 0] + [f - d for f, d in zip(full, s)], np.int64)
                    nodes.append(helper.make_node("Pad", [t, const(pads, "pads")], [padded], mode="constant"))
                    t = padded
                terms.append(t)
            out = name("add")
            nodes.append(helper.make_node("Add", terms, [out]))
            x, shape, saved, short = out, full, None, None
        elif layer.kind == "fc":
            out = "embedding"
            nodes.append(helper.make_node("MatMul", [x, const(layer.arrays[0])], [out]))
            x = out
        i += 1
    graph = helper.make_graph(nodes, "dlib_face_recognition_resnet_v1",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 3, CHIP, CHIP])],
                              [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", 128])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="videolens")
    model.ir_version = 8
    return model.SerializeToString()


def normalise(chips: np.ndarray) -> np.ndarray:
    """(N, 150, 150, 3) uint8 RGB chips -> the network's (N, 3, 150, 150) float32 input."""
    x = (np.asarray(chips, np.float32) - MEAN_RGB) / 256.0
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
