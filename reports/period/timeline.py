"""The period's runs on a time line: which completed runs fall in it, the stretch of time each
one evidences, the gaps, the runs expected, and the hash chain across them.

Time is UTC. The period [start, end) runs from midnight of its first day to midnight after its
last day (the config's `period` end date is inclusive), cut at `now` while the period is still
running, so shares are "so far", never a claim about the future.

Attribution (the definition the effective shares rest on): a run evidences the time from its
start until the next completed run starts, but for at most one schedule interval. So between
consecutive runs started at most one interval apart the whole stretch is attributed to the
earlier run's control status; when they are further apart (a gap, as `reports.history` names
it), the first interval is the earlier run's and the rest is *not evidenced*. The time from the
period's start to its first run is evidenced by the last completed run before the period, on
the same rule, and is *not evidenced* when there is none; the time after the last run likewise.
The gaps themselves come from `reports.history.coverage_gaps`, so `history` and the period
report name the same gaps; the chain link of every run is checked with
`reports.verify.chain_link_problems`, forks found with `reports.history.chain_forks`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from reports.drift import load_run_controls
from reports.history import Fork, Gap, IncompleteRun, chain_forks, coverage_gaps, incomplete_runs, parse_time
from reports.history import run_id_time as _run_id_time
from reports.store import FINDINGS, RunInfo, completed_runs
from reports.verify import chain_link_problems
from reports.workbook.evidence import evidence_set_sha256

NOT_EVIDENCED = "not_evidenced"
CONTROL_STATUSES = ("effective", "deficient", "incomplete", "no_evidence")
SHARE_BUCKETS = (*CONTROL_STATUSES, NOT_EVIDENCED)


class PeriodError(ValueError):
    """A period that cannot be reported on (ends before it starts, starts in the future)."""


@dataclass(frozen=True)
class PeriodRun:
    """What the period report keeps of one completed run (never its findings)."""

    run_id: str
    path: Path
    started_at: datetime
    finished_at: datetime | None
    in_period: bool  # False: the last run before the period, evidencing its first stretch
    manifest_sha256: str
    evidence_set_sha256: str
    evidence_files: int
    previous_run: str | None
    findings_path: str
    findings_sha256: str | None  # as the manifest records it
    controls: tuple[Mapping[str, Any], ...]  # controls.json: control_id, title, status, counts
    chain_problems: tuple[str, ...] = ()
    chain_notes: tuple[str, ...] = ()

    def status_of(self, control_id: str) -> str | None:
        for c in self.controls:
            if c.get("control_id") == control_id:
                return str(c.get("status"))
        return None


@dataclass(frozen=True)
class Segment:
    """A stretch of the period evidenced by one run (run_id), or by none (run_id None)."""

    start: datetime
    end: datetime
    run_id: str | None

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass
class Timeline:
    first_day: date
    last_day: date
    start: datetime  # midnight UTC of first_day
    end: datetime  # midnight after last_day, or `now` while the period runs
    interval: timedelta
    runs: list[PeriodRun]  # completed runs started in the period, oldest first
    prior: PeriodRun | None  # the last completed run before the period
    segments: list[Segment] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    forks: list[Fork] = field(default_factory=list)
    incomplete: list[IncompleteRun] = field(default_factory=list)  # started in the period, never completed
    # the first later run naming the period's last run as its previous one, and that link's problems:
    # it is what verifies the last run's own manifest (None: no later run yet)
    follower: tuple[str | None, list[str]] = (None, [])

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    @property
    def expected_runs(self) -> int:
        """Runs the schedule should have made in [start, end): one per started interval."""
        return max(1, math.ceil(self.length / self.interval))

    @property
    def all_runs(self) -> list[PeriodRun]:
        """The prior run (if any) then the period's runs: every run a segment can name."""
        return ([self.prior] if self.prior else []) + self.runs

    def run(self, run_id: str) -> PeriodRun:
        for r in self.all_runs:
            if r.run_id == run_id:
                return r
        raise KeyError(run_id)

    def not_evidenced(self) -> timedelta:
        return sum((s.duration for s in self.segments if s.run_id is None), timedelta())

    def shares(self, control_id: str) -> dict[str, float]:
        """Share of the period (0..1) per control status and `not_evidenced`; they add up to 1."""
        out = dict.fromkeys(SHARE_BUCKETS, 0.0)
        total = self.length.total_seconds()
        if total <= 0:
            return out
        by_id = {r.run_id: r for r in self.all_runs}
        for seg in self.segments:
            status = by_id[seg.run_id].status_of(control_id) if seg.run_id else None
            bucket = status if status in CONTROL_STATUSES else NOT_EVIDENCED
            out[bucket] += seg.duration.total_seconds() / total
        return out

    def control_ids(self) -> list[str]:
        """Controls in catalog order of the newest run, then any only older runs had."""
        seen: dict[str, None] = {}
        for r in reversed(self.all_runs):
            for c in r.controls:
                seen.setdefault(str(c.get("control_id")), None)
        return list(seen)

    def title(self, control_id: str) -> str:
        for r in reversed(self.all_runs):
            for c in r.controls:
                if c.get("control_id") == control_id:
                    return str(c.get("title", ""))
        return ""

    def chain_problems(self) -> list[str]:
        """Every chain problem across the period: broken links, forks, runs that do not follow
        the period's previous run. Empty: the chain is verified from the first run to the last."""
        out = [f"{r.run_id}: {p}" for r in self.runs for p in r.chain_problems]
        out += [f.describe() for f in self.forks]
        for before, after in zip(self.all_runs, self.all_runs[1:], strict=False):
            if after.previous_run != before.run_id:
                out.append(
                    f"{after.run_id}: follows {after.previous_run or 'no run'} in its chain, not {before.run_id}, "
                    "the completed run before it"
                )
        return out


def midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def load_timeline(
    output: Path,
    first_day: date,
    last_day: date,
    interval: timedelta,
    *,
    now: datetime | None = None,
) -> Timeline:
    """The period's runs (reading manifests and controls.json only) and their attribution."""
    if last_day < first_day:
        raise PeriodError(f"period end {last_day} is before its start {first_day}")
    if interval <= timedelta(0):
        raise PeriodError("the schedule interval must be positive")
    now = now or datetime.now(UTC)
    start = midnight(first_day)
    end = min(midnight(last_day) + timedelta(days=1), now)
    if end <= start:
        raise PeriodError(f"the period starts {first_day}, in the future: nothing to report yet")
    output = Path(output)
    infos = [(info, run_started(info)) for info in completed_runs(output)]
    inside = [(i, t) for i, t in infos if start <= t < end]
    before = [(i, t) for i, t in infos if t < start]
    runs_dir = output / "runs"
    runs = [_period_run(i, t, True, runs_dir) for i, t in inside]
    prior = _period_run(*before[-1], False, runs_dir) if before else None
    timeline = Timeline(first_day, last_day, start, end, interval, runs, prior)
    timed = [(r.run_id, r.started_at) for r in timeline.all_runs]
    timeline.segments = attribute(timed, start, end, interval)
    timeline.gaps = coverage_gaps(timed, interval, start, end)
    timeline.forks = chain_forks({i.run_id: i.manifest for i, _ in inside})
    if runs:
        later = [i for i, t in infos if t >= runs[-1].started_at and i.manifest.get("previous_run") == runs[-1].run_id]
        if later:
            timeline.follower = (later[0].run_id, chain_link_problems(later[0].manifest, runs_dir)[0])
    complete = {i.run_id for i, _ in infos}
    timeline.incomplete = [
        r
        for r in incomplete_runs(output, complete)
        if r.started_at is not None and start <= r.started_at < midnight(last_day) + timedelta(days=1)
    ]
    return timeline


def attribute(
    runs: Sequence[tuple[str, datetime]], start: datetime, end: datetime, interval: timedelta
) -> list[Segment]:
    """Cut [start, end) into segments: each run evidences from its start until the next run,
    for at most `interval`; what no run evidences is a segment with run_id None."""
    out: list[Segment] = []
    cursor = start
    for i, (run_id, at) in enumerate(runs):
        following = runs[i + 1][1] if i + 1 < len(runs) else end
        seg_start, seg_end = max(at, start), min(following, at + interval, end)
        if seg_end <= seg_start:
            continue
        if seg_start > cursor:
            out.append(Segment(cursor, seg_start, None))
        out.append(Segment(seg_start, seg_end, run_id))
        cursor = seg_end
    if cursor < end:
        out.append(Segment(cursor, end, None))
    return out


def run_started(info: RunInfo) -> datetime:
    """A run's start time: the manifest's started_at, else the time in its run ID."""
    return (
        parse_time(str(info.manifest.get("started_at", "")))
        or _run_id_time(info.run_id)
        or datetime.min.replace(tzinfo=UTC)
    )


def _period_run(info: RunInfo, started: datetime, in_period: bool, runs_dir: Path) -> PeriodRun:
    m = info.manifest
    evidence = m.get("evidence") if isinstance(m.get("evidence"), list) else []
    pairs = [(str(e["path"]), str(e["sha256"])) for e in evidence if isinstance(e, Mapping) and "path" in e]
    findings = (m.get("outputs") or {}).get("findings") or {}
    problems, notes = chain_link_problems(m, runs_dir) if in_period else ([], [])
    try:
        controls = tuple(load_run_controls(info.path))
    except (OSError, ValueError):
        controls = ()
        problems.append("controls.json unreadable: the run's control statuses are not evidenced")
    return PeriodRun(
        run_id=info.run_id,
        path=info.path,
        started_at=started,
        finished_at=parse_time(str(m.get("finished_at", ""))),
        in_period=in_period,
        manifest_sha256=info.manifest_sha256,
        evidence_set_sha256=evidence_set_sha256(pairs),
        evidence_files=len(pairs),
        previous_run=m.get("previous_run"),
        findings_path=str(findings.get("path", FINDINGS)) if isinstance(findings, Mapping) else FINDINGS,
        findings_sha256=str(findings["sha256"]) if isinstance(findings, Mapping) and "sha256" in findings else None,
        controls=controls,
        chain_problems=tuple(problems),
        chain_notes=tuple(notes),
    )
