"""``watch``: cameras in, events out, as they happen (docs/watch.md).

:class:`Watcher` runs a reader and an analysis thread per camera and turns their findings into events: one line of
``events.jsonl`` each (append-only, flushed per line, never a half line), a snapshot, a clip, and a copy to every
sink. ``status.json`` is rewritten every few seconds. :func:`watch` is the Python face of it: a generator of events.

>>> for event in watch(["samples/sample.mp4"], output="out/watch"):      # doctest: +SKIP
...     print(event["kind"], event["state"], event["t_start"])
motion start 0.04
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import VideolensError
from ..utils.files import write_text
from .camera import CameraReader, Frame
from .config import Camera, Rule
from .rules import Found
from .sources import parse_source, redact
from .worker import CameraWorker, to_array

STATUS_EVERY = 2.0      # seconds between two rewrites of status.json
MAX_CLIP = 60.0         # seconds: the clip of an event that lasts longer covers its first minute (and pre/post)


def iso(wall: float) -> str:
    """Wall-clock seconds as local ISO 8601 with the time zone."""
    return _dt.datetime.fromtimestamp(wall).astimezone().isoformat(timespec="milliseconds")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "camera"


class EventLog:
    """``events.jsonl``: each event one line, written by a single ``write`` on an append-only file, so readers
    never see half a line and a crash never leaves one."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, record: dict) -> None:
        os.write(self.fd, (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Watcher:
    """Watch ``cameras`` (:class:`~videolens.live.config.Camera`) and write what happens into ``output``.

    ``realtime``: pace files at their frame rate (else a file is analyzed frame by frame, nothing dropped).
    ``duration``: stop after that many seconds of wall-clock time. ``sinks``: objects with ``send(event)`` and
    ``close()``. ``state``: the live page's state, if there is a page. ``on_frame(camera, frame_index, t)``: called
    from a camera's thread after each frame it analyzed.
    """

    def __init__(self, cameras: Sequence[Camera], output: str | os.PathLike, *, realtime: bool = False,
                 duration: float | None = None, sinks: Sequence = (), state=None,
                 status_every: float = STATUS_EVERY, backoff: tuple[float, float] = (1.0, 30.0),
                 on_frame: Callable[[str, int, float], None] | None = None):
        if not cameras:
            raise VideolensError("watch: no camera to watch (give a source or a --config with cameras)")
        self.cameras, self.realtime, self.duration = list(cameras), realtime, duration
        self.out = Path(output)
        self.sinks, self.state, self.status_every, self.backoff = list(sinks), state, status_every, backoff
        self.on_frame = on_frame
        self.events: queue.Queue = queue.Queue()
        self.workers: list[CameraWorker] = []
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._open: dict[tuple[str, str], dict] = {}       # (camera, key) -> the start record of a lasting event
        self._clipping: dict[str, tuple[CameraWorker, float]] = {}     # open clip id -> (its camera, start time)
        self._detectors: dict[tuple, Any] = {}
        self._galleries: dict[str, Any] = {}

    # ---- building ----------------------------------------------------------------------------------------------
    def _detector(self, camera: Camera):
        """The camera's detector (objects, faces or both), shared by cameras with the same settings."""
        from ..detect.detectors import default_face_model

        faces = default_face_model() if camera.faces or camera.people else None
        names = [n for n in (camera.objects, faces) if n]
        if not names:
            return None
        key = (tuple(names), camera.conf)
        if key not in self._detectors:
            from ..detect.detectors import MergedDetector, load_detector

            found = [load_detector(n, conf=camera.conf) for n in names]
            self._detectors[key] = found[0] if len(found) == 1 else MergedDetector(found)
        return self._detectors[key]

    def _worker(self, camera: Camera) -> CameraWorker:
        source = parse_source(camera.url, camera.name, camera.transport)
        lockstep = not source.live and not self.realtime
        reader = CameraReader(source, lockstep=lockstep, realtime=self.realtime, backoff=self.backoff,
                              on_state=lambda kind, msg, name=camera.name: self._camera_state(name, kind, msg))
        return CameraWorker(camera, reader, self._found, detector=self._detector(camera), lockstep=lockstep,
                            on_frame=self._frame_done, out_dir=self.out, identities=self._identities(camera))

    def _identities(self, camera: Camera):
        """Known/unknown faces for a camera with a ``people`` gallery (galleries loaded once per run)."""
        if not camera.people:
            return None
        from ..people.embed import FaceEmbedder
        from ..people.gallery import load_gallery
        from .faces import FaceIdentities

        embedder = FaceEmbedder.shared(1)
        if camera.people not in self._galleries:
            self._galleries[camera.people] = load_gallery(camera.people, embedder)
        return FaceIdentities(self._galleries[camera.people], embedder)

    # ---- events ------------------------------------------------------------------------------------------------
    def _new_id(self, camera: str, wall: float) -> str:
        return f"{_safe(camera)}-{time.strftime('%Y%m%dT%H%M%S', time.localtime(wall))}-{next(self._seq):05d}"

    def _found(self, f: Found, frame: Frame | None, worker: CameraWorker) -> None:
        """A finding of a camera's rules or analyzers (called in its thread): make it a record and queue it.

        A lasting event's end shares its start's ``id``; its clip runs from ``pre`` seconds before the start to
        ``post`` after the end."""
        camera, clips, cam = worker.camera.name, worker.clips, worker.camera
        wall = frame.wall if frame is not None else time.time()
        fields = {k: v for k, v in f.fields.items() if v is not None}
        if f.state == "end":
            with self._lock:
                start = self._open.pop((camera, f.key), None)
            if start is None:
                return
            record = {**start, "state": "end", "end": iso(wall), "t_end": round(f.t, 3), "frame_end": f.frame,
                      **fields}
            self._end_clip(start["id"], f.t)
        else:
            t0 = f.t if f.t_start is None else f.t_start
            record = {"id": self._new_id(camera, wall), "camera": camera, "kind": f.kind, "rule": f.rule,
                      "state": f.state, "start": iso(wall - max(0.0, f.t - t0)), "end": None if f.state == "start"
                      else iso(wall), "t_start": round(t0, 3), "t_end": None if f.state == "start" else round(f.t, 3),
                      "frame_start": f.frame if f.frame_start is None else f.frame_start,
                      "frame_end": None if f.state == "start" else f.frame, **fields,
                      "snapshot": None, "clip": None}
            if frame is not None:
                record["snapshot"] = self._snapshot(record["id"], frame, worker, fields.get("track_id"))
                if clips is not None:     # around the moment of the event (a track_end's, not its track's start)
                    record["clip"] = clips.request(record["id"], f.t, None if f.state == "start" else f.t,
                                                   cam.pre, cam.post)
                    if f.state == "start":
                        with self._lock:
                            self._clipping[record["id"]] = (worker, f.t)
            if f.state == "start":
                with self._lock:
                    self._open[(camera, f.key)] = record
        self.events.put(record)

    def _camera_state(self, camera: str, kind: str, message: str) -> None:
        wall = time.time()
        self.events.put({"id": self._new_id(camera, wall), "camera": camera, "kind": kind, "rule": None,
                         "state": "instant", "start": iso(wall), "end": iso(wall), "t_start": None, "t_end": None,
                         "frame_start": None, "frame_end": None, "message": redact(message), "snapshot": None,
                         "clip": None})

    def _snapshot(self, event_id: str, frame: Frame, worker: CameraWorker, track_id: int | None) -> str:
        """``snapshots/<id>.jpg``: the event's frame with the camera's boxes drawn (the event's track labelled)
        and its zones and lines; the path relative to the output folder."""
        from .snapshots import write_snapshot

        d = worker.last[1] if worker.last is not None and worker.last[0] is frame else None
        mark = None if d is None or track_id is None else d.track_ids == int(track_id)
        rel = f"snapshots/{event_id}.jpg"
        rules = worker.engine.rules
        write_snapshot(to_array(frame.image), d, self.out / rel, mark, zones=[r.zone for r in rules if r.zone],
                       lines=[r.line for r in rules if r.line])
        return rel

    def _end_clip(self, event_id: str, t: float) -> None:
        """The clip of a lasting event stops ``post`` seconds after ``t`` (its end, or MAX_CLIP after its start)."""
        with self._lock:
            open_clip = self._clipping.pop(event_id, None)
        if open_clip is not None and open_clip[0].clips is not None:
            open_clip[0].clips.end(event_id, t, open_clip[0].camera.post)

    def _frame_done(self, frame: Frame, worker: CameraWorker) -> None:
        with self._lock:
            long = [(k, t0) for k, (w, t0) in self._clipping.items() if w is worker and frame.t - t0 > MAX_CLIP]
        for event_id, t0 in long:
            self._end_clip(event_id, t0 + MAX_CLIP)
        if self.on_frame is not None:
            self.on_frame(worker.camera.name, frame.index, frame.t)
        if self.state is not None:
            self._show(frame, worker)

    def _show(self, frame: Frame, worker: CameraWorker) -> None:
        """The live page's view of a camera: the analyzed frame with zones, lines and boxes drawn."""
        import cv2

        from ..report.draw import BoxAnnotator, draw_line, draw_zone

        rgb = to_array(frame.image)
        d = worker.tracked
        if d is not None and len(d):
            rgb = BoxAnnotator(trail=0).annotate(rgb, d)
        for rs in worker.engine.rules:
            if rs.zone is not None:
                draw_zone(rgb, rs.zone)
            if rs.line is not None:
                draw_line(rgb, rs.line)
        ok, buf = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 75])
        if ok:
            self.state.update_frame(worker.camera.name, buf.tobytes())
            self.state.set_counts(worker.camera.name, worker.engine.counts())

    # ---- status ------------------------------------------------------------------------------------------------
    def status(self) -> dict:
        cams = {}
        for w in self.workers:
            r = w.reader
            cams[w.camera.name] = {"source": r.source.shown, "connected": r.connected, "frames_in": r.frames_in,
                                   "frames_analyzed": w.analyzed, "frames_dropped": r.frames_dropped,
                                   "lag": round(w.lag, 3), "cpu_seconds": round(r.cpu + w.cpu, 2),
                                   "detecting": w.gate_open, "last_error": r.error}
        # The cameras' own threads do not count FFmpeg's decoder threads or the detectors' pools: the process's
        # figure holds everything
        return {"updated": iso(time.time()), "process_cpu_seconds": round(time.process_time(), 2), "cameras": cams}

    def _write_status(self, last: dict) -> dict:
        now = time.time()
        doc = self.status()
        for name, cam in doc["cameras"].items():
            before = last.get(name)
            if before is not None and now > before[0]:
                cam["cpu"] = round(100 * (cam["cpu_seconds"] - before[1]) / (now - before[0]), 1)
            last[name] = (now, cam["cpu_seconds"])
        before = last.get(None)
        if before is not None and now > before[0]:
            doc["process_cpu"] = round(100 * (doc["process_cpu_seconds"] - before[1]) / (now - before[0]), 1)
        last[None] = (now, doc["process_cpu_seconds"])
        write_text(self.out / "status.json", json.dumps(doc, indent=1, ensure_ascii=False) + "\n", overwrite=True)
        if self.state is not None:
            self.state.set_status(doc)
        return last

    # ---- running -----------------------------------------------------------------------------------------------
    def run(self) -> Iterator[dict]:
        """Start every camera and yield events until the files end, ``duration`` passes or the caller stops."""
        (self.out / "snapshots").mkdir(parents=True, exist_ok=True)
        log = EventLog(self.out / "events.jsonl")
        self.workers = [self._worker(c) for c in self.cameras]
        started = time.monotonic()
        cpu: dict = {}
        next_status = 0.0
        try:
            for w in self.workers:
                w.start()
            while True:
                try:
                    record = self.events.get(timeout=0.2)
                except queue.Empty:
                    record = None
                if record is not None:
                    yield self._publish(log, record)
                now = time.monotonic()
                if now >= next_status:
                    cpu = self._write_status(cpu)
                    next_status = now + self.status_every
                if self.duration is not None and now - started >= self.duration:
                    break
                if record is None and all(w.done for w in self.workers) and self.events.empty():
                    break
        finally:
            for w in self.workers:
                w.stop()
            while not self.events.empty():      # what the cameras found while stopping: their closing events
                self._publish(log, self.events.get())
            for s in self.sinks:
                s.close()
            log.close()
            self._write_status(cpu)
        failed = [w.reader.error for w in self.workers if not w.reader.source.live and not w.analyzed
                  and w.reader.error]
        if failed:
            raise VideolensError(failed[0])

    def _publish(self, log: EventLog, record: dict) -> dict:
        log.write(record)
        for s in self.sinks:
            s.send(record)
        if self.state is not None:
            self.state.add_event(record)
        return record


def cameras_from(sources: Sequence[str], *, config=None, names: Sequence[str] | None = None,
                 zones: dict | None = None, lines: dict | None = None, rules: Sequence[Rule] | None = None,
                 **settings) -> list[Camera]:
    """The cameras of a run: the config's (``names`` picks some) and one per source, with the command line's
    zones, lines, rules and settings (``objects``, ``tracker``, ``faces``, ``fps``, ``anchor``...) on each."""
    from .config import check_rules, load_config, select

    cams: list[Camera] = []
    if config is not None:
        cfg = load_config(config) if isinstance(config, (str, os.PathLike)) else config
        cams += list(select(cfg, list(names) if names else None).cameras)
    cams += [Camera(name=parse_source(s).name, url=s) for s in sources]
    given = {k: v for k, v in settings.items() if v is not None}
    out = []
    for cam in cams:
        extra_rules = tuple(rules or ())
        cam = replace(cam, zones={**cam.zones, **{k: tuple(map(tuple, v)) for k, v in (zones or {}).items()}},
                      lines={**cam.lines, **{k: tuple(map(tuple, v)) for k, v in (lines or {}).items()}},
                      **given)
        if extra_rules:
            cam = replace(cam, rules=cam.rules + extra_rules)
        elif (zones or lines) and cam.rules:      # --zone/--line: rules for every class, beside the config's
            cam = replace(cam, rules=cam.rules + tuple(Rule(n, "zone", zone=n) for n in zones or {})
                          + tuple(Rule(n, "line", line=n) for n in lines or {}))
        check_rules(cam)
        out.append(cam)
    names_used = [c.name for c in out]
    dup = sorted({n for n in names_used if names_used.count(n) > 1})
    if dup:
        raise VideolensError(f"watch: two cameras are named {dup[0]} (name them in a --config)")
    return out


def watch(sources: Sequence[str] = (), rules: Sequence[Rule] | None = None, *, config=None,
          cameras: Sequence[str] | None = None, objects: str | None = None, tracker: str | None = None,
          faces: bool | None = None, people: str | os.PathLike | None = None, zones: dict | None = None,
          lines: dict | None = None, anchor: str | None = None,
          fps: float | None = None, output: str | os.PathLike = "videolens-out/watch", realtime: bool = False,
          duration: float | None = None, sinks: Sequence = (), state=None,
          on_event: Callable[[dict], None] | None = None,
          on_frame: Callable[[str, int, float], None] | None = None) -> Iterator[dict]:
    """Watch cameras (URLs, devices, files, ``-``) and yield each event as it happens; ``on_event`` is called too.

    ``rules``: :class:`~videolens.live.config.Rule` objects for every camera; ``config``: a YAML file (or a loaded
    config) with cameras and their rules; ``zones``/``lines``: ``{name: points}`` for every camera (rules for every
    class when no rule is given); ``people``: a gallery (a folder of photos per person, or ``gallery.npz``): faces
    are detected, tracked and named once per track, as ``known_face`` or ``unknown_face`` events. The generator stops when every file has ended, after ``duration`` seconds, or
    when the caller stops iterating (everything is closed and flushed then). ``on_frame(camera, index, t)`` is
    called after each analyzed frame.
    """
    cams = cameras_from(sources, config=config, names=cameras, zones=zones, lines=lines, rules=rules,
                        objects=objects, tracker=tracker, faces=faces, anchor=anchor, fps=fps,
                        people=os.fspath(people) if people is not None else None)
    for event in Watcher(cams, output, realtime=realtime, duration=duration, sinks=sinks, state=state,
                         on_frame=on_frame).run():
        if on_event is not None:
            on_event(event)
        yield event
