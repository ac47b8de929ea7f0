"""VideoReader: frame-exactness, timestamps, rotation, random access and streaming, on real and generated files."""

from __future__ import annotations

import pickle

import av
import numpy as np
import pytest

from conftest import shared
from videolens import VideoReader
from videolens.datasets.testvideo import make_index_video, read_index


def reference_decode(path, keep=None, size=None):
    """A bare PyAV decode of every frame, sorted by PTS: the definition of frame order for files with real PTS.

    Returns every frame's time, and the frames at the indices in ``keep`` (all when None), unscaled unless ``size``.
    """
    with av.open(str(path)) as c:
        order = sorted((f.pts, f.time) for f in c.decode(c.streams.video[0]))
    wanted = {order[int(i)][0]: int(i) for i in (range(len(order)) if keep is None else keep)}
    frames = {}
    with av.open(str(path)) as c:                 # second pass keeps only the wanted frames (memory)
        for f in c.decode(c.streams.video[0]):
            if f.pts in wanted:
                frames[wanted[f.pts]] = (f.to_ndarray(format="rgb24") if size is None else
                                         f.to_ndarray(format="rgb24", width=size[0], height=size[1]))
    return np.array([t for _, t in order]), frames


REAL = ["counter.mp4", "goldeneye-vfr-drop3.mp4", "delayed_start.mp4", "testvideo.mp4", "fades.mp4",
        "issue-236-split-copy.mkv", "issue-195-aspect-ratio.mp4"]


@pytest.mark.parametrize("name", REAL)
def test_real_clip_matches_reference_decode_in_any_order(name):
    path = shared("shots", name)
    reader = VideoReader(path)
    idx = np.random.default_rng(0).permutation(len(reader))[:24]
    ref_t, ref = reference_decode(path, keep=idx)
    assert len(reader) == len(ref_t)
    np.testing.assert_allclose(reader.timestamps, ref_t, atol=1e-6)
    got = reader.get_frames(idx)                   # unscaled RGB: bit-identical to PyAV's own conversion
    for k, i in enumerate(idx):
        np.testing.assert_array_equal(got[k], ref[int(i)], err_msg=f"frame {i}")
    fresh = VideoReader(path)                      # one at a time, in random order
    for i in idx[:8]:
        np.testing.assert_array_equal(fresh[int(i)], ref[int(i)], err_msg=f"frame {i}")
    assert reader.bad_frames == 0


@pytest.mark.parametrize("name", ["testvideo.mp4", "issue-236-split-copy.mkv"])
def test_skip_loop_filter_changes_pixels_a_little_and_nothing_else(name, index_videos):
    """The opt-in fast mode: same frames at the same times, near the exact pixels, in any order."""
    path = shared("shots", name)
    exact, fast = VideoReader(path), VideoReader(path, skip_loop_filter=True)
    assert len(fast) == len(exact) and np.array_equal(fast.timestamps, exact.timestamps)
    idx = np.random.default_rng(1).permutation(len(exact))[:12]
    a = exact.get_frames(idx, size=224).astype(np.int16)
    b = fast.get_frames(idx, size=224).astype(np.int16)
    diff = np.abs(a - b).mean(axis=(1, 2, 3))
    assert diff.max() < 3 and diff.mean() > 0           # not the decoder's exact pixels, but close
    assert fast.bad_frames == 0
    copy = pickle.loads(pickle.dumps(fast))             # the option survives a pickle (its decoder is reopened)
    assert np.array_equal(copy.get_frames(idx[:4], size=224).astype(np.int16), b[:4])
    # Still frame-exact, in streaming and in random order (frames that encode their own index).
    gen, _ = index_videos["h264_bframes.mp4"]
    fast = VideoReader(gen, skip_loop_filter=True)
    assert [read_index(f) for b in fast.iter_frames(batch=7) for f in b.frames] == list(range(90))
    order = np.random.default_rng(3).permutation(90)[:30]
    assert [read_index(f) for f in fast.get_frames(order)] == order.tolist()


def test_counter_frames_by_colour_segments():
    # counter.mp4: the background colour changes at index 10 and 20; frame i is labelled "Frame = i+1".
    reader = VideoReader(shared("shots", "counter.mp4"))
    frames = reader.get_frames([29, 0, 15, 9, 10, 20, 19, 5], size=(64, 36))
    corner = frames[:, :8, :8].reshape(len(frames), -1, 3).mean(axis=1)
    seg = {0: corner[1], 1: corner[2], 2: corner[0]}
    for k, i in enumerate([29, 0, 15, 9, 10, 20, 19, 5]):
        np.testing.assert_allclose(corner[k], seg[i // 10], atol=4)
    assert np.abs(seg[0] - seg[1]).max() > 20 and np.abs(seg[1] - seg[2]).max() > 20
    np.testing.assert_allclose(reader.timestamps, np.arange(30) / 10, atol=1e-9)


def test_vfr_timestamps_come_from_pts():
    reader = VideoReader(shared("shots", "goldeneye-vfr-drop3.mp4"))
    assert len(reader) == 160
    assert reader.info.vfr
    assert reader.timestamps[60] == pytest.approx(3.754, abs=1e-3)
    assert reader.timestamps[140] == pytest.approx(8.759, abs=1e-3)
    # every third frame dropped: frames last one or two 1/23.976 s ticks, so index / fps is not the time
    steps = np.unique(np.round(np.diff(reader.timestamps) * 24000 / 1001).astype(int))
    assert steps.tolist() == [1, 2]
    assert reader.fps == pytest.approx(16.05, abs=0.01)


def test_delayed_start_times_and_lookup():
    reader = VideoReader(shared("shots", "delayed_start.mp4"))
    assert len(reader) == 24
    assert reader.start_time == pytest.approx(1.075)
    assert reader.timestamps[0] == pytest.approx(1.075)
    np.testing.assert_array_equal(reader.index_at([0.0, 1.075, 1.114, 1.115, 1.56]), [0, 0, 0, 1, 12])
    np.testing.assert_array_equal(reader.get_frames_at([1.115]), reader.get_frames([1]))
    with pytest.raises(IndexError):
        reader.get_frames_at([5.0])


def test_rotation_metadata_turns_frames_upright():
    path = shared("shots", "issue-134-rotate.mp4")
    reader = VideoReader(path)
    assert reader.rotation == 90
    assert reader.size == (544, 1280)
    frame = reader[100]
    assert frame.shape == (1280, 544, 3)
    _, ref = reference_decode(path, keep=[100])
    np.testing.assert_array_equal(frame, np.rot90(ref[100], k=-1))
    # size= is in upright orientation
    assert reader.get_frames([3], size=(100, 200)).shape == (1, 200, 100, 3)
    assert reader.get_frames([3], size=136).shape == (1, 320, 136, 3)


@pytest.mark.parametrize("name", ["h264_bframes.mp4", "h264_open_gop.mp4", "h264.mkv", "h264_avi.avi", "h264.ts",
                                  "mpeg2.mpg", "mpeg4_bframes.avi", "vfr.mp4", "late_start.mp4"])
def test_generated_frames_know_their_index(index_videos, name):
    path, spec = index_videos[name]
    reader = VideoReader(path)
    assert len(reader) == 90
    streamed = [read_index(f) for b in reader.iter_frames(batch=7) for f in b.frames]
    assert streamed == list(range(90))
    order = np.random.default_rng(3).permutation(90)[:45]
    assert [read_index(f) for f in VideoReader(path).get_frames(order)] == order.tolist()
    one = VideoReader(path)
    assert [read_index(one[int(i)]) for i in order[:15]] == order[:15].tolist()
    if "timestamps" in spec:
        tol = 1.1e-3 if name.endswith(".mkv") else 1e-4
        np.testing.assert_allclose(reader.timestamps, spec["timestamps"], atol=tol)
    assert reader.bad_frames == 0


def test_generated_rotation(index_videos):
    path, _ = index_videos["rotated90.mp4"]
    reader = VideoReader(path)
    assert reader.rotation == 90 and reader.size == (108, 192)
    frames = reader.get_frames([5, 50])
    assert [read_index(np.rot90(f, k=1)) for f in frames] == [5, 50]


def test_random_access_seeks_instead_of_decoding_from_start(tmp_path):
    path = make_index_video(tmp_path / "long.mp4", 600, size=(128, 72), fps=25, gop=25)
    reader = VideoReader(path)
    assert read_index(reader[590]) == 590
    assert reader.stats["decoded"] <= 25 + 8       # one GOP (plus decoder delay), not 590 frames
    before = dict(reader.stats)
    frames = reader.get_frames([591, 592, 596])     # sorted and close: the decoder just continues
    assert [read_index(f) for f in frames] == [591, 592, 596]
    assert reader.stats["seeks"] == before["seeks"]
    reader.get_frames([100])                         # backwards: one seek to the GOP of 100
    assert reader.stats["seeks"] == before["seeks"] + 1


def test_iter_frames_streams_in_batches_with_size_and_gray(index_videos):
    path, _ = index_videos["h264_bframes.mp4"]
    reader = VideoReader(path)
    batches = list(reader.iter_frames(start=5, end=46, step=4, size=(96, 54), batch=4))
    indices = np.concatenate([b.indices for b in batches])
    np.testing.assert_array_equal(indices, np.arange(5, 46, 4))
    assert all(b.frames.shape[1:] == (54, 96, 3) and b.frames.dtype == np.uint8 for b in batches)
    assert [len(b.frames) for b in batches] == [4, 4, 3]
    np.testing.assert_allclose(batches[0].timestamps, reader.timestamps[[5, 9, 13, 17]])
    assert [read_index(f) for b in batches for f in b.frames] == list(range(5, 46, 4))
    gray = next(reader.iter_frames(size=54, gray=True, batch=2)).frames
    assert gray.shape == (2, 54, 96) and gray.dtype == np.uint8
    wide = next(VideoReader(path).iter_frames(step=30, batch=3)).indices
    np.testing.assert_array_equal(wide, [0, 30, 60])


def test_indexing_forms_and_errors(index_videos):
    path, _ = index_videos["h264_bframes.mp4"]
    reader = VideoReader(path)
    assert reader[3].shape == (108, 192, 3)
    assert read_index(reader[-1]) == 89
    assert [read_index(f) for f in reader[10:16:2]] == [10, 12, 14]
    assert [read_index(f) for f in reader[[4, 4, 2]]] == [4, 4, 2]
    with pytest.raises(IndexError):
        reader[90]
    with pytest.raises(IndexError):
        reader.get_frames([0, -91])


def test_single_thread_decoding_and_pickling(index_videos):
    path, _ = index_videos["h264_open_gop.mp4"]
    reader = VideoReader(path, threads=1)
    assert read_index(reader[77]) == 77
    clone = pickle.loads(pickle.dumps(reader))      # what DataLoader workers receive
    assert [read_index(f) for f in clone.get_frames([1, 88])] == [1, 88]


def test_info_reports_stream_facts():
    info = VideoReader(shared("shots", "issue-195-aspect-ratio.mp4")).info
    assert info.stored_size == (704, 576)
    assert info.sample_aspect_ratio == "16:11"
    assert info.display_size == (1024, 576)
    assert info.codec == "h264" and info.container == "mp4"
    assert info.audio and info.audio[0].codec == "aac" and info.audio[0].sample_rate == 48000
    mkv = VideoReader(shared("shots", "issue-236-split-copy.mkv")).info
    assert mkv.container == "matroska" and mkv.frames == 48 and not mkv.vfr


def test_avi_without_real_pts_is_read_in_display_order():
    # In AVI the demuxer guesses PTS; sorting decoded frames by them scrambles B-frames. Display order is smooth.
    path = shared("tracking", "PETS09-S2L1", "vtest.avi")
    reader = VideoReader(path)
    assert len(reader) == 795
    frames = reader.get_frames(np.arange(0, 40), size=(120, 90), gray=True).astype(np.int16)
    ours = np.abs(np.diff(frames, axis=0)).mean()
    with av.open(str(path)) as c:
        decoded = [(f.pts, f.to_ndarray(format="gray", width=120, height=90)) for f in c.decode(video=0)][:40]
    by_pts = np.stack([a for _, a in sorted(decoded, key=lambda x: x[0])]).astype(np.int16)
    assert ours < 0.8 * np.abs(np.diff(by_pts, axis=0)).mean()
    random = VideoReader(path).get_frames([39, 7, 22], size=(120, 90), gray=True)
    np.testing.assert_array_equal(random, frames[[39, 7, 22]].astype(np.uint8))


@pytest.mark.parametrize("name, kw, opens", [("fresh.mp4", {}, 1), ("fresh.mkv", {}, 1),
                                              ("fresh.mpg", {"codec": "mpeg2video"}, None)])
def test_first_reader_decodes_in_the_scan_container_and_rewinds_exactly(tmp_path, monkeypatch, name, kw, opens):
    # The packet scan, the first-frame probe and the decoding share one container; going back to frame 0 seeks
    # instead of reopening where the demuxer lands exactly on the first packet (MPEG-PS does not: it reopens).
    import videolens.io.reader as reader_mod

    path = make_index_video(tmp_path / name, 60, size=(128, 72), fps=25, gop=15, **kw)
    calls = []
    real_open = reader_mod._open
    monkeypatch.setattr(reader_mod, "_open", lambda p: calls.append(p) or real_open(p))
    reader = VideoReader(path)
    for _ in range(2):
        assert [read_index(f) for b in reader.iter_frames(batch=7) for f in b.frames] == list(range(60))
    assert read_index(reader[0]) == 0 and read_index(reader[59]) == 59
    if opens is not None:
        assert len(calls) == opens
    assert len(calls) <= 3


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("name, kw", [("t.mp4", {}), ("t.mpg", {"codec": "mpeg2video"}), ("t.ts", {}),
                                      ("t_open_gop.mp4", {"open_gop": True, "bframes": 3})])
def test_first_reader_of_a_tiny_file_goes_on_from_the_scans_decoder(tmp_path, n, name, kw):
    # The scan decodes up to the first frame (to the end, for a 1-frame file); the reader replays that and goes on.
    path = make_index_video(tmp_path / name, n, size=(128, 72), fps=25, gop=15, **kw)
    for threads in (0, 1):
        reader = VideoReader(path, threads=threads)
        assert [read_index(f) for b in reader.iter_frames() for f in b.frames] == list(range(n))
        assert [read_index(f) for b in reader.iter_frames(batch=2) for f in b.frames] == list(range(n))
        assert reader.stats["errors"] == 0 and reader.bad_frames == 0
