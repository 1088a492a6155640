"""Scheduling and scale-out of the evidence run (Prefect deployments, workers, Dask).

- `deploy_evidence_run`: a Prefect deployment of `evidence_run` on a cron
  schedule, from this checkout (`flow.from_source(<project dir>)`: no image is
  built; a *process* work pool's worker runs the flow from the same folder).
  Needs a Prefect server or Prefect Cloud (PREFECT_API_URL).
- `serve_evidence_run`: the same schedule without a server-side work pool:
  `flow.serve` runs the schedule in this process until interrupted.
- `task_runner_for`: the task runner an `orchestration:` section selects
  (a thread pool, or Dask: a LocalCluster or an existing scheduler).
- `mark_new_failures`: a Prefect event when a run's drift shows newly failing
  resources, for Automations (Slack, e-mail, webhook) to trigger on.
- `dispatch_accounts`: one flow run of a deployment per AWS account, so the
  workers of a pool (on several machines) share the accounts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun
    from prefect.events import Event
    from prefect.schedules import Schedule
    from prefect.task_runners import TaskRunner

    from reports.drift import Drift

PROJECT_DIR = Path(__file__).resolve().parents[1]
ENTRYPOINT = "flows/run.py:evidence_run"
FLOW_NAME = "soc2-evidence-run"  # @flow(name=...) of flows.run.evidence_run
DEFAULT_DEPLOYMENT = "soc2-evidence-daily"
DEFAULT_WORK_POOL = "soc2-evidence"
DEFAULT_TIMEZONE = "UTC"
NEW_FAILURES_EVENT = "soc2-evidence.drift.new-failures"
DEFAULT_DASK_WORKERS = 2
TAGS = ["soc2-evidence"]


class DeployError(ValueError):
    """A bad schedule, work pool or API setting: the user can fix it (CLI exit 2)."""


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


def api_url() -> str | None:
    """The Prefect API this process talks to, None for the ephemeral (in-process) API."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


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


# --------------------------------------------------------------------------- task runners


def task_runner_for(orchestration: Any, workers: int) -> TaskRunner:
    """The task runner an `orchestration:` config section selects.

    - task_runner "thread": a ThreadPoolTaskRunner of `workers` threads;
    - task_runner "dask" with `address` ("tcp://scheduler:8786"): a
      DaskTaskRunner on that existing cluster (its workers must reach the
      clouds and the run's output folder, e.g. a shared volume);
    - task_runner "dask" without `address`: a temporary distributed.LocalCluster
      of `n_workers` processes (default 2), `workers` task slots in all.
      Its processes inherit this process's environment when they start.
    """
    from prefect.task_runners import ThreadPoolTaskRunner

    kind = getattr(orchestration, "task_runner", "thread") or "thread"
    if kind == "thread":
        return ThreadPoolTaskRunner(max_workers=max(1, workers))
    if kind != "dask":
        raise DeployError(f"orchestration.task_runner: unknown task runner {kind!r} (expected 'thread' or 'dask')")
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise DeployError(
            "orchestration.task_runner 'dask' needs prefect-dask: pip install -c constraints.txt prefect-dask"
        ) from None
    address = getattr(orchestration, "address", None)
    if address:
        return DaskTaskRunner(address=address)
    n_workers = int(getattr(orchestration, "n_workers", None) or DEFAULT_DASK_WORKERS)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={
            "n_workers": n_workers,
            "threads_per_worker": max(1, math.ceil(workers / n_workers)),
            "processes": True,
            "dashboard_address": None,  # no web server on a fixed port
        },
    )


@contextmanager
def api_for_task_runner(orchestration: Any) -> Iterator[str | None]:
    """Run the flow inside this block when the task runner may be Dask.

    Dask worker processes run Prefect's task engine, which must reach the API
    the flow run lives in. The flow's own process talks to Prefect's ephemeral
    API (PREFECT_API_URL unset) through its *settings*, and those settings
    travel to the workers with each task: a worker would then start an
    ephemeral server of its own ("Server process did not start" / "Failed to
    reach API"). So, for Dask without PREFECT_API_URL, start the ephemeral
    server here (the same singleton the flow's client uses) and put its URL in
    the settings for the block. A remote cluster (`address`) needs a server its
    workers can reach: DeployError without PREFECT_API_URL. Yields the API URL
    (None: ephemeral, thread runner)."""
    kind = getattr(orchestration, "task_runner", "thread") or "thread"
    url = api_url()
    if kind != "dask" or url:
        yield url
        return
    if getattr(orchestration, "address", None):
        raise DeployError(
            "orchestration.address: a remote Dask cluster's workers must reach a Prefect server: set "
            "PREFECT_API_URL (prefect server start, or Prefect Cloud) on this machine and on the workers"
        )
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL, temporary_settings

    server = SubprocessASGIServer()
    server.start()
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield server.api_url


def describe_task_runner(orchestration: Any, workers: int, per_task: int) -> dict[str, Any]:
    """The manifest's "orchestration" entry for that selection."""
    kind = getattr(orchestration, "task_runner", "thread") or "thread"
    doc: dict[str, Any] = {"task_runner": kind, "max_workers": workers, "per_task_concurrency": per_task}
    if kind == "dask":
        address = getattr(orchestration, "address", None)
        doc["address"] = address
        doc["n_workers"] = None if address else int(getattr(orchestration, "n_workers", None) or DEFAULT_DASK_WORKERS)
    return doc


# --------------------------------------------------------------------------- notifications


def mark_new_failures(drift: Drift, *, organization: str | None = None, limit: int = 20) -> Event | None:
    """Emit `soc2-evidence.drift.new-failures` when the run's drift shows newly
    failing (or newly erroring) resources; None (no event) otherwise.

    The event's resource is the organization (`soc2-evidence.organization.<name>`);
    the flow run and deployment, when there are any, are related resources, so
    an Automation can match on the event name alone, or on a deployment. The
    payload has the drift counts and the first `limit` newly failing resources.
    Never raises: the run's files are the record, the event is a convenience."""
    if not (drift.newly_failing or drift.newly_erroring):
        return None
    try:
        from prefect.events import emit_event

        related: list[dict[str, str]] = []
        role = "prefect.resource.role"
        try:
            from prefect.runtime import deployment, flow_run

            if flow_run.id:
                related.append({"prefect.resource.id": f"prefect.flow-run.{flow_run.id}", role: "flow-run"})
            if deployment.id:
                related.append(
                    {
                        "prefect.resource.id": f"prefect.deployment.{deployment.id}",
                        role: "deployment",
                    }
                )
        except Exception:
            pass
        org = organization or "unknown"
        sample = [
            {k: item.get(k) for k in ("check_id", "account", "region", "resource_id") if k in item}
            for item in drift.newly_failing[:limit]
        ]
        return emit_event(
            event=NEW_FAILURES_EVENT,
            resource={
                "prefect.resource.id": f"soc2-evidence.organization.{org}",
                "prefect.resource.name": org,
                "soc2-evidence.run-id": str(drift.to_run or ""),
            },
            related=related,
            payload={
                "run_id": drift.to_run,
                "previous_run_id": drift.from_run,
                "counts": drift.counts(),
                "newly_failing": sample,
                "summary": drift.summary(),
            },
        )
    except Exception:  # pragma: no cover - events must never fail a run
        return None


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
    "NEW_FAILURES_EVENT",
    "DeployError",
    "api_for_task_runner",
    "api_url",
    "cron_schedule",
    "deploy_evidence_run",
    "describe_task_runner",
    "dispatch_accounts",
    "ensure_process_work_pool",
    "full_deployment_name",
    "mark_new_failures",
    "serve_evidence_run",
    "task_runner_for",
    "wait_for_flow_runs",
]
