"""access_review.reviews: are user access reviews done, and were their revocations carried out?

Runs once per AWS account (per_region False, region "global"). Its fetch context is an
AwsFetchContext of the account with one more attribute, `reviews_dir`: the Path of
``<output>/access-reviews`` (flows.access_review stores each review there, one folder per review id).

Fetch (recorded like any API answer, so `evaluate RUN` re-derives the same results):

- service "soc2-evidence", operation "ListAccessReviews", params {"reviews_dir"}: the ids of the reviews
  whose review.json lists the account (an unreadable folder is a recorded error; a missing folder is an
  empty list: no review was ever issued);
- "soc2-evidence" "ReadAccessReview", params {"review_id"} per review covering the account: response
  {"review": review.json, "review_sha256", "completed": completed.json or null, "completed_sha256"};
- only when the latest completed review marks a principal of the account Revoke: "iam"
  "GetAccountAuthorizationDetails" with Filter [User, Role], paginated (MaxItems 1000): one call per
  1000 users + roles, instead of one GetUser / GetRole per revoked principal; zero calls otherwise;
- only when it marks IAM Identity Center access paths administered from this account Revoke: the
  sso-admin / identitystore listings that tell whether each path is gone (sso_revocations.py).

Checks: access_review.completed_recently (a review covering the account completed within max_age_days of
as_of; a review whose population was stated incomplete is `error`, never a pass) and
access_review.revocations_done (every principal of the account marked Revoke in the latest completed review
is gone from IAM, and every revoked Identity Center path gone from Identity Center, within grace_days of
its completion). Reviews completed after as_of are ignored (re-evaluation of an old run gives the same
result).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from collectors.access_review import sso_revocations
from collectors.aws import iam
from collectors.evidence import ApiCall, ApiError, EvidenceBundle
from collectors.registry import CheckContext, CollectorSpec, FetchContext, check, register_collector
from controls import CheckResult, Severity, Status

SERVICE = "soc2-evidence"
LIST = "ListAccessReviews"
READ = "ReadAccessReview"
PRESENCE_FILTER = ["User", "Role"]
OPERATIONS = {"iam:GetAccountAuthorizationDetails": "iam:GetAccountAuthorizationDetails", **sso_revocations.OPERATIONS}
ACCOUNT_TYPE = "AWS::::Account"
TYPES = {"IAM user": "AWS::IAM::User", "IAM role": "AWS::IAM::Role"}


def _read(path: Path) -> tuple[Any, str] | None:
    if not path.is_file():
        return None
    data = path.read_bytes()
    return json.loads(data), hashlib.sha256(data).hexdigest()


def _when(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def fetch(ctx: FetchContext) -> None:
    rec = ctx.recorder
    root = Path(getattr(ctx, "reviews_dir"))  # noqa: B009 - an attribute of this collector's context only
    account = ctx.account

    def listing(reviews_dir: str) -> dict[str, Any]:
        ids = []
        if root.is_dir():
            for folder in sorted(p for p in root.iterdir() if p.is_dir()):
                got = _read(folder / "review.json")
                if got and account in (got[0].get("accounts") or []):
                    ids.append(folder.name)
        return {"reviews": ids}

    listed = rec.call(SERVICE, LIST, listing, reviews_dir=str(root))
    if not listed.ok:
        return
    latest: tuple[datetime, dict[str, Any]] | None = None
    for review_id in listed.response["reviews"]:

        def read(review_id: str = review_id) -> dict[str, Any]:
            review, review_sha = _read(root / review_id / "review.json") or (None, None)
            completed, completed_sha = _read(root / review_id / "completed.json") or (None, None)
            return {
                "review": review,
                "review_sha256": review_sha,
                "completed": completed,
                "completed_sha256": completed_sha,
            }

        call = rec.call(SERVICE, READ, read, review_id=review_id)
        done = (call.response or {}).get("completed") if call.ok else None
        when = _when((done or {}).get("completed_at"))
        if done and when and (latest is None or when > latest[0]):
            latest = (when, done)
    if latest and (paths := sso_revocations.revoked_paths(latest[1], account)):
        sso_revocations.fetch(ctx, rec, [p["path"] for p in paths])
    if latest and _revoked(latest[1], account):
        client = ctx.client("iam")
        iam._pages(
            rec,
            "GetAccountAuthorizationDetails",
            client.get_account_authorization_details,
            Filter=PRESENCE_FILTER,
            MaxItems=iam.PAGE_SIZE,
        )


register_collector(
    CollectorSpec(
        id="access_review.reviews",
        provider="access_review",
        service="reviews",
        per_region=False,
        operations=OPERATIONS,
        fetch=fetch,
        description="the stored access reviews covering the account (review.json, completed.json) and, when "
        "the latest completed review revokes principals, the account's current IAM users and roles",
    )
)

# ---------------------------------------------------------------------------------------------- evidence model


def _revoked(completed: Mapping[str, Any], account: str) -> list[dict[str, Any]]:
    """The IAM users and roles of the account marked Revoke (Identity Center rows name the account their access
    reaches too, but they are verified where Identity Center is administered: sso_revocations)."""
    return [
        d
        for d in completed.get("decisions") or []
        if d.get("decision") == "Revoke" and d.get("account") == account and d.get("principal_type") in TYPES
    ]


def _missing(operation: str, message: str, service: str = SERVICE) -> ApiCall:
    return ApiCall(service, operation, {}, "", None, ApiError("NotCollected", message))


def _reviews(bundle: EvidenceBundle, as_of: datetime) -> tuple[list[dict[str, Any]], ApiCall | None]:
    """Each stored review read: {"id", "review", "completed" (None unless completed by as_of), "completed_at"}."""
    listed = bundle.all(SERVICE, LIST)
    if not listed:
        return [], _missing(LIST, "no recorded access-review listing")
    if not listed[-1].ok:
        return [], listed[-1]
    out = []
    for review_id in (listed[-1].response or {}).get("reviews") or []:
        call = bundle.find(SERVICE, READ, review_id=review_id)
        if call is None:
            return [], _missing(READ, f"access review {review_id} listed but not read")
        if not call.ok:
            return [], call
        answer = call.response or {}
        done = answer.get("completed")
        when = _when((done or {}).get("completed_at"))
        if done and (done.get("status") != "completed" or when is None or when > as_of):
            done, when = None, None
        out.append({"id": review_id, "review": answer.get("review") or {}, "completed": done, "completed_at": when})
    return out, None


def _evidence(bundle: EvidenceBundle) -> tuple[Any, ...]:
    return bundle.refs_for((SERVICE, LIST), (SERVICE, READ))


@check(
    id="access_review.completed_recently",
    collector="access_review.reviews",
    title="User access is reviewed periodically",
    description="A user access review covering the AWS account (`soc2-evidence access-review start` / "
    "`complete`) was completed within max_age_days of the evaluation time. No review at all fails; a review "
    "issued but never completed (and no recent completed one) fails with that reason.",
    severity=Severity.MEDIUM,
    resource_type=ACCOUNT_TYPE,
    permissions=["iam:GetAccountAuthorizationDetails"],
    remediation="Run `soc2-evidence access-review start --config FILE`, have the owners decide every row, then "
    "`soc2-evidence access-review complete WORKBOOK`.",
    thresholds={"max_age_days": 92},
    risk="Access nobody reviews accumulates: leavers and role changes keep permissions they no longer need.",
)
def completed_recently(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    max_days = int(ctx.thresholds["max_age_days"])
    expected = {"completed_within_days": max_days}
    account = ctx.scope.account
    ev = _evidence(bundle)
    reviews, failed = _reviews(bundle, ctx.as_of)
    if failed is not None:
        yield ctx.error(failed, account, evidence=ev, expected=expected)
        return
    done = sorted((r for r in reviews if r["completed"]), key=lambda r: r["completed_at"])
    pending = sorted(
        (r for r in reviews if not r["completed"] and (_when(r["review"].get("created_at")) or ctx.as_of) <= ctx.as_of),
        key=lambda r: r["review"].get("created_at") or "",
    )
    observed: dict[str, Any] = {
        "reviews": [r["id"] for r in reviews],
        "latest_completed": done[-1]["id"] if done else None,
        "issued_not_completed": [r["id"] for r in pending],
    }
    if done:
        last = done[-1]
        age = int((ctx.as_of - last["completed_at"]).total_seconds() // 86400)
        observed.update(completed_at=last["completed"]["completed_at"], days_since_completed=age)
        if age <= max_days:
            gaps = list(last["review"].get("gaps") or [])
            if last["review"].get("population_complete") is False:  # never a pass on a partial population
                observed.update(population_complete=False, gaps=gaps, error_code="IncompletePopulation")
                reason = (
                    f"not assessed: access review {last['id']} completed {age} days ago, but its population was "
                    f"incomplete ({len(gaps)} gap(s), e.g. {gaps[0] if gaps else 'unknown'})"
                )
                yield ctx.result(
                    Status.ERROR, account, evidence=ev, expected=expected, observed=observed, reason=reason
                )
                return
            reason = f"access review {last['id']} completed {age} days ago"
            yield ctx.passed(account, evidence=ev, expected=expected, observed=observed, reason=reason)
            return
    if pending:
        p = pending[-1]
        reason = f"access review {p['id']} issued {p['review'].get('created_at')} was never completed"
        if done:
            reason += f"; the last completed one ({done[-1]['id']}) is {observed['days_since_completed']} days old"
    elif done:
        reason = (
            f"last access review {done[-1]['id']} completed {observed['days_since_completed']} days ago "
            f"(more than {max_days})"
        )
    else:
        reason = "no access review covers this account"
    yield ctx.failed(account, evidence=ev, expected=expected, observed=observed, reason=reason)


@check(
    id="access_review.revocations_done",
    collector="access_review.reviews",
    title="Access revoked in a review is removed",
    description="Every IAM user or role of the account marked Revoke in the latest completed access review "
    "no longer exists (not in GetAccountAuthorizationDetails, Filter User + Role), and every IAM Identity Center "
    "access path marked Revoke (verified in the account that administers Identity Center) is gone (its account "
    "assignment deleted, or the user removed from the group it came through), once grace_days have passed "
    "since the review's completion; within the grace period access still present passes with the due date. "
    "One result per revoked principal (by ARN) or path.",
    severity=Severity.HIGH,
    resource_type="AWS::IAM::User",
    permissions=["iam:GetAccountAuthorizationDetails", *sso_revocations.OPERATIONS.values()],
    remediation="Delete the IAM user (its login profile, keys, MFA devices, group memberships and policies "
    "first) or the role (aws iam delete-role after detaching its policies); for Identity Center run the command "
    "`access-review complete` printed (aws sso-admin delete-account-assignment / aws identitystore "
    "delete-group-membership); or record a new review decision.",
    thresholds={"grace_days": 7},
    risk="A revocation decided but never carried out leaves the access the review found unjustified.",
)
def revocations_done(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    grace = int(ctx.thresholds["grace_days"])
    expected = {"removed_within_days": grace}
    account = ctx.scope.account
    ev = _evidence(bundle)
    reviews, failed = _reviews(bundle, ctx.as_of)
    if failed is not None:
        yield ctx.error(failed, "*", evidence=ev, expected=expected)
        return
    done = sorted((r for r in reviews if r["completed"]), key=lambda r: r["completed_at"])
    if not done:
        yield ctx.not_applicable(
            account,
            evidence=ev,
            expected=expected,
            observed={"latest_completed": None},
            reason="no completed access review covers this account",
            resource_type=ACCOUNT_TYPE,
        )
        return
    last = done[-1]
    revoked = _revoked(last["completed"], account)
    paths = sso_revocations.revoked_paths(last["completed"], account)
    if not revoked and not paths:
        yield ctx.not_applicable(
            account,
            evidence=ev,
            expected=expected,
            observed={"latest_completed": last["id"], "revoked": []},
            reason=f"access review {last['id']} revokes nobody in this account",
            resource_type=ACCOUNT_TYPE,
        )
        return
    due = last["completed_at"] + timedelta(days=grace)
    if revoked:
        yield from _iam_revocations(bundle, ctx, last, revoked, due, ev)
    ev = (*ev, *bundle.refs_for(*sso_revocations.evidence_ops()))
    for r in paths:
        present, bad = sso_revocations.still_present(bundle, r["path"])
        kw = {"evidence": ev, "expected": expected, "resource_type": sso_revocations.RESOURCE_TYPE}
        if bad is not None:
            yield ctx.error(bad, str(r.get("arn")), region=r["path"].get("region"), **kw)
            continue
        path = r["path"]
        observed = {
            "review_id": last["id"],
            "principal": r.get("principal"),
            "account": path.get("account"),
            "permission_set": path.get("permission_set"),
            "via_group": path.get("group"),
            "action": r.get("action"),
        }
        yield _judged(ctx, str(r.get("arn")), bool(present), last, due, observed, region=r["path"].get("region"), **kw)


def _judged(
    ctx: CheckContext,
    arn: str,
    present: bool,
    last: Mapping[str, Any],
    due: datetime,
    observed: dict[str, Any],
    **kw: Any,
) -> CheckResult:
    """Gone passes; still present passes until the due date, then fails."""
    observed = {
        **observed,
        "completed_at": last["completed"]["completed_at"],
        "due_by": due.date().isoformat(),
        "present": present,
    }
    if not present:
        return ctx.passed(arn, observed=observed, reason=f"removed (revoked in access review {last['id']})", **kw)
    if ctx.as_of <= due:
        return ctx.passed(
            arn, observed=observed, reason=f"still present; revocation due by {due.date().isoformat()}", **kw
        )
    late = int((ctx.as_of - last["completed_at"]).total_seconds() // 86400)
    reason = (
        f"revoked in access review {last['id']} but still present {late} days after completion "
        f"(grace {int(ctx.thresholds['grace_days'])} days, due by {due.date().isoformat()})"
    )
    return ctx.failed(arn, observed=observed, reason=reason, **kw)


def _iam_revocations(
    bundle: EvidenceBundle,
    ctx: CheckContext,
    last: Mapping[str, Any],
    revoked: list[dict[str, Any]],
    due: datetime,
    ev: tuple[Any, ...],
) -> Iterator[CheckResult]:
    """The IAM users and roles marked Revoke: present when GetAccountAuthorizationDetails still lists them."""
    expected = {"removed_within_days": int(ctx.thresholds["grace_days"])}
    ev = (*ev, *bundle.ref("iam", "GetAccountAuthorizationDetails"))
    pages = bundle.all("iam", "GetAccountAuthorizationDetails")
    bad = next((p for p in pages if not p.ok), None) or (
        None
        if pages
        else _missing("GetAccountAuthorizationDetails", "no recorded GetAccountAuthorizationDetails answer", "iam")
    )
    present: set[str] = set()
    for page in pages:
        answer = page.response or {}
        present |= {str(u.get("Arn")) for u in answer.get("UserDetailList") or []}
        present |= {str(r.get("Arn")) for r in answer.get("RoleDetailList") or []}
    for d in revoked:
        arn = str(d.get("arn"))
        rtype = TYPES.get(str(d.get("type") or d.get("principal_type")), "AWS::IAM::User")
        if bad is not None:
            yield ctx.error(bad, arn, evidence=ev, expected=expected, resource_type=rtype)
            continue
        observed = {
            "review_id": last["id"],
            "principal": d.get("name"),
            "decided_by": d.get("reviewer"),
            "reviewed_on": d.get("reviewed_on"),
        }
        yield _judged(
            ctx, arn, arn in present, last, due, observed, evidence=ev, expected=expected, resource_type=rtype
        )
