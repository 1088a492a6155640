"""The auditor's workbook: written, then read back and checked cell by cell."""

from __future__ import annotations

import dataclasses
import json
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from openpyxl import load_workbook
from openpyxl.utils import column_index_from_string, get_column_letter

import reports.workbook.evidence as evidence_sheet
import reports.workbook.table as table_writer
from controls.additional import additional_fields
from controls.model import (
    CheckResult,
    CheckSpec,
    ControlResult,
    ControlStatus,
    EvidenceRef,
    Finding,
    Severity,
    Status,
)
from reports.cells import (
    MAX_CELL_CHARS,
    TRUNCATION_MARKER,
    clean_text,
    datetime_cell,
    sheet_ref,
    sheet_title,
    text_cell,
    text_value,
)
from reports.workbook import (
    EVIDENCE_HEADERS,
    POPULATION_HEADERS,
    SUMMARY_HEADERS,
    ControlInfo,
    EvidenceFileInfo,
    WorkbookInput,
    write_workbook,
)
from reports.workbook.model import POPULATION_WIDTHS

RUN_ID = "20261130T100000Z-abc123"
ACCOUNT = "111111111111"
EVALUATED_AT = "2026-11-30T10:05:00.250000Z"
EBS_FILE = f"evidence/aws/{ACCOUNT}/us-east-1/ec2/DescribeVolumes.json"
EBS_SHA = "a" * 64
S3_FILE = f"evidence/aws/{ACCOUNT}/us-east-1/s3/GetBucketEncryption.json"
S3_SHA = "b" * 64

HOSTILE = [
    '=HYPERLINK("http://x","y")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "=cmd|' /C calc'!A0",
    "#N/A",  # openpyxl would store it as an error value
]
CONTROL_CHARS = "bad\x00name\x07with\x1bcontrols"

LONG_ID_A = "CC6.1-encryption-at-rest-for-every-storage-service-A"
LONG_ID_B = "CC6.1-encryption-at-rest-for-every-storage-service-B"

CHECKS = {
    "aws.ebs.encryption": CheckSpec(
        id="aws.ebs.encryption",
        title="EBS volumes are encrypted",
        description="",
        severity=Severity.HIGH,
        provider="aws",
        resource_type="AWS::EC2::Volume",
        permissions=("ec2:DescribeVolumes",),
        remediation="",
    ),
    "aws.s3.default_encryption": CheckSpec(
        id="aws.s3.default_encryption",
        title="S3 buckets have default encryption",
        description="",
        severity=Severity.MEDIUM,
        provider="aws",
        resource_type="AWS::S3::Bucket",
        permissions=("s3:GetEncryptionConfiguration",),
        remediation="",
    ),
}


def finding(
    resource_id: str,
    status: Status,
    control_ids: tuple[str, ...],
    *,
    check_id: str = "aws.ebs.encryption",
    observed: Any = None,
    expected: Any = True,
    reason: str = "",
    region: str = "us-east-1",
    evidence: tuple[EvidenceRef, ...] = (EvidenceRef(EBS_FILE, EBS_SHA),),
) -> Finding:
    """A finding as a run writes it, with its `additional` object (derived from CHECKS and the result)."""
    result = CheckResult(
        check_id=check_id,
        provider="aws",
        account=ACCOUNT,
        region=region,
        resource_type=CHECKS[check_id].resource_type if check_id in CHECKS else "Unknown",
        resource_id=resource_id,
        status=status,
        observed=observed,
        expected=expected,
        reason=reason,
        evidence=evidence,
    )
    return Finding(
        run_id=RUN_ID,
        result=result,
        control_ids=control_ids,
        criteria=("CC6.1",),
        evaluated_at=EVALUATED_AT,
        additional=additional_fields(result, CHECKS.get(check_id)),
    )


def control(cid: str, title: str, criteria: tuple[str, ...] = ("CC6.1",)) -> ControlInfo:
    return ControlInfo(cid, title, f"{title}.", criteria, ("aws.ebs.encryption",), "daily")


def result(cid: str, title: str, status: ControlStatus, criteria: tuple[str, ...] = ("CC6.1",), **counts: int):
    return ControlResult(cid, title, criteria, status, {str(s): counts.get(str(s), 0) for s in Status})


ERROR_FINDING = finding(
    "vol-denied",
    Status.ERROR,
    ("ENC-1",),
    observed={
        "operation": "DescribeVolumes",
        "error_code": "UnauthorizedOperation",
        "message": "You are not authorized to perform this operation.",
        "missing_permission": "ec2:DescribeVolumes",
    },
    expected=None,
    reason="could not list volumes: UnauthorizedOperation",
    region="eu-west-1",
)


def base_findings() -> list[Finding]:
    return [
        finding("vol-pass", Status.PASS, ("ENC-1",), observed={"Encrypted": True}),
        finding(
            "vol-fail",
            Status.FAIL,
            ("ENC-1", "ENC-2"),  # on two controls: on both population sheets
            observed={"Encrypted": False, "KmsKeyId": None},
            reason="volume is not encrypted",
        ),
        ERROR_FINDING,
        finding("vol-na", Status.NOT_APPLICABLE, ("ENC-1",), reason="volume is being deleted"),
        finding("vol-exc", Status.EXCEPTED, ("ENC-1",), observed={"Encrypted": False}, reason="exception EX-7"),
        finding(
            "bucket-ok",
            Status.PASS,
            ("ENC-2",),
            check_id="aws.s3.default_encryption",
            observed="aws:kms",
            expected=["AES256", "aws:kms"],
            evidence=(EvidenceRef(S3_FILE, S3_SHA),),
        ),
        # A role-based error whose observed names the permission under another key.
        finding(
            "bucket-denied",
            Status.ERROR,
            ("ENC-2",),
            check_id="aws.s3.default_encryption",
            observed={
                "operation": "GetBucketEncryption",
                "error_code": "AccessDenied",
                "required_permission": "s3:GetEncryptionConfiguration",
            },
            reason="AccessDenied",
            evidence=(EvidenceRef(S3_FILE, S3_SHA),),
        ),
    ]


def hostile_findings() -> list[Finding]:
    out = []
    for i, text in enumerate([*HOSTILE, CONTROL_CHARS]):
        out.append(
            finding(
                text,  # resource id
                Status.FAIL,
                ("HOSTILE/1:x",),
                observed=text,  # a string observed value stays a string
                expected={"tag": text},  # a structured one becomes JSON
                reason=text,
                region=f"r{i}",
            )
        )
    return out


def make_input(findings: list[Finding] | None = None, **overrides: Any) -> WorkbookInput:
    findings = base_findings() + hostile_findings() if findings is None else findings
    controls = [
        control("ENC-1", "Volumes are encrypted", ("CC6.1", "CC6.7")),
        control("ENC-2", "Storage is encrypted"),
        control("HOSTILE/1:x", "Hostile text is inert"),
        control(LONG_ID_A, "Long id A"),
        control(LONG_ID_B, "Long id B"),
        control("EMPTY", "Nothing in scope"),
    ]
    results = [
        result("ENC-1", "Volumes are encrypted", ControlStatus.DEFICIENT, ("CC6.1", "CC6.7"),
               **{"pass": 1, "fail": 1, "error": 1, "not_applicable": 1, "excepted": 1}),
        result("ENC-2", "Storage is encrypted", ControlStatus.DEFICIENT, **{"pass": 1, "fail": 1, "error": 1}),
        result("HOSTILE/1:x", "Hostile text is inert", ControlStatus.DEFICIENT, fail=len(HOSTILE) + 1),
        result(LONG_ID_A, "Long id A", ControlStatus.NO_EVIDENCE),
        result(LONG_ID_B, "Long id B", ControlStatus.NO_EVIDENCE),
        result("EMPTY", "Nothing in scope", ControlStatus.NO_EVIDENCE),
    ]  # fmt: skip
    evidence = [
        EvidenceFileInfo(
            path=EBS_FILE,
            provider="aws",
            account=ACCOUNT,
            region="us-east-1",
            service="ec2",
            operation="DescribeVolumes",
            parameters="MaxResults=500 (3 pages)",
            records=3,
            errors=0,
            sha256=EBS_SHA,
            collected_at="2026-11-30T10:00:00.123456Z",
        ),
        EvidenceFileInfo(
            path=S3_FILE,
            provider="aws",
            account=ACCOUNT,
            region="us-east-1",
            service="s3",
            operation="GetBucketEncryption",
            parameters="Bucket=<each of 2 buckets>",
            records=2,
            errors=1,
            sha256=S3_SHA,
            collected_at="2026-11-30T10:00:01Z",
        ),
    ]
    data: dict[str, Any] = {
        "organization": "Acme Corp",
        "period_start": date(2026, 1, 1),
        "period_end": date(2026, 11, 30),
        "run_id": RUN_ID,
        "started_at": datetime(2026, 11, 30, 10, 0, 0, tzinfo=UTC),
        "finished_at": datetime(2026, 11, 30, 10, 7, 30, tzinfo=UTC),
        "tool_version": "0.1.0",
        "config_sha256": "c" * 64,
        "scope": {
            "aws_accounts": [{"id": ACCOUNT, "name": "prod", "regions": ["us-east-1", "eu-west-1"]}],
            "gcp_projects": [{"id": "acme-prod", "name": "Acme prod"}],
            "endpoints": ["https://acme.example:443"],
        },
        "callers": {
            ACCOUNT: f"arn:aws:sts::{ACCOUNT}:assumed-role/SOC2Audit/soc2-evidence",
            "222222222222": "error: AccessDenied when calling AssumeRole",
        },
        "controls": controls,
        "control_results": results,
        "checks": CHECKS,
        "findings": findings,
        "evidence_files": evidence,
    }
    data.update(overrides)
    return WorkbookInput(**data)


def table(ws) -> list[dict[str, Any]]:
    """A sheet's rows as dicts keyed by the header row."""
    rows = list(ws.iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def cells_by_header(ws) -> list[dict[str, Any]]:
    rows = list(ws.iter_rows())
    headers = [c.value for c in rows[0]]
    return [dict(zip(headers, row, strict=True)) for row in rows[1:]]


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wb") / "Acme-SOC2-evidence-2026-11-30.xlsx"
    write_workbook(path, make_input())
    return path


@pytest.fixture(scope="module")
def wb(written):
    return load_workbook(written)


POPULATION_SHEETS = ["ENC-1", "ENC-2", "HOSTILE_1_x", LONG_ID_A[:31], LONG_ID_B[:27] + " (2)", "EMPTY"]
HEAD_SHEETS = ["Cover", "Summary", "Populations", "Privileged access", "Criteria", "Commitments"]
TAIL_SHEETS = ["Exceptions", "Drift", "Errors", "Evidence index"]


# --- structure ------------------------------------------------------------------------------------


def test_sheet_names_and_order(wb):
    assert wb.sheetnames == [*HEAD_SHEETS, *POPULATION_SHEETS, *TAIL_SHEETS]
    assert all(len(name) <= 31 for name in wb.sheetnames)


# frozen panes: the header row, and the key columns that stay in view when scrolling right
FROZEN = {"Cover": "A2", "Commitments": "A2", "Exceptions": "A2", "Errors": "C2", "Drift": "A2"}
FROZEN |= {name: "D2" for name in POPULATION_SHEETS} | {"Summary": "B2", "Populations": "C2", "Criteria": "B2"}
FROZEN["Evidence index"] = "B2"
FROZEN["Privileged access"] = "F2"  # status .. principal


def test_every_sheet_has_frozen_bold_header_and_autofilter(wb):
    for ws in wb.worksheets:
        assert ws.freeze_panes == FROZEN[ws.title], ws.title
        header = ws[1]
        assert all(c.font.b for c in header), ws.title
        assert ws.auto_filter.ref == f"A1:{header[-1].column_letter}{ws.max_row}", ws.title
        widths = [ws.column_dimensions[c.column_letter].width for c in header]
        assert all(8 <= w <= 110 for w in widths), (ws.title, widths)


def test_every_sheet_prints_landscape_fitted_to_width_with_titles_and_wrapped_text(wb):
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.page_setup.fitToWidth in (None, 1), ws.title  # 1 is the default, omitted in the file
        # the Summary on one page (1, the default, is omitted in the file); the rest as tall as needed
        tall = ws.page_setup.fitToHeight
        assert (tall in (None, 1)) if ws.title == "Summary" else tall == 0, ws.title
        assert ws.print_title_rows == "$1:$1", ws.title
        assert ws.print_options.gridLines, ws.title
        assert "&A" in ws.oddHeader.left.text and "Acme Corp" in ws.oddHeader.right.text, ws.title
        assert "&P of &N" in ws.oddFooter.right.text, ws.title
        # printed columns wrap; the columns after the print area stay on one line (rows are not sized for them)
        printed = ws.max_column
        if ws.print_area:
            printed = column_index_from_string(ws.print_area.split(":")[-1].strip("$0123456789"))
        for row in ws.iter_rows(min_row=1, max_row=min(ws.max_row, 5)):
            for cell in row:
                if cell.data_type == "s" and cell.value:
                    assert bool(cell.alignment.wrap_text) == (cell.column <= printed), (ws.title, cell.coordinate)
                    assert cell.alignment.vertical == "top", (ws.title, cell.coordinate)


def test_wrapped_rows_get_their_height(tmp_path):
    """LibreOffice does not grow a row for wrapped text (Excel does): the height is written, from the font's widths."""
    long_reason = "the bucket has no default encryption configuration and accepts unencrypted uploads " * 3
    not_printed = finding("wide-but-not-printed", Status.PASS, ("ENC-1",), reason="ok", evidence=())
    extra = {**not_printed.additional, "remediation": "a long remediation text " * 20}
    findings = [
        finding("short", Status.PASS, ("ENC-1",), reason="ok", evidence=()),
        finding("long", Status.FAIL, ("ENC-1",), reason=long_reason, evidence=()),
        finding("lines", Status.FAIL, ("ENC-1",), reason="one\ntwo\nthree\nfour", evidence=()),
        dataclasses.replace(not_printed, additional=extra),
    ]
    path = tmp_path / "wb.xlsx"
    write_workbook(path, make_input(findings=findings))
    ws = load_workbook(path)["ENC-1"]
    rid = POPULATION_HEADERS.index("Resource ID") + 1
    heights = {ws.cell(r, rid).value: ws.row_dimensions[r].height for r in range(2, ws.max_row + 1)}
    assert heights["short"] is None  # one line: the default height
    assert heights["lines"] == 60  # four lines of 15 pt
    room = POPULATION_WIDTHS["Reason"] * 7 - 8
    assert 15 * 3 <= heights["long"] <= 15 * (-(-len(long_reason) * 7 // room) + 1)
    assert heights["wide-but-not-printed"] is None  # its long remediation is not printed: one line


def test_population_sheets_print_the_reading_columns(wb):
    for name in POPULATION_SHEETS:
        ws = wb[name]
        last = get_column_letter(POPULATION_HEADERS.index("Evidence file") + 1)
        assert ws.print_area == f"'{name}'!$A$1:${last}${max(ws.max_row, 2)}", name
    assert not wb["Summary"].print_area  # every column


def test_no_formula_anywhere_in_the_package(written):
    with zipfile.ZipFile(written) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")]
        assert len(sheets) == len(HEAD_SHEETS) + len(POPULATION_SHEETS) + len(TAIL_SHEETS)
        for name in sheets:
            xml = z.read(name).decode("utf-8")
            assert "<f>" not in xml and "<f " not in xml, name


def test_write_leaves_only_the_workbook(written):
    assert [p.name for p in written.parent.iterdir()] == [written.name]


# --- cover ----------------------------------------------------------------------------------------


def test_cover(wb):
    rows = table(wb["Cover"])
    by_item = {(r["Section"], r["Item"]): r["Value"] for r in rows}
    assert by_item[("Run", "Organization")] == "Acme Corp"
    assert by_item[("Run", "Run ID")] == RUN_ID
    assert by_item[("Run", "Audit period start")] == datetime(2026, 1, 1)
    assert by_item[("Run", "Audit period end")] == datetime(2026, 11, 30)
    assert by_item[("Run", "Started (UTC)")] == datetime(2026, 11, 30, 10, 0, 0)
    assert by_item[("Run", "Finished (UTC)")] == datetime(2026, 11, 30, 10, 7, 30)
    assert by_item[("Run", "Tool version")] == "0.1.0"
    assert by_item[("Run", "Config SHA-256")] == "c" * 64
    assert by_item[("Scope", "AWS account")] == f"{ACCOUNT} (prod); regions: us-east-1, eu-west-1"
    assert by_item[("Scope", "GCP project")] == "acme-prod (Acme prod)"
    assert by_item[("Scope", "Endpoint")] == "https://acme.example:443"
    assert by_item[("Caller identity", f"Account {ACCOUNT}")].endswith("assumed-role/SOC2Audit/soc2-evidence")
    assert by_item[("Caller identity", "Account 222222222222")].startswith("error: AccessDenied")
    assert by_item[("Totals", "Findings")] == 7 + len(HOSTILE) + 1
    assert by_item[("Totals", "Findings error")] == 2
    assert by_item[("Totals", "Evidence files")] == 2
    assert by_item[("Totals", "Evidence records (API answers)")] == 5
    legend = {r["Item"] for r in rows if r["Section"] in ("Check status (per resource)", "Control status")}
    assert legend == {str(s) for s in Status} | {str(s) for s in ControlStatus}
    assert all(r["Value"] for r in rows if r["Item"] in legend)

    cells = {(r["Section"].value, r["Item"].value): r["Value"] for r in cells_by_header(wb["Cover"])}
    for item in ("Started (UTC)", "Finished (UTC)", "Audit period start"):
        assert cells[("Run", item)].is_date, item
    assert cells[("Run", "Started (UTC)")].number_format == "yyyy-mm-dd hh:mm:ss"


# --- summary --------------------------------------------------------------------------------------


def test_summary_rows_counts_and_links(wb):
    ws = wb["Summary"]
    rows = table(ws)
    assert [r["Control ID"] for r in rows] == ["ENC-1", "ENC-2", "HOSTILE/1:x", LONG_ID_A, LONG_ID_B, "EMPTY"]
    assert list(rows[0]) == list(SUMMARY_HEADERS)
    enc1 = rows[0]
    assert enc1["Title"] == "Volumes are encrypted"
    assert enc1["Criteria"] == "CC6.1, CC6.7"
    assert enc1["Status"] == "deficient"
    assert [enc1[h] for h in ("Pass", "Fail", "Error", "Not applicable", "Excepted", "Total")] == [1, 1, 1, 1, 1, 5]
    assert [enc1[h] for h in ("Enumerated", "Evaluated", "Excluded (n/a)", "Not assessed (error)")] == [5, 3, 1, 1]
    assert rows[1]["Total"] == 3
    assert rows[-1]["Status"] == "no_evidence" and rows[-1]["Total"] == 0

    for row, sheet in zip(cells_by_header(ws), POPULATION_SHEETS, strict=True):
        link = row["Control ID"].hyperlink
        assert link is not None and link.target is None
        assert link.location == sheet_ref(sheet) == f"'{sheet}'!A1"
        assert sheet in wb.sheetnames


def test_summary_status_cells_are_coloured(wb):
    cells = cells_by_header(wb["Summary"])
    colours = {row["Status"].value: row["Status"].fill.fgColor.rgb for row in cells}
    assert colours["deficient"].endswith("FFC7CE")
    assert colours["no_evidence"].endswith("D9D9D9")


def test_summary_colours_every_control_status(tmp_path):
    statuses = list(ControlStatus)
    data = make_input(
        findings=[],
        controls=[control(f"C{i}", s) for i, s in enumerate(statuses)],
        control_results=[result(f"C{i}", s, s) for i, s in enumerate(statuses)],
    )
    write_workbook(tmp_path / "wb.xlsx", data)
    cells = cells_by_header(load_workbook(tmp_path / "wb.xlsx")["Summary"])
    got = {row["Status"].value: row["Status"].fill.fgColor.rgb[-6:] for row in cells}
    assert got == {"effective": "C6EFCE", "deficient": "FFC7CE", "incomplete": "FFEB9C", "no_evidence": "D9D9D9"}


# --- populations ----------------------------------------------------------------------------------


def test_population_rows(wb):
    ws = wb["ENC-1"]
    rows = table(ws)
    assert list(rows[0]) == list(POPULATION_HEADERS)
    assert [r["Resource ID"] for r in rows] == ["vol-pass", "vol-fail", "vol-denied", "vol-na", "vol-exc"]
    assert [r["Status"] for r in rows] == ["pass", "fail", "error", "not_applicable", "excepted"]
    fail = rows[1]
    assert fail["Account"] == ACCOUNT
    assert fail["Region"] == "us-east-1"
    assert fail["Resource type"] == "AWS::EC2::Volume"
    assert fail["Check"] == "aws.ebs.encryption"
    assert fail["Check title"] == "EBS volumes are encrypted"
    assert fail["Severity"] == "high"
    assert fail["Observed"] == '{"Encrypted":false,"KmsKeyId":null}'
    assert json.loads(fail["Observed"]) == {"Encrypted": False, "KmsKeyId": None}
    assert fail["Expected"] == "true"
    assert fail["Reason"] == "volume is not encrypted"
    assert fail["Evidence file"] == EBS_FILE
    assert fail["SHA-256"] == EBS_SHA
    assert fail["Evaluated at"] == datetime(2026, 11, 30, 10, 5, 0, 250000)

    evaluated = [row["Evaluated at"] for row in cells_by_header(ws)]
    assert all(c.is_date and c.number_format == "yyyy-mm-dd hh:mm:ss" for c in evaluated)


def test_finding_on_two_controls_is_on_both_sheets(wb):
    enc2 = table(wb["ENC-2"])
    assert [r["Resource ID"] for r in enc2] == ["vol-fail", "bucket-ok", "bucket-denied"]
    assert "vol-fail" in [r["Resource ID"] for r in table(wb["ENC-1"])]
    ok = enc2[1]
    assert ok["Observed"] == "aws:kms"  # a string stays as is
    assert ok["Expected"] == '["AES256","aws:kms"]'
    assert ok["Severity"] == "medium"


def test_empty_population_sheet_has_header_only(wb):
    ws = wb["EMPTY"]
    assert ws.max_row == 1
    assert [c.value for c in ws[1]] == list(POPULATION_HEADERS)
    assert ws.auto_filter.ref == f"A1:{get_column_letter(len(POPULATION_HEADERS))}1"


def test_population_status_conditional_formatting(wb):
    ws = wb["ENC-1"]
    ranges = {str(cf.sqref) for cf in ws.conditional_formatting}
    status = get_column_letter(POPULATION_HEADERS.index("Status") + 1)
    assert ranges == {f"{status}2:{status}6"}
    rules = [rule for cf in ws.conditional_formatting for rule in cf.rules]
    assert {rule.formula[0] for rule in rules} == {f'"{s}"' for s in Status}


def test_population_read_by_pandas(written):
    df = pd.read_excel(written, sheet_name="ENC-2", engine="openpyxl", dtype={"Account": str})
    assert list(df.columns) == list(POPULATION_HEADERS)
    assert df["Account"].tolist() == [ACCOUNT] * 3
    assert df["Status"].tolist() == ["fail", "pass", "error"]
    assert pd.api.types.is_datetime64_any_dtype(df["Evaluated at"])
    assert df["Evaluated at"].iloc[0] == pd.Timestamp("2026-11-30 10:05:00.250")


# --- hostile text ---------------------------------------------------------------------------------


def test_hostile_text_is_stored_as_text(wb):
    ws = wb["HOSTILE_1_x"]
    rows = cells_by_header(ws)
    expected = [t.replace("\r", "\n") for t in HOSTILE] + ["badnamewithcontrols"]
    assert [r["Resource ID"].value for r in rows] == expected
    for row, text, original in zip(rows, expected, [*HOSTILE, CONTROL_CHARS], strict=True):
        for header in ("Resource ID", "Observed", "Reason"):
            cell = row[header]
            assert cell.data_type == "s", (header, text)
            assert cell.value == text, header
        assert row["Expected"].data_type == "s"
        assert json.loads(row["Expected"].value) == {"tag": original}  # JSON escapes control chars: kept
        needs_prefix = text[0] in "=+-@\t\n" or text == "#N/A"
        assert row["Resource ID"].quotePrefix is needs_prefix
    # Ordinary text does not get the quote prefix.
    assert cells_by_header(wb["ENC-1"])[0]["Resource ID"].quotePrefix is False


def test_hostile_text_through_pandas(written):
    df = pd.read_excel(written, sheet_name="HOSTILE_1_x", engine="openpyxl", keep_default_na=False)
    assert df["Resource ID"].tolist()[:4] == HOSTILE[:4]
    assert df["Resource ID"].tolist()[7] == "#N/A"  # a string (pandas would read it as NaN by default)


def test_text_cell_unit():
    from openpyxl import Workbook

    ws = Workbook(write_only=True).create_sheet("x")
    for text in HOSTILE:
        cell = text_cell(ws, text)
        assert cell.data_type == "s"
        assert cell.quotePrefix is True
        fast = text_value(ws, text)
        assert not isinstance(fast, str) and fast.data_type == "s" and fast.quotePrefix is True
    assert text_value(ws, "vol-1\x00") == "vol-1"  # plain str: openpyxl stores it as a string
    assert text_value(ws, "=").quotePrefix is True
    assert text_value(ws, None) is None
    plain = text_cell(ws, "vol-123")
    assert (plain.value, plain.data_type, plain.quotePrefix) == ("vol-123", "s", False)
    assert text_cell(ws, "a\x00b\x07c\x1bd\ud800e\uffff").value == "abcde"
    assert text_cell(ws, "tab\tand\nnewline").value == "tab\tand\nnewline"
    assert text_cell(ws, 123).value == "123" and text_cell(ws, 123).data_type == "s"
    assert text_cell(ws, None).value is None


def test_xlsx_text_is_stored_as_clean_text():
    # xlsxwriter escapes `_xHHHH_` itself: what it stores for xlsx_text(x) is clean_text(x).
    from xlsxwriter.xmlwriter import XMLwriter

    from reports.cells import needs_quote_prefix, xlsx_text

    stored = XMLwriter._escape_control_characters
    for text in [*HOSTILE, CONTROL_CHARS, "_x003D_1", "_x005F_x0041_", "a_x0041__x0042_b", "r" * 40_000, "\r\n"]:
        assert stored(xlsx_text(text)) == clean_text(text), text[:20]
        assert needs_quote_prefix(xlsx_text(text)) is needs_quote_prefix(clean_text(text))


def test_plain_text_fast_path_agrees_with_clean_text():
    # The writer's fast path (text written as is, no quote prefix) must only take text that
    # clean_text keeps unchanged and that needs no quote prefix.
    import random

    from reports.cells import PLAIN_TEXT_MAX_LEN, is_plain_text, needs_quote_prefix, not_plain_text

    rng = random.Random(7)
    alphabet = ["a", "_", "x", "0", "F", "5", "=", "+", "-", "@", "#", "\t", "\r", "\n", "\x00", "\ufffe", "😀", " "]
    alphabet += ["\xa0", "\u200b", "\ud800", "\uffff", "\x7f", "\x85", "é"]  # not printable, or not ASCII
    samples = [*HOSTILE, CONTROL_CHARS, "#N/A", "#DIV/0!", "#tag", "_x0041_", "y" * MAX_CELL_CHARS, "vol-1", ""]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(20_000)]
    for text in samples:
        if is_plain_text(text):
            assert clean_text(text) == text and not needs_quote_prefix(text), repr(text[:20])
        # the printable shortcut decides exactly as the full search does
        searched = len(text) <= PLAIN_TEXT_MAX_LEN and not_plain_text(text) is None
        assert is_plain_text(text) is searched, repr(text[:20])


def test_long_text_is_truncated_with_marker():
    long = "x" * 40_000
    cut = clean_text(long)
    assert len(cut) == MAX_CELL_CHARS and cut.endswith(TRUNCATION_MARKER)
    exact = "y" * MAX_CELL_CHARS
    assert clean_text(exact) == exact
    emoji = "😀" * 20_000  # 2 UTF-16 units each: Excel counts 40,000
    cut = clean_text(emoji)
    assert cut.endswith(TRUNCATION_MARKER)
    assert len(cut.encode("utf-16-le")) // 2 <= MAX_CELL_CHARS


def test_ooxml_escape_lookalikes_are_escaped():
    # Excel would show `_x003D_1` as "=1"; escaped, it shows the original text.
    assert clean_text("_x003D_1") == "_x005F_x003D_1"
    assert clean_text("a_xyz_b") == "a_xyz_b"


def test_long_text_round_trip(tmp_path):
    data = make_input(findings=[finding("vol-long", Status.FAIL, ("ENC-1",), reason="r" * 40_000)])
    write_workbook(tmp_path / "wb.xlsx", data)
    reason = table(load_workbook(tmp_path / "wb.xlsx")["ENC-1"])[0]["Reason"]
    assert len(reason) == MAX_CELL_CHARS and reason.endswith(TRUNCATION_MARKER)


def test_datetime_cell_unit():
    from openpyxl import Workbook

    ws = Workbook(write_only=True).create_sheet("x")
    cell = datetime_cell(ws, "2026-11-30T10:00:00.123456Z")
    assert cell.value == datetime(2026, 11, 30, 10, 0, 0, 123456) and cell.value.tzinfo is None
    assert cell.number_format == "yyyy-mm-dd hh:mm:ss"
    from datetime import timedelta, timezone

    paris = datetime(2026, 11, 30, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    assert datetime_cell(ws, paris).value == datetime(2026, 11, 30, 10, 0)
    assert datetime_cell(ws, "2026-11-30T12:00:00+02:00").value == datetime(2026, 11, 30, 10, 0)
    assert datetime_cell(ws, date(2026, 1, 1)).number_format == "yyyy-mm-dd"
    garbage = datetime_cell(ws, "=not a date")
    assert (garbage.value, garbage.data_type) == ("=not a date", "s")
    assert datetime_cell(ws, None).value is None


# --- sheet names ----------------------------------------------------------------------------------


def test_sheet_title_edge_cases():
    taken = {"Cover", "Summary", "Errors", "Evidence index"}
    assert sheet_title("CC6.1/a:b[c]*?\\", taken) == "CC6.1_a_b_c____"
    long_a = sheet_title(LONG_ID_A, taken)
    long_b = sheet_title(LONG_ID_B, taken)
    assert long_a == LONG_ID_A[:31]
    assert len(long_b) == 31 and long_b.endswith(" (2)") and long_b != long_a
    assert sheet_title(LONG_ID_A, taken).endswith(" (3)")
    assert sheet_title("summary", taken) == "summary (2)"  # unique ignoring case, like Excel
    assert sheet_title("", taken) == "Sheet"
    assert sheet_title("'quoted'", taken) == "quoted"
    assert sheet_title("History", taken) == "History_"
    assert sheet_title("a\x00b", taken) == "ab"
    assert all(len(t) <= 31 for t in taken)
    assert sheet_ref("it's") == "'it''s'!A1"


# --- errors and evidence --------------------------------------------------------------------------


def test_errors_sheet(wb):
    rows = table(wb["Errors"])
    assert [r["Resource ID"] for r in rows] == ["vol-denied", "bucket-denied"]
    ebs = rows[0]
    assert ebs == {
        "Account": ACCOUNT,
        "Region": "eu-west-1",
        "Check": "aws.ebs.encryption",
        "Resource ID": "vol-denied",
        "Operation": "DescribeVolumes",
        "Error code": "UnauthorizedOperation",
        "Missing permission": "ec2:DescribeVolumes",
        "Reason": "could not list volumes: UnauthorizedOperation",
    }
    assert rows[1]["Missing permission"] == "s3:GetEncryptionConfiguration"
    assert rows[1]["Error code"] == "AccessDenied"


def test_evidence_index(wb):
    ws = wb["Evidence index"]
    rows = table(ws)
    assert list(rows[0]) == list(EVIDENCE_HEADERS)
    assert [r["File"] for r in rows] == [EBS_FILE, S3_FILE]
    assert rows[0]["SHA-256"] == EBS_SHA
    assert rows[1]["SHA-256"] == S3_SHA
    assert (rows[0]["Records"], rows[0]["Errors"]) == (3, 0)
    assert (rows[1]["Records"], rows[1]["Errors"]) == (2, 1)
    assert rows[0]["Account"] == ACCOUNT  # text, not a number
    assert rows[0]["Parameters"] == "MaxResults=500 (3 pages)"
    assert rows[0]["Collected at"] == datetime(2026, 11, 30, 10, 0, 0, 123000)  # Excel keeps milliseconds
    assert rows[1]["Collected at"] == datetime(2026, 11, 30, 10, 0, 1)
    assert all(r["Collected at"].is_date for r in cells_by_header(ws))


def test_evidence_files_are_relative_hyperlinks_that_survive_zipping(written, wb):
    """Each evidence file of the index links to the file beside the workbook: a relative, external
    target with forward slashes (what Excel writes; Excel for Mac and LibreOffice resolve it), so the
    link works wherever the run folder is unzipped; console links are absolute https URLs."""
    cells = cells_by_header(wb["Evidence index"])
    assert [c["File"].hyperlink.target for c in cells] == [EBS_FILE, S3_FILE]
    sheet = wb.sheetnames.index("Evidence index") + 1
    with zipfile.ZipFile(written) as z:
        rels = z.read(f"xl/worksheets/_rels/sheet{sheet}.xml.rels").decode()
        population_rels = z.read(f"xl/worksheets/_rels/sheet{len(HEAD_SHEETS) + 1}.xml.rels").decode()  # ENC-1
    for path in (EBS_FILE, S3_FILE):
        assert f'Target="{path}" TargetMode="External"' in rels
    assert "\\" not in rels and "file:" not in rels  # not absolute, not Windows-style
    # a console URL's fragment is the hyperlink's location, as Excel stores it (the link opens url#location)
    assert 'Target="https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1"' in population_rels
    console = next(c["Console URL"] for c in cells_by_header(wb["ENC-1"]) if c["Resource ID"].value == "vol-pass")
    link = console.hyperlink
    assert (
        f"{link.target}#{link.location}"
        == console.value
        == "https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#VolumeDetails:volumeId=vol-pass"
    )


# --- scale ----------------------------------------------------------------------------------------


def test_large_population_streams(tmp_path):
    n = 40_000
    findings = [
        finding(f"vol-{i:06d}", Status.PASS if i % 3 else Status.FAIL, ("ENC-1",), observed={"Encrypted": bool(i % 3)})
        for i in range(n)
    ]
    path = tmp_path / "big.xlsx"
    # No time limit here: speed is measured in bench/bench_workbook.py, not asserted in a test.
    write_workbook(path, make_input(findings=findings))

    # Read the sheet's XML rather than loading 40,000 rows back.
    with zipfile.ZipFile(path) as z:
        sheet_index = load_workbook(path, read_only=True).sheetnames.index("ENC-1") + 1
        xml = z.read(f"xl/worksheets/sheet{sheet_index}.xml").decode("utf-8")
    assert xml.count("<row ") == n + 1
    assert f'<row r="{n + 1}">' in xml and f"vol-{n - 1:06d}" in xml
    assert f'<autoFilter ref="A1:{get_column_letter(len(POPULATION_HEADERS))}{n + 1}"' in xml
    assert "<f>" not in xml


def test_population_past_the_row_limit_continues_on_next_sheet(tmp_path, monkeypatch):
    monkeypatch.setattr(table_writer, "MAX_SHEET_ROWS", 60)  # header + 59 rows per sheet
    findings = [finding(f"vol-{i}", Status.PASS, ("ENC-1",)) for i in range(130)]
    write_workbook(tmp_path / "wb.xlsx", make_input(findings=findings))
    wb = load_workbook(tmp_path / "wb.xlsx")
    at = wb.sheetnames.index("ENC-1")
    assert wb.sheetnames[at : at + 3] == ["ENC-1", "ENC-1 (2)", "ENC-1 (3)"]
    ids = [r["Resource ID"] for name in ("ENC-1", "ENC-1 (2)", "ENC-1 (3)") for r in table(wb[name])]
    assert ids == [f"vol-{i}" for i in range(130)]
    assert [wb[name].max_row for name in ("ENC-1", "ENC-1 (2)", "ENC-1 (3)")] == [60, 60, 13]
    assert wb["ENC-1 (3)"].auto_filter.ref == f"A1:{get_column_letter(len(POPULATION_HEADERS))}13"
    assert wb["ENC-1 (2)"].freeze_panes == "D2"
    populations = {r["Control ID"]: r for r in table(wb["Populations"])}
    assert populations["ENC-1"]["Population sheet(s)"] == "ENC-1, ENC-1 (2), ENC-1 (3)"


# --- atomicity ------------------------------------------------------------------------------------


class NotJson:
    pass


def test_failed_write_leaves_nothing(tmp_path):
    findings = [finding(f"vol-{i}", Status.PASS, ("ENC-1",)) for i in range(100)]
    findings.append(finding("vol-bad", Status.FAIL, ("ENC-1",), observed=NotJson()))
    target = tmp_path / "out" / "wb.xlsx"
    with pytest.raises(TypeError):
        write_workbook(target, make_input(findings=findings))
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_failed_rewrite_keeps_the_previous_workbook(tmp_path, monkeypatch):
    target = tmp_path / "wb.xlsx"
    write_workbook(target, make_input())
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(evidence_sheet, "evidence_rows", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        write_workbook(target, make_input())
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["wb.xlsx"]


def test_failed_write_removes_xlsxwriter_sheet_buffers(tmp_path, monkeypatch):
    import tempfile

    import xlsxwriter

    buffers = tmp_path / "tmp"
    buffers.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(buffers))
    # xlsxwriter's constant_memory mode streams each sheet into a temp file there...
    probe = xlsxwriter.Workbook(str(tmp_path / "probe.xlsx"), {"constant_memory": True})
    probe.add_worksheet("x").write_string(0, 0, "header")  # (an empty sheet's buffer is never removed)
    assert list(buffers.iterdir()) != []
    probe.close()
    assert list(buffers.iterdir()) == []
    # ...and a failed write (sheets already streamed, one half written) leaves none behind.
    findings = [finding("vol-bad", Status.FAIL, ("ENC-1",), observed=NotJson())]
    with pytest.raises(TypeError):
        write_workbook(tmp_path / "out" / "wb.xlsx", make_input(findings=findings))
    assert list(buffers.iterdir()) == []


def test_control_id_with_apostrophe_links_to_its_sheet(tmp_path):
    cid = "O'Brien's [ctl]"
    data = make_input(
        findings=[finding("vol-1", Status.PASS, (cid,))],
        controls=[control(cid, "Quoted")],
        control_results=[result(cid, "Quoted", ControlStatus.EFFECTIVE, **{"pass": 1})],
    )
    write_workbook(tmp_path / "wb.xlsx", data)
    wb = load_workbook(tmp_path / "wb.xlsx")
    assert wb.sheetnames == [*HEAD_SHEETS, "O'Brien's _ctl_", *TAIL_SHEETS]
    link = wb["Summary"]["A2"].hyperlink
    assert link.location == "'O''Brien''s _ctl_'!A1"
    assert [r["Resource ID"] for r in table(wb["O'Brien's _ctl_"])] == ["vol-1"]


def test_findings_on_unknown_controls_are_not_hidden(tmp_path):
    data = make_input(findings=[finding("vol-1", Status.FAIL, ("NOT-IN-CATALOG",))])
    write_workbook(tmp_path / "wb.xlsx", data)
    wb = load_workbook(tmp_path / "wb.xlsx")
    assert "NOT-IN-CATALOG" in wb.sheetnames
    summary = {r["Control ID"]: r for r in table(wb["Summary"])}
    assert summary["NOT-IN-CATALOG"]["Status"] == "not evaluated"
    assert summary["NOT-IN-CATALOG"]["Fail"] == 1
