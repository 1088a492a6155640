"""How a failed call becomes an `error` result: honest about why, short enough to read.

Regression tests for issue 12, defect 7: an HTTP 403 whose body carried no AWS error code was
labelled a missing permission, and whole raw answers (> 40 KB) were copied into findings and CSV.
"""

from __future__ import annotations

from datetime import UTC, datetime

from collectors.evidence import ApiCall, ApiError, Scope
from collectors.registry import MESSAGE_LIMIT, CheckContext, cap_message, checks
from controls import Status

SCOPE = Scope("aws", "111122223333", "us-east-1", "aws.s3")


def _ctx() -> CheckContext:
    spec = checks()["aws.s3.default_encryption"].spec
    return CheckContext(spec, SCOPE, {}, datetime(2026, 12, 1, tzinfo=UTC))


def _failed(code: str, message: str = "denied", status: int | None = 403) -> ApiCall:
    return ApiCall(
        "s3",
        "GetBucketEncryption",
        {"Bucket": "b"},
        "",
        None,
        ApiError(code, message, "s3:GetEncryptionConfiguration", status),
    )


def test_access_denied_names_the_missing_permission() -> None:
    result = _ctx().error(_failed("AccessDenied"), "b")
    assert result.status is Status.ERROR
    assert result.observed["missing_permission"] == "s3:GetEncryptionConfiguration"
    assert "missing permission s3:GetEncryptionConfiguration" in result.reason


def test_a_403_without_an_error_code_is_not_called_a_missing_permission() -> None:
    result = _ctx().error(_failed("403", "<html>Request blocked by WAF</html>"), "b")
    assert result.status is Status.ERROR
    assert result.observed["missing_permission"] is None
    assert result.observed["required_permission"] == "s3:GetEncryptionConfiguration"
    assert "; missing permission" not in result.reason
    assert "HTTP 403 without an AWS error code" in result.reason


def test_a_huge_error_body_is_capped_in_the_finding_and_kept_whole_in_the_evidence() -> None:
    body = "<Error>" + "x" * 45_000 + "</Error>"
    call = _failed("InternalError", body, 500)
    result = _ctx().error(call, "b")
    message = result.observed["message"]
    assert len(message) < MESSAGE_LIMIT + 120
    assert message.startswith("<Error>xxx") and "45,015 characters in all" in message
    assert call.to_json()["error"]["message"] == body  # what the evidence file records


def test_short_messages_are_untouched() -> None:
    assert cap_message("AccessDenied: nope") == "AccessDenied: nope"
    assert cap_message("y" * MESSAGE_LIMIT) == "y" * MESSAGE_LIMIT
    assert cap_message("z" * 2_000, kept_in=None).endswith("[2,000 characters in all]")


def test_evaluate_re_runs_only_the_checks_the_run_ran() -> None:
    """A newer version registers more checks on the same collectors; an old run must not gain findings."""
    from types import SimpleNamespace

    from flows.evaluate import _checks_that_ran

    catalog = SimpleNamespace(
        controls=[SimpleNamespace(checks=("aws.s3.default_encryption", "aws.rds.storage_encryption"))]
    )
    assert _checks_that_ran({}, catalog) == {"aws.s3.default_encryption", "aws.rds.storage_encryption"}
    assert _checks_that_ran({"checks": ["aws.kms.key_rotation"]}, catalog) == {"aws.kms.key_rotation"}
