"""The sheets of what needs attention: Exceptions, Drift and Errors.

Exceptions lists the risk exceptions and their state (active, expired, stale, ...); Drift
what changed since the previous run (with each resource's severity, since when it has been
failing, and what to do: remediation, ARN, console link); Errors every resource not
assessed, with the operation, error code and missing permission, so that an error is never a
silent pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from controls.model import Status
from reports.workbook.model import (
    DRIFT_HEADERS,
    DRIFT_PRINTED,
    DRIFT_SHEET,
    DRIFT_WIDTHS,
    ERRORS_HEADERS,
    ERRORS_SHEET,
    ERRORS_WIDTHS,
    EXCEPTIONS_SHEET,
)
from reports.workbook.population import compact
from reports.workbook.styles import Link, table_columns
from reports.workbook.table import TableWriter
from reports.workbook.view import RunView


def write_exceptions(out: TableWriter, view: RunView) -> None:
    out.dict_table(EXCEPTIONS_SHEET, view.data.exceptions, "No exceptions file configured (exceptions:).")


def write_drift(out: TableWriter, view: RunView) -> None:
    """Control status changes, then one row per changed resource (reports.drift.Drift.rows's keys);
    a run without a baseline gets the one-line summary instead."""
    rows = view.data.drift_rows
    if not rows or set(rows[0]) <= {"Change"}:
        note = str(rows[0].get("Change", "")) if rows else ""
        out.table(DRIFT_SHEET, table_columns(("Note",)), [(note or view.data.drift_summary or "No drift computed.",)])
        return
    links = (DRIFT_HEADERS.index("Console URL"),)
    out.table(
        DRIFT_SHEET,
        table_columns(DRIFT_HEADERS, dates=(DRIFT_HEADERS.index("Failing since"),), links=links, widths=DRIFT_WIDTHS),
        (tuple(_drift_cell(h, r.get(h)) for h in DRIFT_HEADERS) for r in rows),
        freeze_cols=1,
        print_cols=DRIFT_PRINTED,
    )


def _drift_cell(header: str, value: Any) -> Any:
    if header == "Console URL" and isinstance(value, str) and value:
        return Link(value, value)
    return value


def write_errors(out: TableWriter, view: RunView) -> None:
    out.table(ERRORS_SHEET, table_columns(ERRORS_HEADERS, widths=ERRORS_WIDTHS), error_rows(view), freeze_cols=2)


def error_rows(view: RunView) -> Iterator[tuple[Any, ...]]:
    for f in view.data.findings:
        r = f.result
        if r.status != Status.ERROR:
            continue
        obs = r.observed if isinstance(r.observed, Mapping) else {}
        permission = obs.get("missing_permission")
        if permission in (None, "", [], ()):
            permission = obs.get("required_permission")
        yield (
            r.account,
            r.region,
            r.check_id,
            r.resource_id,
            _joined(obs.get("operation")),
            _joined(obs.get("error_code")),
            _joined(permission),
            r.reason,
        )


def _joined(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    return compact(value)
