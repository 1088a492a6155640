"""OpenSearch Service: encryption at rest, node-to-node encryption, HTTPS enforced
and a TLS 1.2+ security policy for every domain (OpenSearch and legacy
Elasticsearch engines alike: the opensearch API lists both).

A TLS security policy passes when its minimum is TLS 1.2:
``Policy-Min-TLS-1-2-2019-07`` and the newer ``Policy-Min-TLS-1-2-*`` ones
(PFS, FIPS) in botocore's enum; ``Policy-Min-TLS-1-0-2019-07`` fails, and so
does a domain whose answer names no policy (nothing shows TLS 1.2 is the floor).

API cost per region: ListDomainNames 1 call, DescribeDomains 1 call per 5
domains (its maximum).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from collectors.evidence import ApiCall, ApiError, EvidenceBundle
from collectors.registry import CheckContext, CollectorSpec, FetchContext, check, register_collector
from controls import CheckResult, Severity

OPERATIONS = {
    "opensearch:ListDomainNames": "es:ListDomainNames",
    "opensearch:DescribeDomains": "es:DescribeDomains",
}
BATCH = 5  # DescribeDomains accepts at most 5 names
TLS12_PREFIXES = ("Policy-Min-TLS-1-2", "Policy-Min-TLS-1-3")


def fetch(ctx: FetchContext) -> None:
    rec = ctx.recorder
    client = ctx.client("opensearch")
    listing = rec.call("opensearch", "ListDomainNames", client.list_domain_names)
    names = sorted(d["DomainName"] for d in (listing.response or {}).get("DomainNames", [])) if listing.ok else []
    batches = [names[i : i + BATCH] for i in range(0, len(names), BATCH)]
    ctx.map(
        lambda batch: rec.call("opensearch", "DescribeDomains", client.describe_domains, DomainNames=batch), batches
    )


register_collector(
    CollectorSpec(
        id="aws.opensearch",
        provider="aws",
        service="opensearch",
        per_region=True,
        operations=OPERATIONS,
        fetch=fetch,
        description="OpenSearch Service (and Elasticsearch) domains, per region",
    )
)


def _not_collected(operation: str, params: dict[str, Any], what: str) -> ApiCall:
    error = ApiError(
        "NotCollected", f"no recorded {operation} answer for {what}", OPERATIONS[f"opensearch:{operation}"]
    )
    return ApiCall("opensearch", operation, params, "", None, error)


def _describe_call(bundle: EvidenceBundle, name: str) -> tuple[dict[str, Any] | None, ApiCall]:
    """(the domain's status, the DescribeDomains call that should hold it)."""
    for call in bundle.all("opensearch", "DescribeDomains"):
        if name in (call.params.get("DomainNames") or []):
            if call.ok:
                for status in (call.response or {}).get("DomainStatusList", []):
                    if status.get("DomainName") == name:
                        return status, call
                return None, _not_collected("DescribeDomains", dict(call.params), f"domain {name} (not in the answer)")
            return None, call
    return None, _not_collected("DescribeDomains", {"DomainNames": [name]}, f"domain {name}")


def tls_policy_ok(policy: str | None) -> bool:
    return bool(policy) and str(policy).startswith(TLS12_PREFIXES)


@check(
    id="aws.opensearch.encryption",
    collector="aws.opensearch",
    title="OpenSearch domains encrypt at rest, between nodes and in transit with TLS 1.2+",
    description="Every OpenSearch Service domain has encryption at rest, node-to-node encryption, EnforceHTTPS and "
    "a TLS security policy whose minimum is TLS 1.2 (Policy-Min-TLS-1-2-2019-07 or a newer PFS/FIPS policy).",
    severity=Severity.HIGH,
    resource_type="AWS::OpenSearchService::Domain",
    permissions=["es:ListDomainNames", "es:DescribeDomains"],
    remediation="aws opensearch update-domain-config --domain-name NAME --domain-endpoint-options "
    "EnforceHTTPS=true,TLSSecurityPolicy=Policy-Min-TLS-1-2-PFS-2023-10 --node-to-node-encryption-options "
    "Enabled=true --encryption-at-rest-options Enabled=true (at rest and node-to-node need OpenSearch or "
    "Elasticsearch 6.7+; they cannot be turned off again).",
    risk="Search indexes often hold copies of customer records and logs: unencrypted on disk, between nodes, or "
    "reachable over plain HTTP or TLS 1.0/1.1, they are exposed outside the primary data store's controls.",
)
def opensearch_encryption(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    expected = {
        "encryption_at_rest": True,
        "node_to_node_encryption": True,
        "enforce_https": True,
        "tls_security_policy": "Policy-Min-TLS-1-2-*",
    }
    listing = bundle.find("opensearch", "ListDomainNames") or _not_collected("ListDomainNames", {}, "domains")
    if not listing.ok:
        yield ctx.error(listing, evidence=bundle.ref("opensearch", "ListDomainNames"), expected=expected)
        return
    ev = bundle.refs_for(("opensearch", "ListDomainNames"), ("opensearch", "DescribeDomains"))
    for entry in (listing.response or {}).get("DomainNames", []):
        name = entry["DomainName"]
        status, call = _describe_call(bundle, name)
        if status is None:
            yield ctx.error(call, name, evidence=ev, expected=expected)
            continue
        endpoint = status.get("DomainEndpointOptions") or {}
        at_rest = status.get("EncryptionAtRestOptions") or {}
        observed = {
            "arn": status.get("ARN"),
            "engine_version": status.get("EngineVersion"),
            "encryption_at_rest": bool(at_rest.get("Enabled")),
            "kms_key_id": at_rest.get("KmsKeyId"),
            "node_to_node_encryption": bool((status.get("NodeToNodeEncryptionOptions") or {}).get("Enabled")),
            "enforce_https": bool(endpoint.get("EnforceHTTPS")),
            "tls_security_policy": endpoint.get("TLSSecurityPolicy"),
            "custom_endpoint": endpoint.get("CustomEndpoint") if endpoint.get("CustomEndpointEnabled") else None,
        }
        gaps = [
            label
            for label, ok in (
                ("encryption at rest off", observed["encryption_at_rest"]),
                ("node-to-node encryption off", observed["node_to_node_encryption"]),
                ("HTTPS not enforced", observed["enforce_https"]),
                (
                    f"TLS policy {observed['tls_security_policy']} allows TLS below 1.2"
                    if observed["tls_security_policy"]
                    else "no TLS policy reported: TLS 1.2 minimum not shown",
                    tls_policy_ok(observed["tls_security_policy"]),
                ),
            )
            if not ok
        ]
        if gaps:
            yield ctx.failed(name, evidence=ev, expected=expected, observed=observed, reason="; ".join(gaps))
        else:
            reason = f"encrypted at rest and node-to-node, HTTPS only with {observed['tls_security_policy']}"
            yield ctx.passed(name, evidence=ev, expected=expected, observed=observed, reason=reason)
