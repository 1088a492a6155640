"""The temporary files and folders this process creates, so an interrupted run removes them all.

Atomic writes (reports.atomic) create a temporary file next to their target and
the workbook gives xlsxwriter a temporary folder for its sheet buffers. Each is
created through this registry and released once renamed into place or removed.
On Ctrl-C or SIGTERM (flows.interrupt) `remove_all()` deletes what is still
live and *closes* the registry: a worker thread that asks for a new temporary
file after that waits forever instead of creating it, so nothing appears between
the clean-up and the process's exit (os._exit).

The registry lives in the process: temporary files of other processes (Dask
workers) are not in it; flows.interrupt sweeps the run folder for those (their
names match `is_temporary`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path

TEMP_SUFFIX = ".tmp"  # atomic writes' temporary files: ".<target name>.<random>.tmp"
TEMP_DIR_PREFIX = ".xlsxwriter-"  # the workbook's sheet buffers

_lock = threading.Lock()
_live: set[Path] = set()
_closed = False
_never = threading.Event()  # never set: where a thread waits once the registry is closed


def _check_open() -> None:
    """Called with the lock held; once closed, release it and wait for the process to exit."""
    if _closed:
        _lock.release()
        _never.wait()


def new_file(target: Path) -> Path:
    """An empty temporary file next to `target` (same folder: the rename into place is atomic)."""
    with _lock:
        _check_open()
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent)
        os.close(fd)
        path = Path(name)
        _live.add(path)
        return path


def new_dir(parent: Path) -> Path:
    """An empty temporary folder in `parent` (the workbook's sheet buffers live in the run folder)."""
    with _lock:
        _check_open()
        path = Path(tempfile.mkdtemp(prefix=TEMP_DIR_PREFIX, dir=parent))
        _live.add(path)
        return path


def release(path: Path) -> None:
    """`path` was renamed into place or removed: no longer this registry's to clean up."""
    with _lock:
        _live.discard(path)


def remove(path: Path) -> None:
    """Remove a temporary file or folder now and release it."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
    release(path)


def live() -> set[Path]:
    """The temporary files and folders not yet released (a copy)."""
    with _lock:
        return set(_live)


def remove_all(*, close: bool = True) -> list[Path]:
    """Remove every live temporary file and folder; with `close`, no new one can be created after."""
    global _closed
    with _lock:
        _closed = _closed or close
        removed = sorted(_live)
        _live.clear()
    for path in removed:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return removed


def is_temporary(path: Path) -> bool:
    """A name this module gives: a leftover of an interrupted write, never evidence."""
    name = path.name
    return (name.startswith(".") and name.endswith(TEMP_SUFFIX)) or name.startswith(TEMP_DIR_PREFIX)
