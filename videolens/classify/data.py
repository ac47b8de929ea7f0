"""Action-recognition datasets in the layouts users already have (the clips are decoded by :mod:`.clips`).

Layouts :func:`load_dataset` reads:

- **A folder per class** (UCF101 style): ``ROOT/<class>/<video>``. Class order comes from ``classInd.txt``
  (``"1 ApplyEyeMakeup"``, 1-based) when present, else from the sorted folder names. ``trainlist.txt`` /
  ``testlist.txt`` (or UCF101's ``trainlist01.txt`` / ``testlist01.txt``) give the split: ``"class/video.avi 1"``
  (label optional, 1-based as in classInd) and ``"class/video.avi"``.
- **A list file** (CSV or whitespace-separated TXT), one clip per line: ``path,label[,start,end]`` with ``start`` and
  ``end`` in seconds from the start of the video (Kinetics-style trimming). An optional header names the columns
  (``path, label, start, end, split``); a ``split`` column (train/val/test) gives the split. Paths are relative to
  the list file.
- **A folder of list files**: ``train.csv`` / ``val.csv`` / ``test.csv`` (or ``.txt``), MMAction2 style.

Labels in list files are class names, or integers when a ``classes.txt`` / ``label_map.txt`` (one name per line,
0-based) or ``classInd.txt`` (1-based) lies beside them; without one, integer labels are names ordered numerically.
Class names are kept in that order and saved with every model.

Without a given validation split, one is drawn from the training clips, stratified per class, with ``seed``. With no
split at all there is no test split; ``evaluate`` then uses the validation split of the same seed.

Every video is probed before use: unreadable ones, and ones with fewer than ``min_frames`` frames in their span,
are skipped with a warning and listed in :attr:`ActionDataset.skipped` (and in the run's log).

>>> ds = load_dataset("motion/", seed=0)                         # doctest: +SKIP
>>> ds.classes[:2], len(ds.train), len(ds.val), len(ds.test)    # doctest: +SKIP
(['move_left', 'move_right'], 234, 54, 72)
"""

from __future__ import annotations

import csv
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import VideolensError
from ..io.reader import VideoReader
from ..utils.files import VIDEO_EXTENSIONS
from ..utils.progress import progress

SPLITS = ("train", "val", "test")
_PATH_COLS = ("path", "video", "file", "filename", "filepath", "clip")
_LABEL_COLS = ("label", "class", "category", "class_name", "action")
_START_COLS = ("start", "time_start", "start_time", "begin")
_END_COLS = ("end", "time_end", "end_time", "stop")
_SPLIT_COLS = ("split", "subset")


@dataclass(frozen=True)
class Sample:
    """One labelled clip: a video file, a class index, and optionally a span in seconds from its start."""

    path: str
    label: int
    start: float | None = None
    end: float | None = None


@dataclass
class ActionDataset:
    """A parsed dataset: class names in order, the three splits, and the videos that were skipped (with why)."""

    root: str
    layout: str                              # "folders", "list" or "lists"
    classes: list[str]
    train: list[Sample]
    val: list[Sample]
    test: list[Sample]
    split_source: str                        # "given", "val from train" or "seeded"
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def split(self, name: str) -> list[Sample]:
        if name == "all":
            return self.train + self.val + self.test
        if name not in SPLITS:
            raise VideolensError(f"unknown split {name!r} (choose train, val, test or all)")
        return getattr(self, name)

    def require(self, *names: str) -> None:
        """Refuse a split that is empty, with the reason in one line."""
        for name in names:
            if not self.split(name):
                why = f" ({len(self.skipped)} videos were skipped)" if self.skipped else ""
                raise VideolensError(f"{self.root}: the {name} split is empty{why}")

    def summary(self) -> dict:
        return {"root": self.root, "layout": self.layout, "classes": list(self.classes),
                "train": len(self.train), "val": len(self.val), "test": len(self.test),
                "split": self.split_source, "skipped": [{"path": p, "reason": r} for p, r in self.skipped]}


# ---------------------------------------------------------------------------------------------------------------
# parsing


def _is_video(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS and not p.name.startswith(".")


def _find_list(root: Path, stem: str) -> Path | None:
    for name in (f"{stem}.txt", f"{stem}01.txt", f"{stem}.csv"):
        if (root / name).is_file():
            return root / name
    return None


def _read_class_file(folder: Path) -> tuple[list[str], int] | None:
    """Class names from ``classInd.txt`` (1-based "N name") or ``classes.txt`` / ``label_map.txt`` (0-based)."""
    ind = folder / "classInd.txt"
    if ind.is_file():
        pairs = []
        for n, line in enumerate(ind.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split(None, 1)
            if len(parts) != 2 or not parts[0].isdigit():
                raise VideolensError(f"{ind}: line {n}: expected 'INDEX NAME', got {line.strip()!r}")
            pairs.append((int(parts[0]), parts[1].strip()))
        pairs.sort()
        first = pairs[0][0] if pairs else 1
        if [i for i, _ in pairs] != list(range(first, first + len(pairs))):
            raise VideolensError(f"{ind}: class indices must be consecutive")
        return [name for _, name in pairs], first
    for name in ("classes.txt", "label_map.txt"):
        f = folder / name
        if f.is_file():
            names = [ln.strip() for ln in f.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
            return names, 0
    return None


def _label_index(label: str, classes: list[str], base: int, where: str) -> int:
    if label in classes:
        return classes.index(label)
    if re.fullmatch(r"-?\d+", label):
        i = int(label) - base
        if 0 <= i < len(classes):
            return i
        first = f"from {base}" if base else "from 0"
        raise VideolensError(f"{where}: label {label} is out of range: there are {len(classes)} classes, "
                             f"numbered {first}")
    raise VideolensError(f"{where}: unknown class {label!r}")


def _rows(list_file: Path) -> list[dict]:
    """Rows of a list file as dicts with path/label/start/end/split (strings or None), with line numbers."""
    text = list_file.read_text(encoding="utf-8-sig", errors="replace")
    lines = [(n, ln) for n, ln in enumerate(text.splitlines(), 1) if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return []
    first = lines[0][1]
    if "," in first or "\t" in first:
        delimiter = "\t" if "\t" in first else ","
        parsed = [(n, next(csv.reader([ln], delimiter=delimiter))) for n, ln in lines]
    else:
        # whitespace-separated: "path label [start end]" (paths with spaces need the CSV form)
        parsed = [(n, ln.split()) for n, ln in lines]
    header = [c.strip().lower() for c in parsed[0][1]]
    cols = {"path": 0, "label": 1, "start": 2, "end": 3, "split": None}
    if header and (header[0] in _PATH_COLS or header[1:2] and header[1] in _LABEL_COLS):
        cols = {"path": None, "label": None, "start": None, "end": None, "split": None}
        for i, h in enumerate(header):
            for key, names in (("path", _PATH_COLS), ("label", _LABEL_COLS), ("start", _START_COLS),
                               ("end", _END_COLS), ("split", _SPLIT_COLS)):
                if h in names and cols[key] is None:
                    cols[key] = i
        if cols["path"] is None:
            raise VideolensError(f"{list_file}: the header has no path column (one of {', '.join(_PATH_COLS)})")
        parsed = parsed[1:]
    rows = []
    for n, fields in parsed:
        fields = [f.strip() for f in fields]

        def get(key, fields=fields):
            i = cols[key]
            return fields[i] if i is not None and i < len(fields) and fields[i] != "" else None

        rows.append({"line": n, "path": get("path"), "label": get("label"), "start": get("start"),
                     "end": get("end"), "split": get("split")})
    return rows


def _seconds(value: str | None, where: str) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except ValueError:
        raise VideolensError(f"{where}: {value!r} is not a time in seconds") from None
    if v < 0 or not np.isfinite(v):
        raise VideolensError(f"{where}: time {value} must be >= 0 seconds")
    return v


def _samples_from_rows(rows: list[dict], base_dir: Path, source: Path, classes: list[str] | None,
                       base: int) -> tuple[list[str], list[tuple[Sample, str | None]]]:
    """Turn list rows into Samples; ``classes`` None means: derive them from the labels."""
    for r in rows:
        if not r["path"]:
            raise VideolensError(f"{source}: line {r['line']}: no video path")
        if r["label"] is None:
            raise VideolensError(f"{source}: line {r['line']}: no label for {r['path']}")
    used = {r["label"] for r in rows}
    if classes is not None and used <= set(classes):
        # names, not numbers: the class file gives their order; classes nobody uses are left out
        classes, base = [c for c in classes if c in used], 0
    if classes is None:
        labels = sorted(used)
        if labels and all(re.fullmatch(r"-?\d+", x) for x in labels):
            labels.sort(key=int)
        classes, base = labels, 0
    out = []
    for r in rows:
        where = f"{source}: line {r['line']}"
        label = _label_index(r["label"], classes, base, where)
        start, end = _seconds(r["start"], where), _seconds(r["end"], where)
        if start is not None and end is not None and end <= start:
            raise VideolensError(f"{where}: end ({end}) must be after start ({start})")
        path = Path(r["path"])
        path = path if path.is_absolute() else base_dir / path
        split = (r["split"] or "").lower() or None
        if split in ("validation", "valid"):
            split = "val"
        if split is not None and split not in SPLITS:
            raise VideolensError(f"{where}: split {r['split']!r} is not train, val or test")
        out.append((Sample(str(path), label, start, end), split))
    return classes, out


def _from_folders(root: Path) -> tuple[list[str], dict[str, list[Sample]] | None, list[Sample], str]:
    given = _read_class_file(root)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    with_videos = [p for p in folders if any(_is_video(f) for f in p.rglob("*"))]
    if given is not None:
        classes, base = given
    else:
        classes, base = [p.name for p in with_videos], 1
    train_list, test_list = _find_list(root, "trainlist"), _find_list(root, "testlist")
    if train_list is None and test_list is None:
        samples = []
        for p in with_videos:
            if p.name not in classes:
                raise VideolensError(f"{p}: folder is not a class in {root / 'classInd.txt'}")
            samples += [Sample(str(f), classes.index(p.name)) for f in sorted(p.rglob("*")) if _is_video(f)]
        return classes, None, samples, "folders"
    splits: dict[str, list[Sample]] = {"train": [], "test": []}
    for name, lst in (("train", train_list), ("test", test_list)):
        if lst is None:
            continue
        for n, line in enumerate(lst.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split()
            rel = parts[0]
            folder = Path(rel).parts[0] if len(Path(rel).parts) > 1 else None
            where = f"{lst}: line {n}"
            if len(parts) > 1:
                label = _label_index(parts[1], classes, base, where)
                if folder in classes and classes[label] != folder:
                    hint = " (0-based labels? classInd.txt numbers classes from 1)" \
                        if base == 1 and 0 <= label + 1 < len(classes) and classes[label + 1] == folder else ""
                    raise VideolensError(f"{where}: label {parts[1]} is {classes[label]!r} but the video is in "
                                         f"folder {folder!r}{hint}")
            elif folder in classes:
                label = classes.index(folder)
            else:
                raise VideolensError(f"{where}: no label, and {rel!r} is not inside a class folder")
            splits[name].append(Sample(str(root / rel), label))
    return classes, splits, [], "folders"


def stratified_split(samples: list[Sample], fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """Split ``samples`` per class into (kept, held out): ``round(n * fraction)`` held out of each class of n
    (at least 1 when the class has 2 or more), chosen with ``seed``. Deterministic for a given seed and set."""
    by_class: dict[int, list[Sample]] = {}
    for s in sorted(samples, key=lambda s: (s.label, s.path, s.start or 0.0)):
        by_class.setdefault(s.label, []).append(s)
    rng = np.random.default_rng(seed)
    kept, held = [], []
    for label in sorted(by_class):
        group = by_class[label]
        n = len(group)
        k = 0 if fraction <= 0 or n < 2 else min(n - 1, max(1, int(round(n * fraction))))
        order = rng.permutation(n)
        held += [group[i] for i in sorted(order[:k])]
        kept += [group[i] for i in sorted(order[k:])]
    return kept, held


def _span(timestamps: np.ndarray, start: float | None, end: float | None) -> tuple[int, int]:
    """Frame range ``[i0, i1)`` shown from ``start`` to before ``end`` (seconds from the first frame)."""
    rel = timestamps - timestamps[0]
    i0 = 0 if start is None else int(np.searchsorted(rel, start - 1e-6, side="left"))
    i1 = len(rel) if end is None else int(np.searchsorted(rel, end - 1e-6, side="left"))
    return i0, max(i0, i1)


def probe_samples(samples: list[Sample], min_frames: int = 2, quiet: bool = True
                  ) -> tuple[list[Sample], list[tuple[str, str]]]:
    """Keep the samples whose video opens and holds at least ``min_frames`` frames in its span."""
    good, bad = [], []
    seen: dict[str, str | np.ndarray] = {}
    for s in progress(samples, desc="checking videos", quiet=quiet or len(samples) < 50, unit="video"):
        if s.path not in seen:
            try:
                seen[s.path] = VideoReader(s.path).timestamps
            except VideolensError as e:
                seen[s.path] = e.reason if hasattr(e, "reason") else str(e)
            except Exception as e:  # noqa: BLE001 - one damaged file must not stop a dataset
                seen[s.path] = f"cannot read ({type(e).__name__}: {e})"
        ts = seen[s.path]
        if isinstance(ts, str):
            bad.append((s.path, ts))
            continue
        i0, i1 = _span(ts, s.start, s.end)
        if i1 - i0 < min_frames:
            span = "" if s.start is None and s.end is None else f" between {s.start or 0}s and {s.end}s"
            bad.append((s.path, f"too short: {i1 - i0} frame(s){span}, need at least {min_frames}"))
            continue
        good.append(s)
    return good, bad


def load_dataset(path: str | os.PathLike, *, val_fraction: float = 0.2, seed: int = 0, min_frames: int = 2,
                 check: bool = True, quiet: bool = True) -> ActionDataset:
    """Read a dataset in any of the module's layouts, split it, and probe its videos (``check``).

    Raises :class:`~videolens.errors.VideolensError` for a missing path, fewer than 2 classes, malformed lists, or
    no video at all. Empty splits are refused by :meth:`ActionDataset.require` where a split is needed.
    """
    root = Path(path)
    if not root.exists():
        raise VideolensError(f"{path}: no such file or directory")
    given: dict[str, list[Sample]] | None
    pool: list[Sample] = []
    if root.is_file():
        layout, base_dir = "list", root.parent
        found = _read_class_file(base_dir)
        classes, rows = _samples_from_rows(_rows(root), base_dir, root, *(found if found else (None, 0)))
        given = {}
        for s, split in rows:
            if split is None:
                pool.append(s)
            else:
                given.setdefault(split, []).append(s)
        if pool and given:
            raise VideolensError(f"{root}: some lines have a split and others do not")
        given = given or None
    elif any((root / f"{n}.{e}").is_file() for n in SPLITS for e in ("csv", "txt")):
        layout = "lists"
        found = _read_class_file(root)
        classes, base = found if found else (None, 0)
        all_rows = {}
        for n in SPLITS:
            f = next((root / f"{n}.{e}" for e in ("csv", "txt") if (root / f"{n}.{e}").is_file()), None)
            if f is not None:
                all_rows[n] = (f, _rows(f))
        if classes is None:   # the union of labels over every list, so every split shares one class order
            merged = [r for _, rows in all_rows.values() for r in rows]
            classes, _ = _samples_from_rows(merged, root, root, None, 0)
        given = {n: [s for s, _ in _samples_from_rows(rows, f.parent, f, classes, base)[1]]
                 for n, (f, rows) in all_rows.items()}
    else:
        classes, given, pool, layout = _from_folders(root)
    if len(classes) < 2:
        found = f" ({', '.join(classes)})" if classes else ""
        raise VideolensError(f"{path}: found {len(classes)} class{'es' if len(classes) != 1 else ''}{found}; "
                             f"action recognition needs at least 2")
    if given is None:
        train, val = stratified_split(pool, val_fraction, seed)
        test, source = [], "seeded"
    else:
        train, test = given.get("train", []), given.get("test", [])
        if given.get("val"):
            val, source = given["val"], "given"
        else:
            train, val = stratified_split(train, val_fraction, seed)
            source = "val from train"
    skipped: list[tuple[str, str]] = []
    if check:
        everything = train + val + test
        if not everything:
            raise VideolensError(f"{path}: no videos found")
        good, skipped = probe_samples(everything, min_frames=min_frames, quiet=quiet)
        keep = set(good)
        train, val, test = ([s for s in split if s in keep] for split in (train, val, test))
        for p, reason in skipped:
            warnings.warn(f"skipping {p}: {reason}", stacklevel=2)
    return ActionDataset(str(path), layout, list(classes), train, val, test, source, skipped)


__all__ = ["ActionDataset", "Sample", "load_dataset", "probe_samples", "stratified_split"]
