"""The one check every reader of a media file makes before handing the path to FFmpeg.

FFmpeg's own messages for a missing file, a directory or an empty file are vague ("Invalid data found"); checking
first gives the user a one-line :class:`~videolens.errors.VideoError` that says which. Kept free of PyAV so that
importing it costs nothing.
"""

from __future__ import annotations

import os

from ..errors import VideoError


def check_path(path: str) -> None:
    """Raise :class:`VideoError` naming ``path`` unless it is a readable, non-empty file."""
    if not os.path.exists(path):
        raise VideoError(path, "no such file")
    if os.path.isdir(path):
        raise VideoError(path, "is a directory, not a video file")
    try:
        size = os.path.getsize(path)
    except OSError as e:
        raise VideoError(path, f"cannot read ({e.strerror})") from None
    if size == 0:
        raise VideoError(path, "empty file (0 bytes)")
    if not os.access(path, os.R_OK):
        raise VideoError(path, "permission denied")
