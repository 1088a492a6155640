"""aws.s3.secure_transport: do bucket policies deny requests that do not use HTTPS?

A pure analysis of each bucket's policy document (GetBucketPolicy, fetched by the aws.s3
collector in s3.py) and the check built on it. Separate from s3.py because reading IAM
policy statements (principals, actions, resource patterns, conditions) is its own job,
unlike the configuration reads of the other S3 checks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

from collectors.aws.s3 import NO_BUCKET_POLICY, _buckets, _listing_failed, _missing, _unlocated
from collectors.evidence import EvidenceBundle
from collectors.registry import CheckContext, check
from controls import CheckResult, Severity

PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
_PROBE_KEY = "soc2-evidence-probe/any/key"  # an object key no narrower Resource pattern would match


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _everyone(stmt: Mapping[str, Any]) -> bool:
    if "NotPrincipal" in stmt:
        return False
    principal = stmt.get("Principal")
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and "*" in _as_list(principal.get("AWS"))


def _all_actions(stmt: Mapping[str, Any]) -> bool:
    return "NotAction" not in stmt and any(str(a).lower() in ("s3:*", "*") for a in _as_list(stmt.get("Action")))


def _iam_match(pattern: str, value: str) -> bool:
    return fnmatchcase(value, str(pattern).replace("[", "[[]"))


def _covers_bucket(stmt: Mapping[str, Any], name: str) -> bool:
    """The statement's Resource covers the bucket and every object in it."""
    if "NotResource" in stmt:
        return False
    resources = [str(r) for r in _as_list(stmt.get("Resource"))]
    for partition in PARTITIONS:
        bucket, objects = f"arn:{partition}:s3:::{name}", f"arn:{partition}:s3:::{name}/{_PROBE_KEY}"
        if any(_iam_match(r, bucket) for r in resources) and any(_iam_match(r, objects) for r in resources):
            return True
    return False


def _is_false(value: Any) -> bool:
    values = _as_list(value)
    return bool(values) and all(v is False or str(v).lower() == "false" for v in values)


def _secure_transport_condition(stmt: Mapping[str, Any]) -> tuple[bool, bool]:
    """(denies when aws:SecureTransport is false, the condition has nothing else narrowing it)."""
    condition = stmt.get("Condition") or {}
    found, other = False, False
    for operator, keys in condition.items() if isinstance(condition, Mapping) else []:
        for key, value in (keys or {}).items() if isinstance(keys, Mapping) else []:
            if str(operator).lower() in ("bool", "boolifexists") and key.lower() == "aws:securetransport":
                found = found or _is_false(value)
            else:
                other = True
    return found, not other


def _tls_version_deny(stmt: Mapping[str, Any]) -> str | None:
    """The minimum TLS version a `Deny ... NumericLessThan s3:TlsVersion` statement enforces, if any."""
    condition = stmt.get("Condition") or {}
    for operator, keys in condition.items() if isinstance(condition, Mapping) else []:
        if str(operator).lower() in ("numericlessthan", "numericlessthanifexists") and isinstance(keys, Mapping):
            for key, value in keys.items():
                if key.lower() == "s3:tlsversion":
                    return str(_as_list(value)[0]) if _as_list(value) else None
    return None


def analyse_secure_transport(policy_text: str, name: str) -> dict[str, Any]:
    """What a bucket policy says about HTTPS-only access (pure; raises ValueError on unparseable JSON)."""
    document = json.loads(policy_text)
    if not isinstance(document, Mapping):
        raise ValueError("policy is not a JSON object")
    statements = [s for s in _as_list(document.get("Statement")) if isinstance(s, Mapping)]
    full: list[str] = []
    partial: list[dict[str, Any]] = []
    allows_secure_only: list[str] = []
    tls_minimum = None
    for i, stmt in enumerate(statements):
        sid = str(stmt.get("Sid") or f"#{i}")
        effect = str(stmt.get("Effect", "")).lower()
        if effect == "deny":
            tls_minimum = tls_minimum or _tls_version_deny(stmt)
        secure, only = _secure_transport_condition(stmt)
        if effect == "allow":
            condition = stmt.get("Condition") or {}
            if isinstance(condition, Mapping) and any(
                k.lower() == "aws:securetransport"
                for keys in condition.values()
                if isinstance(keys, Mapping)
                for k in keys
            ):
                allows_secure_only.append(sid)
            continue
        if effect != "deny" or not secure:
            continue
        gaps = []
        if not _everyone(stmt):
            gaps.append("principal is not everyone (*)")
        if not _all_actions(stmt):
            gaps.append(f"denies only {_as_list(stmt.get('Action')) or stmt.get('NotAction')}")
        if not _covers_bucket(stmt, name):
            gaps.append(
                f"resources {_as_list(stmt.get('Resource')) or stmt.get('NotResource')} do not cover the "
                "bucket and all its objects"
            )
        if not only:
            gaps.append("narrowed by further conditions")
        if gaps:
            partial.append({"sid": sid, "gaps": gaps})
        else:
            full.append(sid)
    return {
        "statements": len(statements),
        "secure_transport_deny": full,
        "partial_denies": partial,
        "allow_with_secure_transport": allows_secure_only,
        "tls_version_deny_below": tls_minimum,
    }


@check(
    id="aws.s3.secure_transport",
    collector="aws.s3",
    title="S3 bucket policies deny requests that do not use HTTPS",
    description="Every bucket's policy has a statement denying all S3 actions (s3:* or *) to every principal on "
    "the bucket and its objects when aws:SecureTransport is false (Bool or BoolIfExists), with no further "
    "condition narrowing it. A deny of old TLS versions (s3:TlsVersion) is reported but is not a substitute.",
    severity=Severity.MEDIUM,
    resource_type="AWS::S3::Bucket",
    permissions=["s3:ListAllMyBuckets", "s3:GetBucketLocation", "s3:GetBucketPolicy"],
    remediation='Add to the bucket policy: {"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*",'
    '"Action":"s3:*","Resource":["arn:aws:s3:::NAME","arn:aws:s3:::NAME/*"],'
    '"Condition":{"Bool":{"aws:SecureTransport":"false"}}} (aws s3api put-bucket-policy)',
    risk="Without the deny, clients can read and write objects over plain HTTP, contradicting the "
    "encryption-in-transit commitment.",
)
def s3_secure_transport(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    expected = {
        "deny": "Effect Deny, Principal *, Action s3:*, bucket and objects",
        "condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    yield from _listing_failed(bundle, ctx)
    yield from _unlocated(bundle, ctx)
    for name, region in _buckets(bundle):
        call = bundle.find("s3", "GetBucketPolicy", Bucket=name)
        ev = bundle.refs_for(("s3", "ListBuckets"), ("s3", "GetBucketPolicy"))
        if call is None:
            yield _missing(ctx, name, region, "GetBucketPolicy", bundle)
            continue
        if call.error and call.error.code == NO_BUCKET_POLICY:
            yield ctx.failed(
                name,
                region=region,
                evidence=ev,
                expected=expected,
                observed={"policy": False},
                reason="no bucket policy: requests over plain HTTP are not denied",
            )
            continue
        if call.error:
            yield ctx.error(call, name, region=region, evidence=ev, expected=expected)
            continue
        text = (call.response or {}).get("Policy") or ""
        try:
            analysis = analyse_secure_transport(text, name)
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            yield ctx.failed(
                name,
                region=region,
                evidence=ev,
                expected=expected,
                observed={"policy": True, "parse_error": str(exc)},
                reason=f"bucket policy could not be parsed: {exc}",
            )
            continue
        observed = {"policy": True, **analysis}
        if analysis["secure_transport_deny"]:
            reason = f"statement {', '.join(analysis['secure_transport_deny'])} denies every request without HTTPS"
            if analysis["tls_version_deny_below"]:
                reason += f"; TLS below {analysis['tls_version_deny_below']} also denied"
            yield ctx.passed(name, region=region, evidence=ev, expected=expected, observed=observed, reason=reason)
            continue
        if analysis["partial_denies"]:
            reason = "the aws:SecureTransport deny is incomplete: " + "; ".join(
                f"{p['sid']}: {', '.join(p['gaps'])}" for p in analysis["partial_denies"]
            )
        elif analysis["allow_with_secure_transport"]:
            reason = (
                "only Allow statements test aws:SecureTransport "
                f"({', '.join(analysis['allow_with_secure_transport'])}): HTTP requests are not denied"
            )
        else:
            reason = "the bucket policy has no statement denying requests when aws:SecureTransport is false"
        if analysis["tls_version_deny_below"]:
            reason += f" (it denies TLS below {analysis['tls_version_deny_below']}, which does not deny plain HTTP)"
        yield ctx.failed(name, region=region, evidence=ev, expected=expected, observed=observed, reason=reason)
