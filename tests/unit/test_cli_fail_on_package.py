"""`run --fail-on` and `drift --fail-on` (every choice, exit codes), `run` printing the drift, `package`."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from controls import Finding
from flows.cli import main
from flows.finish import RunOutcome
from reports.drift import compute_drift
from reports.package import README, PackageError, package_run
from reports.store import MANIFEST, read_manifest
from tests.unit.test_cli import GOOD
from tests.unit.test_verify import S3, build_run, result

RUN1, RUN2 = "20260301T000000Z-aaaaaa", "20260302T000000Z-bbbbbb"
EXIT_OK, EXIT_FAIL_ON, EXIT_BAD_INPUT = 0, 1, 2


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# (statuses in run 1, statuses in run 2) -> which --fail-on choices trip on run 2
CASES = {
    "new failure": ([("a", "pass")], [("a", "fail")], {"new-failures", "any-failure"}),
    "old failure": ([("a", "fail")], [("a", "fail")], {"any-failure"}),
    "not assessed": ([("a", "pass")], [("a", "error")], {"errors"}),
    "all good": ([("a", "fail")], [("a", "pass")], set()),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_drift_fail_on_each_choice(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before, after, tripped = CASES[case]
    build_run(tmp_path, RUN1, [(S3, rid, st) for rid, st in before])
    build_run(tmp_path, RUN2, [(S3, rid, st) for rid, st in after])
    for choice in ("new-failures", "any-failure", "errors"):
        code, _, err = _run(capsys, "drift", "--output", str(tmp_path), "--fail-on", choice)
        assert code == (EXIT_FAIL_ON if choice in tripped else EXIT_OK), (case, choice)
        assert (f"--fail-on {choice}" in err) == (choice in tripped), (case, choice)
    code, _, _ = _run(capsys, "drift", "--output", str(tmp_path))
    assert code == EXIT_OK  # without --fail-on the exit code ignores the results
    argv = ["drift", "--output", str(tmp_path), "--fail-on", "errors", "--fail-on", "any-failure"]
    code, _, _ = _run(capsys, *argv)
    assert code == (EXIT_FAIL_ON if tripped & {"errors", "any-failure"} else EXIT_OK)


def test_drift_rejects_an_unknown_choice(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["drift", "--output", str(tmp_path), "--fail-on", "sometimes"])
    assert exc.value.code == EXIT_BAD_INPUT  # argparse's usage error


def test_drift_table_shows_severity_and_failing_since(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build_run(tmp_path, RUN1, [(S3, "a", "fail")])
    build_run(tmp_path, RUN2, [(S3, "a", "pass")])
    code, out, _ = _run(capsys, "drift", "--output", str(tmp_path))
    assert code == EXIT_OK
    assert "Resolved (1):" in out and "failing since 2026-03-01" in out


def no_cloud(monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.preflight import Preflight

    monkeypatch.setattr("flows.preflight.run_preflight", lambda *a, **k: Preflight())  # no AWS here


def outcome_with(tmp_path: Path, before: list[tuple[str, str]] | None, after: list[tuple[str, str]]) -> RunOutcome:
    prev = [Finding(RUN1, result(S3, rid, st), ("ENC-01",), (), "t") for rid, st in before] if before else None
    cur = [Finding(RUN2, result(S3, rid, st), ("ENC-01",), (), "t") for rid, st in after]
    drift = compute_drift(prev, cur, [] if prev is not None else None, [], from_run=RUN1 if prev else None)
    return RunOutcome(RUN2, tmp_path, cur, [], tmp_path / "wb.xlsx", 3, {}, drift=drift)


def test_a_partial_run_exits_3_unless_a_fail_on_choice_applies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(GOOD)
    no_cloud(monkeypatch)
    outcome = outcome_with(tmp_path, [("a", "pass")], [("a", "fail")])
    outcome.manifest.update(assessment="partial", unassessed=[{"provider": "aws", "account": "1", "reason": "x"}])
    monkeypatch.setattr("flows.run.run_evidence", lambda *a, **k: outcome)
    assert _run(capsys, "run", "--config", str(cfg))[0] == 3
    assert _run(capsys, "run", "--config", str(cfg), "--fail-on", "errors")[0] == 3  # nothing erred
    assert _run(capsys, "run", "--config", str(cfg), "--fail-on", "new-failures")[0] == EXIT_FAIL_ON


@pytest.mark.parametrize("case", sorted(CASES))
def test_run_fail_on_each_choice_and_default_exit_0(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before, after, tripped = CASES[case]
    cfg = tmp_path / "c.yaml"
    cfg.write_text(GOOD)
    no_cloud(monkeypatch)
    monkeypatch.setattr("flows.run.run_evidence", lambda *a, **k: outcome_with(tmp_path, before, after))
    code, out, _ = _run(capsys, "run", "--config", str(cfg))
    assert code == EXIT_OK  # as before --fail-on existed: a completed run exits 0 whatever its results
    # the drift summary follows the control table
    assert out.index(f"Run {RUN2}:") < out.index(f"run {RUN2} vs {RUN1}:")
    for choice in ("new-failures", "any-failure", "errors"):
        code, _, err = _run(capsys, "run", "--config", str(cfg), "--fail-on", choice)
        assert code == (EXIT_FAIL_ON if choice in tripped else EXIT_OK), (case, choice)
        assert ("failing:" in err) == (choice in tripped)


def test_run_without_a_baseline_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(GOOD)
    no_cloud(monkeypatch)
    monkeypatch.setattr("flows.run.run_evidence", lambda *a, **k: outcome_with(tmp_path, None, [("a", "fail")]))
    code, out, _ = _run(capsys, "run", "--config", str(cfg), "--fail-on", "new-failures")
    assert code == EXIT_OK and "no baseline" in out  # the first run has nothing "new"
    code, _, _ = _run(capsys, "run", "--config", str(cfg), "--fail-on", "any-failure")
    assert code == EXIT_FAIL_ON


# --- package --------------------------------------------------------------------------------------


def test_package_holds_the_run_the_manifest_and_a_readme(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = build_run(tmp_path / "out", RUN1, [(S3, "a", "pass"), (S3, "b", "fail")])
    code, out, _ = _run(capsys, "package", str(run))
    assert code == EXIT_OK
    zip_path = tmp_path / "out" / "packages" / f"{RUN1}.zip"
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    assert f"SHA-256: {digest}" in out and str(zip_path) in out
    manifest = read_manifest(run)
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
        assert all(n.startswith(f"{RUN1}/") for n in names)  # one top folder: unzips into the run folder
        expected = {e["path"] for e in manifest["evidence"]} | {MANIFEST, README, "findings.jsonl", "controls.json"}
        expected |= {manifest["outputs"]["workbook"]["path"], manifest["catalog"]["path"]}
        assert {n.removeprefix(f"{RUN1}/") for n in names} == expected
        for e in manifest["evidence"]:  # the bytes the manifest hashed
            assert hashlib.sha256(zf.read(f"{RUN1}/{e['path']}")).hexdigest() == e["sha256"]
        readme = zf.read(f"{RUN1}/{README}").decode()
    assert RUN1 in readme and "soc2-evidence verify" in readme and "fail 1, pass 1" in readme
    assert "sha256sum" in readme and "evaluate" in readme


def test_package_is_deterministic(tmp_path: Path) -> None:
    run = build_run(tmp_path / "out", RUN1)
    one = package_run(run, tmp_path / "one.zip")
    two = package_run(run, tmp_path / "two.zip")
    assert one.sha256 == two.sha256 == hashlib.sha256((tmp_path / "one.zip").read_bytes()).hexdigest()


def test_a_run_that_does_not_verify_is_not_packaged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = build_run(tmp_path / "out", RUN1)
    evidence = read_manifest(run)["evidence"][0]["path"]
    (run / evidence).write_text('{"tampered": true}')
    with pytest.raises(PackageError, match="does not verify"):
        package_run(run, tmp_path / "p.zip")
    assert not (tmp_path / "p.zip").exists()
    code, _, err = _run(capsys, "package", str(run))
    assert code == EXIT_BAD_INPUT and "does not verify" in err
    code, _, err = _run(capsys, "package", str(tmp_path))
    assert code == EXIT_BAD_INPUT and "no manifest.json" in err
