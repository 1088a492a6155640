"""SNS: server-side encryption of every topic (KmsMasterKeyId).

SNS encrypts a topic's messages at rest only when the topic names a KMS key
(``KmsMasterKeyId``: the AWS managed ``alias/aws/sns`` or a customer managed key);
without one, SSE is off (https://docs.aws.amazon.com/sns/latest/dg/sns-server-side-encryption.html).
With ``require_customer_managed``, the AWS managed alias ``alias/aws/sns`` fails; any
other key id is taken as customer managed (a key ARN does not say who manages it, and
this check describes no keys: observed names the key for the reviewer).

API cost per region: ListTopics 1 call per 100 topics, GetTopicAttributes 1 call per topic.
"""

from __future__ import annotations

from collections.abc import Iterator

from collectors.aws._gaps import listing_failure, not_collected
from collectors.evidence import EvidenceBundle
from collectors.registry import CheckContext, CollectorSpec, FetchContext, check, register_collector
from controls import CheckResult, Severity

OPERATIONS = {
    "sns:ListTopics": "sns:ListTopics",
    "sns:GetTopicAttributes": "sns:GetTopicAttributes",
}

AWS_MANAGED_ALIAS = "alias/aws/sns"


def fetch(ctx: FetchContext) -> None:
    rec = ctx.recorder
    sns = ctx.client("sns")
    pages = rec.paginate("sns", "ListTopics", sns.list_topics, "NextToken", "NextToken")
    arns = [t["TopicArn"] for p in pages if p.ok for t in (p.response or {}).get("Topics", [])]
    ctx.map(lambda arn: rec.call("sns", "GetTopicAttributes", sns.get_topic_attributes, TopicArn=arn), arns)


register_collector(
    CollectorSpec(
        id="aws.sns",
        provider="aws",
        service="sns",
        per_region=True,
        operations=OPERATIONS,
        fetch=fetch,
        description="SNS topics and their server-side encryption key, per region",
    )
)


def _topics(bundle: EvidenceBundle) -> Iterator[str]:
    for page in bundle.all("sns", "ListTopics"):
        for topic in (page.response or {}).get("Topics", []):
            yield topic["TopicArn"]


@check(
    id="aws.sns.encryption",
    collector="aws.sns",
    title="SNS topics encrypt messages at rest",
    description="Every SNS topic has server-side encryption with a KMS key (KmsMasterKeyId); with "
    "require_customer_managed, the AWS managed key alias/aws/sns fails.",
    severity=Severity.MEDIUM,
    resource_type="AWS::SNS::Topic",
    permissions=["sns:ListTopics", "sns:GetTopicAttributes"],
    remediation="aws sns set-topic-attributes --topic-arn ARN --attribute-name KmsMasterKeyId "
    "--attribute-value alias/aws/sns (or a customer managed key whose policy lets the publishers use it).",
    thresholds={"require_customer_managed": False},
    risk="Notifications (sign-ups, alerts, webhooks) carry customer data; without SSE it is stored unencrypted.",
)
def sns_encryption(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    require_cmk = bool(ctx.thresholds["require_customer_managed"])
    expected = {"kms_master_key_id": "a customer managed KMS key" if require_cmk else "set"}
    failed = listing_failure(bundle, OPERATIONS, "sns", "ListTopics", {}, "topics")
    if failed is not None:
        yield ctx.error(failed, evidence=bundle.ref("sns", "ListTopics"), expected=expected)
    ev = bundle.refs_for(("sns", "ListTopics"), ("sns", "GetTopicAttributes"))
    for arn in _topics(bundle):
        call = bundle.find("sns", "GetTopicAttributes", TopicArn=arn)
        if call is None:
            call = not_collected(OPERATIONS, "sns", "GetTopicAttributes", {"TopicArn": arn}, f"topic {arn}")
        if not call.ok:
            yield ctx.error(call, arn, evidence=ev, expected=expected)
            continue
        attrs = (call.response or {}).get("Attributes") or {}
        key = attrs.get("KmsMasterKeyId") or None
        aws_managed = bool(key) and key.endswith(AWS_MANAGED_ALIAS)
        observed = {
            "topic_name": arn.rsplit(":", 1)[-1],
            "kms_master_key_id": key,
            "key_type": None if not key else ("AWS_MANAGED" if aws_managed else "CUSTOMER_MANAGED (by its id)"),
        }
        kw = {"evidence": ev, "expected": expected, "observed": observed}
        if not key:
            yield ctx.failed(arn, reason="no server-side encryption (KmsMasterKeyId not set)", **kw)
        elif require_cmk and aws_managed:
            yield ctx.failed(
                arn, reason=f"encrypted with the AWS managed key {key}; a customer managed key is required", **kw
            )
        else:
            yield ctx.passed(arn, reason=f"encrypted at rest with {key}", **kw)
