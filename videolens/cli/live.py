"""``videolens watch``: live cameras analyzed in real time, with rules, events, alarms and clips (docs/watch.md)."""

from __future__ import annotations

import argparse
import sys

from ._common import add_output, csv_list, emit, line_arg, positive_float, registry_choices, zone_arg


def _add_watch(sub) -> None:
    p = sub.add_parser("watch", help="analyze live cameras (RTSP, HTTP, UDP, /dev/video, stdin) or files in real "
                                     "time: rules, events, alarms, clips, a live page",
                       description="Watch cameras and raise events as they happen: events.jsonl, snapshots, clips, "
                                   "status.json in the output folder, and --json/--webhook/--mqtt/--serve. A file "
                                   "is analyzed frame by frame (nothing dropped) unless --realtime. Stops at the end "
                                   "of the files, after --duration, or on Ctrl-C / SIGTERM (exit 0).")
    p.add_argument("sources", nargs="*", metavar="SOURCE",
                   help="rtsp://..., http(s)://..., udp://..., tcp://..., /dev/videoN, - (MPEG-TS on stdin), a file")
    p.add_argument("--config", metavar="FILE", help="cameras, zones, lines and rules (YAML; see docs/watch.md)")
    p.add_argument("--cameras", metavar="NAME,...", help="only these cameras of the config (share a site between "
                                                          "machines)")
    p.add_argument("--objects", metavar="MODEL", help="detect objects with this model (a name, a checkpoint, "
                                                       "onnx:PATH or replay:MOT.txt)")
    registry_choices(p.add_argument("--tracker", help="tracker (default bytetrack)"), "videolens.track", "TRACKERS")
    p.add_argument("--faces", action="store_true", default=None, help="detect faces too")
    p.add_argument("--people", metavar="GALLERY",
                   help="name faces from this gallery (a folder of photos per person, or gallery.npz): "
                        "known_face / unknown_face events, once per tracked face")
    p.add_argument("--zone", type=zone_arg, action="append", default=[], metavar="X1,Y1,X2,Y2,X3,Y3,...",
                   help="a zone rule for every class on every camera (zone_enter / zone_exit); repeatable")
    p.add_argument("--line", type=line_arg, action="append", default=[], metavar="X1,Y1,X2,Y2",
                   help="a line rule for every class on every camera (line_cross, in/out); repeatable")
    p.add_argument("--rule", action="append", default=[], metavar="KEY=VALUE ...",
                   help="a rule for every camera, with the keys of a config rule: \"zone=zone1 loiter=10 "
                        "classes=person\", \"line=line1 direction=in\", \"zone=zone1 count_above=3\", \"motion=0.02\", "
                        "\"tamper=covered,moved\"; repeatable (docs/watch.md)")
    p.add_argument("--anchor", choices=["center", "bottom-center", "top-center"],
                   help="the point of a box that counts for zones and lines (default center)")
    p.add_argument("--fps", type=positive_float, help="analyzed frames per second per camera, at most (default 5)")
    add_output(p, help="output folder (default ./videolens-out/watch)")
    p.add_argument("--serve", metavar="HOST:PORT", help="the live page, e.g. 127.0.0.1:8080")
    p.add_argument("--token", help="required by the live page on every request (needed off loopback)")
    p.add_argument("--webhook", metavar="URL", help="POST every event as JSON to this URL (retried, never blocking)")
    p.add_argument("--mqtt", metavar="HOST:PORT", help="publish every event to videolens/<camera>/events")
    p.add_argument("--record", action="store_true", default=None,
                   help="record continuous segments into recordings/<camera>/")
    p.add_argument("--realtime", action="store_true", help="play files at their frame rate, like cameras")
    p.add_argument("--duration", type=positive_float, metavar="S", help="stop after S seconds of wall-clock time")
    p.add_argument("--json", action="store_true", help="print each event as one JSON line on stdout")
    p.add_argument("--quiet", action="store_true", help="no summary; errors still go to stderr")
    p.set_defaults(func=_run_watch)


def _run_watch(args: argparse.Namespace) -> int:
    from ..errors import VideolensError
    from ..live.run import run_watch

    if not args.sources and not args.config:
        raise VideolensError("watch: give a SOURCE or --config FILE")
    from ..live.config import parse_rule

    rules = [parse_rule(text, k + 1) for k, text in enumerate(args.rule)] or None
    summary = run_watch(args.sources, rules=rules, config=args.config, cameras=csv_list(args.cameras), objects=args.objects,
                        tracker=args.tracker, faces=args.faces, people=args.people, anchor=args.anchor,
                        fps=args.fps,
                        zones={f"zone{k + 1}": z for k, z in enumerate(args.zone)},
                        lines={f"line{k + 1}": ln for k, ln in enumerate(args.line)}, record=args.record,
                        output=args.output or "videolens-out/watch", realtime=args.realtime,
                        duration=args.duration, serve=args.serve, token=args.token, webhook=args.webhook,
                        mqtt=args.mqtt, json_stream=sys.stdout if args.json else None, quiet=args.quiet)
    emit(args, None, lambda: _format(summary))     # with --json the events themselves were the output
    return 0


def _format(s: dict) -> str:
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(s["events"].items())) or "no events"
    lines = [f"{kinds} in {s['seconds']:.1f} s ({s['stopped']}) -> {s['output']}/events.jsonl"]
    for name, c in s["cameras"].items():
        lines.append(f"  {name}: {c['frames_in']} frames in, {c['frames_analyzed']} analyzed, "
                     f"{c['frames_dropped']} dropped" + (f"; {c['last_error']}" if c.get("last_error") else ""))
    return "\n".join(lines)


COMMANDS = [_add_watch]
