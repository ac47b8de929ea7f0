"""``AnalyzeConfig``: what one ``videolens analyze`` run asks for, checked before any video is touched.

>>> AnalyzeConfig(speech=False, stride=2).switch("speech")
False
>>> AnalyzeConfig(enable={"brightness": True}).switch("brightness")
True
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import VideolensError

PROXY_MODES = ("auto", "always", "never")
# AnalyzeConfig's fields that set how analyzers run; the others (shots, faces, ...) switch the analyzer of that name.
SETTINGS = ("tracker", "stride", "annotated_video", "proxy", "device", "threads", "plugins", "enable")


@dataclass
class AnalyzeConfig:
    """What ``videolens analyze`` runs. Picklable, so it travels to worker processes and Ray tasks unchanged.

    - ``shots``, ``faces``, ``motion``: on by default. ``speech``: None = when the video has audio.
    - ``objects``: a detector model name or path (turns object detection on); ``tracker``: a tracker name;
      ``tracker_settings``: its keyword arguments (``{"high_thresh": 0.3}``; ``--track-thresh`` and friends).
    - ``actions``: an action-recognition checkpoint (turns action recognition on).
    - ``enable``: on/off by name for registered analyzers that have no field here (``{"brightness": True}``).
    - ``stride``: analyze every N-th frame (faces, objects, motion; shots always see every frame).
    - ``annotated_video``: also write ``annotated.mp4``. ``proxy``: ``auto`` (when the browser cannot play the
      source), ``always`` or ``never``.
    - ``threads``: decoder threads (0 = FFmpeg decides). ``plugins``: extra analyzers as ``"module:Name"``.
    """

    shots: bool = True
    faces: bool = True
    motion: bool = True
    speech: bool | None = None
    objects: str | None = None
    tracker: str | None = None
    tracker_settings: dict = field(default_factory=dict)
    actions: str | None = None
    stride: int | None = None
    annotated_video: bool = False
    proxy: str = "auto"
    device: str = "auto"
    threads: int = 0
    plugins: tuple[str, ...] = field(default_factory=tuple)
    enable: dict[str, bool] = field(default_factory=dict)

    def switch(self, name: str) -> object:
        """What the user said about analyzer ``name``: a value (True/False, a model path) or None (its default)."""
        if name in self.enable:
            return self.enable[name]
        return None if name in SETTINGS else getattr(self, name, None)

    def names(self, has_audio: bool) -> list[str]:
        """The registered analyzers this configuration asks for, in run order."""
        from .registry import ANALYZERS

        return [e.name for e in ANALYZERS.entries() if wanted(e, self.switch(e.name), has_audio)]


def wanted(entry, value: object, has_audio: bool) -> bool:
    """Whether a registered analyzer runs: as the user said, else its default (and audio when it needs audio)."""
    if value is None:
        return bool(entry.meta.get("default")) and (has_audio or not entry.meta.get("needs_audio"))
    return bool(value)


def check_config(config: AnalyzeConfig) -> None:
    """Reject settings that cannot work before any video is touched (a one-line error, exit 2)."""
    from ..track import TRACKERS
    from .registry import ANALYZERS, load_plugin

    if config.tracker and not config.objects:
        raise VideolensError("--tracker needs --objects MODEL|PATH (it tracks the detected objects)")
    if config.tracker:
        TRACKERS.check(config.tracker)
        if config.tracker_settings:
            from ..track import create_tracker

            create_tracker(config.tracker, **config.tracker_settings)     # an unknown setting: one line, now
    if config.stride is not None and int(config.stride) < 1:
        raise VideolensError(f"--stride must be >= 1, not {config.stride}")
    if config.actions and not os.path.exists(config.actions):
        raise VideolensError(f"{config.actions}: no such checkpoint file (--actions)")
    if config.objects and any(s in config.objects for s in ("/", os.sep)) and not os.path.exists(config.objects):
        raise VideolensError(f"{config.objects}: no such model file (--objects)")
    if config.proxy not in PROXY_MODES:
        raise VideolensError(f"proxy must be auto, always or never, not {config.proxy!r}")
    for name in config.enable:
        ANALYZERS.check(name)
    for spec in config.plugins:
        load_plugin(spec)
