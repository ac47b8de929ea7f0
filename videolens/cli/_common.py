"""What every command shares, so that each rule exists once.

- option types and option groups (``-o``, ``--json``/``--quiet``, ``--seed``, ``--device``);
- :func:`parse_formats`: the one ``--format`` rule (shots, detect, transcribe and predict);
- :class:`RegistryNames`: choices read from a library registry when first needed, so building the parser imports
  nothing heavy;
- :func:`emit`, :func:`report`, :func:`finish` and :func:`report_failures`: the JSON-or-summary tail and the batch
  exit code (0 all done, 1 some inputs failed, 2 every input was bad).

Inputs map to output folders by one rule, :func:`videolens.utils.files.output_dirs`, which the library's batch
functions apply: the commands only pass ``-o`` on.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence

from ..errors import VideolensError

# `object` stands in for typing.Any below: importing typing would add ~3 ms to every start-up.

# ---- option types (argparse ``type=``) ---------------------------------------------------------------------


def size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
        if w <= 0 or h <= 0:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 320x240, not {text!r}") from None
    return w, h


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, not {v}")
    return v


def _float_type(ok: Callable[[float], bool], not_a_number: str, out_of_range: str) -> Callable[[str], float]:
    """An argparse type for a float for which ``ok`` holds (NaN never does). The messages are formats of
    ``text`` (what was typed, quoted in ``not_a_number``) and ``v`` (the number)."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(not_a_number.format(text=repr(text))) from None
        if not ok(v):
            raise argparse.ArgumentTypeError(out_of_range.format(text=text, v=v))
        return v

    return parse


nonneg_float = _float_type(lambda v: v >= 0, "expected a number, not {text}", "expected a number >= 0, not {text}")
positive_float = _float_type(lambda v: v > 0, "expected a number, not {text}", "expected a number > 0, not {text}")
unit = _float_type(lambda v: 0 <= v <= 1, "expected a number between 0 and 1, not {text}",
                   "expected a number between 0 and 1, not {v}")


def key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text!r}")
    return key.replace("-", "_"), value


# ---- option groups (conventions.md) ------------------------------------------------------------------------


def add_output(p: argparse.ArgumentParser, required: bool = False, help: str | None = None) -> None:
    p.add_argument("-o", "--output", required=required, metavar="DIR",
                   help=help or "output folder (created if missing; default ./videolens-out/<input-stem>/)")


def add_quiet_json(p: argparse.ArgumentParser, json_help: str = "print the result as JSON on stdout") -> None:
    p.add_argument("--json", action="store_true", help=json_help)
    p.add_argument("--quiet", action="store_true", help="no progress bars and no summary; errors still go to stderr")


def add_seed(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="makes generation and training deterministic on CPU (default 0)")


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")


class RegistryNames:
    """The names in a library registry (``module.attr``, iterated), read on first use.

    argparse checks a given value against them and lists them in usage and ``--help``; neither happens when the
    parser is built, so a registry in a heavy module costs nothing until its command runs. Assign it to the
    action after ``add_argument`` (which formats the metavar, and so would read the names).
    """

    def __init__(self, module: str, attr: str):
        self.module, self.attr = module, attr

    def _names(self) -> list[str]:
        return list(getattr(importlib.import_module(self.module), self.attr))

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __contains__(self, name: object) -> bool:
        return name in self._names()


def _numbers(text: str, what: str, count: int | None = None, min_count: int = 2) -> list[float]:
    try:
        vals = [float(v) for v in text.replace(" ", "").split(",") if v != ""]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what}: expected comma-separated numbers, not {text!r}") from None
    if (count is not None and len(vals) != count) or len(vals) < min_count or len(vals) % 2:
        need = f"{count} numbers" if count else "an even number of numbers (x,y pairs)"
        raise argparse.ArgumentTypeError(f"{what}: expected {need}, not {text!r}")
    return vals


def line_arg(text: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """``--line X1,Y1,X2,Y2`` (detect, watch)."""
    x1, y1, x2, y2 = _numbers(text, "--line", 4)
    if (x1, y1) == (x2, y2):
        raise argparse.ArgumentTypeError(f"--line: the two points must differ ({text!r})")
    return (x1, y1), (x2, y2)


def zone_arg(text: str) -> list[tuple[float, float]]:
    """``--zone X1,Y1,X2,Y2,X3,Y3,...`` (detect, watch)."""
    vals = _numbers(text, "--zone", None, 6)
    return list(zip(vals[0::2], vals[1::2]))


def registry_choices(action: argparse.Action, module: str, attr: str) -> None:
    """Limit ``action`` to the names of the registry ``module.attr`` (see :class:`RegistryNames`)."""
    action.choices = RegistryNames(module, attr)


# The tracker settings a user needs (the rest stay keyword arguments of the tracker classes); each option sets the
# tracker's argument of the same meaning. Thresholds are on the detector's score scale (docs/tracking.md).
TRACK_OPTIONS = (("--track-thresh", "high_thresh", "detections scoring at least this are matched first (default 0.5)"),
                 ("--track-low-thresh", "low_thresh", "weaker detections above this only continue tracks (0.1)"),
                 ("--new-track-thresh", "new_track_thresh", "score needed to start a track (0.6)"),
                 ("--track-buffer", "track_buffer", "frames (at 30 fps) a lost track is kept (30 = 1 s)"))


def add_tracker(p: argparse.ArgumentParser, help: str) -> None:
    """``--tracker`` and the tracker's main thresholds."""
    registry_choices(p.add_argument("--tracker", help=help), "videolens.track", "TRACKERS")
    for flag, _, text in TRACK_OPTIONS:
        p.add_argument(flag, type=positive_int if flag == "--track-buffer" else float, metavar="N"
                       if flag == "--track-buffer" else "SCORE", help=text)


def tracker_settings(args: argparse.Namespace) -> dict:
    """The tracker settings given on the command line, as the tracker's keyword arguments."""
    out = {key: getattr(args, flag[2:].replace("-", "_")) for flag, key, _ in TRACK_OPTIONS}
    out = {k: v for k, v in out.items() if v is not None}
    if out and not getattr(args, "tracker", None):
        raise VideolensError(f"--{next(f[2:] for f, k, _ in TRACK_OPTIONS if k in out)} needs --tracker")
    return out


def parse_formats(text: str, allowed: Sequence[str], command: str,
                  empty: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The one ``--format`` rule: comma-separated, any case, ``all`` for every format, repeats dropped, the order
    kept. ``empty`` is what an empty value means (None: an error).

    >>> parse_formats("CSV, json,csv", ("csv", "json", "mot"), "detect")
    ('csv', 'json')
    >>> parse_formats("xml", ("json", "csv"), "shots")
    Traceback (most recent call last):
    videolens.errors.VideolensError: --format: unknown format 'xml' for shots (choose from json, csv, all)
    """
    items = [f.strip().lower() for f in text.split(",") if f.strip()]
    if not items and empty is not None:
        return empty
    if "all" in items:
        return tuple(allowed)
    bad = [f for f in items if f not in allowed] or ([] if items else [text])
    if bad:
        raise VideolensError(f"--format: unknown format {bad[0]!r} for {command} "
                             f"(choose from {', '.join(allowed)}, all)")
    return tuple(dict.fromkeys(items))


def csv_list(text: str | None) -> list[str] | None:
    """``"a, b,"`` -> ``["a", "b"]``; nothing given -> None."""
    items = [c.strip() for c in text.split(",") if c.strip()] if text else []
    return items or None


# ---- output ------------------------------------------------------------------------------------------------


def print_json(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def error(message: str) -> None:
    sys.stderr.write(f"videolens: error: {message}\n")
    sys.stderr.flush()


def batch_exit(n_ok: int, n_failed: int) -> int:
    """Exit code of a batch (conventions.md): 0 all done, 1 some failed, 2 every input was bad."""
    if n_failed == 0:
        return 0
    return 2 if n_ok == 0 else 1


def emit(args: argparse.Namespace, doc: object = None, text: Callable[[], str] | None = None) -> None:
    """The tail of every command: ``--json`` prints ``doc`` (called when callable; None prints nothing), else the
    summary ``text()`` unless ``--quiet`` (an empty summary prints nothing)."""
    if getattr(args, "json", False):
        doc = doc() if callable(doc) else doc
        if doc is not None:
            print_json(doc)
    elif not getattr(args, "quiet", False) and text is not None:
        summary = text()
        if summary:
            print(summary)


def report(args: argparse.Namespace, item: object, doc: Callable[[object], object] | None,
           text: Callable[[object], str] | None) -> None:
    """One item of a batch (``ok``, ``error``, ``result``): its error on stderr, else ``emit`` of its result."""
    if not item.ok:
        error(item.error)
    else:
        emit(args, doc and (lambda: doc(item.result)), text and (lambda: text(item.result)))


def finish(args: argparse.Namespace, items: Sequence[object], doc: Callable[[object], object] | None,
           text: Callable[[object], str] | None) -> int:
    """:func:`report` each item in input order; returns the batch's exit code."""
    for item in items:
        report(args, item, doc, text)
    ok = sum(bool(item.ok) for item in items)
    return batch_exit(ok, len(items) - ok)


def report_failures(items: Sequence[object], warnings: Callable[[object], Sequence[str]] = lambda result: ()) -> None:
    """Each failed item's error, and each done item's ``warnings(result)``, on stderr in input order."""
    for item in items:
        if not item.ok:
            error(item.error)
        else:
            for w in warnings(item.result):
                sys.stderr.write(f"videolens: warning: {w}\n")
