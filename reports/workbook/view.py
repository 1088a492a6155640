"""The run as every sheet sees it: controls in order, their findings, results and sheet names.

Built once per workbook from the `WorkbookInput`, before any sheet is written: the Summary
and Populations sheets link to and list the population sheets (continuation sheets
included), which are written after them, so every sheet name is settled up front here.
The sheet families read from this one view instead of re-indexing the findings each.
"""

from __future__ import annotations

from collections.abc import Iterable

from controls.model import ControlStatus, Finding, Status
from reports.cells import sheet_title
from reports.workbook.model import (
    COMMITMENTS_SHEET,
    COVER_SHEET,
    CRITERIA_SHEET,
    DRIFT_SHEET,
    ERRORS_SHEET,
    EVIDENCE_SHEET,
    EXCEPTIONS_SHEET,
    NOT_EVALUATED,
    POPULATIONS_SHEET,
    PRIVILEGED_SHEET,
    SUMMARY_SHEET,
    WorkbookInput,
)
from reports.workbook.table import continuation_sheets


class RunView:
    """Per-control indexes of the input; `taken` holds every sheet name given out so far."""

    def __init__(self, data: WorkbookInput) -> None:
        self.data = data
        self.taken: set[str] = {
            COVER_SHEET,
            SUMMARY_SHEET,
            POPULATIONS_SHEET,
            PRIVILEGED_SHEET,
            CRITERIA_SHEET,
            COMMITMENTS_SHEET,
            EXCEPTIONS_SHEET,
            DRIFT_SHEET,
            ERRORS_SHEET,
            EVIDENCE_SHEET,
        }
        self.results = {r.control_id: r for r in data.control_results}
        self.infos = {c.id: c for c in data.controls}
        self.population = _index_by_control(data.findings)
        self.control_ids = _control_order(data)
        self.sheet_names = {cid: sheet_title(cid, self.taken) for cid in self.control_ids}
        # Continuation sheets (past Excel's row limit) are named up front, so the
        # Populations sheet, written before them, can list them.
        self.sheet_lists = {cid: [self.sheet_names[cid]] for cid in self.control_ids}
        for cid in self.control_ids:
            extra = continuation_sheets(len(self.population.get(cid, ())))
            self.sheet_lists[cid] += [sheet_title(self.sheet_names[cid], self.taken) for _ in range(extra)]

    def counts(self, cid: str) -> dict[str, int]:
        result = self.results.get(cid)
        if result is not None:
            return {s: int(result.counts.get(str(s), 0)) for s in Status}
        return count_statuses(self.population.get(cid, ()))

    def control_status(self, cid: str) -> str:
        result = self.results.get(cid)
        if result is not None:
            return str(result.status)
        return NOT_EVALUATED if self.population.get(cid) else str(ControlStatus.NO_EVIDENCE)


def count_statuses(findings: Iterable[Finding]) -> dict[str, int]:
    counts = {s: 0 for s in Status}
    for f in findings:
        counts[Status(f.result.status)] += 1
    return counts


def _index_by_control(findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    """Control id -> its findings, in findings order; a finding may be on several controls."""
    index: dict[str, list[Finding]] = {}
    for f in findings:
        for cid in dict.fromkeys(f.control_ids):
            index.setdefault(cid, []).append(f)
    return index


def _control_order(data: WorkbookInput) -> list[str]:
    """Catalog order; then controls with results or findings but not in the catalog, so nothing is hidden."""
    ids = [c.id for c in data.controls]
    ids += [r.control_id for r in data.control_results]
    ids += [cid for f in data.findings for cid in f.control_ids]
    return list(dict.fromkeys(ids))
