"""Event clips from the packet ring, snapshots and continuous recording, on real encoded video read like a live
stream (packets demuxed one by one with wall-clock times) and checked by decoding what was written.

The index videos draw each frame's number into it (``read_index``), so a clip's frames say exactly which source
frames it holds."""

from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from videolens.core.detections import Detections
from videolens.datasets.testvideo import index_frame, make_index_video, read_index
from videolens.errors import VideolensError
from videolens.live.clips import ClipWriter, PacketRing, select_clip, write_snapshot
from videolens.live.record import Recorder, segment_name

FPS = 25
GOP = 25
N = 250                      # 10 s
T0 = 1_700_000_000.0         # wall clock of the first packet
SIZE = (160, 120)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("src")
    return {
        "bframes": make_index_video(d / "b.mp4", N, size=SIZE, fps=FPS, gop=GOP, bframes=2),
        "plain": make_index_video(d / "p.mp4", N, size=SIZE, fps=FPS, gop=GOP, bframes=0),
        # MPEG-TS: Annex B H.264 (as from RTSP or UDP), a first pts that is not 0, no packet durations
        "ts": make_index_video(d / "b.ts", N, size=SIZE, fps=FPS, gop=GOP, bframes=2),
        # raw H.264: no timestamps at all on the packets
        "raw": make_index_video(d / "p.h264", N, size=SIZE, fps=FPS, gop=GOP, bframes=0, container_format="h264"),
        "hevc": make_index_video(d / "h.mp4", N, size=SIZE, fps=FPS, gop=GOP, bframes=0, codec="libx265"),
    }


def start_of(path) -> float:
    """The stream time of frame 0."""
    with av.open(path) as c:
        s = c.streams.video[0]
        return float(s.start_time * s.time_base) if s.start_time is not None else 0.0


def t_of(path, i: float) -> float:
    return start_of(path) + i / FPS


class Live:
    """A file read like a camera: packets in decode order, each followed by the consumers' poll. Clips are
    requested once the stream has passed their end (the analysis sees an event after it happened)."""

    def __init__(self, path, out: Path, seconds: float = 30.0, skip: int = 0, recorder: dict | None = None,
                 passes: int = 1):
        self.path, self.out = path, out
        self.requests: list[tuple] = []
        self.held_from: dict[str, float] = {}     # the oldest packet time the ring held at each request
        self.max_pending = 0
        self.seconds, self.skip, self.recorder_kw, self.passes = seconds, skip, recorder, passes
        self.during = None                         # called after each packet with (self, packet_time)

    def request(self, clip_id, t_start, t_end, pre, post, when=None, in_pass=0):
        """Ask for a clip when the stream time reaches ``when`` (default: 0.2 s after ``t_end``)."""
        self.requests.append({"clip_id": clip_id, "t_start": t_start, "t_end": t_end, "pre": pre, "post": post,
                              "when": t_end + 0.2 if when is None else when, "in_pass": in_pass, "done": False})

    def run(self, close: bool = True):
        with av.open(self.path) as c:
            stream = c.streams.video[0]
            self.ring = ring = PacketRing(stream, self.seconds)
            self.clips = ClipWriter(ring, self.out)
            self.recorder = Recorder(ring, self.out, "cam", **self.recorder_kw) if self.recorder_kw else None
            packets = [p for p in c.demux(stream) if p.size]
            k = 0
            for n in range(self.passes):
                for i, packet in enumerate(packets[self.skip:]):
                    t = float(packet.pts * packet.time_base) if packet.pts is not None else i / FPS
                    ring.add(packet, T0 + k / FPS)
                    k += 1
                    self.clips.poll()
                    if self.recorder:
                        self.recorder.poll()
                    self._due(t, n)
                    self.max_pending = max(self.max_pending, self.clips.pending)
                    if self.during:
                        self.during(self, t)
        self._due(math.inf, None)
        if close:
            self.close()
        return self

    def _due(self, t, n):
        for r in self.requests:
            if not r["done"] and t >= r["when"] and n in (None, r["in_pass"]):
                held = self.ring.snapshot()
                self.held_from[r["clip_id"]] = held[0].t if held else math.nan
                args = [r[k] for k in ("clip_id", "t_start", "t_end", "pre", "post")]
                assert self.clips.request(*args) == f"clips/{r['clip_id']}.mp4"
                r["done"] = True

    def close(self):
        self.clips.close()
        if self.recorder:
            self.recorder.close()
        assert not [p for p in self.out.rglob("*") if "partial" in p.name], "temporary files left behind"


def decode(path) -> list[tuple[int, bool, float]]:
    """(index drawn in the frame, keyframe, time) of every frame, in presentation order."""
    with av.open(str(path)) as c:
        return [(read_index(f.to_ndarray(format="rgb24")), f.key_frame, float(f.time)) for f in c.decode(video=0)]


def expected_range(path, begin: float, stop: float) -> tuple[int, int]:
    """(keyframe index at or before ``begin``, last frame index at or before ``stop``), clipped to the video."""
    b = math.floor((begin - start_of(path)) * FPS + 1e-6)
    e = math.floor((stop - start_of(path)) * FPS + 1e-6)
    return max(0, b) // GOP * GOP, min(N - 1, e)


def check_clip(out: Path, clip_id: str, first: int, last: int) -> list[int]:
    """The clip plays from a keyframe at time 0, starts at frame ``first`` and holds every frame to ``last``."""
    path = out / "clips" / f"{clip_id}.mp4"
    assert path.exists(), f"{path} missing"
    frames = decode(path)
    idx = [f[0] for f in frames]
    assert frames[0][1], "the clip's first frame is not a keyframe"
    assert frames[0][2] == pytest.approx(0.0, abs=1e-3)
    assert idx[0] == first, idx[:5]
    assert idx == list(range(first, first + len(idx))), "frames missing, repeated or out of order"
    assert idx[-1] >= last and idx[-1] <= last + 3, (idx[-1], last)      # a B-frame's reference may come along
    with av.open(str(path)) as c:       # browsers: H.264 (avc1) or HEVC (hvc1) with moov before mdat
        ctx = c.streams.video[0].codec_context
        assert (ctx.name, ctx.codec_tag) in (("h264", "avc1"), ("hevc", "hvc1"))
    data = path.read_bytes()
    assert 0 <= data.find(b"moov") < data.find(b"mdat")
    return idx


@pytest.mark.parametrize("name", ["bframes", "plain", "ts", "raw", "hevc"])
def test_clip_holds_pre_to_post_from_the_keyframe_before(videos, tmp_path, name):
    src = videos[name]
    live = Live(src, tmp_path)
    live.request("mid", t_of(src, 110), t_of(src, 120), pre=1.0, post=1.5)     # begin 3.4 s: key 75
    live.request("onkey", t_of(src, 75), t_of(src, 80), pre=1.0, post=0.0)     # begin 2.0 s exactly: key 50
    live.run()
    for r in live.requests:
        check_clip(tmp_path, r["clip_id"], *expected_range(src, r["t_start"] - r["pre"], r["t_end"] + r["post"]))
    assert live.clips.written == 2 and live.clips.failed == 0


def test_several_clips_in_flight_at_once(videos, tmp_path):
    src = videos["bframes"]
    live = Live(src, tmp_path)
    spans = {"e1": (40, 60), "e2": (45, 110), "e3": (70, 75), "e4": (30, 190)}
    for clip_id, (a, b) in spans.items():
        live.request(clip_id, a / FPS, b / FPS, pre=0.5, post=1.0, when=3.1)    # all asked at 3.1 s, back to back
    live.run()
    assert live.max_pending == 4
    for clip_id, (a, b) in spans.items():
        check_clip(tmp_path, clip_id, *expected_range(src, a / FPS - 0.5, b / FPS + 1.0))


def test_requests_from_the_analysis_thread_while_the_reader_runs(videos, tmp_path):
    """The reader adds and polls in its thread; the analysis requests clips from another, as events end."""
    src = videos["bframes"]
    with av.open(src) as c:
        stream = c.streams.video[0]
        ring = PacketRing(stream, 30.0)
        clips = ClipWriter(ring, tmp_path)
        packets = [p for p in c.demux(stream) if p.size]

        def reader():
            for k, packet in enumerate(packets):
                ring.add(packet, T0 + k / FPS)
                clips.poll()
                time.sleep(0.0005)

        thread = threading.Thread(target=reader)
        thread.start()
        spans = [(20 + 20 * i, 30 + 20 * i) for i in range(10)]
        for i, (a, b) in enumerate(spans):
            while ring.complete_until < b / FPS and thread.is_alive():
                time.sleep(0.001)
            clips.request(f"t{i}", a / FPS, b / FPS, pre=0.5, post=0.5)
        thread.join()
    clips.close()
    for i, (a, b) in enumerate(spans):
        check_clip(tmp_path, f"t{i}", *expected_range(src, a / FPS - 0.5, b / FPS + 0.5))


def test_a_clip_past_the_end_is_written_at_close_with_what_there_is(videos, tmp_path):
    src = videos["bframes"]
    live = Live(src, tmp_path)
    live.request("late", 240 / FPS, 245 / FPS, pre=2.0, post=5.0)
    live.run(close=False)
    assert live.clips.pending == 1 and not (tmp_path / "clips" / "late.mp4").exists()
    live.close()
    idx = check_clip(tmp_path, "late", *expected_range(src, 240 / FPS - 2.0, 250 / FPS))
    assert idx[-1] == N - 1


def test_a_ring_that_lost_the_start_begins_at_its_oldest_keyframe(videos, tmp_path):
    src = videos["plain"]
    live = Live(src, tmp_path, seconds=2.0)
    live.request("old", 200 / FPS, 205 / FPS, pre=5.0, post=0.5)        # begin 3 s, long gone from a 2 s ring
    live.run()
    first = round(live.held_from["old"] * FPS)
    assert first % GOP == 0 and first > 75
    check_clip(tmp_path, "old", first, expected_range(src, 0, 205 / FPS + 0.5)[1])


def test_memory_stays_bounded_but_a_pending_clip_keeps_its_keyframe(videos, tmp_path):
    src = videos["plain"]
    live = Live(src, tmp_path, seconds=2.0)
    live.request("long", 30 / FPS, 220 / FPS, pre=0.1, post=0.0, when=1.5)   # pins 1.1 s (key 25) until 8.8 s
    seen = []

    def during(lv, t):
        held = lv.ring.snapshot()
        seen.append((t, held[0].t, lv.ring.held_seconds, lv.clips.pending))

    live.during = during
    live.run()
    for t, oldest, span, pending in seen:
        if pending:                                           # the keyframe the clip needs stays
            assert oldest == (0.0 if t < 3.0 else pytest.approx(1.0))
        else:
            assert span <= 2.0 + GOP / FPS + 1e-6             # the window plus at most one GOP
    assert max(span for _, _, span, pending in seen if not pending) >= 2.0
    check_clip(tmp_path, "long", 25, 220)


def test_a_stream_that_starts_mid_gop(videos, tmp_path):
    src = videos["plain"]
    live = Live(src, tmp_path, skip=10)          # joined a camera mid-GOP: frames 0-9 never seen
    live.request("first", 12 / FPS, 40 / FPS, pre=1.0, post=0.5)
    live.run()
    check_clip(tmp_path, "first", 25, expected_range(src, 0, 40 / FPS + 0.5)[1])
    assert live.ring.snapshot()[0].key


def test_a_clock_that_jumps_back_starts_a_new_timeline(videos, tmp_path):
    """The same stream twice into one ring: its clock restarts. A clip pending at the jump is written with what
    came before; clips after it are cut from the new timeline."""
    src = videos["plain"]
    live = Live(src, tmp_path, passes=2)
    live.request("before", 230 / FPS, 240 / FPS, pre=1.0, post=5.0, when=9.7)        # would end after 10 s
    live.request("after", 100 / FPS, 110 / FPS, pre=1.0, post=1.0, in_pass=1)
    live.run()
    assert live.ring.resets == 1
    check_clip(tmp_path, "before", 200, N - 1)
    check_clip(tmp_path, "after", 75, 135)


def test_select_clip_leaves_out_frames_that_need_the_previous_gop():
    """Open GOP: frames shown before the keyframe but decoded after it are not in the clip."""
    from videolens.live.clips import StoredPacket

    def pk(seq, pts, dts, key=False):
        return StoredPacket(seq, b"x", pts, dts, key, 1, 0.0, pts / 10, dts / 10)

    packets = [pk(1, 0, 0, True), pk(2, 3, 1), pk(3, 1, 2), pk(4, 2, 3), pk(5, 6, 4, True), pk(6, 4, 5), pk(7, 5, 6),
               pk(8, 9, 7), pk(9, 7, 8)]
    assert [p.seq for p in select_clip(packets, 0.6, 0.75)] == [5, 8, 9]    # 4 and 5 are shown before the key
    assert [p.seq for p in select_clip(packets, 0.1, 0.2)] == [1, 2, 3, 4]
    assert select_clip([], 0, 1) == []


def test_stream_copy_of_real_footage_decodes_to_the_same_pixels(tmp_path):
    """samples/sample.mp4 (B-frames, irregular GOPs): the clip's frames are the source's frames, bit for bit."""
    src = Path(__file__).resolve().parents[1] / "samples" / "sample.mp4"
    live = Live(src, tmp_path)
    live.request("real", 6.0, 6.5, pre=1.0, post=1.0)
    live.run()
    with av.open(str(src)) as c:
        source = [(float(f.time), f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    with av.open(str(tmp_path / "clips" / "real.mp4")) as c:
        clip = [(float(f.time), f.key_frame, f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    assert clip[0][1]
    t_key = next(t for t, img in source if np.array_equal(img, clip[0][2]))
    assert t_key <= 5.0
    by_time = {round(t, 3): img for t, img in source}
    for t, _, img in clip:
        assert np.array_equal(by_time[round(t_key + t, 3)], img)
    assert t_key + clip[-1][0] >= 7.5 - 1e-6


def test_snapshot_draws_the_event_box(tmp_path):
    frame = index_frame(7, 320, 240)
    det = Detections([[40, 80, 140, 200], [200, 100, 260, 180]], [0.9, 0.6], [0, 1], ["person", "car"], [3, -1])
    path = tmp_path / "snapshots" / "evt.jpg"
    assert write_snapshot(frame, det, path, boxes_of_interest=[0]) == str(path)
    img = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    assert img.shape == frame.shape
    diff = np.abs(img.astype(int) - frame.astype(int)).sum(axis=2)
    assert diff[80:201, 40].mean() > 60 and diff[200, 40:141].mean() > 60       # the box's edges are drawn
    assert diff[200:240, 280:320].mean() < 20                                    # away from boxes: the frame
    assert not [p for p in path.parent.iterdir() if p != path]                   # no temporary file left
    with pytest.raises(ValueError):
        write_snapshot(frame[..., 0], det, tmp_path / "x.jpg")


def test_what_users_can_get_wrong_is_a_one_line_error(videos, tmp_path):
    with av.open(videos["plain"]) as c:
        clips = ClipWriter(PacketRing(c.streams.video[0]), tmp_path)
        with pytest.raises(VideolensError, match="clip id"):
            clips.request("../escape", 1, 2, 1, 1)
        clips.close()
    with pytest.raises(VideolensError, match="camera name"):
        Recorder(clips.ring, tmp_path, "a/b")
    raw = make_index_video(tmp_path / "raw.mkv", 3, size=SIZE, codec="rawvideo", bframes=0)
    with av.open(raw) as c, pytest.raises(VideolensError, match="^door: its rawvideo video cannot be stream-copied"):
        PacketRing(c.streams.video[0], name="door")


def segment_frames(seg: Path) -> list[int]:
    frames = decode(seg)
    assert frames[0][1] and frames[0][2] == pytest.approx(0.0, abs=1e-3), f"{seg.name} does not start on a keyframe"
    return [f[0] for f in frames]


def test_recorder_segments_cover_the_stream_without_gaps_or_overlaps(videos, tmp_path):
    live = Live(videos["bframes"], tmp_path, recorder={"segment_seconds": 2.0}).run()
    segs = live.recorder.segments()
    assert len(segs) == 5 and live.recorder.segments_written == 5
    assert [p.name for p in segs] == [segment_name(T0 + i * 2.0) for i in range(5)]
    idx = [i for seg in segs for i in segment_frames(seg)]
    assert idx == list(range(N))
    assert all(segment_frames(seg)[0] % GOP == 0 for seg in segs)


def test_recorder_retention_removes_the_oldest_first(videos, tmp_path):
    # by size, as segments close: what is left is the newest, still contiguous to the end
    probe = Live(videos["plain"], tmp_path / "probe", recorder={"segment_seconds": 2.0}).run()
    sizes = [p.stat().st_size for p in probe.recorder.segments()]
    limit = sizes[-1] + sizes[-2] + 100
    live = Live(videos["plain"], tmp_path / "kept", recorder={"segment_seconds": 2.0, "max_bytes": limit}).run()
    segs = live.recorder.segments()
    assert [p.name for p in segs] == [segment_name(T0 + i * 2.0) for i in (3, 4)]
    assert [i for seg in segs for i in segment_frames(seg)] == list(range(150, N))
    # by age: each segment's age is from when it was closed
    rec = probe.recorder
    segs = rec.segments()
    for i, p in enumerate(segs):
        os.utime(p, (T0 + 2.0 * (i + 1), T0 + 2.0 * (i + 1)))
    rec.max_age = 5.0
    removed = rec.prune(now=T0 + 10.0)                       # closed at 2, 4 (older than 5 s), 6, 8, 10
    assert removed == segs[:2] and rec.segments() == segs[2:]


def test_clips_and_segments_play_in_a_browser(videos, tmp_path, browser):  # noqa: F811
    live = Live(videos["bframes"], tmp_path, recorder={"segment_seconds": 2.0})
    live.request("web", 100 / FPS, 110 / FPS, pre=1.0, post=0.5)
    live.run()
    files = [tmp_path / "clips" / "web.mp4", live.recorder.segments()[1]]
    page = tmp_path / "play.html"
    page.write_text("".join(f'<video muted src="{f.relative_to(tmp_path).as_posix()}"></video>' for f in files))
    browser.get(page.as_uri())
    browser.execute_script("for (const v of document.querySelectorAll('video')) { v.playbackRate = 4; v.play(); }")
    state = "return [...document.querySelectorAll('video')].map(v => [v.ended, v.error && v.error.message, " \
            "v.duration, v.videoWidth, v.getVideoPlaybackQuality().totalVideoFrames])"
    deadline = time.monotonic() + 15
    while not all(v[0] or v[1] for v in browser.execute_script(state)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for f, (ended, error, duration, width, shown) in zip(files, browser.execute_script(state)):
        n = len(decode(f))
        assert ended and error is None and width == SIZE[0], (f.name, error)
        assert duration == pytest.approx(n / FPS, abs=0.05) and shown == n, (f.name, duration, shown, n)
