"""Pascal VOC annotations (one XML file per image) for :func:`videolens.detect.data.load_dataset`."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from .data import IMAGE_EXTENSIONS, DetectionDataset, _Builder, _checked_size


def _voc_image(xml_path: Path, filename: str | None) -> Path | None:
    folder = xml_path.parent
    cands = []
    if filename:
        cands += [folder / filename, folder.parent / "JPEGImages" / filename, folder.parent / "images" / filename]
    for ext in IMAGE_EXTENSIONS + tuple(e.upper() for e in IMAGE_EXTENSIONS):
        cands += [xml_path.with_suffix(ext), folder.parent / "JPEGImages" / (xml_path.stem + ext)]
    return next((c for c in cands if c.is_file()), None)


def load_voc(xmls: list[Path], root: str, class_names: list[str] | None, strict: bool) -> DetectionDataset:
    b = _Builder(root, "voc", class_names, strict)
    for xml_path in xmls:
        try:
            tree = ET.parse(xml_path).getroot()
        except ET.ParseError as e:
            b.skip(str(xml_path), f"not valid XML ({e})")
            continue
        if tree.tag != "annotation":
            b.skip(str(xml_path), f"not a Pascal VOC annotation (root element <{tree.tag}>)")
            continue
        img = _voc_image(xml_path, (tree.findtext("filename") or "").strip() or None)
        if img is None:
            b.skip(str(xml_path), "no image file found for this annotation")
            continue
        size = _checked_size(b, str(img))
        if size is None:
            continue
        boxes, labels = [], []
        for obj in tree.iter("object"):
            bb = obj.find("bndbox")
            try:
                box = [float(bb.findtext(t)) for t in ("xmin", "ymin", "xmax", "ymax")]
            except (AttributeError, TypeError, ValueError):
                b.issues["bad_lines"] += 1
                continue
            k = b.class_of(obj.findtext("name") or "", str(xml_path))
            if k is None:
                continue
            # VOC numbers pixels from 1 and makes xmax inclusive; labelImg writes 0-based corners. Keep the
            # numbers as they are: the difference is below a pixel and the tools disagree.
            boxes.append(box)
            labels.append(k)
        b.add(str(img), size[0], size[1], boxes, labels)
    if class_names is None:
        # Classes found by scanning: sort them so the order does not depend on file order.
        order = sorted(range(len(b.class_names)), key=lambda i: b.class_names[i])
        remap = np.argsort(order)
        b.class_names = [b.class_names[i] for i in order]
        for s in b.samples:
            s.labels = remap[s.labels].astype(np.int64)
    return b.build()
