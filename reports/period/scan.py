"""One pass over the period's findings, run by run: failure episodes and population counts.

Memory is bounded by the failing resources, never by the runs: each run's findings.jsonl is
streamed line by line through `reports.drift.parse_finding_line` (which skips observed,
expected and evidence), and only the open failure episodes, the closed ones and a few counters
per run and control are kept. 52 weekly runs of 50,000 findings read this way stay far below
the 500 MB the period report is allowed (bench/bench_period.py).

A resource is identified across runs as drift does (`reports.drift.KEY_FIELDS`). An *episode*
is one stretch during which a resource failed:
- it opens at the first run in the period where the resource is `fail` or `excepted` (an
  excepted result is a fail an approved exception covers: still failing, but accepted);
- it stays open through `fail`, `excepted` and `error` (not assessed: a resource that could not
  be seen is not fixed, as in drift);
- it is *resolved* at the first later run where the resource is `pass` or `not_applicable`,
  and *gone* at the first later run that does not list it at all (deleted, renamed, or out of
  scope: not the same thing as fixed); otherwise it is still open at the end of the period.
A resource that fails again after being resolved opens a new episode (a regression).
"Failing before the period" compares the first run of the period with the last run before it.

While reading, each findings.jsonl is hashed and compared with the SHA-256 its manifest
recorded, so the report says whether what it read is what the run wrote.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reports.drift import FindingRow, parse_finding_line
from reports.period.timeline import PeriodRun, Timeline

FAILING = frozenset({"fail", "excepted"})
CLEARED = frozenset({"pass", "not_applicable"})
STATUSES = ("pass", "fail", "error", "not_applicable", "excepted")
OPEN, RESOLVED, GONE = "open", "resolved", "gone"
EXCEPTED_MARK = " — excepted: "  # controls.exceptions.RiskException.note(), appended to the reason

Key = tuple[str, str, str, str, str]


@dataclass(slots=True)
class Episode:
    key: Key
    control_ids: tuple[str, ...]
    first_run: str
    first_at: datetime
    before_period: bool | None  # failing in the last run before the period too (None: no such run)
    end_run: str | None = None
    end_at: datetime | None = None
    outcome: str = OPEN
    runs_fail: int = 0
    runs_excepted: int = 0
    runs_error: int = 0
    exception: str = ""  # the exception named by the last excepted result
    reason: str = ""  # the last failing result's reason
    last_seen: int = -1  # index of the last run that listed the resource

    @property
    def runs_failing(self) -> int:
        return self.runs_fail + self.runs_excepted

    def covered(self) -> str:
        """Whether an approved exception covered the failure: yes / partly (k of n runs) / no."""
        if not self.runs_excepted:
            return "no"
        if not self.runs_fail:
            return "yes"
        return f"partly ({self.runs_excepted} of {self.runs_failing} runs)"


@dataclass
class RunCounts:
    """Per run: findings per (control, status), and how the file compared with the manifest."""

    run_id: str
    findings: int = 0
    per_control: dict[str, Counter[str]] = field(default_factory=dict)
    findings_sha256: str = ""
    findings_intact: bool | None = None  # None: the manifest records no hash
    problem: str = ""


@dataclass
class ScanResult:
    episodes: list[Episode]
    counts: dict[str, RunCounts]  # run_id -> counts


def scan(timeline: Timeline, *, progress: Callable[[PeriodRun], None] | None = None) -> ScanResult:
    """Read every run of the period once (and the run before it, for "failing before")."""
    before: set[Key] | None = None
    if timeline.prior is not None:
        before = set()
        for row in _rows(timeline.prior, RunCounts(timeline.prior.run_id)):
            if row.status in FAILING:
                before.add(row[:5])  # type: ignore[arg-type]
    open_: dict[Key, Episode] = {}
    closed: list[Episode] = []
    counts: dict[str, RunCounts] = {}
    for index, run in enumerate(timeline.runs):
        if progress:
            progress(run)
        rc = counts[run.run_id] = RunCounts(run.run_id)
        tally: Counter[tuple[tuple[str, ...], str]] = Counter()  # (control_ids, status): one add per finding
        for row in _rows(run, rc):
            status = row.status
            tally[row.control_ids, status] += 1
            key: Key = row[:5]  # type: ignore[assignment]
            ep = open_.get(key)
            if ep is not None:
                ep.last_seen = index
            if status in FAILING:
                if ep is None:
                    # failing in the run before the period too? Known for the period's first run
                    # only when there is such a run; any later episode began in the period
                    was = (key in before if before is not None else None) if index == 0 else False
                    ep = open_[key] = Episode(key, row.control_ids, run.run_id, run.started_at, was, last_seen=index)
                _count_failing(ep, row)
            elif ep is not None:
                if status in CLEARED:
                    _close(ep, RESOLVED, run)
                    closed.append(open_.pop(key))
                elif status == "error":
                    ep.runs_error += 1
        for (cids, status), n in tally.items():
            for cid in cids:
                rc.per_control.setdefault(cid, Counter())[status] += n
        before = None  # only the period's first run is compared with the run before it
        if not rc.findings_sha256:
            continue  # findings unreadable: nothing is known to be gone
        for key in [k for k, ep in open_.items() if ep.last_seen < index]:
            ep = open_.pop(key)
            _close(ep, GONE, run)
            closed.append(ep)
    episodes = closed + list(open_.values())
    episodes.sort(key=lambda e: (e.first_at, e.key))
    return ScanResult(episodes, counts)


def _count_failing(ep: Episode, row: FindingRow) -> None:
    if row.status == "excepted":
        ep.runs_excepted += 1
        reason, mark, note = row.reason.partition(EXCEPTED_MARK)
        ep.exception = note if mark else ep.exception or "approved exception"
        ep.reason = reason
    else:
        ep.runs_fail += 1
        ep.reason = row.reason


def _close(ep: Episode, outcome: str, run: PeriodRun) -> None:
    ep.outcome, ep.end_run, ep.end_at = outcome, run.run_id, run.started_at


def _rows(run: PeriodRun, rc: RunCounts) -> Iterator[FindingRow]:
    """The run's findings, streamed; hashes the file and records whether it matches the manifest.
    A missing or unreadable file is recorded as the run's problem (the run then shows no findings)."""
    digest = hashlib.sha256()
    shared: dict[Any, Any] = {}
    try:
        with open(run.path / run.findings_path, "rb") as fh:
            for line in fh:
                digest.update(line)
                if len(line) > 2:
                    rc.findings += 1
                    yield parse_finding_line(line, shared)
    except FileNotFoundError:
        rc.problem = f"{run.findings_path} missing"
        return
    except (OSError, ValueError, KeyError) as exc:
        rc.problem = f"{run.findings_path} unreadable: {exc}"
        return
    rc.findings_sha256 = digest.hexdigest()
    if run.findings_sha256 is not None:
        rc.findings_intact = rc.findings_sha256 == run.findings_sha256
        if not rc.findings_intact:
            rc.problem = f"{run.findings_path}: SHA-256 differs from the manifest's (altered after the run)"
