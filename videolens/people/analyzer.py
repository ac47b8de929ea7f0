"""The ``people`` analyzer: who appears when. Faces -> unit vectors -> face tracks -> people, named from a gallery.

It does not look at the video itself: it follows the ``faces`` analyzer of the same run (``requires = ("faces",)``;
``videolens analyze`` binds the two, docs/analyzers.md) and receives each analyzed frame with its faces and their
landmarks through :meth:`FacesAnalyzer.listeners <videolens.detect.analyzers.FacesAnalyzer>`: no second decode, no
second detection. Without the faces analyzer (``--no-faces``) the report lists people as skipped, with the reason.

1. Each face (the ``max_faces`` largest of a frame) is aligned and embedded (:class:`~videolens.people.embed.
   FaceEmbedder`) in a worker thread, beside the decoding.
2. Faces join tracks: a face continues the track of the previous analyzed frame whose box overlaps it most (IoU >=
   0.3) when the two faces also look alike (similarity >= ``link``); so a cut to another person at the same place
   starts a new track.
3. Tracks are clustered into people (:func:`~videolens.people.cluster.cluster`, average linkage, ``threshold``);
   people seen in fewer than ``min_faces`` faces are dropped (stray detections).
4. With a gallery (``--people GALLERY``), a person whose mean vector matches a known name gets it (and its
   similarity); everyone else is ``unknown-N``, numbered by first appearance.

Result (``report.json["people"]``): ``people``: ``[{id, name, similarity, ranges: [{start, end}], faces,
screen_time, first_seen, thumbnail}]``, times in seconds; ``thumbnail`` is a file in the video's folder
(``people/<id>.jpg``). Files: ``people.npz`` (``ids``, ``names``, ``embeddings``: each person's mean unit vector,
``faces``) and the thumbnails.

>>> from videolens.stream import run_analyzers
>>> from videolens.detect.analyzers import FacesAnalyzer
>>> faces = FacesAnalyzer(); people = PeopleAnalyzer(gallery="photos/")       # doctest: +SKIP
>>> people.bind({"faces": faces})                                             # doctest: +SKIP
>>> run = run_analyzers("talk.mp4", [faces, people])                          # doctest: +SKIP
>>> [(p["id"], p["ranges"]) for p in run.results["people"].to_dict()["people"]]   # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..core.analyzer import Analyzer
from ..core.detections import box_iou
from ..errors import VideolensError
from ..utils.threads import worker_pool
from .cluster import THRESHOLD, cluster


def _r(x: float) -> float:
    return round(float(x), 3)


@dataclass
class _Track:
    first: float
    last: float
    box: np.ndarray
    vector: np.ndarray                      # the last face's vector (for linking)
    total: np.ndarray                       # sum of the faces' vectors
    faces: int = 1
    best: float = -1.0                      # thumbnail quality (box area x score)
    thumb: bytes | None = None
    times: list[float] = field(default_factory=list)


@dataclass
class PeopleResult:
    """People of one video. ``to_dict()`` is the report section; ``embeddings`` (one mean unit vector per person,
    in the order of ``people``) goes to ``people.npz``, not to the JSON."""

    people: list[dict] = field(default_factory=list)
    embeddings: np.ndarray = field(default_factory=lambda: np.zeros((0, 128), np.float32))
    thumbnails: dict[str, bytes] = field(default_factory=dict)
    faces_embedded: int = 0
    threshold: float = THRESHOLD
    gallery: dict | None = None
    model: str = "dlib_face_recognition_resnet_model_v1"

    def to_dict(self) -> dict:
        return {"model": self.model, "threshold": self.threshold, "faces_embedded": self.faces_embedded,
                "gallery": self.gallery, "people": self.people}


class PeopleAnalyzer(Analyzer):
    """Face identities over a video. ``gallery``: a :class:`~videolens.people.gallery.Gallery`, a folder of photos
    per person or a ``gallery.npz`` (None: everyone is ``unknown-N``). ``threshold``: clustering (and naming)
    similarity; ``link``: similarity for a face to continue a track; ``min_faces``: fewer faces than this and a
    person is dropped; ``max_faces``: faces embedded per frame, largest first; ``threads``: the embedder's
    threads; ``background``: embed in a worker thread (at most ``max_pending`` frames ahead).
    """

    name = "people"
    wants_frames = False            # it gets its frames from the faces analyzer
    requires = ("faces",)
    summary_keys = ("people",)

    @classmethod
    def from_config(cls, config) -> PeopleAnalyzer:
        path = getattr(config, "people", None)
        gallery = _gallery_once(path) if isinstance(path, str) and path else None
        return cls(gallery=gallery, threads=1, background=config.threads != 1)

    def __init__(self, gallery=None, threshold: float = THRESHOLD, link: float = THRESHOLD, min_faces: int = 2,
                 max_faces: int = 10, threads: int | None = 1, background: bool = True, max_pending: int = 4,
                 embedder=None):
        from .embed import FaceEmbedder

        self.embedder = embedder or FaceEmbedder.shared(threads)
        self.gallery = None
        if gallery is not None:
            from .gallery import Gallery, load_gallery

            self.gallery = gallery if isinstance(gallery, Gallery) else load_gallery(gallery, self.embedder)
        self.threshold, self.link = float(threshold), float(link)
        self.min_faces, self.max_faces = max(1, int(min_faces)), max(1, int(max_faces))
        self.background, self.max_pending = bool(background), max(1, int(max_pending))
        self._pool = None
        self._pending: deque = deque()
        self._bound = False
        self._reset()

    def _reset(self) -> None:
        self._tracks: list[_Track] = []
        self._open: list[int] = []          # tracks of the previous analyzed frame
        self._embedded = 0
        self._interval = 0.5
        self._duration = 0.0
        self._scale = (1.0, 1.0)

    def fingerprint(self) -> dict:
        import hashlib

        from ..utils.files import file_digest
        from .dlib_resnet import model_path

        out = {"threshold": self.threshold, "link": self.link, "min_faces": self.min_faces,
               "max_faces": self.max_faces,
               "models": {n: file_digest(model_path(n)) for n in ("shape_predictor_5_face_landmarks.dat",
                                                                  "dlib_face_recognition_resnet_model_v1.dat")}}
        if self.gallery is not None:
            # The gallery by what it holds (names and vectors), not by where it was loaded from
            h = hashlib.sha256("\n".join(self.gallery.names).encode())
            h.update(np.ascontiguousarray(self.gallery.embeddings, np.float32).tobytes())
            out["gallery"] = {"sha256": h.hexdigest(), "threshold": float(self.gallery.threshold)}
        return out

    # ---- wiring ---------------------------------------------------------------------------------------------------
    def bind(self, analyzers: dict) -> None:
        """Follow the faces analyzer of the run (``analyzers["faces"]``)."""
        faces = analyzers.get("faces")
        if faces is None or not hasattr(faces, "listeners"):
            raise VideolensError("people: needs the faces analyzer in the same run")
        faces.listeners.append(self.on_faces)
        self._faces = faces
        self._bound = True

    def start(self, info) -> None:
        if not self._bound:
            raise VideolensError("people: not bound to a faces analyzer (call bind({'faces': faces}) first)")
        self._reset()
        self._pending.clear()
        self._duration = float(info.duration or 0.0)
        fps = float(info.fps or 25.0)
        self._interval = max(1, int(getattr(self._faces, "stride", 1) or 1)) / fps   # faces.start() ran first
        if self.background and self._pool is None:
            self._pool = worker_pool("videolens-people")

    def process(self, frames, timestamps, indices) -> None:   # never called: wants_frames is False
        pass

    # ---- per frame ------------------------------------------------------------------------------------------------
    def on_faces(self, frame: np.ndarray, detections, timestamp: float, index: int, scale: tuple[float, float]) -> None:
        """One analyzed frame from the faces analyzer: ``frame`` as analyzed, ``detections`` in its pixels,
        ``scale``: (sx, sy) from those pixels to the video's."""
        self._scale = scale
        d = detections
        if len(d) > self.max_faces:
            d = d[np.argsort(-d.area, kind="stable")[:self.max_faces]]
        boxes = d.xyxy.astype(np.float64)
        scores = d.scores.astype(np.float64)
        job = (frame, boxes, scores, float(timestamp))
        if self._pool is None:
            self._link(*job, self._embed(frame, boxes))
            return
        self._pending.append((job, self._pool.submit(self._embed, frame, boxes)))
        while len(self._pending) > self.max_pending:
            job, future = self._pending.popleft()
            self._link(*job, future.result())

    def _embed(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        return self.embedder.embed(frame, boxes) if len(boxes) else np.zeros((0, 128), np.float32)

    def _link(self, frame, boxes, scores, t, vectors) -> None:
        """Faces of one frame onto tracks (greedy by overlap, checked by likeness)."""
        self._embedded += len(boxes)
        prev = self._open
        taken: set[int] = set()
        now = []
        if len(boxes) and prev:
            ious = box_iou(boxes, np.stack([self._tracks[k].box for k in prev]))
            sims = vectors @ np.stack([self._tracks[k].vector for k in prev]).T
            pairs = sorted(((ious[i, j], i, j) for i in range(len(boxes)) for j in range(len(prev))
                            if ious[i, j] >= 0.3 and sims[i, j] >= self.link), reverse=True)
            assigned: dict[int, int] = {}
            for _, i, j in pairs:
                if i not in assigned and j not in taken:
                    assigned[i] = j
                    taken.add(j)
        else:
            assigned = {}
        for i in range(len(boxes)):
            if i in assigned:
                k = prev[assigned[i]]
                tr = self._tracks[k]
                tr.last, tr.box, tr.vector = t, boxes[i], vectors[i]
                tr.total = tr.total + vectors[i]
                tr.faces += 1
                tr.times.append(t)
            else:
                k = len(self._tracks)
                self._tracks.append(_Track(t, t, boxes[i], vectors[i], vectors[i].astype(np.float64), times=[t]))
                tr = self._tracks[k]
            quality = float((boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1]) * scores[i])
            if quality > tr.best * 1.2:
                tr.best, tr.thumb = quality, _thumbnail(frame, boxes[i])
            now.append(k)
        self._open = now

    # ---- the end --------------------------------------------------------------------------------------------------
    def finish(self) -> PeopleResult:
        try:
            while self._pending:
                job, future = self._pending.popleft()
                self._link(*job, future.result())
        finally:
            self._pending.clear()
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
        return self.people()

    def abort(self) -> None:
        """The run failed: stop the embedding thread (it may be inside dlib), so none outlives the run."""
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def people(self) -> PeopleResult:
        """Cluster the tracks so far into people."""
        tracks = self._tracks
        gallery_info = None
        if self.gallery is not None:
            gallery_info = {"people": self.gallery.people, "photos": len(self.gallery.names)}
        if not tracks:
            return PeopleResult(faces_embedded=self._embedded, threshold=self.threshold, gallery=gallery_info)
        means = np.stack([tr.total / np.linalg.norm(tr.total) for tr in tracks])
        weights = np.array([tr.faces for tr in tracks], np.float64)
        labels = cluster(means, self.threshold, weights)
        groups: dict[int, list[int]] = {}
        for k, lab in enumerate(labels):
            groups.setdefault(int(lab), []).append(k)
        persons = []
        for members in groups.values():
            faces = int(sum(tracks[k].faces for k in members))
            if faces < self.min_faces:
                continue
            total = sum(tracks[k].total for k in members)
            persons.append({"members": members, "faces": faces, "vector": (total / np.linalg.norm(total))})
        # Names from the gallery; two clusters with one name are one person.
        if self.gallery is not None and persons:
            names, scores = self.gallery.match(np.stack([p["vector"] for p in persons]))
            by_name: dict[str, dict] = {}
            for p, n, s in zip(persons, names, scores):
                p["name"], p["similarity"] = n, (float(s) if n else None)
                if n and n in by_name:
                    q = by_name[n]
                    q["members"] += p["members"]
                    q["faces"] += p["faces"]
                    q["similarity"] = max(q["similarity"], p["similarity"])
                    v = q["vector"] * (q["faces"] - p["faces"]) + p["vector"] * p["faces"]
                    q["vector"] = v / np.linalg.norm(v)
                    p["merged"] = True
                elif n:
                    by_name[n] = p
            persons = [p for p in persons if not p.get("merged")]
        for p in persons:
            p.setdefault("name", None)
            p.setdefault("similarity", None)
            times = sorted(t for k in p["members"] for t in tracks[k].times)
            p["first"] = times[0]
            p["ranges"] = self._ranges(times)
        persons.sort(key=lambda p: p["first"])
        unknown = 0
        out, vectors, thumbs = [], [], {}
        for p in persons:
            if p["name"]:
                pid = _slug(p["name"])
            else:
                unknown += 1
                pid = f"unknown-{unknown}"
            best = max(p["members"], key=lambda k: tracks[k].best)
            thumb = tracks[best].thumb
            if thumb:
                thumbs[pid] = thumb
            screen = sum(r["end"] - r["start"] for r in p["ranges"])
            out.append({"id": pid, "name": p["name"],
                        "similarity": None if p["similarity"] is None else _r(p["similarity"]),
                        "ranges": p["ranges"], "faces": p["faces"], "screen_time": _r(screen),
                        "first_seen": _r(p["first"]), "thumbnail": f"people/{pid}.jpg" if thumb else None})
            vectors.append(p["vector"].astype(np.float32))
        emb = np.stack(vectors) if vectors else np.zeros((0, 128), np.float32)
        return PeopleResult(out, emb, thumbs, self._embedded, self.threshold, gallery_info)

    def _ranges(self, times: list[float]) -> list[dict]:
        """Appearance ranges from the times the person's face was seen: a face is taken as visible until the next
        analyzed frame, and one analyzed frame without it (a blink of the detector) does not split a range."""
        step = self._interval
        out: list[list[float]] = []
        for t in times:
            end = t + step
            if self._duration:
                end = min(end, self._duration)
            if out and t - out[-1][1] <= step + 1e-6:
                out[-1][1] = max(out[-1][1], end)
            else:
                out.append([t, max(end, t)])
        return [{"start": _r(a), "end": _r(b)} for a, b in out]

    def summary(self, result: PeopleResult) -> dict:
        return {"people": len(result.people)}

    def write_files(self, result: PeopleResult, out_dir: str | os.PathLike) -> list[str]:
        out_dir = os.fspath(out_dir)
        paths = []
        npz = os.path.join(out_dir, "people.npz")
        np.savez(npz, ids=np.asarray([p["id"] for p in result.people], dtype=str),
                 names=np.asarray([p["name"] or "" for p in result.people], dtype=str),
                 embeddings=result.embeddings.astype(np.float32),
                 faces=np.asarray([p["faces"] for p in result.people], np.int64))
        paths.append(npz)
        if result.thumbnails:
            folder = os.path.join(out_dir, "people")
            os.makedirs(folder, exist_ok=True)
            for pid, data in result.thumbnails.items():
                path = os.path.join(folder, f"{pid}.jpg")
                with open(path, "wb") as f:
                    f.write(data)
                paths.append(path)
        return paths


_GALLERIES: dict = {}


def _gallery_once(path: str):
    """The gallery at ``path``, loaded once per process (a batch enrolls a folder of photos once); photos that are
    skipped are reported on stderr, file by file, the first time."""
    import sys

    from .embed import FaceEmbedder
    from .gallery import load_gallery

    st = os.stat(path)
    key = (os.path.abspath(path), st.st_mtime_ns)
    if key not in _GALLERIES:
        _GALLERIES[key] = load_gallery(path, FaceEmbedder.shared(None),
                                       on_skip=lambda f, why: print(f"videolens: {f}: skipped: {why}", file=sys.stderr))
    return _GALLERIES[key]


def _thumbnail(frame: np.ndarray, box: np.ndarray, height: int = 96) -> bytes | None:
    """A JPEG of the face with a margin, ``height`` pixels tall."""
    import cv2

    h, w = frame.shape[:2]
    x1, y1, x2, y2 = box
    mx, my = (x2 - x1) * 0.25, (y2 - y1) * 0.2
    a, b = int(max(0, x1 - mx)), int(max(0, y1 - my))
    c, d = int(min(w, x2 + mx)), int(min(h, y2 + my))
    if c <= a or d <= b:
        return None
    crop = frame[b:d, a:c]
    scale = height / crop.shape[0]
    crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), height), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", crop[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    return buf.tobytes() if ok else None


def _slug(name: str) -> str:
    """A file-safe id from a person's name (letters, digits, '-' and '_')."""
    import re

    s = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")
    return s or "person"

