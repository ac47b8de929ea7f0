"""Timecodes as people and subtitle formats write them."""

from __future__ import annotations


def _split(seconds: float) -> tuple[int, int, int, int]:
    ms = int(round(max(float(seconds), 0.0) * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return h, m, s, ms


def timecode(seconds: float, sep: str = ".") -> str:
    """``HH:MM:SS.mmm`` (``sep=","`` gives SRT's ``HH:MM:SS,mmm``).

    >>> timecode(3723.5), timecode(0.0421, sep=",")
    ('01:02:03.500', '00:00:00,042')
    """
    h, m, s, ms = _split(seconds)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def smpte(frame: int, fps: float) -> str:
    """``HH:MM:SS:FF`` non-drop-frame timecode of a frame number (CMX3600 EDLs).

    >>> smpte(90, 25)
    '00:00:03:15'
    """
    base = max(1, int(round(fps)))
    ff = int(frame) % base
    total = int(frame) // base
    return f"{total // 3600:02d}:{total // 60 % 60:02d}:{total % 60:02d}:{ff:02d}"
