"""aws.ebs.snapshot_encryption on recorded evidence: own snapshots only, paged, errors."""

from __future__ import annotations

from typing import Any

from controls import Status
from tests.helpers import Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

CHECK = "aws.ebs.snapshot_encryption"
SCOPE = scope("aws.ebs", region="eu-west-2")
PAGE1 = fixture("aws/ebs/describe_snapshots_page1.json")
PAGE2 = fixture("aws/ebs/describe_snapshots_page2.json")
PARAMS = {"OwnerIds": ["self"], "MaxResults": 1000}
MISSING = object()


def snap_bundle(*, page1: Any = PAGE1, page2: Any = PAGE2):
    calls: list[tuple[str, str, dict[str, Any], Any]] = []
    if page1 is not MISSING:
        calls.append(("ec2", "DescribeSnapshots", PARAMS, page1))
    if page2 is not MISSING:
        calls.append(("ec2", "DescribeSnapshots", {**PARAMS, "NextToken": PAGE1["NextToken"]}, page2))
    return bundle_from_calls(SCOPE, calls)


def test_own_snapshots_on_both_pages_are_assessed():
    results = by_resource(run_check(CHECK, snap_bundle()))
    assert {rid: r.status for rid, r in results.items()} == {
        "snap-0aaa1111aaaa11111": Status.PASS,
        "snap-0bbb2222bbbb22222": Status.FAIL,
        "snap-0ccc3333cccc33333": Status.FAIL,  # still pending: assessed, its encryption is already fixed
    }
    ok = results["snap-0aaa1111aaaa11111"]
    assert ok.resource_type == "AWS::EC2::Snapshot"
    assert ok.region == "eu-west-2"
    assert ok.observed["name"] == "chat-api-nightly"
    assert ok.observed["kms_key_id"].endswith("aaaa1111aaaa")
    assert ref_ops(ok) == {"ec2.DescribeSnapshots"}
    plain = results["snap-0bbb2222bbbb22222"]
    assert plain.reason == "snapshot of vol-0bbb2222bbbb22222 is not encrypted"
    assert plain.observed["volume_id"] == "vol-0bbb2222bbbb22222"


def test_another_owners_snapshot_is_not_assessed():
    results = by_resource(run_check(CHECK, snap_bundle()))
    assert "snap-0ddd4444dddd44444" not in results


def test_listing_denied_is_one_error_naming_the_permission():
    (err,) = run_check(CHECK, snap_bundle(page1=Fail("UnauthorizedOperation"), page2=MISSING))
    assert (err.status, err.resource_id) == (Status.ERROR, "*")
    assert err.observed["missing_permission"] == "ec2:DescribeSnapshots"


def test_second_page_failure_keeps_the_first_page():
    results = run_check(CHECK, snap_bundle(page2=Fail("RequestLimitExceeded")))
    errors = [r for r in results if r.status == Status.ERROR]
    assert [e.observed["error_code"] for e in errors] == ["RequestLimitExceeded"]
    assert {r.resource_id for r in results if r.status != Status.ERROR} == {
        "snap-0aaa1111aaaa11111",
        "snap-0bbb2222bbbb22222",
    }


def test_unrecorded_listing_is_not_collected():
    (err,) = run_check(CHECK, snap_bundle(page1=MISSING, page2=MISSING))
    assert err.observed["error_code"] == "NotCollected"
    assert err.observed["required_permission"] == "ec2:DescribeSnapshots"
