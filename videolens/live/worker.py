"""One camera's analysis thread: take the newest frame, look for motion, run the detectors while there is motion,
apply the rules, and hand out events.

The detectors are ordinary analyzers (:class:`~videolens.detect.analyzers.ObjectsAnalyzer`, the same class as
``videolens analyze`` and ``videolens detect`` run), fed one frame at a time.
"""

from __future__ import annotations

import datetime as _dt
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.detections import Detections
from ..io.convert import FrameConverter, target_size
from .camera import CameraReader, Frame
from .config import Camera, Rule
from .motion import ANALYSIS_WIDTH, MotionDetector, TamperDetector
from .rules import FORGET_AFTER, FORGET_EVERY, Found, RuleEngine

GATE_HOLD = 2.0     # seconds the detectors go on after motion stops (objects that stop still get tracked)


def default_rules(camera: Camera) -> tuple[Rule, ...]:
    """A camera's rules; without any, zone and line rules for every class of its zones and lines, and whole-frame
    motion when it has neither."""
    if camera.rules:
        return camera.rules
    rules = [Rule(name, "zone", zone=name) for name in camera.zones]
    rules += [Rule(name, "line", line=name) for name in camera.lines]
    return tuple(rules) or (Rule("motion", "motion", motion=camera.motion_threshold),)


def to_array(image, size=None, gray: bool = False) -> np.ndarray:
    """A decoded frame as uint8 RGB (or gray) at an analyzer's ``size`` (short side, (w, h) or None)."""
    wh = target_size(size, (image.width, image.height))
    kw = {"width": wh[0], "height": wh[1]} if wh else {}
    return image.to_ndarray(format="gray" if gray else "rgb24", **kw)


class CameraWorker:
    """Reads and analyzes one camera in two daemon threads; ``emit(found, frame, worker)`` gets each event.

    With ``out_dir``, the reader also keeps the last seconds of compressed packets to cut event clips from
    (:attr:`clips`, a :class:`~videolens.live.clips.ClipWriter` per connection), and records them continuously when
    the camera says ``record``.
    """

    def __init__(self, camera: Camera, reader: CameraReader, emit: Callable[[Found, Frame | None, Any], None], *,
                 detector=None, lockstep: bool = False, on_frame: Callable[[Frame, Any], None] | None = None,
                 out_dir=None, identities=None):
        self.camera, self.reader, self.emit, self.out = camera, reader, emit, out_dir
        self.clips = None
        self.recorder = None
        self.lockstep = lockstep
        self.rules = default_rules(camera)
        self.engine = RuleEngine(self.rules, camera.zones, camera.lines, camera.anchor)
        self.tamper = TamperDetector() if any(r.kind == "tamper" for r in self.rules) else None
        self.objects = None
        self.tracked: Detections | None = None
        if detector is not None:
            from ..detect.analyzers import ObjectsAnalyzer

            self.objects = ObjectsAnalyzer(detector, tracker=camera.tracker or None, keep_frames=False,
                                           keep_tracks=False, **(camera.tracker_settings if camera.tracker else {}))
            self.objects.sinks.append(self._on_detections)
        self.on_frame = on_frame
        self.identities = identities        # a FaceIdentities: known_face / unknown_face (camera.people)
        self.motion: MotionDetector | None = None
        self._fresh = True
        self.analyzed = 0
        self.lag = 0.0
        self.cpu = 0.0
        self.last_motion = -1e9
        self._convert: FrameConverter | None = None
        self.gate_open = False
        self.last: tuple[Frame, Detections | None] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"videolens-watch-{camera.name}", daemon=True)
        reader.on_connect = self._on_connect
        reader.on_packet = self._on_packet if out_dir is not None else None

    # ---- control -----------------------------------------------------------------------------------------------
    def start(self) -> None:
        self._warm_up()
        self.reader.start()
        self._thread.start()

    def _warm_up(self) -> None:
        """Load what the first frame would otherwise wait for (OpenCV, the detector's first run), before the
        camera is opened: a camera's first second must not be spent loading libraries while frames drop."""
        import cv2  # noqa: F401

        if self.objects is not None:
            try:
                self.objects.detector.detect([np.zeros((64, 64, 3), np.uint8)])
            except Exception:  # noqa: BLE001 - a detector that cannot run blind (replay) warms up on its first frame
                pass

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.reader.stop(timeout)
        self._thread.join(timeout)
        self._close_outputs()

    def _close_outputs(self) -> None:
        """Finish the clips and the recording segment of a connection (the reader is not adding to them now)."""
        for out in (self.clips, self.recorder):
            if out is not None:
                out.close()
        self.clips = self.recorder = None

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    # ---- the thread --------------------------------------------------------------------------------------------
    def _on_connect(self, stream, info) -> None:
        if self.out is not None:
            self._open_outputs(stream)
        w, h = info.stored_size
        size = (ANALYSIS_WIDTH, max(2, round(ANALYSIS_WIDTH * h / max(w, 1))))
        zones = {k: [(x * size[0] / w, y * size[1] / h) for x, y in v] for k, v in self.camera.zones.items()}
        self.motion = MotionDetector(size, zones)
        self._fresh = True          # nothing is known of a picture just (re)connected: look at it
        if self.objects is not None and self.analyzed == 0:
            self.objects.start(info)

    def _open_outputs(self, stream) -> None:
        """A new connection: a new packet ring, clip writer and recorder (a stream's clock restarts with it)."""
        from ..errors import VideolensError
        from .clips import ClipWriter, PacketRing

        self._close_outputs()
        cam = self.camera
        try:
            ring = PacketRing(stream, seconds=cam.pre + cam.post + 10.0, name=cam.name)
            self.clips = ClipWriter(ring, self.out)
            if cam.record:
                from .record import Recorder

                self.recorder = Recorder(ring, self.out, cam.name, segment_seconds=cam.segment_seconds,
                                         max_age=cam.record_hours * 3600, max_bytes=int(cam.record_gb * 1e9))
        except VideolensError as e:     # a stream MP4 cannot carry: events without clips, and say why
            self.reader.error = str(e)

    def _on_packet(self, packet, wall: float) -> None:
        if self.clips is not None:
            self.clips.ring.add(packet, wall)
            self.clips.poll()
        if self.recorder is not None:
            self.recorder.poll()

    def _on_detections(self, d: Detections) -> None:
        self.tracked = d

    def _run(self) -> None:
        period = 0.0 if self.lockstep else 1.0 / max(self.camera.fps, 1e-3)
        next_at = 0.0
        frame = None
        try:
            while not self._stop.is_set():
                wait = next_at - time.monotonic()
                if wait > 0 and self._stop.wait(wait):
                    break
                taken = self.reader.take(timeout=0.5)
                if taken is None:
                    if self.reader.exhausted():
                        break
                    continue
                frame = taken
                next_at = time.monotonic() + period
                self._analyze(frame)
                self.analyzed += 1
                self.lag = time.time() - frame.wall
                self.cpu = time.thread_time()
        finally:
            self._close(frame)

    def _analyze(self, frame: Frame) -> None:
        image, t, i = frame.image, frame.t, frame.index
        if self._convert is None:
            # One converter per worker: its swscale contexts are reused frame after frame (the analysis thread only)
            self._convert = FrameConverter(0, (image.width, image.height))
        size = (image.width, image.height)
        gray = self._convert(image, target_size(self.motion.size, size), True, "fast_bilinear", 0)
        motion = self.motion.update(gray)
        if motion.fraction >= self.camera.motion_threshold or self._fresh:
            self.last_motion, self._fresh = t, False
        tamper = self.tamper.update(gray, t) if self.tamper is not None else None
        self.gate_open = self.lockstep or not self.camera.motion_gate or t - self.last_motion <= GATE_HOLD
        self.tracked = None
        if self.objects is not None and self.gate_open:
            rgb = self._convert(image, target_size(self.objects.size, size), False, "fast_bilinear", 0)
            self.objects.process(rgb[None], np.asarray([t]), np.asarray([i]))
        now = _dt.datetime.fromtimestamp(frame.wall).astimezone()
        found = self.engine.update(self.tracked, i, t, motion, tamper, now)
        if self.identities is not None and self.tracked is not None:
            found += self.identities.update(self.tracked, lambda: to_array(image), i, t)
            if self.analyzed % FORGET_EVERY == 0:
                self.identities.forget(t - FORGET_AFTER)
        if self.objects is not None:
            found += [_from_event(e, self.objects.name) for e in self.objects.events()]
        self.last = (frame, self.tracked)
        for f in found:
            self.emit(f, frame, self)
        if self.on_frame is not None:
            self.on_frame(frame, self)

    def _close(self, frame: Frame | None) -> None:
        """End what is open: the rules' lasting events, then the analyzers' (tracks that never ended)."""
        i, t = (frame.index, frame.t) if frame is not None else (0, 0.0)
        found = self.engine.close(i, t)
        if self.objects is not None and self.analyzed:
            self.objects.finish()
            found += [_from_event(e, self.objects.name) for e in self.objects.events()]
        for f in found:
            self.emit(f, None, self)


def _from_event(e, analyzer: str) -> Found:
    """An analyzer's :class:`~videolens.core.Event` (``track_end``, ...) as a finding of that analyzer."""
    return Found(e.kind, analyzer, "instant", float(e.t_end), int(e.frame_end), dict(e.data),
                 t_start=float(e.t_start), frame_start=int(e.frame_start))
