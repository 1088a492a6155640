"""From check results to control results (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from controls.catalog import Catalog
from controls.model import ControlResult, ControlStatus, Finding, Status


def control_status(counts: Counter[str]) -> ControlStatus:
    """effective: some pass, no fail, no error; deficient: any fail;
    incomplete: no fail but some error; no_evidence: nothing assessed.

    Excepted results neither break nor make a control: a control whose only
    results are excepted has no evidence of operating."""
    if counts[Status.FAIL]:
        return ControlStatus.DEFICIENT
    if counts[Status.ERROR]:
        return ControlStatus.INCOMPLETE
    if counts[Status.PASS]:
        return ControlStatus.EFFECTIVE
    return ControlStatus.NO_EVIDENCE


def control_results(catalog: Catalog, findings: Iterable[Finding]) -> list[ControlResult]:
    per_control: dict[str, Counter[str]] = {c.id: Counter() for c in catalog.controls}
    for f in findings:
        for cid in f.control_ids:
            if cid in per_control:
                per_control[cid][f.result.status] += 1
    out = []
    for ctl in catalog.controls:
        counts = per_control[ctl.id]
        out.append(
            ControlResult(
                control_id=ctl.id,
                title=ctl.title,
                criteria=ctl.criteria,
                status=control_status(counts),
                counts={str(s): counts[s] for s in Status},
            )
        )
    return out
