"""Benchmark: the evidence flow over a large AWS estate on moto with latency.

Seeds 500 S3 buckets, 1,000 EBS volumes and 200 RDS instances over
2 accounts x 2 regions, and the data tier (bench/_data_tier.py: EBS and RDS
snapshots, RDS parameter groups, ElastiCache, EFS, OpenSearch, Redshift), injects
50 ms of latency per request, then runs the real flow (Prefect, assumed roles,
evidence store, workbook) twice in the same process: at the default concurrency
and at concurrency 1. Prints wall time, API calls (counted at the emulator),
resources per second, the peak RSS of the tool's process (moto runs in a child
process), the CPU seconds of the tool, moto and Prefect's API server with the
load average (the stable measure on a shared machine), the API calls per
operation, and the data tier's API calls per resource.

Under throttling: `--throttle 0.3` answers 30 % of the measured runs' requests with each
protocol's throttling error (seeded, `--seed`), `--max-attempts N` sets aws.max_attempts
(attempts per call in all; default: the config's default, 5); the table then shows how many
requests were throttled and how many findings ended `error`.

    .venv/bin/python bench/bench_aws_collect.py [--latency-ms 50] [--buckets 500] ...
    .venv/bin/python bench/bench_aws_collect.py --throttle 0.3 --max-attempts 12 --skip-serial
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import yaml

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from _common import CpuSeconds, PeakRss
from _data_tier import DataTierCounts, calls_per_resource, seed_data_tier_scale

from demo.emulators import MotoProcess, throttle_summary
from demo.estate_scale import seed_scale
from flows.run import run_evidence


def write_config(
    path: Path,
    accounts: list[str],
    regions: list[str],
    output: Path,
    per_task: int | None = None,
    max_attempts: int | None = None,
) -> Path:
    cfg: dict = {
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
    if per_task:
        cfg["orchestration"] = {"per_task_concurrency": per_task}
    if max_attempts is not None:
        cfg["aws"]["max_attempts"] = max_attempts
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


@contextlib.contextmanager
def py_spy(directory: str, pids: dict[str, int | None]) -> Iterator[None]:
    """py-spy recording each process in `pids` for the duration of the block (stopped with SIGINT)."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    options = ["--gil", "--nonblocking", "--rate", "200", "--format", "raw"]
    procs = [
        subprocess.Popen(
            ["py-spy", "record", "--pid", str(pid), *options, "--output", str(Path(directory) / f"{name}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
        if pid
    ]
    time.sleep(1)  # attached
    try:
        yield
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            proc.wait(timeout=60)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--latency-ms", type=float, default=50)
    ap.add_argument("--accounts", type=int, default=2)
    ap.add_argument("--buckets", type=int, default=500)
    ap.add_argument("--volumes", type=int, default=1000)
    ap.add_argument("--db-instances", type=int, default=200)
    ap.add_argument("--skip-serial", action="store_true", help="only the default concurrency")
    ap.add_argument("--no-data-tier", action="store_true", help="skip the data-tier services")
    ap.add_argument("--per-task-concurrency", type=int, help="the config's per_task_concurrency (default 16)")
    ap.add_argument(
        "--py-spy",
        metavar="DIR",
        help="sample the default run with py-spy (installed separately): DIR/tool.txt and DIR/moto.txt, "
        "collapsed stacks of the threads holding the GIL",
    )
    ap.add_argument("--throttle", type=float, default=0.0, metavar="P", help="throttle this share of requests (0-1)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random throttling")
    ap.add_argument("--max-attempts", type=int, default=None, metavar="N", help="aws.max_attempts (default: 5)")
    args = ap.parse_args()
    regions = ["us-east-1", "eu-west-1"]

    # moto runs in its own process: its CPU, GIL and memory are not the tool's
    with MotoProcess() as moto, moto.use_env(), tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        estate = seed_scale(
            moto.endpoint_url,
            accounts=args.accounts,
            regions=regions,
            buckets=args.buckets,
            volumes=args.volumes,
            db_instances=args.db_instances,
        )
        print(
            f"seeded {args.buckets} buckets, {args.volumes} volumes, {args.db_instances} DB instances over "
            f"{args.accounts} accounts x {len(regions)} regions in {time.perf_counter() - t:.1f}s"
        )
        tier = DataTierCounts(db_instances=args.db_instances)
        if not args.no_data_tier:
            t = time.perf_counter()
            tier = seed_data_tier_scale(moto.endpoint_url, list(estate.accounts), regions, tier)
            print(f"seeded the data tier ({tier.summary()}) in {time.perf_counter() - t:.1f}s")
        config = write_config(
            Path(tmp) / "bench.yaml",
            list(estate.accounts),
            regions,
            Path(tmp) / "out",
            per_task=args.per_task_concurrency,
            max_attempts=args.max_attempts,
        )

        # warm-up: start Prefect's ephemeral server outside the measurement
        moto.latency_seconds = 0
        run_evidence(config, concurrency=4)

        moto.latency_seconds = args.latency_ms / 1000
        rows = []
        modes = [("default", None)] + ([] if args.skip_serial else [("concurrency 1", 1)])
        for label, conc in modes:
            moto.reset_counts()
            load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
            spy = py_spy(args.py_spy, {"tool": os.getpid(), "moto": moto.pid}) if args.py_spy and conc is None else None
            if args.throttle > 0:
                moto.throttle(args.throttle, seed=args.seed)  # the same draws for every mode
            with PeakRss() as rss, CpuSeconds(moto.pid) as cpu, spy or contextlib.nullcontext():
                t = time.perf_counter()
                outcome = run_evidence(config, concurrency=conc)
                wall = time.perf_counter() - t
            moto.throttle(0)
            load += " -> " + (Path("/proc/loadavg").read_text().split()[0] if load != "?" else "?")
            counts = Counter(moto.counts())
            throttled = moto.throttled()
            errors = sum(1 for f in outcome.findings if f.result.status == "error")
            resources = len(
                {(f.result.account, f.result.resource_type, f.result.resource_id) for f in outcome.findings}
            )
            rows.append(
                (
                    label,
                    wall,
                    outcome.manifest["collection_seconds"],
                    sum(counts.values()),
                    resources,
                    rss.peak,
                    counts,
                    outcome.manifest["orchestration"],
                    outcome.manifest["collectors"],
                    (throttled, errors, len(outcome.findings)),
                    cpu,
                    load,
                )
            )

    print(f"\nlatency {args.latency_ms:.0f} ms per request\n")
    print(
        f"{'mode':14} {'wall s':>8} {'collect s':>9} {'API calls':>9} {'resources':>9} {'res/s':>7} "
        f"{'peak RSS MB':>11}  orchestration"
    )
    for label, wall, collect, calls, res, peak, _, orch, _, _, _, _ in rows:
        print(
            f"{label:14} {wall:8.1f} {collect:9.1f} {calls:9d} {res:9d} {res / wall:7.1f} {peak / 2**20:11.0f}  "
            f"{orch['max_workers']} tasks x {orch['per_task_concurrency']} calls"
        )
    print(f"\n{'mode':14} {'CPU s: tool':>11} {'moto':>6} {'Prefect':>7}  load average (1 min, before -> after)")
    for label, *_, cpu, load in rows:
        print(f"{label:14} {cpu.tool:11.1f} {cpu.moto:6.1f} {cpu.other:7.1f}  {load}")
    print(f"API calls per resource (default run): {rows[0][3] / max(rows[0][4], 1):.3f}")
    if args.throttle > 0:
        attempts = args.max_attempts or 5
        print(f"\nthrottling {args.throttle:.0%} (seed {args.seed}), aws.max_attempts {attempts}:")
        for label, *_, (throttled, errors, findings), _, _ in rows:
            summary = throttle_summary(throttled, row_counts(rows, label))
            print(f"  {label:14} {summary}; {errors} of {findings} findings `error`")
    if len(rows) == 2:
        print(f"\nspeed-up (wall): {rows[1][1] / rows[0][1]:.1f}x   (collection only: {rows[1][2] / rows[0][2]:.1f}x)")
    print("\nAPI calls per operation (default run):")
    for op, n in sorted(rows[0][6].items(), key=lambda kv: -kv[1]):
        print(f"  {op:32} {n:6d}")
    print("\nslowest collector tasks (default run):")
    for entry in sorted(rows[0][8], key=lambda e: -e["duration_s"])[:6]:
        print(f"  {entry['collector']:18} {entry['account']} {entry['region']:10} {entry['duration_s']:6.1f} s")
    if not args.no_data_tier:
        print("\ndata tier, API calls per resource (default run):")
        by_collector = Counter()
        for entry in rows[0][8]:
            by_collector[entry["collector"]] += entry["api_calls"]
        for label, calls, resources in calls_per_resource(rows[0][6], by_collector, tier):
            print(f"  {label:44} {calls:5d} calls / {resources:5d} = {calls / max(resources, 1):.3f}")
    return 0


def row_counts(rows: list, label: str) -> dict[str, int]:
    return dict(next(r[6] for r in rows if r[0] == label))


if __name__ == "__main__":
    sys.exit(main())
