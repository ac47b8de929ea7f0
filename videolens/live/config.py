"""The ``watch`` config: cameras, zones, lines and rules from one YAML file (docs/watch.md), every key checked.

A mistake is one line that names the file, the line and the key: ``cameras.yaml:14: rules[0].zone: no zone
'drivway' on camera front (it has: driveway)``.

>>> cfg = load_config_text('''
... cameras:
...   - name: door
...     url: rtsp://cam.local/stream1
...     zones: {hall: [[0, 0], [100, 0], [100, 100]]}
...     rules: [{name: in-hall, zone: hall, classes: [person]}]
... ''')
>>> cfg.cameras[0].rules[0].kind, cfg.cameras[0].fps
('zone', 5.0)
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import VideolensError

ANCHORS = ("center", "bottom-center", "top-center")
TAMPER_KINDS = ("covered", "moved", "blur")
DIRECTIONS = ("in", "out", "both")

# Settings a camera takes (also under `defaults`), with their types and defaults.
CAMERA_SETTINGS: dict[str, tuple[type | tuple[type, ...], Any]] = {
    "objects": (str, None),          # detector: name, checkpoint or onnx:PATH
    "tracker": (str, "bytetrack"),
    # the tracker's thresholds on the detector's score scale (docs/tracking.md); None: the detector's suggestion
    # (Ultralytics' for its models) or the tracker's default
    "track_thresh": ((int, float), None),
    "track_low_thresh": ((int, float), None),
    "new_track_thresh": ((int, float), None),
    "track_buffer": (int, None),
    "conf": ((int, float), None),
    "faces": (bool, False),
    "people": (str, None),           # a gallery (folder of photos per person, or gallery.npz): known/unknown faces
    "fps": ((int, float), 5.0),
    "motion_gate": (bool, True),
    "motion_threshold": ((int, float), 0.002),   # share of the frame's pixels that changed: "there is motion"
    "pre": ((int, float), 5.0),
    "post": ((int, float), 5.0),
    "anchor": (str, "center"),
    "transport": (str, "tcp"),
    "record": (bool, False),
    "record_hours": ((int, float), 24.0),        # recordings older than this go
    "record_gb": ((int, float), 10.0),           # ... and the oldest go when a camera's recordings pass this
    "segment_seconds": ((int, float), 60.0),
}
RULE_KEYS = {"name", "zone", "line", "classes", "min_score", "loiter", "count_above", "motion", "tamper",
             "direction", "armed", "cooldown", "events"}


class ConfigError(VideolensError):
    """A config file that cannot work: where and why, in one line."""


@dataclass(frozen=True)
class Rule:
    """One rule of a camera. ``kind`` follows from its keys: zone, loiter, count_above, line, motion or tamper."""

    name: str
    kind: str
    zone: str | None = None
    line: str | None = None
    classes: tuple[str, ...] | None = None     # None: every class
    min_score: float = 0.0
    loiter: float | None = None                # seconds in the zone
    count_above: int | None = None
    motion: float | None = None                # share of the zone's pixels that changed
    tamper: tuple[str, ...] = ()
    direction: str = "both"
    armed: tuple[tuple[int, int], ...] = ()    # (start minute, end minute) of the day, local time; () = always
    cooldown: float = 0.0                      # seconds between two events of one track (or of the rule)
    events: tuple[str, ...] = ("enter", "exit")

    def armed_at(self, when: _dt.datetime) -> bool:
        """Whether the rule is armed at local time ``when``."""
        if not self.armed:
            return True
        minute = when.hour * 60 + when.minute
        return any(a <= minute < b if a <= b else (minute >= a or minute < b) for a, b in self.armed)

    def wants(self, class_name: str, score: float) -> bool:
        return (self.classes is None or class_name.lower() in self.classes) and score >= self.min_score


@dataclass(frozen=True)
class Camera:
    """One camera: where to read it, its geometry, its rules and its settings (``CAMERA_SETTINGS``)."""

    @property
    def tracker_settings(self) -> dict[str, Any]:
        """The tracker thresholds this camera sets, as the tracker's keyword arguments."""
        pairs = (("high_thresh", self.track_thresh), ("low_thresh", self.track_low_thresh),
                 ("new_track_thresh", self.new_track_thresh), ("track_buffer", self.track_buffer))
        return {k: v for k, v in pairs if v is not None}

    name: str
    url: str
    zones: dict[str, tuple[tuple[float, float], ...]] = field(default_factory=dict)
    lines: dict[str, tuple[tuple[float, float], tuple[float, float]]] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    objects: str | None = None
    tracker: str = "bytetrack"
    track_thresh: float | None = None
    track_low_thresh: float | None = None
    new_track_thresh: float | None = None
    track_buffer: int | None = None
    conf: float | None = None
    faces: bool = False
    people: str | None = None
    fps: float = 5.0
    motion_gate: bool = True
    motion_threshold: float = 0.002
    pre: float = 5.0
    post: float = 5.0
    anchor: str = "center"
    transport: str = "tcp"
    record: bool = False
    record_hours: float = 24.0
    record_gb: float = 10.0
    segment_seconds: float = 60.0


@dataclass(frozen=True)
class WatchConfig:
    cameras: tuple[Camera, ...]
    path: str = "<config>"


# ---- YAML with line numbers ---------------------------------------------------------------------------------------


def _plain(node) -> Any:
    """The Python value of a composed YAML node (YAML's safe types only)."""
    import yaml

    return yaml.SafeLoader("").construct_object(node, deep=True)


class _Reader:
    """Walks the YAML node tree; every error names the file, the line and the dotted key."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, node, where: str, message: str) -> ConfigError:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        return ConfigError(f"{self.source}{line}: {where}: {message}" if where else f"{self.source}{line}: {message}")

    def mapping(self, node, where: str, allowed: set[str]) -> dict[str, Any]:
        import yaml

        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, where, "expected a mapping of keys to values")
        out = {}
        for k, v in node.value:
            key = str(k.value)
            if key not in allowed:
                raise self.fail(k, f"{where}.{key}" if where else key,
                                f"unknown key (expected one of: {', '.join(sorted(allowed))})")
            out[key] = v
        return out

    def named(self, node, where: str) -> list[tuple[str, Any]]:
        """A mapping whose keys are the user's own names (zones, lines): ``[(name, value node)]``."""
        import yaml

        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, where, "expected a mapping of names to points")
        return [(str(k.value), v) for k, v in node.value]

    def seq(self, node, where: str) -> list:
        import yaml

        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, where, "expected a list")
        return list(node.value)

    def value(self, node, where: str, kind: type | tuple[type, ...]) -> Any:
        v = _plain(node)
        ok = isinstance(v, kind) and not (isinstance(v, bool) and kind in ((int, float), int, float))
        if not ok:
            names = "/".join(t.__name__ for t in (kind if isinstance(kind, tuple) else (kind,)))
            raise self.fail(node, where, f"expected {names}, not {v!r}")
        return v

    def points(self, node, where: str, count: int | None) -> tuple[tuple[float, float], ...]:
        pts = []
        for k, p in enumerate(self.seq(node, where)):
            xy = [self.value(c, f"{where}[{k}]", (int, float)) for c in self.seq(p, f"{where}[{k}]")]
            if len(xy) != 2:
                raise self.fail(p, f"{where}[{k}]", f"a point is [x, y], not {xy}")
            pts.append((float(xy[0]), float(xy[1])))
        need = count if count else 3
        if (count and len(pts) != count) or len(pts) < need:
            raise self.fail(node, where, f"expected {'exactly' if count else 'at least'} {need} points, got {len(pts)}")
        if count == 2 and pts[0] == pts[1]:
            raise self.fail(node, where, "the two points of a line must differ")
        return tuple(pts)


def _minutes(text: str) -> int:
    h, m = text.split(":")
    if not (0 <= int(h) <= 24 and 0 <= int(m) < 60):
        raise ValueError(text)
    return int(h) * 60 + int(m)


def _windows(text: str) -> tuple[tuple[int, int], ...]:
    out = []
    for part in str(text).split(","):
        a, sep, b = part.strip().partition("-")
        if not sep or not re.fullmatch(r"\d{1,2}:\d{2}", a.strip()) or not re.fullmatch(r"\d{1,2}:\d{2}", b.strip()):
            raise ValueError(part)
        out.append((_minutes(a.strip()), _minutes(b.strip())))
    return tuple(out)


def _rule(r: _Reader, node, where: str, cam: dict) -> Rule:
    raw = r.mapping(node, where, RULE_KEYS)
    get = {k: _plain(v) for k, v in raw.items()}
    kinds = [k for k in ("loiter", "count_above", "motion", "tamper") if k in raw]
    if len(kinds) > 1:
        raise r.fail(node, where, f"a rule is one of loiter, count_above, motion or tamper, not {' and '.join(kinds)}")
    if "zone" in raw and "line" in raw:
        raise r.fail(node, where, "a rule watches a zone or a line, not both")
    kind = kinds[0] if kinds else ("zone" if "zone" in raw else "line" if "line" in raw else None)
    if kind is None:
        raise r.fail(node, where, "a rule needs a zone, a line, motion or tamper")
    if kind in ("loiter", "count_above") and "zone" not in raw:
        raise r.fail(node, where, f"{kind} needs a zone")
    for key, names in (("zone", cam["zones"]), ("line", cam["lines"])):
        if key in raw and get[key] not in names:
            raise r.fail(raw[key], f"{where}.{key}", f"no {key} {get[key]!r} on camera {cam['name']} "
                                                    f"(it has: {', '.join(names) or 'none'})")
    fields: dict[str, Any] = {"name": str(get.get("name") or f"rule{where.rsplit('[', 1)[-1].rstrip(']')}"),
                              "kind": kind, "zone": get.get("zone"), "line": get.get("line")}
    if "classes" in raw:
        fields["classes"] = tuple(str(c).lower() for c in ([get["classes"]] if isinstance(get["classes"], str)
                                                           else get["classes"]))
    for key, typ in (("min_score", (int, float)), ("loiter", (int, float)), ("cooldown", (int, float)),
                     ("count_above", int), ("motion", (int, float))):
        if key in raw:
            v = r.value(raw[key], f"{where}.{key}", typ)
            if v < 0 or (key == "motion" and v > 1):
                raise r.fail(raw[key], f"{where}.{key}", f"out of range: {v}")
            fields[key] = v
    if "tamper" in raw:
        kinds_t = [get["tamper"]] if isinstance(get["tamper"], str) else list(get["tamper"] or TAMPER_KINDS)
        bad = [k for k in kinds_t if k not in TAMPER_KINDS]
        if bad:
            raise r.fail(raw["tamper"], f"{where}.tamper", f"unknown {bad[0]!r} (use {', '.join(TAMPER_KINDS)})")
        fields["tamper"] = tuple(kinds_t)
    if "direction" in raw:
        if kind != "line" or get["direction"] not in DIRECTIONS:
            raise r.fail(raw["direction"], f"{where}.direction", "a line rule's direction is in, out or both")
        fields["direction"] = get["direction"]
    if "events" in raw:
        ev = [get["events"]] if isinstance(get["events"], str) else list(get["events"])
        if kind != "zone" or not ev or any(e not in ("enter", "exit") for e in ev):
            raise r.fail(raw["events"], f"{where}.events", "a zone rule's events are enter and/or exit")
        fields["events"] = tuple(ev)
    if "armed" in raw:
        try:
            fields["armed"] = _windows(get["armed"])
        except ValueError:
            raise r.fail(raw["armed"], f"{where}.armed", f"expected time windows such as \"22:00-06:00\", "
                                                         f"not {get['armed']!r}") from None
    return Rule(**fields)


def _settings(r: _Reader, raw: dict, where: str) -> dict[str, Any]:
    out = {}
    for key, (typ, _) in CAMERA_SETTINGS.items():
        if key in raw:
            out[key] = r.value(raw[key], f"{where}.{key}", typ)
    if "anchor" in out and out["anchor"] not in ANCHORS:
        raise r.fail(raw["anchor"], f"{where}.anchor", f"expected one of {', '.join(ANCHORS)}")
    if "transport" in out and out["transport"] not in ("tcp", "udp"):
        raise r.fail(raw["transport"], f"{where}.transport", "expected tcp or udp")
    for key in ("fps", "pre", "post", "motion_threshold", "record_hours", "record_gb", "segment_seconds",
                "track_buffer"):
        if key in out and not out[key] > (-1e-9 if key in ("pre", "post", "motion_threshold") else 0):
            raise r.fail(raw[key], f"{where}.{key}", f"out of range: {out[key]}")
    return out


def load_config_text(text: str, source: str = "<config>") -> WatchConfig:
    """A :class:`WatchConfig` from YAML text; a :class:`ConfigError` names the line and key of any mistake."""
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}{line}: not valid YAML ({getattr(e, 'problem', None) or e})") from None
    if root is None:
        raise ConfigError(f"{source}: the config is empty (it needs a cameras: list)")
    r = _Reader(source)
    top = r.mapping(root, "", {"defaults", "cameras"})
    defaults = _settings(r, r.mapping(top["defaults"], "defaults", set(CAMERA_SETTINGS)), "defaults") \
        if "defaults" in top else {}
    if "cameras" not in top:
        raise r.fail(root, "cameras", "missing: the config needs a cameras: list")
    cameras = []
    for k, node in enumerate(r.seq(top["cameras"], "cameras")):
        where = f"cameras[{k}]"
        raw = r.mapping(node, where, {"name", "url", "zones", "lines", "rules", *CAMERA_SETTINGS})
        if "url" not in raw:
            raise r.fail(node, where, "a camera needs a url")
        url = str(r.value(raw["url"], f"{where}.url", (str, int)))
        from .sources import camera_name

        name = str(_plain(raw["name"])) if "name" in raw else camera_name(url)
        zones = {z: r.points(v, f"{where}.zones.{z}", None)
                 for z, v in r.named(raw["zones"], f"{where}.zones")} if "zones" in raw else {}
        lines = {n: r.points(v, f"{where}.lines.{n}", 2)
                 for n, v in r.named(raw["lines"], f"{where}.lines")} if "lines" in raw else {}
        cam = {"name": name, "zones": zones, "lines": lines}
        rules = tuple(_rule(r, rn, f"{where}.rules[{j}]", cam)
                      for j, rn in enumerate(r.seq(raw["rules"], f"{where}.rules"))) if "rules" in raw else ()
        names = [x.name for x in rules]
        if len(set(names)) != len(names):
            raise r.fail(raw["rules"], f"{where}.rules", f"rule names must be unique on a camera: {names}")
        settings = {**defaults, **_settings(r, raw, where)}
        cameras.append(Camera(name=name, url=url, zones=zones, lines=lines, rules=rules, **settings))
    names = [c.name for c in cameras]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"{source}: camera names must be unique: {', '.join(dup)} is used twice")
    return WatchConfig(tuple(cameras), source)


class _AnyName:
    """Zone/line names a command-line rule may use: checked later against each camera (:func:`check_rules`)."""

    def __contains__(self, name) -> bool:
        return True


_LIST_KEYS = {"classes", "tamper", "events"}


def parse_rule(text: str, index: int = 1) -> Rule:
    """A rule from the command line: ``KEY=VALUE`` pairs separated by spaces, the keys of a config rule
    (``--rule "name=door-loiter zone=door loiter=10 classes=person,car armed=22:00-06:00"``); lists take commas.
    Without ``name`` it is ``rule<index>``.

    >>> parse_rule("zone=door loiter=10 classes=person").loiter
    10
    """
    import yaml

    pairs = []
    for token in str(text).split():
        key, sep, value = token.partition("=")
        if not sep or not key or not value:
            raise ConfigError(f"--rule {text!r}: expected KEY=VALUE pairs separated by spaces, not {token!r}")
        if key in _LIST_KEYS and "," in value:
            value = "[" + ", ".join(json.dumps(v) for v in value.split(",") if v) + "]"
        elif key in ("name", "zone", "line", "direction", "armed"):
            value = json.dumps(value)        # a name is a string even when it looks like a number
        pairs.append(f"{key}: {value}")
    if not pairs:
        raise ConfigError("--rule: empty (expected KEY=VALUE pairs such as zone=door loiter=10)")
    try:
        node = yaml.compose("{" + ", ".join(pairs) + "}", Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        raise ConfigError(f"--rule {text!r}: cannot read it ({getattr(e, 'problem', None) or e})") from None
    reader = _Reader("--rule")
    reader.fail = lambda node, where, message: ConfigError(f"--rule {text!r}: {message}")  # type: ignore[method-assign]
    return _rule(reader, node, f"rules[{index}]", {"name": "", "zones": _AnyName(), "lines": _AnyName()})


def check_rules(camera: Camera) -> None:
    """Every rule's zone and line exist on ``camera`` (command-line rules are checked here, on each camera)."""
    for rule in camera.rules:
        for key, names in (("zone", camera.zones), ("line", camera.lines)):
            name = getattr(rule, key)
            if name is not None and name not in names:
                raise ConfigError(f"rule {rule.name}: no {key} {name!r} on camera {camera.name} "
                                  f"(it has: {', '.join(names) or 'none'})")


def load_config(path: str | os.PathLike) -> WatchConfig:
    """Read and check a config file (a missing or unreadable file is a one-line error too)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the config ({getattr(e, 'strerror', None) or e})") from None
    return load_config_text(text, os.fspath(path))


def select(config: WatchConfig, names: list[str] | None) -> WatchConfig:
    """Only the cameras named (``--cameras front,back``), in the config's order; an unknown name is an error."""
    if not names:
        return config
    known = [c.name for c in config.cameras]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"--cameras {','.join(unknown)}: not in {config.path} (it has: {', '.join(known)})")
    return replace(config, cameras=tuple(c for c in config.cameras if c.name in names))
