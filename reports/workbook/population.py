"""The population sheets: one per control, in catalog order, every resource its checks enumerated.

A row per finding (pass, fail, excepted, not_applicable and error alike), with the check's
observed and expected values and the evidence files (and their SHA-256) it was judged on,
then what an engineer acts on: the check's remediation, the resource's ARN, a console link
and the finding's stable ID (the finding's `additional` object). The evidence files are
named as on the Evidence index, whose rows link to them (relative paths: they open from the
unzipped run folder). Here they stay plain, wrapped text: LibreOffice neither wraps nor prints
more than the first line of a hyperlink cell, and a finding often rests on several files.
These are the big tables (hundreds of thousands of rows): a population past Excel's row
limit continues on the continuation sheets the `RunView` named up front. Row 1 is the
table's header (no counts above it), so filters, sorting and pandas see a plain table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from controls.additional import additional_fields
from controls.model import Finding
from reports.workbook.model import POPULATION_HEADERS, POPULATION_PRINTED, POPULATION_WIDTHS
from reports.workbook.styles import CONTROL_STATUS_COLORS, Link, parse_time, table_columns
from reports.workbook.table import TableWriter
from reports.workbook.view import RunView

KEY_COLUMNS = POPULATION_HEADERS.index("Resource ID") + 1  # frozen: account, region, resource


def write_population_sheets(out: TableWriter, view: RunView) -> None:
    status_col = POPULATION_HEADERS.index("Status")
    columns = table_columns(
        POPULATION_HEADERS,
        dates=(POPULATION_HEADERS.index("Evaluated at"),),
        links=(POPULATION_HEADERS.index("Console URL"),),
        widths=POPULATION_WIDTHS,
    )
    for cid in view.control_ids:
        tab = view.control_status(cid)
        out.table(
            view.sheet_names[cid],
            columns,
            population_rows(view, cid),
            status_col=status_col,
            tab_color=CONTROL_STATUS_COLORS.get(tab),
            continuations=iter(view.sheet_lists[cid][1:]),
            freeze_cols=KEY_COLUMNS,
            print_cols=POPULATION_PRINTED,
        )


def population_rows(view: RunView, cid: str) -> Iterator[tuple[Any, ...]]:
    checks = view.data.checks
    for f in view.population.get(cid, ()):
        r = f.result
        spec = checks.get(r.check_id)
        evaluated_at = parse_time(f.evaluated_at) if isinstance(f.evaluated_at, str) else f.evaluated_at
        extra = finding_extra(f, spec)
        url = extra.get("console_url")
        yield (  # POPULATION_HEADERS order
            r.account,
            r.region,
            r.resource_id,
            r.check_id,
            str(spec.severity) if spec else "",
            str(r.status),
            compact(r.observed),
            compact(r.expected),
            r.reason,
            "; ".join(e.path for e in r.evidence),
            r.resource_type,
            spec.title if spec else "",
            evaluated_at,
            "; ".join(e.sha256 for e in r.evidence),
            extra.get("remediation"),
            extra.get("resource_arn"),
            Link(url, url) if url else None,
            extra.get("finding_id"),
        )


def finding_extra(f: Finding, spec: Any) -> Mapping[str, Any]:
    """The finding's `additional` object; derived from the check and result for findings written without it."""
    return f.additional or additional_fields(f.result, spec)


def compact(value: Any) -> str | None:
    """Observed/expected as the auditor reads them: strings as is, anything else as compact JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
