"""aws.elb.tls_listener (Classic Load Balancers) on recorded evidence."""

from __future__ import annotations

from typing import Any

from controls import Status
from tests.helpers import Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

CHECK = "aws.elb.tls_listener"
SCOPE = scope("aws.elb")
PAGE1 = fixture("aws/elb/describe_load_balancers_page1.json")
PAGE2 = fixture("aws/elb/describe_load_balancers_page2.json")
POLICIES = {
    "acme-modern": fixture("aws/elb/describe_load_balancer_policies_modern.json"),
    "acme-old": fixture("aws/elb/describe_load_balancer_policies_old.json"),
    "acme-custom": fixture("aws/elb/describe_load_balancer_policies_custom.json"),
    "acme-nopolicy": fixture("aws/elb/describe_load_balancer_policies_none.json"),
}
MISSING = object()


def elb_bundle(*, page1: Any = PAGE1, page2: Any = PAGE2, policies: dict[str, Any] | None = None):
    policies = {**POLICIES, **(policies or {})}
    calls: list[tuple[str, str, dict[str, Any], Any]] = [("elb", "DescribeLoadBalancers", {"PageSize": 400}, page1)]
    calls.append(("elb", "DescribeLoadBalancers", {"PageSize": 400, "Marker": "clb-page-2"}, page2))
    for name, answer in policies.items():
        if answer is not MISSING:
            calls.append(("elb", "DescribeLoadBalancerPolicies", {"LoadBalancerName": name}, answer))
    return bundle_from_calls(SCOPE, calls)


def test_tls_listener_every_classic_load_balancer():
    results = by_resource(run_check(CHECK, elb_bundle()))
    assert set(results) == {"acme-modern", "acme-old", "acme-plain", "acme-custom", "acme-nopolicy"}

    modern = results["acme-modern"]
    assert modern.status == Status.PASS
    assert modern.resource_type == "AWS::ElasticLoadBalancing::LoadBalancer"
    assert modern.observed["tls_listeners"][0]["reference_policy"] == "ELBSecurityPolicy-TLS-1-2-2017-01"
    assert modern.observed["tls_listeners"][0]["protocols"] == ["TLSv1.2"]
    assert modern.observed["plain_listeners"] == ["HTTP:80"]
    assert "plain listeners also present: HTTP:80" in modern.reason
    assert ref_ops(modern) == {"elb.DescribeLoadBalancers", "elb.DescribeLoadBalancerPolicies"}

    old = results["acme-old"]  # SSL listener on the 2016-08 reference policy; a stickiness policy is ignored
    assert old.status == Status.FAIL
    assert "SSL:5223: reference policy ELBSecurityPolicy-2016-08 is not one of" in old.reason
    assert "enables TLSv1, TLSv1.1" in old.reason

    plain = results["acme-plain"]
    assert plain.status == Status.FAIL
    assert plain.reason == "no HTTPS/SSL listener: every front end is plain HTTP:80, TCP:25"
    assert plain.observed["scheme"] == "internal"
    assert ref_ops(plain) == {"elb.DescribeLoadBalancers"}

    custom = results["acme-custom"]  # custom policy: TLSv1.2 only, no weak cipher enabled
    assert custom.status == Status.PASS
    assert custom.observed["tls_listeners"][0]["reference_policy"] is None
    assert custom.observed["tls_listeners"][0]["policy"] == "custom-tls12"

    nopolicy = results["acme-nopolicy"]
    assert nopolicy.status == Status.FAIL
    assert "no SSL negotiation policy (AWS applies ELBSecurityPolicy-2016-08" in nopolicy.reason


def test_tls_listener_accepted_policies_threshold_and_plain_listeners_threshold():
    thresholds = {"accepted_reference_policies": ["ELBSecurityPolicy-2016-08"], "min_tls_version": "TLSv1"}
    results = by_resource(run_check(CHECK, elb_bundle(), thresholds))
    assert results["acme-old"].status == Status.PASS
    assert results["acme-modern"].status == Status.FAIL  # TLS-1-2-2017-01 not in the list any more
    results = by_resource(run_check(CHECK, elb_bundle(), {"fail_on_plain_listeners": True}))
    assert results["acme-modern"].status == Status.FAIL
    assert "plain listeners HTTP:80" in results["acme-modern"].reason


def test_tls_listener_custom_policy_with_weak_protocol_or_cipher_fails():
    weak = fixture("aws/elb/describe_load_balancer_policies_custom.json")
    attrs = weak["PolicyDescriptions"][0]["PolicyAttributeDescriptions"]
    for a in attrs:
        if a["AttributeName"] in ("Protocol-TLSv1.1", "RC4-SHA"):
            a["AttributeValue"] = "true"
    result = by_resource(run_check(CHECK, elb_bundle(policies={"acme-custom": weak})))["acme-custom"]
    assert result.status == Status.FAIL
    assert "enables TLSv1.1" in result.reason
    assert "RC4-SHA (RC4)" in result.reason


def test_tls_listener_custom_policy_without_protocols_fails():
    empty = {"PolicyDescriptions": [{"PolicyName": "custom-tls12", "PolicyTypeName": "SSLNegotiationPolicyType"}]}
    result = by_resource(run_check(CHECK, elb_bundle(policies={"acme-custom": empty})))["acme-custom"]
    assert result.status == Status.FAIL
    assert "TLS configuration unknown" in result.reason


def test_tls_listener_listing_denied_is_one_error():
    bundle = bundle_from_calls(SCOPE, [("elb", "DescribeLoadBalancers", {"PageSize": 400}, Fail("AccessDenied"))])
    (err,) = run_check(CHECK, bundle)
    assert (err.status, err.resource_id) == (Status.ERROR, "*")
    assert err.observed["missing_permission"] == "elasticloadbalancing:DescribeLoadBalancers"


def test_tls_listener_second_page_failure_keeps_first_page():
    results = by_resource(run_check(CHECK, elb_bundle(page2=Fail("Throttling"))))
    assert set(results) == {"*", "acme-modern", "acme-old"}


def test_tls_listener_policies_denied_or_missing_errors_only_that_load_balancer():
    bundle = elb_bundle(policies={"acme-old": Fail("AccessDenied"), "acme-custom": MISSING})
    results = by_resource(run_check(CHECK, bundle))
    assert results["acme-old"].status == Status.ERROR
    assert results["acme-old"].observed["missing_permission"] == "elasticloadbalancing:DescribeLoadBalancerPolicies"
    assert results["acme-custom"].observed["error_code"] == "NotCollected"
    assert results["acme-modern"].status == Status.PASS


def test_tls_listener_policy_named_but_not_described_is_an_error():
    result = by_resource(run_check(CHECK, elb_bundle(policies={"acme-modern": {"PolicyDescriptions": []}})))
    assert result["acme-modern"].status == Status.ERROR
    assert result["acme-modern"].observed["error_code"] == "PolicyNotDescribed"
