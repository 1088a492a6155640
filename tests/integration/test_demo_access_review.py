"""`make demo` end to end (demo.run.run_demo), the one test that runs the demo as shipped: every enabled
region of every account. The run examines every enabled region but the two excluded with their reasons,
and says so in the manifest, on the Cover and in aws.scope.region_coverage; it assesses Identity Center
and GCP IAM without an error, and the access review it issues holds Identity Center rows and GCP project
IAM rows beside IAM users, with a complete population.

(Other tests on the demo estate pin `workload_regions_only=True`, the two regions with workloads, to keep
their time down.)"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend
from openpyxl import load_workbook

from demo.run import DEMO_EXCLUDED_REGIONS, DEMO_REGIONS, run_demo

pytestmark = pytest.mark.integration

EXCLUDED = {e["region"]: e["reason"] for e in DEMO_EXCLUDED_REGIONS}
ENABLED = sorted(RegionsAndZonesBackend.regions_opt_in_not_required)  # what moto's DescribeRegions enables


@pytest.fixture(scope="module")
def demo(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory):
    return run_demo(tmp_path_factory.mktemp("demo") / "demo-output")


def test_demo_examines_every_enabled_region_of_every_account_but_the_two_excluded(demo) -> None:
    outcome, _review = demo
    assert len(ENABLED) == 20 and set(EXCLUDED) < set(ENABLED) and set(DEMO_REGIONS) < set(ENABLED)
    examined = [r for r in ENABLED if r not in EXCLUDED]
    assert not [f.result for f in outcome.findings if f.result.status == "error"]

    accounts = outcome.manifest["scope"]["aws_accounts"]
    assert len(accounts) == 3
    cover = [tuple(str(c) for c in row) for row in load_workbook(outcome.workbook)["Cover"].iter_rows(values_only=True)]
    for account in accounts:
        aid = account["id"]
        # manifest: the enabled regions, those examined, and the two not examined with their reasons
        assert account["regions_basis"] == "enabled" and account["regions_enabled"] == ENABLED
        assert account["regions"] == examined
        assert {n["region"]: n["why"] for n in account["regions_not_examined"]} == {
            r: f"excluded: {why}" for r, why in EXCLUDED.items()
        }
        # Cover: one row names the 18 examined, one row per exclusion names the region and its reason
        rows = {row[1]: row[2] for row in cover if row[0] == "Regions" and row[1].startswith(f"Account {aid}:")}
        assert rows[f"Account {aid}: examined ({len(examined)})"].split(" — ")[0].split(", ") == examined
        not_examined = [row[2] for row in cover if row[0] == "Regions" and row[1] == f"Account {aid}: not examined"]
        assert sorted(not_examined) == sorted(f"{r}: excluded: {why}" for r, why in EXCLUDED.items())
        # aws.scope.region_coverage: one result per enabled region, none failing
        coverage = {
            f.result.region: f.result
            for f in outcome.findings
            if f.result.check_id == "aws.scope.region_coverage" and f.result.account == aid
        }
        assert sorted(coverage) == ENABLED
        assert {str(r.status) for r in coverage.values()} == {"pass"}
        assert [r for r in ENABLED if coverage[r].observed["examined"]] == examined
        for region, why in EXCLUDED.items():
            assert why in coverage[region].reason
        # the regional collectors ran in a region without workloads too
        ebs = {
            f.result.region
            for f in outcome.findings
            if f.result.check_id == "aws.ebs.default_encryption" and f.result.account == aid
        }
        assert "ap-northeast-1" in ebs and not set(EXCLUDED) & ebs
    # what the console prints at the end of the run, from the same manifest
    stored = json.loads((Path(outcome.run_dir) / "manifest.json").read_text())
    assert [a["regions"] for a in stored["scope"]["aws_accounts"]] == [examined] * 3


def test_demo_issues_a_review_with_identity_center_and_gcp_iam_rows(demo) -> None:
    outcome, review = demo
    kinds = Counter(p.principal_type for p in review.principals)
    assert kinds["IAM user"] > 0 and kinds["Identity Center user"] > 0 and kinds["GCP IAM member"] > 0
    stored = json.loads((review.review_dir / "review.json").read_text())
    assert stored["population_complete"] is True and stored["projects"] == ["dexo-prod", "dexo-analytics"]
    sso_gcp = [f.result for f in outcome.findings if f.result.check_id.startswith(("aws.sso.", "gcp.iam."))]
    assert {r.check_id for r in sso_gcp} == {
        "aws.sso.privileged_permission_sets",
        "aws.sso.assignments_to_users",
        "aws.sso.inactive_principals",
        "gcp.iam.primitive_roles",
        "gcp.iam.public_bindings",
        "gcp.iam.service_account_keys",
    }
    assert not [r.reason for r in sso_gcp if r.status == "error"]
    failing = {(r.check_id, r.resource_id) for r in sso_gcp if r.status == "fail"}
    assert ("gcp.iam.public_bindings", "projects/dexo-analytics roles/viewer allAuthenticatedUsers") in failing
    assert any(c == "aws.sso.privileged_permission_sets" for c, _ in failing)  # DeveloperAccess, * on *
