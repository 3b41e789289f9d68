"""One writer per results folder: a lock held for a run's whole life, its holder named.

Two runs writing one folder would each rewrite ``metrics.json`` from their own fits, and
the first run's fits would be lost without a word. :func:`folder_lock` takes the operating
system's lock (``flock``) on a file in the folder and writes who holds it (pid, host,
command, start time); a second run is refused with :class:`FolderLocked`, naming them.
The kernel releases the lock when its process ends, however it ends, so a lock file left
by a killed run never blocks the next one (``--resume`` included): no pid polling.

The lock is advisory and local to one machine's kernel (and to file systems that pass
``flock`` on, as NFS does on Linux): it refuses another ``bnn-bench`` process, not an
editor. A leaf module: it imports nothing of the package but its errors.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import socket
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from bnn_models.errors import BadInput

__all__ = ["LOCK_NAME", "FolderLocked", "folder_lock", "lock_holder"]

#: The lock file in a results folder.
LOCK_NAME = ".bnn-bench.lock"

#: Lock files this process holds, and how many ``with`` blocks hold each: a run nested in a
#: command that already holds its folder's lock (``bnn-bench run`` then its report) goes on.
_HELD: dict[Path, int] = {}


class FolderLocked(BadInput):
    """Another process is writing the folder (``bnn-bench`` exits 2 with the message)."""


def lock_holder(path: str | Path) -> dict | None:
    """Who holds (or last held) the lock file ``path``: pid, host, command, started.

    None when the file is missing, empty (its holder is starting) or unreadable.
    """
    try:
        info = json.loads(Path(path).read_text() or "null")
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _describe(info: dict | None) -> str:
    if info is None:
        return "a process that has not written its name yet"
    return (
        f"pid {info.get('pid')} on {info.get('host')}, started {info.get('started')}: "
        f"{info.get('command')}"
    )


@contextlib.contextmanager
def folder_lock(
    folder: str | Path, *, command: str | None = None, name: str = LOCK_NAME
) -> Iterator[Path]:
    """Hold the lock of ``folder`` (created if missing) for the ``with`` block.

    Parameters
    ----------
    folder : path
        The folder one run writes.
    command : str, optional
        What the holder is doing, shown to a refused run (default: this process's
        command line).
    name : str
        The lock file's name (a reference cache locks one file per reference).

    Yields
    ------
    Path
        The lock file (holding ``{"pid", "host", "command", "started"}``); removed when
        the block ends.

    Raises
    ------
    FolderLocked
        Another process holds the lock; the message names it.
    BadInput
        The folder cannot be created or written.

    Examples
    --------
    >>> with folder_lock(tmp / "run") as lock:  # doctest: +SKIP
    ...     lock_holder(lock)["pid"] == os.getpid()
    True
    """
    folder = Path(folder)
    path = folder.resolve() / name
    if path in _HELD:
        _HELD[path] += 1
        try:
            yield path
        finally:
            _HELD[path] -= 1
        return
    created = _missing_parent(folder.resolve())
    while True:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise BadInput(f"output directory {folder} is not writable ({err.strerror})") from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FolderLocked(
                f"{folder}: another run is writing this folder ({_describe(lock_holder(path))}); "
                "wait for it to end, or write elsewhere (--out)"
            ) from None
        # The holder before us removes the file as it lets go: a lock on that removed file
        # guards nothing, so take the one on the file now at the path.
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command or shlex.join(["python", *sys.argv]),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    _HELD[path] = 1
    try:
        yield path
    finally:
        del _HELD[path]
        path.unlink(missing_ok=True)  # before letting go: see the check above
        os.close(fd)  # releases the lock
        _remove_if_empty(folder.resolve(), created)


def _missing_parent(folder: Path) -> Path | None:
    """The outermost of ``folder`` and its parents that does not exist yet (None: none)."""
    missing = None
    for parent in (folder, *folder.parents):
        if parent.exists():
            break
        missing = parent
    return missing


def _remove_if_empty(folder: Path, created: Path | None) -> None:
    """Remove the folders the lock created if nothing was written in them: a run refused
    before it wrote anything (an unreachable scheduler) leaves nothing behind."""
    if created is None:
        return
    for parent in (folder, *folder.parents):
        try:
            parent.rmdir()
        except OSError:  # not empty, or gone
            return
        if parent == created:
            return
