"""Detection datasets: COCO JSON, YOLO txt and Pascal VOC XML, read into one list of images with boxes.

``load_dataset(path, split)`` finds the format itself:

- a ``.json`` file, or a folder holding one COCO file (``annotations.json``, ``_annotations.coco.json``...);
- a YOLO ``data.yaml`` (``path``, ``train``, ``val``, ``test``, ``names``), or a folder with ``images/`` and
  ``labels/`` (class names in ``classes.txt`` or ``data.yaml``);
- a folder of Pascal VOC ``.xml`` files beside their images (or ``Annotations/`` + ``JPEGImages/``); class
  names from a ``label_map.pbtxt`` / ``classes.txt`` in the folder or its parent, else every name found, sorted.

A folder with ``train/`` and ``val/`` (or ``test/``) subfolders is read split by split. Problems in the labels are
fixed where that is safe and counted: boxes outside the image are clipped, boxes that end up thinner than one pixel
are dropped, objects of a class outside the class list are skipped (``strict=True`` makes that an error), and an
unreadable annotation or image file is skipped with its name (an error with ``strict=True``).

>>> ds = load_dataset("../shared/data/detection/TraPedesVeh", "train")       # doctest: +SKIP
>>> len(ds), ds.class_names[:2], ds.issues_summary()                        # doctest: +SKIP
(184, ['Traffic sign', 'bicycle'], "skipped 1 box of a class not in the class list ('truck' x1)")
"""

from __future__ import annotations

import ast
import json
import os
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import VideolensError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
SPLIT_NAMES = {"train": ("train", "training"), "val": ("val", "valid", "validation", "test"),
               "test": ("test", "val", "valid", "validation")}


@dataclass
class Sample:
    """One image and its boxes (``x1, y1, x2, y2`` pixels, class indices into the dataset's class list)."""

    path: str
    width: int
    height: int
    boxes: np.ndarray          # (N, 4) float32
    labels: np.ndarray         # (N,) int64
    image_id: int = 0
    crowd: np.ndarray | None = None   # (N,) bool: COCO iscrowd (ignored in evaluation, not trained on)


@dataclass
class DetectionDataset:
    """A list of :class:`Sample` s with the class names, the format it came from, and what was fixed on the way."""

    samples: list[Sample]
    class_names: list[str]
    root: str
    format: str
    issues: Counter = field(default_factory=Counter)        # kind -> count
    unknown_classes: Counter = field(default_factory=Counter)
    skipped_files: list[str] = field(default_factory=list)   # "file: reason"

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> Sample:
        return self.samples[i]

    @property
    def num_boxes(self) -> int:
        return int(sum(len(s.boxes) for s in self.samples))

    def subset(self, indices) -> DetectionDataset:
        return DetectionDataset([self.samples[i] for i in indices], self.class_names, self.root, self.format)

    def split(self, val_fraction: float = 0.1, seed: int = 0) -> tuple[DetectionDataset, DetectionDataset]:
        """A seeded random split into (train, val)."""
        n = len(self)
        order = np.random.default_rng(seed).permutation(n)
        n_val = min(max(1, int(round(n * val_fraction))), n - 1) if n > 1 else 0
        return self.subset(sorted(order[n_val:].tolist())), self.subset(sorted(order[:n_val].tolist()))

    def issues_summary(self) -> str:
        """One line on what was fixed or skipped, or ``""``."""
        parts = []
        if self.unknown_classes:
            n = sum(self.unknown_classes.values())
            names = ", ".join(f"{k!r} x{v}" for k, v in self.unknown_classes.most_common(5))
            parts.append(f"skipped {n} box{'es' if n != 1 else ''} of a class not in the class list ({names})")
        if self.issues.get("clipped"):
            parts.append(f"clipped {self.issues['clipped']} box(es) to the image")
        if self.issues.get("degenerate"):
            parts.append(f"dropped {self.issues['degenerate']} degenerate box(es) (under 1 px)")
        if self.issues.get("bad_lines"):
            parts.append(f"skipped {self.issues['bad_lines']} malformed label line(s)")
        if self.skipped_files:
            parts.append(f"skipped {len(self.skipped_files)} file(s): {'; '.join(self.skipped_files[:3])}")
        return "; ".join(parts)

    def to_coco(self) -> dict:
        """The ground truth as a COCO dict (category ids are class index + 1), for :func:`evaluate`."""
        images, anns = [], []
        for k, s in enumerate(self.samples):
            images.append({"id": k + 1, "file_name": s.path, "width": s.width, "height": s.height})
            for j, (b, c) in enumerate(zip(s.boxes.tolist(), s.labels.tolist())):
                w, h = b[2] - b[0], b[3] - b[1]
                crowd = int(bool(s.crowd[j])) if s.crowd is not None else 0
                anns.append({"id": len(anns) + 1, "image_id": k + 1, "category_id": int(c) + 1,
                             "bbox": [b[0], b[1], w, h], "area": w * h, "iscrowd": crowd})
        cats = [{"id": i + 1, "name": n} for i, n in enumerate(self.class_names)]
        return {"images": images, "annotations": anns, "categories": cats}


# ---- shared helpers ---------------------------------------------------------------------------------------------


class _Builder:
    """Collects samples, fixing and counting box problems the same way for every format."""

    def __init__(self, root: str, fmt: str, class_names: list[str] | None, strict: bool):
        self.root, self.fmt, self.strict = root, fmt, strict
        self.fixed_classes = class_names is not None
        self.class_names = list(class_names or [])
        self.index = {n: i for i, n in enumerate(self.class_names)}
        self.samples: list[Sample] = []
        self.issues: Counter = Counter()
        self.unknown: Counter = Counter()
        self.skipped: list[str] = []

    def class_of(self, name: str, where: str) -> int | None:
        name = str(name).strip()
        if name in self.index:
            return self.index[name]
        if not self.fixed_classes:
            self.index[name] = len(self.class_names)
            self.class_names.append(name)
            return self.index[name]
        if self.strict:
            raise VideolensError(f"{where}: class {name!r} is not in the class list ({', '.join(self.class_names)})")
        self.unknown[name] += 1
        return None

    def skip(self, path: str, reason: str) -> None:
        if self.strict:
            raise VideolensError(f"{path}: {reason}")
        self.skipped.append(f"{path}: {reason}")

    def add(self, path: str, width: int, height: int, boxes: list, labels: list, crowd: list | None = None) -> None:
        b = np.asarray(boxes, np.float64).reshape(-1, 4)
        lab = np.asarray(labels, np.int64).reshape(-1)
        cr = np.asarray(crowd if crowd is not None else [False] * len(lab), bool).reshape(-1)
        if len(b):
            fixed = b.copy()
            # Reversed corners (x2 < x1) are a labelling slip, not a degenerate box: put them in order.
            fixed[:, [0, 2]] = np.sort(fixed[:, [0, 2]], axis=1)
            fixed[:, [1, 3]] = np.sort(fixed[:, [1, 3]], axis=1)
            clipped = np.clip(fixed, 0, [width, height, width, height])
            self.issues["clipped"] += int(np.any(np.abs(clipped - fixed) > 1e-6, axis=1).sum())
            ok = ((clipped[:, 2] - clipped[:, 0]) >= 1) & ((clipped[:, 3] - clipped[:, 1]) >= 1) \
                & np.all(np.isfinite(clipped), axis=1)
            self.issues["degenerate"] += int((~ok).sum())
            b, lab, cr = clipped[ok], lab[ok], cr[ok]
        self.samples.append(Sample(path, int(width), int(height), b.astype(np.float32), lab, len(self.samples) + 1,
                                   cr if cr.any() else None))

    def build(self) -> DetectionDataset:
        if not self.samples:
            detail = f" ({self.skipped[0]})" if self.skipped else ""
            raise VideolensError(f"{self.root}: no usable images with annotations found{detail}")
        if not self.class_names:
            raise VideolensError(f"{self.root}: no class names found")
        return DetectionDataset(self.samples, self.class_names, self.root, self.fmt, self.issues, self.unknown,
                                self.skipped)


def image_size(path: str) -> tuple[int, int]:
    """``(width, height)`` of an image as it is shown (EXIF rotation applied), reading only its header."""
    from PIL import Image

    with Image.open(path) as im:
        w, h = im.size
        try:
            orientation = im.getexif().get(0x0112, 1)
        except Exception:  # noqa: BLE001 - broken EXIF is not a broken image
            orientation = 1
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _checked_size(b: _Builder, path: str) -> tuple[int, int] | None:
    if not os.path.isfile(path):
        b.skip(path, "image file not found")
        return None
    try:
        return image_size(path)
    except Exception as e:  # noqa: BLE001 - PIL raises many kinds for a broken file
        b.skip(path, f"not a readable image ({type(e).__name__})")
        return None


def _read_names_file(path: Path) -> list[str] | None:
    """Class names from ``label_map.pbtxt`` (TF object detection), ``classes.txt`` or ``*.names``."""
    if path.suffix == ".pbtxt":
        text = path.read_text(encoding="utf-8", errors="replace")
        items = []
        for block in re.findall(r"item\s*\{(.*?)\}", text, flags=re.S):
            name = re.search(r"\bname\s*:\s*[\"'](.*?)[\"']", block)
            ident = re.search(r"\bid\s*:\s*(\d+)", block)
            if name:
                items.append((int(ident.group(1)) if ident else len(items), name.group(1)))
        return [n for _, n in sorted(items)] or None
    names = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    return [n for n in names if n] or None


def _find_names(folder: Path) -> tuple[list[str] | None, Path | None]:
    for d in (folder, folder.parent):
        for name in ("label_map.pbtxt", "classes.txt", "obj.names", "classes.names"):
            if (d / name).is_file():
                return _read_names_file(d / name), d / name
    return None, None


# ---- COCO -------------------------------------------------------------------------------------------------------


def _coco_image_path(json_path: Path, file_name: str) -> str:
    base = json_path.parent
    for cand in (base / file_name, base / "images" / file_name, base.parent / "images" / file_name,
                 base / Path(file_name).name):
        if cand.is_file():
            return str(cand)
    return str(base / file_name)


def _load_coco(path: Path, class_names: list[str] | None, strict: bool) -> DetectionDataset:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise VideolensError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
        raise VideolensError(f"{path}: not a COCO annotation file (needs 'images' and 'annotations')")
    # Valid JSON of the wrong shape would otherwise fail below as KeyError/TypeError tracebacks.
    for key, need in (("images", ("id",)), ("annotations", ()), ("categories", ("id", "name"))):
        items = data.get(key) or []
        if not isinstance(items, list) or not all(isinstance(x, dict) and all(k in x for k in need) for x in items):
            raise VideolensError(f"{path}: not a COCO annotation file ('{key}' must be a list of objects"
                                 + (f" with {', '.join(repr(k) for k in need)}" if need else "") + ")")
    try:
        cats = sorted(data.get("categories") or [], key=lambda c: c["id"])
    except TypeError:
        raise VideolensError(f"{path}: not a COCO annotation file (category ids of mixed types)") from None
    names = class_names or [str(c["name"]) for c in cats]
    b = _Builder(str(path), "coco", names, strict)
    cat_name = {c["id"]: str(c["name"]) for c in cats}
    by_image: dict = {}
    for a in data["annotations"]:
        by_image.setdefault(a.get("image_id"), []).append(a)
    for im in data["images"]:
        if "frame_index" in im and str(im.get("file_name", "")).lower().endswith((".mp4", ".mkv", ".avi", ".mov")):
            raise VideolensError(f"{path}: annotates video frames; train on its image set (e.g. images/"
                                 "annotations.json of the objects dataset)")
        img_path = _coco_image_path(path, str(im.get("file_name", "")))
        size = _checked_size(b, img_path)
        if size is None:
            continue
        boxes, labels, crowd = [], [], []
        for a in by_image.get(im["id"], []):
            try:
                x, y, w, h = (float(v) for v in a["bbox"])
            except (KeyError, TypeError, ValueError):
                b.issues["bad_lines"] += 1
                continue
            k = b.class_of(cat_name.get(a.get("category_id"), str(a.get("category_id"))), f"{path} ({img_path})")
            if k is None:
                continue
            boxes.append([x, y, x + w, y + h])
            labels.append(k)
            crowd.append(bool(a.get("iscrowd", 0)))
        b.add(img_path, size[0], size[1], boxes, labels, crowd)
    return b.build()


# ---- YOLO -------------------------------------------------------------------------------------------------------


def _yolo_names(value) -> list[str]:
    if isinstance(value, dict):
        return [str(value[k]) for k in sorted(value, key=int)]
    return [str(v) for v in value]


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def _label_path(img: Path) -> Path:
    # Ultralytics' rule: the last "images" folder in the path becomes "labels", the extension becomes .txt.
    parts = list(img.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts).with_suffix(".txt")
    return img.with_suffix(".txt")


def _load_yolo(images: list[Path], root: str, names: list[str], strict: bool) -> DetectionDataset:
    b = _Builder(root, "yolo", names, strict)
    for img in images:
        size = _checked_size(b, str(img))
        if size is None:
            continue
        w, h = size
        boxes, labels = [], []
        label = _label_path(img)
        if label.is_file():
            for n, line in enumerate(label.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                fields = line.split()
                if not fields:
                    continue
                try:
                    cls = int(float(fields[0]))
                    cx, cy, bw, bh = (float(v) for v in fields[1:5])
                    if len(fields) < 5:
                        raise ValueError
                except ValueError:
                    if strict:
                        raise VideolensError(f"{label}:{n}: expected 'class cx cy w h', got {line.strip()!r}") \
                            from None
                    b.issues["bad_lines"] += 1
                    continue
                if not 0 <= cls < len(names):
                    if strict:
                        raise VideolensError(f"{label}:{n}: class id {cls} is outside 0..{len(names) - 1} "
                                             f"({', '.join(names)})")
                    b.unknown[f"id {cls}"] += 1
                    continue
                boxes.append([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h])
                labels.append(cls)
        b.add(str(img), w, h, boxes, labels)
    return b.build()


def _yolo_from_yaml(path: Path, split: str, class_names, strict: bool) -> DetectionDataset:
    import yaml

    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise VideolensError(f"{path}: not a YAML text file ({e.reason} at byte {e.start})") from None
    except yaml.YAMLError as e:
        raise VideolensError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("names"), (dict, list)):
        raise VideolensError(f"{path}: a YOLO data.yaml needs 'names' (a list or a mapping) and 'train'/'val' "
                             "entries")
    if not isinstance(cfg.get("path") or "", str):
        raise VideolensError(f"{path}: 'path' must be a folder name, not {cfg['path']!r}")
    base = Path(cfg.get("path") or path.parent)
    if not base.is_absolute():
        base = (path.parent / base).resolve()
    key = next((k for k in SPLIT_NAMES[split] if cfg.get(k)), None)
    if key is None:
        raise VideolensError(f"{path}: no '{split}' split")
    entries = cfg[key] if isinstance(cfg[key], list) else [cfg[key]]
    if not all(isinstance(e, str) for e in entries):
        raise VideolensError(f"{path}: split '{key}' must be a folder or list file name, or a list of them")
    images: list[Path] = []
    for e in entries:
        p = Path(e) if Path(e).is_absolute() else base / e
        if p.is_dir():
            images += _images_in(p)
        elif p.is_file() and p.suffix == ".txt":
            images += [Path(line.strip()) if Path(line.strip()).is_absolute() else base / line.strip()
                       for line in p.read_text().splitlines() if line.strip()]
        else:
            raise VideolensError(f"{path}: split '{key}' points at {p}, which does not exist")
    return _load_yolo(images, str(path), class_names or _yolo_names(cfg["names"]), strict)


# ---- entry point (Pascal VOC files: videolens.detect.voc) ----------------------------------------------------------


def _split_dir(root: Path, split: str) -> Path | None:
    for name in SPLIT_NAMES[split]:
        if (root / name).is_dir():
            return root / name
    return None


def _coco_file(folder: Path) -> Path | None:
    for name in ("annotations.json", "_annotations.coco.json", "instances.json", "coco.json"):
        if (folder / name).is_file():
            return folder / name
    jsons = sorted(folder.glob("*.json"))
    return jsons[0] if len(jsons) == 1 else None


def has_splits(path: str | os.PathLike) -> bool:
    """True when ``path`` is a folder with train and val/test subfolders, or a YOLO yaml with a val split."""
    p = Path(path)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        import yaml

        try:
            cfg = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError):    # not a usable yaml: loading it later says why
            return False
        return isinstance(cfg, dict) and any(cfg.get(k) for k in SPLIT_NAMES["val"])
    if p.is_dir() and (p / "data.yaml").is_file():
        return has_splits(p / "data.yaml")
    return p.is_dir() and _split_dir(p, "train") is not None and _split_dir(p, "val") is not None


def load_dataset(path: str | os.PathLike, split: str | None = None, *, class_names: list[str] | None = None,
                 strict: bool = False) -> DetectionDataset:
    """Read a detection dataset (COCO, YOLO or VOC; see the module docstring).

    ``split`` (``train``, ``val`` or ``test``) picks a subfolder or a YOLO yaml entry; None reads ``path`` as one
    set. ``class_names`` fixes the class list (objects of other classes are skipped and counted).
    """
    p = Path(path)
    if not p.exists():
        raise VideolensError(f"{p}: no such file or folder")
    if split is not None and split not in SPLIT_NAMES:
        raise ValueError(f"split must be train, val or test, not {split!r}")
    if p.is_file():
        if p.suffix == ".json":
            return _load_coco(p, class_names, strict)
        if p.suffix in (".yaml", ".yml"):
            return _yolo_from_yaml(p, split or "train", class_names, strict)
        raise VideolensError(f"{p}: not a dataset (expected a COCO .json, a YOLO .yaml or a folder)")
    if (p / "data.yaml").is_file():
        return _yolo_from_yaml(p / "data.yaml", split or "train", class_names, strict)
    if split is not None:
        sub = _split_dir(p, split)
        if sub is not None:
            if class_names is None:
                class_names, _ = _find_names(p)
                if class_names is None:
                    class_names = _scan_names(p)
            return load_dataset(sub, None, class_names=class_names, strict=strict)
    coco = _coco_file(p)
    if coco is not None:
        return _load_coco(coco, class_names, strict)
    xmls = sorted(p.glob("*.xml")) or sorted((p / "Annotations").glob("*.xml"))
    if xmls:
        if class_names is None:
            class_names, _ = _find_names(p)
        from .voc import load_voc

        return load_voc(xmls, str(p), class_names, strict)
    if (p / "images").is_dir():
        names = class_names
        if names is None:
            found, _ = _find_names(p)
            names = found
        if names is None:
            raise VideolensError(f"{p}: YOLO layout without class names (add classes.txt or a data.yaml)")
        return _load_yolo(_images_in(p / "images"), str(p), names, strict)
    if _split_dir(p, "train") is not None:
        return load_dataset(p, "train", class_names=class_names, strict=strict)
    raise VideolensError(f"{p}: no COCO .json, YOLO images/+labels/ or Pascal VOC .xml files found")


def _scan_names(root: Path) -> list[str] | None:
    """Class names of a split VOC dataset without a label map: every name in any split, sorted."""
    names: set[str] = set()
    xmls = [x for d in root.iterdir() if d.is_dir() for x in d.glob("*.xml")]
    if not xmls:
        return None
    for x in xmls:
        try:
            names |= {(o.findtext("name") or "").strip() for o in ET.parse(x).getroot().iter("object")}
        except ET.ParseError:
            continue
    return sorted(n for n in names if n) or None


def parse_names_literal(text: str) -> list[str]:
    """Class names from Ultralytics' ``names`` metadata, a Python dict literal such as ``{0: 'person'}``."""
    value = ast.literal_eval(text)
    return _yolo_names(value)
