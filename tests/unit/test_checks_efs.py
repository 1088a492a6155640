"""aws.efs.encryption and aws.efs.secure_transport on recorded evidence."""

from __future__ import annotations

import json
from typing import Any

import pytest

from collectors.aws.efs import deny_insecure_statements
from controls import Status
from tests.helpers import Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

ENCRYPTION, TRANSPORT = "aws.efs.encryption", "aws.efs.secure_transport"
SCOPE = scope("aws.efs")
PAGE1 = fixture("aws/efs/describe_file_systems_page1.json")
PAGE2 = fixture("aws/efs/describe_file_systems_page2.json")
POLICIES: dict[str, Any] = fixture("aws/efs/describe_file_system_policy_by_id.json")
FS_ARN = "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-0001"
MISSING = object()


def efs_bundle(*, page1: Any = PAGE1, page2: Any = PAGE2, policies: dict[str, Any] | None = None):
    calls: list[tuple[str, str, dict[str, Any], Any]] = []
    if page1 is not MISSING:
        calls.append(("efs", "DescribeFileSystems", {"MaxItems": 100}, page1))
    if page2 is not MISSING:
        calls.append(("efs", "DescribeFileSystems", {"MaxItems": 100, "Marker": PAGE1["NextMarker"]}, page2))
    answers = {"fs-0003": Fail("PolicyNotFound", status=404), **POLICIES, **(policies or {})}
    for fs_id, answer in sorted(answers.items()):
        if answer is not MISSING:
            calls.append(("efs", "DescribeFileSystemPolicy", {"FileSystemId": fs_id}, answer))
    return bundle_from_calls(SCOPE, calls)


def test_encryption_on_both_pages():
    results = by_resource(run_check(ENCRYPTION, efs_bundle()))
    assert {k: str(r.status) for k, r in results.items()} == {
        "fs-0001": "pass",
        "fs-0002": "pass",
        "fs-0003": "fail",
        "fs-0004": "pass",
        "fs-0005": "pass",
    }
    assert results["fs-0001"].observed["kms_key_id"].endswith("ffff6666ffff")
    assert results["fs-0003"].reason == "file system is not encrypted at rest"
    assert results["fs-0003"].resource_type == "AWS::EFS::FileSystem"
    assert ref_ops(results["fs-0003"]) == {"efs.DescribeFileSystems"}


def test_secure_transport_verdicts():
    results = by_resource(run_check(TRANSPORT, efs_bundle()))
    assert {k: str(r.status) for k, r in results.items()} == {
        "fs-0001": "pass",
        "fs-0002": "fail",  # denies only ClientWrite: plain-text mounts can still read
        "fs-0003": "fail",  # no policy
        "fs-0004": "fail",  # a policy without a deny
        "fs-0005": "pass",  # Client* on its own ARN, BoolIfExists with a JSON boolean
    }
    assert results["fs-0001"].observed["denying_statements"] == ["DenyInsecureTransport"]
    assert ref_ops(results["fs-0001"]) == {"efs.DescribeFileSystems", "efs.DescribeFileSystemPolicy"}
    assert "DenyWriteOnly denies only 'elasticfilesystem:ClientWrite'" in results["fs-0002"].reason
    assert results["fs-0003"].reason == "no file-system policy: clients may mount without TLS"
    assert results["fs-0003"].observed["has_policy"] is False
    assert "no Deny for aws:SecureTransport false" in results["fs-0004"].reason


def test_denied_policy_read_is_an_error_not_a_fail():
    results = by_resource(run_check(TRANSPORT, efs_bundle(policies={"fs-0004": Fail("AccessDeniedException")})))
    err = results["fs-0004"]
    assert err.status == Status.ERROR
    assert err.observed["missing_permission"] == "elasticfilesystem:DescribeFileSystemPolicy"


def test_unrecorded_policy_is_not_collected():
    results = by_resource(run_check(TRANSPORT, efs_bundle(policies={"fs-0001": MISSING})))
    assert results["fs-0001"].status == Status.ERROR
    assert results["fs-0001"].observed["error_code"] == "NotCollected"


def test_invalid_policy_json_fails():
    bad = {"fs-0001": {"FileSystemId": "fs-0001", "Policy": "{not json"}}
    results = by_resource(run_check(TRANSPORT, efs_bundle(policies=bad)))
    assert results["fs-0001"].status == Status.FAIL
    assert "not valid JSON" in results["fs-0001"].reason


@pytest.mark.parametrize("check_id", [ENCRYPTION, TRANSPORT])
def test_listing_failure_keeps_first_page_and_is_an_error(check_id):
    results = run_check(check_id, efs_bundle(page2=Fail("ThrottlingException")))
    errors = [r for r in results if r.status == Status.ERROR]
    assert [(e.resource_id, e.observed["error_code"]) for e in errors] == [("*", "ThrottlingException")]
    assert {r.resource_id for r in results if r.status != Status.ERROR} == {"fs-0001", "fs-0002"}
    (denied,) = run_check(check_id, efs_bundle(page1=Fail("AccessDeniedException"), page2=MISSING, policies={}))
    assert denied.observed["missing_permission"] == "elasticfilesystem:DescribeFileSystems"


DENY = {
    "Effect": "Deny",
    "Principal": {"AWS": "*"},
    "Action": "*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


@pytest.mark.parametrize(
    ("change", "full"),
    [
        ({}, True),
        ({"Action": "elasticfilesystem:*"}, True),
        ({"Action": ["elasticfilesystem:ClientMount"]}, True),
        ({"Principal": "*"}, True),
        ({"NotAction": "elasticfilesystem:ClientRootAccess", "Action": None}, True),
        ({"NotAction": "elasticfilesystem:Client*", "Action": None}, False),
        ({"Principal": {"AWS": "arn:aws:iam::123456789012:role/app"}}, False),
        ({"Resource": "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-other"}, False),
        ({"Condition": {"Bool": {"aws:SecureTransport": "true"}}}, None),
        ({"Condition": {"Bool": {"aws:SecureTransport": "false"}, "StringEquals": {"aws:SourceVpc": "vpc-1"}}}, None),
        ({"Effect": "Allow"}, None),
    ],
)
def test_deny_insecure_statements(change, full):
    stmt = {**DENY, **change}
    stmt = {k: v for k, v in stmt.items() if v is not None}
    found, partial = deny_insecure_statements({"Statement": [stmt]}, FS_ARN)
    if full is None:
        assert (found, partial) == ([], []), json.dumps(stmt)
    else:
        assert bool(found) is full and bool(partial) is not full
