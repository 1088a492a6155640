"""Drift between two runs: each category, controls, the outputs, and the fast loader."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from controls import Finding
from controls.additional import finding_id
from reports.drift import FindingRow, compute_drift, load_run_controls, load_run_findings_fast
from reports.store import load_findings
from tests.unit.test_verify import ACCOUNT, EBS, S3, build_run, result

RUN1, RUN2 = "20260301T000000Z-aaaaaa", "20260302T000000Z-bbbbbb"


def findings(run_id: str, specs: list[tuple[str, str, str]]) -> list[Finding]:
    return [Finding(run_id, result(c, rid, st), ("ENC-01",), ("CC6.1",), "t") for c, rid, st in specs]


def ctl(cid: str, status: str) -> dict:
    return {"control_id": cid, "title": f"title {cid}", "status": status, "counts": {"pass": 1}}


BEFORE = [
    (S3, "stays-pass", "pass"),
    (S3, "stays-fail", "fail"),
    (S3, "breaks", "pass"),
    (S3, "fixed", "fail"),
    (S3, "not-applicable-now", "fail"),
    (S3, "accepted", "fail"),
    (S3, "exception-expired", "excepted"),
    (S3, "unseen-now", "fail"),
    (S3, "was-error-now-fail", "error"),
    (S3, "recovered", "error"),
    (EBS, "deleted-failing", "fail"),
    (EBS, "deleted-passing", "pass"),
]
AFTER = [
    (S3, "stays-pass", "pass"),
    (S3, "stays-fail", "fail"),
    (S3, "breaks", "fail"),
    (S3, "fixed", "pass"),
    (S3, "not-applicable-now", "not_applicable"),
    (S3, "accepted", "excepted"),
    (S3, "exception-expired", "fail"),
    (S3, "unseen-now", "error"),
    (S3, "was-error-now-fail", "fail"),
    (S3, "recovered", "pass"),
    (EBS, "created-failing", "fail"),
    (EBS, "created-passing", "pass"),
    (EBS, "created-erroring", "error"),
]


def ids(items: list[dict]) -> list[str]:
    return [i["resource_id"] for i in items]


def drift():
    return compute_drift(
        findings(RUN1, BEFORE),
        findings(RUN2, AFTER),
        [ctl("ENC-01", "deficient"), ctl("ENC-02", "effective"), ctl("OLD-01", "effective")],
        [ctl("ENC-01", "deficient"), ctl("ENC-02", "incomplete"), ctl("NEW-01", "no_evidence")],
    )


def test_each_category() -> None:
    d = drift()
    assert (d.from_run, d.to_run, d.baseline) == (RUN1, RUN2, True)
    # before not fail (pass, excepted, error, absent), now fail; a new failing resource counts
    assert ids(d.newly_failing) == ["created-failing", "breaks", "exception-expired", "was-error-now-fail"]
    assert ids(d.resolved) == ["fixed", "not-applicable-now"]  # fail -> pass / not_applicable
    assert ids(d.newly_excepted) == ["accepted"]
    assert ids(d.newly_erroring) == ["created-erroring", "unseen-now"]  # fail -> error is not resolved
    assert ids(d.new) == ["created-erroring", "created-failing", "created-passing"]
    assert ids(d.gone) == ["deleted-failing", "deleted-passing"]  # deleted failing is gone, not resolved
    assert d.status_changes == 8
    assert d.has_new_failures


def test_items_carry_from_to_reason_and_controls() -> None:
    d = drift()
    breaks = next(i for i in d.newly_failing if i["resource_id"] == "breaks")
    assert breaks == {
        "check_id": S3,
        "account": ACCOUNT,
        "region": "global",
        "resource_type": "AWS::S3::Bucket",
        "resource_id": "breaks",
        "control_ids": ["ENC-01"],
        "from": "pass",
        "to": "fail",
        "reason": "breaks is fail",
        "finding_id": finding_id(S3, ACCOUNT, "global", "AWS::S3::Bucket", "breaks"),
        "severity": None,  # these findings have no `additional` (as written before it existed)
        "failing_since": RUN2,
        "failing_since_at": None,
        "resource_arn": "arn:aws:s3:::breaks",
        "console_url": "https://s3.console.aws.amazon.com/s3/buckets/breaks",
        "remediation": None,
    }
    created = next(i for i in d.newly_failing if i["resource_id"] == "created-failing")
    assert created["from"] is None
    gone = next(i for i in d.gone if i["resource_id"] == "deleted-failing")
    assert (gone["from"], gone["to"], gone["reason"]) == ("fail", None, "deleted-failing is fail")


def test_control_status_changes_added_and_removed() -> None:
    changes = {c["control_id"]: (c["from"], c["to"]) for c in drift().controls}
    assert changes == {
        "ENC-02": ("effective", "incomplete"),
        "NEW-01": (None, "no_evidence"),
        "OLD-01": ("effective", None),
    }


def test_key_includes_account_region_and_resource_type() -> None:
    a = [Finding(RUN1, result(S3, "b", "pass", account="111111111111"), (), (), "t")]
    b = [Finding(RUN2, result(S3, "b", "fail", account="222222222222"), (), (), "t")]
    d = compute_drift(a, b, [], [])
    assert len(d.new) == 1 and len(d.gone) == 1 and ids(d.newly_failing) == ["b"]


def test_no_baseline_is_not_drift() -> None:
    d = compute_drift(None, findings(RUN2, AFTER), None, [ctl("ENC-01", "deficient")])
    assert not d.baseline and d.from_run is None and d.to_run == RUN2
    assert not d.has_new_failures and d.new == [] and d.controls == []
    assert "no baseline" in d.summary() and "no baseline" in d.to_markdown()
    # an empty previous run is a baseline: everything is new
    d = compute_drift([], findings(RUN2, AFTER), [], [], from_run=RUN1)
    assert d.baseline and len(d.new) == len(AFTER) and len(d.newly_failing) == 5


def test_identical_runs_have_no_drift() -> None:
    d = compute_drift(findings(RUN1, BEFORE), findings(RUN2, BEFORE), [ctl("X", "deficient")], [ctl("X", "deficient")])
    assert d.counts() == {
        "findings_from": 12,
        "findings_to": 12,
        "newly_failing": 0,
        "newly_erroring": 0,
        "resolved": 0,
        "newly_excepted": 0,
        "new": 0,
        "gone": 0,
        "status_changes": 0,
        "controls_changed": 0,
    }
    assert not d.has_new_failures


def test_to_json_is_the_drift_file() -> None:
    data = json.loads(json.dumps(drift().to_json()))
    assert data["from_run"] == RUN1 and data["to_run"] == RUN2 and data["schema"] == 1
    assert data["counts"]["newly_failing"] == 4 and data["counts"]["controls_changed"] == 3
    assert set(data) >= {"controls", "newly_failing", "resolved", "newly_excepted", "new", "gone", "newly_erroring"}


def test_markdown_lists_up_to_limit_and_escapes_cells() -> None:
    before = findings(RUN1, [(S3, f"b{i:02}", "pass") for i in range(5)])
    after = findings(RUN2, [(S3, f"b{i:02}", "fail") for i in range(4)] + [(S3, "x|y", "fail")])
    md = compute_drift(before, after, [ctl("ENC-01", "effective")], [ctl("ENC-01", "deficient")]).to_markdown(limit=2)
    assert "# Drift: run " + RUN2 in md
    assert "## Controls that changed status" in md and "| ENC-01 | title ENC-01 | effective | **deficient** |" in md
    assert "## Newly failing (5)" in md
    assert "b00" in md and "b01" in md and "b02" not in md
    assert "… and 3 more (see drift.json)" in md
    assert "## Gone resources (1)" in md  # b04
    after = findings(RUN2, [(S3, "x|y", "fail")])
    assert "x\\|y" in compute_drift([], after, [], []).to_markdown()


def test_rows_list_each_resource_once() -> None:
    rows = drift().rows()
    keys = [r["Resource ID"] for r in rows]
    assert len(keys) == len(set(keys))
    created = next(r for r in rows if r["Resource ID"] == "created-failing")
    assert (created["Change"], created["Was"], created["Now"]) == ("newly failing", "absent", "fail")
    assert next(r for r in rows if r["Resource ID"] == "created-passing")["Change"] == "new resources"
    assert drift().control_rows()[0] == {
        "Control": "ENC-02",
        "Title": "title ENC-02",
        "Was": "effective",
        "Now": "incomplete",
    }


def test_fast_loader_gives_the_same_drift_as_findings(tmp_path: Path) -> None:
    r1 = build_run(tmp_path, RUN1, BEFORE)
    r2 = build_run(tmp_path, RUN2, AFTER)
    rows1, rows2 = load_run_findings_fast(r1), load_run_findings_fast(r2)
    assert isinstance(rows1[0], FindingRow) and rows1[0].run_id == RUN1
    slow = compute_drift(load_findings(r1), load_findings(r2), load_run_controls(r1), load_run_controls(r2))
    fast = compute_drift(rows1, rows2, load_run_controls(r1), load_run_controls(r2))
    assert fast.to_json() == slow.to_json()
    assert fast.has_new_failures
    assert load_run_controls(tmp_path) == []


def test_scales_to_many_findings() -> None:
    n = 50_000
    before = [
        FindingRow(S3, ACCOUNT, "global", "AWS::S3::Bucket", f"b{i}", "pass", "ok", ("ENC-01",), RUN1) for i in range(n)
    ]
    after = [
        FindingRow(S3, ACCOUNT, "global", "AWS::S3::Bucket", f"b{i}", "fail" if i % 100 == 0 else "pass", "r", (), RUN2)
        for i in range(n)
    ]
    d = compute_drift(before, after, [], [])  # speed: bench/bench_drift.py, not a timed test
    assert len(d.newly_failing) == n // 100


def test_fast_line_parser_is_exact_on_awkward_values() -> None:
    from reports.drift import parse_finding_line
    from reports.store import finding_line

    nasty = 'b", "observed": {"x": 1}, "reason": "gotcha", "evidence": ['
    r = result(S3, nasty, "fail")
    r = dataclasses.replace(r, reason='reason with "quotes", "evidence": [ and \\ and ünïcode')
    r = dataclasses.replace(r, observed={"reason": ', "reason": "x"', "evidence": [', "evidence": [']})
    f = Finding(RUN1, r, ("ENC-01", "ENC-02"), ("CC6.1",), "t")
    line = finding_line(f).encode()
    row = parse_finding_line(line)
    assert row == FindingRow(
        S3, ACCOUNT, "global", "AWS::S3::Bucket", nasty, "fail", r.reason, ("ENC-01", "ENC-02"), RUN1
    )
    # any other layout falls back to decoding the whole line
    compact = json.dumps(f.to_json(), separators=(",", ":")).encode()
    assert parse_finding_line(compact) == row
