"""Benchmark: the auditor's workbook with 200,000 findings, beside a bare xlsxwriter write.

Generates a realistic population (3 controls, S3/EBS/RDS findings over 50
accounts x 4 regions, observed JSON of ~200 characters, evidence refs, 2%
errors, 3% not applicable), then, in a fresh child process per writer (so
each peak RSS is that writer's, on the same input), times:

- workbook:   reports.workbook.write_workbook (openpyxl write-only, every sheet)
- xlsxwriter: the same population rows (same 18 columns, strings, real datetimes,
              frozen header, autofilter; no hyperlinks, row heights or print setup) with
              xlsxwriter in constant_memory mode,
              strings_to_formulas/numbers/urls off: the floor for a streamed XLSX
              writer in Python. The rows are built from the findings inside the timed
              section (compact JSON for observed/expected, joined evidence refs), the
              same work the workbook writer does.

    .venv/bin/python bench/bench_workbook.py [--findings 200000] [--writer both|workbook|xlsxwriter]
                                             [--profile FILE]

Peak RSS is the child's ru_maxrss (input included: same input in both children);
"delta" is the peak minus the RSS after the input was built. Targets: workbook
time <= 1.3x xlsxwriter's, peak RSS <= 400 MB. Prints numbers and a verdict;
asserts nothing (needs `pip install xlsxwriter` for the comparison).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RUN_ID = "20261201T000000Z-aaaaaa"
EVALUATED_AT = "2026-12-01T00:05:00.250000Z"
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1")
CHECKS = (
    ("aws.s3.default_encryption", "AWS::S3::Bucket", "s3", "GetBucketEncryption", "ENC-01"),
    ("aws.ebs.volume_encryption", "AWS::EC2::Volume", "ec2", "DescribeVolumes", "ENC-02"),
    ("aws.rds.storage_encryption", "AWS::RDS::DBInstance", "rds", "DescribeDBInstances", "ENC-03"),
)


def make_findings(n: int) -> list:
    from collectors.registry import specs
    from controls import CheckResult, EvidenceRef, Finding, Status
    from controls.additional import additional_fields

    check_specs = specs()

    out = []
    for i in range(n):
        check, rtype, service, op, control = CHECKS[i % len(CHECKS)]
        account = f"{100000000000 + (i // 4000):012d}"
        region = REGIONS[(i // 7) % len(REGIONS)]
        rid = f"arn:aws:{service}:{region}:{account}:{rtype.split('::')[-1].lower()}/dexo-{i:07d}"
        if i % 50 == 7:
            status = Status.ERROR
            observed = {
                "operation": op,
                "error_code": "AccessDenied",
                "message": "User is not authorized to perform this operation on this resource",
                "missing_permission": f"{service}:{op}",
            }
            reason = f"AccessDenied: {service}:{op}"
        elif i % 33 == 5:
            status, observed, reason = Status.NOT_APPLICABLE, None, "resource is being deleted"
        else:
            status = Status.FAIL if i % 9 == 0 else Status.PASS
            observed = {
                "Encrypted": status == Status.PASS,
                "KmsKeyId": f"arn:aws:kms:{region}:{account}:key/{i:08d}-1111-2222-3333-444455556666",
                "SSEAlgorithm": "aws:kms",
                "BucketKeyEnabled": True,
                "Tags": {"owner": "platform", "env": "prod"},
            }
            reason = "" if status == Status.PASS else "not encrypted with a customer managed key"
        evidence = (
            EvidenceRef(f"evidence/aws/{account}/{region}/{service}/{op}.json", f"{i % 997:064x}"),
            EvidenceRef(f"evidence/aws/{account}/{region}/kms/DescribeKey.json", f"{i % 991:064x}"),
        )
        result = CheckResult(check, "aws", account, region, rtype, rid, status, observed, True, reason, evidence)
        extra = additional_fields(result, check_specs.get(check))  # as a run writes them
        out.append(Finding(RUN_ID, result, (control,), ("CC6.1", "CC6.7"), EVALUATED_AT, extra))
    return out


def make_input(findings: list):
    from collectors.registry import specs
    from controls import ControlResult, ControlStatus, Status
    from reports.workbook import ControlInfo, EvidenceFileInfo, WorkbookInput

    controls = [ControlInfo(c[4], f"{c[1]} encrypted", "", ("CC6.1", "CC6.7"), (c[0],), "daily") for c in CHECKS]
    counts: dict[str, dict[str, int]] = {c.id: {str(s): 0 for s in Status} for c in controls}
    for f in findings:
        counts[f.control_ids[0]][str(f.result.status)] += 1
    results = [ControlResult(c.id, c.title, c.criteria, ControlStatus.DEFICIENT, counts[c.id]) for c in controls]
    files = sorted({e.path: e.sha256 for f in findings for e in f.result.evidence}.items())
    evidence = [
        EvidenceFileInfo(p, "aws", p.split("/")[2], p.split("/")[3], p.split("/")[4], "Op", "", 1, 0, h, EVALUATED_AT)
        for p, h in files
    ]
    return WorkbookInput(
        organization="Dexo",
        period_start=date(2026, 1, 1),
        period_end=date(2026, 12, 1),
        run_id=RUN_ID,
        started_at=datetime(2026, 12, 1, tzinfo=UTC),
        finished_at=datetime(2026, 12, 1, 0, 10, tzinfo=UTC),
        tool_version="bench",
        config_sha256="c" * 64,
        scope={"aws_accounts": [], "gcp_projects": [], "endpoints": []},
        callers={},
        controls=controls,
        control_results=results,
        checks=specs(),
        findings=findings,
        evidence_files=evidence,
    )


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def write_xlsxwriter(path: Path, data) -> None:
    import xlsxwriter

    from reports.workbook import POPULATION_HEADERS

    options = {
        "constant_memory": True,
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
    }
    wb = xlsxwriter.Workbook(str(path), options)
    bold = wb.add_format({"bold": True})
    dt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    specs = data.checks
    by_control: dict[str, list] = {}
    for f in data.findings:
        for cid in f.control_ids:
            by_control.setdefault(cid, []).append(f)

    def compact(v):
        return v if v is None or isinstance(v, str) else json.dumps(v, separators=(",", ":"), ensure_ascii=False)

    for cid, population in by_control.items():
        ws = wb.add_worksheet(cid)
        ws.freeze_panes(1, 0)
        for c, h in enumerate(POPULATION_HEADERS):
            ws.write_string(0, c, h, bold)
        n = 0
        for n, f in enumerate(population, 1):
            r = f.result
            spec = specs.get(r.check_id)
            extra = f.additional
            row = (  # POPULATION_HEADERS order, every value as text (the floor: no links, no row heights)
                r.account,
                r.region,
                r.resource_id,
                r.check_id,
                str(spec.severity) if spec else "",
                str(r.status),
                compact(r.observed),
                compact(r.expected),
                r.reason,
                "; ".join(e.path for e in r.evidence),
                r.resource_type,
                spec.title if spec else "",
            )
            for c, v in enumerate(row):
                if v:
                    ws.write_string(n, c, v)
            ws.write_datetime(n, 12, datetime.fromisoformat(f.evaluated_at).replace(tzinfo=None), dt)
            ws.write_string(n, 13, "; ".join(e.sha256 for e in r.evidence))
            for c, key in enumerate(("remediation", "resource_arn", "console_url", "finding_id"), 14):
                if extra.get(key):
                    ws.write_string(n, c, extra[key])
        ws.autofilter(0, 0, n, len(POPULATION_HEADERS) - 1)
    wb.close()


def child(writer: str, n: int, profile: str | None) -> dict:
    import collectors.registry  # noqa: F401  (the imports, before the input is built)
    import reports.workbook  # noqa: F401

    if writer == "xlsxwriter":
        import xlsxwriter  # noqa: F401
    imports_mb = rss_mb()
    findings = make_findings(n)
    data = make_input(findings)
    base = rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wb.xlsx"
        if writer == "workbook":
            from reports.workbook import write_workbook

            def run() -> None:
                write_workbook(path, data)
        else:

            def run() -> None:
                write_xlsxwriter(path, data)

        start, cpu = time.perf_counter(), time.process_time()
        if profile:
            import cProfile

            cProfile.runctx("run()", globals(), {"run": run}, profile)
        else:
            run()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        size = path.stat().st_size
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "writer": writer,
        "seconds": seconds,
        "cpu": cpu,
        "peak_mb": peak,
        "base_mb": base,
        "imports_mb": imports_mb,
        "size_mb": size / 1e6,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--findings", type=int, default=200_000)
    ap.add_argument("--writer", choices=("both", "workbook", "xlsxwriter"), default="both")
    ap.add_argument("--profile", help="write a cProfile of the workbook writer to this file")
    ap.add_argument("--repeat", type=int, default=1, help="runs per writer, alternating; the best is kept")
    ap.add_argument("--child", choices=("workbook", "xlsxwriter"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.findings, args.profile)))
        return
    writers = ("workbook", "xlsxwriter") if args.writer == "both" else (args.writer,)
    got: dict[str, dict] = {}
    for _ in range(args.repeat):
        for w in writers:
            cmd = [sys.executable, __file__, "--child", w, "--findings", str(args.findings)]
            if args.profile and w == "workbook":
                cmd += ["--profile", args.profile]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            g = json.loads(out.strip().splitlines()[-1])
            print(
                f"{w:<11} {args.findings:,} findings: {g['seconds']:6.2f} s wall, {g['cpu']:6.2f} s CPU, "
                f"peak RSS {g['peak_mb']:4.0f} MB (imports {g['imports_mb']:.0f} MB, input "
                f"{g['base_mb'] - g['imports_mb']:.0f} MB, writer {g['peak_mb'] - g['base_mb']:.0f} MB), "
                f"file {g['size_mb']:.1f} MB"
            )
            if w not in got or g["cpu"] < got[w]["cpu"]:
                got[w] = g
    if len(got) == 2:
        wall = got["workbook"]["seconds"] / got["xlsxwriter"]["seconds"]
        cpu = got["workbook"]["cpu"] / got["xlsxwriter"]["cpu"]
        print(f"workbook / xlsxwriter: {cpu:.2f}x CPU time, {wall:.2f}x wall time (target <= 1.3x)")
    if "workbook" in got:
        g = got["workbook"]
        ok = g["peak_mb"] <= 400
        print(
            f"workbook peak RSS {g['peak_mb']:.0f} MB {'within' if ok else 'ABOVE'} 400 MB "
            f"(of which the writer: {g['peak_mb'] - g['base_mb']:.0f} MB)"
        )


if __name__ == "__main__":
    main()
