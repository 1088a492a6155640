"""Ctrl-C and SIGKILL on a real `soc2-evidence run` (a subprocess) against moto's server.

Issue 12: Ctrl-C once took ~76 s and exited 1; SIGKILL left Prefect's temporary
API server running, `.tmp` files in the run folder and xlsxwriter's files in
TMPDIR. Here the emulator answers each request after a delay, so the run is
still collecting when the signal arrives.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from demo.emulators import MotoEmulator
from demo.estate import DemoEstate, seed_demo_estate
from demo.run import write_demo_config
from reports.interrupted import INTERRUPTED, read_interrupted
from reports.tempfiles import is_temporary

pytestmark = pytest.mark.integration

START_TIMEOUT = 240  # the CLI, Prefect's API server and the first tasks, on a loaded 2-core machine
CLI = [sys.executable, "-c", "import sys; from flows.cli import main; sys.exit(main())"]


@pytest.fixture(scope="module")
def slow_estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Path, DemoEstate]]:
    """The demo estate on moto, every request answered after 0.3 s; the env a subprocess needs."""
    with MotoEmulator(latency_seconds=0.3) as moto:
        with moto.use_env():
            estate = seed_demo_estate(moto.endpoint_url)
        env = {**os.environ, **moto.env()}
        env.pop("PREFECT_API_URL", None)
        env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"  # a loaded machine: 16-30 s measured
        try:
            yield env, tmp_path_factory.mktemp("interrupt"), estate
        finally:
            moto.reset()  # moto's state is per process: later modules seed the same estate


def start_run(slow_estate, name: str) -> tuple[subprocess.Popen[bytes], Path, Path, Path]:
    """`soc2-evidence run` in a subprocess with its own TMPDIR; returns once a run folder has evidence."""
    env, root, estate = slow_estate
    out, tmp = root / name, root / f"{name}-tmpdir"
    tmp.mkdir()
    config = write_demo_config(estate, out, workload_regions_only=True)
    proc = subprocess.Popen(
        [*CLI, "run", "--config", str(config), "--concurrency", "2"],
        env={**env, "TMPDIR": str(tmp)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        runs = list((out / "runs").glob("*/evidence/*")) if (out / "runs").is_dir() else []
        if runs:
            return proc, out, runs[0].parents[1], tmp
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"no evidence written within {START_TIMEOUT} s")


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def wait_gone(procs: list[psutil.Process], seconds: float) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while (left := alive(procs)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def temporary_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp") or is_temporary(p)]


@pytest.mark.parametrize(
    ("signum", "code"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143)],  # SIGTERM: Prefect swaps in its own handler during a flow run
    ids=["SIGINT", "SIGTERM"],
)
def test_ctrl_c_or_sigterm_exits_at_once_leaving_no_child_and_no_temporary_file(slow_estate, signum, code) -> None:
    name = signal.Signals(signum).name
    proc, out, run_dir, tmpdir = start_run(slow_estate, name.lower())
    time.sleep(1.0)  # collection under way: tasks writing evidence, retrying, the API server busy
    children = psutil.Process(proc.pid).children(recursive=True)
    assert children, "the run's Prefect API server is a child of the CLI"
    sent = time.monotonic()
    proc.send_signal(signum)
    try:
        _, stderr = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"still running 10 s after {name}")
    took = time.monotonic() - sent
    assert proc.returncode == code, stderr.decode()[-2000:]
    assert took < 2.0, f"{name} took {took:.1f} s"
    assert not wait_gone(children, 0.5), "a child process outlived the CLI"
    assert temporary_files(out) == []
    assert list(tmpdir.iterdir()) == [], "xlsxwriter or another library left files in TMPDIR"
    # the run folder says it is incomplete, and why
    assert not (run_dir / "manifest.json").exists()
    marker = read_interrupted(run_dir)
    assert marker is not None and marker["signal"] == name, list(run_dir.iterdir())
    assert f"interrupted ({name})".encode() in stderr
    history = subprocess.run(
        [*CLI, "history", "--output", str(out)], env=slow_estate[0], capture_output=True, timeout=120
    )
    assert f"{run_dir.name}: interrupted by {name}" in history.stdout.decode(), history.stdout.decode()


def test_sigkill_leaves_no_orphaned_api_server(slow_estate) -> None:
    proc, _, run_dir, _ = start_run(slow_estate, "sigkill")
    children = psutil.Process(proc.pid).children(recursive=True)
    assert any("uvicorn" in " ".join(c.cmdline()) for c in children), [c.cmdline() for c in children]
    proc.kill()
    proc.wait(timeout=10)
    left = wait_gone(children, 5.0)
    for p in left:  # do not leave them behind for the next test either
        p.kill()
    assert not left, f"orphaned after SIGKILL: {[p.cmdline() for p in left]}"
    assert not (run_dir / INTERRUPTED).exists(), "SIGKILL gives no chance to mark; no manifest says incomplete"
