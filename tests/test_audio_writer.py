"""read_audio and VideoWriter on real files: resampling, channels, no-audio errors, H.264 output, VFR, audio sync."""

from __future__ import annotations

import os
from fractions import Fraction

import av
import numpy as np
import pytest

from conftest import shared
from videolens import NoAudioError, VideoError, VideoReader, VideoWriter, probe, read_audio
from videolens.datasets.testvideo import index_frame, read_index


def _tone_wav(path, freq=440.0, rate=44100, seconds=1.0, channels=2):
    t = np.arange(int(rate * seconds)) / rate
    left = 0.5 * np.sin(2 * np.pi * freq * t)
    right = 0.25 * np.sin(2 * np.pi * freq * 2 * t)
    data = np.stack([left, right][:channels]).astype(np.float32)
    with av.open(str(path), "w") as c:
        s = c.add_stream("pcm_s16le", rate=rate)
        s.layout = "stereo" if channels == 2 else "mono"
        frame = av.AudioFrame.from_ndarray(data, format="fltp", layout=s.layout.name)
        frame.sample_rate = rate
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


def _peak_hz(x, rate):
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spec)]


def test_read_audio_resamples_and_keeps_channels(tmp_path):
    wav = _tone_wav(tmp_path / "tone.wav")
    stereo = read_audio(wav, sample_rate=16000, mono=False)
    assert stereo.dtype == np.float32 and stereo.shape[0] == 2
    assert abs(stereo.shape[1] - 16000) <= 64
    assert _peak_hz(stereo[0], 16000) == pytest.approx(440, abs=3)
    assert _peak_hz(stereo[1], 16000) == pytest.approx(880, abs=3)
    mono = read_audio(wav, sample_rate=8000)
    assert mono.ndim == 1 and abs(len(mono) - 8000) <= 32
    np.testing.assert_allclose(mono, read_audio(wav, sample_rate=8000, mono=False).mean(axis=0), atol=1e-6)
    assert 0.3 < np.abs(mono).max() < 0.4    # (0.5 sin x + 0.25 sin 2x) / 2 peaks at ~0.33
    part = read_audio(wav, sample_rate=16000, start=0.25, end=0.5)
    assert len(part) == 4000


def test_read_audio_from_video_containers():
    grid = read_audio(shared("speech", "GRID", "brbk7n.mpg"))          # MPEG-1 + MP2
    assert abs(len(grid) / 16000 - 3.0) < 0.1 and np.abs(grid).max() > 0.05
    flac = read_audio(shared("speech", "faster-whisper", "jfk.flac"))
    assert abs(len(flac) / 16000 - 11.0) < 0.1
    both = read_audio(shared("speech", "faster-whisper", "stereo_diarization.wav"), mono=False)
    assert both.shape[0] == 2 and not np.allclose(both[0], both[1])


def test_read_audio_without_audio_is_a_clear_error():
    path = shared("shots", "counter.mp4")
    with pytest.raises(NoAudioError, match="no audio stream") as e:
        read_audio(path)
    assert isinstance(e.value, VideoError) and str(path) in str(e.value)
    with pytest.raises(NoAudioError, match="no audio stream 3"):
        read_audio(shared("shots", "testvideo.mp4").with_name("issue-134-rotate.mp4"), stream=3)


def test_writer_makes_browser_h264_that_reads_back_exactly(tmp_path):
    out = tmp_path / "w.mp4"
    with VideoWriter(out, fps=25, size=(160, 96), crf=12) as w:
        for i in range(40):
            w.write(index_frame(i, 160, 96))
    info = probe(out)
    assert info.codec == "h264" and info.pix_fmt == "yuv420p" and info.frames == 40
    assert info.fps == pytest.approx(25) and not info.vfr
    reader = VideoReader(out)
    assert [read_index(f) for f in reader.get_frames(range(40))] == list(range(40))
    diff = np.abs(reader[20].astype(int) - index_frame(20, 160, 96).astype(int)).mean()
    assert diff < 6
    with av.open(str(out)) as c:   # faststart: the index (moov) comes before the media data
        assert c.streams.video[0].codec_context.profile in ("High", "Main", "Constrained Baseline")
    assert open(out, "rb").read(64).find(b"moov") != -1 or b"moov" in open(out, "rb").read(4096)


def test_writer_keeps_vfr_timestamps_and_copies_or_encodes_audio(tmp_path):
    src = shared("shots", "goldeneye-vfr-drop3.mp4")
    reader = VideoReader(src)
    for audio_src, mode, codec in [(shared("shots", "issue-134-rotate.mp4"), "auto", "aac"),
                                   (shared("speech", "GRID", "brbk7n.mpg"), "auto", "aac")]:
        out = tmp_path / f"{mode}-{audio_src.stem}.mp4"
        with VideoWriter(out, fps=reader.fps, size=(160, 68), audio_from=audio_src, audio=mode) as w:
            for b in reader.iter_frames(size=(160, 68), batch=16):
                w.write_batch(b.frames, b.timestamps)
        back = VideoReader(out)
        assert len(back) == len(reader)
        np.testing.assert_allclose(back.timestamps, reader.timestamps, atol=1e-4)
        info = probe(out)
        assert info.vfr and info.audio and info.audio[0].codec == codec
        audio = read_audio(out)
        src_seconds = min(len(read_audio(audio_src)) / 16000, back.duration)
        assert abs(len(audio) / 16000 - src_seconds) < 0.15


def test_writer_audio_offset_cuts_a_piece(tmp_path):
    src = shared("speech", "GRID", "brbk7n.mpg")
    reader = VideoReader(src)
    t0 = reader.timestamps[25]
    out = tmp_path / "piece.mp4"
    with VideoWriter(out, fps=25, size=reader.size, audio_from=src, audio_offset=t0) as w:
        for b in reader.iter_frames(start=25, end=50, batch=5):
            w.write_batch(b.frames, b.timestamps - t0)
    full, piece = read_audio(src), read_audio(out)
    assert abs(len(piece) / 16000 - 1.0) < 0.1
    # the piece's sound is the source's sound from t0 (AAC delay aside): find the best alignment
    a = piece[4000:8000]
    lags = range(int(t0 * 16000) - 2000, int(t0 * 16000) + 2000, 8)
    best = max(lags, key=lambda lag: float(np.dot(a, full[lag + 4000:lag + 8000])))
    assert abs(best / 16000 - t0) < 0.06


def test_writer_is_atomic_and_pads_odd_sizes(tmp_path):
    out = tmp_path / "fail.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(out, fps=10, size=(64, 48)) as w:
            w.write(np.zeros((48, 64, 3), np.uint8))
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []
    odd = tmp_path / "odd.mp4"
    with VideoWriter(odd, fps=10, size=(33, 17)) as w:
        for _ in range(3):
            w.write(np.full((17, 33, 3), 200, np.uint8))
    assert probe(odd).stored_size == (34, 18)
    with pytest.raises(ValueError, match="does not match"):
        VideoWriter(tmp_path / "x.mp4", fps=10, size=(64, 48)).write(np.zeros((10, 10, 3), np.uint8))
    assert Fraction(VideoWriter(tmp_path / "y.mp4", fps=29.97, size=(8, 8)).fps) == Fraction(30000, 1001)
