"""aws.s3.secure_transport on recorded evidence: the bucket policy must deny requests without HTTPS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from collectors.aws.s3_secure_transport import analyse_secure_transport
from controls import Status
from tests.helpers import ACCOUNT, Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

CHECK = "aws.s3.secure_transport"
SCOPE = scope("aws.s3", region="global")
PAGE1 = fixture("aws/s3/list_buckets_page1.json")
PAGE2 = fixture("aws/s3/list_buckets_page2.json")
PROD, EU, LEGACY = "acme-logs-prod", "acme-data-eu", "acme-legacy-assets"
DENY = fixture("aws/s3/get_bucket_policy_deny_insecure.json")
NO_POLICY = Fail("NoSuchBucketPolicy", status=404)
MISSING = object()


def s3_bundle(policies: dict[str, Any] | None = None, *, page1: Any = PAGE1):
    policies = {
        PROD: DENY,
        EU: fixture("aws/s3/get_bucket_policy_boolifexists_bool_false.json"),
        LEGACY: fixture("aws/s3/get_bucket_policy_allow_only.json"),
        **(policies or {}),
    }
    calls: list[tuple[str, str, dict[str, Any], Any]] = [("s3", "ListBuckets", {"MaxBuckets": 10000}, page1)]
    if isinstance(page1, Fail):
        return bundle_from_calls(SCOPE, calls)
    calls += [
        ("s3", "ListBuckets", {"MaxBuckets": 10000, "ContinuationToken": "page-2-token"}, PAGE2),
        ("s3", "GetBucketLocation", {"Bucket": LEGACY}, {"LocationConstraint": "EU"}),
        ("s3control", "GetPublicAccessBlock", {"AccountId": ACCOUNT}, Fail("NoSuchPublicAccessBlockConfiguration")),
    ]
    for name, answer in policies.items():
        if answer is not MISSING:
            calls.append(("s3", "GetBucketPolicy", {"Bucket": name}, answer))
    return bundle_from_calls(SCOPE, calls)


def policy(*statements: dict[str, Any]) -> dict[str, str]:
    return {"Policy": json.dumps({"Version": "2012-10-17", "Statement": list(statements)})}


def deny(bucket: str = PROD, **overrides: Any) -> dict[str, Any]:
    stmt = {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    stmt.update(overrides)
    return {k: v for k, v in stmt.items() if v is not None}


def result_for(answer: Any, name: str = PROD):
    return by_resource(run_check(CHECK, s3_bundle({name: answer})))[name]


def test_secure_transport_pass_fail_across_listing_pages():
    results = by_resource(run_check(CHECK, s3_bundle()))
    assert set(results) == {PROD, EU, LEGACY}
    prod = results[PROD]
    assert prod.status == Status.PASS
    assert prod.observed["secure_transport_deny"] == ["DenyInsecureTransport"]
    assert prod.reason == "statement DenyInsecureTransport denies every request without HTTPS"
    assert ref_ops(prod) == {"s3.ListBuckets", "s3.GetBucketPolicy"}
    eu = results[EU]  # BoolIfExists, boolean false, Principal {"AWS": "*"}, Action ["*"], a single statement object
    assert eu.status == Status.PASS
    assert eu.region == "eu-central-1"
    legacy = results[LEGACY]  # Allow with SecureTransport true does not deny HTTP
    assert legacy.status == Status.FAIL
    assert legacy.region == "eu-west-1"
    assert "only Allow statements test aws:SecureTransport (AllowSecureReads)" in legacy.reason


def test_secure_transport_no_policy_fails():
    result = result_for(NO_POLICY)
    assert result.status == Status.FAIL
    assert result.observed == {"policy": False}
    assert result.reason == "no bucket policy: requests over plain HTTP are not denied"


def test_secure_transport_deny_on_subset_of_actions_fails():
    result = result_for(fixture("aws/s3/get_bucket_policy_deny_subset.json"))
    assert result.status == Status.FAIL
    assert "denies only ['s3:GetObject', 's3:PutObject']" in result.reason
    assert result.observed["partial_denies"][0]["sid"] == "DenyInsecureTransport"


def test_secure_transport_tls_version_deny_alone_fails_but_is_reported():
    result = result_for(fixture("aws/s3/get_bucket_policy_tls_version_only.json"))
    assert result.status == Status.FAIL
    assert result.observed["tls_version_deny_below"] == "1.2"
    assert "does not deny plain HTTP" in result.reason
    both = result_for(fixture("aws/s3/get_bucket_policy_deny_and_tls_version.json"))
    assert both.status == Status.PASS
    assert both.reason.endswith("; TLS below 1.2 also denied")


@pytest.mark.parametrize(
    "stmt",
    [
        deny(Action="*"),
        deny(Action=["s3:GetObject", "s3:*"]),
        deny(Principal={"AWS": ["*"]}),
        deny(Resource=["arn:aws:s3:::*"]),
        deny(Resource="*"),
        deny(Resource=[f"arn:aws:s3:::{PROD}*"]),
        deny(Condition={"BoolIfExists": {"aws:SecureTransport": "false"}}),
        deny(Condition={"Bool": {"aws:securetransport": ["false"]}}),
        deny(Condition={"Bool": {"aws:SecureTransport": False}}),
    ],
)
def test_secure_transport_accepted_shapes(stmt):
    assert result_for(policy(stmt)).status == Status.PASS


@pytest.mark.parametrize(
    ("stmt", "gap"),
    [
        (deny(Action="s3:GetObject"), "denies only ['s3:GetObject']"),
        (deny(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), "principal is not everyone"),
        (deny(Principal=None, NotPrincipal={"AWS": "arn:aws:iam::123456789012:role/x"}), "principal is not everyone"),
        (deny(Resource=[f"arn:aws:s3:::{PROD}/*"]), "do not cover the bucket"),
        (deny(Resource=[f"arn:aws:s3:::{PROD}"]), "do not cover the bucket"),
        (deny(Resource=[f"arn:aws:s3:::{PROD}", f"arn:aws:s3:::{PROD}/public/*"]), "do not cover the bucket"),
        (deny(Resource=["arn:aws:s3:::other-bucket", "arn:aws:s3:::other-bucket/*"]), "do not cover the bucket"),
        (
            deny(Condition={"Bool": {"aws:SecureTransport": "false"}, "StringEquals": {"aws:PrincipalAccount": "1"}}),
            "narrowed by further conditions",
        ),
    ],
)
def test_secure_transport_partial_denies_fail(stmt, gap):
    result = result_for(policy(stmt))
    assert result.status == Status.FAIL
    assert gap in result.reason


@pytest.mark.parametrize(
    "stmt",
    [
        deny(Condition={"Bool": {"aws:SecureTransport": "true"}}),  # denies HTTPS, not HTTP
        deny(Effect="Allow"),
        deny(Condition={}),  # a deny of everything without the condition is not the control
    ],
)
def test_secure_transport_statements_that_are_not_the_deny(stmt):
    result = result_for(policy(stmt))
    assert result.status == Status.FAIL
    assert result.observed["secure_transport_deny"] == []


def test_secure_transport_unparseable_policy_fails():
    result = result_for({"Policy": "{not json"})
    assert result.status == Status.FAIL
    assert "could not be parsed" in result.reason
    assert result_for({"Policy": "[]"}).status == Status.FAIL


def test_secure_transport_access_denied_and_unrecorded_errors_only_that_bucket():
    results = by_resource(run_check(CHECK, s3_bundle({PROD: Fail("AccessDenied"), EU: MISSING})))
    assert results[PROD].status == Status.ERROR
    assert results[PROD].observed["missing_permission"] == "s3:GetBucketPolicy"
    assert results[EU].status == Status.ERROR
    assert results[EU].observed["error_code"] == "NotCollected"
    assert results[EU].observed["required_permission"] == "s3:GetBucketPolicy"
    assert results[LEGACY].status == Status.FAIL


def test_secure_transport_listing_denied_is_one_error():
    (err,) = run_check(CHECK, s3_bundle(page1=Fail("AccessDenied")))
    assert (err.status, err.resource_id) == (Status.ERROR, "*")
    assert err.observed["missing_permission"] == "s3:ListAllMyBuckets"


def test_analyse_secure_transport_other_partitions_and_single_statement():
    doc = {"Statement": deny(Resource=[f"arn:aws-cn:s3:::{PROD}", f"arn:aws-cn:s3:::{PROD}/*"])}
    assert analyse_secure_transport(json.dumps(doc), PROD)["secure_transport_deny"] == ["DenyInsecureTransport"]
    unnamed = {"Statement": [{**deny(), "Sid": None}]}
    assert analyse_secure_transport(json.dumps(unnamed), PROD)["secure_transport_deny"] == ["#0"]
