"""Transcripts and their files: JSON, SubRip (SRT), WebVTT and plain text.

Subtitle cues follow the usual broadcast rules: at most ``max_lines`` lines of at most ``max_chars`` characters,
at most ``max_duration`` seconds on screen, split at word boundaries (with each word's own timestamps when the
recogniser gave them), one line unless the text needs two, and two lines balanced.

>>> t = Transcript(path="talk.mp4", segments=[Segment(0.5, 2.0, "Hello there.")], duration=3.0)
>>> print(t.to_srt())
1
00:00:00,500 --> 00:00:02,000
Hello there.
<BLANKLINE>
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..utils.timecode import timecode

FORMATS = ("json", "srt", "vtt", "txt")
MAX_CHARS = 42       # characters per line (BBC, Netflix and EBU guidelines for Latin scripts)
MAX_LINES = 2
MAX_DURATION = 7.0   # seconds a cue stays on screen at most
PAUSE_SPLIT = 1.0    # a pause this long between words starts a new cue


@dataclass
class Word:
    """One recognised word; ``word`` keeps Whisper's leading space, ``probability`` its confidence."""

    start: float
    end: float
    word: str
    probability: float = 1.0


@dataclass
class Segment:
    """One recognised segment, in seconds on the file's audio clock."""

    start: float
    end: float
    text: str
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    words: list[Word] = field(default_factory=list)


@dataclass
class Cue:
    """One subtitle on screen: its lines already wrapped."""

    start: float
    end: float
    lines: list[str]


@dataclass
class Transcript:
    """What :func:`videolens.transcribe` returns. ``segments`` are the recognised text; ``speech`` the voice
    activity segments that were sent to the recogniser; ``note`` says why a transcript is empty (``"no audio"``).

    ``to_srt()``, ``to_vtt()``, ``to_txt()``, ``to_json()`` give the file contents; ``save(out_dir)`` writes them.
    """

    path: str
    segments: list[Segment] = field(default_factory=list)
    duration: float = 0.0
    language: str | None = None
    language_probability: float | None = None
    model: str | None = None
    speech: list[tuple[float, float]] = field(default_factory=list)
    word_timestamps: bool = False            # include words in JSON
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    note: str | None = None

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())

    @property
    def speech_seconds(self) -> float:
        return sum(e - s for s, e in self.speech)

    @property
    def rtf(self) -> float | None:
        """Real-time factor: processing time (decode, VAD, recognition; not the model load) / audio duration."""
        total = self.timings.get("total")
        return total / self.duration if total is not None and self.duration > 0 else None

    # ---- serialisation ----------------------------------------------------------------------------------------

    def to_dict(self, words: bool | None = None) -> dict[str, Any]:
        """JSON-able dict (the ``speech`` analyzer result, docs/analyzers.md). ``words`` defaults to
        ``word_timestamps``."""
        words = self.word_timestamps if words is None else words
        segs = []
        for i, s in enumerate(self.segments):
            d = {"id": i, "start": _r(s.start), "end": _r(s.end), "text": s.text.strip(),
                 "avg_logprob": _r(s.avg_logprob, 4), "no_speech_prob": _r(s.no_speech_prob, 4)}
            if words:
                d["words"] = [{"start": _r(w.start), "end": _r(w.end), "word": w.word.strip(),
                               "probability": _r(w.probability, 4)} for w in s.words]
            segs.append(d)
        return {"path": self.path, "model": self.model, "language": self.language,
                "language_probability": None if self.language_probability is None
                else _r(self.language_probability, 4),
                "duration": _r(self.duration), "speech_seconds": _r(self.speech_seconds),
                "transcript": self.text, "segments": segs,
                "speech": [{"start": _r(s), "end": _r(e)} for s, e in self.speech],
                "timings": {k: _r(v) for k, v in self.timings.items()},
                "rtf": None if self.rtf is None else _r(self.rtf, 4),
                "warnings": list(self.warnings), "note": self.note}

    def to_json(self, indent: int | None = 2, words: bool | None = None) -> str:
        return json.dumps(self.to_dict(words), ensure_ascii=False, indent=indent) + "\n"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Transcript:
        """The inverse of :meth:`to_dict` (words come back when they were saved)."""
        segs = [Segment(s["start"], s["end"], s["text"], s.get("avg_logprob", 0.0), s.get("no_speech_prob", 0.0),
                        [Word(w["start"], w["end"], " " + w["word"], w.get("probability", 1.0))
                         for w in s.get("words") or []]) for s in d.get("segments", [])]
        return cls(path=d.get("path", ""), segments=segs, duration=d.get("duration", 0.0),
                   language=d.get("language"), language_probability=d.get("language_probability"),
                   model=d.get("model"), speech=[(s["start"], s["end"]) for s in d.get("speech", [])],
                   word_timestamps=any(s.words for s in segs), timings=dict(d.get("timings") or {}),
                   warnings=list(d.get("warnings") or []), note=d.get("note"))

    def cues(self, max_chars: int = MAX_CHARS, max_lines: int = MAX_LINES,
             max_duration: float = MAX_DURATION) -> list[Cue]:
        return make_cues(self.segments, max_chars, max_lines, max_duration)

    def to_srt(self, max_chars: int = MAX_CHARS, max_lines: int = MAX_LINES, max_duration: float = MAX_DURATION) -> str:
        out = []
        for i, c in enumerate(self.cues(max_chars, max_lines, max_duration), 1):
            out.append(f"{i}\n{timecode(c.start, ',')} --> {timecode(c.end, ',')}\n" + "\n".join(c.lines) + "\n")
        return "\n".join(out)

    def to_vtt(self, max_chars: int = MAX_CHARS, max_lines: int = MAX_LINES, max_duration: float = MAX_DURATION) -> str:
        out = ["WEBVTT\n"]
        for c in self.cues(max_chars, max_lines, max_duration):
            out.append(f"{timecode(c.start)} --> {timecode(c.end)}\n" + "\n".join(_vtt_escape(x) for x in c.lines)
                       + "\n")
        return "\n".join(out)

    def to_txt(self) -> str:
        return "".join(s.text.strip() + "\n" for s in self.segments if s.text.strip())

    def save(self, out_dir: str | os.PathLike, formats: tuple[str, ...] | list[str] = FORMATS,
             overwrite: bool = False) -> list[Path]:
        """Write ``transcript.<format>`` files into ``out_dir`` (atomically: a killed run leaves whole files or
        none, and its temporary files go at the next save). An existing file is an error
        (:class:`videolens.OutputExistsError`) unless ``overwrite``; it is checked for every format first."""
        from ..utils.files import check_writable, remove_leftovers, write_text

        formats = parse_formats(formats)
        out_dir = Path(out_dir)
        targets = [out_dir / f"transcript.{f}" for f in formats]
        for t in targets:
            check_writable(t, overwrite)
        render = {"json": self.to_json, "srt": self.to_srt, "vtt": self.to_vtt, "txt": self.to_txt}
        out_dir.mkdir(parents=True, exist_ok=True)
        remove_leftovers(out_dir, ["transcript"])       # what a killed run was writing
        for f, t in zip(formats, targets):
            write_text(t, render[f](), overwrite=True)
        return targets


def write_subtitles(result: Transcript | dict, out_dir: str | os.PathLike,
                    formats: tuple[str, ...] | list[str] = ("srt",), overwrite: bool = False) -> list[Path]:
    """Write a speech result's files (``transcript.srt`` by default) into ``out_dir``; what ``analyze`` uses.

    ``result`` is a :class:`Transcript` (what ``SpeechAnalyzer.finish()`` returns) or its ``to_dict()``.

    >>> write_subtitles(run.results["speech"], "out/", formats=("srt", "vtt"))   # doctest: +SKIP
    """
    t = result if isinstance(result, Transcript) else Transcript.from_dict(result)
    return t.save(out_dir, formats, overwrite)


def parse_formats(formats: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``"srt,vtt"`` / ``["srt"]`` / ``"all"`` -> a tuple of known formats, in a stable order."""
    from ..errors import VideolensError

    items = [x.strip().lower() for x in (formats.split(",") if isinstance(formats, str) else formats) if x.strip()]
    if not items or "all" in items:
        return FORMATS
    unknown = [x for x in items if x not in FORMATS]
    if unknown:
        raise VideolensError(f"--format {','.join(unknown)}: unknown; use {', '.join(FORMATS)} or all")
    return tuple(f for f in FORMATS if f in items)


# ---- cues ----------------------------------------------------------------------------------------------------


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(float(x), nd)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _tokens(seg: Segment, max_chars: int) -> list[Word]:
    """The segment as timed words: Whisper's own, or its text split at spaces with time spread by length."""
    if seg.words:
        words = [w for w in seg.words if w.word.strip()]
    else:
        parts = re.findall(r"\s*\S+", seg.text)
        total = sum(len(p.strip()) for p in parts) or 1
        words, t = [], seg.start
        for p in parts:
            d = (seg.end - seg.start) * len(p.strip()) / total
            words.append(Word(t, t + d, p))
            t += d
    out = []
    for w in words:   # a "word" longer than a line (a URL, or text without spaces) is cut into line-sized pieces
        text = w.word.strip()
        if len(text) <= max_chars:
            out.append(w)
            continue
        n = -(-len(text) // max_chars)
        step = (w.end - w.start) / n
        for k in range(n):
            piece = text[k * max_chars:(k + 1) * max_chars]
            out.append(Word(w.start + k * step, w.start + (k + 1) * step, " " + piece, w.probability))
    return out


def _join(words: list[Word]) -> str:
    return re.sub(r"\s+", " ", "".join(w.word for w in words)).strip()


def wrap(text: str, max_chars: int = MAX_CHARS, max_lines: int = MAX_LINES) -> list[str] | None:
    """Lines for ``text``: one if it fits, else the most balanced split at spaces; None if it cannot fit.

    >>> wrap("ask not what your country can do for you, ask what you can do")
    ['ask not what your country can', 'do for you, ask what you can do']
    >>> wrap("And so, my fellow Americans, ask not what your country")
    ['And so, my fellow Americans,', 'ask not what your country']
    """
    if len(text) <= max_chars:
        return [text]
    words = text.split(" ")
    if max_lines == 2:
        best = None
        la = -1
        for k in range(1, len(words)):
            la += len(words[k - 1]) + 1          # length of words[:k] joined by spaces
            lb = len(text) - la - 1
            if la <= max_chars and lb <= max_chars:
                # balanced lines; a break after punctuation may cost a few characters of balance
                key = (max(la, lb) - (4 if words[k - 1].endswith((",", ".", "?", "!", ";", ":")) else 0), la - lb)
                if best is None or key < best[0]:
                    best = (key, k)
        return [" ".join(words[:best[1]]), " ".join(words[best[1]:])] if best else None
    lines, cur = [], ""
    for w in words:
        if len(w) > max_chars:
            return None
        if cur and len(cur) + 1 + len(w) > max_chars:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
    lines.append(cur)
    return lines if len(lines) <= max_lines else None


def make_cues(segments: list[Segment], max_chars: int = MAX_CHARS, max_lines: int = MAX_LINES,
              max_duration: float = MAX_DURATION) -> list[Cue]:
    """Subtitle cues from segments. Each segment is split at word boundaries into the fewest cues that fit
    ``max_lines`` x ``max_chars`` and ``max_duration`` (never across a pause of ``PAUSE_SPLIT`` s), balanced in
    length and preferring to end a cue at a sentence or clause end."""
    cues: list[Cue] = []
    for seg in segments:
        words = _tokens(seg, max_chars)
        for a, b in _split(words, max_chars, max_lines, max_duration):
            cues.append(_cue(words[a:b], max_chars, max_lines, max_duration))
    # Cues in order, never overlapping, never empty in time.
    for i, c in enumerate(cues):
        if i:
            c.start = max(c.start, cues[i - 1].end)
        c.end = max(c.end, c.start + 0.001)
        if i + 1 < len(cues) and cues[i + 1].start > c.start:
            c.end = min(c.end, max(cues[i + 1].start, c.start + 0.001))
    return cues


def _split(words: list[Word], max_chars: int, max_lines: int, max_duration: float) -> list[tuple[int, int]]:
    """Where to cut a segment's words into cues: a shortest-path over cut points (cost per cue: 1, plus its
    unused room squared, minus a little for ending on punctuation), so cues are few, even and end on clauses."""
    n = len(words)
    capacity = max_chars * max_lines
    tokens = [re.sub(r"\s+", " ", w.word) for w in words]
    best = [0.0] + [float("inf")] * n
    back = [0] * (n + 1)
    for j in range(n):                     # a cue starting at word j ...
        if best[j] == float("inf"):
            continue
        acc = ""
        for i in range(j + 1, n + 1):      # ... and ending before word i
            if i - j > 1:
                if words[i - 1].start - words[i - 2].end >= PAUSE_SPLIT:
                    break
                if words[i - 1].end - words[j].start > max_duration:
                    break
            acc += tokens[i - 1]
            text = acc.strip()
            if i - j > 1 and len(text) > max_chars and (len(text) > capacity
                                                         or wrap(text, max_chars, max_lines) is None):
                break
            end = words[i - 1].word.rstrip()
            bonus = 0.3 if end.endswith((".", "?", "!")) else 0.15 if end.endswith((",", ";", ":")) else 0.0
            cost = best[j] + 1.0 + ((capacity - len(text)) / capacity) ** 2 - bonus
            if cost < best[i]:
                best[i], back[i] = cost, j
    cuts, i = [], n
    while i > 0:
        cuts.append((back[i], i))
        i = back[i]
    return cuts[::-1]


def _cue(words: list[Word], max_chars: int, max_lines: int, max_duration: float) -> Cue:
    text = _join(words)
    lines = wrap(text, max_chars, max_lines) or [text[:max_chars]]
    # One word cannot be split further; a word "lasting" longer than a cue is an alignment slip: cap it.
    return Cue(words[0].start, min(words[-1].end, words[0].start + max_duration), lines)


def cue_dicts(cues: list[Cue]) -> list[dict]:
    return [asdict(c) for c in cues]
