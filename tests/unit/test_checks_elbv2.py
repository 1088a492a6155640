"""aws.elbv2.tls_policy and aws.elbv2.https_redirect on recorded evidence."""

from __future__ import annotations

from typing import Any

import pytest

from collectors.aws.elbv2 import assess_tls, classify_action, weak_cipher_reason
from controls import Status
from tests.helpers import Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

TLS = "aws.elbv2.tls_policy"
REDIRECT = "aws.elbv2.https_redirect"
SCOPE = scope("aws.elbv2")
PAGE1 = fixture("aws/elbv2/describe_load_balancers_page1.json")
PAGE2 = fixture("aws/elbv2/describe_load_balancers_page2.json")
LISTENERS = {
    "acme-web": fixture("aws/elbv2/describe_listeners_web.json"),
    "acme-xmpp": fixture("aws/elbv2/describe_listeners_xmpp.json"),
    "acme-legacy": fixture("aws/elbv2/describe_listeners_legacy.json"),
    "acme-idle": fixture("aws/elbv2/describe_listeners_empty.json"),
}
POLICIES = fixture("aws/elbv2/describe_ssl_policies.json")
FIPS = fixture("aws/elbv2/describe_ssl_policies_fips.json")
FIPS_NAME = "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04"
LB = {lb["LoadBalancerName"]: lb["LoadBalancerArn"] for p in (PAGE1, PAGE2) for lb in p["LoadBalancers"]}
L = {
    (x["LoadBalancerArn"].split("/")[2], x["Port"]): x["ListenerArn"]
    for v in LISTENERS.values()
    for x in v["Listeners"]
}
WEB_443, WEB_80 = L["acme-web", 443], L["acme-web", 80]
LEG_443, LEG_80, LEG_8080 = L["acme-legacy", 443], L["acme-legacy", 80], L["acme-legacy", 8080]
XMPP_TLS, XMPP_TCP = L["acme-xmpp", 5223], L["acme-xmpp", 5222]
RULES = {
    WEB_80: fixture("aws/elbv2/describe_rules_web_http.json"),
    LEG_80: fixture("aws/elbv2/describe_rules_legacy_http.json"),
    LEG_8080: fixture("aws/elbv2/describe_rules_legacy_8080.json"),
}
MISSING = object()


def elbv2_bundle(
    *,
    page2: Any = PAGE2,
    listeners: dict[str, Any] | None = None,
    policies: Any = POLICIES,
    fips: Any = FIPS,
    rules: dict[str, Any] | None = None,
):
    listeners = {**LISTENERS, **(listeners or {})}
    rules = {**RULES, **(rules or {})}
    calls: list[tuple[str, str, dict[str, Any], Any]] = [("elbv2", "DescribeLoadBalancers", {"PageSize": 400}, PAGE1)]
    names = [lb["LoadBalancerName"] for lb in PAGE1["LoadBalancers"]]
    calls.append(("elbv2", "DescribeLoadBalancers", {"PageSize": 400, "Marker": "page-2-marker"}, page2))
    if not isinstance(page2, Fail):
        names += [lb["LoadBalancerName"] for lb in page2["LoadBalancers"]]
    for name in names:
        if listeners[name] is not MISSING:
            calls.append(
                ("elbv2", "DescribeListeners", {"LoadBalancerArn": LB[name], "PageSize": 400}, listeners[name])
            )
    if policies is not MISSING:
        calls.append(("elbv2", "DescribeSSLPolicies", {"PageSize": 400}, policies))
    if fips is not MISSING:
        calls.append(("elbv2", "DescribeSSLPolicies", {"Names": [FIPS_NAME]}, fips))
    for arn, answer in rules.items():
        if answer is not MISSING:
            calls.append(("elbv2", "DescribeRules", {"ListenerArn": arn, "PageSize": 400}, answer))
    return bundle_from_calls(SCOPE, calls)


# --- aws.elbv2.tls_policy ---


def test_tls_policy_every_listener_of_every_load_balancer_across_pages():
    results = by_resource(run_check(TLS, elbv2_bundle()))
    assert set(results) == {WEB_443, WEB_80, XMPP_TLS, XMPP_TCP, LEG_443, LEG_80, LEG_8080, LB["acme-idle"]}

    web = results[WEB_443]
    assert web.status == Status.PASS
    assert web.resource_type == "AWS::ElasticLoadBalancingV2::Listener"
    assert web.observed["policy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert web.observed["protocols"] == ["TLSv1.3", "TLSv1.2"]
    assert web.observed["ciphers"][0] == "TLS_AES_128_GCM_SHA256"
    assert web.observed["load_balancer"] == "acme-web"
    assert web.observed["port"] == 443
    assert ref_ops(web) == {"elbv2.DescribeLoadBalancers", "elbv2.DescribeListeners", "elbv2.DescribeSSLPolicies"}

    legacy = results[LEG_443]  # ELBSecurityPolicy-2016-08 allows TLS 1.0 and 1.1
    assert legacy.status == Status.FAIL
    assert legacy.observed["weak_protocols"] == ["TLSv1", "TLSv1.1"]
    assert "allows TLSv1, TLSv1.1 (minimum TLSv1.2)" in legacy.reason
    assert legacy.observed["weak_ciphers"] == {}  # CBC-SHA1 only with forbid_cbc_sha1

    nlb = results[XMPP_TLS]  # TLS listener; policy resolved by the Names=[...] call
    assert nlb.status == Status.PASS
    assert nlb.observed["protocol"] == "TLS"
    assert nlb.observed["load_balancer_type"] == "network"

    assert results[XMPP_TCP].status == Status.NOT_APPLICABLE
    assert "TCP listener" in results[XMPP_TCP].reason
    for arn in (WEB_80, LEG_80, LEG_8080):
        assert results[arn].status == Status.NOT_APPLICABLE
        assert "aws.elbv2.https_redirect" in results[arn].reason
    idle = results[LB["acme-idle"]]
    assert idle.status == Status.NOT_APPLICABLE
    assert idle.resource_type == "AWS::ElasticLoadBalancingV2::LoadBalancer"
    assert idle.reason == "load balancer has no listeners"


def test_tls_policy_forbid_cbc_sha1_threshold():
    results = by_resource(run_check(TLS, elbv2_bundle(), {"forbid_cbc_sha1": True}))
    assert results[WEB_443].status == Status.PASS  # TLS13-1-2-2021-06 has no SHA-1 suite
    legacy = results[LEG_443]
    assert legacy.observed["weak_ciphers"]["ECDHE-RSA-AES128-SHA"] == "CBC mode with SHA-1"
    assert "AES256-SHA256" not in legacy.observed["weak_ciphers"]
    assert "weak ciphers" in legacy.reason


def test_tls_policy_min_tls_version_threshold():
    results = by_resource(run_check(TLS, elbv2_bundle(), {"min_tls_version": "TLSv1.3"}))
    assert results[WEB_443].status == Status.FAIL
    assert results[WEB_443].observed["weak_protocols"] == ["TLSv1.2"]
    results = by_resource(run_check(TLS, elbv2_bundle(), {"min_tls_version": "TLSv1"}))
    assert results[LEG_443].status == Status.PASS


def test_tls_policy_weak_ciphers_fail():
    weak = fixture("aws/elbv2/describe_ssl_policies_legacy_weak.json")
    weak["SslPolicies"][0]["SslProtocols"] = ["TLSv1.2"]
    listeners = {
        "acme-web": {"Listeners": [{**LISTENERS["acme-web"]["Listeners"][0], "SslPolicy": "ELBSecurityPolicy-2015-05"}]}
    }
    bundle = elbv2_bundle(listeners=listeners, fips={"SslPolicies": FIPS["SslPolicies"] + weak["SslPolicies"]})
    result = by_resource(run_check(TLS, bundle))[WEB_443]
    assert result.status == Status.FAIL
    assert result.observed["weak_ciphers"] == {"DES-CBC3-SHA": "3DES/DES", "RC4-MD5": "RC4"}
    assert "DES-CBC3-SHA (3DES/DES)" in result.reason


def test_tls_policy_listing_access_denied_is_one_error():
    bundle = bundle_from_calls(SCOPE, [("elbv2", "DescribeLoadBalancers", {"PageSize": 400}, Fail("AccessDenied"))])
    for check_id in (TLS, REDIRECT):
        (err,) = run_check(check_id, bundle)
        assert err.status == Status.ERROR
        assert err.resource_id == "*"
        assert err.observed["missing_permission"] == "elasticloadbalancing:DescribeLoadBalancers"


def test_tls_policy_second_page_failure_keeps_first_page():
    results = by_resource(run_check(TLS, elbv2_bundle(page2=Fail("InternalError"))))
    assert results["*"].status == Status.ERROR
    assert results[WEB_443].status == Status.PASS
    assert LEG_443 not in results


def test_tls_policy_listeners_denied_errors_only_that_load_balancer():
    bundle = elbv2_bundle(listeners={"acme-legacy": Fail("AccessDenied")})
    results = by_resource(run_check(TLS, bundle))
    err = results[LB["acme-legacy"]]
    assert err.status == Status.ERROR
    assert err.resource_type == "AWS::ElasticLoadBalancingV2::LoadBalancer"
    assert err.observed["missing_permission"] == "elasticloadbalancing:DescribeListeners"
    assert results[WEB_443].status == Status.PASS
    assert LEG_443 not in results
    redirect = by_resource(run_check(REDIRECT, bundle))
    assert redirect[LB["acme-legacy"]].status == Status.ERROR


def test_tls_policy_listeners_not_recorded_is_an_error():
    results = by_resource(run_check(TLS, elbv2_bundle(listeners={"acme-idle": MISSING})))
    assert results[LB["acme-idle"]].status == Status.ERROR
    assert results[LB["acme-idle"]].observed["error_code"] == "NotCollected"


def test_tls_policy_ssl_policies_denied_errors_tls_listeners_only():
    results = by_resource(run_check(TLS, elbv2_bundle(policies=Fail("AccessDenied"), fips=MISSING)))
    for arn in (WEB_443, LEG_443, XMPP_TLS):
        assert results[arn].status == Status.ERROR, arn
        assert results[arn].observed["missing_permission"] == "elasticloadbalancing:DescribeSSLPolicies"
    assert results[XMPP_TCP].status == Status.NOT_APPLICABLE


def test_tls_policy_unknown_policy_name_is_an_error_not_a_pass():
    results = by_resource(run_check(TLS, elbv2_bundle(fips={"SslPolicies": []})))
    assert results[XMPP_TLS].status == Status.ERROR
    assert results[XMPP_TLS].observed["error_code"] == "SSLPolicyNotDescribed"
    results = by_resource(run_check(TLS, elbv2_bundle(fips=Fail("SSLPolicyNotFound"))))
    assert results[XMPP_TLS].observed["error_code"] == "SSLPolicyNotFound"
    assert results[XMPP_TLS].observed["required_permission"] == "elasticloadbalancing:DescribeSSLPolicies"


def test_tls_policy_listener_without_policy_fails():
    listener = {**LISTENERS["acme-web"]["Listeners"][0]}
    del listener["SslPolicy"]
    result = by_resource(run_check(TLS, elbv2_bundle(listeners={"acme-web": {"Listeners": [listener]}})))[WEB_443]
    assert result.status == Status.FAIL
    assert result.reason == "HTTPS listener has no SSL policy"


# --- aws.elbv2.https_redirect ---


def test_https_redirect_only_http_listeners_are_the_population():
    results = by_resource(run_check(REDIRECT, elbv2_bundle()))
    assert set(results) == {WEB_80, LEG_80, LEG_8080}

    web = results[WEB_80]  # default redirect + a fixed-response rule
    assert web.status == Status.PASS
    assert web.observed["default_action"] == "redirect to HTTPS"
    assert web.observed["rules"][0]["action"] == "fixed response (nothing forwarded)"
    assert ref_ops(web) == {"elbv2.DescribeLoadBalancers", "elbv2.DescribeListeners", "elbv2.DescribeRules"}

    forward = results[LEG_80]
    assert forward.status == Status.FAIL
    assert "default action: forward over plain HTTP" in forward.reason

    rules = results[LEG_8080]  # default redirects, but one rule forwards (after OIDC) and one keeps HTTP
    assert rules.status == Status.FAIL
    assert "rule priority 5: forward over plain HTTP" in rules.reason
    assert "rule priority 7: redirect keeping #{protocol} (not HTTPS)" in rules.reason
    assert rules.observed["default_action"] == "redirect to HTTPS"


def test_https_redirect_fixed_response_threshold():
    results = by_resource(run_check(REDIRECT, elbv2_bundle(), {"allow_fixed_response": False}))
    assert results[WEB_80].status == Status.FAIL
    assert "rule priority 10: fixed response" in results[WEB_80].reason


def test_https_redirect_rules_denied_or_missing_errors_that_listener():
    results = by_resource(run_check(REDIRECT, elbv2_bundle(rules={LEG_80: Fail("AccessDenied"), WEB_80: MISSING})))
    assert results[LEG_80].status == Status.ERROR
    assert results[LEG_80].observed["missing_permission"] == "elasticloadbalancing:DescribeRules"
    assert results[WEB_80].status == Status.ERROR
    assert results[WEB_80].observed["error_code"] == "NotCollected"
    assert results[LEG_8080].status == Status.FAIL


def test_https_redirect_no_http_listeners_means_no_results():
    bundle = bundle_from_calls(
        SCOPE,
        [
            ("elbv2", "DescribeLoadBalancers", {"PageSize": 400}, {"LoadBalancers": PAGE1["LoadBalancers"][1:]}),
            (
                "elbv2",
                "DescribeListeners",
                {"LoadBalancerArn": LB["acme-xmpp"], "PageSize": 400},
                LISTENERS["acme-xmpp"],
            ),
        ],
    )
    assert run_check(REDIRECT, bundle) == []


@pytest.mark.parametrize(
    ("cipher", "why"),
    [
        ("NULL-SHA", "NULL cipher"),
        ("EXP-RC4-MD5", "EXPORT cipher"),
        ("RC4-SHA", "RC4"),
        ("ECDHE-RSA-DES-CBC3-SHA", "3DES/DES"),
        ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", "3DES/DES"),
        ("ADH-AES128-SHA", "anonymous key exchange"),
        ("AECDH-AES256-SHA", "anonymous key exchange"),
        ("ECDHE-RSA-AES128-GCM-SHA256", None),
        ("TLS_AES_256_GCM_SHA384", None),
        ("AES128-SHA", None),
    ],
)
def test_weak_cipher_reason(cipher, why):
    assert weak_cipher_reason(cipher) == why


def test_assess_tls_and_classify_action_helpers():
    assert assess_tls(["SSLv3", "TLSv1.2"], [], "TLSv1.2", False) == (["SSLv3"], {})
    assert assess_tls(["TLSv1.2"], ["AES128-SHA"], "TLSv1.2", True) == ([], {"AES128-SHA": "CBC mode with SHA-1"})
    assert classify_action([], True) == (False, "no action")
    redirect = {"Type": "redirect", "RedirectConfig": {"Protocol": "https"}}
    assert classify_action([redirect], True) == (True, "redirect to HTTPS")
