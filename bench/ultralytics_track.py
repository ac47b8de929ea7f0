"""Tracked boxes on one video: Ultralytics' own ``track()`` (ByteTrack, its ``bytetrack.yaml``) against
``videolens detect --tracker bytetrack``, same ONNX model (issue 16 part 7).

Run twice: in the Ultralytics venv (see scripts/make_ultralytics_parity.py) for Ultralytics' side, and in the
project venv for videolens's side (``--videolens``, with the detector's suggested thresholds and with videolens's
own defaults given as a tracker object)::

    YOLO_OFFLINE=1 /tmp/ulvenv/bin/python bench/ultralytics_track.py VIDEO MODEL.onnx
    .venv/bin/python bench/ultralytics_track.py VIDEO MODEL.onnx --videolens
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def ultralytics_side(video: str, model: str, imgsz: int) -> dict:
    from ultralytics import YOLO

    m = YOLO(model, task="detect")
    boxes = tracked = 0
    ids: set[int] = set()
    for r in m.predict(video, imgsz=imgsz, stream=True, verbose=False):
        boxes += len(r.boxes)
    m = YOLO(model, task="detect")
    for r in m.track(video, imgsz=imgsz, tracker="bytetrack.yaml", stream=True, verbose=False):
        if r.boxes.id is not None:
            tracked += len(r.boxes.id)
            ids.update(int(i) for i in r.boxes.id.tolist())
    return {"detections": boxes, "tracked_boxes": tracked, "tracks": len(ids)}


def videolens_side(video: str, model: str) -> dict:
    sys.path.insert(0, str(HERE.parent))
    from videolens.detect import detect_video, load_detector
    from videolens.track import ByteTrack

    det = load_detector(f"onnx:{model}")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        plain = detect_video(video, Path(tmp) / "plain", det, formats=("json",), quiet=True)
        out["detections"] = plain.detections
        for name, tracker in (("suggested", "bytetrack"), ("videolens_defaults", ByteTrack())):
            r = detect_video(video, Path(tmp) / name, det, tracker=tracker, formats=("json",), quiet=True)
            out[name] = {"tracked_boxes": r.detections, "tracks": len(r.tracks),
                         "settings": json.loads((Path(tmp) / name / "detections.json").read_text())["tracker_settings"]}
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("video")
    p.add_argument("model")
    p.add_argument("--imgsz", type=int, default=320)
    p.add_argument("--videolens", action="store_true", help="videolens's side (run in the project venv)")
    args = p.parse_args()
    res = videolens_side(args.video, args.model) if args.videolens else ultralytics_side(args.video, args.model,
                                                                                        args.imgsz)
    print(json.dumps({"video": Path(args.video).name, "model": Path(args.model).name,
                      "side": "videolens" if args.videolens else "ultralytics", **res}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
