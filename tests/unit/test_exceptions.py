"""Risk acceptance: parsing, validation messages, and applying exceptions to results."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from controls import Status
from controls.exceptions import (
    ExceptionsError,
    RiskException,
    apply_exceptions,
    load_exceptions,
    parse_exceptions,
)
from tests.unit.test_verify import ACCOUNT, EBS, S3, result

KNOWN = {S3, EBS, "aws.kms.key_rotation"}
AS_OF = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)

GOOD = """\
exceptions:
  - check: aws.s3.default_encryption
    resource: "dexo-staging-*"
    account: "828931197057"
    reason: Scratch bucket holds synthetic data only
    approved_by: jane.doe@dexo.chat
    approved_on: 2026-03-01
    expires_on: 2026-12-31
    ticket: SEC-123
"""


def exc(
    resource: str = "dexo-staging-*",
    *,
    check: str = S3,
    approved: date = date(2026, 3, 1),
    expires: date = date(2026, 12, 31),
    account: str | None = None,
    region: str | None = None,
    index: int = 0,
    ticket: str = "SEC-123",
) -> RiskException:
    return RiskException(
        index=index,
        check=check,
        resource=resource,
        reason="synthetic data only",
        approved_by="jane.doe@dexo.chat",
        approved_on=approved,
        expires_on=expires,
        ticket=ticket,
        account=account,
        region=region,
    )


# --------------------------------------------------------------------------- parsing


def test_parse_good_file() -> None:
    [ex] = parse_exceptions(GOOD, "exceptions.yaml", KNOWN)
    assert ex.check == S3 and ex.resource == "dexo-staging-*" and ex.account == ACCOUNT
    assert ex.approved_on == date(2026, 3, 1) and ex.expires_on == date(2026, 12, 31)
    assert ex.ticket == "SEC-123" and ex.index == 0 and ex.source == "exceptions.yaml"
    assert ex.region is None
    assert ex.label == "exceptions[0] (SEC-123)"


def test_load_from_file_and_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "exceptions.yaml"
    path.write_text(GOOD)
    assert len(load_exceptions(path, KNOWN)) == 1
    path.write_text("")
    assert load_exceptions(path, KNOWN) == []
    path.write_text("exceptions: []\n")
    assert load_exceptions(path, KNOWN) == []
    with pytest.raises(ExceptionsError, match="file not found"):
        load_exceptions(tmp_path / "nope.yaml", KNOWN)


def _error(text: str) -> str:
    with pytest.raises(ExceptionsError) as info:
        parse_exceptions(text, "exceptions.yaml", KNOWN)
    assert "Traceback" not in info.value.message
    return info.value.message


def _second(**changes: str) -> str:
    """GOOD plus a second and third exception, the third with `changes` applied."""
    item = {
        "check": "aws.ebs.volume_encryption",
        "resource": "vol-1",
        "reason": "legacy volume",
        "approved_by": "bob@dexo.chat",
        "approved_on": "2026-01-01",
        "expires_on": "2026-02-01",
    }
    item.update(changes)
    lines = ["  - " + "\n    ".join(f"{k}: {v}" for k, v in item.items() if v != "<drop>")]
    return GOOD + GOOD.split("\n", 1)[1] + "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"approved_on": "2026-13-01"}, "exceptions.yaml: exceptions[2].approved_on: "),
        ({"expires_on": "next year"}, "exceptions.yaml: exceptions[2].expires_on: expected a date YYYY-MM-DD"),
        ({"check": "aws.s3.default_encription"}, "exceptions[2].check: unknown check ID 'aws.s3.default_encription'"),
        ({"reason": "<drop>"}, "exceptions.yaml: exceptions[2].reason: required field missing"),
        ({"approved_by": "'  '"}, "exceptions.yaml: exceptions[2].approved_by: "),
        ({"expires_on": "2025-12-31"}, "exceptions[2].expires_on: 2025-12-31 is before approved_on 2026-01-01"),
        ({"colour": "blue"}, "exceptions.yaml: exceptions[2].colour: unknown key"),
        ({"account": "828931197057"}, "exceptions[2].account: expected a quoted string"),
        ({"approved_on": "2026-01-01 10:00:00"}, "exceptions[2].approved_on: expected a date YYYY-MM-DD"),
    ],
)
def test_invalid_files_name_the_key_path(changes: dict[str, str], expected: str) -> None:
    message = _error(_second(**changes))
    assert expected in message
    assert len(message.splitlines()) == 1, message


def test_unknown_check_suggests_the_close_one() -> None:
    assert "did you mean 'aws.s3.default_encryption'?" in _error(_second(check="aws.s3.default_encription"))


def test_every_problem_reported_at_once() -> None:
    text = _second(check="aws.nope", expires_on="2025-01-01") + "  - {check: aws.s3.default_encryption}\n"
    lines = _error(text).splitlines()
    assert any("exceptions[2].check: unknown check ID" in x for x in lines)
    assert any("exceptions[2].expires_on: 2025-01-01 is before" in x for x in lines)
    assert any("exceptions[3].resource: required field missing" in x for x in lines)
    assert all(x.startswith("exceptions.yaml: ") for x in lines)


def test_bad_top_level_and_yaml_syntax() -> None:
    assert "expected a mapping" in _error("- a\n- b\n")
    assert "exceptions.yaml: line 3, column 1: " in _error("exceptions:\n  - [\n")
    assert "exceptions.yaml: exceptions: " in _error("exceptions: 3\n")
    assert "exceptions.yaml: excepshuns: unknown key" in _error("excepshuns: []\n")


# --------------------------------------------------------------------------- applying


def test_active_exception_excepts_a_matching_fail() -> None:
    fail = result(S3, "dexo-staging-scratch", "fail")
    other = result(S3, "dexo-prod-data", "fail")
    out, report = apply_exceptions([fail, other], [exc()], AS_OF)
    assert out[0].status == Status.EXCEPTED
    assert out[0].observed == fail.observed and out[0].expected == fail.expected
    assert out[0].reason == (
        f"{fail.reason} — excepted: SEC-123, approved by jane.doe@dexo.chat on 2026-03-01, expires 2026-12-31"
    )
    assert out[1] is other  # untouched
    [use] = report.uses
    assert use.status == "active" and use.matched == (f"{ACCOUNT}/global/dexo-staging-scratch",)
    assert report.excepted == 1 and report.active == [use]
    assert use.days_to_expiry == (date(2026, 12, 31) - date(2026, 6, 30)).days
    assert report.warnings() == []


def test_pass_error_and_not_applicable_are_never_changed() -> None:
    results = [result(S3, f"dexo-staging-{s}", s) for s in ("pass", "error", "not_applicable")]
    out, report = apply_exceptions(results, [exc()], AS_OF)
    assert out == results
    [use] = report.uses
    assert use.status == "stale"  # in force, but covers no failing resource
    assert use.other == {"pass": 1, "error": 1, "not_applicable": 1}
    assert report.excepted == 0


def test_expired_exception_no_longer_applies_and_is_flagged() -> None:
    fail = result(S3, "dexo-staging-scratch", "fail")
    out, report = apply_exceptions([fail], [exc(expires=date(2026, 6, 29))], AS_OF)
    assert out[0].status == Status.FAIL
    [use] = report.expired
    assert use.matched == (f"{ACCOUNT}/global/dexo-staging-scratch",)  # what it would have matched
    assert use.days_to_expiry == -1
    [warning] = report.warnings()
    assert "expired on 2026-06-29" in warning and "1 failing resource(s)" in warning


def test_validity_is_inclusive_at_both_ends() -> None:
    fail = result(S3, "dexo-staging-scratch", "fail")
    on_expiry = exc(approved=date(2026, 1, 1), expires=date(2026, 6, 30))
    on_approval = exc(approved=date(2026, 6, 30), expires=date(2026, 7, 30))
    for ex in (on_expiry, on_approval):
        out, _ = apply_exceptions([fail], [ex], AS_OF)
        assert out[0].status == Status.EXCEPTED
    # as_of is compared as a UTC date: 2026-07-01 01:00 in UTC+3 is 2026-06-30 22:00 UTC
    tz = timezone(timedelta(hours=3))
    out, _ = apply_exceptions([fail], [on_expiry], datetime(2026, 7, 1, 1, 0, tzinfo=tz))
    assert out[0].status == Status.EXCEPTED
    out, _ = apply_exceptions([fail], [on_expiry], datetime(2026, 7, 1, 4, 0, tzinfo=tz))
    assert out[0].status == Status.FAIL


def test_not_yet_valid_exception_is_not_applied() -> None:
    fail = result(S3, "dexo-staging-scratch", "fail")
    out, report = apply_exceptions([fail], [exc(approved=date(2026, 7, 1))], AS_OF)
    assert out[0].status == Status.FAIL
    [use] = report.not_yet_valid
    assert use.matched_count == 1
    assert "not valid before 2026-07-01" in report.warnings()[0]


def test_stale_exception_matching_nothing() -> None:
    out, report = apply_exceptions([result(S3, "other", "fail")], [exc("gone-bucket")], AS_OF)
    assert out[0].status == Status.FAIL
    [use] = report.stale
    assert use.matched_count == 0 and use.other == {}
    assert "matches no failing resource" in report.warnings()[0]


def test_account_region_and_check_must_match_and_patterns_are_case_sensitive() -> None:
    results = [
        result(S3, "dexo-staging-a", "fail", account="111111111111"),
        result(S3, "dexo-staging-b", "fail", region="eu-west-1"),
        result(EBS, "dexo-staging-c", "fail"),
        result(S3, "DEXO-staging-d", "fail"),
        result(S3, "dexo-staging-e", "fail"),
    ]
    ex = exc(account=ACCOUNT, region="global")
    out, report = apply_exceptions(results, [ex], AS_OF)
    assert [r.status for r in out] == [Status.FAIL] * 4 + [Status.EXCEPTED]
    assert report.uses[0].matched == (f"{ACCOUNT}/global/dexo-staging-e",)


def test_exact_resource_id_and_bracket_characters() -> None:
    arn = "arn:aws:kms:us-east-1:828931197057:key/1234"
    results = [result("aws.kms.key_rotation", arn, "fail"), result("aws.kms.key_rotation", arn + "5", "fail")]
    out, _ = apply_exceptions(results, [exc(arn, check="aws.kms.key_rotation")], AS_OF)
    assert [r.status for r in out] == [Status.EXCEPTED, Status.FAIL]


def test_first_active_exception_is_named_and_each_counts_its_matches() -> None:
    fail = result(S3, "dexo-staging-scratch", "fail")
    first = exc("dexo-staging-*", ticket="SEC-1", index=0)
    second = exc("*-scratch", ticket="SEC-2", index=1)
    out, report = apply_exceptions([fail], [first, second], AS_OF)
    assert "excepted: SEC-1," in out[0].reason and "SEC-2" not in out[0].reason
    assert [u.matched_count for u in report.uses] == [1, 1]
    assert [u.status for u in report.uses] == ["active", "active"]


def test_expired_first_active_second() -> None:
    fail = result(S3, "dexo-staging-scratch", "fail")
    expired = exc(ticket="OLD", expires=date(2026, 5, 1), index=0)
    renewed = exc(ticket="NEW", approved=date(2026, 5, 1), index=1)
    out, report = apply_exceptions([fail], [expired, renewed], AS_OF)
    assert out[0].status == Status.EXCEPTED and "excepted: NEW," in out[0].reason
    assert [u.status for u in report.uses] == ["expired", "active"]


def test_no_ticket() -> None:
    out, _ = apply_exceptions([result(S3, "dexo-staging-x", "fail")], [exc(ticket="")], AS_OF)
    assert " — excepted: approved by jane.doe@dexo.chat on 2026-03-01" in out[0].reason


def test_report_rows_and_json() -> None:
    results = [result(S3, f"dexo-staging-{i}", "fail") for i in range(60)]
    _, report = apply_exceptions(results, [exc(), exc("nothing", index=1)], date(2026, 6, 30))
    rows = report.rows()
    assert [r["Status"] for r in rows] == ["active", "stale"]
    assert rows[0]["Matched failing resources"] == 60
    assert rows[0]["Resources"].endswith("… and 10 more")
    assert rows[0]["Approved on"] == date(2026, 3, 1)
    data = json.loads(json.dumps(report.to_json()))
    assert data["excepted"] == 60 and data["exceptions"][1]["status"] == "stale"


def test_apply_is_pure_and_keeps_order() -> None:
    results = [result(S3, f"dexo-staging-{i}", "fail" if i % 2 else "pass") for i in range(10)]
    before = list(results)
    out, _ = apply_exceptions(results, [exc()], AS_OF)
    assert results == before
    assert [r.resource_id for r in out] == [r.resource_id for r in results]
    assert [r.status for r in out] == [Status.EXCEPTED if i % 2 else Status.PASS for i in range(10)]
    assert apply_exceptions(results, [], AS_OF)[0] == results
