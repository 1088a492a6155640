"""The gcp.gcs checks on how long objects live: retention of personal data and versioning.

Pure functions of the bucket listing the gcp.gcs collector (gcs.py) records: lifecycle
rules, versioning, retention and soft-delete policies are all in the bucket resource.
Separate from gcs.py because reading lifecycle rules is its own small rule engine, unlike
the access and encryption checks.

Retention rule (`gcp.gcs.retention`, for buckets that hold personal data):
- live objects: a lifecycle rule with action Delete whose only conditions are
  `age` <= max_days (and `isLive` absent or true);
- versioned buckets also need noncurrent versions removed: a Delete rule with
  `daysSinceNoncurrentTime` <= max_days (`isLive` absent or false), or an
  `age` <= max_days rule that is not limited to live objects (it removes a
  version once it is older than `age`, live or not);
- a rule narrowed by any other condition (matchesPrefix, matchesSuffix,
  matchesStorageClass, createdBefore, customTime..., numNewerVersions) does not
  cover the whole bucket and does not count;
- a bucket retention policy longer than max_days keeps objects past the limit
  and fails; soft-deleted objects stay restorable for softDeletePolicy days,
  reported always and added to the rule's days when `count_soft_delete` is set.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from collectors.evidence import EvidenceBundle
from collectors.gcp.gcs import (
    LIST_PERMISSION,
    RESOURCE_TYPE,
    _listing_ev,
    _listing_failed,
    buckets,
    region_of,
    selector_matches,
)
from collectors.registry import CheckContext, check
from controls import CheckResult, Severity

_BUCKET_WIDE_LIVE = {"age", "isLive"}
_BUCKET_WIDE_NONCURRENT = {"age", "daysSinceNoncurrentTime", "isLive"}


def _days(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _delete_rules(bucket: Mapping[str, Any]) -> list[dict[str, Any]]:
    rules = (bucket.get("lifecycle") or {}).get("rule") or []
    return [r for r in rules if (r.get("action") or {}).get("type") == "Delete"]


def _live_days(rule: Mapping[str, Any]) -> float | None:
    """Days after which a bucket-wide rule deletes live objects, None if it does not."""
    cond = rule.get("condition") or {}
    if set(cond) - _BUCKET_WIDE_LIVE or cond.get("isLive") is False:
        return None
    return _days(cond.get("age"))


def _noncurrent_days(rule: Mapping[str, Any]) -> float | None:
    """Days after which a bucket-wide rule deletes noncurrent versions, None if it does not."""
    cond = rule.get("condition") or {}
    if set(cond) - _BUCKET_WIDE_NONCURRENT or cond.get("isLive") is True:
        return None
    days = [_days(cond[k]) for k in ("age", "daysSinceNoncurrentTime") if k in cond]
    if not days or None in days:
        return None
    return max(d for d in days if d is not None)  # all conditions must hold: the larger one decides


def _min(values: Iterable[float | None]) -> float | None:
    found = [v for v in values if v is not None]
    return min(found) if found else None


def _num(value: float | None) -> int | float | None:
    return int(value) if value is not None and float(value).is_integer() else value


@check(
    id="gcp.gcs.retention",
    collector="gcp.gcs",
    title="Buckets holding personal data delete it within the committed period",
    description="Each bucket selected by personal_data_patterns (name globs or label:key=value) has a "
    "bucket-wide lifecycle Delete rule with age <= max_days; versioned buckets also delete noncurrent versions "
    "within max_days (daysSinceNoncurrentTime, or an age rule not limited to live objects); no retention "
    "policy keeps objects longer. Other buckets are not applicable.",
    severity=Severity.HIGH,
    resource_type=RESOURCE_TYPE,
    permissions=[LIST_PERMISSION],
    remediation="gcloud storage buckets update gs://BUCKET --lifecycle-file=lifecycle.json with "
    '{"rule":[{"action":{"type":"Delete"},"condition":{"age":30}},'
    '{"action":{"type":"Delete"},"condition":{"daysSinceNoncurrentTime":30,"isLive":false}}]}',
    thresholds={
        "personal_data_patterns": ["*user*", "*customer*", "*pii*", "label:data-class=personal"],
        "max_days": 30,
        "count_soft_delete": False,
    },
    risk="Personal data kept past the deletion period the privacy policy commits to (30 days).",
)
def gcs_retention(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    yield from _listing_failed(bundle, ctx)
    patterns = list(ctx.thresholds["personal_data_patterns"])
    max_days = float(ctx.thresholds["max_days"])
    count_soft_delete = bool(ctx.thresholds["count_soft_delete"])
    for b in buckets(bundle):
        name, region = b["name"], region_of(b)
        matched = selector_matches(b, patterns)
        if not matched:
            yield ctx.not_applicable(
                name,
                region=region,
                evidence=_listing_ev(bundle),
                observed={"personal_data_match": []},
                expected={"personal_data_patterns": patterns},
                reason="not selected as holding personal data by personal_data_patterns",
            )
            continue
        versioned = bool((b.get("versioning") or {}).get("enabled"))
        rules = _delete_rules(b)
        live = _min(_live_days(r) for r in rules)
        noncurrent = _min(_noncurrent_days(r) for r in rules) if versioned else None
        soft = _days((b.get("softDeletePolicy") or {}).get("retentionDurationSeconds"))
        soft_days = soft / 86400 if soft else 0.0
        retention = _days((b.get("retentionPolicy") or {}).get("retentionPeriod"))
        retention_days = retention / 86400 if retention else None
        extra = soft_days if count_soft_delete else 0.0
        observed = {
            "personal_data_match": matched,
            "versioning": versioned,
            "delete_rules": rules,
            "live_delete_days": _num(live),
            "noncurrent_delete_days": _num(noncurrent),
            "soft_delete_days": _num(round(soft_days, 3)),
            "retention_policy_days": _num(round(retention_days, 3)) if retention_days is not None else None,
        }
        expected = {
            "live_delete_days_max": _num(max_days),
            "noncurrent_delete_days_max": _num(max_days) if versioned else None,
            "soft_delete_counted": count_soft_delete,
        }
        problems = []
        if live is None:
            problems.append("no bucket-wide lifecycle Delete rule on object age")
        elif live + extra > max_days:
            problems.append(f"live objects deleted after {_num(live + extra)} days")
        if versioned and noncurrent is None:
            problems.append("versioning on but no bucket-wide Delete rule for noncurrent versions")
        elif versioned and noncurrent is not None and noncurrent + extra > max_days:
            problems.append(f"noncurrent versions deleted after {_num(noncurrent + extra)} days")
        if retention_days is not None and retention_days > max_days:
            problems.append(f"retention policy keeps objects {_num(round(retention_days, 3))} days")
        kw = {"region": region, "evidence": _listing_ev(bundle), "observed": observed, "expected": expected}
        if problems:
            reason = f"personal data kept beyond {_num(max_days)} days: " + "; ".join(problems)
            yield ctx.failed(name, reason=reason, **kw)
        else:
            what = f"objects deleted after {_num(live)} days"
            if versioned:
                what += f", noncurrent versions after {_num(noncurrent)} days"
            yield ctx.passed(name, reason=what, **kw)


# ---------------------------------------------------------------- gcp.gcs.versioning


@check(
    id="gcp.gcs.versioning",
    collector="gcp.gcs",
    title="Cloud Storage object versioning state",
    description="Reports whether object versioning is enabled on each bucket. Off is not applicable unless "
    "require_versioning is set, then it fails.",
    severity=Severity.LOW,
    resource_type=RESOURCE_TYPE,
    permissions=[LIST_PERMISSION],
    remediation="gcloud storage buckets update gs://BUCKET --versioning (and add a noncurrent-version "
    "Delete lifecycle rule for buckets holding personal data)",
    thresholds={"require_versioning": False},
    risk="Without versioning, overwritten or deleted objects cannot be recovered.",
)
def gcs_versioning(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    yield from _listing_failed(bundle, ctx)
    required = bool(ctx.thresholds["require_versioning"])
    expected = {"versioning": True if required else "reported"}
    for b in buckets(bundle):
        name, region = b["name"], region_of(b)
        enabled = bool((b.get("versioning") or {}).get("enabled"))
        kw = {
            "region": region,
            "evidence": _listing_ev(bundle),
            "observed": {"versioning": enabled},
            "expected": expected,
        }
        if enabled:
            yield ctx.passed(name, reason="object versioning enabled", **kw)
        elif required:
            yield ctx.failed(name, reason="object versioning disabled, required by require_versioning", **kw)
        else:
            yield ctx.not_applicable(name, reason="object versioning disabled (not required)", **kw)
