"""The Privileged access sheet: who holds administrative privilege in the estate, and through what.

One row per (principal, path to privilege) across clouds (reports.workbook.privileged_paths reads
them from the findings of aws.iam.privileged_roles, aws.iam.privileged_users,
aws.sso.privileged_permission_sets and gcp.iam.primitive_roles): fail first, then not assessed
(error), excepted, approved or otherwise passing, and listed-not-judged (service-linked roles, the
role the tool assumes, service accounts), each with the finding's reason. An auditor samples the
CC6.3 population from here; the finding's full record stays on its control's population sheet, which
the Finding ID opens (the exact row).

The evidence file is a relative hyperlink to the file that holds the path (the authorization
details, the account assignments, the IAM policy of the binding's source), as on the Evidence index;
every file the finding rests on is in the last, unprinted column. A sheet without a path says why in
one row: none found (and which checks ran), never "none" when a check could not assess (its error
rows are the table, privilege "unknown: not assessed").
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from controls.model import Finding
from reports.cells import sheet_ref
from reports.workbook.model import PRIVILEGED_HEADERS, PRIVILEGED_PRINTED, PRIVILEGED_SHEET, PRIVILEGED_WIDTHS
from reports.workbook.population import finding_extra
from reports.workbook.privileged_paths import CHECKS, PrivilegedPath, checks_summary, primary_evidence, privileged_paths
from reports.workbook.styles import Link, Styled, table_columns
from reports.workbook.table import MAX_SHEET_ROWS, TableWriter
from reports.workbook.view import RunView

KEY_COLUMNS = PRIVILEGED_HEADERS.index("Principal") + 1  # frozen: status .. principal
NONE_FOUND = "none found"


def write_privileged(out: TableWriter, view: RunView) -> None:
    columns = table_columns(
        PRIVILEGED_HEADERS,
        dates=(PRIVILEGED_HEADERS.index("Last used"),),
        links=(PRIVILEGED_HEADERS.index("Evidence file"),),
        widths=PRIVILEGED_WIDTHS,
    )
    out.table(
        PRIVILEGED_SHEET,
        columns,
        privileged_rows(view),
        status_col=PRIVILEGED_HEADERS.index("Status"),
        freeze_cols=KEY_COLUMNS,
        print_cols=PRIVILEGED_PRINTED,
    )


def privileged_rows(view: RunView) -> Iterator[tuple[Any, ...]]:
    """PRIVILEGED_HEADERS rows: every path, or one row saying why there is none."""
    findings = view.data.findings
    paths = privileged_paths(findings)
    if not paths:
        yield _none_row(findings)
        return
    rows = _population_rows(view, [p.finding for p in paths])
    checks = view.data.checks
    for p in paths:
        yield _row(p, rows.get(id(p.finding)), checks.get(p.finding.result.check_id))


def _row(p: PrivilegedPath, at: str | None, spec: Any) -> tuple[Any, ...]:
    r = p.finding.result
    files = [e.path for e in r.evidence]
    main = primary_evidence(p)
    more = len(files) - 1
    tip = f"Opens the evidence file; the finding rests on {more} more (last column)" if more > 0 else None
    finding_id = finding_extra(p.finding, spec).get("finding_id")
    return (  # PRIVILEGED_HEADERS order
        p.status,
        p.cloud,
        p.account,
        p.principal_type,
        p.principal,
        p.privilege,
        p.through,
        p.held_by,
        p.mfa,
        p.last_used,
        r.reason,
        Link(main, main, tip) if main else None,
        p.principal_id,
        r.check_id,
        Styled(finding_id, location=at) if finding_id and at else finding_id,
        "; ".join(files),
    )


def _none_row(findings: Sequence[Finding]) -> tuple[Any, ...]:
    """No path: none found by the checks that ran (each named with its findings), or none ran."""
    ran = any(f.result.check_id in CHECKS for f in findings)
    principal = "(none)" if ran else "(not assessed)"
    status = NONE_FOUND if ran else "not run"
    why = (
        "No principal holds administrative privilege through the paths the checks evaluate"
        if ran
        else "The population is unknown: no privileged-access check ran in this run (not in the catalog or no "
        "collector configured)"
    )
    return (status, "", "", "", principal, "", "", "", "", None, f"{why}. {checks_summary(findings)}.",
            None, "", "", None, "")  # fmt: skip


def _population_rows(view: RunView, findings: Sequence[Finding]) -> dict[int, str]:
    """Where each of `findings` is on its (first) control's population sheet: a cell reference."""
    per_sheet = MAX_SHEET_ROWS - 1
    wanted = {id(f) for f in findings}
    controls = {cid for f in findings for cid in f.control_ids}
    out: dict[int, str] = {}
    for cid in (c for c in view.control_ids if c in controls):
        for i, f in enumerate(view.population.get(cid, ())):
            if id(f) in wanted and id(f) not in out:
                sheet = view.sheet_lists[cid][i // per_sheet]
                out[id(f)] = sheet_ref(sheet, f"A{i % per_sheet + 2}")
    return out
