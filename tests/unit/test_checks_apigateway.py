"""aws.apigateway.tls_policy on recorded evidence."""

from __future__ import annotations

from typing import Any

from controls import Status
from tests.helpers import Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

CHECK = "aws.apigateway.tls_policy"
SCOPE = scope("aws.apigateway")
REST1 = fixture("aws/apigateway/get_domain_names.json")
REST2 = fixture("aws/apigateway/get_domain_names_page2.json")
HTTP = fixture("aws/apigateway/v2_get_domain_names.json")


def api_bundle(*, rest2: Any = REST2, http: Any = HTTP, rest1: Any = REST1):
    calls = [
        ("apigateway", "GetDomainNames", {"limit": 500}, rest1),
        ("apigatewayv2", "GetDomainNames", {"MaxResults": "500"}, http),
    ]
    if not isinstance(rest1, Fail):
        calls.append(("apigateway", "GetDomainNames", {"limit": 500, "position": "page-2-position"}, rest2))
    return bundle_from_calls(SCOPE, calls)


def test_tls_policy_rest_and_http_domains_one_result_per_domain():
    results = by_resource(run_check(CHECK, api_bundle()))
    assert set(results) == {
        "api.acme.example",
        "legacy-api.acme.example",
        "private.acme.example+abc1234567",
        "nopolicy.acme.example",
        "edge.acme.example",
        "ws.acme.example",
    }
    shared = results["api.acme.example"]  # listed by both APIs: one result
    assert shared.status == Status.PASS
    assert shared.observed["apis"] == ["REST (apigateway)", "HTTP/WebSocket (apigatewayv2)"]
    assert shared.observed["security_policies"] == ["TLS_1_2"]
    assert ref_ops(shared) == {"apigateway.GetDomainNames", "apigatewayv2.GetDomainNames"}
    assert shared.resource_type == "AWS::ApiGateway::DomainName"

    legacy = results["legacy-api.acme.example"]
    assert legacy.status == Status.FAIL
    assert legacy.reason == "security policy TLS_1_0"
    assert legacy.observed["endpoint_types"] == ["EDGE"]
    assert ref_ops(legacy) == {"apigateway.GetDomainNames"}

    assert results["private.acme.example+abc1234567"].status == Status.PASS  # enhanced TLS 1.3 policy
    assert results["edge.acme.example"].status == Status.PASS  # page 2, SecurityPolicy_TLS12_2018_EDGE
    assert results["ws.acme.example"].status == Status.FAIL  # HTTP API domain on TLS_1_0
    nopolicy = results["nopolicy.acme.example"]
    assert nopolicy.status == Status.FAIL
    assert "no security policy reported" in nopolicy.reason


def test_tls_policy_forbidden_threshold():
    results = by_resource(run_check(CHECK, api_bundle(), {"forbidden_security_policies": ["TLS_1_0", "TLS_1_2"]}))
    assert results["api.acme.example"].status == Status.FAIL
    assert results["edge.acme.example"].status == Status.PASS


def test_tls_policy_v2_domain_without_configurations_fails():
    http = {"Items": [{"DomainName": "empty.acme.example", "DomainNameConfigurations": []}]}
    result = by_resource(run_check(CHECK, api_bundle(http=http)))["empty.acme.example"]
    assert result.status == Status.FAIL


def test_tls_policy_one_listing_denied_the_other_still_assessed():
    results = by_resource(run_check(CHECK, api_bundle(rest1=Fail("AccessDeniedException"))))
    assert results["*"].status == Status.ERROR
    assert results["*"].observed["operation"] == "apigateway:GetDomainNames"
    assert results["*"].observed["missing_permission"] == "apigateway:GET"
    assert set(results) == {"*", "api.acme.example", "ws.acme.example"}


def test_tls_policy_both_listings_denied_are_two_errors():
    bundle = bundle_from_calls(
        SCOPE,
        [
            ("apigateway", "GetDomainNames", {"limit": 500}, Fail("AccessDeniedException")),
            ("apigatewayv2", "GetDomainNames", {"MaxResults": "500"}, Fail("AccessDeniedException")),
        ],
    )
    results = run_check(CHECK, bundle)
    assert [(r.status, r.resource_id, r.observed["operation"]) for r in results] == [
        (Status.ERROR, "*", "apigateway:GetDomainNames"),
        (Status.ERROR, "*", "apigatewayv2:GetDomainNames"),
    ]


def test_tls_policy_second_page_failure_and_unrecorded_listing():
    results = by_resource(run_check(CHECK, api_bundle(rest2=Fail("TooManyRequestsException"))))
    assert results["*"].status == Status.ERROR
    assert "edge.acme.example" not in results
    bundle = bundle_from_calls(SCOPE, [("apigateway", "GetDomainNames", {"limit": 500}, {"items": []})])
    (err,) = run_check(CHECK, bundle)
    assert err.observed["error_code"] == "NotCollected"
    assert err.observed["operation"] == "apigatewayv2:GetDomainNames"
