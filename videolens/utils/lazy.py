"""Public names that import their module on first use (PEP 562), so `import videolens` and `videolens --help` stay
light: torch and friends load only when a name that needs them is touched."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_exports(package: str, names: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: each name in ``names`` comes from the module it maps to.

    >>> __getattr__, __dir__ = lazy_exports(__name__, {"VideoReader": "videolens.io.reader"})  # in an __init__.py
    """

    def __getattr__(name: str):
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)      # the next access skips this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(names) | set(vars(sys.modules[package])))

    return __getattr__, __dir__
