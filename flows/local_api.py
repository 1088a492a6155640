"""The local Prefect API server of a CLI run: started, owned and ended by this process.

Without PREFECT_API_URL, Prefect starts a temporary API server (uvicorn, its
"ephemeral mode": prefect.server.api.server.SubprocessASGIServer) the first
time the flow needs it. When the CLI was killed (SIGKILL, OOM) that server
kept running, orphaned (4 of 4 trials). So `soc2-evidence run` and `demo`
start the same server themselves, with the same command and environment
(flows.prefect_env's settings are already in it), plus one thing:
on Linux the child asks the kernel for SIGTERM when its parent dies
(prctl PR_SET_PDEATHSIG). The flow is then pointed at it (PREFECT_API_URL for
the block), so Prefect starts no server of its own.

PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, so the
server is spawned from the main thread. It is spawned before the CLI imports
Prefect and loads the config, so its start overlaps theirs. Nothing changes
when the user has an API (PREFECT_API_URL, in the environment or a Prefect
profile) or has turned ephemeral mode off: the server is not used.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

PR_SET_PDEATHSIG = 1
SIGTERM = 15
PORT_IN_USE_EXIT = 3  # uvicorn's exit code when it cannot bind (Prefect retries on another port)
# a floor for the start-up wait: on a loaded machine the server took 16-25 s (Prefect counts only
# its 0.1 s sleeps against its 20 s default, so its real wait is longer than 20 s too)
MIN_START_SECONDS = 60.0
# what Prefect's SubprocessASGIServer adds to the environment (no UI, ephemeral database handling)
SERVER_ENV = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that makes the child receive SIGTERM when this thread dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before the fork
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, SIGTERM)
        if os.getppid() != parent:  # the parent died before the prctl: nobody would signal us
            os._exit(1)

    return preexec


def spawn_owned(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a child that the kernel ends (SIGTERM) when this thread dies, even by SIGKILL."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("PR_SET_PDEATHSIG follows the thread that forks: spawn from the main thread")
    return subprocess.Popen(args, env=env, preexec_fn=_die_with_parent())


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalApiServer:
    """uvicorn serving prefect.server.api.server:create_app on 127.0.0.1, owned by this process."""

    def __init__(self) -> None:
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def spawn(self) -> None:
        """Start the server process; returns at once (wait_ready waits for it)."""
        spec = importlib.util.find_spec("prefect")  # its folder, without importing Prefect (~1.5 s)
        assert spec is not None and spec.origin is not None, "Prefect is not installed"
        self.port = _free_port()
        self.process = spawn_owned(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                str(Path(spec.origin).parent.parent),
                "--factory",
                "prefect.server.api.server:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "error",
                "--lifespan",
                "on",
            ],
            env={**os.environ, **SERVER_ENV},
        )

    def wait_ready(self, timeout: float) -> None:
        """Until /api/health answers 200; respawns on another port if this one was taken."""
        deadline = time.monotonic() + max(timeout, MIN_START_SECONDS)
        while time.monotonic() < deadline:
            assert self.process is not None
            code = self.process.poll()
            if code == PORT_IN_USE_EXIT:
                self.spawn()
                continue
            if code is not None:
                raise RuntimeError(f"the local Prefect API server exited with code {code}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"the local Prefect API server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        """Terminate and reap the server (SIGKILL after 5 s, as Prefect does)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


class LocalApi:
    """The server a CLI command may use: spawned on entry, used by `serving()`, ended on exit."""

    def __init__(self) -> None:
        self.server: LocalApiServer | None = None

    def __enter__(self) -> LocalApi:
        # the user's API in the environment: nothing to start (a profile's is seen in serving())
        if not os.environ.get("PREFECT_API_URL") and threading.current_thread() is threading.main_thread():
            self.server = LocalApiServer()
            self.server.spawn()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    @contextmanager
    def serving(self) -> Iterator[str | None]:
        """Run the flow inside this block: the local server's API URL while it lasts, or None
        when it is not used (the user's PREFECT_API_URL or profile, ephemeral mode off)."""
        from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

        settings = get_current_settings()
        if self.server is None or settings.api.url or not settings.server.ephemeral.enabled:
            self.__exit__()
            yield settings.api.url
            return
        self.server.wait_ready(settings.server.ephemeral.startup_timeout_seconds)
        with temporary_settings(updates={PREFECT_API_URL: self.server.api_url}):
            try:
                yield self.server.api_url
            finally:
                _drain_prefect_workers()


def _drain_prefect_workers(timeout: float = 5.0) -> None:
    """Send the logs and events Prefect still queues, while the server is up (else, at exit:
    "--- Error logging to API --- All connection attempts failed")."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):
            worker.drain_all(timeout=timeout)
