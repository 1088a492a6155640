"""The real flow against moto's server over HTTP: Organizations discovery,
assumed roles in three accounts, two regions, every encryption-at-rest check;
then the outputs read back (findings, manifest, workbook) and re-evaluated."""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from collectors.registry import checks
from demo.emulators import MotoEmulator
from demo.estate import DemoEstate, seed_demo_estate
from demo.moto_wsgi import FaultRule
from demo.run import write_demo_config
from demo.tls_servers import DemoEndpoints, start_demo_endpoints
from flows.evaluate import reevaluate
from flows.finish import RunOutcome
from flows.run import run_evidence
from reports.atomic import sha256_file

pytestmark = pytest.mark.integration

# every registered AWS check: a new collector is covered by these tests as it lands
AWS_CHECKS = {cid for cid, c in checks().items() if c.spec.provider == "aws"}


@pytest.fixture(scope="module")
def endpoints(tmp_path_factory: pytest.TempPathFactory):
    with start_demo_endpoints(tmp_path_factory.mktemp("ca")) as running:
        yield running


@pytest.fixture(scope="module")
def estate(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory):
    with MotoEmulator() as moto, moto.use_env():
        yield moto, seed_demo_estate(moto.endpoint_url), tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def clean_run(estate: tuple[MotoEmulator, DemoEstate, Path], endpoints: DemoEndpoints) -> RunOutcome:
    _, demo, out = estate
    config = write_demo_config(demo, out / "clean", endpoints, workload_regions_only=True)
    return run_evidence(config)


def test_live_tls_endpoints_are_scanned_through_the_flow(clean_run: RunOutcome, endpoints: DemoEndpoints) -> None:
    results = [f.result for f in clean_run.findings if f.result.provider == "endpoint"]
    labels = {t.label for t in endpoints.targets}
    assert {r.account for r in results} == labels
    failing: dict[str, set[str]] = {}
    for r in results:
        assert r.status != "error", r.reason
        if r.status == "fail":
            failing.setdefault(r.check_id, set()).add(r.resource_id)
    assert failing == {k: set(v) for k, v in endpoints.expected_failures.items() if v}
    ciphers = next(r for r in results if r.check_id == "endpoint.tls.ciphers" and r.resource_id.startswith("app."))
    assert 0 < ciphers.observed["share_256_bit"] <= 1


def by_status(outcome: RunOutcome) -> Counter[str]:
    return Counter(str(f.result.status) for f in outcome.findings)


def test_every_account_region_and_check_is_assessed(clean_run: RunOutcome, estate) -> None:
    _, demo, _ = estate
    accounts = {f.result.account for f in clean_run.findings if f.result.provider == "aws"}
    assert accounts == set(demo.accounts.values())
    assert {f.result.check_id for f in clean_run.findings if f.result.provider == "aws"} == AWS_CHECKS
    # every enabled region of every account (discovered: no aws.regions) but those excluded with a reason
    scope = clean_run.manifest["scope"]["aws_accounts"]
    examined = {(a["id"], r) for a in scope for r in a["regions"]}
    assert examined == {(a, r) for a in demo.accounts.values() for r in ("us-east-1", "eu-west-1")}
    for account in scope:
        assert account["regions_basis"] == "enabled"
        skipped = {s["region"]: s["why"] for s in account["regions_not_examined"]}
        assert set(skipped) | set(account["regions"]) == set(account["regions_enabled"])
        assert skipped["af-south-1"].startswith("excluded: No workloads")
    for check in ("aws.ebs.default_encryption",):
        regions = {(f.result.account, f.result.region) for f in clean_run.findings if f.result.check_id == check}
        assert regions == examined
    coverage = [f for f in clean_run.findings if f.result.check_id == "aws.scope.region_coverage"]
    assert {
        (f.result.account, f.result.region) for f in coverage if "examined by this run" in f.result.reason
    } == examined
    assert {str(f.result.status) for f in coverage} == {"pass"}
    assert len(coverage) == sum(len(a["regions_enabled"]) for a in scope)  # the excluded ones pass with their reason
    counts = by_status(clean_run)
    assert counts["pass"] > 0 and counts["fail"] > 0
    assert counts["error"] == 0, [f.result.reason for f in clean_run.findings if f.result.status == "error"]


def test_seeded_non_compliant_resources_fail_and_others_pass(clean_run: RunOutcome, estate) -> None:
    _, demo, _ = estate
    failing: dict[str, set[str]] = {}
    for f in clean_run.findings:
        if f.result.status in ("fail", "excepted"):  # an excepted fail is still a fail, shown as such
            failing.setdefault(f.result.check_id, set()).add(f.result.resource_id)
    for check_id, bad in demo.expected["non_compliant"].items():
        assert set(bad) <= failing.get(check_id, set()), check_id
    # a compliant bucket passes the encryption check
    passing = {
        f.result.resource_id
        for f in clean_run.findings
        if f.result.check_id == "aws.s3.default_encryption" and f.result.status == "pass"
    }
    assert passing, "some buckets are encrypted in the demo estate"


def test_approved_exception_excepts_its_fail_and_an_expired_one_does_not(clean_run: RunOutcome) -> None:
    enc = {
        f.result.resource_id: f.result for f in clean_run.findings if f.result.check_id == "aws.s3.default_encryption"
    }
    assert enc["dexo-staging-scratch"].status == "excepted"
    assert "SEC-142" in enc["dexo-staging-scratch"].reason
    assert enc["dexo-mgmt-eu-athena-results"].status == "fail", "an expired exception no longer applies"
    report = clean_run.manifest["exceptions"]["report"]
    statuses = {u["ticket"]: u["status"] for u in report["exceptions"]}
    assert statuses == {"SEC-142": "active", "SEC-97": "expired"}
    wb = openpyxl.load_workbook(clean_run.workbook, read_only=True)
    rows = list(wb["Exceptions"].iter_rows(values_only=True))
    assert rows[0][0] == "Exception" and {r[1] for r in rows[1:]} == {"SEC-142", "SEC-97"}
    commitments = {r[0]: r[5] for r in wb["Commitments"].iter_rows(min_row=2, values_only=True)}
    assert commitments["PP-5-REST"] == "contradicted" and commitments["PP-5-AUDITS"] == "not automated"


def test_findings_file_follows_the_contract(clean_run: RunOutcome) -> None:
    lines = (clean_run.run_dir / "findings.jsonl").read_text().splitlines()
    assert len(lines) == len(clean_run.findings)
    first = json.loads(lines[0])
    assert list(first) == [
        "run_id",
        "check_id",
        "control_ids",
        "criteria",
        "provider",
        "account",
        "region",
        "resource_type",
        "resource_id",
        "status",
        "observed",
        "expected",
        "reason",
        "evidence",
        "evaluated_at",
        "additional",  # what to do about it, last (controls.additional)
    ]
    specs_by_id = {cid: c.spec for cid, c in checks().items()}
    for line in lines:
        row = json.loads(line)
        assert row["run_id"] == clean_run.run_id
        extra = row["additional"]
        assert list(extra) == ["finding_id", "severity", "resource_arn", "console_url", "remediation"]
        assert extra["severity"] == str(specs_by_id[row["check_id"]].severity)
        assert extra["remediation"] == specs_by_id[row["check_id"]].remediation
        assert len(extra["finding_id"]) == 32
        assert row["evaluated_at"].endswith("Z")
        assert row["control_ids"], row["check_id"]
        for ev in row["evidence"]:
            assert sha256_file(clean_run.run_dir / ev["path"]) == ev["sha256"]
    ids = [json.loads(line)["additional"]["finding_id"] for line in lines]
    assert len(set(ids)) == len(ids)  # one per (check, resource)
    s3 = [json.loads(line) for line in lines if json.loads(line)["resource_type"] == "AWS::S3::Bucket"]
    assert s3 and all(r["additional"]["resource_arn"] == f"arn:aws:s3:::{r['resource_id']}" for r in s3)
    assert all(r["additional"]["console_url"].startswith("https://s3.console.aws.amazon.com/s3/buckets/") for r in s3)
    manifest = json.loads((clean_run.run_dir / "manifest.json").read_text())
    assert manifest["findings_schema"] == 2
    assert manifest["endpoints"]["emulated"] is True  # a run against moto says so
    assert manifest["endpoints"]["aws"]["endpoint_url"].startswith("http://127.0.0.1:")
    listed = {(p["listing"], p["account"], p["region"]): p["listed"] for p in manifest["populations"]}
    assert listed and all(n is not None for n in listed.values())


def test_manifest_hashes_every_file_and_records_identity(clean_run: RunOutcome, estate) -> None:
    _, demo, _ = estate
    m = json.loads((clean_run.run_dir / "manifest.json").read_text())
    assert m["status"] == "completed" and m["organization"] == demo.organization
    for entry in m["evidence"]:
        assert sha256_file(clean_run.run_dir / entry["path"]) == entry["sha256"]
        assert entry["records"] >= 1
    assert sha256_file(clean_run.run_dir / "findings.jsonl") == m["outputs"]["findings"]["sha256"]
    assert sha256_file(clean_run.workbook) == m["outputs"]["workbook"]["sha256"]
    for account in demo.accounts.values():
        assert m["callers"][account].startswith(f"arn:aws:sts::{account}:assumed-role/{demo.role_name}/")
    assert {c["status"] for c in m["collectors"]} == {"ok"}
    assert m["prefect"]["flow_run_id"]
    assert m["config_sha256"] and len(m["config_sha256"]) == 64
    # the ListAccounts answer itself is evidence
    assert any(e["operation"] == "ListAccounts" for e in m["evidence"])


def test_evaluate_reproduces_findings_from_stored_evidence(clean_run: RunOutcome) -> None:
    again = reevaluate(clean_run.run_dir)
    assert again.problems == [] and again.differences == []
    assert again.identical


def test_evaluate_reproduces_a_run_written_before_findings_had_additional(
    clean_run: RunOutcome, tmp_path: Path
) -> None:
    """A run from before `additional` (no findings_schema in its manifest) re-evaluates to its own bytes."""
    import shutil

    old = tmp_path / "runs" / clean_run.run_id
    shutil.copytree(clean_run.run_dir, old)
    lines = [json.loads(line) for line in (old / "findings.jsonl").read_text().splitlines()]
    for row in lines:
        del row["additional"]
    (old / "findings.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines))
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["findings_schema"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    again = reevaluate(old)
    assert again.identical, again.differences[:5]
    assert all(not f.additional for f in again.findings)


def test_evaluate_detects_tampered_evidence(clean_run: RunOutcome, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / clean_run.run_id
    shutil.copytree(clean_run.run_dir, copy)
    target = next(p for p in (copy / "evidence").rglob("GetBucketEncryption.json"))
    payload = json.loads(target.read_text())
    for call in payload["calls"]:
        call["error"] = None
        call["response"] = {
            "ServerSideEncryptionConfiguration": {
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            }
        }
    target.write_text(json.dumps(payload))
    again = reevaluate(copy)
    assert not again.identical
    assert any("GetBucketEncryption.json: SHA-256 differs" in p for p in again.problems)


def _copy_run(clean_run: RunOutcome, tmp_path: Path) -> Path:
    import shutil

    copy = tmp_path / "runs" / clean_run.run_id
    shutil.copytree(clean_run.run_dir, copy)
    return copy


def test_evaluate_never_follows_an_evidence_symlink_out_of_the_run(
    clean_run: RunOutcome, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from flows.cli import main

    copy = _copy_run(clean_run, tmp_path)
    target = next(p for p in (copy / "evidence").rglob("GetBucketEncryption.json"))
    outside = tmp_path / "elsewhere.json"
    outside.write_bytes(target.read_bytes())  # same bytes, same hash: only the link is wrong
    target.unlink()
    target.symlink_to(outside)
    again = reevaluate(copy)
    rel = target.relative_to(copy).as_posix()
    assert f"{rel}: a symlink or outside the run directory (not followed)" in again.problems
    assert not again.identical
    assert main(["evaluate", str(copy)]) == 1
    out = capsys.readouterr()
    assert "integrity:" in out.out and "internal error" not in out.err


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[: len(b) // 2], id="truncated"),
        pytest.param(lambda b: b"\xff\xfe" + b, id="not-utf8"),
    ],
)
def test_evaluate_reports_a_damaged_findings_file_as_integrity(
    clean_run: RunOutcome, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage
) -> None:
    from flows.cli import main

    copy = _copy_run(clean_run, tmp_path)
    findings = copy / "findings.jsonl"
    findings.write_bytes(damage(findings.read_bytes()))
    again = reevaluate(copy)
    assert not again.identical
    assert any("findings.jsonl line" in d and "not a finding" in d for d in again.differences)
    assert main(["evaluate", str(copy)]) == 1
    assert "internal error" not in capsys.readouterr().err


def test_evaluate_reports_a_damaged_evidence_file_as_integrity(clean_run: RunOutcome, tmp_path: Path) -> None:
    copy = _copy_run(clean_run, tmp_path)
    target = next(p for p in (copy / "evidence").rglob("ListBuckets.json"))
    target.write_bytes(target.read_bytes()[:40])
    again = reevaluate(copy)
    rel = target.relative_to(copy).as_posix()
    assert any(p.startswith(f"{rel}: not an evidence file") for p in again.problems)
    assert f"{rel}: SHA-256 differs from the manifest" in again.problems


@pytest.mark.parametrize("body", ["[]", '"text"', "null", '{"run_id": 1'])
def test_a_manifest_that_is_not_an_object_never_sinks_later_commands(
    clean_run: RunOutcome, tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str
) -> None:
    from flows.cli import main

    output = tmp_path
    good = _copy_run(clean_run, tmp_path)
    bad = output / "runs" / "20260101T000000Z-bad000"
    (bad / "evidence").mkdir(parents=True)
    (bad / "manifest.json").write_text(body)
    assert main(["history", "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert bad.name in out and "unreadable" in out
    assert main(["drift", "--output", str(output)]) in (0, 3)
    assert "internal error" not in capsys.readouterr().err
    assert main(["evaluate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "manifest.json" in err and "internal error" not in err
    assert reevaluate(good).identical


def test_workbook_content(clean_run: RunOutcome) -> None:
    wb = openpyxl.load_workbook(clean_run.workbook)
    names = wb.sheetnames
    assert names[0] == "Cover" and names[1] == "Summary"
    assert {"ENC-01", "ENC-02", "NET-01", "Errors", "Evidence index"} <= set(names)
    summary = pd.read_excel(clean_run.workbook, sheet_name="Summary")
    by_id = {r["Control ID"]: r for r in summary.to_dict("records")}
    for ctl in clean_run.controls:
        row = by_id[ctl.control_id]
        assert row["Status"] == str(ctl.status)
        assert row["Fail"] == ctl.counts["fail"] and row["Pass"] == ctl.counts["pass"]
    enc = pd.read_excel(clean_run.workbook, sheet_name="ENC-01")
    expected_rows = sum(1 for f in clean_run.findings if "ENC-01" in f.control_ids)
    header_row = enc.index[enc.iloc[:, 0] == "Account"]
    if len(header_row):  # a title block above the table
        enc = pd.read_excel(clean_run.workbook, sheet_name="ENC-01", header=int(header_row[0]) + 1)
    assert len(enc) == expected_rows
    index = pd.read_excel(clean_run.workbook, sheet_name="Evidence index")
    assert len(index) == len(json.loads((clean_run.run_dir / "manifest.json").read_text())["evidence"])


def test_privileged_access_sheet_lists_the_demo_admins(clean_run: RunOutcome, estate) -> None:
    """Every role and user the demo seeds as a failing admin is a failing row (fail first), with its path."""
    _, demo, _ = estate
    wb = openpyxl.load_workbook(clean_run.workbook)
    assert wb.sheetnames.index("Privileged access") == wb.sheetnames.index("Populations") + 1
    rows = pd.read_excel(clean_run.workbook, sheet_name="Privileged access").fillna("").to_dict("records")
    failing = {r["Principal"] for r in rows if r["Status"] == "fail"}
    failing |= {r["Principal ARN / ID"] for r in rows if r["Status"] == "fail"}
    for check in ("aws.iam.privileged_roles", "aws.iam.privileged_users"):
        assert set(demo.expected["non_compliant"][check]) <= failing, check
    statuses = [r["Status"] for r in rows]
    assert statuses == sorted(statuses, key=lambda s: s != "fail") and "pass" in statuses  # approved admins too
    assert all(r["Privilege"] and r["Granted through"] and r["Evidence file"] for r in rows)


def test_hostile_cloud_text_is_never_a_formula(clean_run: RunOutcome, estate) -> None:
    _, demo, _ = estate
    hostile = demo.expected["hostile_text"]
    with zipfile.ZipFile(clean_run.workbook) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/")]
        xml = "".join(z.read(n).decode() for n in sheets)
        shared = z.read("xl/sharedStrings.xml").decode() if "xl/sharedStrings.xml" in z.namelist() else ""
    assert "<f>" not in xml and "<f " not in xml
    wb = openpyxl.load_workbook(clean_run.workbook)
    seen = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    for text in hostile:
                        # as plain text, or inside the Observed column's JSON
                        if text in cell.value or json.dumps(text)[1:-1] in cell.value:
                            seen.add(text)
    assert seen == set(hostile), f"hostile strings should be visible as text: {set(hostile) - seen}"
    _ = shared


@pytest.fixture(scope="module")
def faulty_run(estate, clean_run: RunOutcome) -> RunOutcome:
    moto, demo, out = estate
    staging_role = f"arn:aws:iam::{demo.accounts['staging']}:role/{demo.role_name}"
    bucket = demo.expected["probe_bucket"]
    moto.add_fault(FaultRule("AssumeRole", match=staging_role))
    moto.add_fault(FaultRule("GetBucketEncryption", match=bucket))
    try:
        return run_evidence(write_demo_config(demo, out / "faulty", workload_regions_only=True))
    finally:
        moto.clear_faults()


def test_unassumable_account_is_error_with_permission_and_others_complete(
    faulty_run: RunOutcome, clean_run: RunOutcome, estate
) -> None:
    _, demo, _ = estate
    staging = demo.accounts["staging"]
    st = [f for f in faulty_run.findings if f.result.account == staging]
    assert st and {str(f.result.status) for f in st} == {"error"}
    # every check of an account: its AWS checks and its access-review checks (Identity Center is read once,
    # in the management account that the demo config names in aws.identity_center)
    account_checks = {
        cid for cid, c in checks().items() if c.spec.provider in ("aws", "access_review") and c.collector != "aws.sso"
    }
    assert {f.result.check_id for f in st} == account_checks
    for f in st:
        assert f.result.observed["missing_permission"] == "sts:AssumeRole"
        assert "AccessDenied" in f.result.reason

    # other accounts: same population as the clean run
    def others(o: RunOutcome) -> set[tuple[str, str, str]]:
        return {
            (f.result.check_id, f.result.account, f.result.resource_id)
            for f in o.findings
            if f.result.account != staging and f.result.provider == "aws"
        }

    assert others(faulty_run) == others(clean_run)
    m = json.loads((faulty_run.run_dir / "manifest.json").read_text())
    assert m["callers"][staging].startswith("error: AccessDenied")


def test_access_denied_on_one_bucket_is_error_naming_the_permission(faulty_run: RunOutcome, estate) -> None:
    _, demo, _ = estate
    bucket = demo.expected["probe_bucket"]
    rows = [
        f
        for f in faulty_run.findings
        if f.result.check_id == "aws.s3.default_encryption" and f.result.resource_id == bucket
    ]
    assert len(rows) == 1
    r = rows[0].result
    assert r.status == "error"
    assert r.observed["missing_permission"] == "s3:GetEncryptionConfiguration"
    assert "s3:GetEncryptionConfiguration" in r.reason
    wb = openpyxl.load_workbook(faulty_run.workbook, read_only=True)
    errors = [row for row in wb["Errors"].iter_rows(values_only=True)]
    assert any(bucket in map(str, row) and "s3:GetEncryptionConfiguration" in map(str, row) for row in errors)


def test_faulty_run_is_also_reproducible(faulty_run: RunOutcome) -> None:
    assert reevaluate(faulty_run.run_dir).identical


def test_a_crashed_run_leaves_no_manifest_or_workbook_and_is_never_a_baseline(
    estate, clean_run: RunOutcome, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reports.store import completed_runs

    _, demo, out = estate
    config = write_demo_config(demo, out / "crash", workload_regions_only=True)
    first = run_evidence(config)

    import dataclasses

    from controls import CheckResult, Finding, Status
    from reports import workbook

    real_writer = workbook.write_workbook

    def die_midway(path: Path, data: workbook.WorkbookInput) -> None:
        # a finding the writer cannot serialise, late in the population: the
        # real writer fails after it has written several sheets
        poison = Finding(
            data.run_id,
            CheckResult("aws.kms.key_rotation", "aws", "1", "r", "T", "zzz", Status.FAIL, object(), {}, ""),
            ("ENC-02",),
            ("CC6.1",),
            "2026-01-01T00:00:00Z",
        )
        real_writer(path, dataclasses.replace(data, findings=[*data.findings, poison]))

    monkeypatch.setattr("flows.report.write_workbook", die_midway)
    with pytest.raises(TypeError):
        run_evidence(config)
    monkeypatch.undo()
    crashed = [p for p in (out / "crash" / "runs").iterdir() if p.name != first.run_id]
    assert len(crashed) == 1
    assert not (crashed[0] / "manifest.json").exists()
    assert not list(crashed[0].glob("*.xlsx")) and not list(crashed[0].glob(".*.tmp"))
    assert [r.run_id for r in completed_runs(out / "crash")] == [first.run_id]
    third = run_evidence(config)
    assert third.manifest["previous_run"] == first.run_id
    assert third.manifest["previous_manifest_sha256"] == sha256_file(first.run_dir / "manifest.json")


def test_endpoint_discovery_scans_what_the_cloud_exposes_and_unreachable_is_error(estate) -> None:
    import yaml

    _, demo, out = estate
    path = write_demo_config(demo, out / "discover", workload_regions_only=True)
    config = yaml.safe_load(path.read_text())
    config["endpoints"] = {"discover": True, "timeout_seconds": 2}
    path.write_text(yaml.safe_dump(config))
    outcome = run_evidence(path)
    discovered = outcome.manifest["scope"]["endpoints_discovered"]
    assert discovered, "the demo estate has internet-facing load balancers and CloudFront distributions"
    assert any(d["source"].startswith("aws.elbv2") for d in discovered)
    assert any(d["source"].startswith("aws.cloudfront") for d in discovered)
    scanned = [f.result for f in outcome.findings if f.result.provider == "endpoint"]
    assert {r.account for r in scanned} == {d["endpoint"] for d in discovered}
    # moto's DNS names resolve nowhere: every scan is an error with the reason, never a pass
    assert {str(r.status) for r in scanned} == {"error"}
    assert all(r.observed["error_code"] in ("DnsFailure", "ConnectionFailed") for r in scanned), {
        r.observed["error_code"] for r in scanned
    }
    assert reevaluate(outcome.run_dir).identical


def test_runs_go_to_an_s3_evidence_locker_and_are_read_back_as_a_directory(
    estate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3
    import yaml

    from flows.cli import main

    _, demo, out = estate
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="dexo-evidence-locker", ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket="dexo-evidence-locker",
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 400}},
        },
    )
    path = write_demo_config(demo, out / "locker", workload_regions_only=True)
    config = yaml.safe_load(path.read_text())
    config["output"] = "s3://dexo-evidence-locker/soc2"
    path.write_text(yaml.safe_dump(config))
    first = run_evidence(path)
    # access reviews live in a directory: with a bucket output and none configured,
    # the access-review checks are `error`, saying what to set (never a silent fail)
    review_findings = [f for f in first.findings if f.result.provider == "access_review"]
    assert review_findings and {f.result.status.value for f in review_findings} == {"error"}
    for f in review_findings:
        assert f.result.observed["error_code"] == "AccessReviewsNotConfigured", f.result
        assert "set access_reviews.directory" in f.result.observed["message"]
    config["access_reviews"] = {"directory": str(tmp_path / "reviews")}
    path.write_text(yaml.safe_dump(config))
    second = run_evidence(path)
    review_findings = [f for f in second.findings if f.result.provider == "access_review"]
    assert {(f.result.check_id, f.result.status.value) for f in review_findings} == {
        ("access_review.completed_recently", "fail"),  # read from the configured (empty) directory
        ("access_review.revocations_done", "not_applicable"),
    }
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="dexo-evidence-locker", Prefix="soc2/runs/")["Contents"]}
    assert f"soc2/runs/{first.run_id}/manifest.json" in keys and f"soc2/runs/{second.run_id}/manifest.json" in keys
    assert second.manifest["previous_run"] == first.run_id, "the baseline comes from the locker"
    # read back through the CLI, as from a directory
    monkeypatch.setenv("SOC2_EVIDENCE_CACHE", str(tmp_path / "cache"))
    assert main(["history", "--output", "s3://dexo-evidence-locker/soc2"]) == 0
    listing = capsys.readouterr().out
    assert first.run_id in listing and second.run_id in listing
    assert main(["verify", f"s3://dexo-evidence-locker/soc2/runs/{second.run_id}"]) == 0
    assert main(["evaluate", f"s3://dexo-evidence-locker/soc2/runs/{second.run_id}"]) == 0
    assert "identical to findings.jsonl" in capsys.readouterr().out
    assert main(["drift", "--output", "s3://dexo-evidence-locker/soc2", "--format", "json"]) == 0
