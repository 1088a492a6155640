"""One run at a time on an output directory: a lock file, so two runs cannot fork the hash chain.

Two runs started together each read the same latest run as their predecessor and both record
it (issue 12, defect 5). A run therefore holds `<output>/.soc2-evidence.lock` from before it
reads its predecessor until its manifest is written: created with O_CREAT|O_EXCL (atomic, on
NFS too), holding the holder's pid, host, start time and a random token (only the holder, by
its token, removes it).

A lock left by a killed run is stale when it names this host and a pid that no longer exists:
it is broken then, under a second O_EXCL file (`.soc2-evidence.lock.break`) so two runs that
both find the same stale lock cannot both take over. A lock from another host cannot be
checked from here: the message names the holder and the file to remove once it is known dead.

Runs restricted to some accounts keep their own chain and take their own lock (lock_name).
Buckets take no lock (a conditional-write lease is not implemented): there, forks are
detected after the fact (reports.history.chain_forks, `verify`, `history`).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reports.locker.base import LockerError

LOCK_NAME = ".soc2-evidence.lock"
_BREAK_SUFFIX = ".break"
_STALE_BREAKER_SECONDS = 60.0  # a breaker holds its file for microseconds; older: its process died


class RunLocked(LockerError):
    """Another run holds the output (the message names it and what to do)."""


@dataclass(frozen=True)
class LockHolder:
    pid: int | None
    host: str
    started_at: str
    token: str

    def is_stale(self) -> bool:
        """Left by a process of this host that no longer exists."""
        if self.host != socket.gethostname() or self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # exists, owned by someone else
            return False
        return False

    def message(self, root: Path, name: str = LOCK_NAME) -> str:
        who = f"pid {self.pid} on {self.host}" if self.pid is not None else f"an unknown process on {self.host}"
        return (
            f"output {root} is in use by another run ({who}, since {self.started_at}): wait for it to finish; "
            f"if that process is gone, remove {Path(root) / name}"
        )


def _read(path: Path) -> LockHolder | None:
    """The holder named by a lock file; None when there is no lock file. A damaged one still counts as held."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
        pid = data.get("pid")
        return LockHolder(
            int(pid) if isinstance(pid, int) else None,
            str(data.get("host", "?")),
            str(data.get("started_at", "?")),
            str(data.get("token", "")),
        )
    except (ValueError, AttributeError):
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")
        return LockHolder(None, "?", mtime, "")


def lock_name(accounts: Sequence[str] | None = None) -> str:
    """One lock per hash chain: runs restricted to some accounts (flows.deploy.dispatch_accounts,
    several at once on one output) keep their own chain, so they take their own lock."""
    if accounts is None:
        return LOCK_NAME
    key = "-".join(sorted(accounts)) or "none"
    if len(key) > 80 or not key.replace("-", "").isalnum():
        key = hashlib.sha256(json.dumps(sorted(accounts)).encode()).hexdigest()[:16]
    return f".soc2-evidence.{key}.lock"


def lock_holder(root: Path, accounts: Sequence[str] | None = None) -> LockHolder | None:
    """Who holds the output's lock now, or None (no lock, or a stale one that the next run breaks)."""
    holder = _read(Path(root) / lock_name(accounts))
    return None if holder is None or holder.is_stale() else holder


def _break_stale(path: Path, stale: LockHolder) -> None:
    """Remove a stale lock, unless another run has already replaced it (checked under the breaker file)."""
    breaker = path.with_name(path.name + _BREAK_SUFFIX)
    with suppress(FileNotFoundError):
        if time.time() - breaker.stat().st_mtime > _STALE_BREAKER_SECONDS:
            breaker.unlink()
    try:
        fd = os.open(breaker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return  # another run is breaking it: retry the lock
    os.close(fd)
    try:
        current = _read(path)
        if current is not None and current.token == stale.token and current.pid == stale.pid:
            path.unlink(missing_ok=True)
    finally:
        breaker.unlink(missing_ok=True)


@contextmanager
def run_lock(root: Path, accounts: Sequence[str] | None = None, attempts: int = 3) -> Iterator[LockHolder]:
    """Hold `<root>/.soc2-evidence.lock` (per accounts filter: lock_name) for the block;
    RunLocked when another live run holds it."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / lock_name(accounts)
    me = LockHolder(
        os.getpid(), socket.gethostname(), datetime.now(UTC).isoformat(timespec="seconds"), secrets.token_hex(8)
    )
    body = json.dumps({"pid": me.pid, "host": me.host, "started_at": me.started_at, "token": me.token}).encode()
    for _ in range(attempts):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = _read(path)
            if holder is None:
                continue  # released in between
            if holder.is_stale():
                _break_stale(path, holder)
                continue
            raise RunLocked(holder.message(root, path.name)) from None
        try:
            os.write(fd, body)
        finally:
            os.close(fd)
        break
    else:
        holder = _read(path)
        raise RunLocked(holder.message(root, path.name) if holder else f"output {root}: could not take {path}")
    try:
        yield me
    finally:
        current = _read(path)
        if current is not None and current.token == me.token:
            path.unlink(missing_ok=True)
