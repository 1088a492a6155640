"""aws.sqs.encryption on recorded evidence: SSE-KMS, SSE-SQS and unencrypted queues over two pages."""

from __future__ import annotations

from typing import Any

from controls import Status
from tests.helpers import Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

CHECK = "aws.sqs.encryption"
SCOPE = scope("aws.sqs")
PAGE1 = fixture("aws/sqs/list_queues_page1.json")
PAGE2 = fixture("aws/sqs/list_queues_page2.json")
URL = "https://sqs.us-east-1.amazonaws.com/123456789012/"
ATTRIBUTES = ["QueueArn", "KmsMasterKeyId", "SqsManagedSseEnabled", "KmsDataKeyReusePeriodSeconds"]
ANSWERS = {
    "dexo-fanout": fixture("aws/sqs/get_queue_attributes_sse_kms.json"),
    "dexo-push-retry": fixture("aws/sqs/get_queue_attributes_unencrypted.json"),
    "dexo-webhooks.fifo": fixture("aws/sqs/get_queue_attributes_sse_sqs.json"),
}
MISSING = object()


def sqs_bundle(*, page1: Any = PAGE1, page2: Any = PAGE2, answers: dict[str, Any] | None = None):
    answers = {**ANSWERS, **(answers or {})}
    calls: list[tuple[str, str, dict[str, Any], Any]] = [("sqs", "ListQueues", {"MaxResults": 1000}, page1)]
    if page2 is not MISSING:
        calls.append(("sqs", "ListQueues", {"MaxResults": 1000, "NextToken": "queues-page-2"}, page2))
    for name, answer in answers.items():
        if answer is not MISSING:
            calls.append(("sqs", "GetQueueAttributes", {"QueueUrl": URL + name, "AttributeNames": ATTRIBUTES}, answer))
    return bundle_from_calls(SCOPE, calls)


def test_sse_kms_and_sse_sqs_pass_and_no_encryption_fails():
    results = by_resource(run_check(CHECK, sqs_bundle()))
    assert set(results) == {"dexo-fanout", "dexo-push-retry", "dexo-webhooks.fifo"}
    kms = results["dexo-fanout"]
    assert kms.status == Status.PASS and kms.resource_type == "AWS::SQS::Queue"
    assert kms.observed["encryption"] == "SSE-KMS" and kms.observed["queue_url"] == URL + "dexo-fanout"
    assert kms.observed["kms_data_key_reuse_period_seconds"] == "300"
    assert kms.reason.startswith("encrypted at rest with SSE-KMS with arn:aws:kms:")
    assert ref_ops(kms) == {"sqs.ListQueues", "sqs.GetQueueAttributes"}
    sse = results["dexo-webhooks.fifo"]
    assert sse.status == Status.PASS and sse.observed["encryption"] == "SSE-SQS"
    bad = results["dexo-push-retry"]
    assert bad.status == Status.FAIL and bad.observed["encryption"] is None
    assert bad.reason == "no server-side encryption (neither SSE-SQS nor SSE-KMS)"


def test_require_sse_kms_fails_sse_sqs():
    results = by_resource(run_check(CHECK, sqs_bundle(), {"require_sse_kms": True}))
    assert results["dexo-fanout"].status == Status.PASS
    assert results["dexo-webhooks.fifo"].status == Status.FAIL
    assert "SSE-KMS is required" in results["dexo-webhooks.fifo"].reason


def test_attributes_denied_or_missing_are_errors_for_that_queue_only():
    answers = {"dexo-fanout": Fail("AccessDenied", status=403), "dexo-push-retry": MISSING}
    results = by_resource(run_check(CHECK, sqs_bundle(answers=answers)))
    assert results["dexo-fanout"].status == Status.ERROR
    assert results["dexo-fanout"].observed["missing_permission"] == "sqs:GetQueueAttributes"
    assert results["dexo-push-retry"].status == Status.ERROR
    assert results["dexo-push-retry"].observed["error_code"] == "NotCollected"
    assert results["dexo-webhooks.fifo"].status == Status.PASS


def test_an_account_without_queues_has_no_results_and_a_failed_listing_is_an_error():
    assert run_check(CHECK, sqs_bundle(page1={}, page2=MISSING, answers={k: MISSING for k in ANSWERS})) == []
    results = run_check(CHECK, sqs_bundle(page1=Fail("AccessDenied", status=403), page2=MISSING))
    assert [(r.resource_id, r.status) for r in results] == [("*", Status.ERROR)]
    assert results[0].observed["missing_permission"] == "sqs:ListQueues"


def test_second_page_failing_keeps_the_first_pages_results_and_adds_an_error():
    results = by_resource(run_check(CHECK, sqs_bundle(page2=Fail("ThrottlingException"))))
    assert results["*"].status == Status.ERROR
    assert results["dexo-fanout"].status == Status.PASS and "dexo-webhooks.fifo" not in results
