"""Atomic, durable file writes and up-front checks that an output path can be written.

A write goes to a temporary file beside its target, which ``os.replace`` then puts in
place in one step: a reader sees the old file or the new one, never half of one. With
``durable=True`` (the default) the temporary file is fsynced before the rename and the
folder after it, so a power cut cannot leave an empty or truncated file under the
target's name, nor lose the rename once the call has returned.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from cartpole.errors import OutputError


@contextmanager
def atomic_path(path: str | Path, suffix: str = "", durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` at once
    (fsynced before the rename, and the folder after it, when ``durable``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = temp_beside(path, suffix)
    try:
        yield tmp_path
        if durable:
            fsync_file(tmp_path)
        os.replace(tmp_path, path)
        if durable:
            fsync_dir(path.parent)
    finally:
        tmp_path.unlink(missing_ok=True)


def temp_beside(path: Path, suffix: str = "") -> Path:
    """A new, empty, hidden file in ``path``'s folder, with the usual permissions."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
    return Path(tmp)


def fsync_file(path: str | Path) -> None:
    """Flush a file's data and metadata to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str | Path) -> None:
    """Flush a folder's entries (a rename or a new file in it) to the disk."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | Path, text: str, durable: bool = True) -> None:
    with atomic_path(path, durable=durable) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, data: Any, durable: bool = True) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n", durable)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path, suffix=Path(path).suffix) as tmp:
        tmp.write_bytes(data)


def copy_file(src: str | Path, dst: str | Path) -> None:
    with atomic_path(dst, suffix=Path(dst).suffix) as tmp:
        shutil.copyfile(src, tmp)


def write_with(path: str | Path, writer: Callable[[Path], None]) -> None:
    """Let ``writer`` fill a temporary file with the same suffix, then move it into place."""
    with atomic_path(path, suffix=Path(path).suffix) as tmp:
        writer(tmp)


def check_writable_dir(path: str | Path, what: str) -> None:
    """Raise OutputError unless ``path`` is, or can be created as, a writable directory.

    Nothing is left behind: the nearest existing ancestor is probed with a temporary
    file that is removed at once (``os.access`` would say yes to root everywhere).
    """
    path = Path(path).absolute()
    if path.exists() and not path.is_dir():
        raise OutputError(f"{what} {path} exists and is not a directory")
    ancestor = path
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(f"{what} {path} cannot be created: {ancestor} is not a directory")
    try:
        fd, probe = tempfile.mkstemp(prefix=".cartpole-probe-", dir=ancestor)
    except OSError as exc:
        raise OutputError(f"{what} {path} cannot be written: {exc.strerror}") from None
    os.close(fd)
    os.unlink(probe)


def check_writable_file(path: str | Path, what: str) -> None:
    """Raise OutputError unless ``path`` can be written as a file."""
    path = Path(path).absolute()
    if path.is_dir():
        raise OutputError(f"{what} {path} is a directory")
    check_writable_dir(path.parent, f"folder of {what}")


@contextmanager
def exclusive(path: str | Path, what: str) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (a file or a folder) or fail at once."""
    import fcntl

    fd = os.open(path, os.O_RDONLY | (os.O_CREAT if not Path(path).is_dir() else 0), 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputError(f"{what} is in use by another cartpole process") from None
        yield
    finally:
        os.close(fd)


@contextmanager
def waiting_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on a folder, waiting for other holders."""
    import fcntl

    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def pid_alive(pid: Any) -> bool:
    """Whether process ``pid`` (a pid file's or a status file's) still runs.

    A process of another user counts as running, and a zombie that nobody reaped
    yet as gone; anything but an int is no process.
    """
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def read_json(path: Path, missing: str) -> Any:
    """Parse a JSON file; a missing or unreadable file is a ConfigError (``missing`` says why)."""
    from cartpole.errors import ConfigError

    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(missing) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
