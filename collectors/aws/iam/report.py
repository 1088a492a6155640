"""The IAM credential report read back from the evidence: parsed rows, dates, and why it is missing.

One CSV row per user (and the root account, "<root_account>") with password / MFA /
access-key state, rotation and last-use dates. AWS caches the report for up to 4 hours:
every result derived from it states "report_generated_at" and "report_age_hours" at the
run's evaluation time (as_of). No report (not generated in time, denied, unreadable) is a
failed call the checks turn into `error` results, never a pass. Separate from the fetch
(collector.py) because the access review reads the same report without running any check.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from collectors.aws.iam.collector import REPORT_POLL_LIMIT_S, _missing
from collectors.evidence import ApiCall, EvidenceBundle
from controls import EvidenceRef

ROOT = "<root_account>"  # the root account's row in the credential report, and its resource id here
NOT_A_DATE = frozenset({"", "N/A", "no_information", "not_supported"})


def parse_date(value: str | None) -> datetime | None:
    """An ISO date of the credential report; None for N/A, no_information, not_supported or garbage."""
    if value is None or value.strip() in NOT_A_DATE:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _days(as_of: datetime, then: datetime) -> int:
    return int((as_of - then).total_seconds() // 86400)


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


@dataclass
class CredentialReport:
    rows: dict[str, dict[str, str]]  # user name (or ROOT) -> row
    generated_at: str | None
    age_hours: float | None

    def observed(self) -> dict[str, Any]:
        return {"report_generated_at": self.generated_at, "report_age_hours": self.age_hours}

    @property
    def root(self) -> dict[str, str] | None:
        return self.rows.get(ROOT)

    def users(self) -> Iterator[tuple[str, dict[str, str]]]:
        for name, row in self.rows.items():
            if name != ROOT:
                yield name, row


def credential_report(bundle: EvidenceBundle, as_of: datetime) -> tuple[CredentialReport | None, ApiCall | None]:
    """The parsed report, or the failure that explains why there is none (the root cause first)."""
    generated = bundle.all("iam", "GenerateCredentialReport")
    got = bundle.all("iam", "GetCredentialReport")
    last_get = got[-1] if got else None
    if last_get is None or not last_get.ok:
        if generated and not generated[-1].ok:
            return None, generated[-1]
        if last_get is not None:
            return None, last_get
        if generated:
            state = (generated[-1].response or {}).get("State")
            polls = len(generated)
            return None, _missing(
                "GenerateCredentialReport",
                "ReportNotComplete",
                f"credential report State {state} after {polls} polls within {REPORT_POLL_LIMIT_S:.0f} s",
            )
        return None, _missing("GetCredentialReport", "NotCollected", "no recorded credential report")
    answer = last_get.response or {}
    content = answer.get("Content")
    if not isinstance(content, str) or not content.strip():
        return None, _missing("GetCredentialReport", "UnreadableReport", "the credential report has no CSV content")
    reader = csv.DictReader(io.StringIO(content.lstrip("\ufeff")))
    if not reader.fieldnames or "user" not in reader.fieldnames:
        return None, _missing("GetCredentialReport", "UnreadableReport", "the credential report has no 'user' column")
    rows = {row["user"]: {k: (v or "") for k, v in row.items() if k is not None} for row in reader if row.get("user")}
    generated_at = answer.get("GeneratedTime")
    when = parse_date(generated_at) if isinstance(generated_at, str) else None
    age = round((as_of - when).total_seconds() / 3600, 2) if when else None
    return CredentialReport(rows, generated_at, age), None


def _report_refs(bundle: EvidenceBundle) -> tuple[EvidenceRef, ...]:
    return bundle.refs_for(("iam", "GetCredentialReport"), ("iam", "GenerateCredentialReport"))


def _not_in_report(report: CredentialReport, user: str) -> ApiCall:
    return _missing(
        "GetCredentialReport",
        "NotInCredentialReport",
        f"user {user} is not in the credential report generated at {report.generated_at} "
        "(created after it? AWS caches the report for up to 4 hours)",
    )
