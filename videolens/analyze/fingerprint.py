"""The fingerprint of an analysis: everything that shapes a report, so that ``analyze --resume`` redoes a video
whose report was made otherwise.

``parts`` holds, as plain JSON values:

- ``videolens``: the version that wrote the report;
- ``settings``: the :class:`~videolens.analyze.AnalyzeConfig` fields that change a report and are not visible in the
  analyzers themselves (``stride``, ``tracker``, ``annotated_video``, ``proxy``). ``device`` and ``threads`` change
  how fast, not what, and are left out;
- ``analyzers``: each analyzer that ran, in run order: ``name``, ``size``, ``stride`` as built (before a video sets
  them), its plugin spec (``--analyzer MODULE:CLASS``) and its :meth:`~videolens.core.Analyzer.fingerprint`:
  settings and model files by content hash (``--objects`` and ``--actions`` files, the ShotNet and MTCNN weights
  that ship with videolens, the Whisper model folder);
- ``skipped``: the analyzers asked for that could not run (a missing extra: installing it changes the report).

``sha256`` is the hash of ``parts`` (JSON, sorted keys). No absolute path goes in: the same model elsewhere is the
same model.

>>> fp = fingerprint(AnalyzeConfig(), [], [], [])
>>> sorted(fp["parts"]), len(fp["sha256"])
(['analyzers', 'settings', 'skipped', 'videolens'], 64)
>>> changes({"settings": {"stride": None}}, {"settings": {"stride": 2}})
'settings.stride: None -> 2'
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .._version import __version__
from ..core.analyzer import Analyzer
from .config import AnalyzeConfig


def _size(size: Any) -> Any:
    return list(size) if isinstance(size, (tuple, list)) else size


def _jsonable(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), so a stored fingerprint compares equal."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def fingerprint(config: AnalyzeConfig, registered: list[Analyzer], plugins: list[Analyzer],
                skipped: list[dict]) -> dict:
    """The fingerprint of analyzing a video with ``config``: the analyzers built for it (``registered`` and
    ``plugins``, before ``start``) and the ``skipped`` records."""
    entries = []
    for a, plugin in [(a, None) for a in registered] + list(zip(plugins, config.plugins)):
        entry = {**a.fingerprint(), "name": a.name, "size": _size(a.size), "stride": int(a.stride)}
        if plugin:
            entry["plugin"] = plugin
        entries.append(entry)
    parts = _jsonable({
        "videolens": __version__,
        "settings": {"stride": config.stride, "tracker": config.tracker if config.objects else None,
                     "annotated_video": bool(config.annotated_video), "proxy": config.proxy},
        "analyzers": entries,
        "skipped": sorted({s["name"] for s in skipped}),
    })
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "parts": parts}


def _flat(value: Any, where: str, out: dict[str, Any]) -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; the analyzers list is keyed by analyzer name."""
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(v, f"{where}.{k}" if where else str(k), out)
    elif where == "analyzers" and isinstance(value, list):
        for a in value:
            out[f"analyzers.{a.get('name')}"] = "ran"
            _flat({k: v for k, v in a.items() if k != "name"}, f"analyzers.{a.get('name')}", out)
    else:
        out[where] = value
    return out


def _show(value: Any) -> str:
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return value[:8]       # a content hash
    text = json.dumps(value) if not isinstance(value, (str, type(None))) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def changes(old: dict, new: dict, most: int = 4) -> str:
    """What differs between two fingerprints' ``parts``, in a few words (``"analyzers.objects: added"``)."""
    a, b = _flat(old, "", {}), _flat(new, "", {})
    said, out = set(), []
    first = ("videolens", "settings", "skipped")     # causes before their effects on the analyzers
    keys = sorted(dict.fromkeys([*a, *b]), key=lambda k: next((i for i, f in enumerate(first) if k.startswith(f)), 3))
    for key in keys:
        if a.get(key) == b.get(key) or any(key.startswith(s + ".") for s in said):
            continue
        if key.startswith("analyzers.") and key.count(".") == 1:
            out.append(f"{key}: {'added' if key not in a else 'removed'}")
            said.add(key)
        elif key not in a or key not in b:
            out.append(f"{key}: {'new' if key not in a else 'gone'}")
        else:
            out.append(f"{key}: {_show(a[key])} -> {_show(b[key])}")
    if len(out) > most:
        out = out[:most] + [f"and {len(out) - most} more"]
    return "; ".join(out) or "nothing"


__all__ = ["changes", "fingerprint"]
