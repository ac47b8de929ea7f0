"""Video I/O: frame-exact reading, clip sampling, audio extraction and H.264 writing."""

from .audio import read_audio
from .reader import FrameBatch, VideoInfo, VideoReader, probe
from .sampling import (multi_clips, random_clip, random_clip_seconds, sliding_windows, sliding_windows_seconds,
                       uniform_segments)
from .writer import VideoWriter

__all__ = ["FrameBatch", "VideoInfo", "VideoReader", "VideoWriter", "multi_clips", "probe", "random_clip",
           "random_clip_seconds", "read_audio", "sliding_windows", "sliding_windows_seconds", "uniform_segments"]
