"""The sheets of what needs attention: Exceptions, Drift and Errors.

Exceptions lists the risk exceptions and their state (active, expired, stale, ...); Drift
what changed since the previous run; Errors every resource not assessed, with the
operation, error code and missing permission, so that an error is never a silent pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from controls.model import Status
from reports.workbook.model import DRIFT_SHEET, ERRORS_HEADERS, ERRORS_SHEET, EXCEPTIONS_SHEET
from reports.workbook.population import compact
from reports.workbook.styles import table_columns
from reports.workbook.table import TableWriter
from reports.workbook.view import RunView


def write_exceptions(out: TableWriter, view: RunView) -> None:
    out.dict_table(EXCEPTIONS_SHEET, view.data.exceptions, "No exceptions file configured (exceptions:).")


def write_drift(out: TableWriter, view: RunView) -> None:
    out.dict_table(DRIFT_SHEET, view.data.drift_rows, view.data.drift_summary or "No drift computed.")


def write_errors(out: TableWriter, view: RunView) -> None:
    out.table(ERRORS_SHEET, table_columns(ERRORS_HEADERS), error_rows(view))


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
