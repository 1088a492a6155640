"""The control × time matrix: one row per control, one column per run (or per ISO week), each
cell the control's status, and per control the share of the period in each status.

Columns (`columns`):
- per run (the default up to MAX_RUN_COLUMNS runs): one column per completed run, headed by its
  start time (UTC), the run before the period first when it evidences the period's start; each
  stretch no run evidences (a missed run, the time before the first run) gets a column of its
  own ("not evidenced 7d"), every cell *not evidenced*, so a gap is visible where it happened;
- per ISO week (Monday 00:00 UTC) beyond that: a cell is the worst status of the runs started
  that week, worst first: deficient, not evidenced, incomplete, no evidence, effective; a week
  without a completed run is *not evidenced*. (The shares stay exact either way: they come from
  the time line, not from the cells.)

The shares are `Timeline.shares`: the fraction of the period attributed to each status, with
the time no run evidences as *not evidenced* (see reports.period.timeline for the rule).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from reports.history import format_duration
from reports.period.timeline import NOT_EVIDENCED, SHARE_BUCKETS, Timeline, midnight

MAX_RUN_COLUMNS = 60
NOT_IN_CATALOG = "not in catalog"
WORST_FIRST = ("deficient", NOT_EVIDENCED, "incomplete", "no_evidence", "effective")
SHARE_TITLES = {
    "effective": "Effective % of period",
    "deficient": "Deficient %",
    "incomplete": "Incomplete %",
    "no_evidence": "No evidence %",
    NOT_EVIDENCED: "Not evidenced %",
}
FIXED_HEADERS = ("Control", "Title", *(SHARE_TITLES[b] for b in SHARE_BUCKETS), "Runs effective")


@dataclass(frozen=True)
class TimeColumn:
    header: str
    run_id: str | None = None  # a run's column
    week: tuple[datetime, datetime] | None = None  # a week's column: [start, end)
    gap: bool = False  # a gap's column: every cell not evidenced


def columns(timeline: Timeline, mode: str = "auto") -> list[TimeColumn]:
    """The time columns: `runs`, `weeks`, or `auto` (runs up to MAX_RUN_COLUMNS, else weeks)."""
    if mode == "auto":
        mode = "runs" if len(timeline.all_runs) <= MAX_RUN_COLUMNS else "weeks"
    if mode == "weeks":
        return list(_week_columns(timeline))
    if mode != "runs":
        raise ValueError(f"matrix columns: expected runs, weeks or auto, not {mode!r}")
    evidencing = {seg.run_id for seg in timeline.segments if seg.run_id}
    events: list[tuple[datetime, int, TimeColumn]] = []
    for seg in timeline.segments:
        if seg.run_id is None:
            events.append((seg.start, 0, TimeColumn(f"not evidenced {format_duration(seg.duration)}", gap=True)))
    for run in timeline.all_runs:
        if run.in_period or run.run_id in evidencing:
            label = f"{run.started_at:%Y-%m-%d %H:%M}"
            events.append((run.started_at, 1, TimeColumn(label if run.in_period else f"before: {label}", run.run_id)))
    return [col for _, _, col in sorted(events, key=lambda e: (e[0], e[1]))]


def _week_columns(timeline: Timeline) -> Iterator[TimeColumn]:
    monday = midnight(timeline.start.date() - timedelta(days=timeline.start.weekday()))
    while monday < timeline.end:
        nxt = monday + timedelta(days=7)
        iso = monday.isocalendar()
        yield TimeColumn(f"{iso.year}-W{iso.week:02d}", week=(max(monday, timeline.start), min(nxt, timeline.end)))
        monday = nxt


def cell(timeline: Timeline, control_id: str, column: TimeColumn) -> str:
    """The status shown in one cell of the matrix."""
    if column.gap:
        return NOT_EVIDENCED
    if column.run_id is not None:
        return timeline.run(column.run_id).status_of(control_id) or NOT_IN_CATALOG
    assert column.week is not None
    lo, hi = column.week
    found = {timeline_status(r.status_of(control_id)) for r in timeline.runs if lo <= r.started_at < hi}
    return next((s for s in WORST_FIRST if s in found), NOT_EVIDENCED)


def timeline_status(status: str | None) -> str:
    return status if status in WORST_FIRST else NOT_EVIDENCED


def matrix_rows(timeline: Timeline, cols: list[TimeColumn]) -> Iterator[tuple[Any, ...]]:
    """Per control: ID, title, the share (in %) of each status, runs effective, then the cells."""
    for cid in timeline.control_ids():
        shares = timeline.shares(cid)
        statuses = [r.status_of(cid) for r in timeline.runs]
        effective = sum(1 for s in statuses if s == "effective")
        yield (
            cid,
            timeline.title(cid),
            *(round(shares[b] * 100, 2) for b in SHARE_BUCKETS),
            f"{effective} of {len(timeline.runs)}",
            *(cell(timeline, cid, c) for c in cols),
        )
