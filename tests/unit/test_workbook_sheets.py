"""The auditor's workbook, the sheets beyond the populations: Criteria, Commitments, Exceptions,
Drift (with their note rows when empty), the population counts (Summary and Populations), the
Cover's integrity block (evidence-set SHA-256 recomputed from the evidence files) and the
Summary's conditional formatting."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from controls.model import ControlStatus, Status
from reports.workbook import (
    SUMMARY_HEADERS,
    ControlInfo,
    EvidenceFileInfo,
    evidence_set_sha256,
    population_counts,
    write_workbook,
)
from reports.workbook.model import DRIFT_HEADERS, NO_AUTOMATED_EVIDENCE
from reports.workbook.overview import MANIFEST_NOTE
from reports.workbook.styles import CONTROL_STATUS_COLORS
from tests.unit.test_workbook import (
    ACCOUNT,
    POPULATION_SHEETS,
    cells_by_header,
    make_input,
    result,
    table,
)

CRITERIA = {
    "CC6.1": "Logical access security over protected information assets.",
    "CC6.7": "Restricts the transmission, movement and removal of information.",
    "CC7.2": "Monitors system components for anomalies.",  # no control maps to it
    "CC9.9": "A criterion only a manual control covers.",
    "A1.2": "Environmental protections and recovery infrastructure.",  # only a no_evidence control
}
COMMITMENTS = [
    {
        "Commitment": "SEC-1",
        "Promise (quoted)": "=We encrypt all customer data at rest",  # hostile text stays text
        "Source": "https://dexo.chat/security",
        "Controls": "ENC-1, ENC-2",
        "Control status": "ENC-1: deficient, ENC-2: deficient",
        "Supported by the evidence": "no",
        "Note": "",
    },
    {
        "Commitment": "SEC-2",
        "Promise (quoted)": "We review access quarterly",
        "Source": "MSA §4",
        "Controls": "(none)",
        "Control status": "-",
        "Supported by the evidence": "no automated evidence",
        "Note": "manual",
    },
]


def exception_row(label: str, status: str, expires: date, days: int, matched: int) -> dict[str, Any]:
    return {
        "Exception": label,
        "Ticket": f"RISK-{label[-1]}",
        "Check": "aws.ebs.encryption",
        "Account": ACCOUNT,
        "Region": "any",
        "Resource pattern": "vol-*",
        "Reason": "legacy volumes, migration planned",
        "Approved by": "ciso@dexo.chat",
        "Approved on": date(2026, 3, 1),
        "Expires on": expires,
        "Status": status,
        "Days to expiry": days,
        "Matched failing resources": matched,
        "Resources": "vol-exc\nvol-other",
        "Other matches (not excepted)": "",
    }


EXCEPTIONS = [
    exception_row("EX-1", "active", date(2027, 3, 1), 91, 1),
    exception_row("EX-2", "expired", date(2026, 6, 1), -182, 0),
    exception_row("EX-3", "stale", date(2027, 1, 1), 32, 0),
    exception_row("EX-4", "active", date(2027, 6, 1), 183, 2),
]
DRIFT_SUMMARY = (
    "run 20261130T100000Z-abc123 vs 20261129T100000Z-zzz999: 1 newly failing, 0 resolved, 0 newly excepted,"
    " 0 newly erroring, 1 new, 0 gone; 1 control(s) changed status"
)
DRIFT_ROWS = [
    {
        "Change": "control status changed",
        "Control IDs": "ENC-1",
        "Check": "",
        "Account": "",
        "Region": "",
        "Resource type": "control",
        "Resource ID": "Volumes are encrypted",
        "Was": "effective",
        "Now": "deficient",
        "Reason": "",
    },
    {
        "Change": "newly failing",
        "Control IDs": "ENC-1, ENC-2",
        "Check": "aws.ebs.encryption",
        "Account": ACCOUNT,
        "Region": "us-east-1",
        "Resource type": "AWS::EC2::Volume",
        "Resource ID": "vol-fail",
        "Was": "pass",
        "Now": "fail",
        "Reason": "volume is not encrypted",
    },
]

# Evidence paths chosen so that sorting matters: upper case before lower case in byte order,
# a non-ASCII name, and a path that is a prefix of another.
EVIDENCE_PATHS = [
    f"evidence/aws/{ACCOUNT}/us-east-1/s3/GetBucketEncryption.json",
    f"evidence/aws/{ACCOUNT}/us-east-1/ec2/DescribeVolumes.json",
    f"evidence/aws/{ACCOUNT}/us-east-1/ec2/DescribeVolumes.json.1",
    f"evidence/aws/{ACCOUNT}/global/iam/ListUsers.json",
    "evidence/gcp/acme-prod/global/storage/Buckets-é.json",
    "evidence/endpoint/Acme.example_443/global/tls/Scan.json",
]


@pytest.fixture(scope="module")
def evidence_dir(tmp_path_factory) -> tuple[Path, list[EvidenceFileInfo]]:
    """Real evidence files on disk, indexed the way flows.run does (sorted by path)."""
    run_dir = tmp_path_factory.mktemp("run")
    infos = []
    for i, rel in enumerate(sorted(EVIDENCE_PATHS)):
        path = run_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(json.dumps({"calls": [{"n": i, "file": rel}]}).encode())
        infos.append(
            EvidenceFileInfo(
                path=rel,
                provider=rel.split("/")[1],
                account=rel.split("/")[2],
                region=rel.split("/")[3],
                service=rel.split("/")[4],
                operation=Path(rel).stem,
                parameters="",
                records=1,
                errors=0,
                sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                collected_at="2026-11-30T10:00:00Z",
            )
        )
    return run_dir, infos


def full_input(evidence: list[EvidenceFileInfo]):
    base = make_input()
    controls = [
        *base.controls,
        ControlInfo("MAN-1", "Quarterly access review", "", ("CC9.9",), (), "quarterly"),  # manual: no checks
        ControlInfo("AV-1", "Backups", "", ("A1.2",), ("aws.ebs.encryption",), "daily"),
    ]
    results = [
        *base.control_results,
        result("MAN-1", "Quarterly access review", ControlStatus.NO_EVIDENCE, ("CC9.9",)),
        result("AV-1", "Backups", ControlStatus.NO_EVIDENCE, ("A1.2",)),
    ]
    return make_input(
        controls=controls,
        control_results=results,
        evidence_files=evidence,
        criteria=CRITERIA,
        commitments=COMMITMENTS,
        exceptions=EXCEPTIONS,
        drift_summary=DRIFT_SUMMARY,
        drift_rows=DRIFT_ROWS,
    )


@pytest.fixture(scope="module")
def full(tmp_path_factory, evidence_dir) -> Path:
    path = tmp_path_factory.mktemp("wb") / "full.xlsx"
    write_workbook(path, full_input(evidence_dir[1]))
    return path


@pytest.fixture(scope="module")
def wb(full):
    return load_workbook(full)


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """No criteria, commitments, exceptions or drift: the note rows."""
    path = tmp_path_factory.mktemp("wb") / "bare.xlsx"
    write_workbook(path, make_input())
    return load_workbook(path)


def cover(wb) -> dict[tuple[str, str], Any]:
    return {(r["Section"], r["Item"]): r["Value"] for r in table(wb["Cover"])}


# --- criteria -------------------------------------------------------------------------------------


def test_criteria_sheet_lists_every_criterion_with_controls_and_worst_status(wb):
    rows = table(wb["Criteria"])
    assert [r["Criterion"] for r in rows] == list(CRITERIA)  # every criterion, in the catalog's order
    by = {r["Criterion"]: r for r in rows}
    assert by["CC6.1"]["Paraphrase"] == CRITERIA["CC6.1"]
    # CC6.1 maps ENC-1, ENC-2, HOSTILE, the two long ids and EMPTY: deficient beats no_evidence
    assert by["CC6.1"]["Controls"].split(", ")[:3] == ["ENC-1", "ENC-2", "HOSTILE/1:x"]
    assert "EMPTY" in by["CC6.1"]["Controls"]
    assert by["CC6.1"]["Status"] == "deficient"
    assert (by["CC6.7"]["Controls"], by["CC6.7"]["Status"]) == ("ENC-1", "deficient")
    # nothing maps to it
    assert (by["CC7.2"]["Controls"], by["CC7.2"]["Status"]) == ("(none)", NO_AUTOMATED_EVIDENCE)
    # only a control without checks (manual) maps to it: listed, but no automated evidence
    assert (by["CC9.9"]["Controls"], by["CC9.9"]["Status"]) == ("MAN-1", NO_AUTOMATED_EVIDENCE)
    # a control with checks but nothing in scope: its own status
    assert (by["A1.2"]["Controls"], by["A1.2"]["Status"]) == ("AV-1", "no_evidence")


def test_criteria_status_is_coloured_and_conditionally_formatted(wb):
    ws = wb["Criteria"]
    fills = {r["Status"].value: r["Status"].fill.fgColor.rgb[-6:] for r in cells_by_header(ws)}
    assert fills["deficient"] == CONTROL_STATUS_COLORS["deficient"]
    rules = {rule.formula[0] for cf in ws.conditional_formatting for rule in cf.rules}
    assert rules == {f'"{s}"' for s in ControlStatus}


def test_criteria_without_catalog_criteria_come_from_the_controls(bare):
    rows = table(bare["Criteria"])
    assert [r["Criterion"] for r in rows] == ["CC6.1", "CC6.7"]
    assert all(r["Paraphrase"] is None for r in rows)


# --- commitments, exceptions, drift ---------------------------------------------------------------


def test_commitments_rows(wb):
    rows = table(wb["Commitments"])
    assert rows == [{k: (v if v != "" else None) for k, v in c.items()} for c in COMMITMENTS]
    hostile = cells_by_header(wb["Commitments"])[0]["Promise (quoted)"]
    assert hostile.data_type == "s" and hostile.quotePrefix is True


def test_exceptions_rows_with_real_dates(wb):
    ws = wb["Exceptions"]
    rows = table(ws)
    assert list(rows[0]) == list(EXCEPTIONS[0])
    assert [r["Exception"] for r in rows] == ["EX-1", "EX-2", "EX-3", "EX-4"]
    assert [r["Status"] for r in rows] == ["active", "expired", "stale", "active"]
    assert rows[0]["Approved on"] == datetime(2026, 3, 1)
    assert rows[1]["Expires on"] == datetime(2026, 6, 1)
    assert [r["Days to expiry"] for r in rows] == [91, -182, 32, 183]  # numbers, not text
    assert rows[0]["Resources"] == "vol-exc\nvol-other"
    for cells in cells_by_header(ws):
        for header in ("Approved on", "Expires on"):
            assert cells[header].is_date and cells[header].number_format == "yyyy-mm-dd", header
        assert cells["Days to expiry"].data_type == "n"


def test_drift_rows(wb):
    rows = table(wb["Drift"])
    assert [r["Change"] for r in rows] == ["control status changed", "newly failing"]
    assert (rows[0]["Control IDs"], rows[0]["Was"], rows[0]["Now"]) == ("ENC-1", "effective", "deficient")
    assert rows[1]["Resource ID"] == "vol-fail" and rows[1]["Account"] == ACCOUNT
    assert list(rows[0]) == list(DRIFT_HEADERS)


def test_note_rows_when_empty(bare):
    notes = {name: table(bare[name]) for name in ("Commitments", "Exceptions", "Drift")}
    assert notes == {
        "Commitments": [{"Note": "No commitments file configured (commitments:)."}],
        "Exceptions": [{"Note": "No exceptions file configured (exceptions:)."}],
        "Drift": [{"Note": "No drift computed."}],
    }
    for name in notes:
        ws = bare[name]
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:A2"
    c = cover(bare)
    assert c[("Exceptions", "Exceptions")] == "none (no exceptions file configured)"
    assert c[("Drift", "Since the previous run")] == "No drift computed."


def test_drift_summary_alone_is_the_note(tmp_path):
    path = tmp_path / "wb.xlsx"
    write_workbook(path, make_input(drift_summary="run x: no earlier completed run to compare with (no baseline)"))
    assert table(load_workbook(path)["Drift"]) == [
        {"Note": "run x: no earlier completed run to compare with (no baseline)"}
    ]


# --- population counts ----------------------------------------------------------------------------


def test_population_counts_unit():
    counts = {"pass": 4, "fail": 3, "error": 2, "not_applicable": 5, "excepted": 1}
    assert population_counts(counts) == (15, 8, 5, 2)
    assert population_counts({}) == (0, 0, 0, 0)


def test_summary_population_counts_reconcile_with_the_sheets(wb):
    summary = table(wb["Summary"])
    assert list(summary[0]) == list(SUMMARY_HEADERS)
    sheets = dict(zip([r["Control ID"] for r in summary], [*POPULATION_SHEETS, "MAN-1", "AV-1"], strict=True))
    for row in summary:
        enumerated = row["Enumerated"]
        # enumerated = evaluated + excluded + not assessed, for every control
        assert enumerated == row["Evaluated"] + row["Excluded (n/a)"] + row["Not assessed (error)"], row
        assert row["Evaluated"] == row["Pass"] + row["Fail"] + row["Excepted"]
        assert row["Excluded (n/a)"] == row["Not applicable"] and row["Not assessed (error)"] == row["Error"]
        assert enumerated == row["Total"]
        # and it is the number of rows on the control's population sheet
        assert wb[sheets[row["Control ID"]]].max_row - 1 == enumerated, row["Control ID"]
    enc1 = summary[0]
    assert [enc1[h] for h in ("Enumerated", "Evaluated", "Excluded (n/a)", "Not assessed (error)")] == [5, 3, 1, 1]


def test_cover_run_block(wb):
    c = cover(wb)
    assert (c[("Run", "Audit period start")], c[("Run", "Audit period end")]) == (
        datetime(2026, 1, 1),
        datetime(2026, 11, 30),
    )
    assert c[("Caller identity", f"Account {ACCOUNT}")].startswith("arn:aws:sts::")
    assert c[("Scope", "AWS account")].startswith(ACCOUNT)
    assert c[("Totals", "Findings")] == 16
    assert c[("Exceptions", "Exceptions")] == 4
    assert (c[("Exceptions", "Exceptions active")], c[("Exceptions", "Exceptions expired")]) == (2, 1)
    assert c[("Exceptions", "Exceptions stale")] == 1
    assert ("Exceptions", "Exceptions not_yet_valid") not in c  # shown only when there is one
    assert c[("Drift", "Since the previous run")] == DRIFT_SUMMARY
    assert c[("Integrity", "This workbook")] == MANIFEST_NOTE
    assert "soc2-evidence verify RUN_DIR" in MANIFEST_NOTE
    legend = [k for k in c if k[0] in ("Check status (per resource)", "Control status")]
    assert len(legend) == len(Status) + len(ControlStatus)


def test_evidence_set_sha256_recomputed_from_the_files(wb, evidence_dir):
    run_dir, infos = evidence_dir
    # from the files themselves, as an auditor would (no use of the index's hashes)
    lines = []
    for f in run_dir.rglob("*"):
        if f.is_file():
            lines.append(f"{f.relative_to(run_dir).as_posix()} {hashlib.sha256(f.read_bytes()).hexdigest()}")
    expected = hashlib.sha256("".join(line + "\n" for line in sorted(lines)).encode("utf-8")).hexdigest()
    assert len(lines) == len(EVIDENCE_PATHS)
    assert cover(wb)[("Integrity", "Evidence set SHA-256")] == expected
    assert evidence_set_sha256((i.path, i.sha256) for i in reversed(infos)) == expected  # order-independent
    how = cover(wb)[("Integrity", "Evidence set SHA-256: how to recompute")]
    assert "manifest.json" in how and "LC_ALL=C sort | sha256sum" in how


@pytest.mark.skipif(not (shutil.which("sort") and shutil.which("sha256sum")), reason="coreutils missing")
def test_evidence_set_sha256_matches_the_documented_shell_pipeline(wb, evidence_dir, tmp_path):
    """The cover's recipe, run on a manifest.json with the run's `evidence` list (jq replaced by
    Python when jq is not installed; the sorting and hashing are coreutils')."""
    _, infos = evidence_dir
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"evidence": [{"path": i.path, "sha256": i.sha256} for i in infos]}))
    if shutil.which("jq"):
        lines = subprocess.run(
            ["jq", "-r", '.evidence[] | "\\(.path) \\(.sha256)"', str(manifest)], check=True, capture_output=True
        ).stdout
    else:
        doc = json.loads(manifest.read_text())
        lines = "".join(f"{e['path']} {e['sha256']}\n" for e in doc["evidence"]).encode()
    out = subprocess.run(
        "LC_ALL=C sort | sha256sum", shell=True, input=lines, check=True, capture_output=True
    ).stdout.decode()
    assert out.split()[0] == cover(wb)[("Integrity", "Evidence set SHA-256")]


# --- summary conditional formatting ---------------------------------------------------------------


def test_summary_status_has_conditional_formatting(wb):
    ws = wb["Summary"]
    n = ws.max_row
    ranges = {str(cf.sqref) for cf in ws.conditional_formatting}
    assert ranges == {f"D2:D{n}"}
    rules = {rule.formula[0]: rule.dxf.fill.bgColor.rgb[-6:] for cf in ws.conditional_formatting for rule in cf.rules}
    assert rules == {f'"{s}"': CONTROL_STATUS_COLORS[s] for s in ControlStatus}
    assert all(rule.operator == "equal" for cf in ws.conditional_formatting for rule in cf.rules)
