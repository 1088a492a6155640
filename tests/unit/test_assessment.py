"""Partial runs (flows/assessment.py, reports.store.drift_baseline; issue 12): an account,
project or endpoint that could not be assessed at all makes the run partial: exit 3, kept in
the hash chain, never a drift baseline, shown by `history`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collectors.evidence import Scope
from flows.assessment import assessment_fields, run_exit_code, unassessed
from flows.cli import main
from flows.cli_common import EXIT_INCOMPLETE
from flows.collect import ScopeOutcome
from reports.history import run_history
from reports.store import MANIFEST, completed_runs, drift_baseline
from tests.unit.test_verify import S3, build_run

RUN1, RUN2, RUN3 = "20260301T000000Z-aaaaaa", "20260302T000000Z-bbbbbb", "20260303T000000Z-cccccc"


def outcome(provider: str, account: str, collector: str, status: str, message: str = "") -> ScopeOutcome:
    return ScopeOutcome(Scope(provider, account, "us-east-1", collector), [], status=status, message=message)


def test_a_target_is_unassessed_only_when_none_of_its_scopes_collected() -> None:
    outcomes = [
        outcome("aws", "111111111111", "aws.s3", "ok"),
        outcome("aws", "111111111111", "aws.kms", "error", "AccessDenied"),  # partly assessed: not listed
        outcome("aws", "222222222222", "aws.s3", "error", "cannot assume role"),
        outcome("aws", "222222222222", "aws.kms", "crashed", "boom"),
        outcome("access_review", "333333333333", "access_review.iam", "error", "not configured"),  # ignored
        outcome("gcp", "acme-prod-1", "gcp.gcs", "error", "403"),
        outcome("endpoint", "api.example.com:443", "endpoint.tls", "partial", "slow"),
        outcome("aws", "*", "aws.s3", "error", "ListAccounts denied"),
    ]
    missed = unassessed(outcomes)
    assert [(m["provider"], m["account"]) for m in missed] == [
        ("aws", "*"),
        ("aws", "222222222222"),
        ("gcp", "acme-prod-1"),
    ]
    assert missed[1]["reason"] == "cannot assume role"
    assert assessment_fields(outcomes)["assessment"] == "partial"
    assert assessment_fields(outcomes[:2]) == {"assessment": "complete", "unassessed": []}


def test_a_partial_run_exits_3_and_says_what_was_missed(capsys: pytest.CaptureFixture[str]) -> None:
    manifest = {"assessment": "partial", "unassessed": [{"provider": "aws", "account": "2", "reason": "denied"}]}
    assert run_exit_code(manifest) == EXIT_INCOMPLETE == 3
    err = capsys.readouterr().err
    assert "aws 2: denied" in err and "never used as a drift baseline" in err
    assert run_exit_code({"assessment": "complete", "unassessed": []}) == 0


def _mark_partial(output: Path, run_id: str) -> None:
    path = output / "runs" / run_id / MANIFEST
    manifest = json.loads(path.read_text())
    manifest.update(
        assessment="partial", unassessed=[{"provider": "aws", "account": "222222222222", "reason": "denied"}]
    )
    path.write_text(json.dumps(manifest))


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """RUN1 complete, RUN2 partial, RUN3 complete (chained after RUN2)."""
    output = tmp_path / "out"
    build_run(output, RUN1, [(S3, "a", "pass")])
    build_run(output, RUN2, [(S3, "a", "fail")])
    _mark_partial(output, RUN2)
    build_run(output, RUN3, [(S3, "a", "pass")])
    return output


def test_a_partial_run_is_chained_but_never_the_drift_baseline(out: Path) -> None:
    runs = completed_runs(out)
    assert [r.run_id for r in runs] == [RUN1, RUN2, RUN3]
    assert runs[2].manifest["previous_run"] == RUN2  # the chain goes through it
    assert drift_baseline(runs[:2]).run_id == RUN1  # the baseline skips it
    assert drift_baseline(runs[1:2]) is None


def test_drift_cli_compares_with_the_last_complete_run(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drift", "--output", str(out), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["from_run"], data["to_run"]) == (RUN1, RUN3)


def test_history_shows_a_partial_run(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hist = run_history(out)
    assert [r.assessment for r in hist.runs] == ["complete", "partial", "complete"]
    assert hist.to_json()["runs"][1]["unassessed"] == ["aws 222222222222"]
    assert main(["history", "--output", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = next(line for line in lines if line.startswith(RUN2))
    assert "PARTIAL, not assessed: aws 222222222222" in row


def test_history_cli_prints_chain_forks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Defect 5: two runs on the same predecessor; `verify` reported it, `history` did not."""
    output = tmp_path / "out"
    build_run(output, RUN1, [(S3, "a", "pass")])
    build_run(output, RUN2, [(S3, "a", "pass")])
    path = output / "runs" / RUN2 / MANIFEST
    twin = json.loads(path.read_text())
    build_run(output, RUN3, [(S3, "a", "pass")])
    third = output / "runs" / RUN3 / MANIFEST
    forked = json.loads(third.read_text())
    forked.update(previous_run=twin["previous_run"], previous_manifest_sha256=twin["previous_manifest_sha256"])
    third.write_text(json.dumps(forked))
    assert main(["history", "--output", str(output)]) == 0
    text = capsys.readouterr().out
    assert "1 fork(s) in the hash chain" in text
    assert f"chain fork: {RUN2}, {RUN3} all follow run {RUN1}" in text


def test_verify_finds_a_partial_run_intact_and_says_it_is_partial(out: Path) -> None:
    from reports.verify import verify_run

    report = verify_run(out / "runs" / RUN2)
    assert "partial run: 1 account(s)/project(s)/endpoint(s) not assessed (see unassessed)" in report.notes
