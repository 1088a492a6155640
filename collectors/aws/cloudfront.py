"""CloudFront (a global service): viewer TLS, HTTPS-only viewers, TLS to custom origins.

Everything comes from ListDistributions: each DistributionSummary carries the viewer certificate, the
cache behaviours and the origins. The collector runs once per account (per_region=False; the client is in
us-east-1); results carry region "global".

- aws.cloudfront.viewer_tls: one result per distribution (resource id: its ARN). With the CloudFront
  default certificate (*.cloudfront.net) the minimum protocol is TLSv1 and cannot be raised: fail.
- aws.cloudfront.https_only: one result per distribution; the default behaviour AND every path behaviour
  must be redirect-to-https or https-only.
- aws.cloudfront.origin_tls: one result per (distribution, origin), resource id "<distribution ARN>/origin/<id>".
  Custom origins must use https-only, or match-viewer when every behaviour that routes to the origin
  (directly or through an origin group) admits HTTPS viewers only (then CloudFront always reaches the origin
  over HTTPS), and OriginSslProtocols must not include SSLv3/TLSv1/TLSv1.1. S3 REST origins are not
  applicable (the protocol to S3 is not configurable; it follows the viewer, see https_only); VPC origins are
  not applicable here (their protocol policy is on the VPC origin resource, not collected).

API cost per account: ListDistributions 1 call per 100 distributions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from collectors.evidence import ApiCall, ApiError, EvidenceBundle, listing_error
from collectors.registry import CheckContext, CollectorSpec, FetchContext, check, register_collector
from controls import CheckResult, Severity

SERVICE = "cloudfront"
OPERATIONS = {"cloudfront:ListDistributions": "cloudfront:ListDistributions"}
PAGE_SIZE = "100"  # ListDistributions maximum (a string in the API)
HTTPS_VIEWER = frozenset({"redirect-to-https", "https-only"})
WEAK_ORIGIN_PROTOCOLS = ("SSLv3", "TLSv1", "TLSv1.1")
ORIGIN_PROTOCOL_RANK = {"SSLv3": 0, "TLSv1": 1, "TLSv1.1": 2, "TLSv1.2": 3, "TLSv1.3": 4}
DISTRIBUTION_TYPE = "AWS::CloudFront::Distribution"
ORIGIN_TYPE = "AWS::CloudFront::Distribution.Origin"

# SSLv3 < TLSv1 < TLSv1_2016 < TLSv1.1_2016 < TLSv1.2_2018 < TLSv1.2_2019 < TLSv1.2_2021 < TLSv1.2_2025
# < TLSv1.3_2025: ordered by (protocol, policy year); names AWS adds later sort by the same rule.
_POLICY = re.compile(r"^(?:SSLv3|TLSv1(?:\.(?P<minor>\d))?(?:_(?P<year>\d{4}))?)$")


def viewer_policy_rank(name: str | None) -> tuple[int, int] | None:
    """Sort key of a MinimumProtocolVersion, None if not recognised."""
    if not name:
        return None
    match = _POLICY.match(name)
    if match is None:
        return None
    if name == "SSLv3":
        return (0, 0)
    return (10 + int(match["minor"] or 0), int(match["year"] or 0))


def fetch(ctx: FetchContext) -> None:
    rec = ctx.recorder
    cloudfront = ctx.client("cloudfront")
    marker: str | None = None
    while True:  # the continuation token is nested: DistributionList.NextMarker
        params: dict[str, Any] = {"MaxItems": PAGE_SIZE}
        if marker:
            params["Marker"] = marker
        page = rec.call(SERVICE, "ListDistributions", cloudfront.list_distributions, **params)
        if not page.ok:
            return
        listing = (page.response or {}).get("DistributionList") or {}
        marker = listing.get("NextMarker") if listing.get("IsTruncated") else None
        if not marker:
            return


register_collector(
    CollectorSpec(
        id="aws.cloudfront",
        provider="aws",
        service="cloudfront",
        per_region=False,
        operations=OPERATIONS,
        fetch=fetch,
        description="CloudFront distributions (global): viewer certificates, cache behaviours and origins",
    )
)


def _distributions(bundle: EvidenceBundle) -> Iterator[dict[str, Any]]:
    for page in bundle.all(SERVICE, "ListDistributions"):
        yield from ((page.response or {}).get("DistributionList") or {}).get("Items") or []


def _listing_failed(bundle: EvidenceBundle, ctx: CheckContext, expected: Any) -> list[CheckResult]:
    pages = bundle.all(SERVICE, "ListDistributions")
    if pages:
        failed = listing_error(pages)
    else:
        error = ApiError(
            "NotCollected", "no recorded ListDistributions answer", OPERATIONS["cloudfront:ListDistributions"]
        )
        failed = ApiCall(SERVICE, "ListDistributions", {"MaxItems": PAGE_SIZE}, "", None, error)
    if failed is None:
        return []
    return [ctx.error(failed, evidence=bundle.ref(SERVICE, "ListDistributions"), expected=expected)]


def _items(container: Mapping[str, Any] | None) -> list[Any]:
    return list((container or {}).get("Items") or [])


def _base_observed(dist: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "distribution_id": dist.get("Id"),
        "domain_name": dist.get("DomainName"),
        "aliases": _items(dist.get("Aliases")),
        "enabled": dist.get("Enabled"),
    }


def _behaviours(dist: Mapping[str, Any]) -> list[dict[str, Any]]:
    default = dist.get("DefaultCacheBehavior") or {}
    out = [
        {
            "path_pattern": "Default (*)",
            "viewer_protocol_policy": default.get("ViewerProtocolPolicy"),
            "target_origin": default.get("TargetOriginId"),
        }
    ]
    for b in _items(dist.get("CacheBehaviors")):
        out.append(
            {
                "path_pattern": b.get("PathPattern"),
                "viewer_protocol_policy": b.get("ViewerProtocolPolicy"),
                "target_origin": b.get("TargetOriginId"),
            }
        )
    return out


@check(
    id="aws.cloudfront.viewer_tls",
    collector="aws.cloudfront",
    title="CloudFront distributions require TLS 1.2+ from viewers",
    description="Every distribution uses a custom certificate with a viewer security policy "
    "(MinimumProtocolVersion) at least the threshold (TLSv1.2_2019). The CloudFront default certificate "
    "fixes the minimum at TLSv1 and fails.",
    severity=Severity.HIGH,
    resource_type=DISTRIBUTION_TYPE,
    permissions=["cloudfront:ListDistributions"],
    remediation="Attach an ACM certificate (us-east-1) and set ViewerCertificate.MinimumProtocolVersion to "
    "TLSv1.2_2021: aws cloudfront get-distribution-config --id ID, edit, aws cloudfront update-distribution "
    "--id ID --if-match ETAG --distribution-config file://config.json",
    thresholds={"min_protocol_version": "TLSv1.2_2019"},
    risk="Viewers can negotiate TLS 1.0/1.1 with the edge, contradicting the encryption-in-transit commitment.",
)
def cloudfront_viewer_tls(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    minimum = str(ctx.thresholds["min_protocol_version"])
    min_rank = viewer_policy_rank(minimum)
    if min_rank is None:
        raise ValueError(f"aws.cloudfront.viewer_tls: unknown min_protocol_version {minimum!r}")
    expected = {"min_protocol_version_at_least": minimum, "custom_certificate": True}
    yield from _listing_failed(bundle, ctx, expected)
    ev = bundle.ref(SERVICE, "ListDistributions")
    for dist in _distributions(bundle):
        rid = dist.get("ARN") or dist.get("Id")
        cert = dist.get("ViewerCertificate") or {}
        version = cert.get("MinimumProtocolVersion")
        default = bool(cert.get("CloudFrontDefaultCertificate"))
        observed = {
            **_base_observed(dist),
            "default_certificate": default,
            "certificate_source": cert.get("CertificateSource"),
            "certificate": cert.get("ACMCertificateArn") or cert.get("IAMCertificateId") or cert.get("Certificate"),
            "ssl_support_method": cert.get("SSLSupportMethod"),
            "minimum_protocol_version": "TLSv1" if default else version,
        }
        if default:
            yield ctx.failed(
                rid,
                evidence=ev,
                expected=expected,
                observed=observed,
                reason="uses the CloudFront default certificate (*.cloudfront.net): the minimum protocol is TLSv1 "
                "and cannot be raised; attach a custom certificate with a TLSv1.2 security policy",
            )
            continue
        rank = viewer_policy_rank(version)
        if rank is None:
            yield ctx.failed(
                rid,
                evidence=ev,
                expected=expected,
                observed=observed,
                reason=f"unrecognised minimum protocol version {version!r}: cannot show it is at least {minimum}",
            )
        elif rank < min_rank:
            yield ctx.failed(
                rid,
                evidence=ev,
                expected=expected,
                observed=observed,
                reason=f"minimum protocol version {version} is older than {minimum}",
            )
        else:
            yield ctx.passed(
                rid, evidence=ev, expected=expected, observed=observed, reason=f"minimum protocol version {version}"
            )


@check(
    id="aws.cloudfront.https_only",
    collector="aws.cloudfront",
    title="CloudFront distributions serve viewers over HTTPS only",
    description="The default cache behaviour and every path-pattern cache behaviour of each distribution use the "
    "viewer protocol policy redirect-to-https or https-only.",
    severity=Severity.HIGH,
    resource_type=DISTRIBUTION_TYPE,
    permissions=["cloudfront:ListDistributions"],
    remediation="Set ViewerProtocolPolicy to redirect-to-https on the default and every cache behaviour "
    "(aws cloudfront update-distribution --id ID --if-match ETAG --distribution-config file://config.json)",
    risk="A behaviour that allows HTTP serves customer data unencrypted between viewers and the edge.",
)
def cloudfront_https_only(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    expected = {"viewer_protocol_policy_in": sorted(HTTPS_VIEWER)}
    yield from _listing_failed(bundle, ctx, expected)
    ev = bundle.ref(SERVICE, "ListDistributions")
    for dist in _distributions(bundle):
        rid = dist.get("ARN") or dist.get("Id")
        behaviours = _behaviours(dist)
        observed = {**_base_observed(dist), "behaviours": behaviours}
        bad = [b for b in behaviours if b["viewer_protocol_policy"] not in HTTPS_VIEWER]
        if bad:
            yield ctx.failed(
                rid,
                evidence=ev,
                expected=expected,
                observed=observed,
                reason="HTTP allowed for "
                + ", ".join(f"{b['path_pattern']} ({b['viewer_protocol_policy']})" for b in bad),
            )
        else:
            yield ctx.passed(
                rid,
                evidence=ev,
                expected=expected,
                observed=observed,
                reason=f"all {len(behaviours)} behaviour(s) redirect to or require HTTPS",
            )


def _behaviours_reaching(dist: Mapping[str, Any], origin_id: str) -> list[dict[str, Any]]:
    """Behaviours that route to an origin directly or through an origin group; all of them if none does."""
    groups = {
        g.get("Id"): {m.get("OriginId") for m in _items(g.get("Members"))} for g in _items(dist.get("OriginGroups"))
    }
    behaviours = _behaviours(dist)
    reaching = [
        b for b in behaviours if b["target_origin"] == origin_id or origin_id in groups.get(b["target_origin"], set())
    ]
    return reaching or behaviours


@check(
    id="aws.cloudfront.origin_tls",
    collector="aws.cloudfront",
    title="CloudFront reaches custom origins over TLS 1.2+",
    description="Every custom origin uses the origin protocol policy https-only (or match-viewer when every "
    "behaviour routing to it admits HTTPS viewers only) and its OriginSslProtocols exclude SSLv3, TLSv1 and "
    "TLSv1.1. S3 REST and VPC origins are reported as not applicable with why.",
    severity=Severity.HIGH,
    resource_type=ORIGIN_TYPE,
    permissions=["cloudfront:ListDistributions"],
    remediation="Set the origin's OriginProtocolPolicy to https-only and OriginSslProtocols to [TLSv1.2] "
    "(aws cloudfront update-distribution --id ID --if-match ETAG --distribution-config file://config.json)",
    thresholds={"min_origin_tls_version": "TLSv1.2"},
    risk="Traffic between CloudFront and the origin over HTTP or old TLS versions leaves customer data "
    "unprotected on that leg.",
)
def cloudfront_origin_tls(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    minimum = str(ctx.thresholds["min_origin_tls_version"])
    min_rank = ORIGIN_PROTOCOL_RANK.get(minimum, ORIGIN_PROTOCOL_RANK["TLSv1.2"])
    expected = {"origin_protocol_policy": "https-only (or match-viewer with HTTPS-only viewers)", "min_tls": minimum}
    yield from _listing_failed(bundle, ctx, expected)
    ev = bundle.ref(SERVICE, "ListDistributions")
    for dist in _distributions(bundle):
        arn = dist.get("ARN") or dist.get("Id")
        for origin in _items(dist.get("Origins")):
            origin_id = origin.get("Id")
            rid = f"{arn}/origin/{origin_id}"
            observed: dict[str, Any] = {
                "distribution_id": dist.get("Id"),
                "origin_id": origin_id,
                "origin_domain": origin.get("DomainName"),
            }
            custom = origin.get("CustomOriginConfig")
            if not custom:
                if origin.get("VpcOriginConfig"):
                    observed["origin_type"] = "vpc"
                    reason = "VPC origin: its protocol policy is set on the VPC origin resource (not assessed here)"
                else:
                    observed["origin_type"] = "s3"
                    reason = "S3 origin: the protocol to S3 is not configurable (see aws.cloudfront.https_only)"
                yield ctx.not_applicable(rid, evidence=ev, expected=expected, observed=observed, reason=reason)
                continue
            policy = custom.get("OriginProtocolPolicy")
            ssl = _items(custom.get("OriginSslProtocols"))
            reaching = _behaviours_reaching(dist, origin_id)
            observed.update(
                origin_type="custom",
                origin_protocol_policy=policy,
                origin_ssl_protocols=ssl,
                behaviours=[f"{b['path_pattern']} ({b['viewer_protocol_policy']})" for b in reaching],
            )
            problems = []
            if policy == "http-only":
                problems.append("origin protocol policy http-only")
            elif policy == "match-viewer":
                http_viewers = [b for b in reaching if b["viewer_protocol_policy"] not in HTTPS_VIEWER]
                if http_viewers:
                    problems.append(
                        "match-viewer while HTTP viewers reach it through "
                        + ", ".join(f"{b['path_pattern']} ({b['viewer_protocol_policy']})" for b in http_viewers)
                    )
            elif policy != "https-only":
                problems.append(f"unrecognised origin protocol policy {policy!r}")
            weak = [p for p in ssl if ORIGIN_PROTOCOL_RANK.get(p, 99) < min_rank]
            if weak and policy != "http-only":
                problems.append(f"origin SSL protocols allow {', '.join(weak)}")
            if not ssl and policy != "http-only":
                problems.append("no origin SSL protocols listed")
            if problems:
                yield ctx.failed(rid, evidence=ev, expected=expected, observed=observed, reason="; ".join(problems))
            else:
                yield ctx.passed(
                    rid,
                    evidence=ev,
                    expected=expected,
                    observed=observed,
                    reason=f"origin protocol policy {policy} with {', '.join(ssl)}",
                )
