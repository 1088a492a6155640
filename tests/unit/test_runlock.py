"""One run at a time on an output directory (reports/locker/runlock.py; issue 12, defect 5):
two runs started together each recorded the same predecessor and forked the hash chain."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from reports.locker import DirLocker, RunLocked
from reports.locker.runlock import LOCK_NAME, lock_holder, run_lock


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_second_run_on_the_same_output_is_refused_naming_the_holder(tmp_path: Path) -> None:
    with run_lock(tmp_path) as me:
        with pytest.raises(RunLocked) as info, run_lock(tmp_path):
            pass
        message = str(info.value)
        assert f"pid {me.pid} on {socket.gethostname()}" in message
        assert str(tmp_path / LOCK_NAME) in message and "wait for it to finish" in message
    assert not (tmp_path / LOCK_NAME).exists(), "released when the run ends"
    with run_lock(tmp_path):  # and can be taken again
        pass


def test_the_dir_locker_takes_the_lock_for_a_run(tmp_path: Path) -> None:
    locker = DirLocker(tmp_path)
    with locker.run_lock():
        assert lock_holder(tmp_path) is not None
        with pytest.raises(RunLocked), DirLocker(tmp_path).run_lock():
            pass
    assert lock_holder(tmp_path) is None


def test_a_lock_left_by_a_dead_process_on_this_host_is_broken(tmp_path: Path) -> None:
    stale = {"pid": _dead_pid(), "host": socket.gethostname(), "started_at": "2026-01-01T00:00:00", "token": "x"}
    (tmp_path / LOCK_NAME).write_text(json.dumps(stale))
    assert lock_holder(tmp_path) is None
    with run_lock(tmp_path) as me:
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == me.pid == os.getpid()


def test_a_lock_from_another_host_is_never_broken(tmp_path: Path) -> None:
    other = {"pid": _dead_pid(), "host": "elsewhere.example", "started_at": "2026-01-01T00:00:00", "token": "x"}
    (tmp_path / LOCK_NAME).write_text(json.dumps(other))
    with pytest.raises(RunLocked, match=r"elsewhere\.example"), run_lock(tmp_path):
        pass
    assert (tmp_path / LOCK_NAME).exists()


def test_a_damaged_lock_file_counts_as_held(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).write_text("")  # a holder between create and write, or damage
    with pytest.raises(RunLocked, match="unknown process"), run_lock(tmp_path):
        pass


def test_a_lock_taken_over_is_not_removed_by_the_old_holder(tmp_path: Path) -> None:
    with run_lock(tmp_path):
        (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "h", "started_at": "t", "token": "other"}))
    assert (tmp_path / LOCK_NAME).exists(), "only the holder, by its token, removes the lock"


def _take(root: Path, accounts: list[str] | None = None) -> None:
    with run_lock(root, accounts):
        pass


def test_runs_restricted_to_accounts_take_their_own_lock(tmp_path: Path) -> None:
    """Per-account runs (flows.deploy.dispatch_accounts) run at once on one output, each its own chain."""
    with run_lock(tmp_path), run_lock(tmp_path, ["111111111111"]), run_lock(tmp_path, ["222222222222"]):
        _take(tmp_path, ["333333333333"])  # another filter: its own lock
        with pytest.raises(RunLocked, match=r"\.soc2-evidence\.111111111111\.lock"):
            _take(tmp_path, ["111111111111"])
    assert list(tmp_path.iterdir()) == []
