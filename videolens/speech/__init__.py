"""Speech in video: voice activity (Silero VAD) and transcription (faster-whisper) to SRT, WebVTT, JSON and text.

The package imports without its optional dependencies (``pip install 'videolens[speech]'``); they load on use.

>>> import videolens
>>> t = videolens.transcribe("talk.mp4", language="en")          # doctest: +SKIP
>>> print(t.to_srt())                                            # doctest: +SKIP
>>> from videolens.speech import detect_speech
>>> [(s.start, s.end) for s in detect_speech("talk.mp4").segments]   # doctest: +SKIP
"""

from .analyzer import SpeechAnalyzer
from .batch import TranscribeRun, VadRun, detect_speech_files, transcribe_files
from .model import ModelNotFoundError, ModelSpec, load_model, resolve_model
from .transcribe import Transcriber, transcribe, transcribe_to_files
from .transcript import FORMATS, Cue, Segment, Transcript, Word, make_cues, parse_formats, wrap, write_subtitles
from .vad import SpeechSegment, StreamingVAD, VadOptions, VadResult, detect_speech

__all__ = ["FORMATS", "Cue", "ModelNotFoundError", "ModelSpec", "Segment", "SpeechAnalyzer", "SpeechSegment",
           "StreamingVAD", "TranscribeRun", "Transcriber", "Transcript", "VadOptions", "VadResult", "VadRun", "Word",
           "detect_speech", "detect_speech_files", "load_model", "make_cues", "parse_formats", "resolve_model",
           "transcribe", "transcribe_files", "transcribe_to_files", "wrap", "write_subtitles"]
