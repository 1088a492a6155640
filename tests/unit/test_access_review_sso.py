"""IAM Identity Center in access reviews, on recorded JSON: the population rows (one per person, account,
permission set and path), the gaps an unreadable Identity Center leaves (stated, never silent), the
revocation commands, and access_review.revocations_done / completed_recently on Identity Center paths."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from collectors.access_review import reviews, sso_revocations
from collectors.aws.base import classify_error
from collectors.evidence import Recorder, Scope
from collectors.registry import checks
from controls import Status
from flows.access_review.context import AccessReviewContext, IdentityCenterEvidence
from flows.access_review.sso_population import SSO_GROUP, SSO_USER, sso_population, sso_revoke_commands
from flows.config import config_from_mapping
from flows.identity_center import not_in_scope
from reports.access_review import read_workbook, write_workbook
from reports.access_review_gaps import BANNER, GAPS_SHEET
from tests.helpers import Fail, bundle_from_calls
from tests.unit.test_checks_sso import ARN, PS, SCOPE, STORE, calls

BASE = {"organization": "Dexo.chat", "period": {"start": "2026-01-01", "end": "2026-12-31"}}
CFG = config_from_mapping(BASE, base_dir=Path("."))
AS_OF = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
IC_ACCOUNT = "111111111111"


def population(**kw: Any) -> tuple[list, AccessReviewContext]:
    ctx = AccessReviewContext(CFG, AS_OF, [], None)
    ctx.identity_center = [IdentityCenterEvidence(IC_ACCOUNT, bundle_from_calls(SCOPE, calls(**kw)))]
    ctx.account_names = {"222222222222": "prod"}
    return sso_population(ctx), ctx


def test_one_row_per_person_account_permission_set_and_path():
    rows, ctx = population()
    keys = {(p.account, p.name, p.groups, p.policies.split(":")[0]) for p in rows}
    assert ("222222222222", "dave@dexo.chat", "Developers", "permission set DeveloperAccess") in keys
    assert ("333333333333", "carol@dexo.chat", "", "permission set ReadOnly") in keys  # direct
    assert ("111111111111", "alice@dexo.chat", "Admins", "permission set AdministratorAccess") in keys
    assert len(rows) == len({p.key for p in rows}) == 8  # alice x2, bob x2, dave x2, carol, the deleted group
    dave = next(p for p in rows if p.name == "dave@dexo.chat" and p.account == "222222222222")
    assert (dave.principal_type, dave.privileged, dave.account_name) == (SSO_USER, "yes", "prod")
    assert "inline policy: * on *" in dave.privileged_through and "DISABLED" in dave.console_access
    assert dave.email == "dave@dexo.chat" and dave.arn.endswith("user:dave@dexo.chat via group:Developers")
    deleted = [p for p in rows if p.principal_type == SSO_GROUP]
    assert len(deleted) == 1 and deleted[0].name.startswith("deleted group ")
    data = next(p for p in rows if "DataEngineer" in p.policies)
    assert data.privileged == "undetermined" and "/dexo/data-engineering" in data.privileged_through
    assert not ctx.gaps
    detail = ctx.details[dave.key]
    assert detail["identity_center_account"] == IC_ACCOUNT and detail["membership_id"] == "m-3"


def test_unreadable_identity_center_is_a_stated_gap_not_a_smaller_population():
    rows, ctx = population(overrides={("ListInstances", ""): Fail("AccessDeniedException")})
    assert rows == []
    assert ctx.gaps == [
        "Identity Center (account 111111111111): sso-admin:ListInstances failed: AccessDeniedException: "
        "AccessDeniedException (test) (needs sso:ListInstances)"
    ]
    _, ctx = population(instances={"Instances": []})  # configured, but no instance there: wrong account
    assert "wrong account or region" in ctx.gaps[0]
    denied = {("ListAccountAssignments", f"222222222222 {PS['DeveloperAccess']}"): Fail("AccessDeniedException")}
    rows, ctx = population(overrides=denied)
    assert len(rows) == 6 and "assignments of DeveloperAccess in 222222222222" in ctx.gaps[0]
    configured = {"identity_center": {"account": "999999999999", "region": "us-east-1"}}
    cfg = config_from_mapping({**BASE, "aws": configured}, base_dir=Path("."))
    out_of_scope = AccessReviewContext(cfg, AS_OF, [], None)
    out_of_scope.identity_center = [IdentityCenterEvidence("999999999999", None, not_in_scope(cfg, []))]
    assert sso_population(out_of_scope) == [] and "NotInScope" in out_of_scope.gaps[0]


def test_revocation_commands_for_a_direct_and_a_group_path():
    _, ctx = population()
    details = list(ctx.details.values())
    direct = next(d for d in details if d["user"] == "carol@dexo.chat")
    action, alternative = sso_revoke_commands(direct)
    assert alternative is None
    assert action == (
        f"aws sso-admin delete-account-assignment --region us-east-1 --instance-arn {ARN} --target-id 333333333333 "
        f"--target-type AWS_ACCOUNT --permission-set-arn {PS['ReadOnly']} --principal-type USER "
        f"--principal-id {direct['user_id']}"
    )
    via = next(d for d in details if d["user"] == "dave@dexo.chat" and d["account"] == "222222222222")
    action, alternative = sso_revoke_commands(via)
    assert action == f"aws identitystore delete-group-membership --region us-east-1 --identity-store-id {STORE} " + (
        "--membership-id m-3"
    )
    assert alternative is not None and f"--principal-type GROUP --principal-id {via['group_id']}" in alternative


def test_workbook_of_an_incomplete_population_opens_on_the_gaps(tmp_path: Path):
    rows, _ = population()
    buf = io.BytesIO()
    gaps = ["Identity Center (account 1): sso-admin:ListInstances failed: AccessDeniedException"]
    meta = {"review_id": "ar-1", "organization": "Dexo.chat", "as_of": "2025-06-30", "population_sha256": "0"}
    write_workbook(buf, rows, **meta, gaps=gaps)
    wb = load_workbook(io.BytesIO(buf.getvalue()))
    assert wb.sheetnames[0] == GAPS_SHEET and wb.active.title == GAPS_SHEET
    assert wb[GAPS_SHEET]["A1"].value == BANNER and wb[GAPS_SHEET]["A3"].value == gaps[0]
    read = read_workbook(buf.getvalue())
    assert read.meta["population_complete"] == "no" and len(read.rows) == len(rows)
    complete = io.BytesIO()
    write_workbook(complete, rows, **meta)
    assert GAPS_SHEET not in load_workbook(complete).sheetnames


# ---------------------------------------------------------------- the access_review checks on Identity Center paths

REVIEWS_SCOPE = Scope("access_review", IC_ACCOUNT, "global", "access_review.reviews")


def _completed(revoke_paths: list[dict[str, Any]], when: datetime) -> dict[str, Any]:
    revocations, decisions = [], []
    for p in revoke_paths:
        row = {"account": p["account"], "principal": p["user"], "arn": f"path-{p['user']}", "type": SSO_USER}
        revocations.append({**row, "identity_center": p})
        decisions.append({**row, "principal_type": SSO_USER, "decision": "Revoke"})
    when_text = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "review_id": "ar1",
        "completed_at": when_text,
        "status": "completed",
        "decisions": decisions,
        "revocations": revocations,
    }


def reviews_bundle(done: dict[str, Any], assignments: Any, members: Any, review_extra: dict | None = None):
    rec = Recorder(REVIEWS_SCOPE, reviews.OPERATIONS, classify_error)
    review = {
        "review_id": "ar1",
        "accounts": [IC_ACCOUNT],
        "created_at": "2025-06-01T00:00:00Z",
        **(review_extra or {}),
    }
    rec.record(reviews.SERVICE, reviews.LIST, {"reviews_dir": "/r"}, {"reviews": ["ar1"]})
    answer = {"review": review, "review_sha256": "a" * 64, "completed": done, "completed_sha256": "b" * 64}
    rec.record(reviews.SERVICE, reviews.READ, {"review_id": "ar1"}, answer)
    for r in done["revocations"]:
        path = r["identity_center"]
        params = sso_revocations._assignment_params(path)
        rec.call("sso-admin", "ListAccountAssignments", lambda a=assignments, **_: _answer(a), **params)
        member_params = sso_revocations._membership_params(path)
        if member_params:
            rec.call("identitystore", "ListGroupMemberships", lambda m=members, **_: _answer(m), **member_params)
    return rec.bundle


def _answer(value: Any) -> Any:
    if isinstance(value, Fail):
        value.raise_("op")
    return value


def _dave_path() -> dict[str, Any]:
    _, ctx = population()
    return next(d for d in ctx.details.values() if d["user"] == "dave@dexo.chat" and d["account"] == "222222222222")


def run(check_id: str, b, **thresholds):
    return checks()[check_id].run(b, thresholds, AS_OF)


def test_revoked_path_still_assigned_fails_after_grace_then_passes_once_gone():
    path = _dave_path()
    done = _completed([path], AS_OF - timedelta(days=10))
    group = {"AccountAssignments": [{"PrincipalType": "GROUP", "PrincipalId": path["group_id"]}]}
    member = {"GroupMemberships": [{"MemberId": {"UserId": path["user_id"]}, "MembershipId": "m-3"}]}
    (r,) = run("access_review.revocations_done", reviews_bundle(done, group, member))
    assert r.status is Status.FAIL and r.resource_type == "AWS::SSO::AccountAssignment" and "10 days" in r.reason
    (r,) = run("access_review.revocations_done", reviews_bundle(done, group, member), grace_days=30)
    assert r.status is Status.PASS and "due by" in r.reason
    (r,) = run("access_review.revocations_done", reviews_bundle(done, group, {"GroupMemberships": []}))
    assert r.status is Status.PASS and r.observed["present"] is False  # left the group
    (r,) = run("access_review.revocations_done", reviews_bundle(done, {"AccountAssignments": []}, member))
    assert r.status is Status.PASS  # the group's assignment was deleted


def test_unreadable_identity_center_makes_the_revocation_error():
    path = _dave_path()
    done = _completed([path], AS_OF - timedelta(days=10))
    (r,) = run("access_review.revocations_done", reviews_bundle(done, Fail("AccessDeniedException"), {}))
    assert r.status is Status.ERROR and r.observed["missing_permission"] == "sso:ListAccountAssignments"


def test_identity_center_rows_are_never_checked_against_iam_in_the_target_account():
    path = _dave_path()
    done = _completed([path], AS_OF - timedelta(days=10))
    elsewhere = Scope("access_review", "222222222222", "global", "access_review.reviews")
    rec = Recorder(elsewhere, reviews.OPERATIONS, classify_error)
    rec.record(reviews.SERVICE, reviews.LIST, {"reviews_dir": "/r"}, {"reviews": ["ar1"]})
    review = {"review_id": "ar1", "accounts": ["222222222222"], "created_at": "2025-06-01T00:00:00Z"}
    rec.record(reviews.SERVICE, reviews.READ, {"review_id": "ar1"}, {"review": review, "completed": done})
    (r,) = run("access_review.revocations_done", rec.bundle)
    assert r.status is Status.NOT_APPLICABLE  # the target account's IAM cannot tell: not a pass there


def test_fetch_asks_only_the_calls_that_verify_the_paths():
    path = _dave_path()
    asked: list[tuple[str, str, dict]] = []

    class Client:
        def __init__(self, service: str) -> None:
            self.service = service

        def list_account_assignments(self, **params: Any) -> dict:
            asked.append((self.service, "ListAccountAssignments", params))
            return {"AccountAssignments": []}

        def list_group_memberships(self, **params: Any) -> dict:
            asked.append((self.service, "ListGroupMemberships", params))
            return {"GroupMemberships": []}

    class Ctx:
        def client(self, service: str, region: str) -> Client:
            assert region == "us-east-1"
            return Client(service)

        def map(self, fn, items):
            return [fn(i) for i in items]

    rec = Recorder(REVIEWS_SCOPE, reviews.OPERATIONS, classify_error)
    sso_revocations.fetch(Ctx(), rec, [path, path])  # the same path twice: each call once
    expected = [("sso-admin", "ListAccountAssignments"), ("identitystore", "ListGroupMemberships")]
    assert [(s, o) for s, o, _ in asked] == expected
    assert asked[0][2]["AccountId"] == "222222222222" and asked[1][2]["GroupId"] == path["group_id"]


def test_completed_review_of_an_incomplete_population_is_error_not_a_pass():
    done = _completed([], AS_OF - timedelta(days=10))
    gaps = {"population_complete": False, "gaps": ["Identity Center (account 1): sso-admin:ListInstances failed"]}
    (r,) = run("access_review.completed_recently", reviews_bundle(done, {}, {}, gaps))
    assert r.status is Status.ERROR and r.observed["error_code"] == "IncompletePopulation"
    (r,) = run("access_review.completed_recently", reviews_bundle(done, {}, {}))
    assert r.status is Status.PASS
