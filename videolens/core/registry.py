"""One registry type for everything a user picks by name: models, shot detectors, object detectors, trackers and
analyzers (timm's registry: ``--model NAME`` is a lookup, not a chain of ifs).

An entry is a factory (a class or a function) or a ``"module:attr"`` string that is imported on first use, so a
registry of heavy parts costs nothing until one of them is picked. Every registry answers an unknown name with the
same one-line error, naming what was asked for and what there is.

>>> TRACKERS = Registry("tracker", option="--tracker")
>>> TRACKERS.register("sort", "videolens.track.sort:Sort")
>>> "sort" in TRACKERS, TRACKERS.names()
(True, ['sort'])
>>> TRACKERS.get("sortt")
Traceback (most recent call last):
...
videolens.core.registry.UnknownNameError: --tracker sortt: unknown tracker (did you mean sort?; choose from: sort)
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..errors import VideolensError

T = TypeVar("T", bound=Callable[..., Any])


class UnknownNameError(VideolensError, ValueError):
    """A name that no entry of a registry has (a user's mistake: one line, exit code 2)."""


@dataclass
class Entry(Generic[T]):
    """A registered name: its factory (or the ``"module:attr"`` that provides it) and free-form metadata."""

    name: str
    target: T | str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def module(self) -> str | None:
        """The videolens module that provides the factory (for "not installed" messages): ``meta["module"]``, else
        the module of a lazy ``"module:attr"`` target."""
        if self.meta.get("module"):
            return self.meta["module"]
        return self.target.partition(":")[0] if isinstance(self.target, str) else None

    def load(self) -> T:
        """The factory itself, importing its module on first use."""
        if isinstance(self.target, str):
            module, _, attr = self.target.partition(":")
            self.target = getattr(importlib.import_module(module), attr)
        return self.target


class Registry(Generic[T]):
    """Names -> factories, in registration order.

    ``kind`` names what is registered (``"tracker"``) and ``option`` the command-line option that picks it
    (``"--tracker"``); ``also`` says what else that option takes (``"a checkpoint file"``). They only shape the
    error message.
    """

    def __init__(self, kind: str, option: str | None = None, also: str | None = None):
        self.kind, self.option, self.also = kind, option, also
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, target: T | str | None = None, **meta: Any):
        """Register (or replace) ``name``. Without ``target`` it is a decorator: ``@REGISTRY.register("c3d")``."""
        if target is None:
            def decorate(obj: T) -> T:
                self._entries[name] = Entry(name, obj, meta)
                return obj

            return decorate
        self._entries[name] = Entry(name, target, meta)
        return None

    def unregister(self, name: str) -> None:
        """Forget ``name`` (a plugin or test that registered it cleans up); unknown names are ignored."""
        self._entries.pop(name, None)

    def entry(self, name: str) -> Entry[T]:
        """The entry of ``name``; an unknown name is a :class:`~videolens.errors.VideolensError`."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise self.unknown(name) from None

    def get(self, name: str) -> T:
        """The factory registered as ``name`` (imported now if it was registered as a string)."""
        return self.entry(name).load()

    def create(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``get(name)(*args, **kwargs)``."""
        return self.get(name)(*args, **kwargs)

    def names(self) -> list[str]:
        return list(self._entries)

    def entries(self) -> list[Entry[T]]:
        """Every entry, in registration order."""
        return list(self._entries.values())

    def unknown(self, name: object) -> UnknownNameError:
        """The error for a name nobody registered: the same shape in every registry."""
        names = self.names()
        close = difflib.get_close_matches(str(name), names, n=1)
        hint = f"did you mean {close[0]}?; " if close else ""
        where = f"{self.option} {name}" if self.option else repr(name)
        also = f", or {self.also}" if self.also else ""
        return UnknownNameError(f"{where}: unknown {self.kind} ({hint}choose from: {', '.join(names) or 'none'}{also})")

    def check(self, name: str) -> str:
        """``name`` if it is registered, else the error: an argparse ``type=`` that keeps the registry's message."""
        self.entry(name)
        return name

    # Mapping-like reading, so a registry reads like the dicts it replaces.
    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"
