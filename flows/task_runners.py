"""Where an evidence run's tasks execute: the task runner an `orchestration:` section selects.

- `task_runner_for`: a thread pool, or Dask (a LocalCluster or an existing
  scheduler);
- `api_for_task_runner`: the Prefect API that Dask workers must reach;
- `describe_task_runner`: the manifest's "orchestration" entry.

Separate from flows.deploy (deployments and schedules of the flow, so it
imports flows.run) for flows.run to use without importing deploy back: the
arrows point deploy -> run -> task_runners. `DeployError` and `api_url` live
here because both sides need them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prefect.task_runners import TaskRunner

DEFAULT_DASK_WORKERS = 2


class DeployError(ValueError):
    """A bad schedule, work pool or API setting: the user can fix it (CLI exit 2)."""


def api_url() -> str | None:
    """The Prefect API this process talks to, None for the ephemeral (in-process) API."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


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
