"""aws.secretsmanager.rotation on recorded evidence (as of 2025-06-30 12:00 UTC, default 90 days)."""

from __future__ import annotations

from typing import Any

from collectors.aws.secretsmanager import schedule_days
from controls import Status
from tests.helpers import Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

CHECK = "aws.secretsmanager.rotation"
SCOPE = scope("aws.secretsmanager")
PAGE1 = fixture("aws/secretsmanager/list_secrets_page1.json")
PAGE2 = fixture("aws/secretsmanager/list_secrets_page2.json")
MISSING = object()


def sm_bundle(*, page1: Any = PAGE1, page2: Any = PAGE2):
    calls: list[tuple[str, str, dict[str, Any], Any]] = [("secretsmanager", "ListSecrets", {"MaxResults": 100}, page1)]
    if page2 is not MISSING:
        calls.append(("secretsmanager", "ListSecrets", {"MaxResults": 100, "NextToken": "secrets-page-2"}, page2))
    return bundle_from_calls(SCOPE, calls)


def by_name(results):
    return {r.observed["name"]: r for r in by_resource(results).values()}


def test_every_branch_at_the_default_threshold():
    results = by_name(run_check(CHECK, sm_bundle()))
    assert len(results) == 8
    ok = results["dexo/prod/db-password"]
    assert ok.status == Status.PASS and ok.resource_type == "AWS::SecretsManager::Secret"
    assert ok.resource_id == "arn:aws:secretsmanager:us-east-1:123456789012:secret:dexo/prod/db-password-AbCdEf"
    assert ok.reason == "rotation enabled, last rotated 15 days ago"
    assert ok.observed["days_since_rotation"] == 15 and ok.observed["rotation_interval_days"] == 30
    assert ref_ops(ok) == {"secretsmanager.ListSecrets"}
    expected = {
        "dexo/prod/stripe-api-key": (Status.FAIL, "automatic rotation is disabled"),
        "dexo/prod/old-rotation": (Status.FAIL, "rotation enabled but last rotated 149 days ago (more than 90)"),
        "dexo/prod/yearly": (Status.FAIL, "rotates every 365 days, more than the maximum of 90"),
        "dexo/prod/new-token": (Status.PASS, "rotation enabled, not rotated yet; created 10 days ago (within 90)"),
        "dexo/prod/never-rotated": (
            Status.FAIL,
            "rotation enabled but never rotated; created 241 days ago (more than 90)",
        ),
        "rds!db-0f1e2d3c": (Status.PASS, "rotation enabled, last rotated 2 days ago (managed by rds)"),
    }
    for name, (status, reason) in expected.items():
        assert (results[name].status, results[name].reason) == (status, reason), name
    replica = results["dexo/eu/replica"]
    assert replica.status == Status.NOT_APPLICABLE and "replica of a secret in eu-west-1" in replica.reason


def test_threshold_moves_the_line():
    results = by_name(run_check(CHECK, sm_bundle(), {"max_days_since_rotation": 400}))
    assert results["dexo/prod/yearly"].status == Status.PASS
    assert results["dexo/prod/old-rotation"].status == Status.PASS
    assert results["dexo/prod/stripe-api-key"].status == Status.FAIL
    strict = by_name(run_check(CHECK, sm_bundle(), {"max_days_since_rotation": 7}))
    assert strict["dexo/prod/db-password"].status == Status.FAIL  # a 30-day schedule exceeds 7


def test_schedule_expressions():
    assert schedule_days({"AutomaticallyAfterDays": 30}) == 30
    assert schedule_days({"ScheduleExpression": "rate(10 days)"}) == 10
    assert schedule_days({"ScheduleExpression": "rate(4 hours)"}) == 4 / 24
    assert schedule_days({"ScheduleExpression": "cron(0 4 ? * SUN *)"}) is None
    assert schedule_days({}) is None


def test_listing_errors_are_errors_and_earlier_pages_still_count():
    results = run_check(CHECK, sm_bundle(page1=Fail("AccessDeniedException"), page2=MISSING))
    assert [(r.resource_id, r.status) for r in results] == [("*", Status.ERROR)]
    assert results[0].observed["missing_permission"] == "secretsmanager:ListSecrets"
    partial = by_resource(run_check(CHECK, sm_bundle(page2=Fail("ThrottlingException"))))
    assert partial["*"].status == Status.ERROR and len(partial) == 5
    assert run_check(CHECK, bundle_from_calls(SCOPE, []))[0].observed["error_code"] == "NotCollected"
