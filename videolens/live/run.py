"""What ``videolens watch`` does, usable from Python: cameras and rules from the command line and a config file,
the sinks and the live page around a :class:`~videolens.live.watch.Watcher`, and a clean stop on SIGINT/SIGTERM.

>>> summary = run_watch(["samples/sample.mp4"], output="out/watch", quiet=True)     # doctest: +SKIP
>>> summary["events"]                                                                # doctest: +SKIP
{'motion': 2}
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from ..core.analyzer import MissingExtra
from ..errors import VideolensError
from .watch import Watcher, cameras_from


def _stop_on_sigterm():
    """SIGTERM ends the run the way Ctrl-C does (a KeyboardInterrupt in the main thread), so both stop cleanly."""
    if threading.current_thread() is not threading.main_thread():
        return contextlib.nullcontext()

    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed():
        old = signal.signal(signal.SIGTERM, raise_interrupt)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, old)

    return installed()


def _server(serve: str | None, token: str | None, output: Path):
    if not serve:
        if token:
            raise VideolensError("--token protects the live page: give --serve HOST:PORT too")
        return None, None
    from .server import LiveServer, LiveState
    from .sinks import parse_host_port

    host, port = parse_host_port(serve, default_port=8080)
    state = LiveState()
    return state, LiveServer(state, output, host, port, token)


def run_watch(sources: Sequence[str] = (), *, rules: Sequence | None = None, config: str | os.PathLike | None = None,
              cameras: Sequence[str] | None = None, objects: str | None = None, tracker: str | None = None,
              faces: bool | None = None, people: str | os.PathLike | None = None, zones: dict | None = None,
              lines: dict | None = None, anchor: str | None = None, fps: float | None = None,
              record: bool | None = None,
              output: str | os.PathLike = "videolens-out/watch", realtime: bool = False,
              duration: float | None = None, serve: str | None = None, token: str | None = None,
              webhook: str | None = None, mqtt: str | None = None, json_stream: TextIO | None = None,
              quiet: bool = False, on_event: Callable[[dict], None] | None = None) -> dict:
    """Watch until the files end, ``duration`` passes, or SIGINT/SIGTERM; returns a summary (events per kind, each
    camera's figures). Events go to ``events.jsonl`` in ``output`` and to the sinks asked for (``json_stream``:
    one JSON line per event, e.g. ``sys.stdout``). Everything is closed and flushed on the way out."""
    cams = cameras_from(sources, config=config, names=cameras, zones=zones, lines=lines, rules=rules, objects=objects,
                        tracker=tracker, faces=faces, anchor=anchor, fps=fps, record=record,
                        people=os.fspath(people) if people is not None else None)
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    from .sinks import make_sinks

    try:
        sinks = make_sinks(webhook, mqtt, json_stream)
    except MissingExtra as e:
        raise VideolensError(f"--mqtt needs {e.package}: pip install 'videolens[{e.extra}]'") from None
    state, server = _server(serve, token, out)
    watcher = Watcher(cams, out, realtime=realtime, duration=duration, sinks=sinks, state=state)
    if server is not None:
        server.start()
        if not quiet:
            sys.stderr.write(f"videolens: live page at {server.url}\n")
    counts: collections.Counter = collections.Counter()
    t0 = time.monotonic()
    stopped = "end"
    try:
        with _stop_on_sigterm():
            events = watcher.run()
            try:
                for event in events:
                    counts[event["kind"]] += 1
                    if on_event is not None:
                        on_event(event)
            except KeyboardInterrupt:
                stopped = "signal"
            finally:
                events.close()      # stops the cameras, ends open events, finishes clips, flushes the sinks
    finally:
        if server is not None:
            server.stop()
    if stopped == "end" and watcher.duration is not None and time.monotonic() - t0 >= watcher.duration:
        stopped = "duration"
    return {"output": str(out), "stopped": stopped, "seconds": round(time.monotonic() - t0, 3),
            "events": dict(counts), "cameras": watcher.status()["cameras"]}
