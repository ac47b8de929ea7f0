"""On-screen text in video: captions, burned-in subtitles, titles and tickers, read with PP-OCRv4 (Chinese and
English) and merged into timed segments.

The package imports without its optional dependency (``pip install 'videolens[text]'``); it loads on use.

>>> from videolens.text import read_text
>>> result = read_text("news.mp4")                                     # doctest: +SKIP
>>> print(result.to_srt())                                             # doctest: +SKIP
"""

from .analyzer import CutDetector, TextAnalyzer
from .engine import LANGS, OcrEngine, TextLine, get_engine, normalize_text
from .run import OcrRun, ocr_files, read_text
from .segments import SegmentBuilder, TextResult, TextSegment

__all__ = ["LANGS", "CutDetector", "OcrEngine", "OcrRun", "SegmentBuilder", "TextAnalyzer", "TextLine",
           "TextResult", "TextSegment", "get_engine", "normalize_text", "ocr_files", "read_text"]
