"""aws.scope.region_coverage on recorded DescribeRegions / ListRegions answers, and the region plan.

The plan (flows.regions.decide) and its decision record are built here exactly as the flow builds
them, so each branch of the check is exercised on the evidence a run would store.
"""

from __future__ import annotations

from typing import Any

from collectors.aws.scope import TOOL_SERVICE, enabled_from_listing, enabled_regions, region_partition
from collectors.evidence import ApiCall, EvidenceBundle
from controls import Status
from flows.accounts import AccountTarget
from flows.regions import DEFAULT_ENABLED_REGIONS, RegionPlan, decide, decision_record, summary_lines
from reports.workbook.regions import account_line, region_rows
from tests.helpers import ACCOUNT, Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

CHECK = "aws.scope.region_coverage"
SCOPE = scope("aws.scope", region="global")
REGIONS = fixture("aws/scope/describe_regions_all.json")
LIST = fixture("aws/scope/list_regions.json")
ENABLED = ("ap-south-1", "eu-south-2", "eu-west-1", "us-east-1", "us-west-2")
MISSING = object()


def target(regions: tuple[str, ...] = ()) -> AccountTarget:
    return AccountTarget(ACCOUNT, "prod", None, regions, "config")


def scope_bundle(
    *,
    configured: tuple[str, ...] = (),
    excluded: dict[str, str] | None = None,
    describe: Any = REGIONS,
    listing: Any = LIST,
    decision: bool = True,
) -> tuple[EvidenceBundle, RegionPlan]:
    """The aws.scope evidence of one account, with the run's decision recorded as the flow does."""
    calls: list[tuple[str, str, dict[str, Any], Any]] = []
    if describe is not MISSING:
        calls.append(("ec2", "DescribeRegions", {"AllRegions": True}, describe))
    if listing is not MISSING:
        calls.append(("account", "ListRegions", {"MaxResults": 50}, listing))
    bundle = bundle_from_calls(SCOPE, calls, with_refs=False)
    t = target(configured)
    answer = bundle.all("ec2", "DescribeRegions")
    listing = enabled_from_listing(bundle, "aws") if answer else None  # as flows.regions.plan_account
    plan = decide(t, "aws", excluded or {}, answer[0] if answer else None, listing)
    if decision:
        record = decision_record(plan, t, "aws", excluded or {})
        recorded = [("soc2-evidence", "RegionScope", record.params, record.response)]
        for call in bundle.calls.values():
            recorded += [(c.service, c.operation, c.params, c.response if c.ok else c.error) for c in call]
        bundle = bundle_from_calls(SCOPE, recorded)
    return bundle, plan


def test_every_enabled_region_is_examined_by_default_and_passes():
    bundle, plan = scope_bundle()
    assert plan.basis == "enabled"
    assert plan.examined == ENABLED  # not-opted-in and another partition's regions left out
    results = by_resource(run_check(CHECK, bundle))
    assert set(results) == set(ENABLED)
    assert all(r.status == Status.PASS for r in results.values())
    eu = results["eu-south-2"]
    assert eu.region == "eu-south-2"
    assert eu.resource_type == "AWS::Region"
    assert eu.observed["opt_in_status"] == "opted-in"
    assert eu.observed["account_region_opt_status"] == "ENABLED"
    assert eu.observed["examined"] is True
    assert ref_ops(eu) == {"ec2.DescribeRegions", "account.ListRegions", "soc2-evidence.RegionScope"}


def test_excluded_region_passes_with_its_reason_and_is_not_examined():
    bundle, plan = scope_bundle(excluded={"ap-south-1": "No workloads; SCP denies it"})
    assert "ap-south-1" not in plan.examined
    assert plan.not_examined == (("ap-south-1", "excluded: No workloads; SCP denies it"),)
    result = by_resource(run_check(CHECK, bundle))["ap-south-1"]
    assert result.status == Status.PASS
    assert result.observed["examined"] is False
    assert result.observed["excluded_reason"] == "No workloads; SCP denies it"
    assert "No workloads" in result.reason


def test_enabled_region_outside_the_configured_list_fails_naming_it():
    bundle, plan = scope_bundle(configured=("us-east-1", "eu-west-1"), excluded={"ap-south-1": "unused"})
    assert plan.basis == "configured"
    assert dict(plan.not_examined) == {
        "ap-south-1": "excluded: unused",
        "eu-south-2": "not in the configured regions",
        "us-west-2": "not in the configured regions",
    }
    results = by_resource(run_check(CHECK, bundle))
    assert {k for k, r in results.items() if r.status == Status.FAIL} == {"eu-south-2", "us-west-2"}
    assert results["ap-south-1"].status == Status.PASS
    failed = results["us-west-2"]
    assert "us-west-2" in failed.reason and "not in the configured regions" in failed.reason
    assert failed.observed["configured_regions"] == ["us-east-1", "eu-west-1"]


def test_configured_region_that_is_not_enabled_is_listed_not_applicable():
    bundle, _ = scope_bundle(configured=(*ENABLED, "me-south-1"))
    results = by_resource(run_check(CHECK, bundle))
    assert results["me-south-1"].status == Status.NOT_APPLICABLE
    assert "not enabled" in results["me-south-1"].reason
    assert all(results[r].status == Status.PASS for r in ENABLED)


def test_describe_regions_denied_is_an_error_naming_the_permission_and_the_regions_used():
    bundle, plan = scope_bundle(
        describe=Fail("UnauthorizedOperation"), listing=Fail("AccessDeniedException"), excluded={"eu-west-2": "unused"}
    )
    assert plan.basis == "fallback"
    assert "eu-west-2" not in plan.examined and "us-east-1" in plan.examined
    assert set(plan.examined) == set(DEFAULT_ENABLED_REGIONS) - {"eu-west-2"}  # never us-east-1 alone
    assert plan.discovery_error and plan.discovery_error.startswith("ec2:DescribeRegions: UnauthorizedOperation")
    (result,) = run_check(CHECK, bundle)
    assert result.status == Status.ERROR
    assert result.resource_id == "*"
    assert result.observed["missing_permission"] == "ec2:DescribeRegions"
    assert result.observed["regions_examined"] == list(plan.examined)
    assert result.observed["regions_basis"] == "fallback"
    assert "missing permission ec2:DescribeRegions" in result.reason
    assert "examined instead: ap-northeast-1" in result.reason


def test_describe_regions_denied_with_a_configured_list_states_that_list():
    bundle, plan = scope_bundle(describe=Fail("UnauthorizedOperation"), listing=MISSING, configured=("eu-west-1",))
    assert plan.examined == ("eu-west-1",)
    assert plan.enabled is None
    (result,) = run_check(CHECK, bundle)
    assert result.status == Status.ERROR
    assert result.observed["regions_examined"] == ["eu-west-1"]
    assert "examined instead: eu-west-1" in result.reason


def test_describe_regions_denied_takes_the_enabled_regions_from_a_complete_list_regions_answer():
    bundle, plan = scope_bundle(describe=Fail("UnauthorizedOperation"))
    assert plan.basis == "enabled"
    assert plan.examined == ENABLED  # ENABLING (me-south-1) and DISABLED regions left out
    assert "account:ListRegions" in plan.note
    assert plan.discovery_error and plan.discovery_error.startswith("ec2:DescribeRegions: UnauthorizedOperation")
    results = by_resource(run_check(CHECK, bundle))
    assert set(results) == set(ENABLED)
    assert all(r.status == Status.PASS for r in results.values())
    eu = results["eu-south-2"]
    assert eu.observed["opt_in_status"] == "opted-in"
    assert eu.observed["enabled_regions_from"] == "account:ListRegions (ec2:DescribeRegions UnauthorizedOperation)"


def test_describe_regions_denied_with_list_regions_still_fails_a_region_outside_the_configured_list():
    bundle, plan = scope_bundle(describe=Fail("UnauthorizedOperation"), configured=("us-east-1", "eu-west-1"))
    assert plan.enabled == ENABLED
    results = by_resource(run_check(CHECK, bundle))
    assert {k for k, r in results.items() if r.status == Status.FAIL} == {"ap-south-1", "eu-south-2", "us-west-2"}


def test_a_list_regions_answer_with_a_failed_page_is_not_used():
    pages = bundle_from_calls(
        SCOPE,
        [
            ("account", "ListRegions", {"MaxResults": 50}, LIST),
            ("account", "ListRegions", {"MaxResults": 50, "NextToken": "t"}, Fail("ThrottlingException")),
        ],
        with_refs=False,
    )
    assert enabled_from_listing(pages, "aws") is None
    assert enabled_from_listing(bundle_from_calls(SCOPE, [], with_refs=False), "aws") is None


def test_list_regions_failing_changes_no_verdict():
    bundle, _ = scope_bundle(listing=Fail("AccessDeniedException"))
    results = by_resource(run_check(CHECK, bundle))
    assert set(results) == set(ENABLED)
    assert all(r.status == Status.PASS and r.observed["account_region_opt_status"] is None for r in results.values())


def test_no_decision_record_is_an_error_not_a_pass():
    bundle, _ = scope_bundle(decision=False)
    (result,) = run_check(CHECK, bundle)
    assert result.status == Status.ERROR
    assert result.observed["operation"] == f"{TOOL_SERVICE}:RegionScope"


def test_no_describe_regions_record_is_an_error():
    bundle, _ = scope_bundle(describe=MISSING)
    (result,) = run_check(CHECK, bundle)
    assert result.status == Status.ERROR
    assert result.observed["error_code"] == "NotCollected"
    assert result.observed["required_permission"] == "ec2:DescribeRegions"


def test_partition_of_a_region_name():
    assert region_partition("cn-northwest-1") == "aws-cn"
    assert region_partition("us-gov-west-1") == "aws-us-gov"
    assert region_partition("us-isob-east-1") == "aws-iso-b"
    assert region_partition("eu-central-2") == "aws"
    call = ApiCall("ec2", "DescribeRegions", {}, "", REGIONS)
    assert list(enabled_regions(call, "aws-cn")) == ["cn-north-1"]


def test_cover_and_console_list_examined_and_skipped_regions_with_why():
    _, plan = scope_bundle(configured=("us-east-1",), excluded={"ap-south-1": "unused"})
    entry = {"id": ACCOUNT, "name": "prod", "source": "config", **plan.to_json()}
    rows = [(r[1], str(getattr(r[2], "value", r[2]))) for r in region_rows(entry)]
    assert rows[0][0] == f"Account {ACCOUNT}: examined (1)"
    assert rows[0][1].startswith("us-east-1 — the configured list")
    skipped = [(k, v) for k, v in rows if "not examined" in k]
    assert skipped == [  # one row per reason, naming its regions
        (f"Account {ACCOUNT}: not examined", "ap-south-1: excluded: unused"),
        (f"Account {ACCOUNT}: not examined (3)", "eu-south-2, eu-west-1, us-west-2: not in the configured regions"),
    ]
    assert "regions_basis" not in account_line(entry)
    lines = summary_lines({"aws_accounts": [entry]})
    assert lines[0] == f"  {ACCOUNT} (prod): examined 1 (configured list): us-east-1"
    assert "ap-south-1 (excluded: unused)" in lines[1] and "us-west-2 (not in the configured regions)" in lines[1]
