"""Speech quality: the English normaliser WER is scored with (Whisper's rules, on their own test cases and the ones
our references need), and a regression bound on synthetic dev-set sentences: videolens's WER is no worse than plain
faster-whisper's with its own VAD on the same audio, same model."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from videolens.speech.metrics import normalize, standardize_numbers, standardize_spellings

ROOT = Path(__file__).resolve().parents[1]

# Whisper's own cases for its EnglishNumberNormalizer (openai/whisper tests/test_normalizer.py, MIT).
NUMBERS = [
    ("two", "2"), ("thirty one", "31"), ("five twenty four", "524"), ("nineteen ninety nine", "1999"),
    ("twenty nineteen", "2019"), ("two point five million", "2500000"), ("four point two billions", "4200000000s"),
    ("200 thousand", "200000"), ("200 thousand dollars", "$200000"), ("$20 million", "$20000000"),
    ("€52.4 million", "€52400000"), ("£77 thousands", "£77000s"), ("two double o eight", "2008"),
    ("three thousand twenty nine", "3029"), ("forty three thousand two hundred sixty", "43260"),
    ("forty three thousand two hundred and sixty", "43260"), ("nineteen fifties", "1950s"),
    ("thirty first", "31st"), ("thirty three thousand and three hundred and thirty third", "33333rd"),
    ("three billion", "3000000000"), ("millions", "1000000s"), ("july third twenty twenty", "july 3rd 2020"),
    ("august twenty sixth twenty twenty one", "august 26th 2021"), ("3 14", "3 14"), ("3.14", "3.14"),
    ("3 point 2", "3.2"), ("3 point 14", "3.14"), ("fourteen point 4", "14.4"),
    ("two point two five dollars", "$2.25"), ("two hundred million dollars", "$200000000"),
    ("$20.1 million", "$20100000"), ("ninety percent", "90%"), ("seventy six per cent", "76%"),
    ("double oh seven", "007"), ("double zero seven", "007"), ("nine one one", "911"), ("nine double one", "911"),
    ("one triple oh one", "10001"), ("two thousandth", "2000th"), ("thirty two thousandth", "32000th"),
    ("minus 500", "-500"), ("positive twenty thousand", "+20000"), ("two dollars and seventy cents", "$2.70"),
    ("3 cents", "¢3"), ("$0.36", "¢36"), ("three euros and sixty five cents", "€3.65"),
    ("three and a half million", "3500000"), ("forty eight and a half dollars", "$48.5"), ("b747", "b 747"),
    ("10 th", "10th"), ("10th", "10th"),
]


@pytest.mark.parametrize("spoken, written", NUMBERS)
def test_numbers_as_whisper_normalises_them(spoken, written):
    assert standardize_numbers(spoken) == written
    assert normalize(spoken) == written


def test_whisper_text_and_spelling_cases():
    assert normalize("Let's") == "let us"
    assert normalize("he's like") == "he is like"
    assert normalize("she's been like") == "she has been like"
    assert normalize("10km") == "10 km" and normalize("10mm") == "10 mm" and normalize("RC232") == "rc 232"
    assert normalize("Mr. Park visited Assoc. Prof. Kim Jr.") == "mister park visited associate professor kim junior"
    assert standardize_spellings("mobilisation") == "mobilization"
    assert standardize_spellings("cancelation") == "cancellation"


@pytest.mark.parametrize("a, b", [
    ("twenty five", "25"), ("It's twenty-five past nine.", "it is 25 past 9"), ("it's", "it is"),
    ("I can't go, we won't stay", "i can not go we will not stay"), ("They're here; I'd say you've won.",
                                                                      "they are here i would say you have won"),
    ("Mr. Hughes", "mister hughes"), ("Dr. Patel", "doctor patel"), ("Mrs. Walker", "missus walker"),
    ("colour", "color"), ("favourite colours", "favorite colors"), ("the centre of the theatre", "the center of the theater"),
    ("She apologised and organised it.", "she apologized and organized it"), ("travelled", "traveled"),
    ("grey tyres", "gray tires"), ("kilometres", "kilometers"), ("catalogue", "catalog"), ("defence", "defense"),
    ("$5", "5 dollars"), ("five dollars", "$5"), ("300 pounds", "£300"), ("12,000 people", "twelve thousand people"),
    ("half past two", "half past 2"), ("fortieth", "40th"), ("a well-known, second-hand café!", "a well known second hand cafe"),
    ("Hello... (laughs) [music] uh, world?!", "hello world"), ("“Quoted” — text…", "quoted text"),
])
def test_normalised_forms_match(a, b):
    assert normalize(a) == normalize(b), (normalize(a), normalize(b))


def test_one_stays_a_word_and_plain_words_pass_through():
    assert normalize("one day at 1 pm") == "one day at one pm"
    assert normalize("The quick brown fox") == "the quick brown fox"
    assert normalize("") == ""


def test_word_error_rate_after_normalisation():
    pytest.importorskip("jiwer", reason="jiwer comes with the dev extra")
    from videolens.speech.metrics import word_error_rate

    assert word_error_rate(["set white with p two soon"], ["Set white with P2 soon."]) == 0.0
    assert word_error_rate(["The colour costs twenty five dollars."], ["the color costs $25"]) == 0.0
    assert word_error_rate(["a b c d"], ["a x c"]) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        word_error_rate([""], ["x"])


# ---- regression bound on dev-set sentences ----------------------------------------------------------------------


def _require(ok: bool, msg: str) -> None:
    """Skip in a user's clone without the tool; fail in CI, where it must be there."""
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(msg + " (CI=true requires it)")
    pytest.skip(msg)


@pytest.fixture(scope="module")
def dev_files(tmp_path_factory):
    """Three files of the development set (bench/speech_sets.py), rendered here: 13 sentences, 70 s of audio."""
    import shutil

    _require(importlib.util.find_spec("faster_whisper") is not None and
             importlib.util.find_spec("silero_vad") is not None, "the speech extra is not installed")
    _require(importlib.util.find_spec("jiwer") is not None, "jiwer (dev extra) is not installed")
    _require(shutil.which("espeak-ng") is not None, "espeak-ng is not installed (make setup installs it)")
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import speech_sets
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return speech_sets.build("dev", tmp_path_factory.mktemp("speech_dev"), files=REGRESSION_FILES)


REGRESSION_FILES = [1, 2, 5]


def test_videolens_wer_is_not_above_faster_whisper_vad_on_dev_sentences(dev_files):
    """A regression bound, not a claim about accuracy: on these dev-set files (chosen for their variety: music
    interludes, noise, short gaps), videolens with its defaults loses no more words than faster-whisper's own
    ``transcribe(vad_filter=True)`` with the same model and beam, give or take two words. The margin: on three files
    the two systems differ by single substitutions that come and go with faster-whisper's unseeded fallback sampling
    and with the espeak-ng build that renders the audio (in the 2026-12-08 environment videolens was one word behind
    here, 0.316 against 0.298, while ahead on the whole development set, 0.270 against 0.278). Losing a sentence, the
    failure this guards against, costs five words or more. Measured when written: see BENCHMARKS.md."""
    from faster_whisper import decode_audio

    from videolens.speech import Transcriber
    from videolens.speech.metrics import word_error_rate

    tr = Transcriber()
    refs = [f["reference"] for f in dev_files]
    ours = [tr(f["path"]).text for f in dev_files]
    plain = []
    for f in dev_files:
        segs, _ = tr.model.transcribe(decode_audio(f["path"]), language="en", beam_size=5, vad_filter=True)
        plain.append(" ".join(s.text.strip() for s in segs))
    wer_ours, wer_plain = word_error_rate(refs, ours), word_error_rate(refs, plain)
    words = sum(len(r.split()) for r in refs)
    assert wer_ours <= wer_plain + 2 / words, (wer_ours, wer_plain, ours, plain)
