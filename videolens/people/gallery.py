"""Known people: a gallery of named face vectors, built from a folder of photos or loaded from ``gallery.npz``.

A gallery folder holds one folder per person, named after them, with photos of that person alone
(``alice/1.jpg``, ``alice/2.png``, ``bob/a.jpg``). Each photo gives one vector; a photo that cannot be read, shows
no face, or shows several faces is reported by name and skipped (which face would be the person's?). A saved
gallery is an ``.npz`` of plain arrays, read with ``allow_pickle=False``: ``names`` (N strings), ``embeddings``
(N x 128 float, unit rows) and optionally ``files`` (N strings). Anything else is refused with a one-line error.

A face matches the person whose photos it is most similar to (cosine similarity, best photo), when that similarity
is at least ``threshold`` (:data:`MATCH_THRESHOLD`, the clustering threshold: BENCHMARKS.md).

>>> gallery, skipped = enroll("photos/")                     # doctest: +SKIP
>>> gallery.save("out/gallery.npz")                          # doctest: +SKIP
>>> names, scores = load_gallery("out/gallery.npz").match(vectors)   # doctest: +SKIP
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.detections import Detections
from ..detect.detectors import Detector
from ..errors import VideolensError
from .cluster import THRESHOLD

MATCH_THRESHOLD = THRESHOLD
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass
class Gallery:
    """Named unit vectors, one per photo. ``names[i]`` is the person of ``embeddings[i]``."""

    names: list[str]
    embeddings: np.ndarray
    files: list[str] = field(default_factory=list)
    threshold: float = MATCH_THRESHOLD

    @property
    def people(self) -> list[str]:
        """The distinct names, sorted."""
        return sorted(set(self.names))

    def match(self, vectors: np.ndarray) -> tuple[list[str | None], np.ndarray]:
        """For each unit row of ``vectors``: the best-matching name (None below the threshold) and its similarity."""
        vectors = np.asarray(vectors, np.float32).reshape(-1, 128)
        if not len(vectors) or not len(self.names):
            return [None] * len(vectors), np.zeros(len(vectors), np.float32)
        sims = vectors @ self.embeddings.T
        best = sims.argmax(1)
        scores = sims[np.arange(len(vectors)), best]
        return [self.names[b] if s >= self.threshold else None for b, s in zip(best, scores)], scores

    def save(self, path: str | os.PathLike) -> str:
        """Write the arrays to ``path`` (``.npz``, no pickled objects); returns the path."""
        path = os.fspath(path)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        tmp = path + ".partial.npz"
        np.savez(tmp, names=np.asarray(self.names, dtype=str), embeddings=self.embeddings.astype(np.float32),
                 files=np.asarray(self.files or [""] * len(self.names), dtype=str))
        os.replace(tmp, path)
        return path


def enroll(folder: str | os.PathLike, embedder=None, detector=None,
           on_skip: Callable[[str, str], None] | None = None) -> tuple[Gallery, list[tuple[str, str]]]:
    """A gallery from a folder of per-person folders of photos; returns ``(gallery, skipped)``, where skipped
    lists ``(file, reason)`` for every photo left out (unreadable, no face, several faces). ``on_skip`` is called
    for each as it happens. An empty result is an error (one line)."""
    from ..detect.augment import read_image

    folder = Path(folder)
    if not folder.is_dir():
        raise VideolensError(f"{folder}: no such folder of photos (expected one folder per person: alice/1.jpg)")
    embedder, detector = _tools(embedder, detector)
    names, vectors, files, skipped = [], [], [], []

    def skip(path: Path, reason: str) -> None:
        skipped.append((str(path), reason))
        if on_skip:
            on_skip(str(path), reason)

    people = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    for person in people:
        for photo in sorted(p for p in person.iterdir() if p.is_file() and not p.name.startswith(".")):
            if photo.suffix.lower() not in IMAGE_SUFFIXES:
                skip(photo, "not an image file")
                continue
            try:
                image = read_image(photo)
            except Exception as e:  # noqa: BLE001 - any decoding failure is this one file's problem
                skip(photo, f"cannot be read ({str(e).splitlines()[0][:120] if str(e) else type(e).__name__})")
                continue
            faces, boxes = detect_large(detector, image)
            if len(faces) == 0:
                skip(photo, "no face found")
                continue
            if len(faces) > 1:
                skip(photo, f"{len(faces)} faces found (a gallery photo must show one person)")
                continue
            vectors.append(embedder.embed(image, boxes)[0])
            names.append(person.name)
            files.append(str(photo.relative_to(folder)))
    if not names:
        raise VideolensError(f"{folder}: no usable face photo (expected one folder per person with photos of that "
                             f"person alone: alice/1.jpg; {len(skipped)} files skipped)")
    return Gallery(names, np.stack(vectors).astype(np.float32), files), skipped


def detect_large(detector, image: np.ndarray, max_side: int = 1280):
    """Faces of a photo, found on a copy at most ``max_side`` pixels long (a 12 Mpx photo costs what a small one
    does); returns the detections and their boxes in the photo's own pixels."""
    import cv2

    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    small = image if scale == 1.0 else cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                                                  interpolation=cv2.INTER_AREA)
    faces = detector(small)
    return faces, faces.xyxy.astype(np.float64) / scale


def load_gallery(path: str | os.PathLike, embedder=None, detector=None,
                 on_skip: Callable[[str, str], None] | None = None) -> Gallery:
    """A gallery from ``path``: a saved ``.npz`` (:meth:`Gallery.save`) or a folder of photos (:func:`enroll`)."""
    path = Path(path)
    if path.is_dir():
        return enroll(path, embedder, detector, on_skip)[0]
    if not path.is_file():
        raise VideolensError(f"{path}: no such gallery (a folder of photos per person, or a gallery.npz)")
    with open(path, "rb") as f:
        magic = f.read(6)
    # np.load takes anything that is not a zip or a .npy for a pickle: random bytes would be "pickled objects".
    if not magic.startswith((b"PK", b"\x93NUMPY", b"\x80")):     # \x80: a real pickle (protocol 2+)
        raise VideolensError(f"{path}: not a gallery .npz (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise VideolensError(f"{path}: holds pickled objects, which videolens does not load (a gallery holds "
                                 f"only arrays: names, embeddings)") from None
        raise VideolensError(f"{path}: not a gallery .npz ({str(e).splitlines()[0][:160]})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise VideolensError(f"{path}: not a gallery .npz ({type(e).__name__}: {str(e)[:160]})") from None
    names, emb = arrays.get("names"), arrays.get("embeddings")
    if names is None or emb is None:
        raise VideolensError(f"{path}: a gallery .npz needs the arrays 'names' and 'embeddings' "
                             f"(found: {', '.join(sorted(arrays)) or 'none'})")
    if names.ndim != 1 or names.dtype.kind != "U":
        raise VideolensError(f"{path}: 'names' must be a 1-D array of strings, not {names.dtype} {names.shape}")
    if emb.ndim != 2 or emb.shape != (len(names), 128) or emb.dtype.kind != "f":
        raise VideolensError(f"{path}: 'embeddings' must be {len(names)} x 128 floats (one row per name), "
                             f"not {emb.dtype} {emb.shape}")
    if not len(names):
        raise VideolensError(f"{path}: the gallery is empty")
    if not np.isfinite(emb).all():
        raise VideolensError(f"{path}: 'embeddings' holds NaN or infinite values")
    emb = emb.astype(np.float32)
    emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    files = arrays.get("files")
    files = [str(f) for f in files] if files is not None and files.shape == names.shape else []
    return Gallery([str(n) for n in names], emb, files)


def _tools(embedder, detector):
    if embedder is None:
        from .embed import FaceEmbedder

        embedder = FaceEmbedder(threads=None)
    if detector is None:
        from ..detect.detectors import default_face_model, load_detector

        detector = load_detector(default_face_model())
    return embedder, detector


class NamedFaceDetector(Detector):
    """A face detector whose boxes are named from a gallery: class name = the person's name, or ``unknown``;
    ``data["similarity"]`` holds the best similarity. What ``videolens detect --people GALLERY`` runs.

    >>> det = NamedFaceDetector(load_detector("faces-retina"), load_gallery("gallery.npz"))   # doctest: +SKIP
    >>> det(frame).class_names                                                               # doctest: +SKIP
    array(['alice', 'unknown'], dtype='<U7')
    """

    finds_faces = True

    def __init__(self, detector: Detector, gallery: Gallery, embedder=None):
        if not getattr(detector, "finds_faces", False):
            raise VideolensError(f"--people names faces: use it with a face detector (--model faces-retina or "
                                 f"faces), not {getattr(detector, 'name', detector)}")
        if embedder is None:
            from .embed import FaceEmbedder

            embedder = FaceEmbedder(threads=None)
        self.name = f"{detector.name}+people"
        self.class_names = gallery.people + ["unknown"]
        super().__init__(detector.conf)
        self.detector, self.gallery, self.embedder = detector, gallery, embedder

    def _detect(self, frames: list[np.ndarray]) -> list[Detections]:
        out = []
        for f, d in zip(frames, self.detector.detect(frames)):
            who, sims = self.gallery.match(self.embedder.embed(f, d.xyxy))
            labels = [w or "unknown" for w in who]
            out.append(Detections(d.xyxy, d.scores, np.array([self.class_names.index(n) for n in labels], np.int64),
                                  labels, data={**d.data, "similarity": np.asarray(sims, np.float32)}))
        return out

    def describe(self) -> dict:
        return {**self.detector.describe(), "name": self.name, "classes": list(self.class_names),
                "gallery": {"people": self.gallery.people, "photos": len(self.gallery.names)}}
