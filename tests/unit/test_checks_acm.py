"""aws.acm.certificate_expiry on recorded evidence (AS_OF = 2025-06-30 12:00 UTC)."""

from __future__ import annotations

from typing import Any

from collectors.aws.acm import KEY_TYPES, LIST_PARAMS
from controls import Status
from tests.helpers import Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

CHECK = "aws.acm.certificate_expiry"
SCOPE = scope("aws.acm")
PAGE1 = fixture("aws/acm/list_certificates_page1.json")
PAGE2 = fixture("aws/acm/list_certificates_page2.json")
FILES = ["1_valid", "2_expiring", "3_expired", "4_renewal_failed", "5_unused", "6_pending"]
CERTS = {f: fixture(f"aws/acm/describe_certificate_{f}.json") for f in FILES}
ARN = {f: c["Certificate"]["CertificateArn"] for f, c in CERTS.items()}
MISSING = object()


def acm_bundle(*, page2: Any = PAGE2, certs: dict[str, Any] | None = None):
    certs = {**CERTS, **(certs or {})}
    calls: list[tuple[str, str, dict[str, Any], Any]] = [("acm", "ListCertificates", LIST_PARAMS, PAGE1)]
    calls.append(("acm", "ListCertificates", {**LIST_PARAMS, "NextToken": "acm-page-2"}, page2))
    listed = FILES if not isinstance(page2, Fail) else FILES[:3]
    for f in listed:
        if certs[f] is not MISSING:
            calls.append(("acm", "DescribeCertificate", {"CertificateArn": ARN[f]}, certs[f]))
    return bundle_from_calls(SCOPE, calls)


def test_every_key_type_is_listed():
    assert LIST_PARAMS["Includes"]["keyTypes"] == KEY_TYPES
    assert {"RSA_2048", "RSA_4096", "EC_prime256v1", "EC_secp384r1"} <= set(KEY_TYPES)


def test_certificate_expiry_all_cases_across_pages():
    results = by_resource(run_check(CHECK, acm_bundle()))
    assert set(results) == set(ARN.values())

    valid = results[ARN["1_valid"]]
    assert valid.status == Status.PASS
    assert valid.resource_type == "AWS::CertificateManager::Certificate"
    assert valid.observed["days_to_expiry"] == 199.5
    assert valid.observed["in_use_by"] == [
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/acme-web/50dc6c495c0c9188"
    ]
    assert ref_ops(valid) == {"acm.ListCertificates", "acm.DescribeCertificate"}

    expiring = results[ARN["2_expiring"]]  # 20 days left, renewal pending
    assert expiring.status == Status.FAIL
    assert "expires in 20.0 days (< 30)" in expiring.reason
    assert expiring.observed["renewal_status"] == "PENDING_AUTO_RENEWAL"

    expired = results[ARN["3_expired"]]
    assert expired.status == Status.FAIL
    assert "expired on 2025-05-31T23:59:59Z" in expired.reason
    assert "status EXPIRED" in expired.reason

    renewal = results[ARN["4_renewal_failed"]]  # far from expiry, but the renewal failed
    assert renewal.status == Status.FAIL
    assert "managed renewal FAILED: CAA_ERROR" in renewal.reason

    unused = results[ARN["5_unused"]]  # expires tomorrow, but nothing uses it
    assert unused.status == Status.NOT_APPLICABLE
    assert unused.reason == "not in use by any AWS resource"
    pending = results[ARN["6_pending"]]
    assert pending.status == Status.NOT_APPLICABLE
    assert pending.observed["days_to_expiry"] is None


def test_certificate_expiry_threshold():
    results = by_resource(run_check(CHECK, acm_bundle(), {"min_days_to_expiry": 10}))
    assert results[ARN["2_expiring"]].status == Status.PASS
    results = by_resource(run_check(CHECK, acm_bundle(), {"min_days_to_expiry": 365}))
    assert results[ARN["1_valid"]].status == Status.FAIL


def test_certificate_expiry_unused_with_failed_renewal_is_still_not_applicable():
    cert = fixture("aws/acm/describe_certificate_5_unused.json")
    cert["Certificate"]["RenewalSummary"] = {"RenewalStatus": "FAILED", "RenewalStatusReason": "DOMAIN_NOT_ALLOWED"}
    result = by_resource(run_check(CHECK, acm_bundle(certs={"5_unused": cert})))[ARN["5_unused"]]
    assert result.status == Status.NOT_APPLICABLE
    assert "renewal failed: DOMAIN_NOT_ALLOWED" in result.reason


def test_certificate_expiry_in_use_without_not_after_fails():
    cert = fixture("aws/acm/describe_certificate_1_valid.json")
    del cert["Certificate"]["NotAfter"]
    result = by_resource(run_check(CHECK, acm_bundle(certs={"1_valid": cert})))[ARN["1_valid"]]
    assert result.status == Status.FAIL
    assert "no expiry date" in result.reason


def test_certificate_expiry_listing_denied_is_one_error():
    bundle = bundle_from_calls(SCOPE, [("acm", "ListCertificates", LIST_PARAMS, Fail("AccessDeniedException"))])
    (err,) = run_check(CHECK, bundle)
    assert (err.status, err.resource_id) == (Status.ERROR, "*")
    assert err.observed["missing_permission"] == "acm:ListCertificates"


def test_certificate_expiry_second_page_failure_keeps_first_page():
    results = by_resource(run_check(CHECK, acm_bundle(page2=Fail("ThrottlingException"))))
    assert set(results) == {"*", ARN["1_valid"], ARN["2_expiring"], ARN["3_expired"]}


def test_certificate_expiry_describe_denied_or_missing_errors_only_that_certificate():
    bundle = acm_bundle(certs={"1_valid": Fail("AccessDeniedException"), "4_renewal_failed": MISSING})
    results = by_resource(run_check(CHECK, bundle))
    assert results[ARN["1_valid"]].status == Status.ERROR
    assert results[ARN["1_valid"]].observed["missing_permission"] == "acm:DescribeCertificate"
    assert results[ARN["4_renewal_failed"]].observed["error_code"] == "NotCollected"
    assert results[ARN["3_expired"]].status == Status.FAIL
