"""Scheduling and scale-out of the evidence run (Prefect deployments, workers, Dask).

- `deploy_evidence_run`: a Prefect deployment of `evidence_run` on a cron
  schedule, from this checkout (`flow.from_source(<project dir>)`: no image is
  built; a *process* work pool's worker runs the flow from the same folder).
  Needs a Prefect server or Prefect Cloud (PREFECT_API_URL).
- `serve_evidence_run`: the same schedule without a server-side work pool:
  `flow.serve` runs the schedule in this process until interrupted.
- `dispatch_accounts`: one flow run of a deployment per AWS account, so the
  workers of a pool (on several machines) share the accounts.

The task runners (flows.task_runners) and the new-failures event
(flows.notifications) are used by the run itself, so they live apart: this
module imports flows.run, and flows.run must not import it back.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from flows.task_runners import DeployError

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun
    from prefect.schedules import Schedule

PROJECT_DIR = Path(__file__).resolve().parents[1]
ENTRYPOINT = "flows/run.py:evidence_run"
FLOW_NAME = "soc2-evidence-run"  # @flow(name=...) of flows.run.evidence_run
DEFAULT_DEPLOYMENT = "soc2-evidence-daily"
DEFAULT_WORK_POOL = "soc2-evidence"
DEFAULT_TIMEZONE = "UTC"
TAGS = ["soc2-evidence"]


# --------------------------------------------------------------------------- schedules


def cron_schedule(cron: str, timezone: str = DEFAULT_TIMEZONE) -> Schedule:
    """A Prefect cron schedule; DeployError on a bad cron string or time zone."""
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.schedules import Cron

    try:
        CronSchedule(cron=cron, timezone=timezone)  # validates both
    except Exception as exc:  # pydantic ValidationError
        msg = "; ".join(e.get("msg", str(e)) for e in getattr(exc, "errors", lambda: [])()) or str(exc)
        raise DeployError(f"invalid schedule (cron {cron!r}, timezone {timezone!r}): {msg}") from None
    return Cron(cron, timezone=timezone)


def _parameters(config_path: str | Path, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Flow parameters: the config as an absolute path (workers do not share our cwd)."""
    return {"config_path": str(Path(config_path).expanduser().resolve()), **(extra or {})}


# --------------------------------------------------------------------------- deployments


def ensure_process_work_pool(name: str = DEFAULT_WORK_POOL) -> str:
    """Create a *process* work pool of that name unless one exists; returns its type."""
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            return client.read_work_pool(name).type
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=name, type="process"))
            return "process"


def deploy_evidence_run(
    config_path: str | Path,
    *,
    cron: str,
    timezone: str = DEFAULT_TIMEZONE,
    name: str = DEFAULT_DEPLOYMENT,
    work_pool: str = DEFAULT_WORK_POOL,
    source: str | Path = PROJECT_DIR,
    job_variables: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
    paused: bool = False,
    create_pool: bool = True,
) -> UUID:
    """Register (or update) the deployment `soc2-evidence-run/<name>`: `evidence_run`
    from `source` (a local folder: no image is built; the worker runs the flow
    from that folder, so it must exist on the worker's machine — the usual case
    for a process work pool; use a git URL for remote workers), on `cron` in
    `timezone`, with the config path as a parameter. `job_variables` are the
    work pool's (for a process pool: `env`, `working_dir`, `command`)."""
    from flows.run import evidence_run

    schedule = cron_schedule(cron, timezone)
    if create_pool:
        ensure_process_work_pool(work_pool)
    remote = evidence_run.from_source(source=str(source), entrypoint=ENTRYPOINT)
    return remote.deploy(
        name=name,
        work_pool_name=work_pool,
        schedules=[schedule],
        parameters=_parameters(config_path, parameters),
        job_variables=dict(job_variables or {}),
        paused=paused,
        tags=TAGS,
        description="SOC 2 evidence run (soc2-evidence): collect, evaluate, write the workbook",
        build=False,
        push=False,
        print_next_steps=False,
        ignore_warnings=True,
    )


def serve_evidence_run(
    config_path: str | Path,
    *,
    cron: str,
    timezone: str = DEFAULT_TIMEZONE,
    name: str = DEFAULT_DEPLOYMENT,
    parameters: Mapping[str, Any] | None = None,
    limit: int | None = 1,
) -> None:
    """Run the schedule in this process (`flow.serve`) until interrupted. With no
    PREFECT_API_URL, Prefect's ephemeral API (SQLite under PREFECT_HOME) holds
    the schedule and the runs. `limit=1`: runs never overlap."""
    from flows.run import evidence_run

    schedule = cron_schedule(cron, timezone)
    evidence_run.serve(
        name=name,
        schedules=[schedule],
        parameters=_parameters(config_path, parameters),
        tags=TAGS,
        description="SOC 2 evidence run (soc2-evidence serve)",
        limit=limit,
    )


# --------------------------------------------------------------------------- fan-out


def full_deployment_name(deployment_name: str) -> str:
    """run_deployment wants "<flow name>/<deployment name>"."""
    return deployment_name if "/" in deployment_name else f"{FLOW_NAME}/{deployment_name}"


def dispatch_accounts(
    deployment_name: str,
    config_path: str | Path,
    account_ids: Iterable[str],
    *,
    parameters: Mapping[str, Any] | None = None,
    wait: bool = False,
    timeout: float | None = None,
    poll_interval: float = 2.0,
    as_subflow: bool = True,
) -> list[FlowRun]:
    """Start one flow run of the deployment per AWS account (parameters: the
    config and `accounts=[<id>]`), so the workers polling the deployment's work
    pool, on as many machines, share the accounts. Returns the flow runs, as
    created, or (with `wait`) in their final states; on `timeout` the runs not
    yet final are returned as they are (check `.state`).

    Requires `evidence_run(..., accounts: list[str] | None = None)`."""
    from prefect.deployments import run_deployment

    full = full_deployment_name(deployment_name)
    runs = [
        run_deployment(
            name=full,
            parameters=_parameters(config_path, {**(parameters or {}), "accounts": [str(aid)]}),
            flow_run_name=f"soc2-evidence-{aid}",
            tags=[*TAGS, f"account:{aid}"],
            timeout=0,  # do not wait here: start them all first
            as_subflow=as_subflow,
        )
        for aid in account_ids
    ]
    return wait_for_flow_runs(runs, timeout=timeout, poll_interval=poll_interval) if wait else runs


def wait_for_flow_runs(
    runs: Sequence[FlowRun], *, timeout: float | None = None, poll_interval: float = 2.0
) -> list[FlowRun]:
    """Poll until every run is in a final state (or `timeout` seconds passed)."""
    from prefect import get_client

    deadline = None if timeout is None else time.monotonic() + timeout
    current = list(runs)
    with get_client(sync_client=True) as client:
        while True:
            current = [client.read_flow_run(r.id) for r in current]
            if all(r.state is not None and r.state.is_final() for r in current):
                return current
            if deadline is not None and time.monotonic() >= deadline:
                return current
            time.sleep(poll_interval)


__all__ = [
    "DEFAULT_DEPLOYMENT",
    "DEFAULT_WORK_POOL",
    "ENTRYPOINT",
    "cron_schedule",
    "deploy_evidence_run",
    "dispatch_accounts",
    "ensure_process_work_pool",
    "full_deployment_name",
    "serve_evidence_run",
    "wait_for_flow_runs",
]
