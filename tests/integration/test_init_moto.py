"""`soc2-evidence init` against moto's server: an organization with accounts (one suspended) gives
a config that loads, discovers with the role and lists the enabled regions; preflight accepts it;
an existing file is never replaced without --force; no credentials exit 2 with one message and
no traceback (a subprocess, as an operator runs it); denied calls still write a file that says
which permission was missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from collectors.aws.scope import region_partition
from demo.emulators import MotoEmulator
from demo.moto_wsgi import FaultRule
from flows.cli import main
from flows.config import load_config
from flows.init_cli import ENV_CREDENTIALS
from flows.preflight import run_preflight

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def org():
    """moto with an organization: the caller's management account, prod, staging and a closed (SUSPENDED) one.
    No Prefect server: init runs no flow."""
    with MotoEmulator() as moto, moto.use_env():
        moto.reset()  # moto's state is per process: other tests may have seeded it
        client = boto3.client("organizations")
        client.create_organization(FeatureSet="ALL")
        ids = {}
        for name in ("prod", "staging", "legacy"):
            status = client.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
            ids[name] = status["AccountId"]
        client.close_account(AccountId=ids["legacy"])
        yield moto, ids
        moto.clear_faults()
        moto.reset()


def _enabled_regions() -> list[str]:
    """moto's enabled regions of the aws partition (it also lists aws-cn and aws-us-gov ones)."""
    answer = boto3.client("ec2").describe_regions(AllRegions=True)["Regions"]
    enabled = (r["RegionName"] for r in answer if r.get("OptInStatus") in ("opt-in-not-required", "opted-in"))
    return sorted(r for r in enabled if region_partition(r) == "aws")


def _prose(text: str) -> str:
    comments = (line.strip().removeprefix("#") for line in text.splitlines() if line.strip().startswith("#"))
    return " ".join(" ".join(comments).split())


def test_init_in_an_organization_writes_a_config_that_loads_and_passes_preflight(
    org, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, ids = org
    target = tmp_path / "soc2-evidence.yaml"
    assert main(["init", "--config", str(target)]) == 0
    out = capsys.readouterr().out
    cfg = load_config(target)
    assert cfg.aws.organization.discover is True and cfg.aws.organization.role_name == "soc2-evidence-reader"
    assert cfg.aws.regions is None and cfg.aws.accounts == ()
    assert cfg.organization == "master"  # moto's name for the management account
    text = target.read_text()
    enabled = _enabled_regions()
    assert len(enabled) >= 17
    assert f"Enabled in account 123456789012 now ({len(enabled)}): {', '.join(enabled)}" in _prose(text)
    for name in ("prod", "staging"):
        assert any(ids[name] in line and name in line and "ACTIVE" in line for line in text.splitlines())
    assert any(ids["legacy"] in line and "SUSPENDED: skipped" in line for line in text.splitlines())
    assert f"Wrote {target}" in out and "4 account(s), 3 active, 1 not active" in out
    assert f"soc2-evidence run --config {target}" in out
    # the generated config is what a run starts from: its preflight enters every ACTIVE account
    result = run_preflight(cfg)
    assert result.ok, result.message()


def test_an_existing_file_is_not_replaced_without_force(
    org, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "soc2-evidence.yaml"
    target.write_text("organization: my own config\n")
    assert main(["init", "--output", str(target)]) == 2
    assert "already exists: not replaced (use --force" in capsys.readouterr().err
    assert target.read_text() == "organization: my own config\n"
    assert main(["init", "--output", str(target), "--force"]) == 0
    assert load_config(target).aws.organization.discover is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["soc2-evidence.yaml"]  # no temporary file left


def test_denied_calls_still_write_a_file_naming_the_missing_permissions(
    org, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    moto, _ = org
    moto.add_fault(FaultRule("ListAccounts", service="organizations", code="AccessDeniedException", status=400))
    moto.add_fault(FaultRule("DescribeRegions", service="ec2", code="UnauthorizedOperation"))
    try:
        target = tmp_path / "denied.yaml"
        assert main(["init", "-o", str(target)]) == 0
    finally:
        moto.clear_faults()
    out = capsys.readouterr().out
    cfg = load_config(target)
    assert [a.id for a in cfg.aws.accounts] == ["123456789012"] and cfg.aws.organization.discover is False
    prose = _prose(target.read_text())
    assert "is the management account of organization" in prose
    assert "organizations:ListAccounts failed (AccessDeniedException" in prose
    assert "NOTE: ec2:DescribeRegions failed (UnauthorizedOperation" in prose
    assert "NOTE: organizations:ListAccounts failed" in out and "NOTE: ec2:DescribeRegions failed" in out


def test_a_missing_profile_exits_2_with_one_message(org, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "soc2-evidence.yaml"
    saved = {k: os.environ.get(k) for k in (*ENV_CREDENTIALS, "AWS_PROFILE")}  # --profile drops the keys
    try:
        assert main(["init", "-o", str(target), "--profile", "no-such-profile"]) == 2
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    err = capsys.readouterr().err
    assert "AWS profile 'no-such-profile' does not exist" in err and "Traceback" not in err
    assert not target.exists()


def test_no_credentials_exit_2_with_one_message_and_no_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
        AWS_CONFIG_FILE="/nonexistent",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_DEFAULT_REGION="us-east-1",
    )
    target = tmp_path / "soc2-evidence.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "init", "--output", str(target)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "error: cannot write a config from your AWS identity: no AWS credentials" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert not target.exists()
