"""Region scope through the real flow on moto: a discovered account with resources outside
aws.regions fails aws.scope.region_coverage for that region; a denied DescribeRegions is an
`error` naming ec2:DescribeRegions and the run states the regions it examined instead.

Runs are restricted to the staging account (run_evidence accounts=) to keep them short.
"""

from __future__ import annotations

import boto3
import pytest
from openpyxl import load_workbook

from demo.emulators import MotoEmulator
from demo.estate import DemoEstate, seed_demo_estate
from demo.moto_wsgi import FaultRule
from demo.run import write_demo_config
from flows.evaluate import reevaluate
from flows.regions import DEFAULT_ENABLED_REGIONS
from flows.run import run_evidence

pytestmark = pytest.mark.integration

CHECK = "aws.scope.region_coverage"


@pytest.fixture(scope="module")
def estate(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory):
    with MotoEmulator() as moto, moto.use_env():
        moto.reset()  # moto's state is per process: other tests may have seeded it
        yield moto, seed_demo_estate(moto.endpoint_url), tmp_path_factory.mktemp("regions")
        moto.reset()


def _staging_volumes(moto: MotoEmulator, demo: DemoEstate, region: str) -> list[str]:
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=moto.endpoint_url)
    creds = sts.assume_role(RoleArn=demo.role_arn("staging"), RoleSessionName="test")["Credentials"]
    ec2 = boto3.client(
        "ec2",
        region_name=region,
        endpoint_url=moto.endpoint_url,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    return [v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]]


def test_resources_in_a_region_outside_aws_regions_fail_region_coverage(estate) -> None:
    moto, demo, out = estate
    staging = demo.accounts["staging"]
    assert _staging_volumes(moto, demo, "eu-west-1"), "the demo estate keeps staging volumes in eu-west-1"
    outcome = run_evidence(
        write_demo_config(demo, out / "us-only", regions=["us-east-1"], workload_regions_only=True), accounts=[staging]
    )

    coverage = {f.result.region: f.result for f in outcome.findings if f.result.check_id == CHECK}
    assert str(coverage["eu-west-1"].status) == "fail"
    assert (
        "eu-west-1" in coverage["eu-west-1"].reason and "not in the configured regions" in coverage["eu-west-1"].reason
    )
    assert str(coverage["us-east-1"].status) == "pass"
    # the demo's exclusions (every region without workloads, with its reason) still pass
    assert str(coverage["ap-northeast-1"].status) == "pass" and "excluded" in coverage["ap-northeast-1"].reason
    # no regional collector ran in eu-west-1: the region's volumes, databases and tables produced no finding
    # (S3 is listed account-wide and files each bucket under its own region: not a regional collector)
    regional = ("aws.ebs.", "aws.rds.", "aws.dynamodb.")
    assert not [
        f for f in outcome.findings if f.result.region == "eu-west-1" and f.result.check_id.startswith(regional)
    ]
    assert [f for f in outcome.findings if f.result.region == "us-east-1" and f.result.check_id.startswith(regional)]

    (account,) = outcome.manifest["scope"]["aws_accounts"]
    assert account["regions"] == ["us-east-1"] and account["regions_basis"] == "configured"
    skipped = {s["region"]: s["why"] for s in account["regions_not_examined"]}
    assert skipped["eu-west-1"] == "not in the configured regions"

    cover = [tuple(str(c) for c in row) for row in load_workbook(outcome.workbook)["Cover"].iter_rows(values_only=True)]
    not_configured = [
        row[2] for row in cover if row[1].startswith(f"Account {staging}: not examined") and "configured" in row[2]
    ]
    assert len(not_configured) == 1 and "eu-west-1" in not_configured[0].split(": ")[0].split(", ")

    again = reevaluate(outcome.run_dir)  # the verdict derives from the stored evidence alone
    assert again.identical, again.differences + again.problems


def test_denied_describe_regions_is_error_and_states_the_regions_examined(estate) -> None:
    moto, demo, out = estate
    staging = demo.accounts["staging"]
    moto.add_fault(FaultRule("DescribeRegions", code="UnauthorizedOperation", service="ec2"))
    moto.add_fault(FaultRule("ListRegions", code="AccessDeniedException", status=403, service="account"))
    try:
        outcome = run_evidence(write_demo_config(demo, out / "denied", workload_regions_only=True), accounts=[staging])
    finally:
        moto.clear_faults()

    (result,) = [f.result for f in outcome.findings if f.result.check_id == CHECK]
    assert str(result.status) == "error"
    assert result.observed["missing_permission"] == "ec2:DescribeRegions"
    assert result.observed["regions_basis"] == "fallback"
    # the regions every account has enabled by default, minus the config's exclusions: never us-east-1 alone
    excluded = {e["region"] for e in outcome.manifest["config"]["aws"]["exclude_regions"]}
    fallback = [r for r in DEFAULT_ENABLED_REGIONS if r not in excluded]
    assert fallback == ["eu-west-1", "us-east-1"]
    assert result.observed["regions_examined"] == fallback
    assert "examined instead: eu-west-1, us-east-1" in result.reason
    (account,) = outcome.manifest["scope"]["aws_accounts"]
    assert account["regions"] == fallback and account["regions_basis"] == "fallback"
    assert account["regions_discovery_error"].startswith("ec2:DescribeRegions: UnauthorizedOperation")
    ebs = {f.result.region for f in outcome.findings if f.result.check_id == "aws.ebs.default_encryption"}
    assert ebs == set(fallback)
    assert reevaluate(outcome.run_dir).identical


def test_permissions_policy_names_describe_regions() -> None:
    from flows.permissions import aws_actions

    assert {"ec2:DescribeRegions", "account:ListRegions"} <= set(aws_actions())


def test_denied_describe_regions_takes_the_enabled_regions_from_list_regions(estate) -> None:
    """The Account API still answers: every enabled region is known, examined or excluded, no error."""
    moto, demo, out = estate
    staging = demo.accounts["staging"]
    moto.add_fault(FaultRule("DescribeRegions", code="UnauthorizedOperation", service="ec2"))
    try:
        outcome = run_evidence(write_demo_config(demo, out / "listed", workload_regions_only=True), accounts=[staging])
    finally:
        moto.clear_faults()

    results = [f.result for f in outcome.findings if f.result.check_id == CHECK]
    assert {str(r.status) for r in results} == {"pass"}
    (account,) = outcome.manifest["scope"]["aws_accounts"]
    assert account["regions_basis"] == "enabled" and "account:ListRegions" in account["regions_note"]
    assert account["regions_discovery_error"].startswith("ec2:DescribeRegions: UnauthorizedOperation")
    assert {r.resource_id for r in results} == set(account["regions_enabled"])
    assert {r.observed["enabled_regions_from"] for r in results} == {
        "account:ListRegions (ec2:DescribeRegions UnauthorizedOperation)"
    }
    assert set(account["regions"]) == {"eu-west-1", "us-east-1"}  # the rest excluded with reasons
    assert reevaluate(outcome.run_dir).identical
