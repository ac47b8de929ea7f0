"""The package graph points one way: a part imports only the parts below it (errors, utils and core at the bottom,
the CLI at the top), so there are no backward arrows and no cycles."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Lowest first: a module may import its own part and the parts before it, never one after it.
LAYERS = ["errors", "_version", "utils", "core", "io", "stream", "train", "track", "report", "datasets", "shots",
          "speech", "text", "classify", "detect", "people", "analyze", "live", "cli", "__main__", "__init__"]


def _part(module: str) -> str:
    """``videolens.detect.video`` -> ``detect``; the package root itself is ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """Every videolens module ``path`` imports, at the top or inside a function, with its line."""
    rel = path.relative_to(root).with_suffix("")
    package = list(rel.parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            if node.module is None:     # "from . import x": x is a module of that package, or one of its names
                pkg_dir = root.joinpath(*base)
                for a in node.names:
                    is_module = (pkg_dir / f"{a.name}.py").exists() or (pkg_dir / a.name).is_dir()
                    found.append((node.lineno, f"{target}.{a.name}" if is_module else target))
            else:
                found.append((node.lineno, target))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
    return [(line, t) for line, t in found if t == "videolens" or t.startswith("videolens.")]


def upward_imports(root: Path) -> list[str]:
    """``path:line (part) imports module (part)`` for each import against :data:`LAYERS` under ``root/videolens``."""
    bad = []
    for path in sorted((root / "videolens").rglob("*.py")):
        here = _part(".".join(path.relative_to(root).with_suffix("").parts))
        if here not in LAYERS:
            bad.append(f"{path.relative_to(root)}: part {here!r} has no place in LAYERS")
            continue
        for line, target in _imports(path, root):
            there = _part(target)
            if there != here and (there not in LAYERS or LAYERS.index(there) > LAYERS.index(here)):
                bad.append(f"{path.relative_to(root)}:{line} ({here}) imports {target} ({there})")
    return bad


def test_no_module_imports_a_part_above_its_own():
    bad = upward_imports(ROOT)
    assert not bad, "imports against the layering (see LAYERS):\n" + "\n".join(bad)


def test_the_check_catches_the_arrows_it_is_for(tmp_path):
    """A part importing analyze for the Analyzer class, track importing detect, the package root from a part."""
    def module(rel: str, text: str = "") -> None:
        p = tmp_path / "videolens" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")

    module("__init__.py", "from ._version import __version__\n")
    module("_version.py", "__version__ = '0'\n")
    module("analyze/__init__.py")
    module("analyze/base.py", "from ..core.analyzer import Analyzer\n")
    module("core/analyzer.py")
    module("detect/detectors.py")
    module("shots/detectors.py", "import numpy\nfrom ..analyze.base import Analyzer\n")
    module("track/sort.py", "def f():\n    from ..detect import detectors\n")
    module("speech/model.py", "from .. import __version__\n")
    assert upward_imports(tmp_path) == [
        "videolens/shots/detectors.py:2 (shots) imports videolens.analyze.base (analyze)",
        "videolens/speech/model.py:1 (speech) imports videolens (__init__)",
        "videolens/track/sort.py:2 (track) imports videolens.detect (detect)",
    ]


def test_core_imports_only_errors_and_utils():
    for path in sorted((ROOT / "videolens" / "core").rglob("*.py")):
        for line, target in _imports(path, ROOT):
            assert _part(target) in ("core", "errors", "utils"), f"{path}:{line} imports {target}"
