"""Run history: every completed run with its control-status counts, the gaps in
coverage (SOC 2 Type II needs the controls operating all through the audit
period), the incomplete runs (never a baseline), the partial runs (an account,
project or endpoint not assessed: chained, never a drift baseline) and the
forks of the hash chain.

Gaps, when an expected interval is given:
- between consecutive completed runs started further apart than the interval;
- from the audit period's start to the first run, when the first run started
  more than the interval after the period's start;
- from the last run to min(the period's end, now), likewise.
The period is taken from the newest completed run's manifest (`period`:
{start, end}, dates; the end date is inclusive, so it ends at the next
midnight UTC).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from reports.interrupted import describe as describe_interrupted
from reports.store import CONTROLS, MANIFEST, ManifestError, completed_runs, is_partial, read_manifest

CONTROL_STATUSES = ("effective", "deficient", "incomplete", "no_evidence")


def parse_time(text: str) -> datetime | None:
    """A manifest timestamp (`2026-11-30T11:00:54.123456Z`) as an aware UTC datetime."""
    try:
        dt = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def run_id_time(run_id: str) -> datetime | None:
    """The start time encoded in a run ID (`YYYYMMDDTHHMMSSZ-xxxxxx`)."""
    try:
        return datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class HistoryRun:
    run_id: str
    path: Path
    started_at: datetime | None
    finished_at: datetime | None
    control_counts: Mapping[str, int] | None  # None when controls.json is missing or unreadable
    previous_run: str | None
    note: str = ""
    # "partial": an account, project or endpoint was not assessed (manifest `unassessed`);
    # chained like any run, never a drift baseline
    assessment: str = "complete"
    unassessed: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "path": str(self.path),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "controls": dict(self.control_counts) if self.control_counts is not None else None,
            "previous_run": self.previous_run,
            "assessment": self.assessment,
            "unassessed": list(self.unassessed),
            "note": self.note,
        }


@dataclass(frozen=True)
class Gap:
    kind: str  # before_first_run | between_runs | after_last_run | no_runs (the whole period)
    start: datetime
    end: datetime
    after_run: str | None  # the run before the gap (None: the period's start)
    before_run: str | None  # the run after the gap (None: the period's end or now)

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def describe(self) -> str:
        left = f"run {self.after_run}" if self.after_run else "period start"
        right = f"run {self.before_run}" if self.before_run else "period end/now"
        return (
            f"gap of {format_duration(self.duration)}: {left} ({self.start:%Y-%m-%d %H:%M}Z) → "
            f"{right} ({self.end:%Y-%m-%d %H:%M}Z)"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "seconds": int(self.duration.total_seconds()),
            "after_run": self.after_run,
            "before_run": self.before_run,
        }


@dataclass(frozen=True)
class IncompleteRun:
    run_id: str
    path: Path
    reason: str
    started_at: datetime | None  # from the run ID

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "path": str(self.path),
            "reason": self.reason,
            "started_at": self.started_at.isoformat() if self.started_at else None,
        }


@dataclass(frozen=True)
class Fork:
    """Several completed runs that name the same predecessor: the hash chain branches.

    It happens when two runs start at once on one output (each reads the same latest run
    before either finishes); each branch is intact on its own, but the chain no longer proves
    that no run was removed between them, so it is reported, never silently accepted."""

    previous_run: str | None  # None: several runs each started a new chain
    runs: tuple[str, ...]
    accounts_filter: Any = None

    def describe(self) -> str:
        after = f"run {self.previous_run}" if self.previous_run else "no previous run (each starts a chain)"
        scope = f" (accounts {self.accounts_filter})" if self.accounts_filter else ""
        return f"chain fork{scope}: {', '.join(self.runs)} all follow {after}"

    def to_json(self) -> dict[str, Any]:
        return {"previous_run": self.previous_run, "runs": list(self.runs), "accounts_filter": self.accounts_filter}


def chain_forks(manifests: Mapping[str, Mapping[str, Any]]) -> list[Fork]:
    """Forks among completed runs (run ID -> manifest). Runs limited to some accounts keep
    their own chain (`accounts_filter`), so only runs of the same filter are compared."""
    followers: dict[tuple[str, str | None], list[str]] = {}
    filters: dict[str, Any] = {}
    for run_id, manifest in sorted(manifests.items()):
        key = json.dumps(manifest.get("accounts_filter"), sort_keys=True)
        filters[key] = manifest.get("accounts_filter")
        followers.setdefault((key, manifest.get("previous_run")), []).append(run_id)
    return [
        Fork(previous, tuple(runs), filters[key])
        for (key, previous), runs in sorted(followers.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
        if len(runs) > 1
    ]


@dataclass
class History:
    output: Path
    expected_interval: timedelta | None
    period: tuple[date, date] | None
    runs: list[HistoryRun] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    incomplete: list[IncompleteRun] = field(default_factory=list)
    forks: list[Fork] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        """One row per completed run (oldest first) with the gap before it, if any."""
        gap_before = {g.before_run: g for g in self.gaps if g.before_run}
        rows = []
        for r in self.runs:
            c = r.control_counts or {}
            g = gap_before.get(r.run_id)
            rows.append(
                {
                    "run_id": r.run_id,
                    "started_at": r.started_at.strftime("%Y-%m-%d %H:%M") if r.started_at else "?",
                    **{s: c.get(s, 0) if r.control_counts is not None else None for s in CONTROL_STATUSES},
                    "gap_before": format_duration(g.duration) if g else "",
                    "note": "; ".join(n for n in (_partial_note(r), r.note) if n),
                }
            )
        return rows

    def to_json(self) -> dict[str, Any]:
        return {
            "output": str(self.output),
            "expected_interval_seconds": int(self.expected_interval.total_seconds())
            if self.expected_interval
            else None,
            "period": {"start": self.period[0].isoformat(), "end": self.period[1].isoformat()} if self.period else None,
            "runs": [r.to_json() for r in self.runs],
            "gaps": [g.to_json() for g in self.gaps],
            "incomplete": [r.to_json() for r in self.incomplete],
            "forks": [f.to_json() for f in self.forks],
        }


def _partial_note(run: HistoryRun) -> str:
    if run.assessment != "partial":
        return ""
    shown = ", ".join(run.unassessed[:3]) + (f" +{len(run.unassessed) - 3}" if len(run.unassessed) > 3 else "")
    return f"PARTIAL, not assessed: {shown} (never a drift baseline)"


def _unassessed(manifest: Mapping[str, Any]) -> tuple[str, ...]:
    items = manifest.get("unassessed")
    if not isinstance(items, list):
        return ()
    return tuple(f"{i.get('provider', '?')} {i.get('account', '?')}" for i in items if isinstance(i, Mapping))


def format_duration(td: timedelta) -> str:
    secs = int(td.total_seconds())
    days, rem = divmod(secs, 86400)
    hours, rem = divmod(rem, 3600)
    minutes = rem // 60
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m"


def _control_counts(run_dir: Path, manifest: Mapping[str, Any]) -> tuple[dict[str, int] | None, str]:
    rel = (manifest.get("outputs") or {}).get("controls", {}).get("path", CONTROLS)
    try:
        with open(run_dir / rel, encoding="utf-8") as fh:
            data = json.load(fh)
        counts = Counter(str(c["status"]) for c in data)
    except FileNotFoundError:
        return None, f"{rel} missing"
    except (OSError, ValueError, TypeError, KeyError) as exc:
        return None, f"{rel} unreadable: {exc}"
    return {s: counts.get(s, 0) for s in CONTROL_STATUSES}, ""


def _period(manifest: Mapping[str, Any]) -> tuple[date, date] | None:
    p = manifest.get("period")
    if not isinstance(p, Mapping):
        return None
    try:
        return date.fromisoformat(str(p["start"])), date.fromisoformat(str(p["end"]))
    except (KeyError, ValueError):
        return None


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def incomplete_runs(output: Path, complete: set[str]) -> list[IncompleteRun]:
    """Run directories under output/runs/ that are not among `complete`, with the reason (no
    manifest, or a manifest not marked completed): never a baseline, always reported."""
    runs_dir = output / "runs"
    out = []
    if not runs_dir.is_dir():
        return out
    for child in sorted(runs_dir.iterdir()):
        if not child.is_dir() or child.name.startswith(".") or child.name in complete:
            continue
        mpath = child / MANIFEST
        if not mpath.is_file():
            reason = describe_interrupted(child) or "no manifest.json (killed or crashed before the end)"
        else:
            try:
                status = read_manifest(child).get("status")
                reason = f"manifest status {status!r}, not 'completed'"
            except (OSError, ManifestError) as exc:
                reason = f"manifest.json unreadable: {exc}"
        out.append(IncompleteRun(child.name, child, reason, run_id_time(child.name)))
    return out


def run_history(output: Path, expected_interval: timedelta | None = None, *, now: datetime | None = None) -> History:
    output = Path(output)
    now = now or datetime.now(UTC)
    infos = completed_runs(output)
    runs: list[HistoryRun] = []
    for info in infos:
        m = info.manifest
        counts, note = _control_counts(info.path, m)
        runs.append(
            HistoryRun(
                run_id=info.run_id,
                path=info.path,
                started_at=parse_time(m.get("started_at", "")) or run_id_time(info.run_id),
                finished_at=parse_time(m.get("finished_at", "")),
                control_counts=counts,
                previous_run=m.get("previous_run"),
                note=note,
                assessment="partial" if is_partial(m) else "complete",
                unassessed=_unassessed(m),
            )
        )
    period = _period(infos[-1].manifest) if infos else None
    history = History(output, expected_interval, period, runs, [], incomplete_runs(output, {i.run_id for i in infos}))
    history.forks = chain_forks({i.run_id: i.manifest for i in infos})
    if expected_interval is None or not runs:
        return history
    timed = [(r.run_id, r.started_at) for r in runs if r.started_at is not None]
    if not timed:
        return history
    start = _midnight(period[0]) if period is not None else None
    end = min(_midnight(period[1]) + timedelta(days=1), now) if period is not None else None
    history.gaps = coverage_gaps(timed, expected_interval, start, end)
    return history


def coverage_gaps(
    runs: Sequence[tuple[str, datetime]],
    interval: timedelta,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Gap]:
    """The gaps longer than `interval` in a sequence of (run ID, start time), oldest first:
    from `start` to the first run, between consecutive runs, and from the last run to `end`
    (start and end optional: no period, no gap at its edges). Shared by `run_history` and the
    period report (reports.period), so both name the same gaps."""
    if not runs:
        return [Gap("no_runs", start, end, None, None)] if start and end and end - start > interval else []
    gaps: list[Gap] = []
    first_id, first_at = runs[0]
    if start is not None and first_at - start > interval:
        gaps.append(Gap("before_first_run", start, first_at, None, first_id))
    for (a_id, a_at), (b_id, b_at) in pairwise(runs):
        if b_at - a_at > interval:
            gaps.append(Gap("between_runs", a_at, b_at, a_id, b_id))
    last_id, last_at = runs[-1]
    if end is not None and end - last_at > interval:
        gaps.append(Gap("after_last_run", last_at, end, last_id, None))
    return gaps
