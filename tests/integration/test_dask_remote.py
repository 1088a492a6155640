"""The flow on an *existing* Dask cluster reached by address
(`orchestration: {task_runner: dask, address: tcp://...}`), on the demo estate
in moto: the tasks must run on that cluster's workers, give the same findings
as the thread pool, and leave the cluster (which the flow does not own) running.

The cluster is a distributed.LocalCluster of 2 worker processes started by the
test, not by the task runner: the flow only gets its scheduler's address. Its
workers are spawned inside the moto env (they inherit AWS_ENDPOINT_URL etc.)
and inside the Prefect test harness; they reach the harness's API through the
Prefect settings that travel with each task (PREFECT_API_URL is set in this
process's settings, so `api_for_task_runner` passes it through)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from demo.emulators import MotoEmulator
from demo.estate import seed_demo_estate
from demo.run import write_demo_config
from tests.integration.test_dask_runner import finding_keys

pytest.importorskip("prefect_dask")
pytestmark = pytest.mark.integration


def _executed(client: Any) -> dict[str, int]:
    """Tasks each worker of the cluster has executed so far (worker address -> count)."""
    return client.run(lambda dask_worker: dask_worker.state.executed_count)


@pytest.fixture
def moto() -> Iterator[MotoEmulator]:
    with MotoEmulator() as emulator, emulator.use_env():
        emulator.reset()  # moto's state is per process: other tests may have seeded it
        yield emulator


@pytest.fixture
def external_cluster(prefect_harness: None, moto: MotoEmulator) -> Iterator[tuple[Any, Any]]:
    """A cluster the flow does not own, and an observer client that is *not* the
    default client (else DaskTaskRunner would take it instead of the address)."""
    from distributed import Client, LocalCluster

    # started after moto.use_env(): the worker processes inherit the moto env vars
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=4,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
    )
    try:
        with Client(cluster.scheduler_address, set_as_default=False) as client:
            yield cluster, client
    finally:
        cluster.close()


def _config(estate: Any, folder: Path, orchestration: dict[str, Any] | None = None) -> Path:
    path = write_demo_config(estate, folder, workload_regions_only=True)
    if orchestration:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        doc["orchestration"] = orchestration
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def test_dask_cluster_by_address_runs_the_tasks_and_stays_up(
    moto: MotoEmulator, external_cluster: tuple[Any, Any], tmp_path: Path
) -> None:
    import distributed

    from flows.run import run_evidence

    cluster, client = external_cluster
    address = cluster.scheduler_address
    assert address.startswith("tcp://127.0.0.1:")
    workers = client.run(os.getpid)
    assert len(workers) == 2 and os.getpid() not in workers.values()
    # the workers see the emulator (else every task would be an error)
    assert set(client.run(lambda: os.environ.get("AWS_ENDPOINT_URL")).values()) == {moto.endpoint_url}
    with pytest.raises(ValueError):  # no default client: the task runner must connect by address
        distributed.get_client()

    estate = seed_demo_estate(moto.endpoint_url)
    thread_run = run_evidence(_config(estate, tmp_path / "thread"), output=tmp_path / "thread" / "out")
    before = _executed(client)
    dask_cfg = _config(estate, tmp_path / "dask", {"task_runner": "dask", "address": address, "max_workers": 8})
    dask_run = run_evidence(dask_cfg, output=tmp_path / "dask" / "out")
    after = _executed(client)

    # the run went to that cluster, and its workers executed the tasks
    assert dask_run.manifest["orchestration"]["task_runner"] == "dask"
    assert dask_run.manifest["orchestration"]["address"] == address
    ran = {w: after[w] - before.get(w, 0) for w in after}
    assert sum(ran.values()) > 0, (before, after)
    # every task of the run: one identify task per account, one collect task per scope
    tasks = len(dask_run.manifest["callers"]) + len(dask_run.manifest["collectors"])
    assert sum(ran.values()) == tasks, (ran, tasks)

    # the same findings as on threads, none of them an error
    thread_keys, dask_keys = finding_keys(thread_run.run_dir), finding_keys(dask_run.run_dir)
    assert thread_keys, "the demo estate yields findings"
    assert not [k for k in dask_keys if k[4] == "error"], [
        f.result.reason for f in dask_run.findings if f.result.status == "error"
    ][:5]
    assert dask_keys == thread_keys
    assert sorted(e["path"] for e in dask_run.manifest["evidence"]) == sorted(
        e["path"] for e in thread_run.manifest["evidence"]
    )
    assert dask_run.workbook.exists()

    # the flow closed its client, not the cluster it does not own
    assert cluster.status.name == "running"
    assert client.run(os.getpid) == workers  # the same 2 worker processes
    assert client.submit(sum, [1, 2], pure=False).result(timeout=30) == 3
