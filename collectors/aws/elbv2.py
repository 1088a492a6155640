"""Elastic Load Balancing v2 (ALB, NLB, GWLB): TLS policies of listeners and HTTP-to-HTTPS redirects.

Populations:
- aws.elbv2.tls_policy: every listener of every load balancer. HTTPS (ALB) and TLS (NLB) listeners are
  assessed against their SSL policy's protocols and ciphers (resolved through DescribeSSLPolicies);
  HTTP listeners are `not_applicable` (assessed by aws.elbv2.https_redirect) and TCP/UDP/TCP_UDP/GENEVE/QUIC
  listeners are `not_applicable` (TLS, if any, terminates at the targets: not visible from the load balancer).
  A load balancer without listeners gets one `not_applicable` result (resource id: its ARN).
- aws.elbv2.https_redirect: plain HTTP listeners only. HTTPS/TLS listeners are out of this check's
  population (they are assessed by aws.elbv2.tls_policy), so a load balancer without HTTP listeners has no
  result here. A listener passes when its default action and every rule end in a redirect to HTTPS (or,
  with allow_fixed_response, a fixed response: nothing is forwarded to targets over HTTP).

API cost per region: DescribeLoadBalancers 1 call per 400 load balancers; DescribeListeners 1 call per
load balancer (per 400 listeners); DescribeSSLPolicies 1 call per region (every predefined policy; only when
the region has an HTTPS/TLS listener) + 1 call per policy name that listing did not return;
DescribeRules 1 call per HTTP listener (per 400 rules).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from collectors.evidence import ApiCall, ApiError, EvidenceBundle, listing_error
from collectors.registry import CheckContext, CollectorSpec, FetchContext, check, register_collector
from controls import CheckResult, Severity

SERVICE = "elbv2"
OPERATIONS = {
    "elbv2:DescribeLoadBalancers": "elasticloadbalancing:DescribeLoadBalancers",
    "elbv2:DescribeListeners": "elasticloadbalancing:DescribeListeners",
    "elbv2:DescribeSSLPolicies": "elasticloadbalancing:DescribeSSLPolicies",
    "elbv2:DescribeRules": "elasticloadbalancing:DescribeRules",
}
PAGE_SIZE = 400  # the maximum of DescribeLoadBalancers / DescribeListeners / DescribeRules / DescribeSSLPolicies
TLS_PROTOCOLS = frozenset({"HTTPS", "TLS"})
LISTENER_TYPE = "AWS::ElasticLoadBalancingV2::Listener"
LB_TYPE = "AWS::ElasticLoadBalancingV2::LoadBalancer"

# Protocol versions in order; aliases as different APIs spell them.
PROTOCOL_ORDER = {"SSLv2": 0, "SSLv3": 1, "TLSv1": 2, "TLSv1.0": 2, "TLSv1.1": 3, "TLSv1.2": 4, "TLSv1.3": 5}


def protocol_rank(name: str) -> int:
    """Rank of a protocol name (unknown names rank as the newest: never a false fail)."""
    return PROTOCOL_ORDER.get(name, max(PROTOCOL_ORDER.values()) + 1)


def weak_cipher_reason(name: str, forbid_cbc_sha1: bool = False) -> str | None:
    """Why an OpenSSL-style (or IANA-style) cipher suite name is weak, or None."""
    upper = name.upper()
    tokens = set(upper.replace("_", "-").split("-"))
    if "NULL" in tokens:
        return "NULL cipher"
    if tokens & {"EXP", "EXPORT", "EXP1024"} or upper.startswith("EXP"):
        return "EXPORT cipher"
    if "RC4" in tokens:
        return "RC4"
    if "DES-CBC3" in upper or "3DES" in tokens or "DES" in tokens or "DES-CBC" in upper:
        return "3DES/DES"
    if "ANON" in upper or upper.startswith(("ADH-", "AECDH-")):
        return "anonymous key exchange"
    if "MD5" in tokens:
        return "MD5 MAC"
    if forbid_cbc_sha1 and "GCM" not in tokens and "CHACHA20" not in tokens and upper.endswith("-SHA"):
        return "CBC mode with SHA-1"
    return None


def assess_tls(
    protocols: list[str], ciphers: list[str], min_version: str, forbid_cbc_sha1: bool
) -> tuple[list[str], dict[str, str]]:
    """(protocols below the minimum, {weak cipher: why}) of an SSL policy."""
    minimum = protocol_rank(min_version)
    weak_protocols = [p for p in protocols if protocol_rank(p) < minimum]
    weak_ciphers = {c: why for c in ciphers if (why := weak_cipher_reason(c, forbid_cbc_sha1))}
    return weak_protocols, weak_ciphers


def fetch(ctx: FetchContext) -> None:
    rec = ctx.recorder
    elb = ctx.client("elbv2")
    pages = rec.paginate(
        SERVICE, "DescribeLoadBalancers", elb.describe_load_balancers, "Marker", "NextMarker", PageSize=PAGE_SIZE
    )
    lb_arns = [lb["LoadBalancerArn"] for p in pages if p.ok for lb in (p.response or {}).get("LoadBalancers", [])]

    def listeners_of(arn: str) -> list[ApiCall]:
        return rec.paginate(
            SERVICE,
            "DescribeListeners",
            elb.describe_listeners,
            "Marker",
            "NextMarker",
            LoadBalancerArn=arn,
            PageSize=PAGE_SIZE,
        )

    listeners = [
        listener
        for lb_pages in ctx.map(listeners_of, lb_arns)
        for page in lb_pages
        if page.ok
        for listener in (page.response or {}).get("Listeners", [])
    ]
    used = {x["SslPolicy"] for x in listeners if x.get("Protocol") in TLS_PROTOCOLS and x.get("SslPolicy")}
    if used:
        policy_pages = rec.paginate(
            SERVICE, "DescribeSSLPolicies", elb.describe_ssl_policies, "Marker", "NextMarker", PageSize=PAGE_SIZE
        )
        if not listing_error(policy_pages):
            listed = {p.get("Name") for page in policy_pages for p in (page.response or {}).get("SslPolicies", [])}
            # one call per unlisted name: Names=[a, b] fails as a whole if one name is unknown
            for name in sorted(used - listed):
                rec.call(SERVICE, "DescribeSSLPolicies", elb.describe_ssl_policies, Names=[name])
    http = [x["ListenerArn"] for x in listeners if x.get("Protocol") == "HTTP"]
    ctx.map(
        lambda arn: rec.paginate(
            SERVICE, "DescribeRules", elb.describe_rules, "Marker", "NextMarker", ListenerArn=arn, PageSize=PAGE_SIZE
        ),
        http,
    )


register_collector(
    CollectorSpec(
        id="aws.elbv2",
        provider="aws",
        service="elbv2",
        per_region=True,
        operations=OPERATIONS,
        fetch=fetch,
        description="Application, Network and Gateway Load Balancers: listeners, SSL policies and rules, per region",
    )
)


# ---------------------------------------------------------------- reading the evidence


def _not_collected(operation: str, params: dict[str, Any], what: str, code: str = "NotCollected") -> ApiCall:
    error = ApiError(code, f"no recorded {operation} answer for {what}", OPERATIONS[f"{SERVICE}:{operation}"])
    return ApiCall(SERVICE, operation, params, "", None, error)


def _load_balancers(bundle: EvidenceBundle) -> Iterator[dict[str, Any]]:
    for page in bundle.all(SERVICE, "DescribeLoadBalancers"):
        yield from (page.response or {}).get("LoadBalancers", [])


def _listing_failed(bundle: EvidenceBundle, ctx: CheckContext, expected: Any) -> list[CheckResult]:
    pages = bundle.all(SERVICE, "DescribeLoadBalancers")
    failed = listing_error(pages) if pages else _not_collected("DescribeLoadBalancers", {}, "load balancers")
    if failed is None:
        return []
    return [ctx.error(failed, evidence=bundle.ref(SERVICE, "DescribeLoadBalancers"), expected=expected)]


def _pages_by(bundle: EvidenceBundle, operation: str, key: str) -> dict[str, list[ApiCall]]:
    out: dict[str, list[ApiCall]] = {}
    for call in bundle.all(SERVICE, operation):
        out.setdefault(call.params.get(key, ""), []).append(call)
    return out


def _lb_listeners(
    bundle: EvidenceBundle,
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]], ApiCall | None]]:
    """(load balancer, its listeners, the failed/missing DescribeListeners call or None) per load balancer."""
    by_lb = _pages_by(bundle, "DescribeListeners", "LoadBalancerArn")
    for lb in _load_balancers(bundle):
        arn = lb["LoadBalancerArn"]
        pages = by_lb.get(arn)
        if not pages:
            params = {"LoadBalancerArn": arn, "PageSize": PAGE_SIZE}
            yield lb, [], _not_collected("DescribeListeners", params, f"load balancer {arn}")
            continue
        listeners = [x for p in pages if p.ok for x in (p.response or {}).get("Listeners", [])]
        yield lb, listeners, listing_error(pages)


def _listener_observed(lb: Mapping[str, Any], listener: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "load_balancer": lb.get("LoadBalancerName"),
        "load_balancer_arn": lb.get("LoadBalancerArn"),
        "load_balancer_type": lb.get("Type"),
        "scheme": lb.get("Scheme"),
        "port": listener.get("Port"),
        "protocol": listener.get("Protocol"),
    }


def _ssl_policies(bundle: EvidenceBundle) -> tuple[dict[str, dict[str, Any]], ApiCall | None]:
    """({policy name: policy}, the failed listing call or None)."""
    policies: dict[str, dict[str, Any]] = {}
    failed: ApiCall | None = None
    for call in bundle.all(SERVICE, "DescribeSSLPolicies"):
        if not call.ok:
            if "Names" not in call.params:
                failed = failed or call
            continue
        for policy in (call.response or {}).get("SslPolicies", []):
            policies.setdefault(policy.get("Name"), policy)
    return policies, failed


@check(
    id="aws.elbv2.tls_policy",
    collector="aws.elbv2",
    title="Load balancer HTTPS/TLS listeners allow only TLS 1.2+ and strong ciphers",
    description="Every HTTPS (ALB) and TLS (NLB) listener uses an SSL policy that allows no protocol older than "
    "the minimum (TLS 1.2) and no weak cipher (NULL, EXPORT, RC4, 3DES/DES, anonymous, MD5; optionally "
    "CBC with SHA-1). Every other listener is reported as not applicable with why.",
    severity=Severity.HIGH,
    resource_type=LISTENER_TYPE,
    permissions=[
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeSSLPolicies",
    ],
    remediation="aws elbv2 modify-listener --listener-arn LISTENER_ARN --ssl-policy "
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    thresholds={"min_tls_version": "TLSv1.2", "forbid_cbc_sha1": False},
    risk="A listener that still negotiates TLS 1.0/1.1 or weak ciphers contradicts the commitment to "
    "256-bit SSL/TLS encryption in transit and exposes sessions to downgrade attacks.",
)
def elbv2_tls_policy(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    min_version = str(ctx.thresholds["min_tls_version"])
    forbid_cbc_sha1 = bool(ctx.thresholds["forbid_cbc_sha1"])
    expected = {"min_tls_version": min_version, "weak_ciphers": False, "forbid_cbc_sha1": forbid_cbc_sha1}
    yield from _listing_failed(bundle, ctx, expected)
    policies, policy_listing_failed = _ssl_policies(bundle)
    ev = bundle.refs_for(
        (SERVICE, "DescribeLoadBalancers"), (SERVICE, "DescribeListeners"), (SERVICE, "DescribeSSLPolicies")
    )
    lb_ev = bundle.refs_for((SERVICE, "DescribeLoadBalancers"), (SERVICE, "DescribeListeners"))
    for lb, listeners, failed in _lb_listeners(bundle):
        arn = lb["LoadBalancerArn"]
        if failed is not None:
            yield ctx.error(failed, arn, evidence=lb_ev, expected=expected, resource_type=LB_TYPE)
        elif not listeners:
            yield ctx.not_applicable(
                arn,
                resource_type=LB_TYPE,
                evidence=lb_ev,
                expected=expected,
                observed={"load_balancer": lb.get("LoadBalancerName"), "listeners": 0},
                reason="load balancer has no listeners",
            )
        for listener in listeners:
            yield _assess_listener(ctx, bundle, lb, listener, policies, policy_listing_failed, expected, ev)


def _assess_listener(
    ctx: CheckContext,
    bundle: EvidenceBundle,
    lb: Mapping[str, Any],
    listener: Mapping[str, Any],
    policies: Mapping[str, dict[str, Any]],
    policy_listing_failed: ApiCall | None,
    expected: Mapping[str, Any],
    ev: tuple[Any, ...],
) -> CheckResult:
    rid = listener["ListenerArn"]
    observed = _listener_observed(lb, listener)
    protocol = listener.get("Protocol")
    if protocol == "HTTP":
        return ctx.not_applicable(
            rid,
            evidence=ev,
            expected=expected,
            observed=observed,
            reason="plain HTTP listener: no TLS to assess (see aws.elbv2.https_redirect)",
        )
    if protocol not in TLS_PROTOCOLS:
        return ctx.not_applicable(
            rid,
            evidence=ev,
            expected=expected,
            observed=observed,
            reason=f"{protocol} listener: TLS, if any, terminates at the targets and is not visible here",
        )
    name = listener.get("SslPolicy")
    observed["policy"] = name
    if not name:
        return ctx.failed(
            rid, evidence=ev, expected=expected, observed=observed, reason=f"{protocol} listener has no SSL policy"
        )
    policy = policies.get(name)
    if policy is None:
        call = policy_listing_failed or bundle.find(SERVICE, "DescribeSSLPolicies", Names=[name])
        if call is None or call.ok:
            call = _not_collected(
                "DescribeSSLPolicies", {"Names": [name]}, f"SSL policy {name}", code="SSLPolicyNotDescribed"
            )
        return ctx.error(call, rid, evidence=ev, expected=expected)
    protocols = list(policy.get("SslProtocols") or [])
    ciphers = [c.get("Name") for c in sorted(policy.get("Ciphers") or [], key=lambda c: c.get("Priority") or 0)]
    weak_protocols, weak_ciphers = assess_tls(
        protocols, ciphers, expected["min_tls_version"], expected["forbid_cbc_sha1"]
    )
    observed.update(protocols=protocols, ciphers=ciphers, weak_protocols=weak_protocols, weak_ciphers=weak_ciphers)
    problems = []
    if weak_protocols:
        problems.append(f"allows {', '.join(weak_protocols)} (minimum {expected['min_tls_version']})")
    if weak_ciphers:
        problems.append("weak ciphers " + ", ".join(f"{c} ({why})" for c, why in weak_ciphers.items()))
    if problems:
        return ctx.failed(
            rid, evidence=ev, expected=expected, observed=observed, reason=f"SSL policy {name} " + "; ".join(problems)
        )
    return ctx.passed(
        rid,
        evidence=ev,
        expected=expected,
        observed=observed,
        reason=f"SSL policy {name} allows only {', '.join(protocols)} with no weak cipher",
    )


# ---------------------------------------------------------------- HTTP -> HTTPS


def classify_action(actions: list[Mapping[str, Any]], allow_fixed_response: bool) -> tuple[bool, str]:
    """(acceptable on a plain HTTP listener, description) of a rule's actions (the last one decides)."""
    if not actions:
        return False, "no action"
    final = sorted(actions, key=lambda a: a.get("Order") or 0)[-1]
    kind = final.get("Type")
    if kind == "redirect":
        target = (final.get("RedirectConfig") or {}).get("Protocol") or "#{protocol}"
        if target.upper() == "HTTPS":
            return True, "redirect to HTTPS"
        return False, f"redirect keeping {target} (not HTTPS)"
    if kind == "fixed-response":
        return allow_fixed_response, "fixed response (nothing forwarded)"
    return False, f"{kind} over plain HTTP"


@check(
    id="aws.elbv2.https_redirect",
    collector="aws.elbv2",
    title="Plain HTTP load balancer listeners redirect to HTTPS",
    description="Every HTTP listener of an Application Load Balancer redirects to HTTPS: its default action "
    "and every listener rule end in a redirect with protocol HTTPS (a fixed response is accepted unless "
    "allow_fixed_response is false); no request is forwarded to targets over plain HTTP. HTTPS/TLS listeners "
    "are not in this population (see aws.elbv2.tls_policy).",
    severity=Severity.HIGH,
    resource_type=LISTENER_TYPE,
    permissions=[
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeRules",
    ],
    remediation="aws elbv2 modify-listener --listener-arn LISTENER_ARN --default-actions "
    "'Type=redirect,RedirectConfig={Protocol=HTTPS,Port=443,StatusCode=HTTP_301}' and remove or redirect "
    "every rule that forwards",
    thresholds={"allow_fixed_response": True},
    risk="Requests forwarded over plain HTTP carry customer data unencrypted, contradicting the "
    "encryption-in-transit commitment.",
)
def elbv2_https_redirect(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    allow_fixed = bool(ctx.thresholds["allow_fixed_response"])
    expected = {"every_action": "redirect to HTTPS", "allow_fixed_response": allow_fixed}
    yield from _listing_failed(bundle, ctx, expected)
    rules_by_listener = _pages_by(bundle, "DescribeRules", "ListenerArn")
    ev = bundle.refs_for((SERVICE, "DescribeLoadBalancers"), (SERVICE, "DescribeListeners"), (SERVICE, "DescribeRules"))
    lb_ev = bundle.refs_for((SERVICE, "DescribeLoadBalancers"), (SERVICE, "DescribeListeners"))
    for lb, listeners, failed in _lb_listeners(bundle):
        if failed is not None:
            yield ctx.error(failed, lb["LoadBalancerArn"], evidence=lb_ev, expected=expected, resource_type=LB_TYPE)
        for listener in listeners:
            if listener.get("Protocol") != "HTTP":
                continue
            rid = listener["ListenerArn"]
            observed = _listener_observed(lb, listener)
            pages = rules_by_listener.get(rid)
            if not pages:
                pages = [_not_collected("DescribeRules", {"ListenerArn": rid, "PageSize": PAGE_SIZE}, rid)]
            rules_failed = listing_error(pages)
            if rules_failed is not None:
                yield ctx.error(rules_failed, rid, evidence=ev, expected=expected)
                continue
            ok, default = classify_action(list(listener.get("DefaultActions") or []), allow_fixed)
            observed["default_action"] = default
            assessed = []
            offending = [] if ok else [f"default action: {default}"]
            for rule in (r for p in pages for r in (p.response or {}).get("Rules", [])):
                if rule.get("IsDefault"):
                    continue  # the listener's DefaultActions, assessed above
                rule_ok, what = classify_action(list(rule.get("Actions") or []), allow_fixed)
                assessed.append({"priority": rule.get("Priority"), "rule_arn": rule.get("RuleArn"), "action": what})
                if not rule_ok:
                    offending.append(f"rule priority {rule.get('Priority')}: {what}")
            observed["rules"] = assessed
            if offending:
                yield ctx.failed(
                    rid,
                    evidence=ev,
                    expected=expected,
                    observed=observed,
                    reason=f"HTTP listener on port {listener.get('Port')} serves plain HTTP: " + "; ".join(offending),
                )
            else:
                yield ctx.passed(
                    rid,
                    evidence=ev,
                    expected=expected,
                    observed=observed,
                    reason=f"HTTP listener on port {listener.get('Port')}: default action and "
                    f"{len(assessed)} rule(s) redirect to HTTPS",
                )
