"""aws.sns.encryption on recorded evidence: AWS managed key, customer key and no key, over two pages."""

from __future__ import annotations

from typing import Any

from controls import Status
from tests.helpers import Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

CHECK = "aws.sns.encryption"
SCOPE = scope("aws.sns")
PAGE1 = fixture("aws/sns/list_topics_page1.json")
PAGE2 = fixture("aws/sns/list_topics_page2.json")
ARN = "arn:aws:sns:us-east-1:123456789012:"
ALERTS, SIGNUPS, BILLING = ARN + "dexo-alerts", ARN + "dexo-signups", ARN + "dexo-billing"
ANSWERS = {
    ALERTS: fixture("aws/sns/get_topic_attributes_aws_managed.json"),
    SIGNUPS: fixture("aws/sns/get_topic_attributes_unencrypted.json"),
    BILLING: fixture("aws/sns/get_topic_attributes_customer_key.json"),
}
MISSING = object()


def sns_bundle(*, page1: Any = PAGE1, page2: Any = PAGE2, answers: dict[str, Any] | None = None):
    answers = {**ANSWERS, **(answers or {})}
    calls: list[tuple[str, str, dict[str, Any], Any]] = [("sns", "ListTopics", {}, page1)]
    if page2 is not MISSING:
        calls.append(("sns", "ListTopics", {"NextToken": "topics-page-2"}, page2))
    for arn, answer in answers.items():
        if answer is not MISSING:
            calls.append(("sns", "GetTopicAttributes", {"TopicArn": arn}, answer))
    return bundle_from_calls(SCOPE, calls)


def test_a_kms_key_passes_and_no_key_fails():
    results = by_resource(run_check(CHECK, sns_bundle()))
    assert set(results) == {ALERTS, SIGNUPS, BILLING}
    ok = results[ALERTS]
    assert ok.status == Status.PASS and ok.resource_type == "AWS::SNS::Topic"
    assert ok.observed == {"topic_name": "dexo-alerts", "kms_master_key_id": "alias/aws/sns", "key_type": "AWS_MANAGED"}
    assert ok.reason == "encrypted at rest with alias/aws/sns"
    assert ref_ops(ok) == {"sns.ListTopics", "sns.GetTopicAttributes"}
    assert results[BILLING].status == Status.PASS
    bad = results[SIGNUPS]
    assert bad.status == Status.FAIL and bad.reason == "no server-side encryption (KmsMasterKeyId not set)"


def test_require_customer_managed_fails_the_aws_managed_alias():
    results = by_resource(run_check(CHECK, sns_bundle(), {"require_customer_managed": True}))
    assert results[ALERTS].status == Status.FAIL and "customer managed key is required" in results[ALERTS].reason
    assert results[BILLING].status == Status.PASS


def test_attribute_errors_affect_one_topic_and_a_failed_listing_is_one_error():
    results = by_resource(run_check(CHECK, sns_bundle(answers={ALERTS: Fail("AuthorizationError"), SIGNUPS: MISSING})))
    assert results[ALERTS].status == Status.ERROR
    assert results[ALERTS].observed["missing_permission"] == "sns:GetTopicAttributes"
    assert results[SIGNUPS].observed["error_code"] == "NotCollected"
    assert results[BILLING].status == Status.PASS
    listing = run_check(CHECK, sns_bundle(page1=Fail("AuthorizationError"), page2=MISSING))
    assert [(r.resource_id, r.status) for r in listing] == [("*", Status.ERROR)]
    assert listing[0].observed["missing_permission"] == "sns:ListTopics"
    assert run_check(CHECK, bundle_from_calls(SCOPE, []))[0].observed["error_code"] == "NotCollected"
