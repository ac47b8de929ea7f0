"""Progress bars on stderr that ``--quiet`` turns off."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable


def quiet_default() -> bool:
    return os.environ.get("VIDEOLENS_QUIET", "") not in ("", "0")


def progress(iterable: Iterable | None = None, total: int | None = None, desc: str | None = None,
             quiet: bool = False, unit: str = "it", leave: bool = False, **kwargs):
    """A tqdm bar on stderr, or a silent pass-through when ``quiet`` (or ``VIDEOLENS_QUIET=1``).

    >>> for _ in progress(range(3), quiet=True):
    ...     pass
    """
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, disable=quiet or quiet_default(), unit=unit, leave=leave,
                file=sys.stderr, dynamic_ncols=True, **kwargs)
