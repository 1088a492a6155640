"""Endpoint discovery: the public TLS endpoints that the cloud evidence of
the same run names, so the live scans cover what the company actually
exposes, not only what someone remembered to list in the config.

Pure functions of recorded evidence (EvidenceBundles of the aws.elbv2,
aws.cloudfront and aws.apigateway collectors); nothing is called here.
Sources:
- internet-facing ALB/NLB: the load balancer's DNS name, on each HTTPS/TLS listener port;
- CloudFront: each enabled distribution's domain name and its aliases, port 443;
- API Gateway custom domain names (REST and HTTP APIs), port 443.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from collectors.evidence import EvidenceBundle


@dataclass(frozen=True)
class DiscoveredEndpoint:
    host: str
    port: int
    source: str  # e.g. "aws.elbv2 111111111111/us-east-1 app/web/123"

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"


def _elbv2(bundle: EvidenceBundle) -> Iterable[DiscoveredEndpoint]:
    lbs = {}
    for page in bundle.all("elbv2", "DescribeLoadBalancers"):
        for lb in (page.response or {}).get("LoadBalancers", []):
            # AWS's default scheme is internet-facing (an answer without one is read so)
            if lb.get("Scheme", "internet-facing") == "internet-facing" and lb.get("DNSName"):
                lbs[lb["LoadBalancerArn"]] = lb
    where = f"{bundle.scope.account}/{bundle.scope.region}"
    for page in bundle.all("elbv2", "DescribeListeners"):
        for listener in (page.response or {}).get("Listeners", []):
            lb = lbs.get(listener.get("LoadBalancerArn", ""))
            if lb and listener.get("Protocol") in ("HTTPS", "TLS") and listener.get("Port"):
                name = lb.get("LoadBalancerName", lb["LoadBalancerArn"])
                yield DiscoveredEndpoint(lb["DNSName"].lower(), int(listener["Port"]), f"aws.elbv2 {where} {name}")


def _cloudfront(bundle: EvidenceBundle) -> Iterable[DiscoveredEndpoint]:
    for page in bundle.all("cloudfront", "ListDistributions"):
        items = ((page.response or {}).get("DistributionList") or {}).get("Items") or []
        for dist in items:
            if not dist.get("Enabled", True):
                continue
            source = f"aws.cloudfront {bundle.scope.account} {dist.get('Id', '')}"
            names = [dist.get("DomainName"), *((dist.get("Aliases") or {}).get("Items") or [])]
            for name in names:
                if name and not name.startswith("*."):
                    yield DiscoveredEndpoint(name.lower(), 443, source)


def _apigateway(bundle: EvidenceBundle) -> Iterable[DiscoveredEndpoint]:
    where = f"{bundle.scope.account}/{bundle.scope.region}"
    for page in bundle.all("apigateway", "GetDomainNames"):
        for item in (page.response or {}).get("items", []):
            if item.get("domainName") and not item["domainName"].startswith("*."):
                yield DiscoveredEndpoint(item["domainName"].lower(), 443, f"aws.apigateway {where} REST")
    for page in bundle.all("apigatewayv2", "GetDomainNames"):
        for item in (page.response or {}).get("Items", []):
            if item.get("DomainName") and not item["DomainName"].startswith("*."):
                yield DiscoveredEndpoint(item["DomainName"].lower(), 443, f"aws.apigateway {where} HTTP API")


_SOURCES = {"aws.elbv2": _elbv2, "aws.cloudfront": _cloudfront, "aws.apigateway": _apigateway}
DISCOVERY_COLLECTORS = frozenset(_SOURCES)


def discover_endpoints(bundles: Iterable[EvidenceBundle]) -> list[DiscoveredEndpoint]:
    """Every public endpoint the bundles name, once per (host, port), in a stable order."""
    found: dict[tuple[str, int], DiscoveredEndpoint] = {}
    for bundle in bundles:
        source = _SOURCES.get(bundle.scope.collector)
        if source is None:
            continue
        for ep in source(bundle):
            found.setdefault((ep.host, ep.port), ep)
    return [found[k] for k in sorted(found)]
