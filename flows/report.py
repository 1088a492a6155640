"""Assemble the workbook input from a run's results (flows may import everything)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from collectors.listings import ListedPopulation
from collectors.registry import specs
from controls import ControlResult, Finding
from controls.catalog import Catalog
from controls.commitments import CommitmentResult
from flows.config import AppConfig
from reports.drift import Drift
from reports.workbook import ControlInfo, EvidenceFileInfo, SourceListing, WorkbookInput, write_workbook


def control_infos(catalog: Catalog) -> list[ControlInfo]:
    return [
        ControlInfo(c.id, c.title, c.description, tuple(c.criteria), tuple(c.checks), c.frequency)
        for c in catalog.controls
    ]


def evidence_infos(files: Sequence[Mapping[str, Any]]) -> list[EvidenceFileInfo]:
    return [
        EvidenceFileInfo(
            path=f["path"],
            provider=f["provider"],
            account=f["account"],
            region=f["region"],
            service=f["service"],
            operation=f["operation"],
            parameters=f["parameters"],
            records=f["records"],
            errors=f["errors"],
            sha256=f["sha256"],
            collected_at=f["collected_at"],
        )
        for f in files
    ]


def commitment_row(c: CommitmentResult) -> dict[str, Any]:
    return {
        "Commitment": c.commitment.id,
        "Promise (quoted)": c.commitment.quote,
        "Source": c.commitment.source,
        "Controls": ", ".join(c.control_statuses) or "(none)",
        "Control status": ", ".join(f"{k}: {v}" for k, v in c.control_statuses.items()) or "-",
        "Supported by the evidence": c.support,
        "Note": c.commitment.note,
    }


def drift_rows(drift: Drift) -> list[dict[str, Any]]:
    """Control status changes first, then every changed resource, in one filterable table."""
    rows: list[dict[str, Any]] = []
    for c in drift.control_rows():
        rows.append(
            {
                "Change": "control status changed",
                "Control IDs": c["Control"],
                "Check": "",
                "Account": "",
                "Region": "",
                "Resource type": "control",
                "Resource ID": c["Title"],
                "Was": c["Was"],
                "Now": c["Now"],
                "Reason": "",
            }
        )
    rows.extend(drift.rows())
    if not rows:
        rows.append({"Change": drift.summary()})
    return rows


def source_listing(p: ListedPopulation) -> SourceListing:
    """A collector's listed population as the workbook's plain record (reports never import collectors)."""
    return SourceListing(
        listing=p.listing.name,
        resource_type=p.listing.resource_type,
        checks=p.listing.checks,
        provider=p.provider,
        account=p.account,
        region=p.region,
        ids=p.ids,
        failed=p.failed,
        evidence=p.evidence,
    )


def build_workbook(
    path: Path,
    *,
    cfg: AppConfig,
    run_id: str,
    started: datetime,
    finished: datetime,
    version: str,
    scope: Mapping[str, Any],
    callers: Mapping[str, str],
    catalog: Catalog,
    results: Sequence[ControlResult],
    findings: Sequence[Finding],
    evidence_files: Sequence[Mapping[str, Any]],
    commitments: Sequence[CommitmentResult] = (),
    exceptions: Sequence[Mapping[str, Any]] = (),
    drift: Drift | None = None,
    endpoints: Mapping[str, Any] | None = None,
    listings: Sequence[ListedPopulation] = (),
) -> None:
    write_workbook(
        path,
        WorkbookInput(
            organization=cfg.organization,
            period_start=cfg.period.start,
            period_end=cfg.period.end,
            run_id=run_id,
            started_at=started,
            finished_at=finished,
            tool_version=version,
            config_sha256=cfg.sha256,
            scope=scope,
            callers=callers,
            controls=control_infos(catalog),
            control_results=results,
            checks=specs(),
            findings=findings,
            evidence_files=evidence_infos(evidence_files),
            criteria=dict(catalog.criteria),
            commitments=[commitment_row(c) for c in commitments],
            exceptions=list(exceptions),
            drift_summary=drift.summary() if drift else "",
            drift_rows=drift_rows(drift) if drift else (),
            endpoints=endpoints or {},
            listings=[source_listing(p) for p in listings],
        ),
    )
