"""Logs: KMS encryption of CloudTrail trails and CloudWatch Logs log groups.

Two populations, one check (``aws.logs.encryption``):

- **CloudTrail trails** (AWS::CloudTrail::Trail, keyed by trail ARN) fail without
  ``KmsKeyId``. Without it CloudTrail's log files get the bucket's SSE-S3 default
  (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/encrypting-cloudtrail-log-files-with-aws-kms.html):
  encrypted on disk, but readable by anyone allowed to read the bucket. The audit trail is
  the evidence of who touched customer data, and CIS AWS Foundations 3.5 (Security Hub
  CloudTrail.2) asks for SSE-KMS so that reading it also needs kms:Decrypt on a key the
  security team controls: that is what an auditor checks under CC6.1 / CC7.2. The
  threshold ``trails_require_kms`` (default true) turns this into a report-only pass.
  ``DescribeTrails`` is called with ``includeShadowTrails`` false: each trail is assessed
  once, in its home region of the account that owns it (an organization trail in the
  management account, not again in every member account and region).
- **CloudWatch Logs log groups** (AWS::Logs::LogGroup, keyed by ARN without ":*"). Log
  data is *always* encrypted at rest, by default with keys CloudWatch Logs manages
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html):
  there is no unencrypted log group. So by default a group without ``kmsKeyId`` passes,
  and the result says "service-managed key" in its reason and ``key_type`` in observed:
  reported, visible to the auditor, not a finding against C1.1/CC6.1 (data at rest is
  encrypted). Failing them by default would fail every Lambda's auto-created group and
  bury the findings that matter. An organisation whose log groups hold confidential data
  and that commits to customer managed keys sets ``log_groups_require_kms``: then such a
  group fails.

API cost per region: cloudtrail:DescribeTrails 1 call; logs:DescribeLogGroups 1 call per
50 log groups.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from collectors.aws._gaps import listing_failure
from collectors.evidence import EvidenceBundle
from collectors.registry import CheckContext, CollectorSpec, FetchContext, check, register_collector
from controls import CheckResult, Severity

OPERATIONS = {
    "cloudtrail:DescribeTrails": "cloudtrail:DescribeTrails",
    "logs:DescribeLogGroups": "logs:DescribeLogGroups",
}

PAGE_SIZE = 50  # DescribeLogGroups limit maximum
TRAIL_TYPE = "AWS::CloudTrail::Trail"
LOG_GROUP_TYPE = "AWS::Logs::LogGroup"
TRAIL_PARAMS = {"includeShadowTrails": False}
GROUP_PARAMS = {"limit": PAGE_SIZE}


def fetch(ctx: FetchContext) -> None:
    rec = ctx.recorder
    rec.call("cloudtrail", "DescribeTrails", ctx.client("cloudtrail").describe_trails, **TRAIL_PARAMS)
    logs = ctx.client("logs")
    rec.paginate("logs", "DescribeLogGroups", logs.describe_log_groups, "nextToken", "nextToken", **GROUP_PARAMS)


register_collector(
    CollectorSpec(
        id="aws.logs",
        provider="aws",
        service="logs",
        per_region=True,
        operations=OPERATIONS,
        fetch=fetch,
        description="CloudTrail trails (home region) and CloudWatch Logs log groups with their KMS keys, per region",
    )
)


def _trail_results(bundle: EvidenceBundle, ctx: CheckContext, require: bool) -> Iterator[CheckResult]:
    expected = {"kms_key_id": "set" if require else "reported"}
    ev = bundle.ref("cloudtrail", "DescribeTrails")
    kw: dict[str, Any] = {"evidence": ev, "expected": expected, "resource_type": TRAIL_TYPE}
    failed = listing_failure(bundle, OPERATIONS, "cloudtrail", "DescribeTrails", TRAIL_PARAMS, "trails")
    if failed is not None:
        yield ctx.error(failed, **kw)
    for call in bundle.all("cloudtrail", "DescribeTrails"):
        for trail in (call.response or {}).get("trailList", []) if call.ok else []:
            arn = trail.get("TrailARN") or trail.get("Name", "")
            key = trail.get("KmsKeyId") or None
            observed = {
                "name": trail.get("Name"),
                "home_region": trail.get("HomeRegion"),
                "multi_region": trail.get("IsMultiRegionTrail"),
                "organization_trail": trail.get("IsOrganizationTrail"),
                "s3_bucket": trail.get("S3BucketName"),
                "kms_key_id": key,
                "log_file_validation": trail.get("LogFileValidationEnabled"),
            }
            if key:
                yield ctx.passed(arn, observed=observed, reason=f"log files encrypted with SSE-KMS ({key})", **kw)
            elif require:
                bucket = observed["s3_bucket"]
                reason = f"log files use the S3 bucket's default encryption (SSE-S3), not SSE-KMS (bucket {bucket})"
                yield ctx.failed(arn, observed=observed, reason=reason, **kw)
            else:
                reason = "no KMS key: log files use the S3 bucket's default encryption (SSE-S3); KMS not required"
                yield ctx.passed(arn, observed=observed, reason=reason, **kw)


def _log_group_results(bundle: EvidenceBundle, ctx: CheckContext, require: bool) -> Iterator[CheckResult]:
    expected = {"kms_key_id": "set" if require else "any (CloudWatch Logs always encrypts at rest)"}
    ev = bundle.ref("logs", "DescribeLogGroups")
    kw: dict[str, Any] = {"evidence": ev, "expected": expected, "resource_type": LOG_GROUP_TYPE}
    failed = listing_failure(bundle, OPERATIONS, "logs", "DescribeLogGroups", GROUP_PARAMS, "log groups")
    if failed is not None:
        yield ctx.error(failed, **kw)
    for page in bundle.all("logs", "DescribeLogGroups"):
        for group in (page.response or {}).get("logGroups", []) if page.ok else []:
            name = group.get("logGroupName", "")
            arn = group.get("logGroupArn") or str(group.get("arn") or name).removesuffix(":*")
            key = group.get("kmsKeyId") or None
            observed = {
                "name": name,
                "kms_key_id": key,
                "key_type": "KMS" if key else "SERVICE_MANAGED",
                "retention_in_days": group.get("retentionInDays"),
                "log_group_class": group.get("logGroupClass"),
            }
            if key:
                yield ctx.passed(arn, observed=observed, reason=f"encrypted with KMS key {key}", **kw)
            elif require:
                reason = "encrypted only with the CloudWatch Logs service-managed key; a KMS key is required"
                yield ctx.failed(arn, observed=observed, reason=reason, **kw)
            else:
                reason = "encrypted at rest with the CloudWatch Logs service-managed key (no customer managed KMS key)"
                yield ctx.passed(arn, observed=observed, reason=reason, **kw)


@check(
    id="aws.logs.encryption",
    collector="aws.logs",
    title="Audit trails and log groups are encrypted with KMS",
    description="Every CloudTrail trail (in its home region) encrypts its log files with SSE-KMS (KmsKeyId); every "
    "CloudWatch Logs log group is reported with its key: groups without kmsKeyId are encrypted with a "
    "service-managed key and pass unless log_groups_require_kms is set.",
    severity=Severity.MEDIUM,
    resource_type=TRAIL_TYPE,
    permissions=["cloudtrail:DescribeTrails", "logs:DescribeLogGroups"],
    remediation="aws cloudtrail update-trail --name TRAIL --kms-key-id KEY_ARN (the key policy must let "
    "cloudtrail.amazonaws.com encrypt); aws logs associate-kms-key --log-group-name NAME --kms-key-id KEY_ARN "
    "(the key policy must let logs.REGION.amazonaws.com use it).",
    thresholds={"trails_require_kms": True, "log_groups_require_kms": False},
    risk="Audit logs and application logs hold customer data and the record of access to it; without a KMS key, "
    "anyone who can read the bucket or log group reads them.",
)
def logs_encryption(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    yield from _trail_results(bundle, ctx, bool(ctx.thresholds["trails_require_kms"]))
    yield from _log_group_results(bundle, ctx, bool(ctx.thresholds["log_groups_require_kms"]))
