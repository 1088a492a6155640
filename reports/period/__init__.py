"""The period report: a SOC 2 Type II audit period over every completed run, in one workbook.

A run's workbook shows one point in time; an auditor of a Type II report must see that each
control operated throughout the period, when it failed and when it was fixed. This package
reads every completed run of the period (manifests, controls.json, and findings.jsonl one run
at a time: never all runs in memory) and writes `<organization>-SOC2-period-<from>-<to>.xlsx`.

Definitions (also on the workbook's Cover):
- **Period**: [first day 00:00 UTC, the day after the last day 00:00 UTC), cut at the report's
  time while it is still running. A run belongs to it when it *started* in it.
- **Runs expected**: one per schedule interval started in the period, ceil(length / interval).
- **Effective share** of a control: the fraction of the period attributed to runs in which the
  control was `effective`. Each run evidences the time from its start until the next completed
  run starts, but for at most one schedule interval, with its own status for the control (the
  earlier run's status is attributed to the time between two runs); the last run before the
  period evidences the period's start on the same rule. Time that no run evidences (a missed
  run beyond the interval, before the first run, after the last) is *not evidenced*: it counts
  against every control. The shares of effective, deficient, incomplete, no_evidence and not
  evidenced add up to 100%.
- **Gaps**: runs (or the period's edges and a run) further apart than the interval, computed by
  `reports.history.coverage_gaps`, so `soc2-evidence history` names the same ones.
- **Failure episode** (Exceptions timeline): see reports.period.scan.
- **Hash chain**: every run's link to its previous run (`reports.verify.chain_link_problems`:
  the recorded SHA-256 of the previous manifest matches the file), forks
  (`reports.history.chain_forks`), and each run following the completed run before it; the
  findings files read are hashed against their manifests on the way.

Modules: `timeline` (runs, attribution, gaps, chain), `scan` (the streaming pass over the
findings: episodes and population counts), `matrix` (the control × time matrix), `workbook`
(the xlsx). Readers work on a local output directory: for a bucket, the caller materialises it
first (reports.locker, files DRIFT_FILES), as history and drift do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from reports.period.scan import Episode, ScanResult, scan
from reports.period.timeline import NOT_EVIDENCED, PeriodError, Timeline, load_timeline
from reports.period.workbook import period_workbook_name, write_period_workbook

__all__ = [
    "NOT_EVIDENCED",
    "Episode",
    "PeriodError",
    "PeriodReport",
    "ScanResult",
    "Timeline",
    "load_timeline",
    "period_report",
    "period_workbook_name",
    "scan",
    "write_period_workbook",
]


@dataclass(frozen=True)
class PeriodReport:
    path: Path
    timeline: Timeline
    scanned: ScanResult


def period_report(
    output: Path,
    first_day: date,
    last_day: date,
    interval: timedelta,
    *,
    organization: str,
    out_dir: Path,
    interval_source: str = "",
    matrix: str = "auto",
    now: datetime | None = None,
) -> PeriodReport:
    """Read the period's runs from `output` (a local directory holding runs/) and write the
    workbook into `out_dir`; returns its path with what it was made from."""
    now = now or datetime.now(UTC)
    timeline = load_timeline(output, first_day, last_day, interval, now=now)
    scanned = scan(timeline)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / period_workbook_name(organization, timeline)
    write_period_workbook(
        path, organization, timeline, scanned, interval_source=interval_source, matrix=matrix, written_at=now
    )
    return PeriodReport(path, timeline, scanned)
