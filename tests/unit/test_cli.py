"""The command line: exit codes, messages, and the generated policy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from collectors.registry import checks
from flows.cli import main

GOOD = """\
organization: Dexo.chat
period: {start: 2026-01-01, end: 2026-12-31}
aws:
  accounts:
    - id: "111111111111"
      regions: [us-east-1]
"""


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("soc2-evidence")
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (GOOD.replace("us-east-1", "us-east-9"), "aws.accounts[0].regions[0]"),
        (GOOD.replace("end: 2026-12-31", "end: 2025-12-31"), "period"),
        (GOOD + "colour: blue\n", "colour"),
        (GOOD.replace("aws:", "aws: [\n"), "line"),
    ],
)
def test_bad_config_exits_2_with_one_message_and_no_traceback(tmp_path: Path, body: str, expected: str) -> None:
    cfg = tmp_path / "soc2-evidence.yaml"
    cfg.write_text(body)
    proc = _cli("run", "--config", str(cfg), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(cfg) in proc.stderr or "soc2-evidence.yaml" in proc.stderr
    assert expected in proc.stderr
    assert not (tmp_path / "soc2-evidence-output").exists(), "nothing is written for a bad config"


def test_missing_config_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_bad_user_catalog_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mine.yaml").write_text("controls:\n  - {id: X, title: t, criteria: [CC6.1], checks: [aws.nope]}\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(GOOD + "catalog: mine.yaml\n")
    assert main(["run", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "unknown check ID 'aws.nope'" in err and "mine.yaml" in err


def test_permissions_policy_covers_every_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["permissions"]) == 0
    policy = json.loads(capsys.readouterr().out)
    assert policy["Version"] == "2012-10-17"
    actions = set(policy["Statement"][0]["Action"])
    for chk in checks().values():
        if chk.spec.provider == "aws":
            assert set(chk.spec.permissions) <= actions, chk.spec.id
    # read-only: Get/List/Describe, plus two reads that AWS names otherwise
    reads = {"iam:GenerateCredentialReport", "apigateway:GET"}
    assert all(a.split(":")[1].startswith(("Get", "List", "Describe")) or a in reads for a in actions), actions
    assert main(["permissions", "--for", "management"]) == 0
    mgmt = json.loads(capsys.readouterr().out)
    assert {"organizations:ListAccounts", "sts:AssumeRole"} <= {a for s in mgmt["Statement"] for a in s["Action"]}


def test_controls_lists_controls_criteria_checks_and_gaps(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["controls"]) == 0
    out = capsys.readouterr().out
    assert "ENC-01" in out and "criterion CC6.1" in out and "check     aws.s3.default_encryption" in out
    assert "Criteria with no automated evidence" in out and "CC1.1" in out
    assert main(["controls", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "CC1.1" in data["criteria_without_automated_evidence"]


def test_evaluate_on_a_non_run_directory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "no manifest.json" in capsys.readouterr().err


def test_internal_failure_exits_1_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(GOOD)

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("disk on fire")

    from flows.preflight import Preflight

    monkeypatch.setattr("flows.preflight.run_preflight", lambda *a, **k: Preflight())  # no AWS here
    monkeypatch.setattr("flows.run.run_evidence", boom)
    assert main(["run", "--config", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: disk on fire" in err and "Traceback" not in err


def test_checks_lists_metadata_and_default_thresholds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["checks", "--format", "json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == set(checks())
    assert rows["aws.s3.default_encryption"]["thresholds"]["require_kms"] is False
    assert all(r["remediation"] and (r["permissions"] or r["id"].startswith("endpoint.")) for r in rows.values())
    assert main(["checks"]) == 0
    assert "aws.kms.key_rotation  [medium]" in capsys.readouterr().out


def test_permissions_for_gcp_lists_the_gcp_checks_permissions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["permissions", "--for", "gcp"]) == 0
    role = json.loads(capsys.readouterr().out)
    assert role["includedPermissions"] == [
        "iam.serviceAccountKeys.list",
        "iam.serviceAccounts.list",
        "resourcemanager.folders.getIamPolicy",
        "resourcemanager.organizations.getIamPolicy",
        "resourcemanager.projects.get",
        "resourcemanager.projects.getIamPolicy",
        "storage.buckets.getIamPolicy",
        "storage.buckets.list",
    ]
    assert role["predefinedAlternative"] == "roles/iam.securityReviewer"
