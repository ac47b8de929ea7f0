"""Errors that mean "the user's input is wrong", as opposed to a bug in videolens.

The CLI turns every :class:`VideolensError` into a one-line message on stderr and exit code 2.
"""

from __future__ import annotations

import os


class VideolensError(Exception):
    """A problem with the user's input or environment that videolens can explain in one line."""

    exit_code = 2


class VideoError(VideolensError, ValueError):
    """A video (or audio) file that cannot be read as asked.

    >>> str(VideoError("clip.mp4", "no video stream"))
    'clip.mp4: no video stream'
    """

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class NoAudioError(VideoError):
    """The file has no (decodable) audio stream."""


class OutputExistsError(VideolensError):
    """An output file exists and ``--overwrite`` was not given."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        super().__init__(f"{self.path}: already exists (use --overwrite to replace it)")
