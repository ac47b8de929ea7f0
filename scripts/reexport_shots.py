"""Re-export the shipped ShotNet (videolens/shots/weights/shotnet.onnx) from its own weights with the current graph.

For when only the network's *graph* changes, not what it computes (e.g. a faster but equivalent operator): the
weights are read back from the ONNX file, put into :class:`videolens.shots.model.ShotNet` and exported again. The
script refuses to write unless the new file's outputs equal the old file's within 1e-5 on real frames, and it keeps
the training record (command, data, scores) in ``shotnet.json``, adding what was re-exported and why.

The shipped file was last written by exactly this command, from the repository root:

    .venv/bin/python scripts/reexport_shots.py --why "histogram as one scatter-add (was one-hot products)"
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WEIGHTS = ROOT / "videolens" / "shots" / "weights" / "shotnet.onnx"
CHECK_CLIPS = [ROOT / "samples" / "sample.mp4", ROOT.parent / "shared" / "data" / "shots" / "testvideo.mp4"]


def frames_of(path: Path, limit: int = 400) -> np.ndarray:
    from videolens.io import VideoReader
    from videolens.shots.model import HEIGHT, WIDTH

    reader = VideoReader(path)
    out = [b.frames[0] for b, _ in zip(reader.iter_frames(size=(WIDTH, HEIGHT)), range(limit))]
    return np.stack(out)[None]


def main() -> int:
    import onnxruntime as ort

    from videolens.shots.checkpoint import export, load_onnx_weights

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=str(WEIGHTS), help="the ONNX file to re-export (in place)")
    p.add_argument("--why", required=True, help="what changed in the graph (recorded in the JSON sidecar)")
    a = p.parse_args()
    path = Path(a.weights)
    sidecar = path.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    net = load_onnx_weights(path, meta.get("config"))
    keep = {k: v for k, v in meta.items() if k not in ("bytes", "max_abs_diff_vs_torch", "reexports")}
    # Written next to the shipped file, checked, then moved into place: the file checked is the file shipped.
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        new = Path(tmp) / "new.onnx"
        info = export(net, new, keep)
        sessions = [ort.InferenceSession(str(f), providers=["CPUExecutionProvider"]) for f in (path, new)]
        inputs = [frames_of(c) for c in CHECK_CLIPS if c.exists()]
        inputs.append(np.random.default_rng(0).integers(0, 256, (1, 200, 27, 48, 3), dtype=np.uint8))
        worst = 0.0
        for x in inputs:
            a_out, b_out = (s.run(None, {"frames": x})[0] for s in sessions)
            worst = max(worst, float(np.abs(a_out - b_out).max()))
        if worst > 1e-5:
            print(f"not written: the new graph's logits differ from the old by {worst}", file=sys.stderr)
            return 1
        info["reexports"] = meta.get("reexports", []) + [
            {"why": a.why, "max_abs_diff_vs_previous": worst, "checked_on": [c.name for c in CHECK_CLIPS if c.exists()]
             + ["200 random frames"]}]
        new.with_suffix(".json").write_text(json.dumps(info, indent=1) + "\n")
        os.replace(new, path)
        os.replace(new.with_suffix(".json"), sidecar)
    print(json.dumps({k: info[k] for k in ("bytes", "max_abs_diff_vs_torch", "reexports")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
