"""Drift that says what to do: failing since (across the run chain), severity, remediation, --fail-on."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from collectors.registry import specs
from controls import Finding
from controls.additional import additional_fields, finding_id
from reports.drift import compute_drift, load_run_findings_fast
from reports.drift_chain import failing_since_of, stored_failing_since
from reports.fail_on import FAIL_ON_CHOICES, fail_on_reasons
from reports.store import RunWriter, completed_runs
from tests.unit.test_verify import ACCOUNT, S3, build_run, result

RUNS = [f"202603{d:02}T000000Z-{c * 6}" for d, c in zip(range(1, 6), "abcde", strict=True)]
AT = [f"2026-03-{d:02}T00:00:00.000000Z" for d in range(1, 6)]
# resource -> its status in runs 1..5
HISTORY = {
    "always-failing": ["fail", "fail", "fail", "fail", "fail"],
    "fixed-in-4": ["fail", "fail", "fail", "pass", "pass"],
    "flapping": ["fail", "pass", "fail", "fail", "fail"],
    "excepted-between": ["fail", "excepted", "fail", "fail", "fail"],
    "error-between": ["fail", "error", "fail", "fail", "fail"],
    "breaks-in-5": ["pass", "pass", "pass", "pass", "fail"],
    "deleted-in-5": ["fail", "fail", "fail", "fail", None],
}
FIRST_FAIL_OF_STREAK_IN_RUN_5 = {
    "always-failing": RUNS[0],
    "flapping": RUNS[2],
    "excepted-between": RUNS[2],
    "error-between": RUNS[2],
    "breaks-in-5": RUNS[4],
}


def fid(rid: str) -> str:
    return finding_id(S3, ACCOUNT, "global", "AWS::S3::Bucket", rid)


def specs_of(i: int) -> list[tuple[str, str, str]]:
    return [(S3, rid, statuses[i]) for rid, statuses in HISTORY.items() if statuses[i] is not None]


def findings_of(i: int) -> list[Finding]:
    spec = specs()[S3]
    out = []
    for _, rid, status in specs_of(i):
        r = result(S3, rid, status)
        out.append(Finding(RUNS[i], r, ("ENC-01",), ("CC6.1",), AT[i], additional_fields(r, spec)))
    return out


def incremental_chain() -> list:
    """Each run's drift computed from its baseline only, as `run` does (the map carried in drift.json)."""
    drifts = []
    for i in range(len(RUNS)):
        prev = drifts[-1] if drifts else None
        drifts.append(
            compute_drift(
                findings_of(i - 1) if i else None,
                findings_of(i),
                [] if i else None,
                [],
                from_run=RUNS[i - 1] if i else None,
                to_run=RUNS[i],
                from_started=AT[i - 1] if i else None,
                to_started=AT[i],
                baseline_failing_since=json.loads(json.dumps(prev.to_json()))["failing_since"] if prev else None,
            )
        )
    return drifts


def test_failing_since_is_the_first_run_of_the_unbroken_fail_streak() -> None:
    last = incremental_chain()[-1]
    expected = {fid(rid): (run, AT[RUNS.index(run)]) for rid, run in FIRST_FAIL_OF_STREAK_IN_RUN_5.items()}
    assert last.failing_since == expected


def test_items_carry_failing_since_severity_and_remediation() -> None:
    drifts = incremental_chain()
    spec = specs()[S3]
    fixed = drifts[3].resolved[0]  # fixed in run 4: the streak that ended began in run 1
    assert fixed["resource_id"] == "fixed-in-4"
    assert (fixed["failing_since"], fixed["failing_since_at"]) == (RUNS[0], AT[0])
    assert fixed["severity"] == str(spec.severity) and fixed["remediation"] == spec.remediation
    assert fixed["resource_arn"] == "arn:aws:s3:::fixed-in-4" and fixed["finding_id"] == fid("fixed-in-4")
    last = drifts[4]
    breaks = next(i for i in last.newly_failing if i["resource_id"] == "breaks-in-5")
    assert (breaks["failing_since"], breaks["failing_since_at"]) == (RUNS[4], AT[4])
    gone = last.gone[0]
    assert (gone["resource_id"], gone["failing_since"]) == ("deleted-in-5", RUNS[0])
    excepted = drifts[1].newly_excepted[0]  # failing since run 1, excepted in run 2
    assert (excepted["resource_id"], excepted["failing_since"]) == ("excepted-between", RUNS[0])
    assert next(i for i in drifts[1].resolved if i["resource_id"] == "flapping")["failing_since"] == RUNS[0]


def test_workbook_and_markdown_rows_show_failing_since_and_severity() -> None:
    last = incremental_chain()[-1]
    row = next(r for r in last.rows() if r["Resource ID"] == "breaks-in-5")
    assert row["Failing since"] == datetime(2026, 3, 5)
    assert row["Severity"] == str(specs()[S3].severity)
    assert row["Remediation"] == specs()[S3].remediation
    assert row["Console URL"].startswith("https://s3.console.aws.amazon.com/s3/buckets/breaks-in-5")
    gone = next(r for r in last.rows() if r["Resource ID"] == "deleted-in-5")
    assert gone["Failing since"] == datetime(2026, 3, 1)
    md = last.to_markdown()
    assert "| Failing since |" in md and AT[0] in md


def test_the_chain_walk_rebuilds_what_drift_json_would_have_carried(tmp_path: Path) -> None:
    """Runs written before drift.json carried the map: walking back the manifests' previous_run gives the same."""
    for i, run in enumerate(RUNS):
        build_run(tmp_path, run, specs_of(i))
    runs = completed_runs(tmp_path)
    by_id = {r.run_id: r for r in runs}
    assert stored_failing_since(runs[-1].path) is None
    walked = failing_since_of(runs[-1], by_id)
    incremental = incremental_chain()[-1].failing_since
    assert walked == incremental


def test_the_walk_stops_at_a_stored_map(tmp_path: Path) -> None:
    for i, run in enumerate(RUNS[:3]):
        build_run(tmp_path, run, specs_of(i))
    runs = completed_runs(tmp_path)
    # run 2 stored a map (say from a run whose own baseline knew older history)
    stored = {fid("always-failing"): ["20251201T000000Z-zzzzzz", "2025-12-01T00:00:00.000000Z"]}
    RunWriter(runs[1].path).write_json("drift.json", {"schema": 1, "failing_since": stored})
    walked = failing_since_of(runs[2], {r.run_id: r for r in runs})
    assert walked[fid("always-failing")] == ("20251201T000000Z-zzzzzz", "2025-12-01T00:00:00.000000Z")
    assert walked[fid("flapping")] == (RUNS[2], AT[2])  # not failing in run 2: its streak starts in run 3
    # a run whose own drift.json has the map is answered from it, without reading findings
    assert failing_since_of(runs[1], {}) == {fid("always-failing"): tuple(stored[fid("always-failing")])}


def test_a_missing_older_run_leaves_the_lower_bound(tmp_path: Path) -> None:
    for i, run in enumerate(RUNS[:3]):
        build_run(tmp_path, run, specs_of(i))
    runs = completed_runs(tmp_path)
    walked = failing_since_of(runs[2], {runs[1].run_id: runs[1]})  # run 1 not available (pruned, not fetched)
    assert walked[fid("always-failing")] == (RUNS[1], AT[1])


def test_fast_loader_reads_severity_and_remediation(tmp_path: Path) -> None:
    writer = RunWriter.create(tmp_path, RUNS[0])
    writer.write_findings(findings_of(0))
    rows = load_run_findings_fast(writer.path)
    spec = specs()[S3]
    assert {(r.severity, r.remediation) for r in rows} == {(str(spec.severity), spec.remediation)}
    assert rows[0].remediation is rows[-1].remediation  # decoded once per check, shared


def drift_with(statuses_now: dict[str, str], before: dict[str, str] | None = None):
    prev = [Finding(RUNS[0], result(S3, k, v), (), (), AT[0]) for k, v in (before or {}).items()]
    cur = [Finding(RUNS[1], result(S3, k, v), (), (), AT[1]) for k, v in statuses_now.items()]
    return compute_drift(prev if before is not None else None, cur, [], [])


@pytest.mark.parametrize(
    ("before", "now", "tripped"),
    [
        ({"a": "pass"}, {"a": "fail"}, {"new-failures", "any-failure"}),
        ({"a": "fail"}, {"a": "fail"}, {"any-failure"}),  # still failing: not new
        ({"a": "pass"}, {"a": "error"}, {"errors"}),
        ({"a": "fail"}, {"a": "excepted"}, set()),  # an accepted failure fails nothing
        ({"a": "pass"}, {"a": "pass", "b": "not_applicable"}, set()),
        (None, {"a": "fail"}, {"any-failure"}),  # first run: no baseline, so nothing is "new"
    ],
)
def test_fail_on_each_choice(before, now, tripped) -> None:
    d = drift_with(now, before)
    for choice in FAIL_ON_CHOICES:
        assert bool(fail_on_reasons(d, [choice])) == (choice in tripped), choice
    assert bool(fail_on_reasons(d, FAIL_ON_CHOICES)) == bool(tripped)
    assert fail_on_reasons(d, None) == [] and fail_on_reasons(d, []) == []


def test_fail_on_rejects_an_unknown_choice() -> None:
    with pytest.raises(ValueError, match="unknown --fail-on"):
        fail_on_reasons(drift_with({"a": "pass"}), ["sometimes"])


def test_drift_json_carries_statuses_and_failing_since() -> None:
    data = json.loads(json.dumps(incremental_chain()[-1].to_json()))
    assert data["statuses_to"] == {"fail": 5, "pass": 1}
    assert data["failing_since"][fid("always-failing")] == [RUNS[0], AT[0]]
