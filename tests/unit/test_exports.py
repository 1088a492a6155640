"""Exports: population CSVs (formula-safe), OSCAL Assessment Results (validated with compliance-trestle's
NIST-derived models), OCSF Compliance Findings (validated with py-ocsf-models)."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import py_ocsf_models.events.findings.compliance_finding as ocsf_cf  # test dependency (dev extra)
import py_ocsf_models.objects.cloud as ocsf_cloud
import pytest
import trestle.oscal.assessment_results as trestle_ar  # test dependency (dev extra): compliance-trestle
from pydantic import ValidationError
from pydantic.v1 import ValidationError as ValidationErrorV1

from controls import CheckResult, CheckSpec, ControlStatus, EvidenceRef, Finding, Severity, Status
from controls.additional import finding_id
from controls.catalog import ControlModel
from controls.mapping import control_results
from reports.exports import (
    CSV_DIR,
    OCSF_FILE,
    OSCAL_FILE,
    OSCAL_VERSION,
    POPULATION_COLUMNS,
    RunMeta,
    assessment_results,
    csv_safe,
    ocsf_events,
    write_exports,
    write_ocsf_jsonl,
    write_oscal_json,
    write_population_csvs,
)
from reports.exports.csv_export import ERRORS_COLUMNS, safe_file_stem
from reports.exports.ocsf import finding_uid
from reports.exports.oscal import observation_count, oscal_uuid, token

RUN_ID = "20261130T110054Z-6c2666"
ACCOUNT = "724274284533"
EVALUATED_AT = "2026-11-30T11:00:54.172754Z"
SHA = {name: hashlib.sha256(name.encode()).hexdigest() for name in ("s3", "ebs", "kms", "denied")}
S3_FILE = f"evidence/aws/{ACCOUNT}/global/s3/GetBucketEncryption.json"
EBS_FILE = f"evidence/aws/{ACCOUNT}/us-east-1/ebs/DescribeVolumes.json"
KMS_FILE = f"evidence/aws/{ACCOUNT}/us-east-1/kms/GetKeyRotationStatus.json"
DENIED_FILE = f"evidence/aws/{ACCOUNT}/eu-west-1/ebs/DescribeVolumes.json"
HYPERLINK = '=HYPERLINK("http://attacker.example/x","Click for invoice")'

RUN = RunMeta(
    run_id=RUN_ID,
    organization="Dexo.chat",
    period_start=date(2026, 1, 1),
    period_end=date(2026, 12, 31),
    started_at=datetime(2026, 11, 30, 11, 0, 54, 172754, tzinfo=UTC),
    finished_at="2026-11-30T11:02:10Z",
    tool_version="0.1.0",
    config_sha256="c" * 64,
    catalog_sha256="d" * 64,
    findings_sha256="e" * 64,
    account_names={ACCOUNT: "dexo-prod"},
)


def _spec(cid: str, title: str, severity: Severity, rtype: str) -> CheckSpec:
    return CheckSpec(
        id=cid,
        title=title,
        description=f"{title} (description).",
        severity=severity,
        provider=cid.split(".")[0],
        resource_type=rtype,
        permissions=(),
        remediation=f"Fix {cid}.",
    )


SPECS: dict[str, CheckSpec] = {
    "aws.s3.default_encryption": _spec(
        "aws.s3.default_encryption", "S3 default encryption", Severity.HIGH, "AWS::S3::Bucket"
    ),
    "aws.ebs.volume_encryption": _spec(
        "aws.ebs.volume_encryption", "EBS volumes encrypted", Severity.MEDIUM, "AWS::EC2::Volume"
    ),
    "aws.kms.key_rotation": _spec("aws.kms.key_rotation", "KMS key rotation", Severity.LOW, "AWS::KMS::Key"),
    "aws.s3.public_access_block": _spec(
        "aws.s3.public_access_block", "S3 public access block", Severity.CRITICAL, "AWS::S3::Bucket"
    ),
}
CONTROLS = (
    ControlModel(id="ENC-01", title="Customer data is encrypted at rest", description="Encrypted at rest.",
                 criteria=("CC6.1", "CC6.7"), checks=("aws.s3.default_encryption", "aws.ebs.volume_encryption")),
    ControlModel(id="ENC-02", title="Keys are rotated", criteria=("CC6.1",), checks=("aws.kms.key_rotation",)),
    ControlModel(id="NET-01", title="Storage cannot be made public", criteria=("CC6.1", "CC6.6"),
                 checks=("aws.s3.public_access_block", "aws.s3.default_encryption")),
    ControlModel(id="LOG-01", title="Nothing mapped yet", criteria=("CC7.2",)),
)  # fmt: skip
CONTROL_IDS = {"aws.s3.default_encryption": ("ENC-01", "NET-01"), "aws.ebs.volume_encryption": ("ENC-01",),
               "aws.kms.key_rotation": ("ENC-02",), "aws.s3.public_access_block": ("NET-01",)}  # fmt: skip
CRITERIA = {"ENC-01": ("CC6.1", "CC6.7"), "ENC-02": ("CC6.1",), "NET-01": ("CC6.1", "CC6.6")}


def make(
    check_id: str,
    resource_id: str,
    status: Status,
    *,
    region: str = "us-east-1",
    observed: Any = None,
    expected: Any = True,
    reason: str = "",
    evidence: Sequence[tuple[str, str]] = (),
    run_id: str = RUN_ID,
    account: str = ACCOUNT,
) -> Finding:
    cids = CONTROL_IDS.get(check_id, ())
    crit = sorted({c for cid in cids for c in CRITERIA[cid]})
    return Finding(
        run_id=run_id,
        result=CheckResult(
            check_id=check_id,
            provider="aws",
            account=account,
            region=region,
            resource_type=SPECS[check_id].resource_type,
            resource_id=resource_id,
            status=status,
            observed=observed,
            expected=expected,
            reason=reason or f"{resource_id} is {status}.",
            evidence=tuple(EvidenceRef(p, s) for p, s in evidence),
        ),
        control_ids=cids,
        criteria=tuple(crit),
        evaluated_at=EVALUATED_AT,
    )


ERROR_OBSERVED = {
    "operation": "DescribeVolumes",
    "error_code": "UnauthorizedOperation",
    "message": "You are not authorized to perform this operation.",
    "required_permission": "ec2:DescribeVolumes",
    "missing_permission": "ec2:DescribeVolumes",
}
FINDINGS: list[Finding] = [
    # a finding mapped to two controls (ENC-01 and NET-01), with hostile resource ids
    make("aws.s3.default_encryption", "dexo-invoices", Status.PASS, region="global",
         observed={"SSEAlgorithm": "AES256"}, expected={"SSEAlgorithm": ["AES256", "aws:kms"]},
         evidence=[(S3_FILE, SHA["s3"])]),
    make("aws.s3.default_encryption", HYPERLINK, Status.FAIL, region="global", observed=None,
         evidence=[(S3_FILE, SHA["s3"])]),
    make("aws.ebs.volume_encryption", "+1", Status.FAIL, observed=False, evidence=[(EBS_FILE, SHA["ebs"])]),
    make("aws.ebs.volume_encryption", "@SUM(1)", Status.PASS, observed=True, evidence=[(EBS_FILE, SHA["ebs"])]),
    make("aws.ebs.volume_encryption", "-2+3", Status.EXCEPTED, observed=False, evidence=[(EBS_FILE, SHA["ebs"])]),
    make("aws.ebs.volume_encryption", "\tvol-tab", Status.NOT_APPLICABLE, observed="=1+1", reason="-negative reason",
         evidence=[(EBS_FILE, SHA["ebs"])]),
    make("aws.ebs.volume_encryption", "vol-multi\nline  name ", Status.PASS, observed=True,
         evidence=[(EBS_FILE, SHA["ebs"])]),
    # an error finding: not assessed, with the missing permission
    make("aws.ebs.volume_encryption", "*", Status.ERROR, region="eu-west-1", observed=ERROR_OBSERVED, expected=None,
         reason="Could not list volumes: UnauthorizedOperation (missing ec2:DescribeVolumes).",
         evidence=[(DENIED_FILE, SHA["denied"])]),
    make("aws.kms.key_rotation", "mrk-1", Status.PASS, observed={"KeyRotationEnabled": True},
         evidence=[(KMS_FILE, SHA["kms"])]),
    make("aws.kms.key_rotation", "mrk-2", Status.ERROR, observed={**ERROR_OBSERVED, "operation": "GetKeyRotationStatus",
         "missing_permission": "kms:GetKeyRotationStatus"}, evidence=[(KMS_FILE, SHA["kms"])]),
    make("aws.s3.public_access_block", "dexo-invoices", Status.PASS, region="global", evidence=[(S3_FILE, SHA["s3"])]),
]  # fmt: skip
RESULTS = control_results(type("Cat", (), {"controls": CONTROLS})(), FINDINGS)  # type: ignore[arg-type]
TITLES = {cid: (s.title, str(s.severity)) for cid, s in SPECS.items()}


def test_control_results_cover_every_status() -> None:
    by_id = {r.control_id: r.status for r in RESULTS}
    assert by_id == {
        "ENC-01": ControlStatus.DEFICIENT,
        "ENC-02": ControlStatus.INCOMPLETE,
        "NET-01": ControlStatus.DEFICIENT,
        "LOG-01": ControlStatus.NO_EVIDENCE,
    }
    assert {f.result.status for f in FINDINGS} == set(Status)


# --- CSV -------------------------------------------------------------------------------------------------------


def _read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("\uff1dcmd", "'\uff1dcmd"),
        ("vol-1", "vol-1"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (3, "3"),
        (-3, "'-3"),
    ],
)
def test_csv_safe(value: Any, expected: str) -> None:
    assert csv_safe(value) == expected


def test_safe_file_stem() -> None:
    taken = {"errors"}
    assert safe_file_stem("ENC-01", taken) == "ENC-01"
    assert safe_file_stem("enc-01", taken) == "enc-01-2"  # case-insensitive file systems
    assert safe_file_stem("../../etc/passwd", taken) == "_.._etc_passwd"
    assert safe_file_stem("Errors", taken) == "Errors-2"  # errors.csv is reserved
    assert safe_file_stem("CON", taken) == "_CON"
    assert safe_file_stem("a/b:c*d?", taken) == "a_b_c_d_"
    assert safe_file_stem("", taken) == "control"
    assert len(safe_file_stem("x" * 500, taken)) == 100


def test_population_csvs(tmp_path: Path) -> None:
    paths = write_population_csvs(tmp_path, [(c.id, c.title) for c in CONTROLS], FINDINGS, TITLES)
    assert [p.name for p in paths] == ["ENC-01.csv", "ENC-02.csv", "NET-01.csv", "LOG-01.csv", "errors.csv"]
    raw = paths[0].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel
    assert b"\r\n" in raw
    assert not list(tmp_path.glob(".*.tmp"))  # atomic: no temporary files left

    enc = _read_csv(paths[0])
    assert tuple(enc[0]) == POPULATION_COLUMNS
    enc_findings = [f for f in FINDINGS if "ENC-01" in f.control_ids]
    assert len(enc) - 1 == len(enc_findings) == 8
    rid = POPULATION_COLUMNS.index("Resource ID")
    rows = {r[rid]: dict(zip(POPULATION_COLUMNS, r, strict=True)) for r in enc[1:]}
    # the injection prefix, visibly in the text
    assert "'" + HYPERLINK in rows
    assert "'+1" in rows and "'@SUM(1)" in rows and "'-2+3" in rows and "'\tvol-tab" in rows
    assert rows["'\tvol-tab"]["Observed"] == "'=1+1"
    assert rows["'\tvol-tab"]["Reason"] == "'-negative reason"
    assert rows["vol-multi\nline  name "]["Status"] == "pass"  # embedded newline survives quoting
    invoices = rows["dexo-invoices"]
    assert invoices == {
        "Account": ACCOUNT,
        "Region": "global",
        "Resource type": "AWS::S3::Bucket",
        "Resource ID": "dexo-invoices",
        "Check": "aws.s3.default_encryption",
        "Check title": "S3 default encryption",
        "Severity": "high",
        "Status": "pass",
        "Observed": '{"SSEAlgorithm":"AES256"}',
        "Expected": '{"SSEAlgorithm":["AES256","aws:kms"]}',
        "Reason": "dexo-invoices is pass.",
        "Evaluated at": EVALUATED_AT,
        "Evidence file": S3_FILE,
        "SHA-256": SHA["s3"],
        # the finding's `additional` (derived here: these findings were built without it)
        "Remediation": "",
        "Resource ARN": "arn:aws:s3:::dexo-invoices",
        "Console URL": "https://s3.console.aws.amazon.com/s3/buckets/dexo-invoices",
        "Finding ID": finding_id("aws.s3.default_encryption", ACCOUNT, "global", "AWS::S3::Bucket", "dexo-invoices"),
    }
    # the finding mapped to two controls is in both populations
    net = _read_csv(paths[2])
    assert {r[rid] for r in net[1:]} == {"dexo-invoices", "'" + HYPERLINK}
    assert len(net) - 1 == 3
    # a control with no findings: header only
    assert _read_csv(paths[3]) == [list(POPULATION_COLUMNS)]


def test_errors_csv(tmp_path: Path) -> None:
    paths = write_population_csvs(tmp_path, [(c.id, c.title) for c in CONTROLS], FINDINGS, TITLES)
    rows = _read_csv(paths[-1])
    assert tuple(rows[0]) == ERRORS_COLUMNS
    assert [dict(zip(ERRORS_COLUMNS, r, strict=True)) for r in rows[1:]] == [
        {
            "Account": ACCOUNT,
            "Region": "eu-west-1",
            "Check": "aws.ebs.volume_encryption",
            "Resource ID": "*",
            "Operation": "DescribeVolumes",
            "Error code": "UnauthorizedOperation",
            "Missing permission": "ec2:DescribeVolumes",
            "Reason": "Could not list volumes: UnauthorizedOperation (missing ec2:DescribeVolumes).",
        },
        {
            "Account": ACCOUNT,
            "Region": "us-east-1",
            "Check": "aws.kms.key_rotation",
            "Resource ID": "mrk-2",
            "Operation": "GetKeyRotationStatus",
            "Error code": "UnauthorizedOperation",
            "Missing permission": "kms:GetKeyRotationStatus",
            "Reason": "mrk-2 is error.",
        },
    ]


def test_population_csv_with_pandas(tmp_path: Path) -> None:
    paths = write_population_csvs(tmp_path, [(c.id, c.title) for c in CONTROLS], FINDINGS, TITLES)
    df = pd.read_csv(paths[0], encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(df.columns) == list(POPULATION_COLUMNS)
    assert len(df) == 8
    assert sorted(df["Status"].unique()) == ["error", "excepted", "fail", "not_applicable", "pass"]
    assert df.loc[df["Status"] == "excepted", "Resource ID"].tolist() == ["'-2+3"]
    # no cell a spreadsheet would take for a formula
    for value in df.to_numpy().ravel():
        assert not str(value).startswith(("=", "+", "-", "@", "\t", "\r")), value


def test_csv_control_not_in_catalog_and_odd_ids(tmp_path: Path) -> None:
    odd = Finding(RUN_ID, FINDINGS[0].result, ("ops/1:weird", "errors"), ("CC6.1",), EVALUATED_AT)
    paths = write_population_csvs(tmp_path, [("ENC-01", "t")], [odd], TITLES)
    assert [p.name for p in paths] == ["ENC-01.csv", "ops_1_weird.csv", "errors-2.csv", "errors.csv"]
    assert all(p.parent == tmp_path for p in paths)
    assert len(_read_csv(paths[2])) == 2 and len(_read_csv(paths[3])) == 1


# --- OSCAL -----------------------------------------------------------------------------------------------------


_DATE_TIME_KEYS = {"last-modified", "published", "start", "end", "collected", "expires"}
_TZ = re.compile(r"(Z|[+-]\d{2}:\d{2})$")


def _nist_rules_trestle_3_misses(node: Any, where: str = "$") -> None:
    """Two rules of NIST's JSON schema that trestle 3.x's pydantic-v1 models do not enforce (trestle 4+ does):
    arrays have at least one item, and date-times carry a time zone. Raises ValueError."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _DATE_TIME_KEYS and isinstance(value, str) and not _TZ.search(value):
                raise ValueError(f"{where}.{key}: date-time without a time zone: {value!r}")
            _nist_rules_trestle_3_misses(value, f"{where}.{key}")
    elif isinstance(node, list):
        if not node:
            raise ValueError(f"{where}: empty array (OSCAL arrays have minItems 1)")
        for i, value in enumerate(node):
            _nist_rules_trestle_3_misses(value, f"{where}[{i}]")


def _validate_oscal(doc: dict[str, Any]) -> Any:
    """Parse with compliance-trestle's models (generated from NIST's OSCAL JSON schema): pydantic v1 API
    (`parse_obj`) in trestle 3.x (OSCAL 1.1.3), pydantic v2 (`model_validate`) in trestle 4+ (OSCAL 1.2)."""
    _nist_rules_trestle_3_misses(doc)
    if hasattr(trestle_ar.Model, "model_validate"):
        trestle_ar.AssessmentResults.model_validate(doc["assessment-results"])
        return trestle_ar.Model.model_validate(doc)  # the whole document, {"assessment-results": ...}
    trestle_ar.AssessmentResults.parse_obj(doc["assessment-results"])
    return trestle_ar.Model.parse_obj(doc)


def test_oscal_validates_with_trestle() -> None:
    doc = assessment_results(RUN, CONTROLS, FINDINGS, RESULTS, SPECS)
    json.dumps(doc)  # plain JSON
    model = _validate_oscal(doc)
    ar = doc["assessment-results"]
    assert ar["metadata"]["oscal-version"] == OSCAL_VERSION
    assert ar["metadata"]["last-modified"] == "2026-11-30T11:02:10Z"
    assert model.assessment_results.metadata.title.startswith("Dexo.chat")
    [result] = ar["results"]
    assert result["start"] == "2026-11-30T11:00:54.172754Z"

    # observations: one per (check, status); subjects: one per finding; inventory: one per resource
    obs = result["observations"]
    assert len(obs) == observation_count(FINDINGS) == 10
    assert sum(len(o["subjects"]) for o in obs) == len(FINDINGS)
    resources = {(f.result.provider, f.result.account, f.result.region, f.result.resource_id) for f in FINDINGS}
    assert len(result["local-definitions"]["inventory-items"]) == len(resources) == 10
    inventory = {i["uuid"] for i in result["local-definitions"]["inventory-items"]}
    assert all(s["subject-uuid"] in inventory for o in obs for s in o["subjects"])

    # relevant evidence: path and SHA-256 as props, and a back-matter resource with the hash
    back = {r["uuid"]: r for r in ar["back-matter"]["resources"]}
    fail_s3 = next(o for o in obs if o["title"].startswith("aws.s3.default_encryption: fail"))
    evidence = [e for e in fail_s3["relevant-evidence"] if "Evidence file" in e["description"]]
    assert len(evidence) == 1
    props = {p["name"]: p["value"] for p in evidence[0]["props"]}
    assert props == {"path": S3_FILE, "sha256": SHA["s3"]}
    rlink = back[evidence[0]["href"][1:]]["rlinks"][0]
    assert rlink["href"] == S3_FILE
    assert rlink["hashes"] == [{"algorithm": "SHA-256", "value": SHA["s3"]}]
    assert back[ar["import-ap"]["href"][1:]]["title"].startswith("Assessment plan")

    # findings: one per control, objective status from the control status
    findings = {f["target"]["target-id"]: f for f in result["findings"]}
    assert list(findings) == ["ENC-01", "ENC-02", "NET-01", "LOG-01"]
    states = {cid: (f["target"]["status"]["state"], f["target"]["status"]["reason"]) for cid, f in findings.items()}
    assert states == {
        "ENC-01": ("not-satisfied", "fail"),
        "ENC-02": ("not-satisfied", "other"),
        "NET-01": ("not-satisfied", "fail"),
        "LOG-01": ("not-satisfied", "other"),
    }
    assert all(f["target"]["type"] == "objective-id" for f in findings.values())
    obs_uuid = {o["uuid"]: o for o in obs}
    enc_related = {
        obs_uuid[r["observation-uuid"]]["title"].split(" (")[0] for r in findings["ENC-01"]["related-observations"]
    }
    assert enc_related == {
        "aws.s3.default_encryption: pass",
        "aws.s3.default_encryption: fail",
        "aws.ebs.volume_encryption: fail",
        "aws.ebs.volume_encryption: pass",
        "aws.ebs.volume_encryption: excepted",
        "aws.ebs.volume_encryption: not_applicable",
        "aws.ebs.volume_encryption: error",
    }
    assert len(findings["NET-01"]["related-observations"]) == 3  # the shared S3 check's two + public access block
    assert "related-observations" not in findings["LOG-01"]
    enc_props = {(p["name"], p["value"]) for p in findings["ENC-01"]["props"]}
    assert {
        ("criterion", "CC6.1"),
        ("criterion", "CC6.7"),
        ("count-fail", "2"),
        ("control-status", "deficient"),
    } <= enc_props
    reviewed = result["reviewed-controls"]["control-selections"][0]["include-controls"]
    assert [c["control-id"] for c in reviewed] == ["ENC-01", "ENC-02", "NET-01", "LOG-01"]


def test_oscal_effective_control_is_satisfied() -> None:
    passing = [f for f in FINDINGS if f.result.check_id == "aws.s3.public_access_block"]
    results = control_results(type("Cat", (), {"controls": CONTROLS})(), passing)  # type: ignore[arg-type]
    doc = assessment_results(RUN, CONTROLS, passing, results, SPECS)
    _validate_oscal(doc)
    status = {
        f["target"]["target-id"]: f["target"]["status"] for f in doc["assessment-results"]["results"][0]["findings"]
    }
    assert status["NET-01"]["state"] == "satisfied" and status["NET-01"]["reason"] == "pass"


def test_oscal_is_deterministic_and_uuids_depend_on_the_run(tmp_path: Path) -> None:
    a = assessment_results(RUN, CONTROLS, FINDINGS, RESULTS, SPECS)
    b = assessment_results(RUN, CONTROLS, FINDINGS, RESULTS, SPECS)
    assert a == b
    sha1 = write_oscal_json(tmp_path / "a.json", RUN, CONTROLS, FINDINGS, RESULTS, SPECS)
    sha2 = write_oscal_json(tmp_path / "b.json", RUN, CONTROLS, FINDINGS, RESULTS, SPECS)
    assert sha1 == sha2 == hashlib.sha256((tmp_path / "a.json").read_bytes()).hexdigest()
    assert json.loads((tmp_path / "a.json").read_text(encoding="utf-8")) == a
    other = RunMeta(**{**RUN.__dict__, "run_id": "20261201T000000Z-aaaaaa"})
    c = assessment_results(other, CONTROLS, FINDINGS, RESULTS, SPECS)
    assert c["assessment-results"]["uuid"] != a["assessment-results"]["uuid"]
    assert a["assessment-results"]["uuid"] == oscal_uuid(RUN_ID, "assessment-results")


def test_oscal_odd_ids_and_empty_run_still_validate() -> None:
    assert token("ENC-01") == "ENC-01"
    assert token("1.2 access") == "_1.2_access"
    assert token("CC6.1") == "CC6.1"
    weird = ControlModel(id="1.2 access/review", title="Line one\nline two", criteria=("CC6.1",))
    f = Finding(RUN_ID, FINDINGS[6].result, ("1.2 access/review",), ("CC6.1",), EVALUATED_AT)
    results = control_results(type("Cat", (), {"controls": (weird,)})(), [f])  # type: ignore[arg-type]
    doc = assessment_results(RunMeta(**{**RUN.__dict__, "organization": ""}), [weird], [f], results)
    _validate_oscal(doc)
    [finding] = doc["assessment-results"]["results"][0]["findings"]
    assert finding["target"]["target-id"] == "_1.2_access_review"
    assert finding["title"] == "1.2 access/review: Line one line two"
    # nothing at all: still a valid document
    _validate_oscal(assessment_results(RUN, [], [], []))


@pytest.mark.parametrize(
    "breakage",
    [
        "missing metadata title",
        "not a uuid",
        "unknown objective state",
        "unknown field",
        "empty observations",
        "naive datetime",
    ],
)
def test_oscal_broken_document_fails_validation(breakage: str) -> None:
    doc = assessment_results(RUN, CONTROLS, FINDINGS, RESULTS, SPECS)
    ar = doc["assessment-results"]
    result = ar["results"][0]
    if breakage == "missing metadata title":
        del ar["metadata"]["title"]
    elif breakage == "not a uuid":
        result["observations"][0]["uuid"] = "obs-1"
    elif breakage == "unknown objective state":
        result["findings"][0]["target"]["status"]["state"] = "partially-satisfied"
    elif breakage == "unknown field":
        result["observations"][0]["severity"] = "high"
    elif breakage == "empty observations":
        result["observations"] = []
    elif breakage == "naive datetime":
        result["start"] = "2026-11-30T11:00:54"
    with pytest.raises((ValidationError, ValidationErrorV1, ValueError)):
        _validate_oscal(doc)


# --- OCSF ------------------------------------------------------------------------------------------------------

# What OCSF 1.5 defines but py-ocsf-models (0.10) does not model: checked separately below.
_NOT_MODELLED = ("cloud",)
_NOT_MODELLED_COMPLIANCE = ("status",)


def _validate_ocsf(event: dict[str, Any]) -> Any:
    """Parse with py-ocsf-models, and check that every field we emit is one the model knows (its models
    silently ignore unknown fields, so we compare the model's dump with the event)."""
    model = ocsf_cf.ComplianceFinding.model_validate(event)
    expected = {k: v for k, v in event.items() if k not in _NOT_MODELLED}
    expected["compliance"] = {k: v for k, v in event["compliance"].items() if k not in _NOT_MODELLED_COMPLIANCE}
    assert model.model_dump(mode="json", exclude_unset=True) == expected
    if "cloud" in event:
        cloud = {k: v for k, v in event["cloud"].items() if k != "project_uid"}
        assert ocsf_cloud.Cloud.model_validate(cloud).model_dump(mode="json", exclude_unset=True) == cloud
    return model


def test_ocsf_events_validate_with_py_ocsf_models() -> None:
    events = list(ocsf_events(FINDINGS, SPECS, RUN))
    assert len(events) == len(FINDINGS)
    for event in events:
        _validate_ocsf(event)
        assert event["class_uid"] == 2003 and event["category_uid"] == 2
        assert event["activity_id"] == 1 and event["type_uid"] == 200301
        assert event["metadata"]["version"] == "1.5.0"
        assert event["metadata"]["product"]["name"] == "soc2-evidence"
        assert event["time"] == 1796036454172  # 2026-11-30T11:00:54.172Z in epoch ms
        assert event["cloud"]["account"] == {"uid": ACCOUNT, "name": "dexo-prod", "type_id": 10, "type": "AWS Account"}

    by_status = {e["unmapped"]["soc2_evidence_status"]: e for e in events}
    compliance = {s: (e["compliance"]["status_id"], e["compliance"]["status"]) for s, e in by_status.items()}
    assert compliance == {
        "pass": (1, "Pass"),
        "fail": (3, "Fail"),
        "error": (2, "Warning"),
        "not_applicable": (99, "Not Applicable"),
        "excepted": (3, "Fail"),
    }
    assert (by_status["excepted"]["status_id"], by_status["excepted"]["status"]) == (3, "Suppressed")
    assert (by_status["fail"]["status_id"], by_status["fail"]["status"]) == (1, "New")


def test_ocsf_event_fields() -> None:
    events = list(ocsf_events(FINDINGS, SPECS, RUN))
    shared = events[1]  # the S3 fail on two controls, with a hostile bucket name
    assert shared["resources"] == [
        {"uid": HYPERLINK, "type": "AWS::S3::Bucket", "region": "global", "cloud_partition": "aws"}
    ]
    assert shared["compliance"]["control"] == "ENC-01, NET-01"
    assert shared["compliance"]["requirements"] == ["CC6.1", "CC6.6", "CC6.7"]
    assert shared["compliance"]["standards"] == ["AICPA SOC 2"]
    assert shared["compliance"]["checks"][0]["uid"] == "aws.s3.default_encryption"
    assert shared["unmapped"]["control_ids"] == ["ENC-01", "NET-01"]
    assert (shared["severity_id"], shared["severity"]) == (4, "High")
    assert shared["finding_info"]["title"] == "S3 default encryption"
    assert shared["evidences"] == [{"data": {"path": S3_FILE, "sha256": SHA["s3"]}}]
    assert shared["remediation"] == {"desc": "Fix aws.s3.default_encryption."}
    error = next(e for e in events if e["resources"][0]["uid"] == "*")
    assert error["unmapped"]["observed"]["missing_permission"] == "ec2:DescribeVolumes"
    assert error["message"].startswith("Could not list volumes")
    sev = {e["finding_info"]["types"][0]: e["severity_id"] for e in events}
    assert sev == {
        "aws.s3.default_encryption": 4,
        "aws.ebs.volume_encryption": 3,
        "aws.kms.key_rotation": 2,
        "aws.s3.public_access_block": 5,
    }
    # unknown check: severity unknown, title the check id; still valid
    [unknown] = ocsf_events([FINDINGS[0]], {}, RUN)
    _validate_ocsf(unknown)
    assert (unknown["severity_id"], unknown["finding_info"]["title"]) == (0, "aws.s3.default_encryption")


def test_ocsf_uids_are_deterministic() -> None:
    first = list(ocsf_events(FINDINGS, SPECS, RUN))
    assert first == list(ocsf_events(FINDINGS, SPECS, RUN))
    assert len({e["metadata"]["uid"] for e in first}) == len(first)
    # the same check on the same resource in another run: same finding uid, new event uid
    later = make("aws.kms.key_rotation", "mrk-1", Status.FAIL, run_id="20261201T000000Z-bbbbbb")
    [event] = ocsf_events([later], SPECS, RUN)
    same = next(e for e in first if e["resources"][0]["uid"] == "mrk-1")
    assert event["finding_info"]["uid"] == same["finding_info"]["uid"] == finding_uid(later)
    assert event["metadata"]["uid"] != same["metadata"]["uid"]


def test_ocsf_gcp_and_endpoint_findings() -> None:
    gcp = Finding(
        RUN_ID,
        CheckResult("gcp.gcs.cmek", "gcp", "dexo-prod-123", "europe-west1", "storage.googleapis.com/Bucket",
                    "dexo-bucket", Status.PASS, True, True, "CMEK set."),
        (), (), EVALUATED_AT,
    )  # fmt: skip
    tls = Finding(
        RUN_ID,
        CheckResult("endpoint.tls.protocols", "endpoint", "-", "-", "Endpoint", "api.dexo.chat:443",
                    Status.FAIL, ["TLSv1.0"], ["TLSv1.2", "TLSv1.3"], "TLS 1.0 offered."),
        (), (), EVALUATED_AT,
    )  # fmt: skip
    g, t = ocsf_events([gcp, tls], {}, RUN)
    _validate_ocsf(g)
    _validate_ocsf(t)
    assert g["cloud"]["provider"] == "GCP" and g["cloud"]["project_uid"] == "dexo-prod-123"
    assert "cloud" not in t and "control" not in t["compliance"]


def test_write_ocsf_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sha = write_ocsf_jsonl(path, FINDINGS, SPECS, RUN)
    data = path.read_bytes()
    assert sha == hashlib.sha256(data).hexdigest()
    lines = data.decode().splitlines()
    assert len(lines) == len(FINDINGS)
    for line in lines:
        _validate_ocsf(json.loads(line))


# --- everything together, RunMeta from a manifest ----------------------------------------------------------------


def test_write_exports(tmp_path: Path) -> None:
    written = write_exports(tmp_path, RUN, CONTROLS, FINDINGS, RESULTS, SPECS)
    paths = [p for p, _ in written]
    assert paths == [
        f"{CSV_DIR}/ENC-01.csv",
        f"{CSV_DIR}/ENC-02.csv",
        f"{CSV_DIR}/NET-01.csv",
        f"{CSV_DIR}/LOG-01.csv",
        f"{CSV_DIR}/errors.csv",
        OSCAL_FILE,
        OCSF_FILE,
    ]
    for rel, sha in written:
        assert hashlib.sha256((tmp_path / rel).read_bytes()).hexdigest() == sha
    _validate_oscal(json.loads((tmp_path / OSCAL_FILE).read_text(encoding="utf-8")))
    # re-export: byte-identical
    assert write_exports(tmp_path, RUN, CONTROLS, FINDINGS, RESULTS, SPECS) == written


def test_run_meta_from_manifest() -> None:
    manifest = {
        "run_id": RUN_ID,
        "organization": "Dexo.chat",
        "period": {"start": "2026-01-01", "end": "2026-12-31"},
        "started_at": "2026-11-30T11:00:54.172754Z",
        "finished_at": "2026-11-30T11:02:10Z",
        "tool_version": "0.1.0",
        "config_sha256": "c" * 64,
        "catalog": {"source": "built-in catalog", "path": "catalog.yaml", "sha256": "d" * 64},
        "scope": {"aws_accounts": [{"id": ACCOUNT, "name": "dexo-prod"}]},
        "outputs": {"findings": {"path": "findings.jsonl", "sha256": "e" * 64}},
        "previous_manifest_sha256": None,
    }
    meta = RunMeta.from_manifest(manifest, manifest_sha256="f" * 64)
    assert meta == RunMeta(**{**RUN.__dict__, "manifest_sha256": "f" * 64})
    doc = assessment_results(meta, CONTROLS, FINDINGS, RESULTS, SPECS)
    _validate_oscal(doc)
    back = doc["assessment-results"]["back-matter"]["resources"]
    manifest_res = next(r for r in back if r["rlinks"][0]["href"] == "manifest.json")
    assert manifest_res["rlinks"][0]["hashes"][0]["value"] == "f" * 64


# --- timings (printed, not asserted) -------------------------------------------------------------------------------


def _synthetic(n: int) -> list[Finding]:
    checks = list(SPECS)
    statuses = [
        Status.PASS,
        Status.PASS,
        Status.PASS,
        Status.FAIL,
        Status.ERROR,
        Status.NOT_APPLICABLE,
        Status.EXCEPTED,
    ]
    out = []
    for i in range(n):
        check = checks[i % len(checks)]
        region = ("us-east-1", "eu-west-1")[i % 2]
        account = f"{100000000000 + (i // 5000)}"
        evidence = [(f"evidence/aws/{account}/{region}/{check.split('.')[1]}/Op{i % 50}.json", SHA["s3"])]
        out.append(
            make(check, f"res-{i}", statuses[i % len(statuses)], region=region, account=account,
                 observed={"value": i}, evidence=evidence)
        )  # fmt: skip
    return out


@pytest.mark.parametrize("n", [200, 20_000])
def test_export_timings(n: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    findings = _synthetic(n)
    results = control_results(type("Cat", (), {"controls": CONTROLS})(), findings)  # type: ignore[arg-type]
    timings: dict[str, float] = {}

    t = time.perf_counter()
    write_population_csvs(tmp_path / "csv", [(c.id, c.title) for c in CONTROLS], findings, TITLES)
    timings["csv"] = time.perf_counter() - t
    t = time.perf_counter()
    write_oscal_json(tmp_path / "ar.json", RUN, CONTROLS, findings, results, SPECS)
    timings["oscal"] = time.perf_counter() - t
    t = time.perf_counter()
    write_ocsf_jsonl(tmp_path / "ocsf.jsonl", findings, SPECS, RUN)
    timings["ocsf"] = time.perf_counter() - t
    if n <= 2_000:  # trestle 3.x (pydantic v1) takes ~1 ms a finding: 20 s at 20,000
        t = time.perf_counter()
        _validate_oscal(json.loads((tmp_path / "ar.json").read_text(encoding="utf-8")))
        timings["oscal validation (trestle)"] = time.perf_counter() - t
    t = time.perf_counter()
    with open(tmp_path / "ocsf.jsonl", encoding="utf-8") as fh:
        for line in fh:
            ocsf_cf.ComplianceFinding.model_validate_json(line)
    timings["ocsf validation (py-ocsf-models)"] = time.perf_counter() - t
    sizes = {p.name: p.stat().st_size for p in (tmp_path / "ar.json", tmp_path / "ocsf.jsonl")}
    with capsys.disabled():
        line = ", ".join(f"{k} {v:.3f}s" for k, v in timings.items())
        print(f"\n[exports {n} findings] {line}; sizes {sizes}")
