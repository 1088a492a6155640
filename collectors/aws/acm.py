"""ACM: certificates in use expire far enough ahead and renew successfully.

One result per certificate (resource id: its ARN). Certificates not in use by any AWS resource
(InUseBy empty) are `not_applicable`, still listed. A certificate in use fails when it has expired, expires
within min_days_to_expiry of the evaluation time (ctx.as_of), is revoked/expired/inactive, or its managed
renewal FAILED (reason: RenewalStatusReason).

ListCertificates only returns RSA_2048 certificates unless Includes.keyTypes names the others: every key
type is requested.

API cost per region: ListCertificates 1 call per 1000 certificates; DescribeCertificate 1 call per
certificate.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from collectors.evidence import ApiCall, ApiError, EvidenceBundle, listing_error
from collectors.registry import CheckContext, CollectorSpec, FetchContext, check, register_collector
from controls import CheckResult, Severity

OPERATIONS = {
    "acm:ListCertificates": "acm:ListCertificates",
    "acm:DescribeCertificate": "acm:DescribeCertificate",
}
PAGE_SIZE = 1000
KEY_TYPES = ["RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1"]
LIST_PARAMS: dict[str, Any] = {"Includes": {"keyTypes": KEY_TYPES}, "MaxItems": PAGE_SIZE}
BAD_STATUSES = frozenset({"EXPIRED", "REVOKED", "INACTIVE", "FAILED", "VALIDATION_TIMED_OUT"})


def fetch(ctx: FetchContext) -> None:
    rec = ctx.recorder
    acm = ctx.client("acm")
    pages = rec.paginate("acm", "ListCertificates", acm.list_certificates, "NextToken", "NextToken", **LIST_PARAMS)
    arns = [c["CertificateArn"] for p in pages if p.ok for c in (p.response or {}).get("CertificateSummaryList", [])]
    ctx.map(lambda arn: rec.call("acm", "DescribeCertificate", acm.describe_certificate, CertificateArn=arn), arns)


register_collector(
    CollectorSpec(
        id="aws.acm",
        provider="aws",
        service="acm",
        per_region=True,
        operations=OPERATIONS,
        fetch=fetch,
        description="ACM certificates: expiry, renewal status and use, per region",
    )
)


def _not_collected(operation: str, params: dict[str, Any], what: str) -> ApiCall:
    error = ApiError("NotCollected", f"no recorded {operation} answer for {what}", OPERATIONS[f"acm:{operation}"])
    return ApiCall("acm", operation, params, "", None, error)


def _parse(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


@check(
    id="aws.acm.certificate_expiry",
    collector="aws.acm",
    title="ACM certificates in use are valid, not about to expire, and renew successfully",
    description="Every ACM certificate in use by an AWS resource expires more than min_days_to_expiry days "
    "after the evaluation time, is not expired/revoked, and has no failed managed renewal. Certificates not "
    "in use are listed as not applicable.",
    severity=Severity.HIGH,
    resource_type="AWS::CertificateManager::Certificate",
    permissions=["acm:ListCertificates", "acm:DescribeCertificate"],
    remediation="Fix the renewal (DNS validation records, CAA, domain ownership) or import/request a new "
    "certificate and attach it: aws acm describe-certificate --certificate-arn ARN shows RenewalSummary",
    thresholds={"min_days_to_expiry": 30},
    risk="An expired certificate breaks TLS for customers (outage, or users trained to click through warnings).",
)
def acm_certificate_expiry(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    min_days = int(ctx.thresholds["min_days_to_expiry"])
    expected = {"in_use_expires_in_more_than_days": min_days, "renewal_status_not": "FAILED"}
    pages = bundle.all("acm", "ListCertificates")
    failed = listing_error(pages) if pages else _not_collected("ListCertificates", LIST_PARAMS, "certificates")
    if failed is not None:
        yield ctx.error(failed, evidence=bundle.ref("acm", "ListCertificates"), expected=expected)
    ev = bundle.refs_for(("acm", "ListCertificates"), ("acm", "DescribeCertificate"))
    for summary in (c for p in pages for c in (p.response or {}).get("CertificateSummaryList", [])):
        arn = summary["CertificateArn"]
        call = bundle.find("acm", "DescribeCertificate", CertificateArn=arn)
        if call is None:
            call = _not_collected("DescribeCertificate", {"CertificateArn": arn}, arn)
        if not call.ok:
            yield ctx.error(call, arn, evidence=ev, expected=expected)
            continue
        cert = (call.response or {}).get("Certificate") or {}
        not_after = _parse(cert.get("NotAfter"))
        renewal = cert.get("RenewalSummary") or {}
        in_use_by = list(cert.get("InUseBy") or [])
        days_left = None if not_after is None else round((not_after - ctx.as_of).total_seconds() / 86400, 1)
        observed = {
            "domain_name": cert.get("DomainName"),
            "status": cert.get("Status"),
            "type": cert.get("Type"),
            "key_algorithm": cert.get("KeyAlgorithm"),
            "not_after": cert.get("NotAfter"),
            "days_to_expiry": days_left,
            "in_use_by": in_use_by,
            "renewal_eligibility": cert.get("RenewalEligibility"),
            "renewal_status": renewal.get("RenewalStatus"),
            "renewal_status_reason": renewal.get("RenewalStatusReason"),
        }
        renewal_failed = renewal.get("RenewalStatus") == "FAILED"
        if not in_use_by:
            reason = "not in use by any AWS resource"
            if renewal_failed:
                reason += f" (its renewal failed: {renewal.get('RenewalStatusReason') or 'no reason given'})"
            yield ctx.not_applicable(arn, evidence=ev, expected=expected, observed=observed, reason=reason)
            continue
        problems = []
        if renewal_failed:
            problems.append(f"managed renewal FAILED: {renewal.get('RenewalStatusReason') or 'no reason given'}")
        if cert.get("Status") in BAD_STATUSES:
            problems.append(f"status {cert.get('Status')}")
        if not_after is None:
            problems.append("no expiry date (NotAfter) in the answer")
        elif not_after <= ctx.as_of:
            problems.append(f"expired on {cert.get('NotAfter')}")
        elif days_left is not None and days_left < min_days:
            problems.append(f"expires in {days_left} days (< {min_days})")
        if problems:
            yield ctx.failed(
                arn,
                evidence=ev,
                expected=expected,
                observed=observed,
                reason=f"in use by {len(in_use_by)} resource(s); " + "; ".join(problems),
            )
        else:
            yield ctx.passed(
                arn,
                evidence=ev,
                expected=expected,
                observed=observed,
                reason=f"in use; expires in {days_left} days",
            )
