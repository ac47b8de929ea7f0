"""The ``videolens`` command: parses arguments, calls one library function per command and prints the result.

One module per command group (``media``, ``classify``, ``shots``, ``detect``, ``track``, ``people``, ``speech``,
``text``, ``analyze``, ``live``), each with an ``_add_<name>`` function (its options) and a ``_run_<name>`` function
(the library call) per command; what they share is in ``_common``. Heavy imports happen inside ``_run_*`` so that ``videolens --help`` and
``videolens info`` start fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .._version import __version__
from ..errors import DiskFullError, VideolensError, VideolensWarning, disk_full
from . import analyze, classify, detect, live, media, people, shots, speech, text, track
from ._common import error

# The order of ``videolens --help``.
_GROUPS = (media, classify, shots, detect, track, people, speech, text, analyze, live)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videolens",
        description="Deep learning on video: shots, objects, faces, actions and speech.",
        epilog="Run 'videolens COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"videolens {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in _GROUPS:
        for add in group.COMMANDS:
            add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 some inputs of a batch failed, 2 bad usage or input)."""
    import warnings

    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "quiet", False):
        os.environ["VIDEOLENS_QUIET"] = "1"
    shown = warnings.showwarning

    def one_line(message, category, filename, lineno, file=None, line=None):
        """videolens's own warnings as one line on stderr; others as Python shows them."""
        if issubclass(category, VideolensWarning):
            sys.stderr.write(f"videolens: warning: {message}\n")
            sys.stderr.flush()
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = one_line
    try:
        return int(args.func(args) or 0)
    except VideolensError as e:
        error(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except BrokenPipeError:
        return 0
    except OSError as e:
        if not disk_full(e):
            raise
        # What no command turned into a DiskFullError of its own (stdout on a full disk, say): still one line.
        error(str(DiskFullError(e.filename or "output", e)))
        return 2
    finally:
        warnings.showwarning = shown
        if getattr(args, "quiet", False):
            os.environ.pop("VIDEOLENS_QUIET", None)


__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
