"""Silero VAD without torch: its batched ONNX model and its probabilities-to-segments state machine.

The ``silero-vad`` package (MIT licence, https://github.com/snakers4/silero-vad) ships the ONNX model this loads, but
importing the package imports torch (~0.5 GB of RSS), which ``videolens analyze`` otherwise never needs.
:func:`speech_timestamps_from_probs` is a verbatim copy of its ``get_speech_timestamps_from_probs`` (silero-vad
6.2.3, sample units only); ``tests/test_speech.py`` checks that the two give the same segments.

Copyright (c) 2020-present Silero Team, MIT licence.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

from ..errors import VideolensError

MODEL = "silero_vad_16k_sequence.onnx"


def model_path() -> Path:
    """The batched 16 kHz model inside the installed silero-vad package (found without importing it)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise VideolensError("voice activity detection needs silero-vad; install it with: pip install 'videolens[speech]'")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / MODEL
    if not path.is_file():
        raise VideolensError(f"silero-vad is installed but {path} is missing; reinstall it: "
                             "pip install --force-reinstall 'silero-vad>=6,<7'")
    return path


@functools.lru_cache(maxsize=1)
def session():
    """An ONNX Runtime session of the batched model, one thread (as silero-vad's own ``SileroVADSequence``)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(model_path()), providers=["CPUExecutionProvider"], sess_options=options)


def speech_timestamps_from_probs(speech_probs: list[float],
                                 sampling_rate: int = 16000,
                                 threshold: float = 0.5,
                                 min_speech_duration_ms: int = 250,
                                 max_speech_duration_s: float = float('inf'),
                                 min_silence_duration_ms: int = 100,
                                 speech_pad_ms: int = 30,
                                 neg_threshold: float | None = None,
                                 min_silence_at_max_speech: int = 98,
                                 use_max_poss_sil_at_max_speech: bool = True,
                                 audio_length_samples: int | None = None) -> list[dict]:
    """Per-window speech probabilities -> ``[{"start": sample, "end": sample}, ...]`` (Silero's state machine)."""
    window_size_samples = 512 if sampling_rate == 16000 else 256
    if audio_length_samples is None:
        audio_length_samples = len(speech_probs) * window_size_samples

    min_speech_samples = sampling_rate * min_speech_duration_ms / 1000
    speech_pad_samples = sampling_rate * speech_pad_ms / 1000
    max_speech_samples = sampling_rate * max_speech_duration_s - window_size_samples - 2 * speech_pad_samples
    min_silence_samples = sampling_rate * min_silence_duration_ms / 1000
    min_silence_samples_at_max_speech = sampling_rate * min_silence_at_max_speech / 1000

    triggered = False
    speeches = []
    current_speech = {}

    if neg_threshold is None:
        neg_threshold = max(threshold - 0.15, 0.01)
    temp_end = 0  # to save potential segment end (and tolerate some silence)
    prev_end = next_start = 0  # to save potential segment limits in case of maximum segment size reached
    possible_ends = []

    for i, speech_prob in enumerate(speech_probs):
        cur_sample = window_size_samples * i

        # If speech returns after a temp_end, record candidate silence if long enough and clear temp_end
        if (speech_prob >= threshold) and temp_end:
            sil_dur = cur_sample - temp_end
            if sil_dur > min_silence_samples_at_max_speech:
                possible_ends.append((temp_end, sil_dur))
            temp_end = 0
            if next_start < prev_end:
                next_start = cur_sample

        # Start of speech
        if (speech_prob >= threshold) and not triggered:
            triggered = True
            current_speech['start'] = cur_sample
            continue

        # Max speech length reached: decide where to cut
        if triggered and (cur_sample - current_speech['start'] > max_speech_samples):
            if use_max_poss_sil_at_max_speech and possible_ends:
                prev_end, dur = max(possible_ends, key=lambda x: x[1])  # use the longest possible silence segment in the current speech chunk
                current_speech['end'] = prev_end
                speeches.append(current_speech)
                current_speech = {}
                next_start = prev_end + dur

                if next_start < prev_end + cur_sample:  # previously reached silence (< neg_thres) and is still not speech (< thres)
                    current_speech['start'] = next_start
                else:
                    triggered = False
                prev_end = next_start = temp_end = 0
                possible_ends = []
            else:
                # Legacy max-speech cut (use_max_poss_sil_at_max_speech=False): prefer last valid silence (prev_end) if available
                if prev_end:
                    current_speech['end'] = prev_end
                    speeches.append(current_speech)
                    current_speech = {}
                    if next_start < prev_end:
                        triggered = False
                    else:
                        current_speech['start'] = next_start
                    prev_end = next_start = temp_end = 0
                    possible_ends = []
                else:
                    # No prev_end -> fallback to cutting at current sample
                    current_speech['end'] = cur_sample
                    speeches.append(current_speech)
                    current_speech = {}
                    prev_end = next_start = temp_end = 0
                    triggered = False
                    possible_ends = []
                    continue

        # Silence detection while in speech
        if (speech_prob < neg_threshold) and triggered:
            if not temp_end:
                temp_end = cur_sample
            sil_dur_now = cur_sample - temp_end

            if not use_max_poss_sil_at_max_speech and sil_dur_now > min_silence_samples_at_max_speech:  # condition to avoid cutting in very short silence
                prev_end = temp_end

            if sil_dur_now < min_silence_samples:
                continue
            else:
                current_speech['end'] = temp_end
                if (current_speech['end'] - current_speech['start']) > min_speech_samples:
                    speeches.append(current_speech)
                current_speech = {}
                prev_end = next_start = temp_end = 0
                triggered = False
                possible_ends = []
                continue

    if current_speech and (audio_length_samples - current_speech['start']) > min_speech_samples:
        current_speech['end'] = audio_length_samples
        speeches.append(current_speech)

    for i, speech in enumerate(speeches):
        if i == 0:
            speech['start'] = int(max(0, speech['start'] - speech_pad_samples))
        if i != len(speeches) - 1:
            silence_duration = speeches[i+1]['start'] - speech['end']
            if silence_duration < 2 * speech_pad_samples:
                speech['end'] += int(silence_duration // 2)
                speeches[i+1]['start'] = int(max(0, speeches[i+1]['start'] - silence_duration // 2))
            else:
                speech['end'] = int(min(audio_length_samples, speech['end'] + speech_pad_samples))
                speeches[i+1]['start'] = int(max(0, speeches[i+1]['start'] - speech_pad_samples))
        else:
            speech['end'] = int(min(audio_length_samples, speech['end'] + speech_pad_samples))

    return speeches
