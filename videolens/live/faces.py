"""Known and unknown faces on a camera: each tracked face is named from a gallery once, as ``known_face`` or
``unknown_face`` (docs/watch.md).

Only tracks not yet decided are embedded (at most ``attempts`` looks each, on faces at least ``min_side`` pixels
tall), so a scene of people who stay costs nothing after their first seconds. A track is ``known_face`` at its
first look that matches a gallery person (similarity >= the gallery's threshold, as in ``analyze --people``), and
``unknown_face`` after ``attempts`` looks that match nobody. Tracks that end undecided (faces too small, or gone
before their looks are done) raise nothing.

>>> ids = FaceIdentities(gallery, embedder)                      # doctest: +SKIP
>>> [f.kind for f in ids.update(tracked, frame_rgb, frame_index, t)]  # doctest: +SKIP
['known_face']
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.detections import Detections
from .rules import Found

RULE = "people"          # the ``rule`` of these events in events.jsonl
FACE_CLASSES = ("face",)


class FaceIdentities:
    """Names the tracked faces of one camera. ``gallery``: a :class:`~videolens.people.gallery.Gallery`;
    ``embedder``: a :class:`~videolens.people.embed.FaceEmbedder`; ``attempts``: looks before a track is unknown
    (default 3); ``min_side``: the smallest face side (frame pixels) worth a look (default 32)."""

    def __init__(self, gallery, embedder, attempts: int = 3, min_side: float = 32.0):
        self.gallery, self.embedder = gallery, embedder
        self.attempts, self.min_side = max(1, int(attempts)), float(min_side)
        self._looks: dict[int, list[float]] = {}      # undecided track -> its similarities so far
        self._seen: dict[int, float] = {}            # undecided track -> stream time of its last look
        self._decided: dict[int, float] = {}         # track -> stream time it was decided (forgotten later)

    def forget(self, before: float) -> None:
        """Drop what is kept about tracks decided, or last looked at, before stream time ``before``."""
        self._decided = {k: v for k, v in self._decided.items() if v >= before}
        for tid in [k for k, v in self._seen.items() if v < before]:
            self._seen.pop(tid)
            self._looks.pop(tid, None)

    def update(self, tracked: Detections | None, frame: Callable[[], np.ndarray], index: int,
               t: float) -> list[Found]:
        """One analyzed frame's tracked boxes; ``frame()`` returns it as full-size RGB, called only when a face
        needs a look."""
        if tracked is None or not len(tracked):
            return []
        names = tracked.class_names.tolist()
        todo = [j for j, (tid, name) in enumerate(zip(tracked.track_ids.tolist(), names))
                if tid >= 0 and name in FACE_CLASSES and tid not in self._decided
                and min(tracked.xyxy[j, 2] - tracked.xyxy[j, 0], tracked.xyxy[j, 3] - tracked.xyxy[j, 1])
                >= self.min_side]
        if not todo:
            return []
        boxes = tracked.xyxy[todo]
        who, sims = self.gallery.match(self.embedder.embed(frame(), boxes))
        out: list[Found] = []
        for j, name, sim in zip(todo, who, np.asarray(sims, float).tolist()):
            tid = int(tracked.track_ids[j])
            looks = self._looks.setdefault(tid, [])
            looks.append(sim)
            self._seen[tid] = t
            fields = {"class": "face", "track_id": tid, "score": round(float(tracked.scores[j]), 4),
                      "similarity": round(sim, 4)}
            box = [round(float(v), 2) for v in tracked.xyxy[j]]
            if name is not None:
                out.append(Found("known_face", RULE, "instant", t, index, {**fields, "name": name}, box=box))
            elif len(looks) >= self.attempts:
                fields["similarity"] = round(max(looks), 4)      # the best it came to anyone in the gallery
                out.append(Found("unknown_face", RULE, "instant", t, index, fields, box=box))
            else:
                continue
            self._decided[tid] = t
            del self._looks[tid], self._seen[tid]
        return out
