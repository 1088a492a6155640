"""Run history: completed runs with control counts, gaps in coverage, incomplete runs."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from reports.history import format_duration, run_history
from reports.store import MANIFEST, completed_runs
from tests.unit.test_verify import S3, build_run

NOW = datetime(2026, 12, 31, 12, 0, tzinfo=UTC)


def _runs(output: Path, *stamps: str) -> list[Path]:
    return [build_run(output, f"{s}-{i:06x}") for i, s in enumerate(stamps)]


def test_completed_runs_with_counts_and_period(tmp_path: Path) -> None:
    build_run(tmp_path, "20260101T060000Z-000001", [(S3, "a", "pass")])
    build_run(tmp_path, "20260102T060000Z-000002", [(S3, "a", "pass"), (S3, "b", "fail")])
    h = run_history(tmp_path, None, now=NOW)
    assert [r.run_id for r in h.runs] == ["20260101T060000Z-000001", "20260102T060000Z-000002"]
    assert h.runs[0].control_counts == {"effective": 1, "deficient": 0, "incomplete": 0, "no_evidence": 1}
    assert h.runs[1].control_counts == {"effective": 0, "deficient": 1, "incomplete": 0, "no_evidence": 1}
    assert h.runs[0].started_at == datetime(2026, 1, 1, 6, tzinfo=UTC)
    assert h.runs[1].previous_run == "20260101T060000Z-000001"
    assert h.period == (date(2026, 1, 1), date(2026, 12, 31))
    assert h.gaps == [] and h.incomplete == []  # no interval: no gaps computed
    assert json.dumps(h.to_json())


def test_gaps_between_runs_and_from_period_start(tmp_path: Path) -> None:
    _runs(tmp_path, "20260101T060000Z", "20260102T060000Z", "20260106T060000Z", "20260107T050000Z")
    h = run_history(tmp_path, timedelta(days=1), now=datetime(2026, 1, 7, 12, tzinfo=UTC))
    assert [(g.kind, g.after_run, g.duration) for g in h.gaps] == [
        ("between_runs", "20260102T060000Z-000001", timedelta(days=4))
    ]
    # exactly the interval is not a gap; 6h after the period start is not one either
    h = run_history(tmp_path, timedelta(hours=6), now=datetime(2026, 1, 7, 12, tzinfo=UTC))
    kinds = [g.kind for g in h.gaps]
    assert kinds == ["between_runs", "between_runs", "between_runs", "after_last_run"]  # 7h since the last run
    rows = h.rows()
    assert rows[1]["gap_before"] == "1d" and rows[2]["gap_before"] == "4d" and rows[3]["gap_before"] == "23h"


def test_gap_before_first_run_and_after_last_run(tmp_path: Path) -> None:
    _runs(tmp_path, "20260110T000000Z", "20260111T000000Z")
    h = run_history(tmp_path, timedelta(days=1), now=datetime(2026, 1, 20, tzinfo=UTC))
    first, last = h.gaps
    assert (first.kind, first.start, first.before_run) == (
        "before_first_run",
        datetime(2026, 1, 1, tzinfo=UTC),
        "20260110T000000Z-000000",
    )
    assert first.duration == timedelta(days=9)
    assert (last.kind, last.after_run, last.end) == (
        "after_last_run",
        "20260111T000000Z-000001",
        datetime(2026, 1, 20, tzinfo=UTC),  # min(period end, now) = now
    )
    assert "gap of 9d" in first.describe()


def test_gap_to_period_end_when_the_period_is_over(tmp_path: Path) -> None:
    build_run(tmp_path, "20261229T000000Z-000000", period=("2026-01-01", "2026-12-31"))
    h = run_history(tmp_path, timedelta(days=1), now=datetime(2027, 3, 1, tzinfo=UTC))
    [before, after] = h.gaps
    assert before.kind == "before_first_run"
    assert after.end == datetime(2027, 1, 1, tzinfo=UTC)  # the end date is inclusive
    assert after.duration == timedelta(days=3)


def test_no_period_means_only_gaps_between_runs(tmp_path: Path) -> None:
    build_run(tmp_path, "20260110T000000Z-000000", period=None)
    build_run(tmp_path, "20260120T000000Z-000001", period=None)
    h = run_history(tmp_path, timedelta(days=1), now=NOW)
    assert h.period is None and [g.kind for g in h.gaps] == ["between_runs"]


def test_incomplete_runs_are_listed_separately_never_as_a_baseline(tmp_path: Path) -> None:
    build_run(tmp_path, "20260101T000000Z-000001")
    killed = tmp_path / "runs" / "20260102T000000Z-000002"
    (killed / "evidence").mkdir(parents=True)
    (killed / "findings.jsonl").write_text("")
    running = build_run(tmp_path, "20260103T000000Z-000003", status="running")
    corrupt = build_run(tmp_path, "20260104T000000Z-000004")
    (corrupt / MANIFEST).write_text("{")
    latest = build_run(tmp_path, "20260105T000000Z-000005")
    # the new run chains to the last *completed* run
    assert json.loads((latest / MANIFEST).read_text())["previous_run"] == "20260101T000000Z-000001"
    assert json.loads((running / MANIFEST).read_text())["previous_run"] == "20260101T000000Z-000001"
    h = run_history(tmp_path, timedelta(days=1), now=datetime(2026, 1, 5, 1, tzinfo=UTC))
    assert [r.run_id for r in h.runs] == ["20260101T000000Z-000001", "20260105T000000Z-000005"]
    reasons = {r.run_id: r.reason for r in h.incomplete}
    assert "no manifest.json" in reasons["20260102T000000Z-000002"]
    assert "'running'" in reasons["20260103T000000Z-000003"]
    assert "unreadable" in reasons["20260104T000000Z-000004"]
    assert h.incomplete[0].started_at == datetime(2026, 1, 2, tzinfo=UTC)
    assert [g.kind for g in h.gaps] == ["between_runs"]  # incomplete runs do not cover the period
    assert [r.run_id for r in completed_runs(tmp_path)] == [r.run_id for r in h.runs]


def test_missing_controls_json_is_a_note(tmp_path: Path) -> None:
    run = build_run(tmp_path, "20260101T000000Z-000001")
    (run / "controls.json").unlink()
    [r] = run_history(tmp_path, None).runs
    assert r.control_counts is None and "controls.json missing" in r.note
    assert run_history(tmp_path, None).rows()[0]["effective"] is None


def test_empty_output(tmp_path: Path) -> None:
    h = run_history(tmp_path / "nothing", timedelta(days=1))
    assert h.runs == [] and h.gaps == [] and h.incomplete == []


def test_format_duration() -> None:
    assert format_duration(timedelta(days=2, hours=3)) == "2d 3h"
    assert format_duration(timedelta(hours=5, minutes=7)) == "5h 7m"
    assert format_duration(timedelta(minutes=42)) == "42m"
