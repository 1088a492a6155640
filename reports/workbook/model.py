"""What the auditor's workbook is made from and what it is made of.

The input (`WorkbookInput` and its parts, built by `flows.report`), the sheet names and the
column headers of the fixed tables. Separate from the writer so that readers of the
workbook's columns (the CSV exports, tests, benchmarks) need neither xlsxwriter nor the
sheet code, and so that every sheet module agrees on one set of names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from controls.model import CheckSpec, ControlResult, Finding


@dataclass(frozen=True)
class ControlInfo:
    """A control of the catalog."""

    id: str
    title: str
    description: str
    criteria: tuple[str, ...]
    checks: tuple[str, ...]
    frequency: str


@dataclass(frozen=True)
class EvidenceFileInfo:
    """One raw-evidence file of the run."""

    path: str  # relative to the run dir, e.g. evidence/aws/111111111111/us-east-1/ec2/DescribeVolumes.json
    provider: str
    account: str
    region: str
    service: str
    operation: str
    parameters: str  # short summary of the parameters of the calls
    records: int  # number of recorded calls (API answers) in the file
    errors: int  # how many of them failed
    sha256: str
    collected_at: str  # ISO 8601 UTC, e.g. "2026-11-30T10:00:00.123456Z"


@dataclass(frozen=True)
class SourceListing:
    """What a source listing call returned in one scope (collectors.listings.ListedPopulation):
    the population the reconciliation on the Populations sheet counts against."""

    listing: str  # "s3:ListBuckets"
    resource_type: str
    checks: tuple[str, ...]  # the checks whose population it is
    provider: str
    account: str
    region: str  # "global": the whole account (ListBuckets, IAM, CloudFront, GCS)
    ids: tuple[str, ...]
    failed: str | None  # error code: the listing failed, the population is unknown
    evidence: str  # the evidence file


@dataclass(frozen=True)
class WorkbookInput:
    organization: str
    period_start: date
    period_end: date
    run_id: str
    started_at: datetime  # timezone-aware UTC
    finished_at: datetime  # timezone-aware UTC
    tool_version: str
    config_sha256: str
    scope: Mapping[str, Any]  # {"aws_accounts": [{"id", "name", "regions": [...]}], "gcp_projects": [...], ...}
    callers: Mapping[str, str]  # account id -> caller identity ARN, or "error: ..." text
    controls: Sequence[ControlInfo]
    control_results: Sequence[ControlResult]
    checks: Mapping[str, CheckSpec]
    findings: Sequence[Finding]
    evidence_files: Sequence[EvidenceFileInfo]
    # optional sheets (each a list of row dicts with the same keys)
    criteria: Mapping[str, str] = field(default_factory=dict)  # every TSC id -> paraphrase
    commitments: Sequence[Mapping[str, Any]] = ()  # Commitment / Source / Controls / Control status / Support
    exceptions: Sequence[Mapping[str, Any]] = ()  # controls.exceptions.ExceptionsReport.rows()
    drift_summary: str = ""  # reports.drift.Drift.summary()
    drift_rows: Sequence[Mapping[str, Any]] = ()  # control changes then Drift.rows()
    # the AWS and GCP endpoints the run talked to (flows.cloud_endpoints: "aws", "gcp", "emulated", "summary")
    endpoints: Mapping[str, Any] = field(default_factory=dict)
    listings: Sequence[SourceListing] = ()  # what the source listings enumerated (Populations sheet)


COVER_SHEET = "Cover"
CRITERIA_SHEET = "Criteria"
COMMITMENTS_SHEET = "Commitments"
EXCEPTIONS_SHEET = "Exceptions"
DRIFT_SHEET = "Drift"
SUMMARY_SHEET = "Summary"
POPULATIONS_SHEET = "Populations"
PRIVILEGED_SHEET = "Privileged access"
ERRORS_SHEET = "Errors"
EVIDENCE_SHEET = "Evidence index"

SUMMARY_HEADERS = (
    "Control ID",
    "Title",
    "Criteria",
    "Status",
    "Pass",
    "Fail",
    "Error",
    "Not applicable",
    "Excepted",
    "Total",
    "Enumerated",
    "Evaluated",
    "Excluded (n/a)",
    "Not assessed (error)",
)
POPULATIONS_HEADERS = (
    "Control ID",
    "Check",
    "Account",
    "Region",
    "Source listing",
    "Listed",
    "Judged",
    "Listed, not judged",
    "Judged, not listed",
    "Pass",
    "Fail",
    "Excepted",
    "Excluded (n/a)",
    "Not assessed (error)",
    "Reconciled",
    # not printed
    "Listing evidence",
    "Population sheet(s)",
)
POPULATIONS_PRINTED = POPULATIONS_HEADERS.index("Reconciled") + 1
# What an auditor reads first (and what is printed: Account .. Evidence file), then the rest: the
# resource type and check title (implied by the check), the evaluation time (the run's, on the
# Cover), the evidence files' SHA-256 (also on the Evidence index) and the finding's `additional`
# object (controls.additional) for the engineer who fixes it. On paper these would shrink every
# page; they are on screen, in the CSV exports and in findings.jsonl.
POPULATION_HEADERS = (
    "Account",
    "Region",
    "Resource ID",
    "Check",
    "Severity",
    "Status",
    "Observed",
    "Expected",
    "Reason",
    "Evidence file",
    "Resource type",
    "Check title",
    "Evaluated at",
    "SHA-256",
    "Remediation",
    "Resource ARN",
    "Console URL",
    "Finding ID",
)
POPULATION_PRINTED = POPULATION_HEADERS.index("Evidence file") + 1
# Widest each column gets (characters); longer text wraps.
POPULATION_WIDTHS: dict[str, float] = {
    "Account": 15,  # a 12-digit AWS account on one line
    "Region": 15,
    "Resource ID": 40,
    "Check": 28,
    "Severity": 9,
    "Status": 15,
    "Observed": 80,
    "Expected": 46,
    "Reason": 54,
    "Evidence file": 74,
    "Resource type": 28,
    "Check title": 40,
    "SHA-256": 24,
    "Remediation": 48,
    "Resource ARN": 34,
    "Console URL": 34,
    "Finding ID": 34,
}
DRIFT_HEADERS = (
    "Change",
    "Control IDs",
    "Check",
    "Account",
    "Region",
    "Resource type",
    "Resource ID",
    "Severity",
    "Was",
    "Now",
    "Failing since",
    "Reason",
    "Remediation",
    "Resource ARN",
    "Console URL",
    "Finding ID",
)
DRIFT_PRINTED = DRIFT_HEADERS.index("Remediation") + 1
DRIFT_WIDTHS: dict[str, float] = {
    **POPULATION_WIDTHS,
    "Change": 16,
    "Control IDs": 12,
    "Was": 14,
    "Now": 14,
    "Reason": 36,
    "Remediation": 40,
}
CRITERIA_HEADERS = ("Criterion", "Paraphrase", "Controls", "Status")
ERRORS_HEADERS = (
    "Account",
    "Region",
    "Check",
    "Resource ID",
    "Operation",
    "Error code",
    "Missing permission",
    "Reason",
)
ERRORS_WIDTHS: dict[str, float] = {
    "Account": 14,
    "Region": 13,
    "Check": 26,
    "Resource ID": 34,
    "Operation": 30,
    "Error code": 22,
    "Missing permission": 30,
    "Reason": 50,
}
# The file (a relative hyperlink) and its SHA-256 first, then what the call was; the provider,
# account, region and service are also in the file's path, so they come last and are not printed.
EVIDENCE_HEADERS = (
    "File",
    "SHA-256",
    "Operation",
    "Parameters",
    "Records",
    "Errors",
    "Collected at",
    "Provider",
    "Account",
    "Region",
    "Service",
)
EVIDENCE_PRINTED = EVIDENCE_HEADERS.index("Collected at") + 1
EVIDENCE_WIDTHS: dict[str, float] = {
    "File": 84,  # a hyperlink: LibreOffice shows (and prints) it on one line
    "SHA-256": 68,  # 64 hex digits on one line
    "Operation": 30,
    "Parameters": 50,
    "Provider": 10,
    "Account": 14,
    "Region": 13,
    "Service": 12,
}

# The Privileged access sheet (reports.workbook.privileged): one row per (principal, path to privilege),
# across clouds. What an auditor reads first is printed (Status .. Evidence file); the principal's ARN or
# binding ID, the check, the finding (a link to its row on the population sheet) and every evidence file
# after them, on screen and not printed.
PRIVILEGED_HEADERS = (
    "Status",
    "Cloud",
    "Account / project",
    "Principal type",
    "Principal",
    "Privilege",
    "Granted through",
    "Held by",
    "MFA",
    "Last used",
    "Reason (failed, or listed and why)",
    "Evidence file",
    "Principal ARN / ID",
    "Check",
    "Finding ID",
    "All evidence files",
)
PRIVILEGED_PRINTED = PRIVILEGED_HEADERS.index("Evidence file") + 1
PRIVILEGED_WIDTHS: dict[str, float] = {
    "Status": 15,
    "Cloud": 8,
    "Account / project": 15,
    "Principal type": 16,
    "Principal": 30,
    "Privilege": 36,
    "Granted through": 32,
    "Held by": 30,
    "MFA": 18,
    "Reason (failed, or listed and why)": 46,
    "Evidence file": 80,  # a hyperlink: LibreOffice shows (and prints) it on one line
    "Principal ARN / ID": 40,
    "Check": 30,
    "Finding ID": 34,
    "All evidence files": 60,
}

NOT_EVALUATED = "not evaluated"  # a control with findings but no ControlResult (should not happen)
NO_AUTOMATED_EVIDENCE = "no automated evidence"  # a criterion no control with checks maps to
