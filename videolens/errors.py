"""Errors that mean "the user's input is wrong", as opposed to a bug in videolens.

The CLI turns every :class:`VideolensError` into a one-line message on stderr and exit code 2.
"""

from __future__ import annotations

import errno
import os


class VideolensError(Exception):
    """A problem with the user's input or environment that videolens can explain in one line."""

    exit_code = 2


class VideolensWarning(UserWarning):
    """Something the user should know that does not stop the run (an option a model ignores, a tracker that keeps
    few boxes). The CLI prints it as one line on stderr: ``videolens: warning: ...``."""


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


# errno -> what to tell the user (the file system's own words are terse: "File too large").
_FULL = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
         errno.EFBIG: "file too large (the file system's or the process's file size limit, ulimit -f)"}


def disk_full(e: BaseException) -> bool:
    """Whether ``e`` says an output ran out of room: ENOSPC, EDQUOT or EFBIG."""
    return isinstance(e, OSError) and e.errno in _FULL


class DiskFullError(VideolensError):
    """An output could not be written for want of room; what was being written was removed.

    >>> str(DiskFullError("out/report.json", OSError(errno.ENOSPC, "No space left on device")))
    'out/report.json: cannot write: no space left on the device'
    """

    def __init__(self, path: str | os.PathLike, error: OSError):
        self.path, self.error = os.fspath(path), error
        super().__init__(f"{self.path}: cannot write: {_FULL.get(error.errno, error.strerror or str(error))}")
