"""OSCAL Assessment Results (JSON, OSCAL 1.1.3) for one run.

Shape of the document:

- `metadata`: title, last-modified (the run's finish time, not the clock, so a re-export is byte-identical),
  version (the run id), oscal-version, the organization as a party, run props.
- `import-ap`: OSCAL requires a reference to an assessment plan. This tool has no OSCAL plan: the plan is the
  run's configuration and control catalog, so `import-ap` points at a back-matter resource naming them
  (catalog.yaml with its SHA-256, and the config's SHA-256).
- one `result` for the run (start/end = the run's start/finish):
  - `local-definitions`: the tool as a `software` component (the origin actor of every observation) and one
    `inventory-item` per assessed resource (provider, account, region, resource type, resource id), so
    observation subjects resolve inside the document;
  - `reviewed-controls`: every control of the catalog;
  - `observations`: **one per (check, status)**, not one per check result. A run of 200,000 findings gives at
    most checks x 5 observations; each lists its resources as subjects (one small subject-reference per
    finding) and the distinct evidence files behind them as `relevant-evidence`. The per-resource detail
    (observed, expected, reason) is not repeated: it is in findings.jsonl, which every observation also
    cites as relevant evidence (with the check id and status to filter on, and its SHA-256 when known).
    One observation per finding would have repeated the check's description, methods, origin and evidence
    200,000 times (a document of several hundred MB) for no information an auditor cannot get from
    findings.jsonl;
  - `findings`: one per control, target type `objective-id` with the control id, status `satisfied` only for
    an `effective` control; `deficient` is `not-satisfied` (reason `fail`), `incomplete` and `no_evidence`
    are `not-satisfied` (reason `other`), since an objective that could not be fully assessed is not shown
    as met. Each relates the observations of the checks mapped to the control and carries its Trust
    Services Criteria and the pass/fail/error/not applicable/excepted counts as props.
- `back-matter`: one resource per evidence file, findings.jsonl, controls.json, catalog.yaml and (when
  re-exporting a completed run) manifest.json: an `rlink` with the run-relative path and, where known, its
  SHA-256 in `hashes`. relevant-evidence entries point at them (`href: #<uuid>`) and repeat path and
  SHA-256 as props, so the hash is at hand where the evidence is cited.

UUIDs are uuid5 of a fixed namespace, the run id and the object's key: the same run exports the same UUIDs.
Props that are not OSCAL's own are in the namespace `NS`. OSCAL constrains some strings
(titles: one line; prop values: no leading/trailing whitespace; ids: XML NCName tokens): text from the cloud
is normalised for those fields (whitespace collapsed, ids made tokens) and kept exact in descriptions.

Validated in tests/unit/test_exports.py with compliance-trestle 3.12.x, whose pydantic models are generated
from NIST's OSCAL 1.1.3 JSON schema (trestle 4+/5.x model OSCAL 1.2.x; the same document also parsed with
trestle 5.2.0 during development). The file is compact JSON (see `oscal_bytes`).
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from controls import CheckSpec, ControlResult, ControlStatus, Finding, Status
from reports.atomic import write_bytes
from reports.exports.meta import RunMeta

OSCAL_VERSION = "1.1.3"
# Namespace of the props that are not OSCAL's own. OSCAL wants a URI and trestle 3.x (pydantic v1 AnyUrl) a URL
# with a host; `.invalid` (RFC 2606) can never belong to anyone else. Replace with the project's home page URL
# once it has one (a change of namespace is a change of the props' meaning for consumers: do it once).
NS = "https://soc2-evidence.invalid/ns/oscal"
_UUID_NS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:soc2-evidence:oscal")
TOOL_NAME = "soc2-evidence"

_TOKEN_START = r"_A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C-\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD"  # noqa: E501
_TOKEN_REST = _TOKEN_START + r"\-.0-9\u00B7\u0300-\u036F\u203F-\u2040"
_TOKEN_RE = re.compile(f"^[{_TOKEN_START}][{_TOKEN_REST}]*$")
_NOT_TOKEN_CHAR = re.compile(f"[^{_TOKEN_REST}]")

STATE_REASON: dict[str, tuple[str, str]] = {
    ControlStatus.EFFECTIVE: ("satisfied", "pass"),
    ControlStatus.DEFICIENT: ("not-satisfied", "fail"),
    ControlStatus.INCOMPLETE: ("not-satisfied", "other"),
    ControlStatus.NO_EVIDENCE: ("not-satisfied", "other"),
}
STATE_REMARKS: dict[str, str] = {
    ControlStatus.EFFECTIVE: "Effective: at least one resource passed and none failed or could not be assessed.",
    ControlStatus.DEFICIENT: "Deficient: at least one resource failed a check mapped to this control.",
    ControlStatus.INCOMPLETE: "Incomplete: no resource failed, but some could not be assessed (status error); "
    "the objective is not shown as satisfied until they are.",
    ControlStatus.NO_EVIDENCE: "No evidence: nothing in scope was assessed (no pass, fail or error); "
    "the objective is not shown as satisfied without evidence.",
}


def oscal_uuid(run_id: str, *key: str) -> str:
    """Deterministic (uuid5) UUID of an object of the run's document."""
    return str(uuid.uuid5(_UUID_NS, json.dumps([run_id, *key], ensure_ascii=False)))


def token(value: str) -> str:
    """An OSCAL token (XML NCName) for an id: kept if it is one, else invalid characters become `_` and a
    leading `_` is added if it does not start with a letter or `_`."""
    if _TOKEN_RE.match(value):
        return value
    cleaned = _NOT_TOKEN_CHAR.sub("_", value)
    return cleaned if _TOKEN_RE.match(cleaned) else "_" + cleaned


def one_line(value: Any, fallback: str = "-") -> str:
    """Text for OSCAL fields that must be one line without leading/trailing whitespace (titles, prop values)."""
    text = " ".join(str(value).split()) if value is not None else ""
    return text or fallback


def iso(dt: datetime | str) -> str:
    """UTC date-time with a time zone, as OSCAL requires (`2026-11-30T11:00:54.172754Z`)."""
    value = datetime.fromisoformat(dt) if isinstance(dt, str) else dt
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")


def _prop(name: str, value: Any, *, ns: bool = True) -> dict[str, str]:
    p = {"name": name, "value": one_line(value)}
    if ns:
        p["ns"] = NS
    return p


def _href(path: str) -> str:
    return quote(path, safe="/@+=-._~")


ResourceKey = tuple[str, str, str, str, str]


def _resource_key(f: Finding) -> ResourceKey:
    r = f.result
    return (r.provider, r.account, r.region, r.resource_type, r.resource_id)


def assessment_results(
    run: RunMeta,
    catalog_controls: Sequence[Any],
    findings: Sequence[Finding],
    control_results: Sequence[ControlResult],
    check_specs: Mapping[str, CheckSpec] | None = None,
) -> dict[str, Any]:
    """The OSCAL Assessment Results document (a dict ready for json.dumps) for one run.

    `catalog_controls` are the catalog's controls (objects with id, title, description, criteria: ControlModel),
    `control_results` the run's ControlResults, `check_specs` (optional) the CheckSpecs by id, for check
    titles and severities in observations.
    """
    specs = check_specs or {}
    rid = run.run_id
    tool_uuid = oscal_uuid(rid, "component", "tool")
    party_uuid = oscal_uuid(rid, "party", "organization")

    # --- back-matter resources -------------------------------------------------------------------------
    resources: list[dict[str, Any]] = []
    evidence_uuid: dict[str, str] = {}

    def add_resource(path: str, title: str, sha256: str, media_type: str, description: str = "") -> str:
        res_uuid = oscal_uuid(rid, "resource", path)
        rlink: dict[str, Any] = {"href": _href(path), "media-type": media_type}
        if sha256:
            rlink["hashes"] = [{"algorithm": "SHA-256", "value": sha256}]
        res: dict[str, Any] = {"uuid": res_uuid, "title": one_line(title)}
        if description:
            res["description"] = description
        res["props"] = [_prop("path", path)] + ([_prop("sha256", sha256)] if sha256 else [])
        res["rlinks"] = [rlink]
        resources.append(res)
        return res_uuid

    findings_res = add_resource(
        "findings.jsonl",
        "findings.jsonl: one line per (check, resource)",
        run.findings_sha256,
        "application/jsonl",
        "Every check result of the run with observed, expected, reason and evidence: the machine contract.",
    )
    add_resource(
        "controls.json", "controls.json: status and counts per control", run.controls_sha256, "application/json"
    )
    catalog_res = add_resource(
        "catalog.yaml", "catalog.yaml: the control catalog used", run.catalog_sha256, "application/yaml"
    )
    if run.manifest_sha256:
        add_resource(
            "manifest.json", "manifest.json: the run's integrity manifest", run.manifest_sha256, "application/json"
        )
    plan_uuid = oscal_uuid(rid, "resource", "assessment-plan")
    plan_props = [_prop("run-id", rid), _prop("catalog-resource", catalog_res)]
    if run.config_sha256:
        plan_props.append(_prop("config-sha256", run.config_sha256))
    resources.append(
        {
            "uuid": plan_uuid,
            "title": "Assessment plan: the run's configuration and control catalog",
            "description": "No separate OSCAL assessment plan is produced. The plan of this assessment is the run's "
            "configuration (its SHA-256 is in the props and in manifest.json) and its control catalog "
            "(catalog.yaml, also a resource of this back-matter).",
            "props": plan_props,
        }
    )
    for f in findings:
        for e in f.result.evidence:
            if e.path not in evidence_uuid:
                evidence_uuid[e.path] = add_resource(e.path, e.path, e.sha256, "application/json")

    # --- inventory items (one per resource) ---------------------------------------------------------------
    inventory: dict[ResourceKey, str] = {}
    inventory_items: list[dict[str, Any]] = []
    for f in findings:
        key = _resource_key(f)
        if key in inventory:
            continue
        provider, account, region, rtype, resource_id = key
        item_uuid = oscal_uuid(rid, "inventory-item", *key)
        inventory[key] = item_uuid
        inventory_items.append(
            {
                "uuid": item_uuid,
                "description": f"{rtype} {resource_id!r} in {provider} account {account}, region {region}"
                + (" (every resource of this type in scope: the listing itself failed)" if resource_id == "*" else ""),
                "props": [
                    _prop("asset-id", resource_id, ns=False),
                    _prop("provider", provider),
                    _prop("account", account),
                    _prop("region", region),
                    _prop("resource-type", rtype),
                ],
            }
        )

    # --- observations: one per (check, status) --------------------------------------------------------------
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.result.check_id, str(f.result.status)), []).append(f)
    observations: list[dict[str, Any]] = []
    obs_by_control: dict[str, list[str]] = {}
    for (check_id, status), members in groups.items():
        obs_uuid = oscal_uuid(rid, "observation", check_id, status)
        spec = specs.get(check_id)
        title = spec.title if spec else check_id
        evidence_paths: dict[str, str] = {}
        for f in members:
            for e in f.result.evidence:
                evidence_paths.setdefault(e.path, e.sha256)
        relevant = [
            {
                "href": f"#{findings_res}",
                "description": f"findings.jsonl, the lines with check_id {check_id} and status {status}: "
                "observed, expected and reason for each resource.",
                "props": [_prop("path", "findings.jsonl"), _prop("check-id", check_id), _prop("status", status)]
                + ([_prop("sha256", run.findings_sha256)] if run.findings_sha256 else []),
            }
        ]
        relevant += [
            {
                "href": f"#{evidence_uuid[path]}",
                "description": f"Evidence file {path}",
                "props": [_prop("path", path), _prop("sha256", sha)],
            }
            for path, sha in evidence_paths.items()
        ]
        props = [_prop("check-id", check_id), _prop("status", status), _prop("count", len(members))]
        if spec:
            props.append(_prop("severity", spec.severity))
        n = len(members)
        observations.append(
            {
                "uuid": obs_uuid,
                "title": one_line(f"{check_id}: {status} ({n} resource{'s' if n != 1 else ''})"),
                "description": f"{n} resource{'s' if n != 1 else ''} with status {status} for check {check_id} "
                f"({title}).",
                "props": props,
                "methods": ["TEST"],
                "types": ["finding"] if status in (Status.FAIL, Status.EXCEPTED) else ["control-objective"],
                "origins": [{"actors": [{"type": "tool", "actor-uuid": tool_uuid}]}],
                "subjects": [
                    {"subject-uuid": u, "type": "inventory-item"}
                    for u in dict.fromkeys(inventory[_resource_key(f)] for f in members)
                ],
                "relevant-evidence": relevant,
                "collected": iso(members[0].evaluated_at),
            }
        )
        for cid in dict.fromkeys(c for f in members for c in f.control_ids):
            obs_by_control.setdefault(cid, []).append(obs_uuid)

    # --- findings: one per control -------------------------------------------------------------------------
    results_by_id = {r.control_id: r for r in control_results}
    controls_by_id = {c.id: c for c in catalog_controls}
    control_ids = list(
        dict.fromkeys(
            [c.id for c in catalog_controls]
            + [r.control_id for r in control_results]
            + [cid for f in findings for cid in f.control_ids]
        )
    )
    counts_by_control: dict[str, Counter[str]] = {cid: Counter() for cid in control_ids}
    for f in findings:
        for cid in dict.fromkeys(f.control_ids):
            counts_by_control[cid][str(f.result.status)] += 1
    oscal_findings: list[dict[str, Any]] = []
    for cid in control_ids:
        ctl = controls_by_id.get(cid)
        result = results_by_id.get(cid)
        title = ctl.title if ctl else (result.title if result else cid)
        criteria = tuple(ctl.criteria if ctl else (result.criteria if result else ()))
        counts = dict(result.counts) if result else dict(counts_by_control[cid])
        status = str(result.status) if result else _status_from_counts(counts)
        state, reason = STATE_REASON.get(status, ("not-satisfied", "other"))
        description = (getattr(ctl, "description", "") or title) if ctl else title
        props = [_prop("control-id", cid), _prop("control-status", status)]
        props += [_prop("criterion", c) for c in criteria]
        props += [_prop(f"count-{s}".replace("_", "-"), counts.get(str(s), 0)) for s in Status]
        finding: dict[str, Any] = {
            "uuid": oscal_uuid(rid, "finding", cid),
            "title": one_line(f"{cid}: {title}"),
            "description": description,
            "props": props,
            "target": {
                "type": "objective-id",
                "target-id": token(cid),
                "title": one_line(f"{cid}: {title}"),
                "status": {"state": state, "reason": reason, "remarks": STATE_REMARKS.get(status, status)},
            },
        }
        if obs_by_control.get(cid):
            finding["related-observations"] = [{"observation-uuid": u} for u in obs_by_control[cid]]
        oscal_findings.append(finding)

    # --- the document ---------------------------------------------------------------------------------------
    period = f"{run.period_start.isoformat()} to {run.period_end.isoformat()}"
    run_props = [
        _prop("run-id", rid),
        _prop("period-start", run.period_start.isoformat()),
        _prop("period-end", run.period_end.isoformat()),
        _prop("tool-version", run.tool_version or "unknown"),
    ]
    if run.previous_manifest_sha256:
        run_props.append(_prop("previous-manifest-sha256", run.previous_manifest_sha256))
    result_doc: dict[str, Any] = {
        "uuid": oscal_uuid(rid, "result"),
        "title": one_line(f"SOC 2 evidence run {rid}"),
        "description": f"Automated evidence collection and evaluation for {run.organization or 'the organization'}, "
        f"audit period {period}: {len(findings)} check results on {len(inventory)} resources, "
        f"{len(control_ids)} controls.",
        "start": iso(run.started_at),
        "end": iso(run.finished_at),
        "props": run_props,
        "local-definitions": {
            "components": [
                {
                    "uuid": tool_uuid,
                    "type": "software",
                    "title": TOOL_NAME,
                    "description": "soc2-evidence, the open-source SOC 2 evidence collector that collected the "
                    "evidence and evaluated the checks.",
                    "props": [_prop("version", run.tool_version or "unknown", ns=False)],
                    "status": {"state": "operational"},
                }
            ],
            **({"inventory-items": inventory_items} if inventory_items else {}),
        },
        "reviewed-controls": {
            "control-selections": [
                {"include-controls": [{"control-id": token(cid)} for cid in control_ids]}
                if control_ids
                else {"include-all": {}}
            ]
        },
    }
    if observations:
        result_doc["observations"] = observations
    if oscal_findings:
        result_doc["findings"] = oscal_findings

    metadata: dict[str, Any] = {
        "title": one_line(f"{run.organization or 'SOC 2'} SOC 2 evidence: assessment results of run {rid}"),
        "last-modified": iso(run.finished_at),
        "version": one_line(rid),
        "oscal-version": OSCAL_VERSION,
        "props": [dict(p) for p in run_props],
    }
    if run.organization.strip():
        metadata["parties"] = [{"uuid": party_uuid, "type": "organization", "name": one_line(run.organization)}]

    return {
        "assessment-results": {
            "uuid": oscal_uuid(rid, "assessment-results"),
            "metadata": metadata,
            "import-ap": {"href": f"#{plan_uuid}"},
            "results": [result_doc],
            "back-matter": {"resources": resources},
        }
    }


def _status_from_counts(counts: Mapping[str, int]) -> str:
    if counts.get(Status.FAIL):
        return ControlStatus.DEFICIENT
    if counts.get(Status.ERROR):
        return ControlStatus.INCOMPLETE
    if counts.get(Status.PASS):
        return ControlStatus.EFFECTIVE
    return ControlStatus.NO_EVIDENCE


def oscal_bytes(document: Mapping[str, Any]) -> bytes:
    """Compact JSON (no indentation): 40% smaller and several times faster to write than indented JSON, which
    matters at 200,000 findings; pretty-print with `python -m json.tool` to read it. backslashreplace: a lone
    surrogate from cloud text becomes its JSON escape (`\\udc80`), so the file stays valid UTF-8 and valid JSON."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return (text + "\n").encode("utf-8", "backslashreplace")


def write_oscal_json(
    path: Path,
    run: RunMeta,
    catalog_controls: Sequence[Any],
    findings: Sequence[Finding],
    control_results: Sequence[ControlResult],
    check_specs: Mapping[str, CheckSpec] | None = None,
) -> str:
    """Write the Assessment Results document to `path` atomically; return its SHA-256."""
    doc = assessment_results(run, catalog_controls, findings, control_results, check_specs)
    return write_bytes(Path(path), oscal_bytes(doc))


def observation_count(findings: Iterable[Finding]) -> int:
    """How many observations the document has for these findings (one per distinct check and status)."""
    return len({(f.result.check_id, str(f.result.status)) for f in findings})
