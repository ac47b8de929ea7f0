"""Atomic output files, input expansion (files, directories, globs) and the one rule for output folders.

Temporary names carry the writing process's id (``.report.k2x9a1bc.4711.partial.json``), so that a later run can
tell what a killed run left behind (its process is gone: :func:`remove_leftovers`) from what a run still going is
writing.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..errors import DiskFullError, OutputExistsError, VideolensError, disk_full

VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts",
                    ".flv", ".wmv", ".3gp", ".ogv", ".mxf", ".vob"}
AUDIO_EXTENSIONS = {".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus", ".wma", ".mp2"}
DEFAULT_OUTPUT = Path("videolens-out")     # where a command writes when not given -o


def temp_path_for(path: str | os.PathLike) -> str:
    """A fresh temporary name in the same folder as ``path``, keeping its extension (so muxers guess the format)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".{os.getpid()}.partial{path.suffix}",
                               dir=path.parent)
    os.close(fd)
    _plain_mode(tmp, 0o666)      # what open() would have made; mkstemp makes it private
    return tmp


def _umask() -> int:
    """The process's umask, read without changing it where Linux tells it (setting it to read it is racy)."""
    with contextlib.suppress(OSError, StopIteration, ValueError), open("/proc/self/status", encoding="ascii") as f:
        return int(next(line for line in f if line.startswith("Umask:")).split()[1], 8)
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _plain_mode(path: str | os.PathLike, mode: int) -> None:
    """Give a temporary file or folder (created private, 0600/0700) the permissions a plain open() or mkdir()
    would have given it under the umask."""
    with contextlib.suppress(OSError):
        os.chmod(path, mode & ~_umask())


def check_writable(path: str | os.PathLike, overwrite: bool) -> None:
    if os.path.exists(path) and not overwrite:
        raise OutputExistsError(path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = True) -> Iterator[str]:
    """Yield a temporary file name; on success rename it to ``path``, on error remove it.

    >>> with atomic_path("/tmp/videolens-doc.txt") as tmp:
    ...     _ = open(tmp, "w").write("complete")
    >>> open("/tmp/videolens-doc.txt").read()
    'complete'
    """
    check_writable(path, overwrite)
    with disk_errors(path):
        tmp = temp_path_for(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if disk_full(e):
            raise DiskFullError(path, e) from None
        raise


@contextlib.contextmanager
def disk_errors(path: str | os.PathLike) -> Iterator[None]:
    """Turn a full disk (or the file size limit) met while writing ``path`` into a one-line
    :class:`~videolens.errors.DiskFullError` naming it."""
    try:
        yield
    except OSError as e:
        if disk_full(e):
            raise DiskFullError(path, e) from None
        raise


def write_text(path: str | os.PathLike, text: str, overwrite: bool = True) -> None:
    """Write a text file atomically (UTF-8)."""
    with atomic_path(path, overwrite) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def write_bytes(path: str | os.PathLike, data: bytes, overwrite: bool = True) -> None:
    with atomic_path(path, overwrite) as tmp, open(tmp, "wb") as f:
        f.write(data)


def final_name(path: str | os.PathLike) -> Path:
    """The name a temporary file of :func:`temp_path_for` stands for (any other name as it is).

    >>> str(final_name("out/.report.k2x9a1bc.4711.partial.json"))
    'out/report.json'
    """
    path = Path(os.fspath(path))
    return path.with_name(re.sub(r"^\.(.+)\.[a-z0-9_]+\.\d+\.partial(\.[^./]*)?$", r"\1\2", path.name))


def _final_name(inner: str | os.PathLike | None, tmp: Path, final: Path) -> Path:
    """What ``inner`` (a file in the temporary folder ``tmp``, perhaps under a temporary name of its own) will be
    called once ``tmp`` is renamed to ``final``; ``final`` itself when ``inner`` is unknown."""
    if inner is None:
        return final
    inside = os.path.relpath(os.fspath(inner), tmp)
    if inside.startswith(".."):
        return final_name(inner)
    return final / final_name(inside)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Build a folder under a temporary name and rename it into place when complete (replacing an old one).

    A full disk while it is built is a :class:`~videolens.errors.DiskFullError` naming the file as it would
    have been called in ``path``, not under the temporary name.
    """
    path = Path(path)
    with disk_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=f".{os.getpid()}.partial", dir=path.parent))
    _plain_mode(tmp, 0o777)
    try:
        try:
            yield tmp
        except DiskFullError as e:
            raise DiskFullError(_final_name(e.path, tmp, path), e.error) from None
        except OSError as e:
            if disk_full(e):
                raise DiskFullError(_final_name(e.filename, tmp, path), e) from None
            raise
        with disk_errors(path):
            if path.exists():
                old = path.with_name(f".{path.name}.{os.getpid()}.old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(path, old)
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# What follows ".<name>." in a temporary name: mkstemp's random part, the writer's pid (absent in names written
# before it was added), then ".partial" and the extension, or the replaced folder of atomic_dir (".<pid>.old").
_LEFTOVER = re.compile(r"^(?:[a-z0-9_]+\.(?:(?P<pid>\d+)\.)?partial(?:\.[^.]*)?|(?:(?P<oldpid>\d+)\.)?old)$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:     # someone else's process
        return True
    return True


def remove_leftovers(folder: str | os.PathLike, names: Sequence[str]) -> list[Path]:
    """Remove what killed runs left in ``folder`` while writing ``names`` (temporary files of
    :func:`atomic_path`, folders of :func:`atomic_dir`): those whose writing process is gone. Returns them.

    A name written by a process that still runs (another run over the same output) is left alone.
    """
    folder = Path(folder)
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    wanted = {f".{n}." for n in names}
    for entry in entries:
        head = next((w for w in wanted if entry.name.startswith(w)), None)
        m = _LEFTOVER.match(entry.name[len(head):]) if head else None
        if not m:
            continue
        pid = m.group("pid") or m.group("oldpid")
        if pid and _alive(int(pid)):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                path.unlink()
        removed.append(path)
    return removed


@functools.lru_cache(maxsize=256)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    import hashlib   # here: most commands never hash, and start-up counts

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_digest(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's content (hex), or of a folder's files (names and contents, sorted); computed once
    per process while the file keeps its size and modification time.

    >>> write_text("/tmp/videolens-digest.txt", "abc"); file_digest("/tmp/videolens-digest.txt")[:12]
    'ba7816bf8f01'
    """
    path = os.path.realpath(os.fspath(path))
    if os.path.isdir(path):
        import hashlib

        h = hashlib.sha256()
        for p in sorted(Path(path).rglob("*")):
            if p.is_file() and not p.name.startswith("."):
                h.update(f"{p.relative_to(path).as_posix()}\0{file_digest(p)}\n".encode())
        return h.hexdigest()
    st = os.stat(path)
    return _digest(path, st.st_size, st.st_mtime_ns)


def expand_inputs(inputs: list[str], extensions: set[str] | None = None) -> list[str]:
    """Expand files, directories (their media files, sorted) and glob patterns into a list of paths.

    A name that matches nothing is kept as given, so the caller reports it as a missing file.
    """
    extensions = extensions or (VIDEO_EXTENSIONS | AUDIO_EXTENSIONS)
    out: list[str] = []
    for item in inputs:
        if os.path.isdir(item):
            found = sorted(str(p) for p in Path(item).rglob("*") if p.is_file() and p.suffix.lower() in extensions)
            if not found:
                raise VideolensError(f"{item}: no media files in this directory")
            out.extend(found)
        elif any(ch in item for ch in "*?[") and not os.path.exists(item):
            found = sorted(p for p in glob.glob(item, recursive=True) if os.path.isfile(p))
            if not found:
                raise VideolensError(f"{item}: no files match this pattern")
            out.extend(found)
        else:
            out.append(item)
    seen: set[str] = set()
    return [p for p in out if not (p in seen or seen.add(p))]


def default_output_dir(input_path: str | None) -> Path:
    """``./videolens-out/<input-stem>/`` (conventions.md)."""
    stem = Path(input_path).stem if input_path else "out"
    return DEFAULT_OUTPUT / stem


def output_names(paths: Sequence[str]) -> list[str]:
    """One folder name per video: its file stem, plus a short hash of its path when two stems collide.

    A hash of the absolute path (not a counter) keeps a video's folder the same whatever else is in the batch.

    >>> output_names(["a/clip.mp4", "b/clip.mp4", "c/other.mkv"])[2]
    'other'
    >>> len(set(output_names(["a/clip.mp4", "b/clip.mp4"])))
    2
    """
    stems = [Path(p).stem or "video" for p in paths]
    seen: dict[str, int] = {}
    for s in stems:
        seen[s] = seen.get(s, 0) + 1
    out = []
    for p, s in zip(paths, stems):
        if seen[s] > 1:
            import hashlib

            s = f"{s}-{hashlib.sha1(os.path.abspath(p).encode('utf-8')).hexdigest()[:8]}"
        out.append(s)
    return out


def output_dirs(inputs: Sequence[str], output: str | os.PathLike | None = None) -> dict[str, Path]:
    """The folder of each input of a command (conventions.md): ``output`` itself for a single input, else
    ``output/<name>/`` with names from :func:`output_names` (so same-named inputs never share a folder); without
    ``output``, ``./videolens-out/<name>/``.

    >>> [str(d) for d in output_dirs(["a/clip.mp4"], "out").values()]
    ['out']
    >>> sorted(str(d) for d in output_dirs(["a/x.mp4", "b/y.mp4"], "out").values())
    ['out/x', 'out/y']
    """
    if len(inputs) == 1:
        return {inputs[0]: Path(output) if output else default_output_dir(inputs[0])}
    root = Path(output) if output else DEFAULT_OUTPUT
    return dict(zip(inputs, (root / name for name in output_names(inputs))))
