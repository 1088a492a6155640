"""The period report over a simulated quarter: 12 weekly runs (and one before the period) with
fixes, regressions, an approved exception that expires, a resource that disappears, a run that
could not assess a resource, and a missed week whose run crashed; the workbook is read back
with openpyxl and its matrix, gaps, episodes and effective shares checked against what the
runs say."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from controls.additional import finding_id
from reports.period import period_report
from reports.period.timeline import PeriodError, attribute, load_timeline
from reports.store import MANIFEST
from tests.unit.test_verify import EBS, S3, build_run, result

KMS = "aws.kms.key_rotation"
FIRST, LAST = date(2026, 1, 5), date(2026, 4, 5)  # 13 weeks, Monday to Sunday: 91 days
WEEK = timedelta(days=7)
NOW = datetime(2026, 6, 1, tzinfo=UTC)
MISSED = 6  # no completed run in week 6 (its run crashed)
NOTE = " — excepted: SEC-7, approved by cfo@dexo.chat on 2026-02-01, expires 2026-03-15"


def run_time(k: int) -> datetime:
    """Week k's run: Mondays 06:00 UTC from 2026-01-05 (k = -1: the run before the period)."""
    return datetime(2026, 1, 5, 6, tzinfo=UTC) + k * WEEK


def run_id(k: int) -> str:
    return f"{run_time(k):%Y%m%dT%H%M%SZ}-{k + 1:06x}"


def statuses(k: int) -> list[tuple[str, str, str]]:
    """(check, resource, status) of week k's run: the story the assertions below tell."""
    out = [(S3, "bucket-a", "pass")]
    out.append((S3, "bucket-b", "fail" if k <= 2 or k >= 8 else "pass"))  # fixed week 3, regressed week 8
    out.append((S3, "bucket-c", {4: "fail", 10: "fail"}.get(k, "excepted" if 5 <= k <= 9 else "pass")))
    if k == 9:
        out.append((S3, "bucket-d", "fail"))  # appears failing, then is deleted
    out.append((EBS, "vol-1", "error" if k == 2 else "pass"))  # not assessed once
    out.append((KMS, "key-1", "excepted" if 1 <= k <= 3 else "pass"))  # excepted, then fixed
    out.append((KMS, "key-2", "error" if k == 7 else "pass"))
    return out


def write_runs(output: Path) -> list[str]:
    ids = []
    for k in range(-1, 13):
        if k == MISSED:
            crashed = build_run(output, f"{run_time(k):%Y%m%dT%H%M%SZ}-dead00", status="running")
            (crashed / MANIFEST).unlink()  # killed before its manifest was written
            continue
        results = []
        for check, rid, status in statuses(k):
            r = result(check, rid, status)
            if status == "excepted":
                r = dataclasses.replace(r, reason=f"{rid} is not encrypted{NOTE}")
            results.append(r)
        build_run(output, run_id(k), results=results, period=(str(FIRST), str(LAST)))
        ids.append(run_id(k))
    return ids


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Any:
    output = tmp_path_factory.mktemp("period")
    write_runs(output)
    return period_report(
        output, FIRST, LAST, WEEK, organization="Dexo.chat", out_dir=output / "reports", now=NOW, matrix="runs"
    )


@pytest.fixture(scope="module")
def book(report: Any) -> openpyxl.Workbook:
    return openpyxl.load_workbook(report.path, read_only=True)


def sheet(book: openpyxl.Workbook, name: str) -> list[dict[str, Any]]:
    rows = list(book[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def cover(book: openpyxl.Workbook) -> dict[str, Any]:
    return {r["Item"]: r["Value"] for r in sheet(book, "Cover")}


def test_workbook_name_and_sheets(report: Any, book: openpyxl.Workbook) -> None:
    assert report.path.name == "Dexo.chat-SOC2-period-2026-01-05-2026-04-05.xlsx"
    assert book.sheetnames == ["Cover", "Control matrix", "Exceptions timeline", "Populations", "Runs"]


def test_cover_runs_gaps_and_chain(report: Any, book: openpyxl.Workbook) -> None:
    c = cover(book)
    assert c["Runs found (completed, started in the period)"] == 12
    assert c["Runs expected (one per schedule interval)"] == 13
    assert c["Runs missing"] == 1
    assert c["Run before the period (evidences its start)"].startswith(run_id(-1))
    assert c["Gaps longer than the schedule interval"] == 1
    assert c["Gap 1"] == (f"gap of 14d: run {run_id(5)} (2026-02-09 06:00Z) → run {run_id(7)} (2026-02-23 06:00Z)")
    assert c["Time not evidenced by any run"] == "7d (7.69% of the period)"
    assert c[f"Incomplete run {run_time(MISSED):%Y%m%dT%H%M%SZ}-dead00"].startswith("no manifest.json")
    assert c["First run"].startswith(run_id(0)) and c["Last run"].startswith(run_id(12))
    tl = report.timeline
    assert c["First run: evidence set SHA-256"] == tl.runs[0].evidence_set_sha256
    assert c["Last run: evidence set SHA-256"] == tl.runs[-1].evidence_set_sha256
    assert len(c["First run: evidence set SHA-256"]) == 64
    assert c["Hash chain across the period"].startswith("verified: each of the 12 runs")
    assert c["Findings read"] == "all 12 findings.jsonl match their manifest's SHA-256"
    assert c["Last run's manifest"].endswith("no later run records its hash yet")


def test_matrix_cells_and_effective_shares(book: openpyxl.Workbook) -> None:
    rows = list(book["Control matrix"].iter_rows(values_only=True))
    header, by_control = rows[0], {r[0]: r for r in rows[1:]}
    times = [h for h in header[8:]]
    expected_times = [
        "before: 2025-12-29 06:00",
        *(f"{run_time(k):%Y-%m-%d %H:%M}" for k in range(0, 6)),
        "not evidenced 7d",
        *(f"{run_time(k):%Y-%m-%d %H:%M}" for k in range(7, 13)),
    ]
    assert times == expected_times
    enc1 = dict(zip(header, by_control["ENC-01"], strict=True))
    enc1_cells = list(by_control["ENC-01"][8:])
    assert enc1_cells == [
        *["deficient"] * 4,  # before, weeks 0-2: bucket-b fails
        "effective",  # week 3: fixed
        "deficient",  # week 4: bucket-c fails
        "effective",  # week 5: bucket-c excepted (an excepted result does not break a control)
        "not evidenced",  # week 6: no run
        "effective",  # week 7
        *["deficient"] * 5,  # weeks 8-12: bucket-b regressed
    ]
    # effective: weeks 3, 5, 7 = 21 of 91 days; not evidenced: week 6; the rest deficient
    assert enc1["Effective % of period"] == pytest.approx(round(21 / 91 * 100, 2))
    assert enc1["Not evidenced %"] == pytest.approx(round(7 / 91 * 100, 2))
    assert enc1["Deficient %"] == pytest.approx(round(63 / 91 * 100, 2))
    assert enc1["Incomplete %"] == 0 and enc1["Runs effective"] == "3 of 12"
    enc2 = dict(zip(header, by_control["ENC-02"], strict=True))
    assert by_control["ENC-02"][8:][8] == "incomplete"  # week 7: key-2 not assessed
    assert enc2["Effective % of period"] == pytest.approx(round(77 / 91 * 100, 2))
    assert enc2["Incomplete %"] == pytest.approx(round(7 / 91 * 100, 2))
    shares = [enc1[h] for h in header[2:7]]
    assert sum(shares) == pytest.approx(100, abs=0.03)


def test_exceptions_timeline(book: openpyxl.Workbook) -> None:
    rows = sheet(book, "Exceptions timeline")
    got = [
        (
            r["Resource ID"],
            r["First failed (UTC)"],
            r["Resolved (UTC)"],
            r["Gone (UTC)"],
            r["Outcome"],
            r["Days open"],
            r["Covered by an approved exception"],
            r["Failing before the period"],
        )
        for r in rows
    ]
    naive = [run_time(k).replace(tzinfo=None) for k in range(13)]
    assert got == [
        ("bucket-b", naive[0], naive[3], None, "resolved", 21, "no", "yes"),
        ("key-1", naive[1], naive[4], None, "resolved", 21, "yes", "no"),
        ("bucket-c", naive[4], naive[11], None, "resolved", 49, "partly (4 of 6 runs)", "no"),
        ("bucket-b", naive[8], None, None, "open", 34.8, "no", "no"),  # open to the period's end
        ("bucket-d", naive[9], None, naive[10], "gone", 7, "no", "no"),
    ]
    c = rows[2]
    assert c["Exception"] == NOTE.removeprefix(" — excepted: ")
    assert (c["Runs failing"], c["Runs excepted"], c["Runs not assessed"]) == (6, 4, 0)
    assert c["Last reason"] == "bucket-c is fail"  # week 10: the exception had expired
    assert c["Finding ID"] == finding_id(S3, c["Account"], "global", c["Resource type"], "bucket-c")
    assert c["Control IDs"] == "ENC-01" and c["First failed run"] == run_id(4)


def test_populations_per_run(book: openpyxl.Workbook) -> None:
    rows = {(r["Run ID"], r["Control"]): r for r in sheet(book, "Populations")}
    assert len(rows) == 12 * 2
    week2 = rows[(run_id(2), "ENC-01")]
    assert (week2["Enumerated"], week2["Evaluated"], week2["Not assessed (error)"], week2["fail"]) == (4, 3, 1, 1)
    assert week2["Status"] == "deficient" and week2["Matches controls.json"] == "yes"
    week9 = rows[(run_id(9), "ENC-01")]
    assert (week9["Enumerated"], week9["Enumerated change"], week9["excepted"]) == (5, 1, 1)
    assert rows[(run_id(10), "ENC-01")]["Enumerated change"] == -1  # bucket-d gone
    assert rows[(run_id(0), "ENC-01")]["Enumerated change"] is None


def test_runs_sheet(book: openpyxl.Workbook) -> None:
    rows = sheet(book, "Runs")
    assert [r["Run ID"] for r in rows] == [run_id(k) for k in range(-1, 13) if k != MISSED]
    assert rows[0]["In period"].startswith("no") and rows[0]["Chain link"] == "before the period: not checked"
    assert all(r["Chain link"] == "ok" and r["findings.jsonl"] == "matches the manifest" for r in rows[1:])
    assert rows[1]["Findings"] == 6


def test_tampered_findings_and_broken_chain_are_reported(tmp_path: Path) -> None:
    for k in range(3):
        build_run(tmp_path, run_id(k), period=(str(FIRST), str(LAST)))
    findings = tmp_path / "runs" / run_id(1) / "findings.jsonl"
    findings.write_bytes(findings.read_bytes().replace(b'"fail"', b'"pass"'))
    manifest = tmp_path / "runs" / run_id(0) / MANIFEST
    manifest.write_bytes(manifest.read_bytes().replace(b'"Dexo.chat"', b'"Dexo.chat "'))
    rep = period_report(tmp_path, FIRST, LAST, WEEK, organization="Dexo.chat", out_dir=tmp_path, now=NOW)
    c = cover(openpyxl.load_workbook(rep.path, read_only=True))
    assert c["Hash chain across the period"] == "1 problem(s), listed below"
    assert c["Hash chain problem"].startswith(f"{run_id(1)}: manifest chain: previous run {run_id(0)}'s manifest hash")
    assert c[f"Findings of {run_id(1)}"].endswith("SHA-256 differs from the manifest's (altered after the run)")
    assert c["Gap 1"].startswith("gap of ") and "period end/now" in c["Gap 1"]  # after the last run


def test_attribution_caps_each_run_at_one_interval() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    runs = [("a", t0 + timedelta(hours=6)), ("b", t0 + timedelta(days=1)), ("c", t0 + timedelta(days=5))]
    segs = [(s.start - t0, s.end - t0, s.run_id) for s in attribute(runs, t0, t0 + timedelta(days=7), WEEK / 7)]
    day = timedelta(days=1)
    assert segs == [
        (timedelta(0), timedelta(hours=6), None),  # before the first run
        (timedelta(hours=6), day, "a"),  # until the next run (less than the interval)
        (day, 2 * day, "b"),  # one interval, then nothing until c
        (2 * day, 5 * day, None),
        (5 * day, 6 * day, "c"),
        (6 * day, 7 * day, None),  # after the last run's interval
    ]


def test_period_in_the_future_or_backwards_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PeriodError, match="before its start"):
        load_timeline(tmp_path, LAST, FIRST, WEEK, now=NOW)
    with pytest.raises(PeriodError, match="in the future"):
        load_timeline(tmp_path, date(2027, 1, 1), date(2027, 12, 31), WEEK, now=NOW)


def test_no_runs_at_all_is_one_gap_and_nothing_evidenced(tmp_path: Path) -> None:
    rep = period_report(tmp_path, FIRST, LAST, WEEK, organization="Dexo.chat", out_dir=tmp_path, now=NOW)
    book = openpyxl.load_workbook(rep.path, read_only=True)
    c = cover(book)
    assert (
        c["Runs found (completed, started in the period)"] == 0 and c["First run"] == "no completed run in the period"
    )
    assert c["Gaps longer than the schedule interval"] == 1 and c["Time not evidenced by any run"].startswith("91d")


def test_weekly_columns_show_the_missed_week(report: Any, tmp_path: Path) -> None:
    from reports.period import write_period_workbook

    path = tmp_path / "weeks.xlsx"
    write_period_workbook(path, "Dexo.chat", report.timeline, report.scanned, matrix="weeks")
    rows = list(openpyxl.load_workbook(path, read_only=True)["Control matrix"].iter_rows(values_only=True))
    header, enc1 = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert header[8:] == tuple(f"2026-W{w:02d}" for w in range(2, 15))  # 13 ISO weeks, Jan 5 is in W02
    assert [enc1[f"2026-W{w:02d}"] for w in (5, 6, 7, 8, 9)] == [
        "effective",  # week 3 of the period: fixed
        "deficient",
        "effective",
        "not evidenced",  # the missed week
        "effective",
    ]
    assert enc1["Effective % of period"] == pytest.approx(round(21 / 91 * 100, 2))  # shares do not change
