"""Vocabulary, control catalog and Trust Services Criteria (imports nothing of the project)."""

from controls.model import (
    FINDING_FIELDS,
    CheckResult,
    CheckSpec,
    ControlResult,
    ControlStatus,
    EvidenceRef,
    Finding,
    Severity,
    Status,
)

__all__ = [
    "FINDING_FIELDS",
    "CheckResult",
    "CheckSpec",
    "ControlResult",
    "ControlStatus",
    "EvidenceRef",
    "Finding",
    "Severity",
    "Status",
]
