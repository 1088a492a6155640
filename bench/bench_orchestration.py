"""Benchmark: what orchestration costs, and what Dask changes.

(a) Prefect overhead: the demo estate (3 accounts x 2 regions, Organizations
    discovery, assumed roles) through the flow (thread runner) vs the same
    collectors called directly (discovery, identify, flows.collect.collect_scope
    for every scope the flow runs: AWS and access-review collectors, in a
    ThreadPoolExecutor of the same size) in the same process, alternating.
    Prefect's ephemeral server is started by a warm-up run, outside the
    measurement. Compared on the collection phase (the flow's manifest
    "collection_seconds": discovery + identification + every collect task) and
    on the flow's whole wall time (which also writes findings, workbook, exports).
(b) Scale-out: N accounts x 2 regions (seed_scale) with per-request latency:
    the flow on the thread runner vs on a Dask LocalCluster (2 worker
    processes, same number of task slots). Wall time, collection time and peak
    RSS of the process tree (this process + the Dask workers it starts; moto and
    Prefect's server, started before, are not counted).

moto runs in its own process (MotoProcess), so its CPU and memory are not the tool's.

    .venv/bin/python bench/bench_orchestration.py [--part a|b|both] [--latency-ms 50] [--reps 7] [--accounts 30]
        [--stock-prefect]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import psutil
import yaml

from flows.prefect_env import BULK_RECORDING, OFFLINE, QUIET  # imports no Prefect

# as the CLI does (flows.prefect_env), before Prefect starts its ephemeral server;
# --stock-prefect keeps Prefect's own server settings, to show what they change
os.environ.update({**OFFLINE, **QUIET, **({} if "--stock-prefect" in sys.argv else BULK_RECORDING)})
from collectors.aws.base import clear_credentials_cache
from demo.emulators import MotoProcess
from demo.estate import seed_demo_estate
from demo.estate_scale import seed_scale
from demo.run import write_demo_config
from flows.accounts import identify
from flows.collect import Target, collect_scope
from flows.config import load_config
from flows.run import _scopes_for, evidence_run, resolve_targets, run_evidence, tunings_for
from flows.task_runners import api_for_task_runner, task_runner_for
from reports.store import RunWriter, new_run_id

MB = 1024 * 1024
STOCK_PREFECT = "--stock-prefect" in sys.argv


class PeakTreeRss:
    """Peak RSS of this process plus the children it starts during the block (every 50 ms)."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.before = {c.pid for c in self.proc.children(recursive=True)}
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> int:
        total = self.proc.memory_info().rss
        for child in self.proc.children(recursive=True):
            if child.pid in self.before:
                continue
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.sample())
            self._stop.wait(0.05)

    def __enter__(self) -> PeakTreeRss:
        self.peak = self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def direct_collect(config: Path, out: Path) -> tuple[float, int]:
    """The flow's collection phase without Prefect: (seconds, results)."""
    cfg = load_config(config)
    tunings, workers = tunings_for(cfg, None)
    writer = RunWriter.create(out, new_run_id())
    gc.freeze()  # as the flow does (flows/run.py), so only Prefect's own cost differs
    try:
        return _direct(cfg, tunings, workers, writer)
    finally:
        gc.unfreeze()


def _direct(cfg, tunings, workers, writer) -> tuple[float, int]:
    as_of = datetime.now(UTC)
    clear_credentials_cache()
    t0 = time.perf_counter()
    targets, _ = resolve_targets(cfg, tunings.aws)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        identities = list(pool.map(lambda t: identify(t, tunings.aws), targets))
        futures = [
            pool.submit(
                collect_scope,
                target=Target(provider, t.id, role_arn=t.role_arn),
                region=region,
                collector_id=cid,
                run_path=str(writer.path),
                thresholds=cfg.thresholds,
                as_of=as_of,
                tunings=tunings,
            )
            for t, ident in zip(targets, identities, strict=True)
            if ident.ok
            for provider, regions in (("aws", t.regions), ("access_review", ()))
            for cid, region in _scopes_for(provider, regions)
        ]
        results = sum(len(f.result().results) for f in futures)
    return time.perf_counter() - t0, results


def prefect_server_process() -> psutil.Process | None:
    """Prefect's ephemeral API server: a uvicorn subprocess of this process."""
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "uvicorn" in " ".join(child.cmdline()):
                return child
    return None


def cpu_seconds(proc: psutil.Process | None) -> float:
    if proc is None:
        return 0.0
    with contextlib.suppress(psutil.Error):
        t = proc.cpu_times()
        return t.user + t.system
    return 0.0


def part_a(latency: float, reps: int, tmp: Path) -> None:
    settings = "Prefect's stock settings" if STOCK_PREFECT else "this tool's Prefect settings (flows/prefect_env.py)"
    print(f"\n(a) Prefect overhead: demo estate, {latency * 1000:.0f} ms per request, {reps} repetitions, {settings}")
    with MotoProcess() as moto, moto.use_env():
        estate = seed_demo_estate(moto.endpoint_url)
        config = write_demo_config(estate, tmp / "a", workload_regions_only=True)
        run_evidence(config)  # warm-up: Prefect's ephemeral server, service models, imports
        server = prefect_server_process()
        moto.latency_seconds = latency
        flow_wall, flow_collect, direct, server_cpu = [], [], [], []
        for i in range(reps):
            before = cpu_seconds(server)
            t = time.perf_counter()
            outcome = run_evidence(config, output=tmp / f"a-flow-{i}")
            flow_wall.append(time.perf_counter() - t)
            server_cpu.append(cpu_seconds(server) - before)
            flow_collect.append(outcome.manifest["collection_seconds"])
            seconds, results = direct_collect(config, tmp / f"a-direct-{i}")
            direct.append(seconds)
            n_flow = sum(1 for f in outcome.findings if f.result.provider in ("aws", "access_review"))
            print(
                f"  rep {i + 1}: flow wall {flow_wall[-1]:6.2f}s, flow collection {flow_collect[-1]:6.2f}s "
                f"({n_flow} results, {len(outcome.manifest['collectors'])} tasks, Prefect server CPU "
                f"{server_cpu[-1]:.2f}s); direct {seconds:6.2f}s ({results} results)"
            )
    fc, dc, fw = statistics.median(flow_collect), statistics.median(direct), statistics.median(flow_wall)
    ratios = sorted(f / d - 1 for f, d in zip(flow_collect, direct, strict=True))
    print(
        f"  median: flow collection {fc:.2f}s vs direct {dc:.2f}s: "
        f"overhead {fc - dc:+.2f}s ({(fc / dc - 1) * 100:+.1f}%); per-rep overhead "
        f"{ratios[0] * 100:+.0f}% .. {ratios[-1] * 100:+.0f}% (median {statistics.median(ratios) * 100:+.1f}%)"
    )
    print(f"  median Prefect server CPU per flow run: {statistics.median(server_cpu):.2f}s")
    print(f"  median flow wall (incl. findings, workbook, exports, artifacts): {fw:.2f}s ({(fw / dc - 1) * 100:+.1f}%)")


def write_scale_config(path: Path, accounts: list[str], regions: list[str], output: Path) -> Path:
    cfg = {
        "organization": "Bench Corp",
        "period": {"start": "2026-01-01", "end": "2026-12-31"},
        "aws": {
            "regions": regions,
            "accounts": [
                {"id": a, "role_arn": f"arn:aws:iam::{a}:role/OrganizationAccountAccessRole"} for a in accounts
            ],
        },
        "output": str(output),
    }
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def keys(outcome) -> list[tuple[str, ...]]:  # outcome: RunOutcome
    return sorted(
        (f.result.check_id, f.result.account, f.result.region, f.result.resource_id, str(f.result.status))
        for f in outcome.findings
    )


def part_b(latency: float, n_accounts: int, buckets: int, volumes: int, dbs: int, n_workers: int, tmp: Path) -> None:
    regions = ["us-east-1", "eu-west-1"]
    with MotoProcess() as moto, moto.use_env():
        t = time.perf_counter()
        estate = seed_scale(
            moto.endpoint_url, accounts=n_accounts, regions=regions, buckets=buckets, volumes=volumes, db_instances=dbs
        )
        print(
            f"\n(b) {n_accounts} accounts x {len(regions)} regions ({buckets} buckets, {volumes} volumes, {dbs} DB "
            f"instances) seeded in {time.perf_counter() - t:.1f}s; {latency * 1000:.0f} ms per request"
        )
        config = write_scale_config(tmp / "scale.yaml", list(estate.accounts), regions, tmp / "b")
        cfg = load_config(config)
        _, workers = tunings_for(cfg, None)
        run_evidence(config, output=tmp / "b-warm")  # warm-up (ephemeral server) without latency
        moto.latency_seconds = latency
        rows = []
        for label, orch in (
            ("thread", SimpleNamespace(task_runner="thread")),
            (f"dask LocalCluster {n_workers}p", SimpleNamespace(task_runner="dask", address=None, n_workers=n_workers)),
        ):
            runner_flow = evidence_run.with_options(task_runner=task_runner_for(orch, workers))
            moto.reset_counts()
            with PeakTreeRss() as rss:
                t = time.perf_counter()
                with api_for_task_runner(orch):
                    outcome = runner_flow(str(config), str(tmp / f"b-{orch.task_runner}"), None)
                wall = time.perf_counter() - t
            rows.append((label, wall, outcome.manifest["collection_seconds"], sum(moto.counts().values()), rss.peak))
            rows[-1] += (keys(outcome),)
    print(f"  task slots: {workers}")
    print(f"  {'runner':24} {'wall s':>8} {'collect s':>9} {'API calls':>9} {'peak tree RSS MB':>16}")
    for label, wall, collect, calls, peak, _ in rows:
        print(f"  {label:24} {wall:8.2f} {collect:9.2f} {calls:9d} {peak / MB:16.0f}")
    same = rows[0][5] == rows[1][5]
    print(f"  findings equal (check, account, region, resource, status): {same} ({len(rows[0][5])} findings)")
    for label, *_, found in rows:
        errors = sum(1 for k in found if k[4] == "error")
        print(f"  {label}: {errors} findings with status error")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["a", "b", "both"], default="both")
    ap.add_argument("--latency-ms", type=float, default=50)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--accounts", type=int, default=30)
    ap.add_argument("--buckets", type=int, default=120)
    ap.add_argument("--volumes", type=int, default=120)
    ap.add_argument("--db-instances", type=int, default=60)
    ap.add_argument("--dask-workers", type=int, default=2)
    ap.add_argument(
        "--stock-prefect",
        action="store_true",
        help="Prefect's stock server settings (no bulk task-run recording): what flows/prefect_env.py changes",
    )
    args = ap.parse_args()
    latency = args.latency_ms / 1000
    with tempfile.TemporaryDirectory() as tmp:
        if args.part in ("a", "both"):
            part_a(latency, args.reps, Path(tmp))
        if args.part in ("b", "both"):
            part_b(
                latency,
                args.accounts,
                args.buckets,
                args.volumes,
                args.db_instances,
                args.dask_workers,
                Path(tmp),
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
