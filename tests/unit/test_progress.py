"""Progress of a run: the counting (from task outcomes, in completion order), the plain
line printed when stdout is not a terminal, and warnings as plain lines."""

from __future__ import annotations

import concurrent.futures
import contextvars
import io
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest

from controls import Status
from flows import console
from flows.progress import RunProgress, Snapshot, duration, plain_line


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Result:
    status: Status


@dataclass
class Outcome:
    api_calls: int
    results: list[Result] = field(default_factory=list)
    collection_errors: list[Result] = field(default_factory=list)


class FakeFuture:
    """The two things RunProgress.watch uses of a Prefect future."""

    def __init__(self, outcome: Any, completed: bool = True) -> None:
        self._outcome, self._completed = outcome, completed
        self._inner: concurrent.futures.Future[None] = concurrent.futures.Future()

    @property
    def state(self) -> Any:
        raise AssertionError("a Prefect future's state asks the API, which may lag: use result()")

    def result(self) -> Any:
        if not self._completed:
            raise RuntimeError("Task run failed after 2 retries")
        return self._outcome

    def add_done_callback(self, fn: Any) -> None:
        self._inner.add_done_callback(lambda _: fn(self))

    def finish(self) -> None:
        self._inner.set_result(None)


def test_counts_scopes_calls_and_errors_as_tasks_finish() -> None:
    clock = Clock()
    p = RunProgress(clock=clock)
    ok = FakeFuture(Outcome(12, [Result(Status.PASS), Result(Status.FAIL)]))
    denied = FakeFuture(Outcome(3, [Result(Status.ERROR), Result(Status.PASS)], [Result(Status.ERROR)]))
    crashed = FakeFuture(None, completed=False)
    for f in (ok, denied, crashed):
        p.watch(f)
    p.add_calls(1)  # an account identified
    assert p.snapshot() == Snapshot(0, 3, 1, 0, 0.0)
    clock.now += 30
    denied.finish()  # completion order, not submission order
    snap = p.snapshot()
    assert (snap.done, snap.total, snap.api_calls, snap.errors) == (1, 3, 4, 2)
    assert snap.eta == pytest.approx(60.0)  # 30 s per scope so far, 2 to go
    ok.finish()
    crashed.finish()
    snap = p.snapshot()
    assert (snap.done, snap.api_calls, snap.errors) == (3, 16, 3)  # the crashed scope is an error
    assert snap.eta is None and snap.fraction == 1.0


def test_the_callback_runs_in_the_submitters_context() -> None:
    """Prefect's settings (its API URL) are a context variable: reading a result in a worker
    thread without them started a second, ephemeral API server."""
    var: contextvars.ContextVar[str] = contextvars.ContextVar("api", default="unset")
    var.set("http://127.0.0.1:1234/api")
    seen: list[str] = []

    class Probe(FakeFuture):
        def result(self) -> Any:
            seen.append(var.get())
            return Outcome(1)

    p = RunProgress()
    fut = Probe(None)
    p.watch(fut)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(fut.finish).result()
    assert seen == ["http://127.0.0.1:1234/api"]


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (42.4, "42s"), (65, "1m05s"), (3600 + 125, "1h02m"), (-3, "0s")]
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_plain_line() -> None:
    assert plain_line(Snapshot(0, 0, 0, 0, 1.0)) == "0/0 scopes (-), 0 API calls, 0 errors, 1s elapsed"
    assert plain_line(Snapshot(16, 64, 240, 3, 30.0), "20261204T170000Z-ab12cd") == (
        "run 20261204T170000Z-ab12cd: 16/64 scopes (25%), 240 API calls, 3 errors, 30s elapsed, about 1m30s left"
    )
    assert plain_line(Snapshot(64, 64, 900, 0, 75.0, "writing findings and the workbook")) == (
        "writing findings and the workbook (64/64 scopes, 900 API calls, 0 errors, 1m15s)"
    )


def test_live_line_renders_the_counters() -> None:
    from rich.console import Console

    out = Console(file=io.StringIO(), width=160, color_system=None)
    out.print(console.render_live(Snapshot(16, 64, 240, 3, 30.0), "R1"))
    text = out.file.getvalue()  # type: ignore[attr-defined]
    assert "run R1" in text and "16/64 scopes · 240 API calls · 3 errors · 30s · ~1m30s left" in text


def test_plain_lines_only_when_something_changed(monkeypatch, capsys) -> None:
    monkeypatch.setattr(console, "_enabled", True)
    monkeypatch.setattr(console, "PLAIN_INTERVAL", 0.01)
    monkeypatch.setattr("sys.stdout.isatty", lambda: False, raising=False)
    p = RunProgress()
    p.run_id = "R1"
    p.add_scope(2)
    with console.showing(p):
        import time

        time.sleep(0.1)  # ten ticks, nothing changed: one line
        p.record(5, 0)
        time.sleep(0.1)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == ["run R1: 0/2 scopes (0%)", "run R1: 1/2 scopes (50%)"]


def test_nothing_is_shown_unless_the_cli_enabled_it(monkeypatch, capsys) -> None:
    monkeypatch.setattr(console, "_enabled", False)
    with console.showing(RunProgress()):
        pass
    assert capsys.readouterr().out == ""


def test_warnings_are_plain_lines_without_prefect_formatting(monkeypatch, capsys) -> None:
    from prefect.logging.handlers import PrefectConsoleHandler

    root = logging.getLogger()
    saved = list(root.handlers)
    try:
        root.addHandler(PrefectConsoleHandler())
        console.use_plain_log_lines()
        assert not any(isinstance(h, PrefectConsoleHandler) for h in root.handlers)
        logging.getLogger("prefect.soc2_test").warning("exceptions[1] (SEC-97): expired on %s", "2026-11-20")
        logging.getLogger("prefect.soc2_test").info("Finished in state Completed()")
        assert capsys.readouterr().err == "warning: exceptions[1] (SEC-97): expired on 2026-11-20\n"
    finally:
        root.handlers[:] = saved
