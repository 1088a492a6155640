"""Secrets Manager: every secret rotates automatically and was rotated recently.

ListSecrets returns everything the check needs (RotationEnabled, RotationRules,
LastRotatedDate, CreatedDate, NextRotationDate, OwningService, PrimaryRegion), so there
is no per-secret call. Secrets scheduled for deletion are not listed (ListSecrets
excludes them unless IncludePlannedDeletion is set).

Per secret, with ``max_days_since_rotation`` (default 90):

- rotation disabled: fail.
- rotation enabled on a schedule longer than the threshold (AutomaticallyAfterDays, or a
  ``rate(N days)`` ScheduleExpression): fail, since it cannot stay within it.
- rotation enabled and ``LastRotatedDate`` older than the threshold: fail (rotation is
  configured but has not happened: a failing rotation function looks exactly like this).
- never rotated (no LastRotatedDate): pass while the secret is younger than the
  threshold (counted from CreatedDate), fail after.
- otherwise pass. A ``cron(...)`` schedule is reported as is (only the last rotation's
  age is judged).
- a replica (PrimaryRegion is another region): not applicable; rotation is configured and
  assessed on the primary secret.

Secrets managed by another service (OwningService, e.g. RDS master passwords) are
assessed the same way; they rotate through that service and report it here.

API cost per region: ListSecrets 1 call per 100 secrets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from collectors.aws._gaps import listing_failure
from collectors.evidence import EvidenceBundle
from collectors.registry import CheckContext, CollectorSpec, FetchContext, check, register_collector
from controls import CheckResult, Severity

OPERATIONS = {"secretsmanager:ListSecrets": "secretsmanager:ListSecrets"}

PAGE_SIZE = 100  # ListSecrets MaxResults maximum
RATE_DAYS = re.compile(r"^\s*rate\(\s*(\d+)\s+days?\s*\)\s*$", re.IGNORECASE)
RATE_HOURS = re.compile(r"^\s*rate\(\s*(\d+)\s+hours?\s*\)\s*$", re.IGNORECASE)


def fetch(ctx: FetchContext) -> None:
    sm = ctx.client("secretsmanager")
    ctx.recorder.paginate(
        "secretsmanager", "ListSecrets", sm.list_secrets, "NextToken", "NextToken", MaxResults=PAGE_SIZE
    )


register_collector(
    CollectorSpec(
        id="aws.secretsmanager",
        provider="aws",
        service="secretsmanager",
        per_region=True,
        operations=OPERATIONS,
        fetch=fetch,
        description="Secrets Manager secrets and their rotation settings, per region",
    )
)


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def schedule_days(rules: dict[str, Any]) -> float | None:
    """The rotation interval in days, or None when it is a cron expression or not given."""
    if rules.get("AutomaticallyAfterDays"):
        return float(rules["AutomaticallyAfterDays"])
    expression = str(rules.get("ScheduleExpression") or "")
    if m := RATE_DAYS.match(expression):
        return float(m.group(1))
    if m := RATE_HOURS.match(expression):
        return int(m.group(1)) / 24
    return None


def _days(as_of: datetime, then: datetime) -> int:
    return int((as_of - then).total_seconds() // 86400)


def _verdict(secret: dict[str, Any], as_of: datetime, max_days: int) -> tuple[bool, str, dict[str, Any]]:
    """(passes, reason, extra observed) for a secret of this region."""
    rules = secret.get("RotationRules") or {}
    interval = schedule_days(rules)
    extra: dict[str, Any] = {"rotation_interval_days": interval}
    if not secret.get("RotationEnabled"):
        return False, "automatic rotation is disabled", extra
    if interval is not None and interval > max_days:
        return False, f"rotates every {interval:g} days, more than the maximum of {max_days}", extra
    last = _date(secret.get("LastRotatedDate"))
    if last is not None:
        age = extra["days_since_rotation"] = _days(as_of, last)
        if age > max_days:
            return False, f"rotation enabled but last rotated {age} days ago (more than {max_days})", extra
        return True, f"rotation enabled, last rotated {age} days ago", extra
    created = _date(secret.get("CreatedDate"))
    if created is None:
        return False, "rotation enabled but never rotated, and the creation date is unknown", extra
    age = extra["days_since_created"] = _days(as_of, created)
    if age > max_days:
        return False, f"rotation enabled but never rotated; created {age} days ago (more than {max_days})", extra
    return True, f"rotation enabled, not rotated yet; created {age} days ago (within {max_days})", extra


@check(
    id="aws.secretsmanager.rotation",
    collector="aws.secretsmanager",
    title="Secrets rotate automatically and were rotated recently",
    description="Every Secrets Manager secret (replicas are assessed on their primary) has automatic rotation "
    "enabled on a schedule within max_days_since_rotation and was last rotated (or, never rotated, created) "
    "within max_days_since_rotation days.",
    severity=Severity.MEDIUM,
    resource_type="AWS::SecretsManager::Secret",
    permissions=["secretsmanager:ListSecrets"],
    remediation="aws secretsmanager rotate-secret --secret-id ID --rotation-lambda-arn FUNCTION_ARN "
    "--rotation-rules AutomaticallyAfterDays=30 (or managed rotation for RDS / Redshift secrets); when "
    "rotation is enabled but stale, read the rotation function's CloudWatch logs.",
    thresholds={"max_days_since_rotation": 90},
    risk="A database password or API key that never changes stays valid for whoever copied it, "
    "long after they left or the leak happened.",
)
def secretsmanager_rotation(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    max_days = int(ctx.thresholds["max_days_since_rotation"])
    expected = {"rotation_enabled": True, "rotated_within_days": max_days}
    ev = bundle.ref("secretsmanager", "ListSecrets")
    params = {"MaxResults": PAGE_SIZE}
    failed = listing_failure(bundle, OPERATIONS, "secretsmanager", "ListSecrets", params, "secrets")
    if failed is not None:
        yield ctx.error(failed, evidence=ev, expected=expected)
    for page in bundle.all("secretsmanager", "ListSecrets"):
        for secret in (page.response or {}).get("SecretList", []) if page.ok else []:
            arn = secret.get("ARN") or secret.get("Name", "")
            observed: dict[str, Any] = {
                "name": secret.get("Name"),
                "rotation_enabled": bool(secret.get("RotationEnabled")),
                "rotation_rules": secret.get("RotationRules"),
                "rotation_lambda_arn": secret.get("RotationLambdaARN") or None,
                "last_rotated": secret.get("LastRotatedDate"),
                "next_rotation": secret.get("NextRotationDate"),
                "created": secret.get("CreatedDate"),
                "owning_service": secret.get("OwningService"),
                "primary_region": secret.get("PrimaryRegion"),
            }
            kw = {"evidence": ev, "expected": expected, "observed": observed}
            primary = secret.get("PrimaryRegion")
            if primary and primary != ctx.scope.region:
                reason = f"replica of a secret in {primary}: rotation is configured and assessed on the primary"
                yield ctx.not_applicable(arn, reason=reason, **kw)
                continue
            ok, reason, extra = _verdict(secret, ctx.as_of, max_days)
            observed.update(extra)
            if secret.get("OwningService"):
                reason += f" (managed by {secret['OwningService']})"
            yield (ctx.passed if ok else ctx.failed)(arn, reason=reason, **kw)
