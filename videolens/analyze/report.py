"""``report.json``: the versioned report, assembled by looping over the analyzers that ran.

Each registered analyzer owns its place: its ``to_dict()`` result goes unchanged under its ``report_section``
(null when it did not run), the keys it names in ``report_copies`` are repeated at the top, and its ``summary``
numbers join ``summary``. ``--analyzer MODULE:CLASS`` plugins without a section of their own go under ``other``.
The schema is ``videolens/analyze/report.schema.json``.

>>> validate_report(json.load(open("videolens-out/sample/report.json")))     # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .._version import __version__
from ..core.analyzer import Analyzer, result_dict
from ..errors import VideolensError
from ..io.reader import VideoInfo
from .config import AnalyzeConfig
from .registry import ANALYZERS, layout

SCHEMA_VERSION = 2
SCHEMA_PATH = Path(__file__).with_name("report.schema.json")

# The report's own keys: no analyzer may put its section there.
RESERVED = ("format", "version", "videolens", "created", "video", "analyzers", "summary", "other", "stream",
            "timings", "files", "fingerprint")


def section_of(a: Analyzer, registered: bool) -> str | None:
    """The top-level key of ``a``'s result, or None for ``other.<name>``."""
    section = a.report_section or (a.name if registered else None)
    if section in RESERVED:
        raise VideolensError(f"analyzer {a.name}: report section {section!r} is one of the report's own keys "
                             f"({', '.join(RESERVED)})")
    return section


def build_report(info: VideoInfo, name: str, results: dict[str, Any], ran: list[Analyzer], plugins: list[Analyzer],
                 skipped: list[dict], config: AnalyzeConfig, timings: dict, stream: dict) -> dict:
    """Assemble the versioned report. ``ran`` are the registered analyzers that ran, ``plugins`` the others;
    ``results`` maps analyzer names to what their ``finish()`` returned."""
    video = info.to_dict()
    video["name"] = name
    video["audio"] = [asdict(a) for a in info.audio]
    report: dict[str, Any] = {
        "format": "videolens-report",
        "version": SCHEMA_VERSION,
        "videolens": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "video": video,
        "analyzers": {
            "ran": [{"name": a.name, "size": list(a.size) if isinstance(a.size, (tuple, list)) else a.size,
                     "stride": int(a.stride)} for a in ran + plugins],
            "skipped": skipped,
            "settings": {"stride": config.stride, "objects": config.objects, "tracker": config.tracker,
                         "actions": config.actions, "device": config.device},
        },
    }
    summary: dict[str, Any] = {"duration": video["duration"], "frames": video["frames"]}
    by_name = {a.name: a for a in ran}
    sections: dict[str, Any] = {}
    for entry in ANALYZERS.entries():     # every registered analyzer has its place, null when it did not run
        a = by_name.get(entry.name)
        if a is None:
            section, copies, keys = layout(entry)
            sections[section] = None
            sections.update(dict.fromkeys(copies))
            summary.update(dict.fromkeys(keys))
            continue
        data = result_dict(results[a.name])
        sections[section_of(a, True)] = data
        sections.update({k: data.get(k) for k in a.report_copies})
        summary.update(dict.fromkeys(a.summary_keys))
        summary.update(a.summary(results[a.name]))
    other = {}
    for a in plugins:
        data = result_dict(results[a.name])
        section = section_of(a, False)
        if section is None:
            other[a.name] = data
        else:
            sections[section] = data
        summary.update(a.summary(results[a.name]))
    report["summary"] = summary
    report.update(sections)
    report.update({"other": other, "stream": stream, "timings": timings, "files": [], "fingerprint": None})
    return report


def load_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate_report(report: dict) -> None:
    """Raise ``jsonschema.ValidationError`` if ``report`` does not follow ``report.schema.json``."""
    import jsonschema

    jsonschema.validate(report, load_schema())
