"""aws.cloudfront.viewer_tls, https_only and origin_tls on recorded evidence."""

from __future__ import annotations

from typing import Any

import pytest

from collectors.aws.cloudfront import viewer_policy_rank
from controls import Status
from tests.helpers import ACCOUNT, Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

VIEWER, HTTPS, ORIGIN = "aws.cloudfront.viewer_tls", "aws.cloudfront.https_only", "aws.cloudfront.origin_tls"
SCOPE = scope("aws.cloudfront", region="global")
PAGE1 = fixture("aws/cloudfront/list_distributions_page1.json")
PAGE2 = fixture("aws/cloudfront/list_distributions_page2.json")


def arn(dist_id: str) -> str:
    return f"arn:aws:cloudfront::{ACCOUNT}:distribution/{dist_id}"


GOOD, DEFAULT, OLD, HTTP_ORIGIN, TLS13 = (
    arn("E1WEBGOOD"),
    arn("E2DEFAULTCERT"),
    arn("E3OLDTLS"),
    arn("E4HTTPORIGIN"),
    arn("E5TLS13"),
)


def cf_bundle(page2: Any = PAGE2):
    calls = [
        ("cloudfront", "ListDistributions", {"MaxItems": "100"}, PAGE1),
        ("cloudfront", "ListDistributions", {"MaxItems": "100", "Marker": "E2PAGE2MARKER"}, page2),
    ]
    return bundle_from_calls(SCOPE, calls)


def test_viewer_tls_across_pages_and_default_certificate():
    results = by_resource(run_check(VIEWER, cf_bundle()))
    assert set(results) == {GOOD, DEFAULT, OLD, HTTP_ORIGIN, TLS13}
    assert results[GOOD].status == Status.PASS
    assert results[GOOD].region == "global"
    assert results[GOOD].observed["minimum_protocol_version"] == "TLSv1.2_2021"
    assert results[GOOD].observed["aliases"] == ["e1webgood.acme.example"]
    assert ref_ops(results[GOOD]) == {"cloudfront.ListDistributions"}

    default = results[DEFAULT]
    assert default.status == Status.FAIL
    assert "CloudFront default certificate" in default.reason
    assert "TLSv1 and cannot be raised" in default.reason
    assert default.observed["default_certificate"] is True

    assert results[OLD].status == Status.FAIL
    assert results[OLD].reason == "minimum protocol version TLSv1.1_2016 is older than TLSv1.2_2019"
    assert results[HTTP_ORIGIN].status == Status.PASS  # exactly the threshold TLSv1.2_2019
    assert results[TLS13].status == Status.PASS
    assert results[TLS13].observed["enabled"] is False  # disabled distributions are still assessed


def test_viewer_tls_threshold():
    results = by_resource(run_check(VIEWER, cf_bundle(), {"min_protocol_version": "TLSv1.2_2021"}))
    assert results[HTTP_ORIGIN].status == Status.FAIL
    assert results[GOOD].status == Status.PASS
    with pytest.raises(ValueError, match="unknown min_protocol_version"):
        run_check(VIEWER, cf_bundle(), {"min_protocol_version": "TLS1.2"})


def test_viewer_tls_unrecognised_version_fails():
    page = fixture("aws/cloudfront/list_distributions_page2.json")
    page["DistributionList"]["Items"][2]["ViewerCertificate"]["MinimumProtocolVersion"] = "Quantum_2099"
    result = by_resource(run_check(VIEWER, cf_bundle(page2=page)))[TLS13]
    assert result.status == Status.FAIL
    assert "unrecognised" in result.reason


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("SSLv3", "TLSv1"),
        ("TLSv1", "TLSv1_2016"),
        ("TLSv1_2016", "TLSv1.1_2016"),
        ("TLSv1.1_2016", "TLSv1.2_2018"),
        ("TLSv1.2_2018", "TLSv1.2_2019"),
        ("TLSv1.2_2019", "TLSv1.2_2021"),
        ("TLSv1.2_2021", "TLSv1.2_2025"),
        ("TLSv1.2_2025", "TLSv1.3_2025"),
    ],
)
def test_viewer_policy_order(lower, higher):
    assert viewer_policy_rank(lower) < viewer_policy_rank(higher)


def test_https_only_every_behaviour():
    results = by_resource(run_check(HTTPS, cf_bundle()))
    assert results[GOOD].status == Status.PASS
    assert results[GOOD].observed["behaviours"] == [
        {"path_pattern": "Default (*)", "viewer_protocol_policy": "redirect-to-https", "target_origin": "assets"},
        {"path_pattern": "/api/*", "viewer_protocol_policy": "https-only", "target_origin": "api"},
    ]
    bad = results[DEFAULT]  # default behaviour redirects, /legacy/* allows HTTP
    assert bad.status == Status.FAIL
    assert bad.reason == "HTTP allowed for /legacy/* (allow-all)"
    assert results[OLD].status == Status.PASS


def test_https_only_default_behaviour_allowing_http_fails():
    page = fixture("aws/cloudfront/list_distributions_page2.json")
    page["DistributionList"]["Items"][1]["DefaultCacheBehavior"]["ViewerProtocolPolicy"] = "allow-all"
    result = by_resource(run_check(HTTPS, cf_bundle(page2=page)))[HTTP_ORIGIN]
    assert result.status == Status.FAIL
    assert result.reason == "HTTP allowed for Default (*) (allow-all)"


def test_origin_tls_per_distribution_and_origin():
    results = by_resource(run_check(ORIGIN, cf_bundle()))
    assert set(results) == {
        f"{GOOD}/origin/assets",
        f"{GOOD}/origin/api",
        f"{DEFAULT}/origin/app",
        f"{DEFAULT}/origin/legacy",
        f"{OLD}/origin/primary",
        f"{OLD}/origin/failover",
        f"{OLD}/origin/vpc",
        f"{HTTP_ORIGIN}/origin/web",
        f"{TLS13}/origin/web",
    }
    s3 = results[f"{GOOD}/origin/assets"]
    assert s3.status == Status.NOT_APPLICABLE
    assert s3.resource_type == "AWS::CloudFront::Distribution.Origin"
    assert "S3 origin" in s3.reason
    assert results[f"{GOOD}/origin/api"].status == Status.PASS
    # match-viewer, only reached through a redirect-to-https behaviour: HTTPS to the origin
    assert results[f"{DEFAULT}/origin/app"].status == Status.PASS
    legacy = results[f"{DEFAULT}/origin/legacy"]  # match-viewer reached by allow-all, and TLSv1/1.1 allowed
    assert legacy.status == Status.FAIL
    assert "match-viewer while HTTP viewers reach it through /legacy/* (allow-all)" in legacy.reason
    assert "origin SSL protocols allow TLSv1, TLSv1.1" in legacy.reason
    # match-viewer member of an origin group used by an https-only behaviour
    assert results[f"{OLD}/origin/failover"].status == Status.PASS
    assert results[f"{OLD}/origin/failover"].observed["behaviours"] == ["Default (*) (https-only)"]
    assert results[f"{OLD}/origin/vpc"].status == Status.NOT_APPLICABLE
    assert "VPC origin" in results[f"{OLD}/origin/vpc"].reason
    http = results[f"{HTTP_ORIGIN}/origin/web"]
    assert http.status == Status.FAIL
    assert http.reason == "origin protocol policy http-only"


def test_origin_tls_min_version_threshold():
    results = by_resource(run_check(ORIGIN, cf_bundle(), {"min_origin_tls_version": "TLSv1.1"}))
    legacy = results[f"{DEFAULT}/origin/legacy"]
    assert "origin SSL protocols allow TLSv1" in legacy.reason
    assert "TLSv1.1" not in legacy.reason.split("allow ", 2)[-1]


def test_listing_denied_is_one_error_for_every_check():
    bundle = bundle_from_calls(SCOPE, [("cloudfront", "ListDistributions", {"MaxItems": "100"}, Fail("AccessDenied"))])
    for check_id in (VIEWER, HTTPS, ORIGIN):
        (err,) = run_check(check_id, bundle)
        assert (err.status, err.resource_id) == (Status.ERROR, "*")
        assert err.observed["missing_permission"] == "cloudfront:ListDistributions"


def test_second_page_failure_keeps_first_page_and_missing_listing_is_an_error():
    results = by_resource(run_check(VIEWER, cf_bundle(page2=Fail("InternalError"))))
    assert set(results) == {"*", GOOD, DEFAULT}
    (err,) = run_check(HTTPS, bundle_from_calls(SCOPE, []))
    assert err.observed["error_code"] == "NotCollected"
