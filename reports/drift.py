"""Drift between two runs: what broke, what was fixed, what appeared and disappeared.

A resource result is identified across runs by
(check_id, account, region, resource_type, resource_id). Categories, given a
baseline (the previous completed run):

- `newly_failing`: `fail` now, and not `fail` before (pass, excepted,
  not_applicable, error, or absent). A resource that is new this run and
  fails is both `new` and `newly_failing`: a bucket created unencrypted since
  the last run is exactly what broke. An exception that expired
  (excepted -> fail) is newly failing too.
- `resolved`: `fail` before, `pass` or `not_applicable` now (present in both
  runs). A failing resource that disappeared is in `gone` (with its previous
  status), not in `resolved`: deleted and fixed are different things to an
  auditor, and a resource can also vanish because its account left the scope.
  `fail -> error` is not resolved (it could not be seen): it is newly_erroring.
- `newly_excepted`: `fail` before, `excepted` now (accepted, not fixed).
- `newly_erroring`: `error` now, not `error` before (or absent).
- `new`: absent before, present now (any status).
- `gone`: present before, absent now (any previous status).
- `status_changes` (a count): every key present in both runs whose status changed.

Without a baseline (the first run) nothing is drift: every list is empty and
`baseline` is False.

Every item also carries what an engineer acts on: the finding's `finding_id`, the check's
`severity` and `remediation`, the `resource_arn` and `console_url` (controls.additional), and
`failing_since` / `failing_since_at`: the first run of the unbroken series of `fail` results
that ends in the item's failing side (this run for a newly failing resource; for a resolved,
excepted, erroring or gone one, the streak that just ended). A streak is broken by any other
status (excepted and error included: "failing since" never spans a run that did not see a
fail). `Drift.failing_since` holds that run for every resource failing now, keyed by
finding_id, and is stored in drift.json, so the next run extends the chain from its baseline
alone (reports.drift_chain rebuilds it from older runs that lack it).

Controls (the dicts of controls.json) are compared by control_id: a status
change, or a control added to / removed from the catalog.

Built for 200,000 findings per run: plain dicts keyed by tuples, and
`load_run_findings_fast` (reports.drift_rows, re-exported here) reads findings.jsonl without
building Finding objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from controls.additional import finding_id
from controls.model import Finding
from controls.resources import console_url, resource_arn
from reports.drift_rows import (
    FindingRow,
    Key,
    Since,
    Value,
    load_run_controls,
    load_run_findings_fast,
    meta_of,
    parse_finding_line,
)

FAIL, ERROR, PASS, NOT_APPLICABLE, EXCEPTED = "fail", "error", "pass", "not_applicable", "excepted"
KEY_FIELDS = ("check_id", "account", "region", "resource_type", "resource_id")
CATEGORIES = ("newly_failing", "newly_erroring", "resolved", "newly_excepted", "new", "gone")
CATEGORY_TITLES = {
    "newly_failing": "Newly failing",
    "newly_erroring": "Newly not assessed (error)",
    "resolved": "Resolved",
    "newly_excepted": "Newly excepted",
    "new": "New resources",
    "gone": "Gone resources",
}


def _index(findings: Sequence[Finding | FindingRow]) -> tuple[dict[Key, Value], str | None]:
    out: dict[Key, Value] = {}
    run_id = None
    for f in findings:
        if isinstance(f, FindingRow):
            out[f[:5]] = (f[5], f[6], f[7], f.severity, f.remediation)  # type: ignore[index]
            run_id = run_id or f.run_id
        else:
            r = f.result
            out[(r.check_id, r.account, r.region, r.resource_type, r.resource_id)] = (
                str(r.status),
                r.reason,
                f.control_ids,
                *meta_of(f.additional),
            )
            run_id = run_id or f.run_id
    return out, run_id


def _item(key: Key, was: str | None, now: str | None, value: Value, since: Since | None) -> dict[str, Any]:
    """One changed resource; `value` is the side that describes it (now, or before when gone)."""
    provider = key[0].split(".", 1)[0]  # check IDs are <provider>.<service>.<what>
    return {
        "check_id": key[0],
        "account": key[1],
        "region": key[2],
        "resource_type": key[3],
        "resource_id": key[4],
        "control_ids": list(value[2]),
        "from": was,
        "to": now,
        "reason": value[1],
        "finding_id": finding_id(*key),
        "severity": value[3] or None,
        "failing_since": since[0] if since else None,
        "failing_since_at": since[1] if since else None,
        "resource_arn": resource_arn(provider, key[3], key[1], key[2], key[4]),
        "console_url": console_url(provider, key[3], key[1], key[2], key[4]),
        "remediation": value[4] or None,
    }


@dataclass
class Drift:
    from_run: str | None
    to_run: str | None
    baseline: bool
    findings_from: int | None
    findings_to: int
    status_changes: int = 0
    controls: list[dict[str, Any]] = field(default_factory=list)  # control status changes
    newly_failing: list[dict[str, Any]] = field(default_factory=list)
    newly_erroring: list[dict[str, Any]] = field(default_factory=list)
    resolved: list[dict[str, Any]] = field(default_factory=list)
    newly_excepted: list[dict[str, Any]] = field(default_factory=list)
    new: list[dict[str, Any]] = field(default_factory=list)
    gone: list[dict[str, Any]] = field(default_factory=list)
    # finding_id -> (run_id, started_at) of the first run of its failing streak, for every resource failing now
    failing_since: dict[str, Since] = field(default_factory=dict)
    # how many findings of the `to` run have each status (for `--fail-on any-failure|errors`)
    statuses_to: dict[str, int] = field(default_factory=dict)

    @property
    def has_new_failures(self) -> bool:
        return bool(self.newly_failing)

    def counts(self) -> dict[str, Any]:
        return {
            "findings_from": self.findings_from,
            "findings_to": self.findings_to,
            **{c: len(getattr(self, c)) for c in CATEGORIES},
            "status_changes": self.status_changes,
            "controls_changed": len(self.controls),
        }

    def summary(self) -> str:
        if not self.baseline:
            return f"run {self.to_run}: no earlier completed run to compare with (no baseline)"
        c = self.counts()
        return (
            f"run {self.to_run} vs {self.from_run}: {c['newly_failing']} newly failing, {c['resolved']} resolved, "
            f"{c['newly_excepted']} newly excepted, {c['newly_erroring']} newly erroring, {c['new']} new, "
            f"{c['gone']} gone; {c['controls_changed']} control(s) changed status"
        )

    def to_json(self) -> dict[str, Any]:
        """The content of drift.json."""
        return {
            "schema": 1,
            "from_run": self.from_run,
            "to_run": self.to_run,
            "baseline": self.baseline,
            "counts": self.counts(),
            "controls": self.controls,
            **{c: getattr(self, c) for c in CATEGORIES},
            "statuses_to": self.statuses_to,
            "failing_since": {fid: list(since) for fid, since in self.failing_since.items()},
        }

    def control_rows(self) -> list[dict[str, Any]]:
        """Control status changes, for the workbook's Drift sheet (first table)."""
        return [
            {
                "Control": c["control_id"],
                "Title": c["title"],
                "Was": c["from"] or "(not in catalog)",
                "Now": c["to"] or "(not in catalog)",
            }
            for c in self.controls
        ]

    def rows(self) -> list[dict[str, Any]]:
        """One row per changed resource, for the workbook's Drift sheet. A resource appears once:
        a new resource that fails is listed as 'newly failing' (Was: absent), not again as 'new'."""
        rows = []
        seen: set[tuple[str, ...]] = set()
        for cat in CATEGORIES:
            for it in getattr(self, cat):
                k = tuple(it[f] for f in KEY_FIELDS)
                if k in seen:
                    continue
                seen.add(k)
                rows.append(
                    {
                        "Change": CATEGORY_TITLES[cat].lower(),
                        "Control IDs": ", ".join(it["control_ids"]),
                        "Check": it["check_id"],
                        "Account": it["account"],
                        "Region": it["region"],
                        "Resource type": it["resource_type"],
                        "Resource ID": it["resource_id"],
                        "Severity": it.get("severity") or "",
                        "Was": it["from"] or "absent",
                        "Now": it["to"] or "absent",
                        "Failing since": _when(it.get("failing_since_at")) or it.get("failing_since") or "",
                        "Reason": it["reason"],
                        "Remediation": it.get("remediation") or "",
                        "Resource ARN": it.get("resource_arn") or "",
                        "Console URL": it.get("console_url") or "",
                        "Finding ID": it.get("finding_id") or "",
                    }
                )
        return rows

    def to_markdown(self, limit: int = 50) -> str:
        """For a Prefect markdown artifact: counts, control changes, and the first `limit` of each list."""
        lines = [f"# Drift: run {self.to_run}", ""]
        if not self.baseline:
            lines.append("First completed run: no baseline to compare with.")
            return "\n".join(lines) + "\n"
        c = self.counts()
        lines += [
            f"Compared with run **{self.from_run}** ({self.findings_from} findings → {self.findings_to}).",
            "",
            "| newly failing | resolved | newly excepted | newly erroring | new | gone | status changes |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            f"| {c['newly_failing']} | {c['resolved']} | {c['newly_excepted']} | {c['newly_erroring']} "
            f"| {c['new']} | {c['gone']} | {c['status_changes']} |",
            "",
        ]
        if self.controls:
            lines += ["## Controls that changed status", "", "| Control | Title | Was | Now |", "|---|---|---|---|"]
            for r in self.control_rows():
                lines.append(f"| {_md(r['Control'])} | {_md(r['Title'])} | {_md(r['Was'])} | **{_md(r['Now'])}** |")
            lines.append("")
        for cat in ("newly_failing", "newly_erroring", "resolved", "newly_excepted", "gone"):
            items = getattr(self, cat)
            if not items:
                continue
            lines += [
                f"## {CATEGORY_TITLES[cat]} ({len(items)})",
                "",
                "| Check | Severity | Account | Region | Resource | Was | Now | Failing since | Reason |",
                "|---|---|---|---|---|---|---|---|---|",
            ]
            for it in items[:limit]:
                lines.append(
                    f"| {_md(it['check_id'])} | {it.get('severity') or ''} | "
                    f"{_md(it['account'])} | {_md(it['region'])} | "
                    f"{_md(it['resource_id'])} | {it['from'] or 'absent'} | {it['to'] or 'absent'} | "
                    f"{_md(it.get('failing_since_at') or it.get('failing_since') or '')} | "
                    f"{_md(it['reason'], 160)} |"
                )
            if len(items) > limit:
                lines.append(f"\n… and {len(items) - limit} more (see drift.json)")
            lines.append("")
        if self.new:
            lines.append(f"{len(self.new)} new resource(s) this run (listed in drift.json).")
        return "\n".join(lines).rstrip() + "\n"


def _when(iso: str | None) -> datetime | None:
    """A stored ISO time as a naive UTC datetime (the workbook's date cells); None if absent or not ISO."""
    if not iso:
        return None
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _md(text: Any, width: int = 120) -> str:
    s = " ".join(str(text).split()).replace("|", "\\|")
    return s if len(s) <= width else s[: width - 1] + "…"


__all__ = [
    "CATEGORIES",
    "CATEGORY_TITLES",
    "KEY_FIELDS",
    "Drift",
    "FindingRow",
    "compute_drift",
    "load_run_controls",
    "load_run_findings_fast",
    "parse_finding_line",
]


def compute_drift(
    previous: Sequence[Finding | FindingRow] | None,
    current: Sequence[Finding | FindingRow],
    previous_controls: Sequence[Mapping[str, Any]] | None,
    current_controls: Sequence[Mapping[str, Any]],
    *,
    from_run: str | None = None,
    to_run: str | None = None,
    from_started: str | None = None,
    to_started: str | None = None,
    baseline_failing_since: Mapping[str, Sequence[str | None]] | None = None,
) -> Drift:
    """Compare two runs' findings (Finding or FindingRow) and controls.json dicts.

    `previous=None` means no baseline. Run IDs default to the findings' run_id; `*_started` are
    the runs' start times (ISO). `baseline_failing_since` is the baseline's own failing-since map
    (finding_id -> (run_id, started_at): its drift.json's, or reports.drift_chain's); without it a
    resource failing in both runs is taken as failing since the baseline (a lower bound)."""
    cur, cur_run = _index(current)
    drift = Drift(
        from_run=None,
        to_run=to_run or cur_run,
        baseline=previous is not None,
        findings_from=None,
        findings_to=len(cur),
    )
    statuses: dict[str, int] = {}
    for value in cur.values():
        statuses[value[0]] = statuses.get(value[0], 0) + 1
    drift.statuses_to = dict(sorted(statuses.items()))
    now_since: Since = (drift.to_run, to_started)
    if previous is None:
        drift.failing_since = {finding_id(*k): now_since for k, v in cur.items() if v[0] == FAIL}
        return drift
    prev, prev_run = _index(previous)
    drift.from_run = from_run or prev_run
    drift.findings_from = len(prev)
    known = baseline_failing_since or {}
    fallback: Since = (drift.from_run, from_started)

    def since_before(key: Key) -> Since:
        stored = known.get(finding_id(*key))
        return (stored[0], stored[1]) if stored and len(stored) >= 2 else fallback

    newly_failing, newly_erroring, resolved, newly_excepted, new = [], [], [], [], []
    changes = 0
    get = prev.get
    for key, value in cur.items():
        now = value[0]
        old = get(key)
        if now == FAIL:
            drift.failing_since[finding_id(*key)] = since_before(key) if old and old[0] == FAIL else now_since
        if old is None:
            new.append(key)
            if now == FAIL:
                newly_failing.append(key)
            elif now == ERROR:
                newly_erroring.append(key)
            continue
        was = old[0]
        if was == now:
            continue
        changes += 1
        if now == FAIL:
            newly_failing.append(key)
        elif now == ERROR:
            newly_erroring.append(key)
        if was == FAIL:
            if now in (PASS, NOT_APPLICABLE):
                resolved.append(key)
            elif now == EXCEPTED:
                newly_excepted.append(key)
    gone = [k for k in prev if k not in cur]

    def build(keys: list[Key]) -> list[dict[str, Any]]:
        out = []
        for k in sorted(keys):
            old = prev.get(k)
            c = cur.get(k)
            was = old[0] if old else None
            if c is not None and c[0] == FAIL:
                since: Since | None = drift.failing_since[finding_id(*k)]
            else:  # the streak that ended, if it was failing
                since = since_before(k) if was == FAIL else None
            if c is None:  # gone: the previous reason and controls
                out.append(_item(k, was, None, old, since))  # type: ignore[arg-type]
            else:
                out.append(_item(k, was, c[0], c, since))
        return out

    drift.newly_failing = build(newly_failing)
    drift.newly_erroring = build(newly_erroring)
    drift.resolved = build(resolved)
    drift.newly_excepted = build(newly_excepted)
    drift.new = build(new)
    drift.gone = build(gone)
    drift.status_changes = changes
    drift.controls = _control_changes(previous_controls or [], current_controls)
    return drift


def _control_changes(
    previous: Sequence[Mapping[str, Any]], current: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    before = {str(c["control_id"]): c for c in previous}
    after = {str(c["control_id"]): c for c in current}
    out = []
    order = [c for c in after] + [c for c in before if c not in after]
    for cid in order:
        a, b = before.get(cid), after.get(cid)
        was = str(a["status"]) if a else None
        now = str(b["status"]) if b else None
        if was == now:
            continue
        out.append(
            {
                "control_id": cid,
                "title": str((b or a or {}).get("title", "")),
                "from": was,
                "to": now,
                "counts_from": dict(a.get("counts", {})) if a else None,
                "counts_to": dict(b.get("counts", {})) if b else None,
            }
        )
    return out
