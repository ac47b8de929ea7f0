"""The OCR engine: PP-OCRv4 text detection and recognition (Chinese and English) from ``rapidocr-onnxruntime``.

The package ships its ONNX models inside the wheel (about 15 MB: detection, recognition, direction classifier), so
reading text works offline. videolens uses its detector and its recognition network, and decodes the recognition
output itself, so that ``lang`` can narrow the alphabet:

- ``auto`` (default): the model's whole dictionary (6,623 Chinese characters, Latin letters, digits, punctuation);
  a line in which no CJK character was read is decoded again with the Latin alphabet only, so that an English
  line cannot come out with a Chinese look-alike (``〇`` for ``0``, ``：`` for ``:``).
- ``ch``: the whole dictionary, as the model was trained.
- ``en``: Latin letters, digits and ASCII punctuation only.

Every text is NFKC-normalised (full-width digits, letters and colons become ASCII) and stripped.

>>> import numpy as np
>>> engine = OcrEngine()                                            # doctest: +SKIP
>>> [(d.text, d.box) for d in engine(np.zeros((360, 640, 3), np.uint8))]   # doctest: +SKIP
[]
"""

from __future__ import annotations

import importlib.util
import math
import threading
import unicodedata
from dataclasses import dataclass

import numpy as np

from ..core.analyzer import MissingExtra
from ..errors import VideolensError

LANGS = ("auto", "ch", "en")
PACKAGE = "rapidocr-onnxruntime"
MODEL = "PP-OCRv4 det + rec (ch), rapidocr-onnxruntime"
SPACE_FLOOR = 0.02          # see OcrEngine._decode


def normalize_text(text: str) -> str:
    """NFKC, inner runs of white space as one space, no space at either end.

    >>> normalize_text("１２：３０　Ｎｅｗｓ ")
    '12:30 News'
    """
    return " ".join(unicodedata.normalize("NFKC", text).split())


def is_cjk(ch: str) -> bool:
    """A Chinese/Japanese/Korean ideograph or CJK punctuation.

    >>> is_cjk("中"), is_cjk("A"), is_cjk("，")
    (True, False, True)
    """
    o = ord(ch)
    return (0x3000 <= o <= 0x303F or 0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF
            or 0xFF00 <= o <= 0xFFEF or 0x20000 <= o <= 0x2FA1F)


def has_word_char(text: str) -> bool:
    """Whether ``text`` has a letter, a digit or an ideograph (a line of only ``-|.`` is noise)."""
    return any(ch.isalnum() for ch in text)


@dataclass
class TextLine:
    """One line of text read on one frame: ``box`` ``[x1, y1, x2, y2]`` in the frame's pixels."""

    text: str
    box: list[float]
    confidence: float


# rapidocr-onnxruntime declares opencv-python, which must not sit beside opencv-python-headless (both write cv2/):
# it is installed without its dependencies, and the extra brings the others.
INSTALL = "pip install 'videolens[text]' && pip install --no-deps 'rapidocr-onnxruntime>=1.4.4,<1.5'"


def require_ocr(analyzer: str = "text") -> None:
    """Raise :class:`MissingExtra` when rapidocr-onnxruntime (or a package it needs) is not installed."""
    for module, package in (("rapidocr_onnxruntime", PACKAGE), ("pyclipper", "pyclipper"), ("shapely", "shapely")):
        if importlib.util.find_spec(module) is None:
            raise MissingExtra(analyzer, "text", package, INSTALL)


class OcrEngine:
    """Reads the lines of text on RGB frames. Thread-safe for reading (one ONNX Runtime session per model).

    ``det_side``: the detector sees the frame scaled so that its long side is at most this (text of 24 px on a
    1280x720 frame is about 17 px there, which PP-OCR's detector finds); recognition reads each line from the
    frame at full resolution. ``min_confidence``: lines read with a lower mean character probability are dropped.
    ``threads``: ONNX Runtime intra-op threads (0: its default, all cores).
    """

    def __init__(self, lang: str = "auto", det_side: int = 960, min_confidence: float = 0.6, box_thresh: float = 0.6,
                 min_height: int = 8, threads: int = 0):
        if lang not in LANGS:
            raise VideolensError(f"--lang must be one of {', '.join(LANGS)}, not {lang!r}")
        require_ocr()
        from rapidocr_onnxruntime import RapidOCR

        self.lang, self.det_side, self.min_confidence, self.min_height = lang, int(det_side), float(min_confidence), \
            int(min_height)
        kw = {"intra_op_num_threads": int(threads) if threads else -1, "inter_op_num_threads": 1}
        self._ocr = RapidOCR(use_cls=False, det_limit_side_len=self.det_side, det_limit_type="max",
                             det_box_thresh=box_thresh, **kw)
        self._det = self._ocr.text_det
        self._rec = self._ocr.text_rec
        chars = list(self._rec.postprocess_op.character)     # 0 is CTC's blank, the last one the space
        self.characters = chars
        latin = np.array([k == 0 or (len(c) == 1 and 32 <= ord(c) < 127) for k, c in enumerate(chars)])
        self._latin = latin

    # -- detection -------------------------------------------------------------------------------------------------

    def detect(self, bgr: np.ndarray) -> list[np.ndarray]:
        """Quadrilaterals (4x2 float32, image pixels) of the text lines on a BGR frame, top to bottom."""
        boxes, _ = self._det(bgr)
        if boxes is None or len(boxes) == 0:
            return []
        return list(self._ocr.sorted_boxes(np.asarray(boxes, dtype=np.float32)))

    # -- recognition -----------------------------------------------------------------------------------------------

    def _decode(self, probs: np.ndarray, mask: np.ndarray | None, space_floor: float = 0.0) -> tuple[str, float]:
        """Greedy CTC decoding of one line's (T, C) probabilities, over the characters ``mask`` allows.

        With ``space_floor``, a space goes between two characters when the space's probability reaches it somewhere
        between them: on lines of capitals the model hears the gap between words (0.04-0.45 against < 0.005
        inside a word, on the development clips) but rarely puts the space first.
        """
        p = probs if mask is None else np.where(mask[None, :], probs, -1.0)
        idx = p.argmax(axis=1)
        best = p[np.arange(len(idx)), idx]
        keep = np.ones(len(idx), dtype=bool)
        keep[1:] = idx[1:] != idx[:-1]
        keep &= idx != 0
        if not keep.any():
            return "", 0.0
        pos = np.flatnonzero(keep)
        space = len(self.characters) - 1
        chars = []
        for n, k in enumerate(pos):
            if space_floor and n and idx[k] != space and idx[pos[n - 1]] != space and k - pos[n - 1] > 1 \
                    and probs[pos[n - 1] + 1:k, space].max() >= space_floor:
                chars.append(" ")
            chars.append(self.characters[idx[k]])
        return "".join(chars), float(best[keep].mean())

    def recognize(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """Text and mean character probability of each BGR line image."""
        rec = self._rec
        out: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        if not crops:
            return out
        order = np.argsort([c.shape[1] / max(1, c.shape[0]) for c in crops])
        _, img_h, img_w = rec.rec_image_shape
        for start in range(0, len(crops), rec.rec_batch_num):
            part = order[start:start + rec.rec_batch_num]
            ratio = max([img_w / img_h] + [crops[k].shape[1] / max(1, crops[k].shape[0]) for k in part])
            batch = np.stack([rec.resize_norm_img(crops[k], ratio) for k in part]).astype(np.float32)
            probs = rec.session(batch)[0]
            for k, p in zip(part, probs):
                text, conf = self._decode(p, self._latin if self.lang == "en" else None, SPACE_FLOOR * (
                    self.lang == "en"))
                if self.lang == "auto" and text and not any(is_cjk(ch) for ch in text):
                    text, conf = self._decode(p, self._latin, SPACE_FLOOR)
                out[int(k)] = (text, conf)
        return out

    def __call__(self, rgb: np.ndarray) -> list[TextLine]:
        """The lines of text on one RGB frame (``(H, W, 3)`` uint8), top to bottom, NFKC-normalised."""
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        quads = self.detect(bgr)
        quads = [q for q in quads if _quad_height(q) >= self.min_height]
        if not quads:
            return []
        crops = self._ocr.get_crop_img_list(bgr, quads)
        lines = []
        for q, (text, conf) in zip(quads, self.recognize(crops)):
            text = normalize_text(text)
            if conf < self.min_confidence or not has_word_char(text):
                continue
            x1, y1 = q.min(axis=0)
            x2, y2 = q.max(axis=0)
            h, w = rgb.shape[:2]
            box = [round(float(max(0, x1)), 1), round(float(max(0, y1)), 1), round(float(min(w, x2)), 1),
                   round(float(min(h, y2)), 1)]
            lines.append(TextLine(text, box, round(conf, 4)))
        return lines


def _quad_height(q: np.ndarray) -> float:
    return float(min(math.dist(q[0], q[3]), math.dist(q[1], q[2])))


_ENGINES: dict[tuple, OcrEngine] = {}
_ENGINES_LOCK = threading.Lock()


def get_engine(lang: str = "auto", threads: int = 0, **options) -> OcrEngine:
    """A shared :class:`OcrEngine` per settings (loading the ONNX models takes about a second)."""
    key = (lang, int(threads), tuple(sorted(options.items())))
    with _ENGINES_LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = OcrEngine(lang, threads=threads, **options)
        return _ENGINES[key]
