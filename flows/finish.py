"""A run's finishing steps: from what was collected to the files an auditor receives.

After collection (flows.run), in this order: exceptions applied, findings
mapped to controls, commitments, drift against the baseline run; then
findings.jsonl, controls.json, the catalog and exceptions as used, drift.json,
the workbook, the exports and, last, manifest.json; then the upload to the
evidence locker, the new-failures event and the Prefect artifacts. Separate
from the flow so each reads on its own; `_finding` and `sort_findings` are also
how flows.evaluate rebuilds findings from stored evidence.
"""

from __future__ import annotations

import platform
import time
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from collectors.aws.base import AwsTuning
from collectors.endpoint.discovery import DiscoveredEndpoint
from collectors.listings import LISTINGS, ListedPopulation, listed_populations
from collectors.registry import checks, specs
from controls import CheckResult, CheckSpec, ControlResult, Finding
from controls.additional import additional_fields
from controls.catalog import Catalog
from controls.commitments import evaluate_commitments, load_commitments
from controls.exceptions import apply_exceptions, load_exceptions
from controls.mapping import control_results
from flows.accounts import AccountTarget, Discovery
from flows.assessment import assessment_fields
from flows.cloud_endpoints import cloud_endpoints
from flows.collect import ScopeOutcome, load_bundle_files
from flows.config import AppConfig
from flows.gcp_projects import ProjectDiscovery
from flows.notifications import mark_new_failures
from flows.regions import RegionPlan
from flows.task_runners import describe_task_runner
from reports.atomic import sha256_file
from reports.drift import Drift, compute_drift, load_run_controls, load_run_findings_fast
from reports.drift_chain import failing_since_of
from reports.exports import RunMeta, write_exports
from reports.locker import Locker
from reports.store import RunInfo, RunWriter, drift_baseline

TOOL = "soc2-evidence"


def tool_version() -> str:
    try:
        return metadata.version(TOOL)
    except metadata.PackageNotFoundError:
        return "0+unknown"


class RunOutcome:
    """What a run returns to its caller (the CLI, the benchmarks, tests).

    A plain class, not a dataclass: Prefect walks a flow's return value looking for futures to
    resolve, into lists, dicts and dataclasses alike; every finding's result, evidence references and
    observed values made that walk ~1 s of CPU at the end of a run of ~5,000 findings."""

    def __init__(
        self,
        run_id: str,
        run_dir: Path,
        findings: list[Finding],
        controls: list[ControlResult],
        workbook: Path,
        api_calls: int,
        manifest: dict[str, Any],
        warnings: list[str] | None = None,
        drift: Drift | None = None,  # against the baseline run (`run` prints it and applies --fail-on to it)
    ) -> None:
        self.run_id = run_id
        self.run_dir = run_dir
        self.findings = findings
        self.controls = controls
        self.workbook = workbook
        self.api_calls = api_calls
        self.manifest = manifest
        self.warnings = warnings if warnings is not None else []
        self.drift = drift

    def __repr__(self) -> str:
        return f"RunOutcome({self.run_id!r}, {len(self.findings)} findings, {self.api_calls} API calls)"


# findings.jsonl layout: 2 = each line ends with the `additional` object (controls.additional);
# 1 (or absent) = written before it, which `evaluate` reproduces without it
FINDINGS_SCHEMA = 2


def _finding(
    run_id: str,
    result: CheckResult,
    catalog: Catalog,
    evaluated_at: str,
    check_specs: Mapping[str, CheckSpec] | None = None,
) -> Finding:
    """A result placed in the run and mapped to controls; with `check_specs`, its `additional` object
    (finding_id, severity, ARN, console URL, remediation: from the check's metadata and the result only)."""
    ids = catalog.controls_for(result.check_id)
    extra = additional_fields(result, check_specs.get(result.check_id)) if check_specs is not None else {}
    return Finding(run_id, result, ids, catalog.criteria_for_controls(ids), evaluated_at, extra)


def sort_findings(findings: list[Finding]) -> list[Finding]:
    return sorted(
        findings,
        key=lambda f: (
            f.result.check_id,
            f.result.provider,
            f.result.account,
            f.result.region,
            f.result.resource_id,
            f.result.resource_type,
        ),
    )


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def finish_run(
    cfg: AppConfig,
    *,
    locker: Locker,
    writer: RunWriter,
    logger: Any,
    run_id: str,
    catalog: Catalog,
    all_checks: Mapping[str, Any],
    started: datetime,
    as_of: datetime,
    t0: float,
    previous: list[RunInfo],
    targets: list[AccountTarget],
    region_plans: Mapping[str, RegionPlan] | None = None,
    gcp_discovery: ProjectDiscovery | None = None,
    discovery: Discovery | None,
    discovered: list[DiscoveredEndpoint],
    callers: dict[str, str],
    outcomes: list[ScopeOutcome],
    evidence_files: list[dict[str, Any]],
    api_calls: int,
    workers: int,
    tuning: AwsTuning,
    accounts: list[str] | None,
) -> RunOutcome:
    """Evaluate what the collection produced, write the run's files and publish it (see module docstring)."""
    for o in outcomes:
        evidence_files += o.evidence
        api_calls += o.api_calls
    paths = Counter(e["path"] for e in evidence_files)
    if clashes := [p for p, n in paths.items() if n > 1]:
        raise RuntimeError(f"internal error: evidence files written twice in one run: {clashes[:5]}")
    evaluated_at = iso(as_of)
    risk_exceptions = load_exceptions(cfg.exceptions, set(all_checks)) if cfg.exceptions else []
    checked, exceptions_report = apply_exceptions([r for o in outcomes for r in o.results], risk_exceptions, as_of)
    for warning in exceptions_report.warnings():
        logger.warning(warning)
    check_specs = specs()
    findings = sort_findings([_finding(run_id, r, catalog, evaluated_at, check_specs) for r in checked])
    results = control_results(catalog, findings)
    promises = load_commitments(cfg.commitments, [c.id for c in catalog.controls]) if cfg.commitments else ()
    commitments = evaluate_commitments(promises, {r.control_id: str(r.status) for r in results})
    finished = datetime.now(UTC)
    collection_seconds = time.monotonic() - t0
    baseline = drift_baseline(previous)  # the chain's predecessor is previous[-1], partial or not
    drift = compute_drift(
        load_run_findings_fast(baseline.path) if baseline else None,
        findings,
        load_run_controls(baseline.path) if baseline else None,
        [r.to_json() for r in results],
        from_run=baseline.run_id if baseline else None,
        to_run=run_id,
        from_started=baseline.started_at if baseline else None,
        to_started=iso(started),
        # the baseline's drift.json carries it; older baselines: rebuilt along the chain of runs
        baseline_failing_since=failing_since_of(baseline, {r.run_id: r for r in previous}) if baseline else None,
    )

    findings_ref = writer.write_findings(findings)
    controls_ref = writer.write_controls(results)
    catalog_ref = writer.write_raw("catalog.yaml", catalog_text(cfg))
    exceptions_ref = writer.write_raw("exceptions.yaml", Path(cfg.exceptions).read_bytes()) if cfg.exceptions else None
    drift_ref = writer.write_json("drift.json", drift.to_json())
    evidence_files.sort(key=lambda e: e["path"])
    endpoints = cloud_endpoints()
    listings = source_listings(writer.path, evidence_files)
    scope_doc = {
        "aws_accounts": [
            {
                "id": t.id,
                "name": t.name,
                "regions": list(t.regions),
                "role_arn": t.role_arn,
                "source": t.source,
                **(region_plans[t.id].to_json() if region_plans and t.id in region_plans else {}),
            }
            for t in targets
        ],
        "aws_discovery": None
        if discovery is None
        else {
            "excluded": discovery.excluded,
            "inactive": discovery.inactive,
            "error": discovery.failure.error.to_json() if discovery.failure and discovery.failure.error else None,
        },
        "gcp_projects": list(gcp_discovery.projects if gcp_discovery else cfg.gcp.projects),
        "gcp_discovery": gcp_discovery.to_json() if gcp_discovery else None,
        "endpoints": [f"{e.host}:{e.port}" for e in cfg.endpoints.targets],
        "endpoints_discovered": [{"endpoint": d.label, "source": d.source} for d in discovered],
    }
    from flows.report import build_workbook

    workbook_path = writer.path / workbook_name(cfg.organization, started)
    build_workbook(
        workbook_path,
        cfg=cfg,
        run_id=run_id,
        started=started,
        finished=finished,
        version=tool_version(),
        scope=scope_doc,
        callers=callers,
        catalog=catalog,
        results=results,
        findings=findings,
        evidence_files=evidence_files,
        commitments=commitments,
        exceptions=exceptions_report.rows() if cfg.exceptions else (),
        drift=drift,
        endpoints=endpoints,
        listings=listings,
    )
    run_meta = RunMeta(
        run_id=run_id,
        organization=cfg.organization,
        period_start=cfg.period.start,
        period_end=cfg.period.end,
        started_at=started,
        finished_at=finished,
        tool_version=tool_version(),
        config_sha256=cfg.sha256,
        catalog_sha256=catalog_ref.sha256,
        findings_sha256=findings_ref.sha256,
        controls_sha256=controls_ref.sha256,
        previous_manifest_sha256=(previous[-1].manifest_sha256 if previous else "") or "",
        account_names={t.id: t.name for t in targets if t.name},
    )
    exports = write_exports(writer.path, run_meta, catalog.controls, findings, results, specs())

    manifest = {
        "schema": 1,
        "tool": TOOL,
        "tool_version": tool_version(),
        "python": platform.python_version(),
        "run_id": run_id,
        "status": "completed",
        **assessment_fields(outcomes),  # "partial" when an account/project/endpoint was not assessed
        "findings_schema": FINDINGS_SCHEMA,
        "checks": sorted(checks()),  # what `evaluate` re-runs, whatever a later version registers
        "endpoints": endpoints,
        "organization": cfg.organization,
        "period": {"start": cfg.period.start.isoformat(), "end": cfg.period.end.isoformat()},
        "started_at": iso(started),
        "finished_at": iso(finished),
        "evaluated_at": evaluated_at,
        "collection_seconds": round(collection_seconds, 3),
        "config_sha256": cfg.sha256,
        "config": cfg.to_json(),
        "catalog": {"source": catalog.source, "path": catalog_ref.path, "sha256": catalog_ref.sha256},
        "exceptions": None
        if exceptions_ref is None
        else {
            "source": str(cfg.exceptions),
            "path": exceptions_ref.path,
            "sha256": exceptions_ref.sha256,
            "report": exceptions_report.to_json(),
        },
        "scope": scope_doc,
        "populations": [p.to_json() for p in listings],
        "commitments": [c.to_json() for c in commitments],
        "callers": callers,
        "orchestration": describe_task_runner(cfg.orchestration, workers, tuning.concurrency),
        "accounts_filter": accounts,
        "api_calls": api_calls,
        "collectors": [
            o.summary() for o in sorted(outcomes, key=lambda o: (o.scope.account, o.scope.region, o.scope.collector))
        ],
        "collection_errors": [
            _finding(run_id, r, catalog, evaluated_at, check_specs).to_json()
            for o in outcomes
            for r in o.collection_errors
        ],
        "evidence": evidence_files,
        "outputs": {
            "findings": findings_ref.to_json(),
            "controls": controls_ref.to_json(),
            "workbook": {"path": workbook_path.name, "sha256": sha256_file(workbook_path)},
            "drift": drift_ref.to_json(),
            "exports": [{"path": p, "sha256": h} for p, h in exports],
        },
        "drift_baseline": baseline.run_id if baseline else None,
        "previous_run": previous[-1].run_id if previous else None,
        "previous_manifest_sha256": previous[-1].manifest_sha256 if previous else None,
        "prefect": _prefect_context(),
    }
    writer.write_manifest(manifest)
    locker.upload_run(writer.path, run_id)  # a directory: already in place
    mark_new_failures(drift, organization=cfg.organization)  # a Prefect event automations can trigger on
    _publish_artifact(run_id, results, drift)
    logger.info("run %s: %d findings, %d API calls, %.1fs", run_id, len(findings), api_calls, collection_seconds)
    return RunOutcome(
        run_id,
        writer.path,
        findings,
        results,
        workbook_path,
        api_calls,
        manifest,
        warnings=list(catalog.warnings),
        drift=drift,
    )


def source_listings(run_dir: Path, evidence_files: list[dict[str, Any]]) -> list[ListedPopulation]:
    """What each source listing enumerated (collectors.listings), read back from its evidence files."""
    wanted = {(x.collector, x.service, x.operation) for x in LISTINGS}
    entries = [e for e in evidence_files if (e.get("collector"), e.get("service"), e.get("operation")) in wanted]
    return listed_populations(load_bundle_files(run_dir, entries).values())


def catalog_text(cfg: AppConfig) -> bytes:
    """The catalog as used, stored in the run so `evaluate` can reuse it."""
    if cfg.catalog is not None:
        return Path(cfg.catalog).read_bytes()
    from importlib import resources

    return resources.files("controls").joinpath("data/catalog.yaml").read_bytes()


def workbook_name(organization: str, started: datetime) -> str:
    from reports.store import safe_component

    return f"{safe_component(organization)}-SOC2-evidence-{started.strftime('%Y-%m-%d')}.xlsx"


def _prefect_context() -> dict[str, Any]:
    try:
        from prefect.runtime import deployment, flow_run

        return {
            "flow_run_id": str(flow_run.id) if flow_run.id else None,
            "deployment_id": deployment.id,
            "deployment_name": deployment.name,
        }
    except Exception:  # not inside a flow run
        return {}


def _publish_artifact(run_id: str, results: list[ControlResult], drift: Drift) -> None:
    rows = [
        {"control": r.control_id, "title": r.title, "status": str(r.status), **{k: v for k, v in r.counts.items()}}
        for r in results
    ]
    try:
        create_table_artifact(
            key="soc2-control-summary", table=rows, description=f"SOC 2 evidence run {run_id}: status per control"
        )
        create_markdown_artifact(
            key="soc2-drift", markdown=drift.to_markdown(), description=f"SOC 2 evidence run {run_id}: drift"
        )
    except Exception as exc:  # the artifact is a convenience; the run's files are the record
        get_run_logger().warning("could not publish the Prefect artifact: %s", exc)
