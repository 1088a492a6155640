"""aws.ebs.default_encryption and aws.ebs.volume_encryption on recorded evidence."""

from __future__ import annotations

from typing import Any

from controls import Status
from tests.helpers import Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

DEFAULT = "aws.ebs.default_encryption"
VOLUMES = "aws.ebs.volume_encryption"
REGION = "eu-west-2"
SCOPE = scope("aws.ebs", region=REGION)
ON = fixture("aws/ebs/get_ebs_encryption_by_default_on.json")
OFF = fixture("aws/ebs/get_ebs_encryption_by_default_off.json")
KEY = fixture("aws/ebs/get_ebs_default_kms_key_id.json")
PAGE1 = fixture("aws/ebs/describe_volumes_page1.json")
PAGE2 = fixture("aws/ebs/describe_volumes_page2.json")
ENCRYPTED, PLAIN_FREE, PLAIN_ATTACHED = "vol-0aaa1111aaaa11111", "vol-0bbb2222bbbb22222", "vol-0ccc3333cccc33333"
MISSING = object()


def ebs_bundle(*, default: Any = ON, key: Any = KEY, page1: Any = PAGE1, page2: Any = PAGE2):
    calls: list[tuple[str, str, dict[str, Any], Any]] = []
    if default is not MISSING:
        calls.append(("ec2", "GetEbsEncryptionByDefault", {}, default))
    if key is not MISSING:
        calls.append(("ec2", "GetEbsDefaultKmsKeyId", {}, key))
    if page1 is not MISSING:
        calls.append(("ec2", "DescribeVolumes", {"MaxResults": 500}, page1))
    if page2 is not MISSING:
        calls.append(("ec2", "DescribeVolumes", {"MaxResults": 500, "NextToken": PAGE1["NextToken"]}, page2))
    return bundle_from_calls(SCOPE, calls)


# --- aws.ebs.default_encryption ---


def test_default_encryption_on_passes_with_key():
    (result,) = run_check(DEFAULT, ebs_bundle())
    assert result.status == Status.PASS
    assert result.resource_id == REGION
    assert result.region == REGION
    assert result.resource_type == "AWS::EC2::EbsEncryptionByDefault"
    assert result.observed == {"encryption_by_default": True, "default_kms_key_id": "alias/aws/ebs"}
    assert "alias/aws/ebs" in result.reason
    assert ref_ops(result) == {"ec2.GetEbsEncryptionByDefault", "ec2.GetEbsDefaultKmsKeyId"}


def test_default_encryption_off_fails():
    (result,) = run_check(DEFAULT, ebs_bundle(default=OFF))
    assert result.status == Status.FAIL
    assert result.resource_id == REGION
    assert result.observed["encryption_by_default"] is False
    assert "off" in result.reason


def test_default_encryption_access_denied_is_error_for_the_region():
    (result,) = run_check(DEFAULT, ebs_bundle(default=Fail("UnauthorizedOperation")))
    assert result.status == Status.ERROR
    assert result.resource_id == REGION
    assert result.observed["missing_permission"] == "ec2:GetEbsEncryptionByDefault"
    assert "missing permission ec2:GetEbsEncryptionByDefault" in result.reason


def test_default_encryption_key_lookup_failure_does_not_change_the_verdict():
    (result,) = run_check(DEFAULT, ebs_bundle(key=Fail("UnauthorizedOperation")))
    assert result.status == Status.PASS
    assert result.observed["default_kms_key_id"] is None
    assert result.observed["default_kms_key_error"] == "UnauthorizedOperation (needs ec2:GetEbsDefaultKmsKeyId)"


def test_default_encryption_not_recorded_is_an_error():
    (result,) = run_check(DEFAULT, ebs_bundle(default=MISSING))
    assert result.status == Status.ERROR
    assert result.resource_id == REGION
    assert result.observed["error_code"] == "NotCollected"
    assert result.observed["required_permission"] == "ec2:GetEbsEncryptionByDefault"


# --- aws.ebs.volume_encryption ---


def test_volumes_on_both_pages_are_assessed():
    results = by_resource(run_check(VOLUMES, ebs_bundle()))
    assert set(results) == {ENCRYPTED, PLAIN_FREE, PLAIN_ATTACHED}

    ok = results[ENCRYPTED]
    assert ok.status == Status.PASS
    assert ok.resource_type == "AWS::EC2::Volume"
    assert ok.observed["encrypted"] is True
    assert ok.observed["kms_key_id"].endswith("key/2222bbbb-2222-bbbb-2222-bbbb2222bbbb")
    assert ok.observed["state"] == "in-use"
    assert ok.observed["attached_instances"] == ["i-0a1b2c3d4e5f60001"]
    assert ok.observed["name"] == "api-root"
    assert ref_ops(ok) == {"ec2.DescribeVolumes"}

    free = results[PLAIN_FREE]
    assert free.status == Status.FAIL
    assert free.observed["encrypted"] is False
    assert free.observed["kms_key_id"] is None
    assert free.observed["attached_instances"] == []
    assert "not encrypted" in free.reason and "no instance" in free.reason

    attached = results[PLAIN_ATTACHED]  # from page 2
    assert attached.status == Status.FAIL
    assert attached.observed["attached_instances"] == ["i-0a1b2c3d4e5f60002"]
    assert "i-0a1b2c3d4e5f60002" in attached.reason


def test_volume_listing_access_denied_is_one_error():
    results = run_check(VOLUMES, ebs_bundle(page1=Fail("UnauthorizedOperation"), page2=MISSING))
    assert len(results) == 1
    (err,) = results
    assert err.status == Status.ERROR
    assert err.resource_id == "*"
    assert err.resource_type == "AWS::EC2::Volume"
    assert err.observed["missing_permission"] == "ec2:DescribeVolumes"
    assert err.observed["operation"] == "ec2:DescribeVolumes"


def test_volume_listing_second_page_failure_keeps_first_page():
    results = by_resource(run_check(VOLUMES, ebs_bundle(page2=Fail("RequestLimitExceeded", status=503))))
    assert set(results) == {"*", ENCRYPTED, PLAIN_FREE}
    assert results["*"].status == Status.ERROR
    assert results["*"].observed["error_code"] == "RequestLimitExceeded"
    assert results["*"].observed["missing_permission"] is None
    assert results[ENCRYPTED].status == Status.PASS
    assert results[PLAIN_FREE].status == Status.FAIL


def test_volume_listing_not_recorded_is_an_error():
    results = run_check(VOLUMES, ebs_bundle(page1=MISSING, page2=MISSING))
    assert [(r.status, r.resource_id, r.observed["error_code"]) for r in results] == [
        (Status.ERROR, "*", "NotCollected")
    ]


def test_region_without_volumes_has_no_volume_results():
    assert run_check(VOLUMES, ebs_bundle(page1={"Volumes": []}, page2=MISSING)) == []
