"""What a person sees while `soc2-evidence run` works: progress, and warnings as plain lines.

- On a terminal: a live line (rich, which Prefect brings) with a bar, scopes
  done/total, API calls, errors so far, elapsed and estimated time; it is
  removed when the run ends (the summary follows).
- Otherwise (CI, cron, a pipe): `flows.progress.plain_line` every
  `PLAIN_INTERVAL` seconds when something changed, and once at the end.
- Warnings and errors from Prefect's loggers (the run's own `logger.warning`)
  are printed as `warning: <message>` instead of Prefect's
  "16:24:39.785 | WARNING | Flow run 'mega-jackalope' - …" (`--verbose` keeps
  Prefect's console output, and its INFO lines).

Nothing is shown unless the CLI calls `enable()`: a run started by a
deployment, a test or Python code prints no progress.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flows.progress import RunProgress, Snapshot, duration, plain_line

PLAIN_INTERVAL = 10.0  # seconds between plain lines
LIVE_REFRESH = 4  # live redraws per second

_enabled = False
_live_console: Any = None  # the rich Console of the live display while it runs


def enable(*, verbose: bool = False) -> None:
    """The CLI shows progress; without --verbose, Prefect's console log lines become plain lines."""
    global _enabled
    _enabled = True
    if not verbose:
        use_plain_log_lines()


class PlainHandler(logging.Handler):
    """`warning: message` on stderr (above the live display while it runs)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = f"{record.levelname.lower()}: {record.getMessage()}"
            if _live_console is not None:
                _live_console.print(line, markup=False, highlight=False)
            else:
                sys.stderr.write(line + "\n")
                sys.stderr.flush()
        except Exception:
            self.handleError(record)


def use_plain_log_lines() -> None:
    """Replace Prefect's console handler on the root logger (where Prefect's loggers
    propagate) with PlainHandler; the API handler (logs in the Prefect UI) stays."""
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.logging.handlers import PrefectConsoleHandler

    ensure_logging_setup()  # else Prefect configures logging later and adds its console handler back
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, PrefectConsoleHandler):
            root.removeHandler(handler)
    if not any(isinstance(h, PlainHandler) for h in root.handlers):
        handler = PlainHandler(level=logging.WARNING)
        root.addHandler(handler)


@contextmanager
def showing(progress: RunProgress) -> Iterator[None]:
    """Show `progress` while the block runs (see module docstring); nothing unless enabled."""
    if not _enabled:
        yield
        return
    if sys.stdout.isatty():
        with _live(progress):
            yield
    else:
        with _plain(progress):
            yield


def render_live(snap: Snapshot, run_id: str) -> Any:
    """The live line: a bar and the counters (a rich renderable)."""
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table

    grid = Table.grid(padding=(0, 1))
    eta = f" · ~{duration(snap.eta)} left" if snap.eta is not None else ""
    text = (
        f"{snap.done}/{snap.total} scopes · {snap.api_calls} API calls · {snap.errors} errors · "
        f"{duration(snap.elapsed)}{eta}"
    )
    if snap.phase != "collecting":
        text = f"{snap.phase} · " + text
    grid.add_row(ProgressBar(total=max(snap.total, 1), completed=snap.done, width=24), text)
    return Group(f"run {run_id}" if run_id else "run", grid)


@contextmanager
def _live(progress: RunProgress) -> Iterator[None]:
    global _live_console
    from rich.console import Console
    from rich.live import Live

    console = Console()
    live = Live(
        get_renderable=lambda: render_live(progress.snapshot(), progress.run_id),
        console=console,
        refresh_per_second=LIVE_REFRESH,
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    )
    with live:
        _live_console = console
        try:
            yield
        finally:
            _live_console = None


@contextmanager
def _plain(progress: RunProgress) -> Iterator[None]:
    stop = threading.Event()
    last: list[tuple[Any, ...]] = [()]

    def emit() -> None:
        snap = progress.snapshot()
        key = (snap.done, snap.total, snap.api_calls, snap.errors, snap.phase)
        if key != last[0]:  # unchanged counters: no new line
            last[0] = key
            sys.stdout.write(plain_line(snap, progress.run_id) + "\n")
            sys.stdout.flush()

    def tick() -> None:
        while not stop.wait(PLAIN_INTERVAL):
            emit()

    thread = threading.Thread(target=tick, name="soc2-progress-lines", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(2)
        emit()
