"""What Ctrl-C relies on, piece by piece: the temporary-file registry, the workbook's
buffers in the run folder, the clean-up steps, the interrupted marker in `history`,
and a child that dies with its parent (PR_SET_PDEATHSIG)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from flows import interrupt
from reports import tempfiles
from reports.atomic import atomic_path, write_bytes
from reports.history import run_history
from reports.interrupted import INTERRUPTED, describe, mark_interrupted, read_interrupted


@pytest.fixture(autouse=True)
def open_registry():
    """Each test starts with an open, empty registry (remove_all(close=True) closes it for good)."""
    tempfiles.remove_all(close=False)
    tempfiles._closed = False
    yield
    tempfiles._closed = False
    tempfiles.remove_all(close=False)


def test_atomic_write_registers_its_temporary_file_until_renamed(tmp_path: Path) -> None:
    target = tmp_path / "findings.jsonl"
    with atomic_path(target) as tmp:
        assert tmp in tempfiles.live() and tmp.parent == tmp_path and tempfiles.is_temporary(tmp)
        tmp.write_bytes(b"x")
    assert tempfiles.live() == set()
    assert [p.name for p in tmp_path.iterdir()] == ["findings.jsonl"]


def test_remove_all_deletes_live_temporary_files_and_closes_the_registry(tmp_path: Path) -> None:
    f = tempfiles.new_file(tmp_path / "a.json")
    d = tempfiles.new_dir(tmp_path)
    (d / "sheet-buffer").write_bytes(b"rows")
    assert sorted(tempfiles.remove_all(close=True)) == sorted([f, d])
    assert list(tmp_path.iterdir()) == []
    # a worker thread asking for a new temporary file now waits instead of creating one
    started = threading.Event()

    def writer() -> None:
        started.set()
        write_bytes(tmp_path / "late.json", b"{}")

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    started.wait(5)
    t.join(0.3)
    assert t.is_alive() and list(tmp_path.iterdir()) == []


def test_workbook_buffers_live_in_the_run_folder_not_tmpdir(tmp_path: Path, monkeypatch) -> None:
    import tempfile

    from reports import workbook
    from tests.unit.test_workbook import make_input

    system_tmp = tmp_path / "TMPDIR"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    seen: list[set[Path]] = []
    real = workbook._write_sheets

    def spy(wb, data) -> None:
        real(wb, data)
        seen.append({p for p in tempfiles.live() if p.is_dir()})
        seen.append(set(system_tmp.iterdir()))

    monkeypatch.setattr(workbook, "_write_sheets", spy)
    workbook.write_workbook(run_dir / "wb.xlsx", make_input())
    buffers, in_tmpdir = seen
    assert len(buffers) == 1 and next(iter(buffers)).parent == run_dir
    assert in_tmpdir == set(), "xlsxwriter wrote to TMPDIR"
    assert [p.name for p in run_dir.iterdir()] == ["wb.xlsx"]


def test_clean_up_sweeps_the_run_folder_and_marks_it(tmp_path: Path, monkeypatch) -> None:
    run_dir = tmp_path / "runs" / "20261204T170000Z-abcd"
    (run_dir / "evidence" / "aws").mkdir(parents=True)
    kept = run_dir / "evidence" / "aws" / "s3.json"
    kept.write_text("{}")
    stray = run_dir / "evidence" / "aws" / ".s3.json.x1y2.tmp"  # another process's interrupted write
    stray.write_text("{")
    (run_dir / ".xlsxwriter-abc").mkdir()
    (run_dir / ".xlsxwriter-abc" / "tmp123").write_text("row")
    live = tempfiles.new_file(run_dir / "findings.jsonl")
    monkeypatch.setattr(interrupt, "_runs", [run_dir])
    monkeypatch.setattr(interrupt, "end_children", lambda: None)
    assert interrupt.clean_up("SIGINT") == [run_dir]
    assert sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*")) == [
        "evidence",
        "evidence/aws",
        "evidence/aws/s3.json",
        INTERRUPTED,
    ]
    assert not live.exists()
    assert read_interrupted(run_dir)["signal"] == "SIGINT"  # type: ignore[index]


def test_a_completed_run_is_never_marked_interrupted(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{}")
    assert mark_interrupted(tmp_path, "SIGINT") is False
    assert not (tmp_path / INTERRUPTED).exists()


def test_history_lists_an_interrupted_run_as_such(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "20261204T170000Z-abcd"
    run_dir.mkdir(parents=True)
    crashed = tmp_path / "runs" / "20261204T160000Z-ef01"
    crashed.mkdir()
    mark_interrupted(run_dir, "SIGTERM", now=datetime(2026, 12, 4, 17, 0, 5, tzinfo=UTC))
    reasons = {r.run_id: r.reason for r in run_history(tmp_path).incomplete}
    assert reasons[run_dir.name].startswith("interrupted by SIGTERM at 2026-12-04T17:00:05Z")
    assert reasons[crashed.name].startswith("no manifest.json")
    assert describe(crashed) is None


def test_an_unreadable_marker_says_nothing(tmp_path: Path) -> None:
    (tmp_path / INTERRUPTED).write_text("[")
    assert read_interrupted(tmp_path) is None
    (tmp_path / INTERRUPTED).write_text(json.dumps([1]))
    assert read_interrupted(tmp_path) is None


PARENT = """
import sys, time
from flows.local_api import spawn_owned
child = spawn_owned([sys.executable, "-c", "import time; time.sleep(60)"])
print(child.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_an_owned_child_dies_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE)
    assert parent.stdout is not None
    child = psutil.Process(int(parent.stdout.readline()))
    parent.kill()
    parent.wait(10)
    deadline = time.monotonic() + 5
    while child.is_running() and child.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.05)
    gone = not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    if not gone:
        child.kill()
    assert gone, "the child outlived its SIGKILLed parent"


def test_spawn_owned_refuses_a_thread_other_than_main() -> None:
    errors: list[BaseException] = []

    def spawn() -> None:
        try:
            from flows.local_api import spawn_owned

            spawn_owned(["true"])
        except RuntimeError as exc:
            errors.append(exc)

    t = threading.Thread(target=spawn)
    t.start()
    t.join(10)
    assert errors and "main thread" in str(errors[0])
