"""The drift, history and verify subcommands: defaults, formats and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.cli import main
from reports.store import MANIFEST
from tests.unit.test_verify import ACCOUNT, S3, build_run

RUN1, RUN2, RUN3 = "20260301T000000Z-aaaaaa", "20260302T000000Z-bbbbbb", "20260303T000000Z-cccccc"


@pytest.fixture
def out(tmp_path: Path) -> Path:
    output = tmp_path / "soc2-evidence-output"
    build_run(output, RUN1, [(S3, "a", "pass"), (S3, "b", "fail")])
    build_run(output, RUN2, [(S3, "a", "fail"), (S3, "b", "pass"), (S3, "c", "pass")])  # a breaks, b fixed
    build_run(output, RUN3, [(S3, "a", "fail"), (S3, "b", "pass"), (S3, "c", "pass")])  # no change
    return output


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_drift_defaults_to_the_latest_run_and_the_one_before(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = _run(capsys, "drift", "--output", str(out), "--format", "json", "--fail-on", "new-failures")
    data = json.loads(stdout)
    assert (data["from_run"], data["to_run"]) == (RUN2, RUN3)
    assert data["counts"]["newly_failing"] == 0
    assert code == 0


def test_drift_between_named_runs_and_fail_on(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = _run(capsys, "drift", "--output", str(out), "--to", RUN2)
    assert code == 0  # without --fail-on, new failures do not change the exit code
    assert f"run {RUN2} vs {RUN1}: 1 newly failing, 1 resolved" in stdout
    assert (
        "Newly failing (1):" in stdout
        and f"{ACCOUNT}/global" in stdout
        and "(pass -> fail, failing since 2026-03-02)" in stdout
    )
    assert "1 new resource(s)" in stdout
    code, _, _ = _run(capsys, "drift", "--output", str(out), "--to", RUN2, "--fail-on", "new-failures")
    assert code == 1
    # a run directory, a unique prefix of a run ID
    code, stdout, _ = _run(
        capsys,
        "drift",
        "--output",
        str(out),
        "--from",
        str(out / "runs" / RUN1),
        "--to",
        "20260303",
        "--format",
        "json",
    )
    assert code == 0 and json.loads(stdout)["from_run"] == RUN1 and json.loads(stdout)["to_run"] == RUN3


def test_drift_output_from_config(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = out.parent / "soc2-evidence.yaml"
    cfg.write_text(
        "organization: Dexo.chat\nperiod: {start: 2026-01-01, end: 2026-12-31}\noutput: soc2-evidence-output\n"
    )
    code, stdout, _ = _run(capsys, "drift", "--config", str(cfg), "--format", "json")
    assert code == 0 and json.loads(stdout)["to_run"] == RUN3


def test_drift_bad_run_and_no_runs_exit_2(out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "drift", "--output", str(out), "--from", "20990101T000000Z-nope")
    assert code == 2 and "not found among the completed runs" in err and "Traceback" not in err
    code, _, err = _run(capsys, "drift", "--output", str(out), "--to", "2026030")  # ambiguous prefix
    assert code == 2 and "ambiguous" in err
    code, _, err = _run(capsys, "drift", "--output", str(tmp_path / "empty"))
    assert code == 2 and "no completed runs" in err
    code, _, err = _run(capsys, "drift", "--output", str(out), "--from", RUN2, "--to", RUN2)
    assert code == 2 and "same run" in err


def test_drift_first_run_has_no_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build_run(tmp_path, RUN1, [(S3, "b", "fail")])
    code, stdout, _ = _run(capsys, "drift", "--output", str(tmp_path), "--fail-on", "new-failures")
    assert code == 0 and "no baseline" in stdout


def test_incomplete_run_is_never_the_drift_baseline(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    latest = "20260305T000000Z-eeeeee"
    killed = out / "runs" / "20260304T000000Z-dddddd"
    build_run(out, killed.name, [(S3, "a", "pass")])
    (killed / MANIFEST).unlink()
    build_run(out, latest, [(S3, "a", "fail"), (S3, "b", "pass"), (S3, "c", "pass")])
    code, stdout, _ = _run(capsys, "drift", "--output", str(out), "--format", "json", "--fail-on", "new-failures")
    data = json.loads(stdout)
    assert (data["from_run"], data["to_run"]) == (RUN3, latest) and code == 0
    code, _, err = _run(capsys, "drift", "--output", str(out), "--from", str(killed))
    assert code == 2 and "no manifest.json" in err


def test_history_table_with_gaps_and_incomplete_runs(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (out / "runs" / "20260302T120000Z-killed").mkdir()
    build_run(out, "20260310T000000Z-ffffff", [(S3, "a", "pass")])
    code, stdout, _ = _run(capsys, "history", "--output", str(out), "--expected-interval", "1d")
    assert code == 0
    assert "4 completed run(s)" in stdout and "audit period 2026-01-01 to 2026-12-31" in stdout
    line = next(x for x in stdout.splitlines() if x.startswith("20260310T000000Z-ffffff"))
    assert "GAP 7d" in line
    assert "gap(s) longer than the expected interval 1d" in stdout
    assert "period start" in stdout  # 2026-01-01 to the first run
    assert "1 incomplete run(s) (never used as a baseline):" in stdout
    assert "20260302T120000Z-killed: no manifest.json" in stdout


def test_history_json_and_intervals(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = _run(capsys, "history", "--output", str(out), "--expected-interval", "6h", "--format", "json")
    data = json.loads(stdout)
    assert code == 0 and data["expected_interval_seconds"] == 6 * 3600 and len(data["runs"]) == 3
    code, stdout, _ = _run(capsys, "history", "--output", str(out))
    assert code == 0 and "--expected-interval" in stdout
    code, stdout, _ = _run(capsys, "history", "--output", str(out), "--expected-interval", "7d")
    assert code == 0 and "2 gap(s) longer than the expected interval 7d" in stdout  # start, and up to now
    assert "gap of 59d: period start (2026-01-01 00:00Z)" in stdout  # daily runs, but only from March 1
    assert stdout.count("GAP") == 1


@pytest.mark.parametrize("bad", ["1x", "0d", "d", "1.5d"])
def test_history_bad_interval_exits_2(out: Path, bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["history", "--output", str(out), "--expected-interval", bad])
    assert info.value.code == 2
    assert "invalid interval" in capsys.readouterr().err


def test_history_no_runs_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "history", "--output", str(tmp_path))
    assert code == 2 and "no runs folder" in err


def test_verify_exit_codes(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = out / "runs" / RUN2
    code, stdout, _ = _run(capsys, "verify", str(run))
    assert code == 0 and f"run {RUN2}: intact (6 files match the manifest)" in stdout
    (run / "findings.jsonl").write_text("")
    (run / "evidence" / "aws" / ACCOUNT / "global" / "s3" / "ListBuckets.json").unlink()
    code, stdout, _ = _run(capsys, "verify", str(run))
    assert code == 1
    assert "findings.jsonl: SHA-256 differs (manifest " in stdout
    assert f"evidence/aws/{ACCOUNT}/global/s3/ListBuckets.json: missing" in stdout
    assert "2 problem(s)" in stdout
    code, stdout, _ = _run(capsys, "verify", str(run), "--format", "json")
    assert code == 1 and json.loads(stdout)["ok"] is False
    code, _, err = _run(capsys, "verify", str(out / "runs" / "nope"))
    assert code == 2 and "not a directory" in err


def test_verify_edited_manifest_fails_the_next_run(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = out / "runs" / RUN1 / MANIFEST
    manifest = json.loads(path.read_text())
    manifest["status"] = "completed"
    manifest["organization"] = "Edited"
    path.write_text(json.dumps(manifest, sort_keys=True, indent=1))
    code, stdout, _ = _run(capsys, "verify", str(out / "runs" / RUN2))
    assert code == 1 and f"manifest chain: previous run {RUN1}'s manifest hash differs" in stdout
