"""Endpoint discovery from recorded cloud evidence (pure)."""

from __future__ import annotations

from collectors.endpoint.discovery import discover_endpoints
from collectors.evidence import Scope
from tests.helpers import ACCOUNT, Fail, bundle_from_calls

LB_PUBLIC = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/1"
LB_INTERNAL = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/internal/2"


def elbv2_bundle():
    return bundle_from_calls(
        Scope("aws", ACCOUNT, "us-east-1", "aws.elbv2"),
        [
            (
                "elbv2",
                "DescribeLoadBalancers",
                {},
                {
                    "LoadBalancers": [
                        {
                            "LoadBalancerArn": LB_PUBLIC,
                            "LoadBalancerName": "web",
                            "Scheme": "internet-facing",
                            "DNSName": "Web-1.us-east-1.elb.amazonaws.com",
                        },
                        {
                            "LoadBalancerArn": LB_INTERNAL,
                            "LoadBalancerName": "internal",
                            "Scheme": "internal",
                            "DNSName": "internal-2.us-east-1.elb.amazonaws.com",
                        },
                    ]
                },
            ),
            (
                "elbv2",
                "DescribeListeners",
                {"LoadBalancerArn": LB_PUBLIC},
                {
                    "Listeners": [
                        {"LoadBalancerArn": LB_PUBLIC, "Protocol": "HTTPS", "Port": 443},
                        {"LoadBalancerArn": LB_PUBLIC, "Protocol": "HTTPS", "Port": 8443},
                        {"LoadBalancerArn": LB_PUBLIC, "Protocol": "HTTP", "Port": 80},
                    ]
                },
            ),
            (
                "elbv2",
                "DescribeListeners",
                {"LoadBalancerArn": LB_INTERNAL},
                {
                    "Listeners": [
                        {"LoadBalancerArn": LB_INTERNAL, "Protocol": "HTTPS", "Port": 443},
                    ]
                },
            ),
        ],
    )


def test_public_https_and_tls_listeners_of_internet_facing_load_balancers() -> None:
    found = discover_endpoints([elbv2_bundle()])
    assert [(d.host, d.port) for d in found] == [
        ("web-1.us-east-1.elb.amazonaws.com", 443),
        ("web-1.us-east-1.elb.amazonaws.com", 8443),
    ]
    assert found[0].source == f"aws.elbv2 {ACCOUNT}/us-east-1 web"


def test_cloudfront_domains_and_aliases_of_enabled_distributions_and_api_domains() -> None:
    cloudfront = bundle_from_calls(
        Scope("aws", ACCOUNT, "global", "aws.cloudfront"),
        [
            (
                "cloudfront",
                "ListDistributions",
                {},
                {
                    "DistributionList": {
                        "Items": [
                            {
                                "Id": "E1",
                                "Enabled": True,
                                "DomainName": "d1.cloudfront.net",
                                "Aliases": {"Quantity": 2, "Items": ["app.dexo.chat", "*.dexo.chat"]},
                            },
                            {"Id": "E2", "Enabled": False, "DomainName": "d2.cloudfront.net"},
                        ]
                    }
                },
            )
        ],
    )
    api = bundle_from_calls(
        Scope("aws", ACCOUNT, "eu-west-1", "aws.apigateway"),
        [
            ("apigateway", "GetDomainNames", {"limit": 500}, {"items": [{"domainName": "api.dexo.chat"}]}),
            ("apigatewayv2", "GetDomainNames", {"MaxResults": "500"}, {"Items": [{"DomainName": "API.dexo.chat"}]}),
        ],
    )
    found = discover_endpoints([cloudfront, api, elbv2_bundle()])
    labels = [d.label for d in found]
    assert "app.dexo.chat:443" in labels and "d1.cloudfront.net:443" in labels
    assert "d2.cloudfront.net:443" not in labels, "disabled distributions serve nothing"
    assert not any(label.startswith("*.") for label in labels), "a wildcard is not a host to scan"
    assert labels.count("api.dexo.chat:443") == 1, "one scan per (host, port)"


def test_a_failed_listing_discovers_nothing_and_invents_nothing() -> None:
    failed = bundle_from_calls(
        Scope("aws", ACCOUNT, "us-east-1", "aws.elbv2"),
        [("elbv2", "DescribeLoadBalancers", {}, Fail("AccessDenied"))],
    )
    assert discover_endpoints([failed]) == []
