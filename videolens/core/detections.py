"""``Detections``: the one result type every detector returns and every tracker, counter, annotator and writer takes.

Numpy only (no torch at import), so the analyzers, the report and the annotated-video code can use it cheaply.
Boxes are pixel coordinates ``x1, y1, x2, y2`` in the frame the detector saw, with ``(0, 0)`` the top-left corner
of the top-left pixel (conventions.md).

>>> import numpy as np
>>> d = Detections(xyxy=[[10, 20, 50, 80], [0, 0, 5, 5]], scores=[0.9, 0.3], class_ids=[0, 1],
...                class_names=["person", "car"], frame_index=7, timestamp=0.28)
>>> len(d), d[d.scores > 0.5].class_names.tolist()
(2, ['person'])
>>> Detections.from_coco(d.to_coco(image_id=1)).xyxy.tolist()[0]
[10.0, 20.0, 50.0, 80.0]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ANCHORS = ("center", "bottom-center", "top-center", "top-left", "bottom-right")


def _arr(x, dtype, shape_tail: tuple[int, ...] = ()) -> np.ndarray:
    a = np.asarray(x if x is not None else np.zeros((0, *shape_tail)), dtype=dtype)
    if a.size == 0:
        a = a.reshape((0, *shape_tail))
    return a


@dataclass
class Detections:
    """Boxes found in one frame (or image).

    - ``xyxy``: ``(N, 4)`` float32 pixel boxes; ``scores``: ``(N,)`` float32 in ``[0, 1]``.
    - ``class_ids``: ``(N,)`` int64 (the detector's class index); ``class_names``: ``(N,)`` str, one per box.
    - ``track_ids``: ``(N,)`` int64, ``-1`` where no tracker has assigned an id.
    - ``frame_index`` (0-based, presentation order) and ``timestamp`` (seconds on the PTS clock), when known.
    """

    xyxy: np.ndarray
    scores: np.ndarray | None = None
    class_ids: np.ndarray | None = None
    class_names: np.ndarray | None = None
    track_ids: np.ndarray | None = None
    frame_index: int | None = None
    timestamp: float | None = None
    data: dict[str, np.ndarray] = field(default_factory=dict)   # extra per-box arrays (e.g. "visibility")

    def __post_init__(self) -> None:
        self.xyxy = _arr(self.xyxy, np.float32, (4,)).reshape(-1, 4)
        n = len(self.xyxy)
        self.scores = np.ones(n, np.float32) if self.scores is None else _arr(self.scores, np.float32).reshape(-1)
        self.class_ids = (np.zeros(n, np.int64) if self.class_ids is None
                          else _arr(self.class_ids, np.int64).reshape(-1))
        if self.class_names is None:
            self.class_names = np.array([str(c) for c in self.class_ids.tolist()], dtype=object)
        else:
            self.class_names = np.array([str(c) for c in np.asarray(self.class_names, dtype=object).reshape(-1)],
                                        dtype=object)
        self.track_ids = (np.full(n, -1, np.int64) if self.track_ids is None
                          else _arr(self.track_ids, np.int64).reshape(-1))
        for name in ("scores", "class_ids", "class_names", "track_ids"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Detections: {name} has {len(getattr(self, name))} entries for {n} boxes")
        self.data = {k: np.asarray(v) for k, v in (self.data or {}).items()}
        for k, v in self.data.items():
            if len(v) != n:
                raise ValueError(f"Detections: data[{k!r}] has {len(v)} entries for {n} boxes")
        if self.frame_index is not None:
            self.frame_index = int(self.frame_index)
        if self.timestamp is not None:
            self.timestamp = float(self.timestamp)

    # ---- construction ----------------------------------------------------------------------------------------
    @classmethod
    def empty(cls, frame_index: int | None = None, timestamp: float | None = None) -> Detections:
        return cls(np.zeros((0, 4), np.float32), frame_index=frame_index, timestamp=timestamp)

    @classmethod
    def merge(cls, items: Sequence[Detections], frame_index: int | None = None,
              timestamp: float | None = None) -> Detections:
        """Concatenate the boxes of several ``Detections`` (of the same frame)."""
        items = [d for d in items if d is not None]
        if not items:
            return cls.empty(frame_index, timestamp)
        keys = set.intersection(*(set(d.data) for d in items)) if items else set()
        return cls(np.concatenate([d.xyxy for d in items]), np.concatenate([d.scores for d in items]),
                   np.concatenate([d.class_ids for d in items]),
                   np.concatenate([d.class_names for d in items]),
                   np.concatenate([d.track_ids for d in items]),
                   frame_index if frame_index is not None else items[0].frame_index,
                   timestamp if timestamp is not None else items[0].timestamp,
                   {k: np.concatenate([d.data[k] for d in items]) for k in keys})

    # ---- container behaviour ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index) -> Detections:
        """Select boxes with a boolean mask, an index array, a slice or an int (keeps a 1-box ``Detections``)."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return Detections(self.xyxy[index], self.scores[index], self.class_ids[index], self.class_names[index],
                          self.track_ids[index], self.frame_index, self.timestamp,
                          {k: v[index] for k, v in self.data.items()})

    def __iter__(self):
        """Yield ``(xyxy, score, class_id, class_name, track_id)`` per box."""
        for i in range(len(self)):
            yield (self.xyxy[i], float(self.scores[i]), int(self.class_ids[i]), str(self.class_names[i]),
                   int(self.track_ids[i]))

    def copy(self) -> Detections:
        return self[np.arange(len(self))]

    # ---- geometry --------------------------------------------------------------------------------------------
    @property
    def area(self) -> np.ndarray:
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return wh[:, 0] * wh[:, 1]

    def anchors(self, anchor: str = "center") -> np.ndarray:
        """``(N, 2)`` points of each box: ``center``, ``bottom-center`` (feet), ``top-center``, ``top-left``..."""
        x1, y1, x2, y2 = self.xyxy.T
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        points = {"center": (cx, cy), "bottom-center": (cx, y2), "top-center": (cx, y1), "top-left": (x1, y1),
                  "bottom-right": (x2, y2)}
        if anchor not in points:
            raise ValueError(f"anchor must be one of {', '.join(ANCHORS)}, not {anchor!r}")
        return np.stack(points[anchor], axis=1).astype(np.float32)

    def scaled(self, sx: float, sy: float | None = None) -> Detections:
        """The same boxes in a frame scaled by ``sx`` horizontally and ``sy`` vertically."""
        sy = sx if sy is None else sy
        out = self.copy()
        out.xyxy = out.xyxy * np.asarray([sx, sy, sx, sy], np.float32)
        return out

    def clipped(self, width: int, height: int) -> Detections:
        out = self.copy()
        out.xyxy = np.clip(out.xyxy, 0, [width, height, width, height]).astype(np.float32)
        return out

    # ---- filtering -------------------------------------------------------------------------------------------
    def filter(self, min_score: float | None = None, classes: Iterable[str | int] | None = None) -> Detections:
        """Keep boxes with ``score >= min_score`` and whose class name (or id) is in ``classes``."""
        keep = np.ones(len(self), bool)
        if min_score is not None:
            keep &= self.scores >= float(min_score)
        if classes is not None:
            wanted = {str(c).lower() for c in classes}
            keep &= np.array([str(n).lower() in wanted or str(i) in wanted
                              for n, i in zip(self.class_names, self.class_ids.tolist())], bool).reshape(-1)
        return self[keep]

    # ---- conversions -----------------------------------------------------------------------------------------
    def to_coco(self, image_id: int | str, categories: Sequence[Mapping] | None = None) -> list[dict]:
        """COCO result/annotation dicts: ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}`` per box.

        With ``categories`` (COCO's ``[{"id", "name"}]``) the category id is looked up by class name; without,
        ``category_id`` is the class id. A set ``track_id`` is kept as ``"track_id"``.
        """
        by_name = {str(c["name"]): int(c["id"]) for c in categories} if categories else None
        out = []
        for i in range(len(self)):
            x1, y1, x2, y2 = (float(v) for v in self.xyxy[i])
            if by_name is not None:
                name = str(self.class_names[i])
                if name not in by_name:
                    raise ValueError(f"class {name!r} is not among the COCO categories {sorted(by_name)}")
                cat = by_name[name]
            else:
                cat = int(self.class_ids[i])
            rec = {"image_id": image_id, "category_id": cat,
                   "bbox": [round(x1, 3), round(y1, 3), round(x2 - x1, 3), round(y2 - y1, 3)],
                   "score": round(float(self.scores[i]), 5)}
            if self.track_ids[i] >= 0:
                rec["track_id"] = int(self.track_ids[i])
            out.append(rec)
        return out

    @classmethod
    def from_coco(cls, annotations: Iterable[Mapping], categories: Sequence[Mapping] | None = None,
                  frame_index: int | None = None, timestamp: float | None = None) -> Detections:
        """Boxes from COCO annotation or result dicts (``bbox`` is ``[x, y, w, h]``; ``score`` defaults to 1).

        With ``categories``, ``class_ids`` are positions in the categories sorted by id and ``class_names`` their
        names (the inverse of :meth:`to_coco` with the same list); without, ``class_ids`` are the category ids.
        """
        anns = list(annotations)
        names_by_id: dict[int, tuple[int, str]] = {}
        if categories:
            for k, c in enumerate(sorted(categories, key=lambda c: int(c["id"]))):
                names_by_id[int(c["id"])] = (k, str(c["name"]))
        boxes, scores, ids, names, tracks = [], [], [], [], []
        for a in anns:
            x, y, w, h = (float(v) for v in a["bbox"])
            boxes.append([x, y, x + w, y + h])
            scores.append(float(a.get("score", 1.0)))
            cat = int(a["category_id"])
            k, name = names_by_id.get(cat, (cat, str(cat)))
            ids.append(k)
            names.append(name)
            tracks.append(int(a.get("track_id", -1)))
        return cls(np.asarray(boxes, np.float32).reshape(-1, 4), scores, ids, names, tracks, frame_index, timestamp)

    def to_supervision(self):
        """A ``supervision.Detections`` with the same boxes; class names go to ``data["class_name"]``."""
        import supervision as sv

        return sv.Detections(xyxy=self.xyxy.astype(np.float32), confidence=self.scores.astype(np.float32),
                             class_id=self.class_ids.astype(int),
                             tracker_id=None if np.all(self.track_ids < 0) else self.track_ids.astype(int),
                             data={"class_name": np.asarray(self.class_names, dtype=str),
                                   **{k: v for k, v in self.data.items()}})

    @classmethod
    def from_supervision(cls, det: Any, frame_index: int | None = None,
                         timestamp: float | None = None) -> Detections:
        """From a ``supervision.Detections`` (its ``confidence``, ``class_id``, ``tracker_id``, ``class_name``)."""
        n = len(det.xyxy)
        names = (det.data or {}).get("class_name")
        return cls(det.xyxy, det.confidence if det.confidence is not None else np.ones(n),
                   det.class_id if det.class_id is not None else np.zeros(n, np.int64),
                   names, det.tracker_id if det.tracker_id is not None else None, frame_index, timestamp)

    def to_records(self, decimals: int = 2) -> list[dict]:
        """One JSON-able dict per box: ``{"box": [x1, y1, x2, y2], "score", "class_id", "class", "track_id"}``.

        The one box record of every file videolens writes (``detections.json``, the report's ``faces`` and
        ``objects``); :meth:`from_records` reads it back.
        """
        out = []
        for i in range(len(self)):
            out.append({"box": [round(float(v), decimals) for v in self.xyxy[i]],
                        "score": round(float(self.scores[i]), 4), "class_id": int(self.class_ids[i]),
                        "class": str(self.class_names[i]), "track_id": int(self.track_ids[i])})
        return out

    @classmethod
    def from_records(cls, records: Iterable[Mapping], frame_index: int | None = None,
                     timestamp: float | None = None) -> Detections:
        """The boxes of :meth:`to_records` records (``track_id`` -1 and ``class`` the id when absent).

        >>> d = Detections([[1, 2, 3, 4]], [0.5], [2], ["car"], [7])
        >>> Detections.from_records(d.to_records()).to_records() == d.to_records()
        True
        """
        rows = list(records)
        return cls(np.asarray([r["box"] for r in rows], np.float32).reshape(-1, 4), [r["score"] for r in rows],
                   [r.get("class_id", 0) for r in rows], [r.get("class", r.get("class_id", 0)) for r in rows],
                   [r.get("track_id", -1) for r in rows], frame_index, timestamp)

    def __repr__(self) -> str:
        where = f", frame_index={self.frame_index}" if self.frame_index is not None else ""
        return f"Detections({len(self)} boxes{where})"


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU ``(len(a), len(b))`` of ``x1, y1, x2, y2`` boxes (no +1 pixel convention, as in COCO).

    >>> box_iou(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 15, 10], [20, 20, 30, 30]])).round(3).tolist()
    [[0.333, 0.0]]
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
