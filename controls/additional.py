"""A finding's `additional` object: what an engineer needs to act on it.

Written into findings.jsonl (as the last key of each line), the CSV exports, the workbook's
population and Drift rows:

- `finding_id`: a stable identifier of the (check, resource) pair across runs: the first 32 hex
  digits of the SHA-256 of check_id, account, region, resource_type and resource_id joined by
  the unit separator (U+001F). The same resource judged by the same check has the same id in
  every run, so tickets, exceptions and dashboards can refer to it; it is the drift key hashed.
- `severity`: the check's severity (low, medium, high, critical); null for an unknown check.
- `resource_arn`: the AWS ARN (controls.resources); null where none is known.
- `console_url`: a link to the resource in its cloud console; null where none is known.
- `remediation`: the check's remediation text; null for an unknown check.

Everything derives from the check's metadata (CheckSpec) and the result, nothing else (not the
run, not the clock), so `soc2-evidence evaluate` re-derives the same bytes.
"""

from __future__ import annotations

import hashlib
from typing import Any

from controls.model import ADDITIONAL_FIELDS, CheckResult, CheckSpec
from controls.resources import console_url, resource_arn

FINDING_ID_HEX = 32
_SEP = "\x1f"


def finding_id(check_id: str, account: str, region: str, resource_type: str, resource_id: str) -> str:
    """Stable id of a (check, resource) pair: SHA-256 of the drift key, 32 hex digits (128 bits)."""
    key = _SEP.join((check_id, account, region, resource_type, resource_id))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:FINDING_ID_HEX]


def additional_fields(result: CheckResult, spec: CheckSpec | None) -> dict[str, Any]:
    """The `additional` object of one finding, keys in ADDITIONAL_FIELDS order."""
    r = result
    values = {
        "finding_id": finding_id(r.check_id, r.account, r.region, r.resource_type, r.resource_id),
        "severity": str(spec.severity) if spec is not None else None,
        "resource_arn": resource_arn(r.provider, r.resource_type, r.account, r.region, r.resource_id),
        "console_url": console_url(r.provider, r.resource_type, r.account, r.region, r.resource_id),
        "remediation": spec.remediation if spec is not None else None,
    }
    return {k: values[k] for k in ADDITIONAL_FIELDS}
