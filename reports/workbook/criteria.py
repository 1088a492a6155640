"""The criteria sheets: Criteria (every Trust Services criterion, its controls, their worst status)
and Commitments (the service commitments the run's controls support).

Together they answer the auditor's "which criteria and promises does this evidence cover",
read from the catalog's criteria and the commitments file rather than from single findings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reports.workbook.model import (
    COMMITMENTS_SHEET,
    CRITERIA_HEADERS,
    CRITERIA_SHEET,
    NO_AUTOMATED_EVIDENCE,
    NOT_EVALUATED,
)
from reports.workbook.styles import CONTROL_STATUS_COLORS, Styled, table_columns
from reports.workbook.table import TableWriter
from reports.workbook.view import RunView


def write_criteria(out: TableWriter, view: RunView) -> None:
    out.table(
        CRITERIA_SHEET,
        table_columns(CRITERIA_HEADERS, widths={"Paraphrase": 90, "Controls": 30}),
        criteria_rows(view),
        status_col=CRITERIA_HEADERS.index("Status"),
        status_colors=CONTROL_STATUS_COLORS,
        freeze_cols=1,
    )


def write_commitments(out: TableWriter, view: RunView) -> None:
    out.dict_table(COMMITMENTS_SHEET, view.data.commitments, "No commitments file configured (commitments:).")


def criteria_rows(view: RunView) -> Iterator[tuple[Any, ...]]:
    """Every criterion -> its controls -> the worst of their statuses."""
    by_criterion: dict[str, list[str]] = {}
    for cid in view.control_ids:
        info = view.infos.get(cid)
        for crit in info.criteria if info else ():
            by_criterion.setdefault(crit, []).append(cid)
    order = list(view.data.criteria) or sorted(by_criterion)
    rank = {s: i for i, s in enumerate(("deficient", "incomplete", NOT_EVALUATED, "effective", "no_evidence"))}
    for crit in order:
        controls = by_criterion.get(crit, [])
        automated = [c for c in controls if view.infos.get(c) and view.infos[c].checks]
        if not automated:
            status = NO_AUTOMATED_EVIDENCE
        else:
            status = min((view.control_status(c) for c in automated), key=lambda s: rank.get(s, 99))
        yield (
            crit,
            view.data.criteria.get(crit, ""),
            ", ".join(controls) or "(none)",
            Styled(status, fill=CONTROL_STATUS_COLORS.get(status)),
        )
