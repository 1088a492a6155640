"""Benchmark: drift between two runs of 200,000 findings each.

Generates two realistic runs (S3, EBS, RDS, DynamoDB and KMS findings over
50 accounts x 4 regions, with observed/expected objects and evidence refs as
the collectors write them), the second with 2% of statuses changed, 1% new
and 1% gone resources; writes them with reports.store.findings_bytes. Then,
in a fresh process each (so peak RSS is the measured phase's, not the
generator's), times:

- fast:   load both runs with load_run_findings_fast + compute_drift + to_json (json.dumps)
- models: the same with Finding.from_json (reports.store.load_findings), for comparison

    .venv/bin/python bench/bench_drift.py [--findings 200000] [--keep DIR]

Prints numbers and asserts nothing; the target is <= 5 s for the fast path.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RUN1, RUN2 = "20261201T000000Z-aaaaaa", "20261202T000000Z-bbbbbb"
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


def _finding(run_id: str, i: int, status: str, rng: random.Random):  # -> Finding
    from controls import CheckResult, EvidenceRef, Finding, Status

    check, rtype, service, op, controls = CHECKS[i % len(CHECKS)]
    account = f"{100000000000 + (i // 4000):012d}"
    region = REGIONS[(i // 7) % len(REGIONS)]
    rid = f"arn:aws:{service}:{region}:{account}:{rtype.split('::')[-1].lower()}/dexo-{i:07d}"
    if status == "error":
        observed = {
            "operation": op,
            "error_code": "AccessDenied",
            "message": "User is not authorized to perform this operation",
            "required_permission": f"{service}:{op}",
            "missing_permission": f"{service}:{op}",
        }
    else:
        observed = {
            "encrypted": status == "pass",
            "kms_key_id": f"arn:aws:kms:{region}:{account}:key/{rng.getrandbits(64):016x}",
            "algorithm": "aws:kms" if status == "pass" else None,
            "tags": {"team": "platform", "env": "prod"},
        }
    result = CheckResult(
        check_id=check,
        provider="aws",
        account=account,
        region=region,
        resource_type=rtype,
        resource_id=rid,
        status=Status(status),
        observed=observed,
        expected={"encrypted": True, "allowed_algorithms": ["AES256", "aws:kms", "aws:kms:dsse"]},
        reason=f"{rtype} dexo-{i:07d} is {'encrypted with a KMS key' if status == 'pass' else 'not encrypted'}",
        evidence=(EvidenceRef(f"evidence/aws/{account}/{region}/{service}/{op}.json", f"{rng.getrandbits(256):064x}"),),
    )
    return Finding(run_id, result, controls, tuple(CRITERIA[controls[0]]), "2026-12-01T00:00:00.000000Z")


def generate(out: Path, n: int) -> None:
    from controls.mapping import control_status
    from reports.store import RunWriter

    rng = random.Random(42)
    statuses = ["pass"] * 70 + ["fail"] * 22 + ["error"] * 3 + ["not_applicable"] * 5
    base = [rng.choice(statuses) for _ in range(n)]
    second = list(base)
    changed = rng.sample(range(n), n // 50)  # 2% change status
    for i in changed:
        second[i] = "fail" if base[i] != "fail" else "pass"
    gone = set(rng.sample(range(n), n // 100))  # 1% deleted
    for run_id, stats, ids in (
        (RUN1, base, range(n)),
        (RUN2, second + ["fail"] * (n // 100), [i for i in range(n) if i not in gone] + list(range(n, n + n // 100))),
    ):
        writer = RunWriter.create(out, run_id)
        findings = []
        from collections import Counter

        per: dict[str, Counter[str]] = {c: Counter() for c in CRITERIA}
        for i in ids:
            f = _finding(run_id, i, stats[i], rng)
            findings.append(f)
            per[f.control_ids[0]][stats[i]] += 1
        findings.sort(key=lambda f: (f.result.check_id, f.result.account, f.result.region, f.result.resource_id))
        writer.write_findings(findings)
        writer.write_json(
            "controls.json",
            [
                {"control_id": c, "title": c, "criteria": CRITERIA[c], "status": str(control_status(k)), "counts": k}
                for c, k in per.items()
            ],
        )


def measure(out: Path, mode: str) -> None:
    from reports.drift import compute_drift, load_run_controls, load_run_findings_fast
    from reports.store import load_findings

    r1, r2 = out / "runs" / RUN1, out / "runs" / RUN2
    load = load_run_findings_fast if mode == "fast" else load_findings
    c0 = time.process_time()
    t0 = time.perf_counter()
    a, b = load(r1), load(r2)
    t1 = time.perf_counter()
    drift = compute_drift(a, b, load_run_controls(r1), load_run_controls(r2))
    t2 = time.perf_counter()
    data = json.dumps(drift.to_json(), ensure_ascii=False).encode()
    md = drift.to_markdown()
    t3 = time.perf_counter()
    cpu = time.process_time() - c0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    c = drift.counts()
    print(
        json.dumps(
            {
                "mode": mode,
                "load": t1 - t0,
                "drift": t2 - t1,
                "to_json": t3 - t2,
                "total": t3 - t0,
                "cpu": cpu,
                "peak_mb": peak_mb,
                "findings": [len(a), len(b)],
                "drift_json_mb": len(data) / 1e6,
                "markdown_chars": len(md),
                "counts": c,
            }
        )
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--findings", type=int, default=200_000)
    p.add_argument("--keep", help="write the runs here and keep them")
    p.add_argument("--generate", help=argparse.SUPPRESS)
    p.add_argument("--measure", help=argparse.SUPPRESS)
    p.add_argument("--mode", default="fast", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.generate:
        generate(Path(args.generate), args.findings)
        return
    if args.measure:
        measure(Path(args.measure), args.mode)
        return

    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-drift-"))
    try:
        if not (tmp / "runs" / RUN2 / "findings.jsonl").exists():
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, __file__, "--generate", str(tmp), "--findings", str(args.findings)], check=True
            )
            print(f"generated 2 runs of {args.findings:,} findings in {time.perf_counter() - t0:.1f}s")
        size = sum(f.stat().st_size for f in (tmp / "runs").glob("*/findings.jsonl")) / 2e6
        print(f"findings.jsonl: {size:.0f} MB per run\n")
        print(f"{'mode':8} {'load s':>7} {'drift s':>8} {'json s':>7} {'total s':>8} {'CPU s':>6} {'peak RSS MB':>12}")
        results = []
        for mode in ("fast", "models"):
            proc = subprocess.run(
                [sys.executable, __file__, "--measure", str(tmp), "--mode", mode],
                check=True,
                capture_output=True,
                text=True,
            )
            r = json.loads(proc.stdout)
            results.append(r)
            print(
                f"{mode:8} {r['load']:7.2f} {r['drift']:8.2f} {r['to_json']:7.2f} {r['total']:8.2f} "
                f"{r['cpu']:6.2f} {r['peak_mb']:12.0f}"
            )
        c = results[0]["counts"]
        print(
            f"\ndrift: {c['newly_failing']:,} newly failing, {c['resolved']:,} resolved, {c['new']:,} new, "
            f"{c['gone']:,} gone, {c['status_changes']:,} status changes; "
            f"drift.json {results[0]['drift_json_mb']:.1f} MB"
        )
        print("target: <= 5 s (fast: load_run_findings_fast + compute_drift + to_json); CPU s = user+sys of the phase")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
