"""Classic Load Balancers: HTTPS/SSL front ends and their SSL negotiation policies.

One result per classic load balancer (resource id: its name; the region field disambiguates):
- fail when it has no HTTPS/SSL listener (every front end is plain HTTP/TCP);
- fail when an HTTPS/SSL listener's SSL negotiation policy references a predefined policy that is not in
  the accepted list (default: ELBSecurityPolicy-TLS-1-2-2017-01 and ELBSecurityPolicy-TLS-1-2-Ext-2018-06),
  or (custom policy, or any policy) enables SSLv2/SSLv3/TLSv1/TLSv1.1 or a weak cipher;
- fail when an HTTPS/SSL listener has no SSL negotiation policy attached (AWS then applies its default,
  ELBSecurityPolicy-2016-08, which allows TLS 1.0 and 1.1).
Plain HTTP/TCP listeners next to an HTTPS/SSL one are reported in `observed`; they fail the load balancer
only with the threshold fail_on_plain_listeners (classic load balancers cannot redirect HTTP to HTTPS).

API cost per region: DescribeLoadBalancers 1 call per 400 load balancers; DescribeLoadBalancerPolicies
1 call per load balancer that has an HTTPS/SSL listener.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from collectors.aws.elbv2 import PROTOCOL_ORDER, protocol_rank, weak_cipher_reason
from collectors.evidence import ApiCall, ApiError, EvidenceBundle, listing_error
from collectors.registry import CheckContext, CollectorSpec, FetchContext, check, register_collector
from controls import CheckResult, Severity

SERVICE = "elb"
OPERATIONS = {
    "elb:DescribeLoadBalancers": "elasticloadbalancing:DescribeLoadBalancers",
    "elb:DescribeLoadBalancerPolicies": "elasticloadbalancing:DescribeLoadBalancerPolicies",
}
PAGE_SIZE = 400
TLS_PROTOCOLS = frozenset({"HTTPS", "SSL"})
SSL_POLICY_TYPE = "SSLNegotiationPolicyType"
REFERENCE = "Reference-Security-Policy"
AWS_DEFAULT_POLICY = "ELBSecurityPolicy-2016-08"


def fetch(ctx: FetchContext) -> None:
    rec = ctx.recorder
    elb = ctx.client("elb")
    pages = rec.paginate(
        SERVICE, "DescribeLoadBalancers", elb.describe_load_balancers, "Marker", "NextMarker", PageSize=PAGE_SIZE
    )
    names = [
        lb["LoadBalancerName"]
        for p in pages
        if p.ok
        for lb in (p.response or {}).get("LoadBalancerDescriptions", [])
        if _tls_listeners(lb)
    ]
    ctx.map(
        lambda name: rec.call(
            SERVICE, "DescribeLoadBalancerPolicies", elb.describe_load_balancer_policies, LoadBalancerName=name
        ),
        names,
    )


register_collector(
    CollectorSpec(
        id="aws.elb",
        provider="aws",
        service="elb",
        per_region=True,
        operations=OPERATIONS,
        fetch=fetch,
        description="Classic Load Balancers: listeners and SSL negotiation policies, per region",
    )
)


def _tls_listeners(lb: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        d for d in lb.get("ListenerDescriptions") or [] if (d.get("Listener") or {}).get("Protocol") in TLS_PROTOCOLS
    ]


def _not_collected(operation: str, params: dict[str, Any], what: str) -> ApiCall:
    error = ApiError("NotCollected", f"no recorded {operation} answer for {what}", OPERATIONS[f"{SERVICE}:{operation}"])
    return ApiCall(SERVICE, operation, params, "", None, error)


def _assess_policy(
    policy: Mapping[str, Any], accepted: list[str], min_version: str
) -> tuple[dict[str, Any], list[str]]:
    """(what the policy says, problems) of an SSLNegotiationPolicyType policy."""
    attributes = {
        a.get("AttributeName"): a.get("AttributeValue") for a in policy.get("PolicyAttributeDescriptions") or []
    }
    reference = attributes.get(REFERENCE)
    enabled = [k for k, v in attributes.items() if str(v).lower() == "true"]
    protocols = [k.removeprefix("Protocol-") for k in enabled if k.startswith("Protocol-")]
    ciphers = [k for k in enabled if not k.startswith("Protocol-") and k != "Server-Defined-Cipher-Order"]
    minimum = protocol_rank(min_version)
    weak_protocols = [p for p in protocols if p in PROTOCOL_ORDER and protocol_rank(p) < minimum]
    weak_ciphers = {c: why for c in ciphers if (why := weak_cipher_reason(c))}
    problems = []
    if reference and reference not in accepted:
        problems.append(f"reference policy {reference} is not one of {accepted}")
    if weak_protocols:
        problems.append(f"enables {', '.join(weak_protocols)}")
    if weak_ciphers:
        problems.append("enables weak ciphers " + ", ".join(f"{c} ({w})" for c, w in weak_ciphers.items()))
    if not reference and not protocols:
        problems.append("custom policy enables no protocol attribute: TLS configuration unknown")
    said = {
        "policy": policy.get("PolicyName"),
        "reference_policy": reference,
        "protocols": protocols,
        "weak_protocols": weak_protocols,
        "weak_ciphers": weak_ciphers,
    }
    return said, problems


@check(
    id="aws.elb.tls_listener",
    collector="aws.elb",
    title="Classic Load Balancers terminate TLS with a TLS 1.2+ security policy",
    description="Every Classic Load Balancer has an HTTPS/SSL listener, and every HTTPS/SSL listener uses an "
    "accepted predefined security policy (TLS 1.2 only) with no older protocol and no weak cipher enabled.",
    severity=Severity.HIGH,
    resource_type="AWS::ElasticLoadBalancing::LoadBalancer",
    permissions=["elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancerPolicies"],
    remediation="aws elb create-load-balancer-policy --load-balancer-name NAME --policy-name tls-1-2 "
    "--policy-type-name SSLNegotiationPolicyType --policy-attributes "
    "AttributeName=Reference-Security-Policy,AttributeValue=ELBSecurityPolicy-TLS-1-2-2017-01; then "
    "aws elb set-load-balancer-policies-of-listener --load-balancer-name NAME --load-balancer-port 443 "
    "--policy-names tls-1-2 (or migrate to an Application Load Balancer)",
    thresholds={
        "accepted_reference_policies": ["ELBSecurityPolicy-TLS-1-2-2017-01", "ELBSecurityPolicy-TLS-1-2-Ext-2018-06"],
        "min_tls_version": "TLSv1.2",
        "fail_on_plain_listeners": False,
    },
    risk="A load balancer without TLS, or negotiating TLS 1.0/1.1, carries customer data without the committed "
    "encryption in transit.",
)
def elb_tls_listener(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    accepted = list(ctx.thresholds["accepted_reference_policies"])
    min_version = str(ctx.thresholds["min_tls_version"])
    fail_plain = bool(ctx.thresholds["fail_on_plain_listeners"])
    expected = {"tls_listener": True, "reference_policy_in": accepted, "min_tls_version": min_version}
    list_ev = bundle.ref(SERVICE, "DescribeLoadBalancers")
    pages = bundle.all(SERVICE, "DescribeLoadBalancers")
    failed = listing_error(pages) if pages else _not_collected("DescribeLoadBalancers", {}, "load balancers")
    if failed is not None:
        yield ctx.error(failed, evidence=list_ev, expected=expected)
    ev = bundle.refs_for((SERVICE, "DescribeLoadBalancers"), (SERVICE, "DescribeLoadBalancerPolicies"))
    for lb in (lb for p in pages for lb in (p.response or {}).get("LoadBalancerDescriptions", [])):
        name = lb["LoadBalancerName"]
        all_listeners = [d.get("Listener") or {} for d in lb.get("ListenerDescriptions") or []]
        plain = [
            f"{x.get('Protocol')}:{x.get('LoadBalancerPort')}"
            for x in all_listeners
            if x.get("Protocol") not in TLS_PROTOCOLS
        ]
        observed: dict[str, Any] = {"scheme": lb.get("Scheme"), "dns_name": lb.get("DNSName"), "plain_listeners": plain}
        tls = _tls_listeners(lb)
        if not tls:
            observed["tls_listeners"] = []
            yield ctx.failed(
                name,
                evidence=list_ev,
                expected=expected,
                observed=observed,
                reason="no HTTPS/SSL listener: every front end is plain " + (", ".join(plain) or "(no listeners)"),
            )
            continue
        call = bundle.find(SERVICE, "DescribeLoadBalancerPolicies", LoadBalancerName=name)
        if call is None:
            call = _not_collected("DescribeLoadBalancerPolicies", {"LoadBalancerName": name}, name)
        if not call.ok:
            yield ctx.error(call, name, evidence=ev, expected=expected)
            continue
        policies = {p.get("PolicyName"): p for p in (call.response or {}).get("PolicyDescriptions", [])}
        problems: list[str] = []
        unresolved: list[str] = []
        listeners_observed = []
        for desc in tls:
            listener = desc.get("Listener") or {}
            label = f"{listener.get('Protocol')}:{listener.get('LoadBalancerPort')}"
            ssl = [
                policies[n]
                for n in desc.get("PolicyNames") or []
                if policies.get(n, {}).get("PolicyTypeName") == SSL_POLICY_TYPE
            ]
            unknown = [n for n in desc.get("PolicyNames") or [] if n not in policies]
            item: dict[str, Any] = {"listener": label, "certificate": listener.get("SSLCertificateId")}
            if not ssl:
                item["policy"] = None
                if unknown:
                    unresolved.extend(unknown)
                else:
                    problems.append(f"{label}: no SSL negotiation policy (AWS applies {AWS_DEFAULT_POLICY}: TLS 1.0+)")
            for policy in ssl:
                said, policy_problems = _assess_policy(policy, accepted, min_version)
                item.update(said)
                problems.extend(f"{label}: {p}" for p in policy_problems)
            listeners_observed.append(item)
        observed["tls_listeners"] = listeners_observed
        if unresolved:
            missing = ApiError(
                "PolicyNotDescribed",
                f"listener policies {sorted(set(unresolved))} are not in the DescribeLoadBalancerPolicies answer",
                OPERATIONS[f"{SERVICE}:DescribeLoadBalancerPolicies"],
            )
            yield ctx.error(
                ApiCall(SERVICE, "DescribeLoadBalancerPolicies", call.params, call.collected_at, None, missing),
                name,
                evidence=ev,
                expected=expected,
            )
            continue
        if fail_plain and plain:
            problems.append(f"plain listeners {', '.join(plain)}")
        if problems:
            yield ctx.failed(name, evidence=ev, expected=expected, observed=observed, reason="; ".join(problems))
        else:
            refs = sorted({str(x.get("reference_policy") or x.get("policy")) for x in listeners_observed})
            reason = f"{len(tls)} HTTPS/SSL listener(s) with {', '.join(refs)}"
            if plain:
                reason += f"; plain listeners also present: {', '.join(plain)}"
            yield ctx.passed(name, evidence=ev, expected=expected, observed=observed, reason=reason)
