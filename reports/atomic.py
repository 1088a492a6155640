"""Atomic file writes: a killed run never leaves a half-written file behind.

Write to a temporary file in the same directory, fsync, then rename over
the target (rename is atomic on POSIX within one filesystem). The temporary
file is registered (reports.tempfiles) so Ctrl-C removes it too.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from reports import tempfiles


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path next to `target`; rename it into place on success."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = tempfiles.new_file(target)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    finally:
        tempfiles.release(tmp_path)


def write_bytes(target: Path, data: bytes) -> str:
    """Write atomically and return the SHA-256 of what was written."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def write_with(target: Path, writer: Callable[[IO[bytes]], None]) -> None:
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        writer(fh)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
