"""What the live tests share: the zone and line of the objects video, and its true events from gt.txt."""

from __future__ import annotations

import collections

from videolens.core.detections import Detections
from videolens.detect.zones import LineCounter, ZoneCounter
from videolens.track.mot import read_mot

ZONE = [(0, 0), (160, 0), (160, 240), (0, 240)]
LINE = [(160, 0), (160, 240)]


def truth(gt_path, frames: int = 150, fps: float = 25.0) -> dict:
    """Zone entries/exits and line crossings of the true tracks (their own ids), with the frame each happened on."""
    gt = read_mot(gt_path)
    zone, line = ZoneCounter(ZONE, name="zone1"), LineCounter(*LINE, name="line1")
    found = collections.defaultdict(list)
    for i in range(frames):
        d = gt.get(i) or Detections.empty(i)
        d = Detections(d.xyxy, d.scores, d.class_ids, d.class_names, d.track_ids, i, i / fps)
        zone.trigger(d)
        found["zone_enter"] += [i] * len(zone.entered)
        found["zone_exit"] += [i] * len(zone.exited)
        before = line.in_count + line.out_count
        line.trigger(d)
        for c in line.new_crossings(before):
            found[f"line_cross/{c['direction']}"].append(i)
    return dict(found)


def by_kind(events: list[dict]) -> dict[str, list[int]]:
    """The frames of an event list's zone entries/exits and line crossings, keyed like :func:`truth`."""
    got = collections.defaultdict(list)
    for e in events:
        if e["kind"] in ("zone_enter", "zone_exit"):
            got[e["kind"]].append(e["frame_start"])
        elif e["kind"] == "line_cross":
            got[f"line_cross/{e['direction']}"].append(e["frame_start"])
    return dict(got)
