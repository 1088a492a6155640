"""The scheduled path with real parts: `prefect server start` (SQLite in a
temporary PREFECT_HOME), a process work pool, `prefect worker start`, the
deployment registered by `soc2-evidence schedule`, a run of it triggered with
run_deployment against the demo estate on moto. The worker's flow-run process
gets moto's variables from the deployment's job variables (`--env`), not from
the worker's own environment."""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.emulators import MotoEmulator
from demo.estate import DemoEstate, seed_demo_estate
from demo.run import write_demo_config

pytestmark = pytest.mark.integration

PREFECT = str(Path(sys.executable).with_name("prefect"))
POOL = "soc2-evidence-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM the process group we started, SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    out = log.open("wb")
    return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def tail(log: Path, n: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-n:]) if log.exists() else ""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str], Path]]:
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AWS_")) and k not in ("DO_NOT_TRACK",)}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_API_URL=url,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_SERVER_LOGGING_LEVEL="WARNING",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="5",
        PREFECT_LOGGING_LEVEL="INFO",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    server_env = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}
    log = home / "server.log"
    proc = start([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], server_env, log)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"prefect server did not start:\n{tail(log)}")
            time.sleep(0.5)
        yield url, env, home
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def api(server: tuple[str, dict[str, str], Path]) -> Iterator[str]:
    """Point this (test) process's Prefect client at the server."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    url, _, _ = server
    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield url


@pytest.fixture(scope="module")
def workers(server: tuple[str, dict[str, str], Path], api: str) -> Iterator[list[subprocess.Popen]]:
    """Two process workers on the pool (the fan-out test shares accounts between them)."""
    from flows.deploy import ensure_process_work_pool

    _, env, home = server
    assert ensure_process_work_pool(POOL) == "process"
    procs = [
        start([PREFECT, "worker", "start", "--pool", POOL, "--name", f"w{i}"], env, home / f"worker{i}.log")
        for i in (1, 2)
    ]
    try:
        yield procs
    finally:
        for p in procs:
            stop(p)


@pytest.fixture(scope="module")
def moto_estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MotoEmulator, DemoEstate, Path]]:
    # moto env only in this process; the worker processes were started without it
    with MotoEmulator() as moto, moto.use_env():
        moto.reset()  # moto's state is per process: other tests may have seeded it
        yield moto, seed_demo_estate(moto.endpoint_url), tmp_path_factory.mktemp("out")


def schedule_cli(argv: list[str]) -> int:
    from flows.schedule_cli import register

    parser = argparse.ArgumentParser(prog="soc2-evidence")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_scheduled_deployment_runs_on_a_process_worker(
    server, api: str, workers, moto_estate, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from prefect import get_client
    from prefect.deployments import run_deployment

    moto, estate, out = moto_estate
    config = write_demo_config(estate, out / "scheduled", workload_regions_only=True)
    env_args = [a for k, v in moto.env().items() for a in ("--env", f"{k}={v}")]
    t0 = time.monotonic()
    rc = schedule_cli(
        [
            *("schedule", "--config", str(config), "--cron", "0 6 * * *", "--timezone", "Europe/Paris"),
            *("--name", "daily-test", "--work-pool", POOL, *env_args),
        ]
    )
    assert rc == 0
    assert "soc2-evidence-run/daily-test" in capsys.readouterr().out

    with get_client(sync_client=True) as client:
        dep = client.read_deployment_by_name("soc2-evidence-run/daily-test")
    assert dep.work_pool_name == POOL
    assert dep.parameters == {"config_path": str(config.resolve())}
    assert [(s.schedule.cron, s.schedule.timezone) for s in dep.schedules] == [("0 6 * * *", "Europe/Paris")]
    assert dep.job_variables["env"]["AWS_ENDPOINT_URL"] == moto.endpoint_url

    flow_run = run_deployment("soc2-evidence-run/daily-test", timeout=180, poll_interval=1, as_subflow=False)
    elapsed = time.monotonic() - t0
    _, _, home = server
    assert flow_run.state is not None and flow_run.state.is_completed(), (
        f"{flow_run.state}\n{tail(home / 'worker1.log')}\n{tail(home / 'worker2.log')}"
    )
    runs = sorted((out / "scheduled" / "runs").glob("*/manifest.json"))
    assert len(runs) == 1
    manifest = json.loads(runs[0].read_text())
    assert manifest["prefect"] == {
        "flow_run_id": str(flow_run.id),
        "deployment_id": str(dep.id),
        "deployment_name": "daily-test",
    }
    run_dir = runs[0].parent
    assert list(run_dir.glob("*.xlsx")), "workbook written"
    assert (run_dir / "findings.jsonl").stat().st_size > 0
    findings = [json.loads(x) for x in (run_dir / "findings.jsonl").read_text().splitlines()]
    assert {f["account"] for f in findings if f["provider"] == "aws"} == set(estate.accounts.values())
    assert not [f for f in findings if f["status"] == "error"], "the flow-run process reached moto"
    print(f"deploy + run through server/worker: {elapsed:.1f}s")


def test_schedule_rejects_a_bad_cron(api: str, moto_estate) -> None:
    from flows.cli_common import BadInput

    _, estate, out = moto_estate
    config = write_demo_config(estate, out / "badcron", workload_regions_only=True)
    with pytest.raises(BadInput, match="invalid schedule"):
        schedule_cli(["schedule", "--config", str(config), "--cron", "61 6 * * *", "--work-pool", POOL])
    with pytest.raises(BadInput, match="invalid schedule"):
        schedule_cli(["schedule", "--config", str(config), "--cron", "0 6 * * *", "--timezone", "Mars/Olympus"])


def test_dispatch_accounts_shares_accounts_between_workers(server, api: str, workers, moto_estate) -> None:
    from flows.deploy import deploy_evidence_run, dispatch_accounts
    from flows.run import evidence_run

    assert "accounts" in inspect.signature(evidence_run.fn).parameters
    moto, estate, out = moto_estate
    config = write_demo_config(estate, out / "fanout", workload_regions_only=True)
    deploy_evidence_run(config, cron="0 6 * * *", name="fanout-test", work_pool=POOL, job_variables={"env": moto.env()})
    accounts = sorted(estate.accounts.values())
    runs = dispatch_accounts("fanout-test", config, accounts, wait=True, timeout=240, poll_interval=1, as_subflow=False)
    assert [r.state.is_completed() for r in runs] == [True] * len(accounts), [str(r.state) for r in runs]
    manifests = [json.loads(p.read_text()) for p in (out / "fanout" / "runs").glob("*/manifest.json")]
    assert sorted(a["id"] for m in manifests for a in m["scope"]["aws_accounts"]) == accounts
    assert sorted(m["prefect"]["flow_run_id"] for m in manifests) == sorted(str(r.id) for r in runs)
