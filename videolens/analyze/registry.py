"""Analyzers by name: the registry ``videolens analyze`` builds its analyzers from, in run order.

A registered analyzer is one class (:class:`videolens.core.Analyzer`) and one :func:`register_analyzer` call: the
run builds it with its ``from_config``, places its result in the report under its ``report_section``, adds its
``summary`` to ``summary.csv`` and lets it ``write_files``. Built-in parts are registered as ``"module:Class"``
strings, so a part is imported only when it is used. When a part or its optional dependency is missing,
:func:`build_analyzers` skips that analyzer and records why and how to install it; everything else still runs.

>>> from videolens.analyze import AnalyzeConfig, build_analyzers
>>> analyzers, skipped = build_analyzers(["motion"], AnalyzeConfig())
>>> [a.name for a in analyzers], skipped
(['motion'], [])

Adding an analyzer::

    register_analyzer("brightness", Brightness, default=True)     # runs in every `videolens analyze`
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core.analyzer import Analyzer, MissingExtra
from ..core.registry import Entry, Registry
from ..errors import VideolensError

if TYPE_CHECKING:
    from .config import AnalyzeConfig

ANALYZERS: Registry = Registry("analyzer")
REGISTRY = ANALYZERS        # the name this registry had before the registries became one type


def register_analyzer(name: str, factory: type[Analyzer] | Callable[[AnalyzeConfig], Analyzer] | str, *,
                      module: str | None = None, extra: str | None = None, default: bool = False,
                      needs_audio: bool = False) -> None:
    """Register (or replace) analyzer ``name``; the registration order is the run order and the report's order.

    ``factory``: an :class:`~videolens.core.Analyzer` subclass (built with ``from_config(config)``), a function
    ``config -> Analyzer``, or ``"module:attr"`` for either. ``module``: the videolens module that provides it
    and ``extra``: the pip extra that brings its optional dependencies (both for the "not analyzed" note).
    ``default``: runs unless the configuration turns it off; ``needs_audio``: by default only when the video has
    audio.
    """
    from .config import SETTINGS

    if name in SETTINGS:
        raise ValueError(f"an analyzer cannot be named {name!r}: AnalyzeConfig.{name} is a setting, not a switch")
    ANALYZERS.register(name, factory, module=module, extra=extra, default=default, needs_audio=needs_audio)


register_analyzer("shots", "videolens.shots.detect:AutoDetector", default=True)
register_analyzer("faces", "videolens.detect.analyzers:FacesAnalyzer", default=True)
register_analyzer("people", "videolens.people.analyzer:PeopleAnalyzer", default=True, extra="people")
register_analyzer("objects", "videolens.detect.analyzers:ObjectsAnalyzer")
register_analyzer("actions", "videolens.classify.analyzer:ActionsAnalyzer")
register_analyzer("speech", "videolens.speech.analyzer:SpeechAnalyzer", default=True, needs_audio=True,
                  extra="speech")
register_analyzer("motion", "videolens.analyze.motion:MotionAnalyzer", default=True)
register_analyzer("text", "videolens.text.analyzer:TextAnalyzer", extra="text")


def skip_record(name: str, reason: str, install: str | None = None) -> dict:
    """One entry of the report's ``analyzers.skipped`` list."""
    return {"name": name, "reason": reason, "install": install}


def load_plugin(spec: str):
    """``"package.module:Name"`` -> that class (or factory taking the config); a clear error if it is not there."""
    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise VideolensError(f"--analyzer {spec}: expected MODULE:CLASS, such as mypackage.analyzers:Brightness")
    try:
        target = getattr(importlib.import_module(module), attr)
    except ImportError as e:
        raise VideolensError(f"--analyzer {spec}: cannot import {module} ({e})") from None
    except AttributeError:
        raise VideolensError(f"--analyzer {spec}: {module} has no {attr}") from None
    if not callable(target):
        raise VideolensError(f"--analyzer {spec}: {attr} is not a class or a function")
    return target


def build(target: Any, config: AnalyzeConfig) -> Analyzer:
    """An analyzer from a registered class (its ``from_config``) or factory function."""
    if isinstance(target, type) and issubclass(target, Analyzer):
        return target.from_config(config)
    return target(config)


def _skip_for_import_error(entry: Entry, e: ImportError) -> dict:
    missing = getattr(e, "name", None) or ""
    module = entry.module
    if module and (missing == module or module.startswith(missing + ".") or missing.startswith(module)):
        return skip_record(entry.name, f"not in this installation of videolens ({module} is missing or "
                                       f"incomplete)", "pip install --upgrade videolens")
    package = missing.split(".")[0] or str(e)
    extra = entry.meta.get("extra")
    return skip_record(entry.name, f"needs {package}", f"pip install 'videolens[{extra}]'" if extra
                       else f"pip install {package}")


def build_registered(names: list[str], config: AnalyzeConfig) -> tuple[list[Analyzer], list[dict]]:
    """Build the named registered analyzers; returns ``(analyzers, skipped)``.

    An analyzer is skipped, with a record of why and how to fix it, when its part of videolens is not installed or
    an optional package it needs is missing (``MissingExtra`` or an ImportError), and for nothing else: any other
    error (a bad model path, say) propagates, since it is the user's to fix.
    """
    analyzers: list[Analyzer] = []
    skipped: list[dict] = []
    for name in names:
        entry = ANALYZERS.entry(name)
        try:
            target = entry.load()
            missing = [r for r in getattr(target, "requires", ()) if r not in {a.name for a in analyzers}]
            if missing:
                skipped.append(skip_record(name, _requirement_reason(missing, names, skipped, config)))
                continue
            analyzer = build(target, config)
            analyzer.name = name        # the registered name is its name in the run and the report
            analyzers.append(analyzer)
        except MissingExtra as e:
            skipped.append(skip_record(name, f"needs {e.package}", e.install))
        except ImportError as e:
            skipped.append(_skip_for_import_error(entry, e))
    bind_analyzers(analyzers)
    return analyzers, skipped


def _requirement_reason(missing: list[str], names: list[str], skipped: list[dict], config: AnalyzeConfig) -> str:
    """Why an analyzer that follows others (``requires``) cannot run: which one is off or skipped."""
    parts = []
    for r in missing:
        why = next((s["reason"] for s in skipped if s["name"] == r), None)
        if why:
            parts.append(f"the {r} analyzer it follows was skipped ({why})")
        elif r not in names:
            parts.append(f"it follows the {r} analyzer, which is turned off (--no-{r})")
        else:
            parts.append(f"it follows the {r} analyzer, which must run before it")
    return "; ".join(parts)


def bind_analyzers(analyzers: list[Analyzer]) -> None:
    """Give each analyzer that ``requires`` others those analyzers (``bind({name: analyzer})``), so that it can
    follow their results in the same pass (the ``people`` analyzer follows ``faces``)."""
    by_name = {a.name: a for a in analyzers}
    for a in analyzers:
        needs = getattr(a, "requires", ())
        if needs:
            a.bind({n: by_name[n] for n in needs if n in by_name})


def build_plugins(plugins: tuple[str, ...], config: AnalyzeConfig) -> list[Analyzer]:
    """``--analyzer MODULE:CLASS`` analyzers (a class is built with no arguments, a function with the config)."""
    out = []
    for spec in plugins:
        target = load_plugin(spec)
        out.append(target() if isinstance(target, type) else target(config))
    return out


def build_analyzers(names: list[str], config: AnalyzeConfig, plugins: tuple[str, ...] = ()
                    ) -> tuple[list[Analyzer], list[dict]]:
    """Build the named analyzers and ``"module:Name"`` plugins; returns ``(analyzers, skipped)``."""
    analyzers, skipped = build_registered(names, config)
    return analyzers + build_plugins(plugins, config), skipped


def layout(entry: Entry) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """Where a registered analyzer's result goes in a report, run or not: ``(section, copies, summary_keys)``."""
    try:
        target = entry.load()
    except ImportError:
        return entry.name, (), ()
    if isinstance(target, type) and issubclass(target, Analyzer):
        return target.report_section or entry.name, tuple(target.report_copies), tuple(target.summary_keys)
    return entry.name, (), ()
