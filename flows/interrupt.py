"""Ctrl-C and SIGTERM stop a command at once and leave nothing behind (exit 130 / 143).

Letting KeyboardInterrupt unwind through Prefect took ~76 s (the flow engine
waits for every running task, each retrying its API calls) and exited 1. So the
CLI installs `on_signal` first thing in main(), and on SIGINT or SIGTERM it:

1. closes the temporary-file registry and removes what is live
   (reports.tempfiles: atomic writes' `.tmp` files, xlsxwriter's buffers);
2. ends every child process (the local Prefect API server, Dask workers):
   SIGTERM, then SIGKILL after `CHILD_GRACE_SECONDS`;
3. sweeps each run folder in progress for temporary files of other processes
   and writes `interrupted.json` there (reports.interrupted; a run folder
   without manifest.json is incomplete anyway, never a drift baseline);
4. says so on stderr and exits with os._exit(128 + signal): no Python
   clean-up that could wait on a worker thread.

A second Ctrl-C during those steps is ignored. Prefect swaps its own SIGTERM
handler in while a flow runs: `reclaim_sigterm()` (called in the flow) puts
ours back. The whole sequence takes well under the 2 s an operator waits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from reports import tempfiles
from reports.interrupted import mark_interrupted

EXIT_INTERRUPTED = 130  # 128 + SIGINT; SIGTERM exits 143
CHILD_GRACE_SECONDS = 0.8
HANDLED = (signal.SIGINT, signal.SIGTERM)

_runs: list[Path] = []
_installed = False


def install() -> Callable[[], None]:
    """Handle SIGINT and SIGTERM in this process (main thread only; a no-op elsewhere).
    Returns what puts the previous handlers back (main() called in-process, as by tests)."""
    global _installed
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {signum: signal.signal(signum, on_signal) for signum in HANDLED}
    _installed = True

    def restore() -> None:
        global _installed
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _installed = False

    return restore


def reclaim_sigterm() -> None:
    """Inside a flow run: Prefect's engine installed its SIGTERM handler (a slow,
    graceful shutdown); put ours back if the CLI installed it."""
    if _installed and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)


def track_run(run_dir: Path) -> None:
    """A run folder is being written: mark it if the run is interrupted."""
    _runs.append(Path(run_dir))


def on_signal(signum: int, frame: FrameType | None) -> None:
    """The handler: clean up and exit 128 + signum (see module docstring)."""
    for s in HANDLED:
        signal.signal(s, signal.SIG_IGN)
    name = signal.Signals(signum).name
    marked = clean_up(name)
    message = f"\ninterrupted ({name}): stopped"
    if marked:
        message += "; incomplete run folder marked interrupted: " + ", ".join(str(p) for p in marked)
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    # straight to fd 2: inside a flow, Prefect's log_prints would turn print() into a log record
    with contextlib.suppress(OSError):
        os.write(2, (message + "\n").encode("utf-8", "replace"))
    os._exit(128 + signum)


def clean_up(signal_name: str) -> list[Path]:
    """Steps 1-3 of the module docstring; returns the run folders marked interrupted."""
    tempfiles.remove_all(close=True)
    end_children()
    marked = []
    for run_dir in _runs:
        with contextlib.suppress(OSError):
            sweep_temporary(run_dir)
            if mark_interrupted(run_dir, signal_name):
                marked.append(run_dir)
    return marked


def end_children(grace: float = CHILD_GRACE_SECONDS) -> None:
    """Terminate every descendant process, kill those still alive after `grace` seconds."""
    import psutil

    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=grace)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(alive, timeout=grace)


def sweep_temporary(run_dir: Path) -> None:
    """Remove leftovers of interrupted writes anywhere under the run folder."""
    if not run_dir.is_dir():
        return
    for path in sorted(run_dir.rglob(".*"), reverse=True):
        if tempfiles.is_temporary(path):
            tempfiles.remove(path)
