"""The overview sheets: Cover and Summary (the Populations sheet is reports.workbook.populations).

The Cover says what the run was (scope, cloud endpoints, callers, integrity hashes, totals, a
legend of the statuses); the Summary gives one row per control with its per-status counts and
population counts. One module because both read the same per-control counts.

Population counts (completeness): for each control, *enumerated* is every resource the
collectors listed for the control's checks (every row of its population sheet: pass, fail,
excepted, not_applicable and error rows); *evaluated* = pass + fail + excepted; *excluded* =
not_applicable; *not assessed* = error; so enumerated = evaluated + excluded + not assessed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from controls.model import ControlStatus, Status
from reports.cells import sheet_ref
from reports.workbook.evidence import EVIDENCE_SET_HOWTO, evidence_set_sha256
from reports.workbook.model import (
    COVER_SHEET,
    NOT_EVALUATED,
    SUMMARY_HEADERS,
    SUMMARY_SHEET,
)
from reports.workbook.regions import account_line, region_rows
from reports.workbook.styles import AUTO, CONTROL_STATUS_COLORS, STATUS_COLORS, Column, Styled, table_columns
from reports.workbook.table import TableWriter
from reports.workbook.view import RunView, count_statuses

STATUS_MEANINGS: dict[str, str] = {
    Status.PASS: "The resource meets the check's expectation.",
    Status.FAIL: "The resource does not meet the check's expectation.",
    Status.ERROR: "Not assessed: the evidence could not be collected (see Errors for the reason and permission).",
    Status.NOT_APPLICABLE: "The check does not apply to this resource.",
    Status.EXCEPTED: "A fail covered by an approved, unexpired exception; counted and shown, never hidden.",
}
CONTROL_STATUS_MEANINGS: dict[str, str] = {
    ControlStatus.EFFECTIVE: "At least one pass, no fail, no error.",
    ControlStatus.DEFICIENT: "At least one fail.",
    ControlStatus.INCOMPLETE: "No fail, but some resources could not be assessed (error).",
    ControlStatus.NO_EVIDENCE: "Nothing assessed: no pass, fail or error mapped to the control (none in scope,"
    " or only not_applicable / excepted).",
}

# Population counts: what each count is made of.
EVALUATED_STATUSES = (Status.PASS, Status.FAIL, Status.EXCEPTED)
EXCLUDED_STATUSES = (Status.NOT_APPLICABLE,)
NOT_ASSESSED_STATUSES = (Status.ERROR,)

EXCEPTION_STATES = ("active", "expired", "stale", "not_yet_valid")  # controls.exceptions
MANIFEST_NOTE = (
    "manifest.json (written after this workbook) records this workbook's SHA-256;"
    " verify with `soc2-evidence verify RUN_DIR`"
)


def write_cover(out: TableWriter, view: RunView) -> None:
    columns = [Column("Section", max_width=20), Column("Item", max_width=34), Column("Value", AUTO, max_width=110)]
    out.table(COVER_SHEET, columns, cover_rows(view))


def write_summary(out: TableWriter, view: RunView) -> None:
    """One row per control; printed on one page (a catalog of a few dozen controls stays legible)."""
    out.table(
        SUMMARY_SHEET,
        table_columns(SUMMARY_HEADERS, numbers=range(4, len(SUMMARY_HEADERS)), widths={"Title": 44, "Criteria": 18}),
        summary_rows(view),
        status_col=SUMMARY_HEADERS.index("Status"),
        status_colors=CONTROL_STATUS_COLORS,
        freeze_cols=1,
        one_page=True,
    )


def cover_rows(view: RunView) -> Iterator[tuple[Any, ...]]:
    d = view.data
    yield ("Run", "Organization", d.organization)
    yield ("Run", "Audit period start", d.period_start)
    yield ("Run", "Audit period end", d.period_end)
    yield ("Run", "Run ID", d.run_id)
    yield ("Run", "Started (UTC)", d.started_at)
    yield ("Run", "Finished (UTC)", d.finished_at)
    yield ("Run", "Tool version", d.tool_version)
    yield ("Run", "Config SHA-256", d.config_sha256)
    yield ("Run", "Time zone", "All dates and times in this workbook are UTC.")
    yield from endpoint_rows(view)
    yield from scope_rows(view)
    for account, caller in d.callers.items():
        failed = str(caller).startswith("error")
        yield ("Caller identity", f"Account {account}", Styled(caller, fill="FFC7CE" if failed else None))
    yield ("Integrity", "Evidence set SHA-256", evidence_set_sha256((e.path, e.sha256) for e in d.evidence_files))
    yield ("Integrity", "Evidence set SHA-256: how to recompute", EVIDENCE_SET_HOWTO)
    yield ("Integrity", "This workbook", MANIFEST_NOTE)
    yield ("Totals", "Controls", len(view.control_ids))
    by_control_status: dict[str, int] = {}
    for cid in view.control_ids:
        s = view.control_status(cid)
        by_control_status[s] = by_control_status.get(s, 0) + 1
    for s in (*ControlStatus, NOT_EVALUATED):
        if s in by_control_status or s in CONTROL_STATUS_COLORS:
            yield ("Totals", f"Controls {s}", by_control_status.get(s, 0))
    yield ("Totals", "Findings", len(d.findings))
    counts = count_statuses(d.findings)
    for s in Status:
        yield ("Totals", f"Findings {s}", counts[s])
    yield ("Totals", "Evidence files", len(d.evidence_files))
    yield ("Totals", "Evidence records (API answers)", sum(e.records for e in d.evidence_files))
    yield ("Totals", "Evidence records that failed", sum(e.errors for e in d.evidence_files))
    if d.exceptions:
        states = [str(r.get("Status", "")) for r in d.exceptions]
        yield ("Exceptions", "Exceptions", len(states))
        for state in (*EXCEPTION_STATES, *sorted(set(states) - set(EXCEPTION_STATES))):
            if state in EXCEPTION_STATES[:3] or state in states:
                yield ("Exceptions", f"Exceptions {state}", states.count(state))
    else:
        yield ("Exceptions", "Exceptions", "none (no exceptions file configured)")
    yield ("Drift", "Since the previous run", d.drift_summary or "No drift computed.")
    yield (
        "Populations",
        "Completeness",
        "Per control on the Summary: enumerated = evaluated (pass + fail + excepted) + excluded (not_applicable)"
        " + not assessed (error). The Populations sheet reconciles each population with the source listing's own"
        " entries (e.g. ListBuckets' buckets), per account and region.",
    )
    for s in Status:
        yield ("Check status (per resource)", Styled(str(s), fill=STATUS_COLORS[s]), STATUS_MEANINGS[s])
    for cs in ControlStatus:
        yield ("Control status", Styled(str(cs), fill=CONTROL_STATUS_COLORS[cs]), CONTROL_STATUS_MEANINGS[cs])


def endpoint_rows(view: RunView) -> Iterator[tuple[Any, ...]]:
    """Which endpoints the collectors talked to; a run against an emulator says so, in red."""
    ep = view.data.endpoints
    if not ep:
        yield ("Cloud endpoints", "Endpoints used", "not recorded")
        return
    emulated = bool(ep.get("emulated"))
    red = "FFC7CE" if emulated else None
    yield ("Cloud endpoints", "Endpoints used", Styled(str(ep.get("summary", "")), fill=red))
    aws, gcp = ep.get("aws") or {}, ep.get("gcp") or {}
    yield (
        "Cloud endpoints",
        "AWS",
        Styled(str(aws.get("effective", "")), fill=red if aws.get("endpoint_url") else None),
    )
    for service, url in (aws.get("service_endpoint_urls") or {}).items():
        yield ("Cloud endpoints", f"AWS {service}", Styled(str(url), fill=red))
    gcs = gcp.get("storage_emulator_host")
    yield ("Cloud endpoints", "GCP Cloud Storage", Styled(str(gcp.get("effective", "")), fill=red if gcs else None))


def scope_rows(view: RunView) -> Iterator[tuple[Any, ...]]:
    scope = view.data.scope
    labels = {
        "aws_accounts": "AWS account",
        "gcp_projects": "GCP project",
        "gcp_discovery": "GCP projects: named vs visible",
        "endpoints": "Endpoint",
    }
    for key in (*labels, *(k for k in scope if k not in labels)):
        entries = scope.get(key)
        label = labels.get(key, key)
        if entries is None or entries == [] or entries == ():
            yield ("Scope", label, "none")
        elif isinstance(entries, list | tuple):
            for entry in entries:
                if key == "aws_accounts" and isinstance(entry, Mapping):
                    yield ("Scope", label, _describe(account_line(entry)))
                    yield from region_rows(entry)
                else:
                    yield ("Scope", label, _describe(entry))
        else:
            yield ("Scope", label, _describe(entries))


def summary_rows(view: RunView) -> Iterator[tuple[Any, ...]]:
    for cid in view.control_ids:
        result = view.results.get(cid)
        info = view.infos.get(cid)
        title = info.title if info else (result.title if result else "")
        criteria = info.criteria if info else (result.criteria if result else ())
        counts = view.counts(cid)
        status = view.control_status(cid)
        yield (
            Styled(cid, location=sheet_ref(view.sheet_names[cid])),
            title,
            ", ".join(criteria),
            Styled(status, fill=CONTROL_STATUS_COLORS.get(status)),
            *(counts[s] for s in Status),
            sum(counts[s] for s in Status),
            *population_counts(counts),
        )


def population_counts(counts: Mapping[str, int]) -> tuple[int, int, int, int]:
    """(enumerated, evaluated, excluded, not assessed) from per-status counts.

    enumerated = every finding row (all statuses); evaluated = pass + fail + excepted;
    excluded = not_applicable; not assessed = error.
    """
    evaluated = sum(int(counts.get(s, 0)) for s in EVALUATED_STATUSES)
    excluded = sum(int(counts.get(s, 0)) for s in EXCLUDED_STATUSES)
    not_assessed = sum(int(counts.get(s, 0)) for s in NOT_ASSESSED_STATUSES)
    return sum(int(counts.get(s, 0)) for s in Status), evaluated, excluded, not_assessed


def _describe(entry: Any) -> str:
    """One scope entry (account, project, endpoint) as a line of text."""
    if isinstance(entry, Mapping):
        ident = entry.get("id")
        name = entry.get("name")
        head = str(ident) if ident not in (None, "") else ""
        if name not in (None, "") and name != ident:
            head = f"{head} ({name})" if head else str(name)
        rest = [f"{k}: {_describe(v)}" for k, v in entry.items() if k not in ("id", "name")]
        return "; ".join(p for p in (head, *rest) if p)
    if isinstance(entry, list | tuple | set | frozenset):
        return ", ".join(_describe(v) for v in entry)
    return str(entry)
