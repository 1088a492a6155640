"""OCSF Compliance Finding events (OCSF 1.5.0, class_uid 2003, category 2 Findings), one per finding, as JSON lines:
what a SIEM or security data lake (Amazon Security Lake, Splunk, Sentinel...) ingests.

One event per finding (check x resource), so event counts match findings.jsonl line for line. A finding mapped
to two controls is one event whose `compliance.control` names both ("ENC-01, NET-01"; the list is in
`unmapped.control_ids`): the evaluation happened once.

Field mapping:

- `activity_id` 1 Create, `type_uid` 200301: this run created the finding (the run is the unit of
  observation; `finding_info.uid` is stable across runs, so a consumer tracks one finding over time);
- `time`: the run's evaluation time (evaluated_at) in epoch milliseconds;
- `metadata`: `version` "1.5.0", `product` {name "soc2-evidence", vendor_name, version}, `uid` the event's
  deterministic id (uuid5 of run id + finding key), `correlation_uid` the run id (all events of one run),
  `profiles` ["cloud"] when the `cloud` object is present;
- `finding_info`: `uid` uuid5 of the finding key (check, provider, account, region, resource id) without
  the run, `title` the check's title, `desc` the check's description, `types` [the check id];
- `compliance`: `status_id` / `status` per OCSF's compliance status enum (below), `control` the control ids,
  `requirements` the Trust Services Criteria (CC6.1, ...), `standards` ["AICPA SOC 2"], `checks` [the check
  with its uid, name, severity, status];
- `severity_id` / `severity` from the check's severity (low 2, medium 3, high 4, critical 5; unknown check 0);
- `status_id` / `status` (the finding's workflow status): 1 New, except `excepted`: 3 Suppressed (an
  approved exception: reviewed and accepted, still reported);
- `message`: the finding's reason; `remediation.desc`: the check's remediation;
- `resources`: [{uid: resource id, type: resource type, region, cloud_partition for AWS}];
- `cloud` (cloud profile): provider (AWS, GCP), region, account {uid, name, type_id} (for GCP also
  project_uid). Endpoint (TLS) findings have no `cloud`;
- `evidences`: one per evidence file, `data` {path (run-relative), sha256};
- `unmapped`: what OCSF has no attribute for: run_id, the tool's own status, control_ids, observed, expected.

**Compliance status** (OCSF compliance.status_id: 0 Unknown, 1 Pass, 2 Warning, 3 Fail, 99 Other):

- pass: 1 Pass;
- fail: 3 Fail;
- error: 2 Warning. OCSF defines Warning as "the compliance check did not yield a result due to missing
  information", which is exactly `error` (not assessed: the evidence could not be collected). Not 0 Unknown:
  the cause is known and stated (message, unmapped.observed with the missing permission). Never Pass;
- not_applicable: 99 Other, status "Not Applicable" (OCSF has no such value; Other carries the source's caption);
- excepted: 3 Fail. The resource still fails the check; the approved exception is the finding's workflow
  status (status_id 3 Suppressed), so the fail is never hidden.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from controls import CheckSpec, Finding, Status
from reports.atomic import write_with
from reports.exports.meta import RunMeta

OCSF_VERSION = "1.5.0"
CLASS_UID = 2003
CLASS_NAME = "Compliance Finding"
CATEGORY_UID = 2
CATEGORY_NAME = "Findings"
ACTIVITY_CREATE = 1
TYPE_UID = CLASS_UID * 100 + ACTIVITY_CREATE
PRODUCT_NAME = "soc2-evidence"
STANDARD = "AICPA SOC 2"
_UUID_NS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:soc2-evidence:ocsf")

COMPLIANCE_STATUS: dict[str, tuple[int, str]] = {
    Status.PASS: (1, "Pass"),
    Status.FAIL: (3, "Fail"),
    Status.ERROR: (2, "Warning"),
    Status.NOT_APPLICABLE: (99, "Not Applicable"),
    Status.EXCEPTED: (3, "Fail"),
}
FINDING_STATUS: dict[str, tuple[int, str]] = {
    Status.EXCEPTED: (3, "Suppressed"),
}
NEW = (1, "New")
SEVERITY: dict[str, tuple[int, str]] = {
    "low": (2, "Low"),
    "medium": (3, "Medium"),
    "high": (4, "High"),
    "critical": (5, "Critical"),
}
UNKNOWN_SEVERITY = (0, "Unknown")
CLOUD_PROVIDERS = {"aws": "AWS", "gcp": "GCP", "azure": "Azure"}
ACCOUNT_TYPE = {"aws": (10, "AWS Account"), "gcp": (5, "GCP Account")}


def _epoch_ms(value: str | datetime) -> int:
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt
    return int(dt.timestamp() * 1000)


def finding_uid(f: Finding) -> str:
    """Stable across runs: the same check on the same resource is the same OCSF finding."""
    return str(uuid.uuid5(_UUID_NS, json.dumps(["finding", *f.result.key], ensure_ascii=False)))


def event_uid(f: Finding) -> str:
    """Unique per run and finding."""
    return str(uuid.uuid5(_UUID_NS, json.dumps(["event", f.run_id, *f.result.key], ensure_ascii=False)))


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def ocsf_event(f: Finding, spec: CheckSpec | None, run: RunMeta) -> dict[str, Any]:
    """One Compliance Finding event (a plain dict, JSON-ready) for one finding."""
    r = f.result
    status = str(r.status)
    comp_id, comp_caption = COMPLIANCE_STATUS.get(status, (0, "Unknown"))
    st_id, st_caption = FINDING_STATUS.get(status, NEW)
    sev_id, sev_caption = SEVERITY.get(str(spec.severity), UNKNOWN_SEVERITY) if spec else UNKNOWN_SEVERITY
    title = spec.title if spec and spec.title else r.check_id
    provider = r.provider.lower()

    check: dict[str, Any] = {"uid": r.check_id, "name": title, "status": comp_caption, "status_id": comp_id}
    if spec:
        check.update(severity=sev_caption, severity_id=sev_id)  # its description is finding_info.desc
    compliance: dict[str, Any] = {
        "status_id": comp_id,
        "status": comp_caption,
        "standards": [STANDARD],
        "checks": [check],
    }
    if f.control_ids:
        compliance["control"] = ", ".join(dict.fromkeys(f.control_ids))
    if f.criteria:
        compliance["requirements"] = list(f.criteria)

    resource: dict[str, Any] = {"uid": r.resource_id, "type": r.resource_type, "region": r.region}
    if provider == "aws":
        resource["cloud_partition"] = _partition(r.region)

    time_ms = _epoch_ms(f.evaluated_at)
    event: dict[str, Any] = {
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": CATEGORY_UID,
        "category_name": CATEGORY_NAME,
        "class_uid": CLASS_UID,
        "class_name": CLASS_NAME,
        "type_uid": TYPE_UID,
        "type_name": f"{CLASS_NAME}: Create",
        "time": time_ms,
        "severity_id": sev_id,
        "severity": sev_caption,
        "status_id": st_id,
        "status": st_caption,
        "message": r.reason,
        "metadata": {
            "version": OCSF_VERSION,
            "uid": event_uid(f),
            "correlation_uid": f.run_id,
            "product": {"name": PRODUCT_NAME, "vendor_name": PRODUCT_NAME, "version": run.tool_version or "unknown"},
        },
        "finding_info": {
            "uid": finding_uid(f),
            "title": title,
            "desc": spec.description if spec and spec.description else title,
            "types": [r.check_id],
            "created_time": time_ms,
        },
        "compliance": compliance,
        "resources": [resource],
    }
    if provider in CLOUD_PROVIDERS:
        type_id, type_caption = ACCOUNT_TYPE.get(provider, (99, "Other"))
        account = {
            "uid": r.account,
            "name": run.account_names.get(r.account) or r.account,
            "type_id": type_id,
            "type": type_caption,
        }
        cloud: dict[str, Any] = {"provider": CLOUD_PROVIDERS[provider], "region": r.region, "account": account}
        if provider == "gcp":
            cloud["project_uid"] = r.account
        event["cloud"] = cloud
        event["metadata"]["profiles"] = ["cloud"]
    if r.evidence:
        event["evidences"] = [{"data": {"path": e.path, "sha256": e.sha256}} for e in r.evidence]
    if spec and spec.remediation:
        event["remediation"] = {"desc": spec.remediation}
    event["unmapped"] = {
        "run_id": f.run_id,
        "soc2_evidence_status": status,
        "control_ids": list(f.control_ids),
        "observed": r.observed,
        "expected": r.expected,
    }
    return event


def ocsf_events(findings: Iterable[Finding], check_specs: Mapping[str, CheckSpec], run: RunMeta) -> Iterator[dict]:
    """One OCSF Compliance Finding event per finding, in findings order."""
    for f in findings:
        yield ocsf_event(f, check_specs.get(f.result.check_id), run)


def write_ocsf_jsonl(
    path: Path, findings: Iterable[Finding], check_specs: Mapping[str, CheckSpec], run: RunMeta
) -> str:
    """Write the events as JSON lines (UTF-8, LF, one compact event a line) to `path` atomically, streaming;
    return the file's SHA-256."""
    digest = hashlib.sha256()

    def writer(fh: IO[bytes]) -> None:
        for event in ocsf_events(findings, check_specs, run):
            line = (json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode(
                "utf-8",
                "backslashreplace",  # a lone surrogate becomes its JSON escape: still valid JSON
            )
            digest.update(line)
            fh.write(line)

    write_with(Path(path), writer)
    return digest.hexdigest()
