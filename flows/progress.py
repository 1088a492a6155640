"""How far a run has got: scopes done of total, API calls, errors, elapsed and estimated time.

flows.run counts every collection task it submits (`add_scope`) and each
outcome as its task finishes (`record`, from a future's done-callback, so in
completion order, from worker threads: hence the lock). `snapshot()` is what
the displays read: flows.console (a live bar on a terminal, `plain_line` every
few seconds otherwise) and flows.prefect_ui (the progress artifact in the UI).
Pure: no I/O here, so the counting and the line are unit-tested.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Snapshot:
    done: int
    total: int
    api_calls: int
    errors: int  # resources that could not be assessed, plus scopes whose task crashed
    elapsed: float  # seconds since the run started collecting
    phase: str = "collecting"

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the rate so far; None until a scope is done (or when all are)."""
        if not self.done or self.done >= self.total:
            return None
        return self.elapsed / self.done * (self.total - self.done)


class RunProgress:
    """The counters of one run (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._started = clock()
        self._done = self._total = self._api_calls = self._errors = 0
        self._phase = "collecting"
        self.run_id = ""

    def add_scope(self, n: int = 1) -> None:
        with self._lock:
            self._total += n

    def record(self, api_calls: int, errors: int) -> None:
        """One scope finished, with its API calls and the resources it could not assess."""
        with self._lock:
            self._done += 1
            self._api_calls += api_calls
            self._errors += errors

    def record_outcome(self, outcome: Any) -> None:
        """A flows.collect.ScopeOutcome (duck-typed: this module imports nothing of the run)."""
        errors = sum(1 for r in [*outcome.results, *outcome.collection_errors] if str(r.status) == "error")
        self.record(int(outcome.api_calls), errors)

    def add_finished(self, outcomes: Any) -> None:
        """Scopes the flow settled itself, without a task (region plans, accounts that could not be listed)."""
        for outcome in outcomes:
            self.add_scope()
            self.record_outcome(outcome)

    def watch(self, future: Any) -> None:
        """Count a submitted task (a Prefect future) and, when it finishes, its outcome.

        The callback runs in a worker thread, where Prefect's settings (a context
        variable: the API URL) are not set: reading the result there started a
        second, ephemeral API server. So it runs in a copy of the submitter's context."""
        self.add_scope()
        ctx = contextvars.copy_context()  # one per future: a context is entered by one thread at a time

        def done(fut: Any) -> None:
            # result(), not state: a Prefect future's `state` asks the API, which records
            # task states in batches (flows.prefect_env) and may still say Running
            try:
                outcome = fut.result()
            except Exception:
                self.record(0, 1)  # failed after its retries: its scope is an error
            else:
                self.record_outcome(outcome)

        future.add_done_callback(lambda fut: ctx.run(done, fut))

    def add_calls(self, api_calls: int, errors: int = 0) -> None:
        """Calls made outside the scopes (identifying accounts, discovery)."""
        with self._lock:
            self._api_calls += api_calls
            self._errors += errors

    def set_phase(self, phase: str) -> None:
        with self._lock:
            self._phase = phase

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                self._done, self._total, self._api_calls, self._errors, self._clock() - self._started, self._phase
            )


def duration(seconds: float) -> str:
    """1m05s, 42s: compact, for one line."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


def plain_line(snap: Snapshot, run_id: str = "") -> str:
    """The periodic line when stdout is not a terminal (logs, CI, cron)."""
    pct = f"{snap.fraction * 100:.0f}%" if snap.total else "-"
    eta = f", about {duration(snap.eta)} left" if snap.eta is not None else ""
    prefix = f"run {run_id}: " if run_id else ""
    if snap.phase != "collecting":
        return f"{prefix}{snap.phase} ({snap.done}/{snap.total} scopes, {snap.api_calls} API calls, " + (
            f"{snap.errors} errors, {duration(snap.elapsed)})"
        )
    return (
        f"{prefix}{snap.done}/{snap.total} scopes ({pct}), {snap.api_calls} API calls, "
        f"{snap.errors} errors, {duration(snap.elapsed)} elapsed{eta}"
    )
