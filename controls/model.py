"""The shared vocabulary: statuses, check metadata, check results and findings.

Everything here is plain data so that results can cross process boundaries
(Prefect task runners, Dask workers) and be re-created from stored evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """Outcome of one check on one resource."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"  # not assessed: the evidence could not be collected
    NOT_APPLICABLE = "not_applicable"
    EXCEPTED = "excepted"  # a fail covered by an approved, unexpired exception


class ControlStatus(StrEnum):
    """Outcome of one control over all the results mapped to it."""

    EFFECTIVE = "effective"
    DEFICIENT = "deficient"
    INCOMPLETE = "incomplete"
    NO_EVIDENCE = "no_evidence"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True)
class CheckSpec:
    """Metadata a check declares about itself (Prowler-style), used by the
    catalog validation, the permissions policy and the reports."""

    id: str
    title: str
    description: str
    severity: Severity
    provider: str
    resource_type: str
    permissions: tuple[str, ...]
    remediation: str
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    risk: str = ""


@dataclass(frozen=True, slots=True)
class EvidenceRef:
    """A pointer from a result to the raw evidence file it was derived from."""

    path: str
    sha256: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's verdict on one resource.

    For `error` results `observed` holds what went wrong (operation, error
    code, message, missing permission), so an auditor sees why the resource
    was not assessed.
    """

    check_id: str
    provider: str
    account: str
    region: str
    resource_type: str
    resource_id: str
    status: Status
    observed: Any
    expected: Any
    reason: str
    evidence: tuple[EvidenceRef, ...] = ()

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        """Identity of the (check, resource) pair across runs."""
        return (self.check_id, self.provider, self.account, self.region, self.resource_id)


FINDING_FIELDS: tuple[str, ...] = (
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
    "additional",
)
# The keys of a finding's `additional` object, in the order they are written (controls.additional).
ADDITIONAL_FIELDS: tuple[str, ...] = ("finding_id", "severity", "resource_arn", "console_url", "remediation")


@dataclass(frozen=True, slots=True)
class Finding:
    """A CheckResult placed in a run and mapped to controls: one line of
    findings.jsonl (the machine contract of DESIGN.md).

    `additional` holds what an engineer needs to act on the finding (ADDITIONAL_FIELDS: a stable
    finding_id, the check's severity and remediation, the resource's ARN and console URL). It is
    one nested object, written last, so the contract's original fields keep their place and a
    reader that does not know it can ignore one key; it derives from the check's metadata and
    the result only (controls.additional), so re-evaluating a run gives the same bytes. Empty
    for findings written before it existed (the key is then omitted)."""

    run_id: str
    result: CheckResult
    control_ids: tuple[str, ...]
    criteria: tuple[str, ...]
    evaluated_at: str  # UTC ISO 8601
    additional: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        r = self.result
        row = {
            "run_id": self.run_id,
            "check_id": r.check_id,
            "control_ids": list(self.control_ids),
            "criteria": list(self.criteria),
            "provider": r.provider,
            "account": r.account,
            "region": r.region,
            "resource_type": r.resource_type,
            "resource_id": r.resource_id,
            "status": str(r.status),
            "observed": r.observed,
            "expected": r.expected,
            "reason": r.reason,
            "evidence": [e.to_json() for e in r.evidence],
            "evaluated_at": self.evaluated_at,
        }
        if self.additional:
            row["additional"] = dict(self.additional)
        return row

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        result = CheckResult(
            check_id=data["check_id"],
            provider=data["provider"],
            account=data["account"],
            region=data["region"],
            resource_type=data["resource_type"],
            resource_id=data["resource_id"],
            status=Status(data["status"]),
            observed=data["observed"],
            expected=data["expected"],
            reason=data["reason"],
            evidence=tuple(EvidenceRef(e["path"], e["sha256"]) for e in data["evidence"]),
        )
        return cls(
            run_id=data["run_id"],
            result=result,
            control_ids=tuple(data["control_ids"]),
            criteria=tuple(data["criteria"]),
            evaluated_at=data["evaluated_at"],
            additional=dict(data.get("additional") or {}),
        )


@dataclass(frozen=True, slots=True)
class ControlResult:
    """A control's status over every finding mapped to it."""

    control_id: str
    title: str
    criteria: tuple[str, ...]
    status: ControlStatus
    counts: Mapping[str, int]  # per Status value, every key present

    def to_json(self) -> dict[str, Any]:
        return {
            "control_id": self.control_id,
            "title": self.title,
            "criteria": list(self.criteria),
            "status": str(self.status),
            "counts": dict(self.counts),
        }
