"""Benchmark: the gcp.gcs collector over a large Cloud Storage estate with latency.

Seeds 2,000 buckets over 4 projects (every 4th public, every 3rd holding
personal data without a delete rule), injects 50 ms of latency per request,
then runs the collector's fetch + checks per project, the projects in a thread
pool, twice in the same process: at the default tuning (4 projects at once,
16 calls in flight each) and at concurrency 1 (one project, one call at a time).
Prints wall time, API calls (counted at the server), results, peak RSS of
this process, and the speed-up.

Backends: "emulator" (default): gcp-storage-emulator behind demo/gcs_emulator.py's
front (which scopes listings by project and adds the latency; buckets are seeded
straight into the emulator's store); "fake": tests/fake_gcs.py.

    .venv/bin/python bench/bench_gcs.py [--backend emulator|fake] [--latency-ms 50] [--buckets 2000] [--projects 4]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import PeakRss

from collectors.evidence import Recorder, Scope
from collectors.gcp.base import GcpFetchContext, GcpTuning, classify_error
from collectors.registry import checks_for, collectors
from controls import Status


def collect_project(project: str, tuning: GcpTuning) -> tuple[int, Counter[str], int]:
    """fetch + every gcp.gcs check for one project: (results, statuses, recorded calls)."""
    spec = collectors()["gcp.gcs"]
    rec = Recorder(Scope("gcp", project, "global", "gcp.gcs"), spec.operations, classify_error)
    spec.fetch(GcpFetchContext(project, rec, tuning))
    statuses: Counter[str] = Counter()
    n = 0
    as_of = datetime.now(UTC)
    for chk in checks_for("gcp.gcs"):
        for r in chk.run(rec.bundle, {}, as_of):
            statuses[str(r.status)] += 1
            n += 1
    return n, statuses, rec.api_calls


def start_backend(kind: str, projects: dict[str, int], latency: float) -> tuple[Any, Any]:
    if kind == "emulator":
        from demo.gcs_emulator import GcsEmulator, seed_scale

        emu = GcsEmulator(latency_seconds=latency).start()
        seed_scale(emu, projects)
        return emu, emu.calls
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.fake_gcs import FakeGcs, bucket_resource, policy

    fake = FakeGcs(latency_seconds=latency)
    for project, count in projects.items():
        fake.projects[project] = []
        for i in range(count):
            name = f"{project}-bucket-{i:05d}"
            extra: dict[str, Any] = {"labels": {"data-class": "personal"}} if i % 3 == 0 else {}
            fake.projects[project].append(bucket_resource(name, **extra))
            if i % 4 == 0:
                fake.policies[name] = policy(name, [{"role": "roles/storage.objectViewer", "members": ["allUsers"]}])
    return fake.start(), fake.calls


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["emulator", "fake"], default="emulator")
    ap.add_argument("--latency-ms", type=float, default=50)
    ap.add_argument("--buckets", type=int, default=2000)
    ap.add_argument("--projects", type=int, default=4)
    ap.add_argument("--output", type=Path, help="also write the report to this file")
    args = ap.parse_args()

    names = [f"bench-project-{i + 1}" for i in range(args.projects)]
    base, extra = divmod(args.buckets, args.projects)
    per = {p: base + (1 if i < extra else 0) for i, p in enumerate(names)}
    t0 = time.monotonic()
    backend, calls = start_backend(args.backend, per, args.latency_ms / 1000)
    lines = [
        f"backend {args.backend}: seeded {sum(per.values())} buckets over {len(per)} projects "
        f"in {time.monotonic() - t0:.1f}s",
        f"latency {args.latency_ms:g} ms per request",
        "",
        f"{'mode':16} {'wall s':>7} {'API calls':>9} {'results':>8} {'res/s':>8} {'peak RSS MB':>11}  orchestration",
    ]
    os.environ["STORAGE_EMULATOR_HOST"] = backend.endpoint
    modes = [
        ("default", GcpTuning(), len(names)),
        ("concurrency 1", GcpTuning(concurrency=1), 1),
    ]
    walls: dict[str, float] = {}
    per_op: Counter[str] = Counter()
    try:
        for label, tuning, project_workers in modes:
            calls.clear()
            with PeakRss() as rss:
                started = time.monotonic()
                with ThreadPoolExecutor(max_workers=project_workers) as pool:
                    outcomes = list(pool.map(lambda p, t=tuning: collect_project(p, t), names))
                wall = time.monotonic() - started
            walls[label] = wall
            results = sum(o[0] for o in outcomes)
            statuses = sum((o[1] for o in outcomes), Counter())
            assert statuses[str(Status.ERROR)] == 0, f"unexpected errors: {statuses}"
            api = sum(calls.values())
            if label == "default":
                per_op = Counter(calls)
            lines.append(
                f"{label:16} {wall:7.1f} {api:9d} {results:8d} {results / wall:8.1f} {rss.peak / 2**20:11.0f}  "
                f"{project_workers} projects x {tuning.concurrency} calls"
            )
    finally:
        backend.stop()
    lines += [
        "",
        f"speed-up (wall): {walls['concurrency 1'] / walls['default']:.1f}x",
        "",
        "API calls per operation (default run):",
        *[f"  {op:24} {n:6d}" for op, n in per_op.most_common()],
    ]
    report = "\n".join(lines)
    print(report)
    if args.output:
        args.output.write_text(report + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
