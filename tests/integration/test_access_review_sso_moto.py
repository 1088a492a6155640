"""An access review with IAM Identity Center rows, end to end on moto (MotoEmulator + the demo estate):

issue it (Identity Center rows beside IAM users), complete it with one Identity Center path marked Revoke,
print its revocation command, run the evidence flow (access_review.revocations_done fails: the path is
still there, grace 0 days), carry out the printed revocation, run again (it passes). Also: Identity Center
unreadable (AccessDenied on ListInstances) issues a review that states its population is incomplete.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook

from demo.emulators import MotoEmulator
from demo.estate import seed_demo_estate
from demo.moto_wsgi import FaultRule
from demo.run import write_demo_config
from demo.seeding import Account
from flows.access_review import complete, print_revocations, start
from flows.access_review.sso_population import SSO_USER
from flows.config import load_config
from flows.run import run_evidence
from reports.access_review import HEADERS, SHEET
from reports.access_review_gaps import GAPS_SHEET

pytestmark = pytest.mark.integration
CHECK = "access_review.revocations_done"


@pytest.fixture(scope="module")
def demo(prefect_harness: None):
    with MotoEmulator() as moto, moto.use_env():
        moto.reset()
        yield moto, seed_demo_estate(moto.endpoint_url)
        moto.reset()


def _config(estate, folder: Path) -> Path:
    path = write_demo_config(estate, folder, workload_regions_only=True)
    config = yaml.safe_load(path.read_text())
    config["thresholds"]["access_review.revocations_done"] = {"grace_days": 0}  # due at completion
    path.write_text(yaml.safe_dump(config))
    return path


def _decide(workbook: Path, revoke_arn: str, out: Path) -> Path:
    wb = load_workbook(workbook)
    ws = wb[SHEET]
    col = {h: HEADERS.index(h) + 1 for h in HEADERS}
    for r in range(2, ws.max_row + 1):
        revoke = ws.cell(r, col["ARN"]).value == revoke_arn
        ws.cell(r, col["Decision"]).value = "Revoke" if revoke else "Keep"
        ws.cell(r, col["Reviewer"]).value = "carla.ciso@dexo.chat"
        ws.cell(r, col["Reviewed on"]).value = datetime.now(UTC).replace(tzinfo=None)
        ws.cell(r, col["Justification"]).value = "left the company" if revoke else None
    wb.save(out)
    return out


def _revocation_results(config: Path, account: str):
    outcome = run_evidence(config)
    return [f.result for f in outcome.findings if f.result.check_id == CHECK and f.result.account == account]


def test_revoked_identity_center_path_fails_until_removed_then_passes(demo, tmp_path):
    moto, estate = demo
    ic = estate.expected["identity_center"]
    config = _config(estate, tmp_path)
    issued = start(load_config(config))
    review = json.loads((issued.review_dir / "review.json").read_text())
    assert review["population_complete"] is True and review["gaps"] == []
    types = {p.principal_type for p in issued.principals}
    assert {"IAM user", SSO_USER} <= types  # Identity Center rows beside IAM users
    rows = [p for p in issued.principals if p.principal_type == SSO_USER]
    prod = estate.accounts["prod"]
    assert {(p.account, p.name, p.groups) for p in rows} >= {
        (prod, "omar.oncall@dexo.chat", "Developers"),
        (prod, "nina.contractor@dexo.chat", ""),
        (estate.accounts["staging"], "maya.admin@dexo.chat", "PlatformAdmins"),
    }
    omar = next(p for p in rows if p.name == "omar.oncall@dexo.chat" and p.account == prod)
    assert omar.privileged == "yes" and "DISABLED" in omar.console_access

    done = complete(_decide(issued.workbook, omar.arn, tmp_path / "done.xlsx"))
    (revocation,) = done.revocations
    printed = "\n".join(print_revocations(done.revocations))
    assert "aws identitystore delete-group-membership --region us-east-1" in printed
    assert "or: aws sso-admin delete-account-assignment" in printed and "--principal-type GROUP" in printed

    (before,) = _revocation_results(config, ic["account"])
    assert before.status == "fail" and before.resource_id == omar.arn and "still present" in before.reason
    assert not [r for r in _revocation_results(config, prod) if r.status == "pass"]  # never judged by prod's IAM

    # carry out the printed command (aws identitystore delete-group-membership --membership-id ...)
    path = revocation["identity_center"]
    assert f"--membership-id {path['membership_id']}" in revocation["action"]
    store = Account("management", ic["account"], moto.endpoint_url).client("identitystore", ic["region"])
    store.delete_group_membership(IdentityStoreId=path["identity_store_id"], MembershipId=path["membership_id"])

    (after,) = _revocation_results(config, ic["account"])
    assert after.status == "pass" and after.observed["present"] is False


def test_unreadable_identity_center_issues_a_review_marked_incomplete(demo, tmp_path):
    moto, estate = demo
    moto.add_fault(FaultRule("ListInstances", code="AccessDeniedException", status=400))
    try:
        issued = start(load_config(_config(estate, tmp_path)))
    finally:
        moto.clear_faults()
    review = json.loads((issued.review_dir / "review.json").read_text())
    assert review["population_complete"] is False
    assert "sso-admin:ListInstances failed: AccessDeniedException" in review["gaps"][0]
    assert "(needs sso:ListInstances)" in review["gaps"][0]
    assert not [p for p in issued.principals if p.principal_type == SSO_USER]
    assert [p for p in issued.principals if p.principal_type == "IAM user"]  # the rest is still reviewed
    wb = load_workbook(issued.workbook)
    assert wb.sheetnames[0] == GAPS_SHEET and "INCOMPLETE POPULATION" in wb[GAPS_SHEET]["A1"].value
