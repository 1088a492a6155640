"""verify_run: evidence and output hashes, extra files, the manifest hash chain.

`build_run` (also used by the drift, history and CLI tests) writes a run the
way flows/run.py does (RunWriter, same manifest keys), without an emulator.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from importlib import resources
from pathlib import Path

import pytest

from controls import CheckResult, ControlResult, EvidenceRef, Finding, Status
from controls.mapping import control_status
from reports.atomic import sha256_file
from reports.store import MANIFEST, RunWriter, completed_runs
from reports.verify import VerifyInputError, verify_run

ACCOUNT = "828931197057"
S3 = "aws.s3.default_encryption"
EBS = "aws.ebs.volume_encryption"
CONTROL_OF = {S3: "ENC-01", EBS: "ENC-01", "aws.kms.key_rotation": "ENC-02"}

# (check_id, resource_id, status) or (check_id, account, region, resource_id, status)
Spec = tuple[str, ...]


def result(check: str, rid: str, status: str, account: str = ACCOUNT, region: str = "global") -> CheckResult:
    rtype = {S3: "AWS::S3::Bucket", EBS: "AWS::EC2::Volume"}.get(check, "AWS::KMS::Key")
    return CheckResult(
        check_id=check,
        provider="aws",
        account=account,
        region=region,
        resource_type=rtype,
        resource_id=rid,
        status=Status(status),
        observed={"status": status},
        expected={"ok": True},
        reason=f"{rid} is {status}",
        evidence=(EvidenceRef("evidence/aws/x/global/s3/ListBuckets.json", "0" * 64),),
    )


def _results(specs: Iterable[Spec]) -> list[CheckResult]:
    out = []
    for s in specs:
        if len(s) == 3:
            out.append(result(s[0], s[1], s[2]))
        else:
            out.append(result(s[0], s[3], s[4], account=s[1], region=s[2]))
    return out


def controls_for(findings: Sequence[Finding]) -> list[ControlResult]:
    per: dict[str, Counter[str]] = {"ENC-01": Counter(), "ENC-02": Counter()}
    for f in findings:
        for cid in f.control_ids:
            per[cid][str(f.result.status)] += 1
    return [
        ControlResult(cid, f"title {cid}", ("CC6.1",), control_status(c), {str(s): c[s] for s in Status})
        for cid, c in per.items()
    ]


def build_run(
    output: Path,
    run_id: str,
    specs: Iterable[Spec] = ((S3, "bucket-a", "pass"), (S3, "bucket-b", "fail")),
    *,
    started_at: str | None = None,
    period: tuple[str, str] | None = ("2026-01-01", "2026-12-31"),
    results: Sequence[CheckResult] | None = None,
    status: str = "completed",
) -> Path:
    """A run on disk with the keys flows/run.py writes: evidence, findings, controls, catalog, workbook,
    then the manifest with the previous completed run's manifest hash."""
    previous = completed_runs(output)
    writer = RunWriter.create(output, run_id)
    evidence = []
    for op in ("ListBuckets", "GetBucketEncryption"):
        ref = writer.write_json(f"evidence/aws/{ACCOUNT}/global/s3/{op}.json", {"operation": op, "calls": [1, 2]})
        evidence.append({"path": ref.path, "sha256": ref.sha256, "operation": op, "account": ACCOUNT})
    started = started_at or datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    res = list(results) if results is not None else _results(specs)
    findings = [
        Finding(run_id, r, (CONTROL_OF[r.check_id],), ("CC6.1",), started)
        for r in sorted(res, key=lambda r: (r.check_id, r.account, r.region, r.resource_id))
    ]
    findings_ref = writer.write_findings(findings)
    controls_ref = writer.write_controls(controls_for(findings))
    catalog_ref = writer.write_raw(
        "catalog.yaml", resources.files("controls").joinpath("data/catalog.yaml").read_bytes()
    )
    workbook = writer.write_raw("Dexo.chat-SOC2-evidence.xlsx", b"PK\x03\x04 not really a workbook")
    manifest = {
        "schema": 1,
        "run_id": run_id,
        "status": status,
        "organization": "Dexo.chat",
        "started_at": started,
        "finished_at": started,
        "evaluated_at": started,
        "catalog": {"source": "built-in catalog", "path": catalog_ref.path, "sha256": catalog_ref.sha256},
        "evidence": evidence,
        "outputs": {
            "findings": findings_ref.to_json(),
            "controls": controls_ref.to_json(),
            "workbook": workbook.to_json(),
        },
        "previous_run": previous[-1].run_id if previous else None,
        "previous_manifest_sha256": previous[-1].manifest_sha256 if previous else None,
    }
    if period:
        manifest["period"] = {"start": period[0], "end": period[1]}
    writer.write_manifest(manifest)
    return writer.path


RUN1, RUN2, RUN3 = "20260301T000000Z-aaaaaa", "20260302T000000Z-bbbbbb", "20260303T000000Z-cccccc"
EVIDENCE = f"evidence/aws/{ACCOUNT}/global/s3/ListBuckets.json"


@pytest.fixture
def chain(tmp_path: Path) -> list[Path]:
    return [build_run(tmp_path, r) for r in (RUN1, RUN2, RUN3)]


def test_intact_run_is_ok_and_chain_links(chain: list[Path]) -> None:
    for run in chain:
        report = verify_run(run)
        assert report.ok, report.problems
        assert report.files_checked == 6  # 2 evidence, findings, controls, workbook, catalog
    assert json.loads((chain[1] / MANIFEST).read_text())["previous_run"] == RUN1
    assert any("matches the hash recorded by the next run" in n for n in verify_run(chain[0]).notes)
    assert any("no later run" in n for n in verify_run(chain[2]).notes)
    assert json.dumps(verify_run(chain[0]).to_json())


def test_tampered_evidence_is_reported_with_both_hashes(chain: list[Path]) -> None:
    path = chain[1] / EVIDENCE
    expected = sha256_file(path)
    path.write_text('{"operation": "ListBuckets", "calls": []}')
    report = verify_run(chain[1])
    assert not report.ok
    [problem] = report.problems
    assert problem.startswith(f"{EVIDENCE}: SHA-256 differs (manifest {expected[:12]}…, file {sha256_file(path)[:12]}…")


def test_deleted_evidence_and_outputs_are_missing(chain: list[Path]) -> None:
    (chain[1] / EVIDENCE).unlink()
    (chain[1] / "findings.jsonl").unlink()
    (chain[1] / "catalog.yaml").write_text("controls: []\n")
    problems = verify_run(chain[1]).problems
    assert f"{EVIDENCE}: missing" in problems
    assert "findings.jsonl: missing" in problems
    assert any(p.startswith("catalog.yaml: SHA-256 differs") for p in problems)


def test_tampered_workbook_and_controls(chain: list[Path]) -> None:
    (chain[0] / "Dexo.chat-SOC2-evidence.xlsx").write_bytes(b"PK edited")
    (chain[0] / "controls.json").write_text("[]")
    problems = verify_run(chain[0]).problems
    assert {p.split(":")[0] for p in problems} == {"Dexo.chat-SOC2-evidence.xlsx", "controls.json"}


def test_files_not_in_the_manifest_are_reported(chain: list[Path]) -> None:
    planted = chain[2] / "evidence" / "aws" / ACCOUNT / "global" / "s3" / "GetBucketPolicy.json"
    planted.write_text("{}")
    (chain[2] / ".findings.jsonl.x1.tmp").write_text("")
    report = verify_run(chain[2])
    assert report.extra_files == [".findings.jsonl.x1.tmp", f"evidence/aws/{ACCOUNT}/global/s3/GetBucketPolicy.json"]
    assert any("leftover temporary file" in p for p in report.problems)
    assert any("GetBucketPolicy.json: not in the manifest" in p for p in report.problems)


def test_edited_manifest_is_detected_by_the_next_runs_chain(chain: list[Path]) -> None:
    path = chain[0] / MANIFEST
    manifest = json.loads(path.read_text())
    manifest["organization"] = "Someone else"
    path.write_text(json.dumps(manifest, sort_keys=True, indent=1))
    # the edited run's files still match its (edited) manifest, but the next run recorded the old hash
    nxt = verify_run(chain[1])
    assert not nxt.ok
    assert any(p.startswith(f"manifest chain: previous run {RUN1}'s manifest hash differs") for p in nxt.problems)
    own = verify_run(chain[0])
    assert any(f"recorded by the next run {RUN2}" in p for p in own.problems)
    assert verify_run(chain[2]).ok  # run 3 chains to run 2, untouched


def test_manifest_that_does_not_parse(chain: list[Path]) -> None:
    (chain[1] / MANIFEST).write_text('{"run_id": "x", ')
    report = verify_run(chain[1])
    assert any("does not parse as JSON" in p for p in report.problems)
    assert any(f"recorded by the next run {RUN3}" in p for p in report.problems)
    # and run 3's chain points at a manifest whose hash changed
    assert any("manifest chain" in p for p in verify_run(chain[2]).problems)


def test_removed_previous_run_and_removed_manifest(chain: list[Path]) -> None:
    (chain[0] / MANIFEST).unlink()
    assert any(f"previous run {RUN1} has no manifest.json" in p for p in verify_run(chain[1]).problems)
    report = verify_run(chain[0])
    assert report.problems == ["manifest.json: missing (an incomplete run, or the manifest was removed)"]
    import shutil

    shutil.rmtree(chain[0])
    assert any(f"previous run {RUN1} not found" in p for p in verify_run(chain[1]).problems)


def test_paths_escaping_the_run_directory_are_refused(chain: list[Path]) -> None:
    path = chain[2] / MANIFEST
    manifest = json.loads(path.read_text())
    manifest["evidence"].append({"path": "../../../etc/passwd", "sha256": "0" * 64})
    path.write_text(json.dumps(manifest))
    assert "../../../etc/passwd: path outside the run directory" in verify_run(chain[2]).problems


def test_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(VerifyInputError):
        verify_run(tmp_path / "nope")
    with pytest.raises(VerifyInputError):
        verify_run(tmp_path)


def test_output_argument_locates_the_runs_folder(chain: list[Path], tmp_path: Path) -> None:
    assert verify_run(chain[1], output=tmp_path).ok
    assert not verify_run(chain[1], output=tmp_path / "elsewhere").ok  # previous run not found there


def test_exceptions_input_is_hash_checked_when_listed(tmp_path: Path) -> None:
    run = build_run(tmp_path, RUN1)
    (run / "exceptions.yaml").write_text("exceptions: []\n")
    assert not verify_run(run).ok  # not listed: extra file
    manifest = json.loads((run / MANIFEST).read_text())
    manifest["exceptions"] = {"path": "exceptions.yaml", "sha256": sha256_file(run / "exceptions.yaml")}
    (run / MANIFEST).write_text(json.dumps(manifest))
    assert verify_run(run).ok
    (run / "exceptions.yaml").write_text("exceptions: [{}]\n")
    assert [p.split(":")[0] for p in verify_run(run).problems] == ["exceptions.yaml"]


def _forked(tmp_path: Path) -> Path:
    """RUN2 and RUN3 both started after RUN1 and before either finished: both follow RUN1."""
    import shutil

    output, other = tmp_path / "out", tmp_path / "other"
    build_run(output, RUN1)
    shutil.copytree(output, other)
    build_run(output, RUN2)
    build_run(other, RUN3)
    shutil.copytree(other / "runs" / RUN3, output / "runs" / RUN3)
    return output


def test_verify_reports_a_chain_fork(tmp_path: Path) -> None:
    output = _forked(tmp_path)
    report = verify_run(output / "runs" / RUN1)
    assert any("hash chain forks after this run" in p and RUN2 in p and RUN3 in p for p in report.problems)
    assert not report.ok
    assert verify_run(output / "runs" / RUN2).ok  # each branch is intact on its own


def test_history_lists_a_chain_fork(tmp_path: Path) -> None:
    from reports.history import run_history

    history = run_history(_forked(tmp_path))
    assert [(f.previous_run, f.runs) for f in history.forks] == [(RUN1, (RUN2, RUN3))]
    assert history.to_json()["forks"] == [{"previous_run": RUN1, "runs": [RUN2, RUN3], "accounts_filter": None}]
    assert run_history(tmp_path / "other").forks == []


def test_runs_of_different_account_filters_are_separate_chains() -> None:
    from reports.history import chain_forks

    manifests = {
        RUN1: {"previous_run": None, "accounts_filter": None},
        RUN2: {"previous_run": None, "accounts_filter": ["111122223333"]},
        RUN3: {"previous_run": RUN1, "accounts_filter": None},
    }
    assert chain_forks(manifests) == []
    manifests[RUN3] = {"previous_run": None, "accounts_filter": None}
    assert [f.runs for f in chain_forks(manifests)] == [(RUN1, RUN3)]
