"""`soc2-evidence run` exit codes against moto (issue 12): preflight, exit 3, partial runs.

One unassumable account among good ones: preflight warns up front, the run completes with
exit 3, the other account's findings are complete, the manifest says `assessment: partial`,
and the next run chains after it but compares its drift with the last complete run. No
account enterable at all: exit 2 from preflight, nothing collected. Faults come from the
emulator's FaultRule (an AccessDenied answer to AssumeRole for one role)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from demo.emulators import MotoEmulator
from demo.estate import DemoEstate, seed_demo_estate
from demo.moto_wsgi import FaultRule
from flows.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def estate(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory):
    with MotoEmulator() as moto, moto.use_env():
        moto.reset()  # moto's state is per process: other tests may have seeded it
        yield moto, seed_demo_estate(moto.endpoint_url), tmp_path_factory.mktemp("exit-codes")
        moto.reset()


def _config(demo: DemoEstate, out: Path) -> Path:
    """Two member accounts entered through their roles, one region: a small, fast run."""
    body = {
        "organization": demo.organization,
        "period": {"start": "2026-01-01", "end": "2026-12-31"},
        "aws": {
            "regions": ["us-east-1"],
            "accounts": [
                {"id": demo.accounts[key], "name": key, "role_arn": demo.role_arn(key)} for key in ("prod", "staging")
            ],
        },
        "output": str(out / "output"),
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / "soc2-evidence.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def _run(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["run", "--config", str(config)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _run_with_fault(
    moto: MotoEmulator, rule: FaultRule, config: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """A run while the emulator answers `rule`'s fault; the fault is gone afterwards, whatever happens."""
    moto.add_fault(rule)
    try:
        return _run(config, capsys)
    finally:
        moto.clear_faults()


def _latest_manifest(config: Path) -> dict[str, Any]:
    runs = sorted((config.parent / "output" / "runs").iterdir())
    return json.loads((runs[-1] / "manifest.json").read_text())


def _findings(manifest: dict[str, Any], config: Path) -> list[dict[str, Any]]:
    path = config.parent / "output" / "runs" / manifest["run_id"] / "findings.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_one_unassumable_account_exits_3_and_the_partial_run_is_never_a_baseline(
    estate, capsys: pytest.CaptureFixture[str]
) -> None:
    moto, demo, out = estate
    config = _config(demo, out / "partial")
    prod, staging = demo.accounts["prod"], demo.accounts["staging"]

    code, _, err = _run(config, capsys)
    assert code == 0, err
    clean = _latest_manifest(config)
    assert clean["assessment"] == "complete" and clean["unassessed"] == []

    code, _, err = _run_with_fault(moto, FaultRule("AssumeRole", match=demo.role_arn("staging")), config, capsys)
    assert code == 3, err
    assert f"warning: AWS account {staging} (staging) cannot be entered" in err  # preflight, up front
    assert err.index("cannot be entered") < err.index("run incomplete")
    partial = _latest_manifest(config)
    assert partial["status"] == "completed" and partial["assessment"] == "partial"
    assert [(u["provider"], u["account"]) for u in partial["unassessed"]] == [("aws", staging)]
    assert "AccessDenied" in partial["unassessed"][0]["reason"] or "injected" in partial["unassessed"][0]["reason"]
    assert partial["previous_run"] == clean["run_id"]

    def population(manifest: dict[str, Any], account: str) -> set[tuple[str, str, str]]:
        return {
            (f["check_id"], f["resource_id"], f["status"])
            for f in _findings(manifest, config)
            if f["account"] == account and f["provider"] == "aws"
        }

    assert population(partial, prod) == population(clean, prod) != set()  # the good account: complete
    assert {s for _, _, s in population(partial, staging)} == {"error"}

    code, _, err = _run(config, capsys)
    assert code == 0, err
    after = _latest_manifest(config)
    assert after["previous_run"] == partial["run_id"]  # chained through the partial run
    assert after["drift_baseline"] == clean["run_id"]  # but compared with the last complete one
    drift = json.loads((config.parent / "output" / "runs" / after["run_id"] / "drift.json").read_text())
    assert drift["from_run"] == clean["run_id"]

    assert main(["verify", str(config.parent / "output" / "runs" / partial["run_id"])]) == 0
    assert main(["history", "--config", str(config)]) == 0
    history = capsys.readouterr().out
    assert "PARTIAL, not assessed: aws " + staging in history


def test_no_account_can_be_entered_exits_2_from_preflight(estate, capsys: pytest.CaptureFixture[str]) -> None:
    moto, demo, out = estate
    config = _config(demo, out / "none")
    code, _, err = _run_with_fault(moto, FaultRule("AssumeRole"), config, capsys)
    assert code == 2
    assert err.startswith("error: preflight failed:") and "no AWS account can be entered" in err
    assert demo.accounts["prod"] in err and demo.accounts["staging"] in err and "trust polic" in err
    assert not (out / "none" / "output" / "runs").exists()


def test_identity_center_in_an_account_out_of_scope_warns_and_is_error_never_omitted(
    estate, capsys: pytest.CaptureFixture[str]
) -> None:
    _, demo, out = estate
    config = _config(demo, out / "sso-out-of-scope")
    body = yaml.safe_load(config.read_text())
    management = demo.accounts["management"]  # administers Identity Center, but only prod and staging are in scope
    body["aws"]["identity_center"] = {"account": management, "region": "us-east-1"}
    config.write_text(yaml.safe_dump(body))
    code, _, err = _run(config, capsys)
    assert code == 3, err
    assert f"warning: aws.identity_center.account {management} is not an account in scope" in err
    manifest = _latest_manifest(config)
    assert [(u["provider"], u["account"]) for u in manifest["unassessed"]] == [("aws", management)]
    sso = [f for f in _findings(manifest, config) if f["check_id"].startswith("aws.sso.")]
    assert {(f["account"], f["status"], f["observed"]["error_code"]) for f in sso} == {
        (management, "error", "NotInScope")
    }
    assert len(sso) == 3 and all("aws.identity_center.account" in f["observed"]["message"] for f in sso)


def test_progress_ends_at_the_runs_own_counts(
    estate, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The console's last progress line must agree with the run summary and the manifest: every
    # scope (region plans and the unentered account's errors included) and every API call
    # (organization discovery and identification included).
    import flows.run as run_module

    made: list[run_module.RunProgress] = []

    class Recorded(run_module.RunProgress):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(run_module, "RunProgress", Recorded)
    moto, demo, out = estate
    config = _config(demo, out / "progress")
    code, _, err = _run_with_fault(moto, FaultRule("AssumeRole", match=demo.role_arn("staging")), config, capsys)
    assert code == 3, err
    manifest = _latest_manifest(config)
    snap = made[-1].snapshot()
    assert snap.done == snap.total == len(manifest["collectors"]) > 0
    assert snap.api_calls == manifest["api_calls"] > 0
    staging = [f for f in _findings(manifest, config) if f["account"] == demo.accounts["staging"]]
    assert snap.errors >= len(staging) > 0  # the unentered account's scopes are counted as errors
