"""Word error rate after the standard English normalisation of speech-recognition evaluations.

Whisper's papers and most published English WERs score text through Whisper's ``EnglishTextNormalizer``, so
that "twenty five" and "25", "it's" and "it is", "Mr." and "mister", "colour" and "color", "$5" and "5 dollars"
count as the same words. :func:`normalize` applies the same rules, so our WERs compare with published ones and a
recogniser is not charged for writing numbers or spellings differently from the reference:

- lower case; text in brackets or parentheses and the fillers hmm/mm/mhm/mmm/uh/um dropped;
- contractions expanded (``won't`` -> ``will not``, ``'s`` -> ``is``, ``'s been`` -> ``has been``...), titles
  spelled out (``mr`` -> ``mister``, ``dr`` -> ``doctor``, ``jr`` -> ``junior``...);
- punctuation and symbols become spaces (hyphens too), diacritics are dropped; periods inside numbers and the
  symbols $ £ € ¢ % stay with the number they belong to;
- numbers as digits: spelled numbers are read (``nineteen ninety nine`` -> ``1999``, ``two point five million``
  -> ``2500000``, ``one oh one`` -> ``101``, ``thirty first`` -> ``31st``), currencies and percent attach to them
  (``five dollars`` -> ``$5``, ``seventy six per cent`` -> ``76%``); ``one`` stays a word;
- British spellings become American ones (``colour``, ``realise``, ``centre``, ``travelled``, ``grey``...).

These rules are ported from openai/whisper's ``whisper/normalizers`` (MIT licence, Copyright (c) 2022 OpenAI),
written anew here so that videolens does not depend on openai-whisper. The British-to-American spellings are
generated from word families below rather than Whisper's 1,700-word list, so rare words may differ.

>>> normalize("Mr. Park paid $5, it's twenty-five percent off the colour TV!")
'mister park paid $5 it is 25% off the color tv'
>>> word_error_rate(["bin blue at f two now"], ["Bin blue, F2 now."])
0.16666666666666666
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator
from fractions import Fraction

# ---- numbers ---------------------------------------------------------------------------------------------------

_ONES = {w: i for i, w in enumerate("one two three four five six seven eight nine ten eleven twelve thirteen "
                                     "fourteen fifteen sixteen seventeen eighteen nineteen".split(), 1)}
_ORDINAL_ONES = {"first": 1, "second": 2, "third": 3, "fifth": 5, "ninth": 9, "twelfth": 12,
                 **{w + ("h" if w.endswith("t") else "th"): v for w, v in _ONES.items()
                    if v not in (1, 2, 3, 5, 9, 12)}}
_ONES_SUFFIXED = {**{("sixes" if w == "six" else w + "s"): (v, "s") for w, v in _ONES.items()},
                  **{w: (v, "th" if v > 3 else {1: "st", 2: "nd", 3: "rd"}[v]) for w, v in _ORDINAL_ONES.items()}}
_TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}
_TENS_SUFFIXED = {**{w[:-1] + "ies": (v, "s") for w, v in _TENS.items()},
                  **{w[:-1] + "ieth": (v, "th") for w, v in _TENS.items()}}
_MULTIPLIERS = {w: 10 ** (3 * i) if i else 100 for i, w in enumerate(
    "hundred thousand million billion trillion quadrillion quintillion sextillion septillion octillion nonillion "
    "decillion".split())}
_MULTIPLIERS_SUFFIXED = {**{w + "s": (v, "s") for w, v in _MULTIPLIERS.items()},
                         **{w + "th": (v, "th") for w, v in _MULTIPLIERS.items()}}
_ZEROS = {"o", "oh", "zero"}
_DECIMALS = {*_ONES, *_TENS, *_ZEROS}
_SIGNS = {"minus": "-", "negative": "-", "plus": "+", "positive": "+"}            # before a number
_CURRENCIES = {"pound": "£", "pounds": "£", "euro": "€", "euros": "€", "dollar": "$", "dollars": "$",
               "cent": "¢", "cents": "¢"}                                          # after a number
_SYMBOLS = set(_SIGNS.values()) | set(_CURRENCIES.values())
_SPECIALS = {"and", "double", "triple", "point", "percent", "per"}
_NUMBER_WORDS = (_ZEROS | set(_ONES) | set(_ONES_SUFFIXED) | set(_TENS) | set(_TENS_SUFFIXED) | set(_MULTIPLIERS)
                 | set(_MULTIPLIERS_SUFFIXED) | set(_SIGNS) | set(_CURRENCIES) | _SPECIALS)
_NUMERIC = re.compile(r"\d+(\.\d+)?")


def _fraction(text: str | int) -> Fraction | None:
    try:
        return Fraction(str(text))
    except ValueError:
        return None


class _Reader:
    """Reads words left to right, holding the number being spelled (an int, or a str once digits are written side
    by side, as in "five twenty four" -> "524") and the sign or currency symbol to put before it."""

    def __init__(self):
        self.value: int | str | None = None
        self.prefix: str | None = None

    def take(self, text: int | str | None = None) -> Iterator[str]:
        """The number held (or ``text``) as a word, with its prefix; the reader is empty after it."""
        out = self.value if text is None else text
        if out is not None:
            yield (self.prefix or "") + str(out)
        self.value = self.prefix = None

    def flush(self) -> Iterator[str]:
        if self.value is not None:
            yield from self.take()

    def join(self, digit: int, prev: str | None, modulus: int) -> int | str:
        """``value`` followed by a one-word number ``digit``: added when it fills a round number ("twenty" +
        "five"), else written after it ("five" + "twenty", "nineteen" + "eighty")."""
        v = self.value
        if v is None:
            return digit
        if isinstance(v, str) or prev in _ONES:
            if prev in _TENS and digit < 10:      # "...twenty" "four": the digit replaces the tens' zero
                return str(v)[:-1] + str(digit)
            return str(v) + str(digit)
        return v + digit if v % modulus == 0 else str(v) + str(digit)

    def times(self, multiplier: int) -> int | str | None:
        """``value`` times a multiplier word, or None when it cannot be (then the caller starts a new number)."""
        v = self.value
        if v is None:
            return multiplier
        if isinstance(v, str) or v == 0:
            f = _fraction(v)
            return int(f * multiplier) if f is not None and (f * multiplier).denominator == 1 else None
        return v // 1000 * 1000 + v % 1000 * multiplier


def _read_numbers(words: list[str]) -> Iterator[str]:
    r = _Reader()
    skip = False
    for i, word in enumerate(words):
        if skip:
            skip = False
            continue
        prev = words[i - 1] if i else None
        nxt = words[i + 1] if i + 1 < len(words) else None
        nxt_numeric = nxt is not None and _NUMERIC.fullmatch(nxt) is not None
        nxt_number = nxt in _NUMBER_WORDS or nxt_numeric
        symbol = word[0] in _SYMBOLS
        bare = word[1:] if symbol else word
        if _NUMERIC.fullmatch(bare):                            # digits, maybe with a sign or currency
            if r.value is not None:
                if isinstance(r.value, str) and r.value.endswith("."):   # "3 point 14"
                    r.value += word
                    continue
                yield from r.take()
            r.prefix = word[0] if symbol else r.prefix
            f = _fraction(bare)
            r.value = f.numerator if f is not None and f.denominator == 1 else bare
        elif word not in _NUMBER_WORDS:
            yield from r.flush()
            yield from r.take(word)
        elif word in _ZEROS:
            r.value = str(r.value or "") + "0"
        elif word in _ONES:
            n = _ONES[word]
            r.value = r.join(n, prev, 10 if n < 10 else 100)
        elif word in _ONES_SUFFIXED:                            # "sixes", "third": the number ends here
            n, suffix = _ONES_SUFFIXED[word]
            yield from r.take(str(r.join(n, prev, 10 if n < 10 else 100)) + suffix)
        elif word in _TENS:
            t = _TENS[word]
            v = r.value
            r.value = t if v is None else str(v) + str(t) if isinstance(v, str) or v % 100 else v + t
        elif word in _TENS_SUFFIXED:
            t, suffix = _TENS_SUFFIXED[word]
            v = r.value
            n = t if v is None else str(v) + str(t) if isinstance(v, str) or v % 100 else v + t
            yield from r.take(str(n) + suffix)
        elif word in _MULTIPLIERS:
            m = _MULTIPLIERS[word]
            product = r.times(m)
            if product is None:
                yield from r.take()
                product = m
            r.value = product
        elif word in _MULTIPLIERS_SUFFIXED:
            m, suffix = _MULTIPLIERS_SUFFIXED[word]
            product = r.times(m)
            if product is None:
                yield from r.take()
                product = m
            yield from r.take(str(product) + suffix)
        elif word in _SIGNS:
            yield from r.flush()
            if nxt_number:
                r.prefix = _SIGNS[word]
            else:
                yield from r.take(word)
        elif word in _CURRENCIES:
            if r.value is not None:
                r.prefix = _CURRENCIES[word]
                yield from r.take()
            else:
                yield from r.take(word)
        elif word in ("percent", "per"):
            if r.value is None:
                yield from r.take(word)
            elif word == "percent" or nxt == "cent":
                yield from r.take(f"{r.value}%")
                skip = word == "per"
            else:
                yield from r.take()
                yield from r.take(word)
        elif not nxt_number:                                    # and/double/triple/point before a non-number
            yield from r.flush()
            yield from r.take(word)
        elif word == "and":
            if prev not in _MULTIPLIERS:                        # "hundred and five": the "and" is part of it
                yield from r.flush()
                yield from r.take(word)
        elif word in ("double", "triple"):
            if nxt in _ONES or nxt in _ZEROS:
                r.value = str(r.value or "") + str(_ONES.get(nxt, 0)) * (2 if word == "double" else 3)
                skip = True
            else:
                yield from r.flush()
                yield from r.take(word)
        elif word == "point" and (nxt in _DECIMALS or nxt_numeric):
            r.value = str(r.value or "") + "."
    yield from r.flush()


def _cents(m: re.Match) -> str:
    return f"{m.group(1)}{m.group(2)}.{int(m.group(3)):02d}"


def standardize_numbers(text: str) -> str:
    """Spelled and written numbers as digits (Whisper's ``EnglishNumberNormalizer``).

    >>> standardize_numbers("two dollars and seventy cents"), standardize_numbers("nineteen fifties")
    ('$2.70', '1950s')
    """
    # "<number> and a half" -> "<number> point five"; "half a million" -> "0.5 million"
    parts = re.split(r"\band\s+a\s+half\b", text)
    out = []
    for i, part in enumerate(parts):
        if not part.strip():
            continue
        out.append(part)
        if i < len(parts) - 1:
            last = part.split()[-1]
            out.append("point five" if last in _DECIMALS or last in _MULTIPLIERS else "and a half")
    text = " ".join(out)
    multipliers = "|".join(sorted(_MULTIPLIERS, key=len, reverse=True))
    text = re.sub(rf"\b(?:a\s+half\s+|half\s+(?:a\s+)?)({multipliers})\b", r"0.5 \1", text)
    text = re.sub(r"([a-z])([0-9])", r"\1 \2", text)           # "b747" -> "b 747"
    text = re.sub(r"([0-9])([a-z])", r"\1 \2", text)
    text = re.sub(r"([0-9])\s+(st|nd|rd|th|s)\b", r"\1\2", text)  # ... but "10 th" -> "10th"
    text = " ".join(_read_numbers(text.split()))
    text = re.sub(r"([€£$])([0-9]+) (?:and )?¢([0-9]{1,2})\b", _cents, text)     # "$2 and ¢7" -> "$2.07"
    text = re.sub(r"[€£$]0\.([0-9]{1,2})\b", lambda m: f"¢{int(m.group(1))}", text)  # "$0.36" -> "¢36"
    return re.sub(r"\b1(s?)\b", r"one\1", text)                # "one" reads better than "1"


# ---- British -> American spellings -----------------------------------------------------------------------------

# Word families, each generated with its inflections (a form that is not a word never occurs in a transcript).
_OUR = ("ardour armour behaviour candour clamour colour demeanour endeavour favour fervour flavour harbour honour "
        "humour labour neighbour odour parlour rancour rigour rumour saviour savour splendour succour tumour valour "
        "vapour vigour").split()
_OUR_SUFFIXES = ("", "s", "ed", "ing", "er", "ers", "ful", "fully", "less", "able", "ably", "ite", "ites", "al",
                 "ally", "hood", "hoods", "ly", "ist", "ists", "y", "ism", "isms", "ings")
_ISE = ("agonis antagonis apologis authoris capitalis categoris centralis characteris civilis colonis criticis "
        "customis economis emphasis energis familiaris fantasis fertilis finalis generalis globalis harmonis "
        "hospitalis hypnotis idealis immunis industrialis initialis itemis jeopardis legalis legitimis liberalis "
        "localis materialis maximis memoris minimis mobilis modernis moisturis monopolis neutralis normalis "
        "optimis organis pasteuris patronis penalis personalis polaris popularis prioritis privatis publicis "
        "randomis rationalis realis recognis revolutionis satiris scrutinis socialis specialis stabilis "
        "standardis sterilis subsidis summaris symbolis sympathis synchronis terroris theoris trivialis unionis "
        "urbanis utilis vandalis vaporis visualis westernis").split()
_ISE_SUFFIXES = ("e", "ed", "es", "ing", "ation", "ations", "er", "ers", "able")
_YSE = "analy breathaly cataly dialy electroly hydroly paraly".split()
_TRE = ("calibre centre epicentre fibre goitre kilometre centimetre millimetre metre litre millilitre lustre "
        "meagre mitre sabre saltpetre sceptre sombre spectre theatre").split()
_TRE_SUFFIXES = ("", "s", "d")
_OGUE = "analogue catalogue dialogue epilogue monologue prologue travelogue".split()
_DOUBLED_L = ("barrel bevel cancel channel chisel counsel cudgel dial dishevel drivel duel enamel equal fuel funnel "
              "grovel initial jewel kennel label level libel marshal marvel model panel pedal pencil pummel "
              "quarrel revel rival shovel signal snorkel spiral stencil swivel tassel total towel travel trowel "
              "tunnel yodel").split()
_ENCE = "defence offence licence pretence".split()
_SINGLE = {"enrol": "enroll", "enrols": "enrolls", "enrolment": "enrollment", "enrolments": "enrollments",
           "fulfil": "fulfill", "fulfils": "fulfills", "fulfilment": "fulfillment", "instil": "instill",
           "instils": "instills", "distil": "distill", "distils": "distills", "skilful": "skillful",
           "skilfully": "skillfully", "wilful": "willful", "wilfully": "willfully", "instalment": "installment",
           "instalments": "installments", "appal": "appall", "appals": "appalls"}
_WORDS = {
    "grey": "gray", "greys": "grays", "greyer": "grayer", "greyest": "grayest", "greyish": "grayish",
    "greying": "graying", "tyre": "tire", "tyres": "tires", "plough": "plow", "ploughs": "plows",
    "ploughed": "plowed", "ploughing": "plowing", "programme": "program", "programmes": "programs",
    "aluminium": "aluminum", "mould": "mold", "moulds": "molds", "mouldy": "moldy", "moulded": "molded",
    "moult": "molt", "smoulder": "smolder", "smouldering": "smoldering", "moustache": "mustache",
    "moustaches": "mustaches", "pyjamas": "pajamas", "pyjama": "pajama", "sceptic": "skeptic",
    "sceptical": "skeptical", "scepticism": "skepticism", "aeroplane": "airplane", "aeroplanes": "airplanes",
    "cheque": "check", "cheques": "checks", "chequebook": "checkbook", "kerb": "curb", "kerbs": "curbs",
    "draught": "draft", "draughts": "drafts", "draughty": "drafty", "storey": "story", "storeys": "stories",
    "cosy": "cozy", "cosier": "cozier", "ageing": "aging", "judgement": "judgment", "judgements": "judgments",
    "acknowledgement": "acknowledgment", "practise": "practice", "practised": "practiced",
    "practises": "practices", "practising": "practicing", "licenced": "licensed", "artefact": "artifact",
    "artefacts": "artifacts", "gaol": "jail", "jewellery": "jewelry",
    "yoghurt": "yogurt", "sulphur": "sulfur", "omelette": "omelet", "omelettes": "omelets", "chilli": "chili",
    "chillies": "chilies", "furore": "furor", "speciality": "specialty", "mollusc": "mollusk",
    "woollen": "woolen", "woolly": "wooly", "annexe": "annex", "kilogramme": "kilogram", "titbit": "tidbit",
    "waggon": "wagon", "waggons": "wagons", "manoeuvre": "maneuver", "manoeuvres": "maneuvers",
    "manoeuvred": "maneuvered", "manoeuvring": "maneuvering", "centring": "centering", "mediaeval": "medieval",
    "encyclopaedia": "encyclopedia", "paediatric": "pediatric", "paediatrics": "pediatrics",
    "paediatrician": "pediatrician", "orthopaedic": "orthopedic", "anaemia": "anemia", "anaemic": "anemic",
    "anaesthetic": "anesthetic", "anaesthesia": "anesthesia", "haemoglobin": "hemoglobin",
    "haemorrhage": "hemorrhage", "leukaemia": "leukemia", "oesophagus": "esophagus", "oestrogen": "estrogen",
    "foetus": "fetus", "diarrhoea": "diarrhea", "marvellous": "marvelous", "marvellously": "marvelously",
    "counsellor": "counselor", "counsellors": "counselors", "cancelation": "cancellation",
    "defenceless": "defenseless", "savoury": "savory",
}


@functools.lru_cache(maxsize=1)
def _spellings() -> dict[str, str]:
    m: dict[str, str] = {}
    for w in _OUR:
        for s in _OUR_SUFFIXES:
            m[w + s] = w[:-2] + "r" + s
    for stem in _ISE:
        for s in _ISE_SUFFIXES:
            m[stem + s] = stem[:-1] + "z" + s
    for stem in _YSE:
        for s in ("se", "sed", "ses", "sing", "ser", "sers"):
            m[stem + s] = stem + "z" + s[1:]
    for w in _TRE:
        for s in _TRE_SUFFIXES:
            m[w + s] = w[:-2] + "er" + s
    for w in _OGUE:
        m[w], m[w + "s"] = w[:-2], w[:-2] + "s"
        m[w + "d"], m[w[:-1] + "ing"] = w[:-2] + "ed", w[:-2] + "ing"
    for w in _DOUBLED_L:
        for s in ("led", "ling", "ler", "lers"):
            m[w + s] = w + s[1:]
    for w in _ENCE:
        m[w], m[w + "s"] = w[:-2] + "se", w[:-2] + "ses"
    return {**m, **_SINGLE, **_WORDS}


def standardize_spellings(text: str) -> str:
    """British spellings as American ones, word by word.

    >>> standardize_spellings("the colourful centre organised a travelling programme")
    'the colorful center organized a traveling program'
    """
    m = _spellings()
    return " ".join(m.get(w, w) for w in text.split())


# ---- the whole normaliser --------------------------------------------------------------------------------------

_FILLERS = re.compile(r"\b(hmm|mm|mhm|mmm|uh|um)\b")
_CONTRACTIONS = [(re.compile(p), r) for p, r in [
    (r"\bwon't\b", "will not"), (r"\bcan't\b", "can not"), (r"\blet's\b", "let us"), (r"\bain't\b", "aint"),
    (r"\by'all\b", "you all"), (r"\bwanna\b", "want to"), (r"\bgotta\b", "got to"), (r"\bgonna\b", "going to"),
    (r"\bi'ma\b", "i am going to"), (r"\bimma\b", "i am going to"), (r"\bwoulda\b", "would have"),
    (r"\bcoulda\b", "could have"), (r"\bshoulda\b", "should have"), (r"\bma'am\b", "madam"),
    # titles
    (r"\bmr\b", "mister "), (r"\bmrs\b", "missus "), (r"\bst\b", "saint "), (r"\bdr\b", "doctor "),
    (r"\bprof\b", "professor "), (r"\bcapt\b", "captain "), (r"\bgov\b", "governor "), (r"\bald\b", "alderman "),
    (r"\bgen\b", "general "), (r"\bsen\b", "senator "), (r"\brep\b", "representative "),
    (r"\bpres\b", "president "), (r"\brev\b", "reverend "), (r"\bhon\b", "honorable "),
    (r"\basst\b", "assistant "), (r"\bassoc\b", "associate "), (r"\blt\b", "lieutenant "),
    (r"\bcol\b", "colonel "), (r"\bjr\b", "junior "), (r"\bsr\b", "senior "), (r"\besq\b", "esquire "),
    # perfect tenses, where the contraction is not ambiguous
    (r"'d been\b", " had been"), (r"'s been\b", " has been"), (r"'d gone\b", " had gone"),
    (r"'s gone\b", " has gone"), (r"'d done\b", " had done"), (r"'s got\b", " has got"),
    # the rest
    (r"n't\b", " not"), (r"'re\b", " are"), (r"'s\b", " is"), (r"'d\b", " would"), (r"'ll\b", " will"),
    (r"'t\b", " not"), (r"'ve\b", " have"), (r"'m\b", " am")]]
_LETTERS = {"œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "ẞ": "SS", "đ": "d",
            "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "th", "ł": "l", "Ł": "L"}
_KEEP = ".%$¢€£"


def _symbols_to_spaces(text: str) -> str:
    """Marks, symbols and punctuation as spaces, diacritics dropped ("café" -> "cafe"), number symbols kept."""
    out = []
    for c in unicodedata.normalize("NFKD", text):
        cat = unicodedata.category(c)
        if c in _KEEP:
            out.append(c)
        elif c in _LETTERS:
            out.append(_LETTERS[c])
        elif cat == "Mn":
            continue
        else:
            out.append(" " if cat[0] in "MSP" else c)
    return "".join(out)


def normalize(text: str) -> str:
    """English text as speech recognition is scored (Whisper's ``EnglishTextNormalizer``; see the module).

    >>> normalize("Let's meet at half past two, Dr. Smith.")
    'let us meet at half past 2 doctor smith'
    """
    s = text.lower()
    s = re.sub(r"[<\[][^>\]]*[>\]]", "", s)      # [music], <unk>
    s = re.sub(r"\(([^)]+?)\)", "", s)           # (laughs)
    s = _FILLERS.sub("", s)
    s = re.sub(r"\s+'", "'", s)
    for pattern, replacement in _CONTRACTIONS:
        s = pattern.sub(replacement, s)
    s = re.sub(r"(\d),(\d)", r"\1\2", s)           # 1,000 -> 1000
    s = re.sub(r"\.([^0-9]|$)", r" \1", s)        # periods, except inside numbers
    s = _symbols_to_spaces(s)
    s = standardize_numbers(s)
    s = standardize_spellings(s)
    s = re.sub(r"([$¢€£])\s+([0-9])", r"\1\2", s)  # symbols stay with their number ...
    s = re.sub(r"([0-9])\s+%", r"\1%", s)
    s = re.sub(r"[.$¢€£](?![0-9])", " ", s)         # ... and go where they have none (also at the end: "…")
    s = re.sub(r"(?<![0-9])%", " ", s)
    return " ".join(s.split())


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """Corpus WER (errors / reference words) over pairs of texts, after :func:`normalize`."""
    import jiwer

    refs = [normalize(r) for r in references]
    hyps = [normalize(h) for h in hypotheses]
    if not any(refs):
        raise ValueError("the references are empty")
    # jiwer refuses an empty reference sentence; an empty hypothesis is fine (all deletions).
    pairs = [(r, h) for r, h in zip(refs, hyps) if r]
    return float(jiwer.wer([r for r, _ in pairs], [h for _, h in pairs]))
