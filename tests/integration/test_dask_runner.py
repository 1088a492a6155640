"""The same flow on Dask (prefect-dask, a LocalCluster of 2 worker processes)
and on the thread pool, on the demo estate in moto: the findings must be the
same. The tasks' inputs (Target, Tunings, thresholds) and outputs
(ScopeOutcome) cross a process boundary here, so they must pickle."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from demo.emulators import MotoEmulator
from demo.estate import seed_demo_estate
from demo.run import write_demo_config
from flows.collect import Target, Tunings
from flows.task_runners import DeployError, task_runner_for

pytest.importorskip("prefect_dask")
pytestmark = pytest.mark.integration

Key = tuple[str, str, str, str, str]


def finding_keys(run_dir: Path) -> list[Key]:
    rows = [json.loads(line) for line in (run_dir / "findings.jsonl").read_text().splitlines()]
    return sorted((r["check_id"], r["account"], r["region"], r["resource_id"], r["status"]) for r in rows)


def test_task_inputs_pickle() -> None:
    target = Target("aws", "111122223333", role_arn="arn:aws:iam::111122223333:role/r")
    assert pickle.loads(pickle.dumps(target)) == target
    tunings = Tunings()
    assert pickle.loads(pickle.dumps(tunings)) == tunings
    pickle.dumps(datetime.now(UTC))


def test_task_runner_selection() -> None:
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    thread = task_runner_for(SimpleNamespace(task_runner="thread"), 6)
    assert isinstance(thread, ThreadPoolTaskRunner) and thread._max_workers == 6
    local = task_runner_for(SimpleNamespace(task_runner="dask", address=None, n_workers=3), 8)
    assert isinstance(local, DaskTaskRunner) and local.address is None
    assert local.cluster_kwargs["n_workers"] == 3 and local.cluster_kwargs["threads_per_worker"] == 3
    remote = task_runner_for(SimpleNamespace(task_runner="dask", address="tcp://10.0.0.5:8786"), 8)
    assert remote.address == "tcp://10.0.0.5:8786"
    with pytest.raises(DeployError):
        task_runner_for(SimpleNamespace(task_runner="ray"), 4)


def test_dask_local_cluster_gives_the_same_findings_as_threads(prefect_harness: None, tmp_path: Path) -> None:
    from flows.run import evidence_run

    with MotoEmulator() as moto, moto.use_env():
        # LocalCluster's worker processes start inside this block: they inherit the moto env vars
        moto.reset()  # moto's state is per process: other tests may have seeded it
        estate = seed_demo_estate(moto.endpoint_url)
        thread_cfg = write_demo_config(estate, tmp_path / "thread", workload_regions_only=True)
        dask_cfg = write_demo_config(estate, tmp_path / "dask", workload_regions_only=True)
        on_threads = evidence_run.with_options(task_runner=task_runner_for(SimpleNamespace(task_runner="thread"), 8))
        thread_run = on_threads(str(thread_cfg))
        on_dask = evidence_run.with_options(
            task_runner=task_runner_for(SimpleNamespace(task_runner="dask", address=None, n_workers=2), 8)
        )
        dask_run = on_dask(str(dask_cfg))

    thread_keys, dask_keys = finding_keys(thread_run.run_dir), finding_keys(dask_run.run_dir)
    assert thread_keys, "the demo estate yields findings"
    assert not [k for k in dask_keys if k[4] == "error"], [f.result.reason for f in dask_run.findings][:5]
    assert dask_keys == thread_keys
    # the same evidence files were written, by other processes
    assert sorted(e["path"] for e in dask_run.manifest["evidence"]) == sorted(
        e["path"] for e in thread_run.manifest["evidence"]
    )
    assert (dask_run.workbook).exists()
