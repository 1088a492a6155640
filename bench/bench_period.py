"""Benchmark: the period report over 52 weekly runs of 50,000 findings each (a year of runs).

Generates the runs as `soc2-evidence run` writes them (findings.jsonl in the contract's field
order and separators, controls.json, the built-in catalog, a manifest with its evidence list and
the hash chain), with a realistic churn: about 5% of resources failing at any time in episodes
of a few weeks, a tenth of failures under an approved exception, 0.5% not assessed each run,
0.2% of resources absent in any one run, and one missed week. Then, in a fresh process (so
peak RSS is the report's, not the generator's), times reports.period.period_report: reading
every manifest and controls.json, streaming every findings.jsonl once, and writing the workbook.

    .venv/bin/python bench/bench_period.py [--runs 52] [--findings 50000] [--keep DIR]

Prints numbers and asserts nothing; the target is a peak RSS <= 500 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FIRST = date(2026, 1, 5)
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1")
CHECKS = (
    ("aws.s3.default_encryption", "AWS::S3::Bucket", "s3", "GetBucketEncryption", ("ENC-01",)),
    ("aws.s3.public_access_block", "AWS::S3::Bucket", "s3", "GetPublicAccessBlock", ("NET-01",)),
    ("aws.ebs.volume_encryption", "AWS::EC2::Volume", "ebs", "DescribeVolumes", ("ENC-01",)),
    ("aws.rds.storage_encryption", "AWS::RDS::DBInstance", "rds", "DescribeDBInstances", ("ENC-01",)),
    ("aws.dynamodb.encryption", "AWS::DynamoDB::Table", "dynamodb", "DescribeTable", ("ENC-01",)),
    ("aws.kms.key_rotation", "AWS::KMS::Key", "kms", "GetKeyRotationStatus", ("ENC-02",)),
)
CRITERIA = {"ENC-01": ["CC6.1", "CC6.7", "C1.1"], "ENC-02": ["CC6.1"], "NET-01": ["CC6.1", "CC6.6"]}
MISSED_WEEK = 20  # no run that week (a gap); with --runs below 20, none is missed


def _status(i: int, week: int) -> str | None:
    """Deterministic churn: None when the resource is absent from this run."""
    if (i * 31 + week) % 500 == 0:
        return None
    if (i + week) % 200 == 0:
        return "error"
    block = (week + i % 4) // 4  # a resource's state holds for 4 weeks, phases staggered
    if (i * 7919 + block * 104729) % 100 < 5:
        return "excepted" if i % 10 == 0 else "fail"
    return "pass"


def _line(run_id: str, i: int, status: str, evaluated_at: str) -> str:
    check, rtype, service, op, controls = CHECKS[i % len(CHECKS)]
    account = f"{100000000000 + (i // 2000):012d}"
    region = REGIONS[(i // 7) % len(REGIONS)]
    rid = f"arn:aws:{service}:{region}:{account}:{rtype.split('::')[-1].lower()}/dexo-{i:07d}"
    ok = status == "pass"
    reason = f"{rtype} dexo-{i:07d} is {'encrypted with a KMS key' if ok else 'not encrypted'}"
    if status == "excepted":
        reason += " — excepted: SEC-42, approved by ciso@dexo.chat on 2026-01-02, expires 2026-12-31"
    evidence_path = f"evidence/aws/{account}/{region}/{service}/{op}.json"
    row = {
        "run_id": run_id,
        "check_id": check,
        "control_ids": list(controls),
        "criteria": CRITERIA[controls[0]],
        "provider": "aws",
        "account": account,
        "region": region,
        "resource_type": rtype,
        "resource_id": rid,
        "status": status,
        "observed": {"algorithm": "aws:kms" if ok else None, "encrypted": ok, "tags": {"env": "prod"}},
        "expected": {"allowed_algorithms": ["AES256", "aws:kms"], "encrypted": True},
        "reason": reason,
        "evidence": [{"path": evidence_path, "sha256": hashlib.sha256(evidence_path.encode()).hexdigest()}],
        "evaluated_at": evaluated_at,
    }
    return json.dumps(row, ensure_ascii=False)


def generate(out: Path, runs: int, n: int) -> None:
    from controls.mapping import control_status
    from reports.atomic import sha256_file
    from reports.store import RunWriter

    catalog = resources.files("controls").joinpath("data/catalog.yaml").read_bytes()
    previous: tuple[str, str] | None = None
    for week in range(runs + 1):
        if week == MISSED_WEEK:
            continue
        started = datetime(FIRST.year, FIRST.month, FIRST.day, 6, tzinfo=UTC) + timedelta(weeks=week)
        run_id = f"{started:%Y%m%dT%H%M%SZ}-{week:06x}"
        stamp = started.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        writer = RunWriter.create(out, run_id)
        per: dict[str, Counter[str]] = {c: Counter() for c in CRITERIA}
        lines = []
        for i in range(n):
            status = _status(i, week)
            if status is None:
                continue
            lines.append(_line(run_id, i, status, stamp))
            per[CHECKS[i % len(CHECKS)][4][0]][status] += 1
        findings = writer.write_raw("findings.jsonl", ("\n".join(lines) + "\n").encode())
        controls = writer.write_json(
            "controls.json",
            [
                {"control_id": c, "title": c, "criteria": CRITERIA[c], "status": str(control_status(k)), "counts": k}
                for c, k in per.items()
            ],
        )
        cat = writer.write_raw("catalog.yaml", catalog)
        evidence = [
            {"path": f"evidence/aws/{100000000000 + a:012d}/{r}/{c[2]}/{c[3]}.json", "sha256": f"{a:064x}"}
            for a in range(n // 2000 + 1)
            for r in REGIONS
            for c in CHECKS
        ]
        manifest = {
            "schema": 1,
            "run_id": run_id,
            "status": "completed",
            "organization": "Dexo.chat",
            "started_at": stamp,
            "finished_at": stamp,
            "period": {"start": str(FIRST), "end": str(FIRST + timedelta(weeks=runs + 1) - timedelta(days=1))},
            "catalog": {"source": "built-in catalog", "path": cat.path, "sha256": cat.sha256},
            "evidence": evidence,
            "outputs": {"findings": findings.to_json(), "controls": controls.to_json()},
            "previous_run": previous[0] if previous else None,
            "previous_manifest_sha256": previous[1] if previous else None,
        }
        writer.write_manifest(manifest)
        previous = (run_id, sha256_file(writer.path / "manifest.json"))


def measure(out: Path, runs: int) -> None:
    from _common import PeakRss

    from reports.period import load_timeline, period_workbook_name, scan, write_period_workbook

    last = FIRST + timedelta(weeks=runs + 1) - timedelta(days=1)  # the runs and the missed week
    now = datetime(2027, 6, 1, tzinfo=UTC)
    cpu0 = time.process_time()
    with PeakRss() as peak:
        t0 = time.perf_counter()
        timeline = load_timeline(out, FIRST, last, timedelta(days=7), now=now)
        t1 = time.perf_counter()
        scanned = scan(timeline)
        t2 = time.perf_counter()
        path = out / period_workbook_name("Dexo.chat", timeline)
        write_period_workbook(path, "Dexo.chat", timeline, scanned, written_at=now)
        t3 = time.perf_counter()
    findings = sum(c.findings for c in scanned.counts.values())
    print(
        json.dumps(
            {
                "timeline": t1 - t0,
                "scan": t2 - t1,
                "write": t3 - t2,
                "total": t3 - t0,
                "cpu": time.process_time() - cpu0,
                "peak_mb": peak.peak / 2**20,
                "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "runs": len(timeline.runs),
                "gaps": len(timeline.gaps),
                "findings": findings,
                "episodes": len(scanned.episodes),
                "workbook_mb": path.stat().st_size / 1e6,
                "chain_problems": len(timeline.chain_problems()),
            }
        )
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=52)
    p.add_argument("--findings", type=int, default=50_000)
    p.add_argument("--keep", help="write the runs here and keep them")
    p.add_argument("--generate", help=argparse.SUPPRESS)
    p.add_argument("--measure", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.generate:
        generate(Path(args.generate), args.runs, args.findings)
        return
    if args.measure:
        measure(Path(args.measure), args.runs)
        return
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-period-"))
    try:
        if not (tmp / "runs").is_dir():
            t0 = time.perf_counter()
            cmd = [sys.executable, __file__, "--generate", str(tmp), "--runs", str(args.runs)]
            subprocess.run([*cmd, "--findings", str(args.findings)], check=True)
            print(f"generated {args.runs} weekly runs (one missed) in {time.perf_counter() - t0:.0f}s")
        size = sum(f.stat().st_size for f in (tmp / "runs").glob("*/findings.jsonl")) / 1e6
        print(f"findings.jsonl: {size:.0f} MB in all\n")
        proc = subprocess.run(
            [sys.executable, __file__, "--measure", str(tmp), "--runs", str(args.runs)],
            check=True,
            capture_output=True,
            text=True,
        )
        r = json.loads(proc.stdout)
        print(
            f"{'runs':>5} {'findings':>10} {'episodes':>9} {'load s':>7} {'scan s':>7} {'write s':>8} {'wall s':>7} "
            f"{'CPU s':>6} {'peak RSS MB':>12}"
        )
        print(
            f"{r['runs']:5d} {r['findings']:10,d} {r['episodes']:9,d} {r['timeline']:7.2f} {r['scan']:7.2f} "
            f"{r['write']:8.2f} {r['total']:7.2f} {r['cpu']:6.1f} {r['peak_mb']:12.0f}"
        )
        print(
            f"\ngaps {r['gaps']}, chain problems {r['chain_problems']}, workbook {r['workbook_mb']:.1f} MB; "
            f"ru_maxrss {r['maxrss_mb']:.0f} MB; target: peak RSS <= 500 MB"
        )
        print(
            f"CPU s = user+sys of the measured process: wall time stretches with the machine's load (load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs now)"
        )
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
