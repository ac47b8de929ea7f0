"""Build samples/sample.mp4: six GRID corpus clips joined with hard cuts (H.264 + AAC, ~18 s).

Run from the repository root, with ../shared/data beside it:

    .venv/bin/python samples/make_sample.py

It also writes samples/sample.json: the cut frames and each clip's sentence (ground truth for tests).
"""

from __future__ import annotations

import json
import os
import sys
from fractions import Fraction

import av
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from videolens.io.audio import read_audio  # noqa: E402
from videolens.io.reader import VideoReader  # noqa: E402

GRID = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "speech", "GRID")
CLIPS = ["bbaf2n", "brbk7n", "lbax4n", "lrwp9a", "pwij3p", "swiz3n"]
RATE = 44100
FPS = 25


def main(out: str = "samples/sample.mp4") -> None:
    sentences = dict(line.split("\t") for line in open(os.path.join(GRID, "transcripts.txt")).read().splitlines()
                     if line and not line.startswith("#"))
    tmp = out + ".partial.mp4"
    cuts, parts, frame_no, sample_no = [], [], 0, 0
    with av.open(tmp, "w", format="mp4", options={"movflags": "+faststart"}) as c:
        v = c.add_stream("libx264", rate=FPS)
        v.width, v.height, v.pix_fmt = 360, 288, "yuv420p"
        v.options = {"crf": "26", "preset": "slow", "x264-params": "keyint=50"}
        a = c.add_stream("aac", rate=RATE)
        a.layout = "stereo"
        a.bit_rate = 64000
        for k, name in enumerate(CLIPS):
            path = os.path.join(GRID, name + ".mpg")
            reader = VideoReader(path)
            if k:
                cuts.append(frame_no)
            start = frame_no / FPS
            for batch in reader.iter_frames(batch=25):
                for frame in batch.frames:
                    vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
                    vf.pts = frame_no
                    vf.time_base = Fraction(1, FPS)
                    for p in v.encode(vf):
                        c.mux(p)
                    frame_no += 1
            audio = read_audio(path, sample_rate=RATE, mono=False)
            # Each clip's audio is cut or padded to its video length, so the sound stays on its face.
            n = int(round(len(reader) / FPS * RATE))
            audio = np.pad(audio[:, :n], ((0, 0), (0, max(0, n - audio.shape[1]))))
            for s in range(0, n, 1024):
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio[:, s:s + 1024]), format="fltp",
                                                layout="stereo")
                af.sample_rate, af.pts, af.time_base = RATE, sample_no, Fraction(1, RATE)
                sample_no += af.samples
                for p in a.encode(af):
                    c.mux(p)
            parts.append({"clip": name + ".mpg", "start_frame": frame_no - len(reader), "end_frame": frame_no - 1,
                          "start": round(start, 3), "end": round(frame_no / FPS, 3),
                          "sentence": sentences[name + ".mpg"]})
        for p in v.encode(None):
            c.mux(p)
        for p in a.encode(None):
            c.mux(p)
    os.replace(tmp, out)
    truth = {"frames": frame_no, "fps": FPS,
             "transitions": [{"type": "cut", "start": i, "end": i} for i in cuts],
             "clips": parts, "transcript": " ".join(p["sentence"] for p in parts)}
    with open(out.replace(".mp4", ".json"), "w") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")
    print(f"{out}: {frame_no} frames, cuts at {cuts}, {os.path.getsize(out) / 1e6:.2f} MB")


if __name__ == "__main__":
    main(*sys.argv[1:])
