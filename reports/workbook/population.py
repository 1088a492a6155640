"""The population sheets: one per control, in catalog order, every resource its checks enumerated.

A row per finding (pass, fail, excepted, not_applicable and error alike), with the check's
observed and expected values and the evidence files (and their SHA-256) it was judged on.
These are the big tables (hundreds of thousands of rows): a population past Excel's row
limit continues on the continuation sheets the `RunView` named up front. Row 1 is the
table's header (no counts above it), so filters, sorting and pandas see a plain table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from reports.workbook.model import POPULATION_HEADERS
from reports.workbook.styles import CONTROL_STATUS_COLORS, parse_time, table_columns
from reports.workbook.table import TableWriter
from reports.workbook.view import RunView


def write_population_sheets(out: TableWriter, view: RunView) -> None:
    status_col = POPULATION_HEADERS.index("Status")
    for cid in view.control_ids:
        tab = view.control_status(cid)
        out.table(
            view.sheet_names[cid],
            table_columns(POPULATION_HEADERS, dates=(POPULATION_HEADERS.index("Evaluated at"),)),
            population_rows(view, cid),
            status_col=status_col,
            tab_color=CONTROL_STATUS_COLORS.get(tab),
            continuations=iter(view.sheet_lists[cid][1:]),
        )


def population_rows(view: RunView, cid: str) -> Iterator[tuple[Any, ...]]:
    checks = view.data.checks
    for f in view.population.get(cid, ()):
        r = f.result
        spec = checks.get(r.check_id)
        evaluated_at = parse_time(f.evaluated_at) if isinstance(f.evaluated_at, str) else f.evaluated_at
        yield (
            r.account,
            r.region,
            r.resource_type,
            r.resource_id,
            r.check_id,
            spec.title if spec else "",
            str(spec.severity) if spec else "",
            str(r.status),
            compact(r.observed),
            compact(r.expected),
            r.reason,
            evaluated_at,
            "; ".join(e.path for e in r.evidence),
            "; ".join(e.sha256 for e in r.evidence),
        )


def compact(value: Any) -> str | None:
    """Observed/expected as the auditor reads them: strings as is, anything else as compact JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
