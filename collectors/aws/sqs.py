"""SQS: server-side encryption of every queue, SSE-SQS or SSE-KMS.

A queue is encrypted at rest when ``KmsMasterKeyId`` is set (SSE-KMS, an AWS managed
``alias/aws/sqs`` or a customer managed key) or ``SqsManagedSseEnabled`` is "true"
(SSE-SQS, keys owned by SQS). Queues created since October 2022 get SSE-SQS by default
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-server-side-encryption.html),
so a queue without either was created earlier or had it switched off. With
``require_sse_kms`` only SSE-KMS passes (the organisation controls the key's policy).

Results are keyed by queue name (unique per account and region; the URL carries the
endpoint's host, which differs between AWS, a VPC endpoint and an emulator); the URL and
ARN are in `observed`.

API cost per region: ListQueues 1 call per 1000 queues, GetQueueAttributes 1 call per queue.
"""

from __future__ import annotations

from collections.abc import Iterator

from collectors.aws._gaps import listing_failure, not_collected
from collectors.evidence import EvidenceBundle
from collectors.registry import CheckContext, CollectorSpec, FetchContext, check, register_collector
from controls import CheckResult, Severity

OPERATIONS = {
    "sqs:ListQueues": "sqs:ListQueues",
    "sqs:GetQueueAttributes": "sqs:GetQueueAttributes",
}

PAGE_SIZE = 1000  # ListQueues MaxResults maximum
ATTRIBUTES = ["QueueArn", "KmsMasterKeyId", "SqsManagedSseEnabled", "KmsDataKeyReusePeriodSeconds"]


def fetch(ctx: FetchContext) -> None:
    rec = ctx.recorder
    sqs = ctx.client("sqs")
    pages = rec.paginate("sqs", "ListQueues", sqs.list_queues, "NextToken", "NextToken", MaxResults=PAGE_SIZE)
    urls = [u for p in pages if p.ok for u in (p.response or {}).get("QueueUrls", [])]
    ctx.map(
        lambda url: rec.call(
            "sqs", "GetQueueAttributes", sqs.get_queue_attributes, QueueUrl=url, AttributeNames=ATTRIBUTES
        ),
        urls,
    )


register_collector(
    CollectorSpec(
        id="aws.sqs",
        provider="aws",
        service="sqs",
        per_region=True,
        operations=OPERATIONS,
        fetch=fetch,
        description="SQS queues and their server-side encryption settings, per region",
    )
)


def _queue_urls(bundle: EvidenceBundle) -> Iterator[str]:
    for page in bundle.all("sqs", "ListQueues"):
        yield from (page.response or {}).get("QueueUrls", [])


@check(
    id="aws.sqs.encryption",
    collector="aws.sqs",
    title="SQS queues encrypt messages at rest",
    description="Every SQS queue has server-side encryption: SSE-SQS (SqsManagedSseEnabled) or SSE-KMS "
    "(KmsMasterKeyId); with require_sse_kms, only SSE-KMS passes.",
    severity=Severity.MEDIUM,
    resource_type="AWS::SQS::Queue",
    permissions=["sqs:ListQueues", "sqs:GetQueueAttributes"],
    remediation="aws sqs set-queue-attributes --queue-url URL --attributes SqsManagedSseEnabled=true "
    "(or KmsMasterKeyId=KEY_ARN for SSE-KMS).",
    thresholds={"require_sse_kms": False},
    risk="Messages in transit between services often carry customer data; unencrypted queues store it in the clear.",
)
def sqs_encryption(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    require_kms = bool(ctx.thresholds["require_sse_kms"])
    expected = {"encryption": ["SSE-KMS"] if require_kms else ["SSE-SQS", "SSE-KMS"]}
    failed = listing_failure(bundle, OPERATIONS, "sqs", "ListQueues", {"MaxResults": PAGE_SIZE}, "queues")
    if failed is not None:
        yield ctx.error(failed, evidence=bundle.ref("sqs", "ListQueues"), expected=expected)
    ev = bundle.refs_for(("sqs", "ListQueues"), ("sqs", "GetQueueAttributes"))
    for url in _queue_urls(bundle):
        name = url.rstrip("/").rsplit("/", 1)[-1]
        call = bundle.find("sqs", "GetQueueAttributes", QueueUrl=url, AttributeNames=ATTRIBUTES)
        if call is None:
            params = {"QueueUrl": url, "AttributeNames": ATTRIBUTES}
            call = not_collected(OPERATIONS, "sqs", "GetQueueAttributes", params, f"queue {name}")
        if not call.ok:
            yield ctx.error(call, name, evidence=ev, expected=expected)
            continue
        attrs = (call.response or {}).get("Attributes") or {}
        key = attrs.get("KmsMasterKeyId") or None
        sse_sqs = str(attrs.get("SqsManagedSseEnabled", "")).lower() == "true"
        encryption = "SSE-KMS" if key else ("SSE-SQS" if sse_sqs else None)
        observed = {
            "queue_url": url,
            "queue_arn": attrs.get("QueueArn"),
            "encryption": encryption,
            "kms_master_key_id": key,
            "sqs_managed_sse_enabled": sse_sqs,
            "kms_data_key_reuse_period_seconds": attrs.get("KmsDataKeyReusePeriodSeconds") if key else None,
        }
        kw = {"evidence": ev, "expected": expected, "observed": observed}
        if encryption is None:
            yield ctx.failed(name, reason="no server-side encryption (neither SSE-SQS nor SSE-KMS)", **kw)
        elif encryption not in expected["encryption"]:
            yield ctx.failed(name, reason="encrypted with SSE-SQS (SQS owned keys); SSE-KMS is required", **kw)
        else:
            how = f"SSE-KMS with {key}" if key else "SSE-SQS (SQS owned keys)"
            yield ctx.passed(name, reason=f"encrypted at rest with {how}", **kw)
