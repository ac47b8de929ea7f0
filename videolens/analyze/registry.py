"""Analyzers by name: one factory per analyzer, each importing its part of videolens only when it is built.

A factory takes the run's :class:`~videolens.analyze.pipeline.AnalyzeConfig` and returns a ready analyzer. When a
part or its optional dependency is missing, :func:`build_analyzers` skips that analyzer and records why and how to
install it, so the report can say so; everything else still runs.

>>> from videolens.analyze import AnalyzeConfig, build_analyzers
>>> analyzers, skipped = build_analyzers(["motion"], AnalyzeConfig())
>>> [a.name for a in analyzers], skipped
(['motion'], [])

Adding an analyzer means writing one class and registering a factory for it::

    register_analyzer("brightness", lambda config: Brightness(stride=config.stride or 5))
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import VideolensError
from .base import Analyzer, MissingExtra

if TYPE_CHECKING:
    from .pipeline import AnalyzeConfig


@dataclass(frozen=True)
class AnalyzerEntry:
    """A registered analyzer: how to build it, and what to tell the user when it cannot be built."""

    name: str
    factory: Callable[[AnalyzeConfig], Analyzer]
    module: str | None = None     # the videolens module that provides it (checked lazily)
    extra: str | None = None      # the pip extra that brings its optional dependencies


REGISTRY: dict[str, AnalyzerEntry] = {}

# The order analyzers are built and run in (and the order of report sections).
ORDER = ("shots", "faces", "objects", "actions", "speech", "motion")


def register_analyzer(name: str, factory: Callable[[AnalyzeConfig], Analyzer], *, module: str | None = None,
                      extra: str | None = None) -> None:
    """Register (or replace) the factory for analyzer ``name``."""
    REGISTRY[name] = AnalyzerEntry(name, factory, module, extra)


def _shots(config: AnalyzeConfig) -> Analyzer:
    from ..shots import make_detector

    # Shot boundaries are frame-exact only on every frame: --stride does not apply.
    return make_detector("auto", device=config.device)


def _faces(config: AnalyzeConfig) -> Analyzer:
    from ..detect import FacesAnalyzer

    stride = {"stride": config.stride} if config.stride else {}     # else the analyzer's own default
    # One detector thread, in the background while decoding goes on; a run limited to one thread (a Ray worker,
    # --jobs N) detects in line instead, so it really uses one core.
    return FacesAnalyzer(device=config.device, threads=config.threads or 1, background=config.threads != 1, **stride)


def _objects(config: AnalyzeConfig) -> Analyzer:
    from ..detect import ObjectsAnalyzer

    return ObjectsAnalyzer(config.objects, tracker=config.tracker, device=config.device, stride=config.stride or 1)


def _actions(config: AnalyzeConfig) -> Analyzer:
    from ..classify import ActionsAnalyzer

    return ActionsAnalyzer(config.actions, device=config.device)


def _speech(config: AnalyzeConfig) -> Analyzer:
    from ..speech import SpeechAnalyzer

    return SpeechAnalyzer(device=config.device)


def _motion(config: AnalyzeConfig) -> Analyzer:
    from .motion import MotionAnalyzer

    return MotionAnalyzer(stride=config.stride or 1)


register_analyzer("shots", _shots, module="videolens.shots")
register_analyzer("faces", _faces, module="videolens.detect")
register_analyzer("objects", _objects, module="videolens.detect")
register_analyzer("actions", _actions, module="videolens.classify")
register_analyzer("speech", _speech, module="videolens.speech", extra="speech")
register_analyzer("motion", _motion, module="videolens.analyze.motion")


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


def build_analyzers(names: list[str], config: AnalyzeConfig, plugins: tuple[str, ...] = ()
                    ) -> tuple[list[Analyzer], list[dict]]:
    """Build the named analyzers (and ``"module:Name"`` plugins); returns ``(analyzers, skipped)``.

    An analyzer is skipped, with a record of why and how to fix it, when its part of videolens is not installed,
    when an optional package it needs is missing (``MissingExtra`` or an ImportError), and nothing else: any
    other error (a bad model path, say) propagates, since it is the user's to fix.
    """
    analyzers: list[Analyzer] = []
    skipped: list[dict] = []
    for name in names:
        entry = REGISTRY.get(name)
        if entry is None:
            raise ValueError(f"unknown analyzer {name!r} (known: {', '.join(sorted(REGISTRY))})")
        try:
            analyzers.append(entry.factory(config))
        except MissingExtra as e:
            skipped.append(skip_record(name, f"needs {e.package}", f"pip install 'videolens[{e.extra}]'"))
        except ImportError as e:
            missing = getattr(e, "name", None) or ""
            if entry.module and (missing == entry.module or entry.module.startswith(missing + ".")
                                 or missing.startswith(entry.module)):
                skipped.append(skip_record(name, f"not in this installation of videolens ({entry.module} is "
                                                 f"missing or incomplete)", "pip install --upgrade videolens"))
            else:
                package = missing.split(".")[0] or str(e)
                install = f"pip install 'videolens[{entry.extra}]'" if entry.extra else f"pip install {package}"
                skipped.append(skip_record(name, f"needs {package}", install))
    for spec in plugins:
        target = load_plugin(spec)
        takes_config = not isinstance(target, type)
        analyzers.append(target(config) if takes_config else target())
    return analyzers, skipped


def result_dict(result: Any) -> dict:
    """An analyzer's result as the JSON-able dict the report stores (``to_dict()``, a dict, or a dataclass)."""
    if hasattr(result, "to_dict"):
        return result.to_dict()
    if isinstance(result, dict):
        return result
    import dataclasses

    if dataclasses.is_dataclass(result):
        return dataclasses.asdict(result)
    raise TypeError(f"an analyzer result must have to_dict() or be a dict, not {type(result).__name__}")
