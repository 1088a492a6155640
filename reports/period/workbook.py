"""The period workbook: `<organization>-SOC2-period-<from>-<to>.xlsx`, for a SOC 2 Type II period.

Sheets: Cover (the period, runs found and expected, gaps, first and last evidence sets, the
hash chain), Control matrix (control × run or week, with the share of the period per status),
Exceptions timeline (one row per failure episode), Populations (counts per run and control),
Runs (one row per run: hashes, chain link, findings file check).

Streamed like the run workbook (reports.workbook): xlsxwriter in constant_memory mode through
`TableWriter`, every text cell through the cell-safety layer (reports.cells via
reports.workbook.styles), the same status colours; written atomically.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from xlsxwriter import Workbook

from controls.additional import finding_id
from reports.atomic import atomic_path
from reports.history import format_duration
from reports.period.matrix import FIXED_HEADERS, NOT_IN_CATALOG, columns, matrix_rows
from reports.period.scan import STATUSES, Episode, ScanResult
from reports.period.timeline import NOT_EVIDENCED, SHARE_BUCKETS, Timeline, midnight
from reports.store import safe_component
from reports.workbook.overview import CONTROL_STATUS_MEANINGS, population_counts
from reports.workbook.styles import (
    AUTO,
    CONTROL_STATUS_COLORS,
    NUMBER,
    TEXT,
    XLSX_OPTIONS,
    Column,
    Formats,
    Styled,
    table_columns,
)
from reports.workbook.table import TableWriter, discard_sheet_buffers

NOT_EVIDENCED_COLOR = "F4B084"  # orange: time no run evidences
MATRIX_COLORS = {**CONTROL_STATUS_COLORS, NOT_EVIDENCED: NOT_EVIDENCED_COLOR}
OUTCOME_COLORS = {"open": "FFC7CE", "resolved": "C6EFCE", "gone": "D9D9D9"}
PROBLEM_FILL = "FFC7CE"
OK_FILL = "C6EFCE"

EPISODE_HEADERS = (
    "Finding ID",
    "Control IDs",
    "Check",
    "Account",
    "Region",
    "Resource type",
    "Resource ID",
    "First failed (UTC)",
    "First failed run",
    "Failing before the period",
    "Resolved (UTC)",
    "Gone (UTC)",
    "Resolved / gone run",
    "Outcome",
    "Days open",
    "Runs failing",
    "Runs excepted",
    "Runs not assessed",
    "Covered by an approved exception",
    "Exception",
    "Last reason",
)
POPULATION_HEADERS = (
    "Run ID",
    "Started (UTC)",
    "Control",
    "Status",
    "Enumerated",
    "Evaluated",
    "Excluded (not_applicable)",
    "Not assessed (error)",
    *STATUSES,
    "Enumerated change",
    "Matches controls.json",
)
RUN_HEADERS = (
    "Run ID",
    "Started (UTC)",
    "Finished (UTC)",
    "In period",
    "Findings",
    "Evidence files",
    "Evidence set SHA-256",
    "Manifest SHA-256",
    "Previous run",
    "Chain link",
    "findings.jsonl",
)
DEFINITIONS = (
    (
        "Effective % of period",
        "Each run evidences the time from its start until the next completed run starts, for at most one"
        " schedule interval, with its own status for the control; the run before the period evidences the"
        " period's start on the same rule. Time no run evidences (a missed run beyond the interval, before"
        " the first run, after the last) is 'not evidenced'. The shares of the statuses and 'not evidenced'"
        " add up to 100% of the period (up to the report's time while the period runs).",
    ),
    (
        "Gap",
        "Consecutive runs (or the period's start or end and a run) further apart than the schedule interval;"
        " the same gaps `soc2-evidence history --expected-interval` lists.",
    ),
    (
        "Failure episode",
        "A resource failing (fail, or excepted: a fail an approved exception covers) from the run it first"
        " failed in until the run where it passes or is not applicable again (resolved) or is no longer"
        " listed (gone). 'error' (not assessed) keeps it open. Failing again later opens a new episode.",
    ),
    ("Days open", "From the first failing run to the resolving run, or to the end of the report while open."),
    ("Finding ID", "First 16 hex digits of SHA-256 of check, account, region, resource ID joined by U+001F."),
)


def period_workbook_name(organization: str, timeline: Timeline) -> str:
    return f"{safe_component(organization)}-SOC2-period-{timeline.first_day}-{timeline.last_day}.xlsx"


def write_period_workbook(
    path: Path,
    organization: str,
    timeline: Timeline,
    scanned: ScanResult,
    *,
    interval_source: str = "",
    matrix: str = "auto",
    written_at: datetime | None = None,
) -> None:
    """Write the period workbook to `path`, atomically."""
    with atomic_path(path) as tmp:
        wb = Workbook(str(tmp), XLSX_OPTIONS)
        try:
            formats = Formats(wb)
            out = TableWriter(wb, formats, set())
            cover = cover_rows(organization, timeline, scanned, interval_source, written_at)
            out.table("Cover", [Column("Section"), Column("Item"), Column("Value", AUTO)], cover)
            cols = columns(timeline, matrix)
            headers = [*FIXED_HEADERS, *(c.header for c in cols)]
            fixed = len(FIXED_HEADERS)
            kinds = [NUMBER if 2 <= i < 2 + len(SHARE_BUCKETS) else TEXT for i in range(len(headers))]
            rows = ((*row[:fixed], *(_status_cell(v) for v in row[fixed:])) for row in matrix_rows(timeline, cols))
            out.table("Control matrix", [Column(h, k) for h, k in zip(headers, kinds, strict=True)], rows)
            out.table(
                "Exceptions timeline",
                table_columns(EPISODE_HEADERS, numbers=range(14, 18), dates=(7, 10, 11)),
                (episode_row(e, timeline) for e in scanned.episodes),
                status_col=EPISODE_HEADERS.index("Outcome"),
                status_colors=OUTCOME_COLORS,
            )
            out.table(
                "Populations",
                table_columns(POPULATION_HEADERS, numbers=range(4, 4 + 4 + len(STATUSES) + 1), dates=(1,)),
                population_rows(timeline, scanned),
                status_col=POPULATION_HEADERS.index("Status"),
                status_colors=CONTROL_STATUS_COLORS,
            )
            out.table(
                "Runs",
                table_columns(RUN_HEADERS, numbers=(4, 5), dates=(1, 2)),
                run_rows(timeline, scanned),
            )
            wb.close()
        except BaseException:
            discard_sheet_buffers(wb)
            raise


def _status_cell(status: str) -> Styled:
    return Styled(status.replace("_", " ") if status == NOT_EVIDENCED else status, fill=MATRIX_COLORS.get(status))


def _problem(text: Any) -> Styled:
    return Styled(text, fill=PROBLEM_FILL)


def cover_rows(
    organization: str, tl: Timeline, scanned: ScanResult, interval_source: str, written_at: datetime | None
) -> Iterator[tuple[Any, ...]]:
    yield ("Period", "Organization", organization)
    yield ("Period", "Period start", tl.first_day)
    yield ("Period", "Period end", tl.last_day)
    running = tl.end < midnight(tl.last_day) + timedelta(days=1)  # cut at the report's time
    yield ("Period", "Reported up to (UTC, exclusive)", Styled(tl.end, fill="FFEB9C") if running else tl.end)
    if written_at is not None:
        yield ("Period", "Written at (UTC)", written_at)
    yield ("Period", "Time zone", "All dates and times are UTC.")
    yield ("Period", "Schedule interval", f"{format_duration(tl.interval)} {interval_source}".strip())
    found, expected = len(tl.runs), tl.expected_runs
    yield ("Runs", "Runs found (completed, started in the period)", found)
    yield ("Runs", "Runs expected (one per schedule interval)", expected)
    if found < expected:
        yield ("Runs", "Runs missing", _problem(expected - found))
    before = f"{tl.prior.run_id} ({tl.prior.started_at:%Y-%m-%d %H:%M}Z)" if tl.prior else "none"
    yield ("Runs", "Run before the period (evidences its start)", before)
    for r in tl.incomplete:
        yield ("Runs", f"Incomplete run {r.run_id}", _problem(r.reason))
    yield ("Gaps", "Gaps longer than the schedule interval", len(tl.gaps))
    for i, gap in enumerate(tl.gaps, 1):
        yield ("Gaps", f"Gap {i}", _problem(gap.describe()))
    missing = tl.not_evidenced()
    share = missing / tl.length * 100 if tl.length else 0.0
    yield ("Gaps", "Time not evidenced by any run", f"{format_duration(missing)} ({share:.2f}% of the period)")
    for label, run in (("First", tl.runs[0] if tl.runs else None), ("Last", tl.runs[-1] if tl.runs else None)):
        if run is None:
            yield ("Integrity", f"{label} run", _problem("no completed run in the period"))
            continue
        yield ("Integrity", f"{label} run", f"{run.run_id} ({run.started_at:%Y-%m-%d %H:%M}Z)")
        yield ("Integrity", f"{label} run: evidence set SHA-256", run.evidence_set_sha256)
        yield ("Integrity", f"{label} run: manifest SHA-256", run.manifest_sha256)
    yield from _chain_rows(tl, scanned)
    for term, meaning in DEFINITIONS:
        yield ("Definitions", term, meaning)
    for status in (*CONTROL_STATUS_MEANINGS, NOT_EVIDENCED):
        meaning = CONTROL_STATUS_MEANINGS.get(status, "No run evidences this time (see Definitions).")
        yield ("Control status", _status_cell(status), meaning)
    yield ("Control status", NOT_IN_CATALOG, "The control was not in this run's catalog.")


def _chain_rows(tl: Timeline, scanned: ScanResult) -> Iterator[tuple[Any, ...]]:
    problems = tl.chain_problems()
    links = len(tl.runs)
    if not tl.runs:
        return
    if problems:
        yield ("Integrity", "Hash chain across the period", _problem(f"{len(problems)} problem(s), listed below"))
        for p in problems:
            yield ("Integrity", "Hash chain problem", _problem(p))
    else:
        verified = (
            f"verified: each of the {links} runs follows the one before it and records the SHA-256 of its"
            " manifest, which matches the file (reports.verify)"
        )
        yield ("Integrity", "Hash chain across the period", Styled(verified, fill=OK_FILL))
    follower, follow_problems = tl.follower
    last = tl.runs[-1].run_id
    if follower is None:
        yield ("Integrity", "Last run's manifest", f"{last}: no later run records its hash yet")
    elif follow_problems:
        for p in follow_problems:
            yield ("Integrity", "Last run's manifest", _problem(f"{follower}: {p}"))
    else:
        yield ("Integrity", "Last run's manifest", f"matches the hash recorded by the next run {follower}")
    bad = [c for c in scanned.counts.values() if c.problem]
    if bad:
        for c in bad:
            yield ("Integrity", f"Findings of {c.run_id}", _problem(c.problem))
    else:
        yield ("Integrity", "Findings read", f"all {len(scanned.counts)} findings.jsonl match their manifest's SHA-256")
    yield ("Integrity", "Verify a run's every file", "soc2-evidence verify RUN_DIR")


def episode_row(e: Episode, tl: Timeline) -> tuple[Any, ...]:
    check, account, region, rtype, rid = e.key
    resolved = e.end_at if e.outcome == "resolved" else None
    gone = e.end_at if e.outcome == "gone" else None
    until = e.end_at or tl.end
    before = {True: "yes", False: "no", None: "unknown (no earlier run)"}[e.before_period]
    return (
        finding_id(check, account, region, rtype, rid),
        ", ".join(e.control_ids),
        check,
        account,
        region,
        rtype,
        rid,
        e.first_at,
        e.first_run,
        before,
        resolved,
        gone,
        e.end_run or "",
        e.outcome,
        round((until - e.first_at).total_seconds() / 86400, 1),
        e.runs_failing,
        e.runs_excepted,
        e.runs_error,
        e.covered(),
        e.exception,
        e.reason,
    )


def population_rows(tl: Timeline, scanned: ScanResult) -> Iterator[tuple[Any, ...]]:
    previous: dict[str, int] = {}
    for run in tl.runs:
        counts = scanned.counts.get(run.run_id)
        stored = {str(c.get("control_id")): c for c in run.controls}
        for cid in tl.control_ids():
            per = counts.per_control.get(cid, {}) if counts else {}
            enumerated, evaluated, excluded, not_assessed = population_counts(per)
            control = stored.get(cid)
            status = str(control.get("status")) if control else NOT_IN_CATALOG
            recorded = control.get("counts") if control else None
            if recorded is None:
                matches: Any = "n/a"
            elif all(recorded.get(s, 0) == per.get(s, 0) for s in STATUSES):
                matches = "yes"
            else:
                matches = _problem("no: controls.json counts differ from findings.jsonl")
            change = enumerated - previous[cid] if cid in previous else None
            previous[cid] = enumerated
            yield (
                run.run_id,
                run.started_at,
                cid,
                status,
                enumerated,
                evaluated,
                excluded,
                not_assessed,
                *(per.get(s, 0) for s in STATUSES),
                change,
                matches,
            )


def run_rows(tl: Timeline, scanned: ScanResult) -> Iterator[tuple[Any, ...]]:
    for run in tl.all_runs:
        counts = scanned.counts.get(run.run_id)
        if not run.in_period:
            link = "before the period: not checked"
        elif run.chain_problems:
            link = _problem("; ".join(run.chain_problems))
        else:
            link = "ok" if run.previous_run else "first run of its chain"
        if counts is None:
            findings_check = "not read (before the period)"
        elif counts.problem:
            findings_check = _problem(counts.problem)
        else:
            findings_check = "matches the manifest" if counts.findings_intact else "no hash in the manifest"
        yield (
            run.run_id,
            run.started_at,
            run.finished_at,
            "yes" if run.in_period else "no (evidences the period's start)",
            counts.findings if counts else None,
            run.evidence_files,
            run.evidence_set_sha256,
            run.manifest_sha256,
            run.previous_run or "",
            link,
            findings_check,
        )
