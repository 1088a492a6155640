"""aws.logs.encryption on recorded evidence: CloudTrail trails and CloudWatch Logs log groups."""

from __future__ import annotations

from typing import Any

from controls import Status
from tests.helpers import Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

CHECK = "aws.logs.encryption"
SCOPE = scope("aws.logs")
TRAILS = fixture("aws/logs/describe_trails.json")
GROUPS1 = fixture("aws/logs/describe_log_groups_page1.json")
GROUPS2 = fixture("aws/logs/describe_log_groups_page2.json")
TRAIL = "arn:aws:cloudtrail:us-east-1:123456789012:trail/"
GROUP = "arn:aws:logs:us-east-1:123456789012:log-group:"
MISSING = object()


def logs_bundle(*, trails: Any = TRAILS, groups1: Any = GROUPS1, groups2: Any = GROUPS2):
    calls: list[tuple[str, str, dict[str, Any], Any]] = []
    if trails is not MISSING:
        calls.append(("cloudtrail", "DescribeTrails", {"includeShadowTrails": False}, trails))
    if groups1 is not MISSING:
        calls.append(("logs", "DescribeLogGroups", {"limit": 50}, groups1))
    if groups2 is not MISSING:
        calls.append(("logs", "DescribeLogGroups", {"limit": 50, "nextToken": "groups-page-2"}, groups2))
    return bundle_from_calls(SCOPE, calls)


def test_trail_with_kms_passes_and_without_fails():
    results = by_resource(run_check(CHECK, logs_bundle()))
    ok = results[TRAIL + "dexo-org-trail"]
    assert ok.status == Status.PASS and ok.resource_type == "AWS::CloudTrail::Trail"
    assert ok.observed["organization_trail"] is True and ok.observed["home_region"] == "us-east-1"
    assert ok.reason.startswith("log files encrypted with SSE-KMS (arn:aws:kms:")
    assert ref_ops(ok) == {"cloudtrail.DescribeTrails"}
    bad = results[TRAIL + "dexo-debug-trail"]
    assert bad.status == Status.FAIL and bad.observed["kms_key_id"] is None
    assert "SSE-S3" in bad.reason and "dexo-debug-trail-bucket" in bad.reason


def test_log_groups_without_kms_are_reported_as_service_managed_and_pass_by_default():
    results = by_resource(run_check(CHECK, logs_bundle()))
    kms = results[GROUP + "/dexo/chat-api"]
    assert kms.status == Status.PASS and kms.resource_type == "AWS::Logs::LogGroup"
    assert kms.observed["key_type"] == "KMS" and kms.observed["retention_in_days"] == 365
    assert ref_ops(kms) == {"logs.DescribeLogGroups"}
    lam = results[GROUP + "/aws/lambda/dexo-thumbnailer"]  # keyed without the ":*" of the old arn field
    assert lam.status == Status.PASS and lam.observed["key_type"] == "SERVICE_MANAGED"
    assert "service-managed key" in lam.reason
    assert len(results) == 4


def test_thresholds_make_log_groups_require_kms_and_trails_report_only():
    thresholds = {"log_groups_require_kms": True, "trails_require_kms": False}
    results = by_resource(run_check(CHECK, logs_bundle(), thresholds))
    assert results[GROUP + "/aws/lambda/dexo-thumbnailer"].status == Status.FAIL
    assert results[GROUP + "/dexo/chat-api"].status == Status.PASS
    debug = results[TRAIL + "dexo-debug-trail"]
    assert debug.status == Status.PASS and "KMS not required" in debug.reason


def test_each_listing_failing_is_its_own_error_and_hides_nothing_of_the_other():
    results = by_resource(run_check(CHECK, logs_bundle(trails=Fail("AccessDeniedException"))))
    err = results["*"]
    assert err.status == Status.ERROR and err.resource_type == "AWS::CloudTrail::Trail"
    assert err.observed["missing_permission"] == "cloudtrail:DescribeTrails"
    assert results[GROUP + "/dexo/chat-api"].status == Status.PASS

    results = run_check(CHECK, logs_bundle(groups1=Fail("AccessDeniedException"), groups2=MISSING))
    errors = [r for r in results if r.status == Status.ERROR]
    assert [(r.resource_type, r.observed["missing_permission"]) for r in errors] == [
        ("AWS::Logs::LogGroup", "logs:DescribeLogGroups")
    ]
    assert {r.resource_id for r in results if r.status != Status.ERROR} == {
        TRAIL + "dexo-org-trail",
        TRAIL + "dexo-debug-trail",
    }


def test_second_log_group_page_failing_is_an_error_beside_the_first_pages_results():
    results = run_check(CHECK, logs_bundle(groups2=Fail("ThrottlingException")))
    assert {(r.resource_id, r.status) for r in results if r.resource_type == "AWS::Logs::LogGroup"} == {
        (GROUP + "/dexo/chat-api", Status.PASS),
        ("*", Status.ERROR),
    }


def test_nothing_recorded_is_two_errors_never_an_empty_pass():
    results = run_check(CHECK, bundle_from_calls(SCOPE, []))
    assert [(r.resource_type, r.status, r.observed["error_code"]) for r in results] == [
        ("AWS::CloudTrail::Trail", Status.ERROR, "NotCollected"),
        ("AWS::Logs::LogGroup", Status.ERROR, "NotCollected"),
    ]
