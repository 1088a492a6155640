"""The `period` and `sample` commands: from a config, from a bucket, and their exit codes."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import openpyxl
import pytest

import reports.locker
from flows.cli import main
from tests.unit.test_locker import MemoryLocker
from tests.unit.test_period import FIRST, LAST, run_id, write_runs


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("cli-period") / "out"
    write_runs(output)
    return output


def config(tmp_path: Path, output: str, period: tuple[date, date] = (FIRST, LAST)) -> Path:
    cfg = tmp_path / "soc2-evidence.yaml"
    cfg.write_text(
        f"organization: Dexo.chat\nperiod: {{start: {period[0]}, end: {period[1]}}}\noutput: {output}\n",
        encoding="utf-8",
    )
    return cfg


def test_period_from_the_config(runs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = config(tmp_path, str(runs_dir))
    code, out, err = _run(capsys, "period", "--config", str(cfg), "--interval", "7d")
    assert code == 0, err
    path = runs_dir / "period-reports" / "Dexo.chat-SOC2-period-2026-01-05-2026-04-05.xlsx"
    assert f"Period report: {path}" in out
    assert "Period 2026-01-05 to 2026-04-05: 12 completed run(s), 13 expected (one per 7d)" in out
    assert f"gap of 14d: run {run_id(5)}" in out and "Hash chain: verified across the period" in out
    assert "ENC-01        23.08%   69.23%    0.00%    0.00%    7.69%" in out
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames[:2] == ["Cover", "Control matrix"]


def test_period_dates_and_default_interval(runs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = config(tmp_path, str(runs_dir))
    code, out, _ = _run(
        capsys, "period", "--config", str(cfg), "--from", "2026-02-01", "--to", "2026-02-28", "--out-dir", str(tmp_path)
    )
    assert code == 0
    assert "Period 2026-02-01 to 2026-02-28: 3 completed run(s), 28 expected (one per 1d)" in out
    book = openpyxl.load_workbook(tmp_path / "Dexo.chat-SOC2-period-2026-02-01-2026-02-28.xlsx", read_only=True)
    cover = {r[1]: r[2] for r in book["Cover"].iter_rows(values_only=True)}
    assert cover["Schedule interval"].startswith("1d (default: the shipped daily schedule")
    assert cover["Run before the period (evidences its start)"].startswith(run_id(3))


def test_period_refuses_a_backwards_period(runs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = config(tmp_path, str(runs_dir))
    code, _, err = _run(capsys, "period", "--config", str(cfg), "--from", "2026-03-01", "--to", "2026-02-01")
    assert code == 2 and "before its start" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exited:  # argparse: usage and exit 2
        main(["period", "--config", str(cfg), "--from", "2026-13-01"])
    assert exited.value.code == 2 and "invalid date '2026-13-01'" in capsys.readouterr().err


def test_period_from_a_bucket_reads_only_the_periods_runs(
    runs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    locker = MemoryLocker("s3://evidence/dexo")
    for run in sorted((runs_dir / "runs").iterdir()):
        if (run / "manifest.json").exists():
            locker.upload_run(run, run.name)
    monkeypatch.setattr(reports.locker, "open_locker", lambda *a, **k: locker)
    monkeypatch.setenv("SOC2_EVIDENCE_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    cfg = config(tmp_path, "s3://evidence/dexo")
    code, out, err = _run(
        capsys, "period", "--config", str(cfg), "--from", "2026-03-01", "--to", "2026-03-31", "--interval", "7d"
    )
    assert code == 0, err
    assert "Period 2026-03-01 to 2026-03-31: 5 completed run(s), 5 expected" in out
    assert (tmp_path / "period-reports" / "Dexo.chat-SOC2-period-2026-03-01-2026-03-31.xlsx").is_file()
    cached = tmp_path / "cache" / "s3" / "evidence" / "dexo" / "runs"
    with_findings = sorted(p.parent.name for p in cached.glob("*/findings.jsonl"))
    assert with_findings == [run_id(k) for k in range(7, 13)]  # the run before the period, then its 5
    assert not list(cached.glob("*/evidence"))  # evidence never fetched


def test_sample_is_reproducible_from_the_cli(
    runs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, str(runs_dir))
    args = ("sample", run_id(9)[:12], "--control", "ENC-01", "--seed", "2026", "--config", str(cfg))
    code, first, err = _run(capsys, *args, "--out-dir", str(tmp_path / "a"))
    assert code == 0, err
    code, second, _ = _run(capsys, *args, "--out-dir", str(tmp_path / "b"))
    assert first.replace("/a/", "/b/") == second
    assert f"Sample of ENC-01 (daily) from run {run_id(9)}: 5 of 5 items, seed 2026" in first
    data = json.loads(next((tmp_path / "a").glob("*.json")).read_text())
    assert data["seed"] == "2026" and len(data["selection"]) == 5
    code, out, _ = _run(
        capsys,
        "sample",
        "2026-02-01..2026-02-28",
        "--control",
        "ENC-01",
        "--seed",
        "x",
        "--size",
        "3",
        "--config",
        str(cfg),
        "--out-dir",
        str(tmp_path / "c"),
    )
    assert code == 0 and "from period 2026-02-01 to 2026-02-28: 3 of 12 items, seed x" in out
    files = sorted(p.name for p in (tmp_path / "c").iterdir())
    assert files == [f"Dexo.chat-SOC2-sample-ENC-01-2026-02-01-2026-02-28-x.{ext}" for ext in ("json", "xlsx")]


def test_sample_bad_control_or_run_exits_2(runs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = config(tmp_path, str(runs_dir))
    code, _, err = _run(capsys, "sample", run_id(3), "--control", "NOPE-1", "--config", str(cfg))
    assert code == 2 and "not in run" in err
    code, _, err = _run(capsys, "sample", "20990101", "--control", "ENC-01", "--config", str(cfg))
    assert code == 2 and "not found among the completed runs" in err
    code, out, _ = _run(
        capsys, "sample", str(runs_dir / "runs" / run_id(2)), "--control", "ENC-02", "--out-dir", str(tmp_path)
    )
    assert code == 0 and "seed " in out  # a run folder, no config: a random seed, recorded


def test_the_demo_ends_with_a_period_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from flows.run_cli import print_demo_period
    from tests.unit.test_verify import build_run

    today = date.today()
    output = tmp_path / "demo-output"
    output.mkdir()
    config(output, str(output), (date(today.year, 1, 1), date(today.year, 12, 31)))  # as the demo writes it
    build_run(output, f"{today:%Y%m%d}T000000Z-d3m001")
    build_run(output, f"{today:%Y%m%d}T000000Z-d3m002")
    print_demo_period(output)
    out = capsys.readouterr().out
    path = output / "period-reports" / f"Dexo.chat-SOC2-period-{today.year}-01-01-{today.year}-12-31.xlsx"
    assert "run(s) so far" in out and str(path) in out and path.is_file()
    book = openpyxl.load_workbook(path, read_only=True)
    cover = {r[1]: r[2] for r in book["Cover"].iter_rows(values_only=True)}
    assert cover["Runs found (completed, started in the period)"] == 2
