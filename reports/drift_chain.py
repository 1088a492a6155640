"""Since when each resource has been failing: the failing-since map of a run, across the run chain.

Every run stores, in its drift.json, `failing_since`: finding_id -> (run_id, started_at) of the
first run of the unbroken series of `fail` results ending in that run, for each resource
failing in it. The next run extends it from its baseline alone (reports.drift.compute_drift).
A run written before that map existed has none: `failing_since_of` then rebuilds it by walking
the chain back (each manifest's `previous_run`, so a run restricted to some accounts follows
its own chain), reading older runs' findings until every streak has ended or a run with a
stored map is reached. Where the chain cannot be followed further (a run missing, pruned, or
not fetched from a bucket), the earliest run seen is the answer: a lower bound, never a guess.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from controls.additional import finding_id
from reports.drift_rows import Since, load_run_findings_fast
from reports.store import RunInfo

DRIFT_FILE = "drift.json"
FAIL = "fail"


def stored_failing_since(run_dir: Path) -> dict[str, Since] | None:
    """The failing-since map stored in a run's drift.json; None when the run has none (older runs)."""
    path = Path(run_dir) / DRIFT_FILE
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    stored = data.get("failing_since") if isinstance(data, Mapping) else None
    if not isinstance(stored, Mapping):
        return None
    out: dict[str, Since] = {}
    for fid, since in stored.items():
        if isinstance(since, list | tuple) and len(since) >= 2:
            out[str(fid)] = (since[0], since[1])
    return out


def _failing_ids(run: RunInfo) -> set[str] | None:
    try:
        rows = load_run_findings_fast(run.path)
    except (OSError, ValueError, KeyError):
        return None
    return {finding_id(*r[:5]) for r in rows if r.status == FAIL}


def failing_since_of(run: RunInfo, runs_by_id: Mapping[str, RunInfo]) -> dict[str, Since]:
    """finding_id -> (run_id, started_at) of the first run of its failing streak, for every resource
    failing in `run`; `runs_by_id` holds the runs the chain may walk through."""
    stored = stored_failing_since(run.path)
    if stored is not None:
        return stored
    failing = _failing_ids(run) or set()
    since: dict[str, Since] = {fid: (run.run_id, run.started_at or None) for fid in sorted(failing)}
    pending = set(failing)
    previous_id = run.manifest.get("previous_run")
    seen = {run.run_id}
    while pending and isinstance(previous_id, str) and previous_id in runs_by_id and previous_id not in seen:
        older = runs_by_id[previous_id]
        seen.add(previous_id)
        older_map = stored_failing_since(older.path)
        if older_map is not None:
            for fid in pending & set(older_map):
                since[fid] = older_map[fid]
            break
        older_failing = _failing_ids(older)
        if older_failing is None:
            break  # findings not here (pruned, or not fetched from a bucket): the lower bound stands
        for fid in list(pending):
            if fid in older_failing:
                since[fid] = (older.run_id, older.started_at or None)
            else:
                pending.discard(fid)
        previous_id = older.manifest.get("previous_run")
    return since
