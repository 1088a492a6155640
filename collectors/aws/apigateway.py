"""API Gateway custom domain names: the TLS security policy.

REST API domains come from apigateway GetDomainNames (securityPolicy), HTTP/WebSocket API domains from
apigatewayv2 GetDomainNames (DomainNameConfigurations[].SecurityPolicy). A custom domain name is one
resource shared by both APIs (a regional domain is listed by both), so results are keyed by domain name
(plus "+<domainNameId>" for private REST domains): one result per domain, with what each API reported.

A domain passes when every reported security policy is TLS 1.2 or stricter (TLS_1_2 and the
SecurityPolicy_TLS12*/TLS13* enhanced policies) and fails on a forbidden policy (TLS_1_0) or when no
policy is reported at all (TLS 1.2 cannot be shown).

API cost per region: apigateway GetDomainNames 1 call per 500 domains; apigatewayv2 GetDomainNames 1 call
per 500 domains.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from collectors.evidence import ApiCall, ApiError, EvidenceBundle, listing_error
from collectors.registry import CheckContext, CollectorSpec, FetchContext, check, register_collector
from controls import CheckResult, Severity

OPERATIONS = {
    "apigateway:GetDomainNames": "apigateway:GET",
    "apigatewayv2:GetDomainNames": "apigateway:GET",
}
PAGE_SIZE = 500


def fetch(ctx: FetchContext) -> None:
    rec = ctx.recorder
    rest = ctx.client("apigateway")
    rec.paginate("apigateway", "GetDomainNames", rest.get_domain_names, "position", "position", limit=PAGE_SIZE)
    http = ctx.client("apigatewayv2")
    rec.paginate(
        "apigatewayv2", "GetDomainNames", http.get_domain_names, "NextToken", "NextToken", MaxResults=str(PAGE_SIZE)
    )


register_collector(
    CollectorSpec(
        id="aws.apigateway",
        provider="aws",
        service="apigateway",
        per_region=True,
        operations=OPERATIONS,
        fetch=fetch,
        description="API Gateway custom domain names (REST and HTTP/WebSocket APIs) and their TLS policies",
    )
)


def _missing_listing(service: str) -> ApiCall:
    error = ApiError(
        "NotCollected", f"no recorded {service} GetDomainNames answer", OPERATIONS[f"{service}:GetDomainNames"]
    )
    return ApiCall(service, "GetDomainNames", {}, "", None, error)


def _domains(bundle: EvidenceBundle) -> dict[str, dict[str, Any]]:
    """{resource id: {"domain_name", "endpoint_types", "policies": [(api, policy)], "apis"}}."""
    out: dict[str, dict[str, Any]] = {}

    def entry(rid: str, name: str) -> dict[str, Any]:
        return out.setdefault(
            rid, {"domain_name": name, "endpoint_types": [], "policies": [], "apis": [], "domain_arn": None}
        )

    for page in bundle.all("apigateway", "GetDomainNames"):
        for item in (page.response or {}).get("items") or []:
            name = item.get("domainName")
            rid = f"{name}+{item['domainNameId']}" if item.get("domainNameId") else name
            e = entry(rid, name)
            e["apis"].append("REST (apigateway)")
            e["domain_arn"] = e["domain_arn"] or item.get("domainNameArn")
            e["endpoint_types"].extend((item.get("endpointConfiguration") or {}).get("types") or [])
            e["policies"].append(("apigateway", item.get("securityPolicy")))
    for page in bundle.all("apigatewayv2", "GetDomainNames"):
        for item in (page.response or {}).get("Items") or []:
            name = item.get("DomainName")
            e = entry(name, name)
            e["apis"].append("HTTP/WebSocket (apigatewayv2)")
            e["domain_arn"] = e["domain_arn"] or item.get("DomainNameArn")
            configs = item.get("DomainNameConfigurations") or []
            e["endpoint_types"].extend(c.get("EndpointType") for c in configs if c.get("EndpointType"))
            e["policies"].extend(("apigatewayv2", c.get("SecurityPolicy")) for c in configs)
            if not configs:
                e["policies"].append(("apigatewayv2", None))
    return out


@check(
    id="aws.apigateway.tls_policy",
    collector="aws.apigateway",
    title="API Gateway custom domains require TLS 1.2+",
    description="Every API Gateway custom domain name (REST, HTTP and WebSocket APIs) uses a security policy "
    "of TLS 1.2 or stricter; TLS_1_0 fails.",
    severity=Severity.HIGH,
    resource_type="AWS::ApiGateway::DomainName",
    permissions=["apigateway:GET"],
    remediation="aws apigateway update-domain-name --domain-name NAME --patch-operations "
    "op=replace,path=/securityPolicy,value=TLS_1_2 (HTTP APIs: aws apigatewayv2 update-domain-name "
    "--domain-name NAME --domain-name-configurations SecurityPolicy=TLS_1_2,...)",
    thresholds={"forbidden_security_policies": ["TLS_1_0"]},
    risk="Clients can reach the API over TLS 1.0, contradicting the encryption-in-transit commitment.",
)
def apigateway_tls_policy(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    forbidden = list(ctx.thresholds["forbidden_security_policies"])
    expected = {"security_policy_not_in": forbidden, "min_tls": "TLS 1.2"}
    for service in ("apigateway", "apigatewayv2"):
        pages = bundle.all(service, "GetDomainNames")
        failed = listing_error(pages) if pages else _missing_listing(service)
        if failed is not None:
            yield ctx.error(failed, evidence=bundle.ref(service, "GetDomainNames"), expected=expected)
    for rid, d in sorted(_domains(bundle).items()):
        ev = bundle.refs_for(*((api, "GetDomainNames") for api in sorted({api for api, _ in d["policies"]})))
        policies = [p for _, p in d["policies"]]
        observed = {
            "domain_name": d["domain_name"],
            "domain_arn": d["domain_arn"],
            "apis": d["apis"],
            "endpoint_types": sorted(set(d["endpoint_types"])),
            "security_policies": sorted({str(p) for p in policies if p}),
        }
        bad = sorted({p for p in policies if p in forbidden})
        if bad:
            yield ctx.failed(
                rid, evidence=ev, expected=expected, observed=observed, reason=f"security policy {', '.join(bad)}"
            )
        elif any(p is None for p in policies):
            yield ctx.failed(
                rid,
                evidence=ev,
                expected=expected,
                observed=observed,
                reason="no security policy reported: TLS 1.2 minimum cannot be shown",
            )
        else:
            yield ctx.passed(
                rid,
                evidence=ev,
                expected=expected,
                observed=observed,
                reason=f"security policy {', '.join(observed['security_policies'])}",
            )
