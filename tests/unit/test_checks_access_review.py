"""access_review.completed_recently and access_review.revocations_done on recorded JSON, and the fetch on a
folder of stored reviews (no cloud call unless a principal was revoked)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from collectors.access_review import reviews
from collectors.aws.base import classify_error
from collectors.evidence import Recorder, Scope, dumps
from collectors.registry import checks
from controls import Status

ACCT = "111111111111"
AS_OF = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
SCOPE = Scope("access_review", ACCT, "global", "access_review.reviews")
BOB = f"arn:aws:iam::{ACCT}:user/bob"
VENDOR = f"arn:aws:iam::{ACCT}:role/vendor"


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def review(rid: str, created: datetime) -> dict[str, Any]:
    return {"review_id": rid, "accounts": [ACCT], "created_at": iso(created), "status": "issued"}


def completed(rid: str, when: datetime, revoke: tuple[str, ...] = ()) -> dict[str, Any]:
    decisions = [
        {
            "account": ACCT,
            "arn": a,
            "name": a.rsplit("/", 1)[-1],
            "decision": "Revoke",
            "reviewer": "carla",
            "principal_type": "IAM role" if ":role/" in a else "IAM user",
            "reviewed_on": when.date().isoformat(),
        }
        for a in revoke
    ]
    decisions.append({"account": ACCT, "arn": f"arn:aws:iam::{ACCT}:user/kept", "decision": "Keep"})
    decisions.append({"account": "222222222222", "arn": "arn:aws:iam::222222222222:user/x", "decision": "Revoke"})
    return {"review_id": rid, "completed_at": iso(when), "status": "completed", "decisions": decisions}


def bundle(stored: list[tuple[str, dict, dict | None]], present: list[str] | None = None, listing_error=None):
    rec = Recorder(SCOPE, reviews.OPERATIONS, classify_error)
    if listing_error:
        rec.call(
            reviews.SERVICE,
            reviews.LIST,
            lambda **_: (_ for _ in ()).throw(PermissionError("denied")),
            reviews_dir="/r",
        )
        return rec.bundle
    rec.record(reviews.SERVICE, reviews.LIST, {"reviews_dir": "/r"}, {"reviews": [r for r, _, _ in stored]})
    for rid, rev, done in stored:
        rec.record(
            reviews.SERVICE,
            reviews.READ,
            {"review_id": rid},
            {"review": rev, "review_sha256": "a" * 64, "completed": done, "completed_sha256": "b" * 64},
        )
    if present is not None:
        rec.record(
            "iam",
            "GetAccountAuthorizationDetails",
            {"Filter": ["User", "Role"], "MaxItems": 1000},
            {
                "UserDetailList": [{"Arn": a} for a in present if ":user/" in a],
                "RoleDetailList": [{"Arn": a} for a in present if ":role/" in a],
                "IsTruncated": False,
            },
        )
    return rec.bundle


def run(check_id: str, b, **thresholds):
    return checks()[check_id].run(b, thresholds, AS_OF)


def one(results):
    assert len(results) == 1, results
    return results[0]


# ---------------------------------------------------------------- completed_recently


def test_recent_completed_review_passes():
    r = one(
        run(
            "access_review.completed_recently",
            bundle([("ar1", review("ar1", AS_OF - timedelta(40)), completed("ar1", AS_OF - timedelta(30)))]),
        )
    )
    assert r.status is Status.PASS and r.resource_id == ACCT and "30 days" in r.reason


def test_old_completed_review_fails():
    r = one(
        run(
            "access_review.completed_recently",
            bundle([("ar1", review("ar1", AS_OF - timedelta(110)), completed("ar1", AS_OF - timedelta(100)))]),
        )
    )
    assert r.status is Status.FAIL and "100 days ago (more than 92)" in r.reason
    r = one(
        run(
            "access_review.completed_recently",
            bundle([("ar1", review("ar1", AS_OF - timedelta(110)), completed("ar1", AS_OF - timedelta(100)))]),
            max_age_days=120,
        )
    )
    assert r.status is Status.PASS


def test_no_review_fails():
    r = one(run("access_review.completed_recently", bundle([])))
    assert r.status is Status.FAIL and r.reason == "no access review covers this account"


def test_issued_not_completed_fails_with_that_reason():
    r = one(run("access_review.completed_recently", bundle([("ar2", review("ar2", AS_OF - timedelta(5)), None)])))
    assert r.status is Status.FAIL and "ar2" in r.reason and "never completed" in r.reason


def test_completion_after_as_of_is_ignored():
    b = bundle([("ar1", review("ar1", AS_OF - timedelta(5)), completed("ar1", AS_OF + timedelta(2)))])
    assert one(run("access_review.completed_recently", b)).status is Status.FAIL


def test_unreadable_reviews_are_an_error_not_a_fail():
    r = one(run("access_review.completed_recently", bundle([], listing_error=True)))
    assert r.status is Status.ERROR
    assert one(run("access_review.revocations_done", bundle([], listing_error=True))).status is Status.ERROR


# ---------------------------------------------------------------- revocations_done


def revs(days_ago: float, present: list[str]):
    done = completed("ar1", AS_OF - timedelta(days_ago), revoke=(BOB, VENDOR))
    return {
        r.resource_id: r
        for r in run(
            "access_review.revocations_done", bundle([("ar1", review("ar1", AS_OF - timedelta(40)), done)], present)
        )
    }


def test_revoked_principals_gone_pass():
    got = revs(30, present=[f"arn:aws:iam::{ACCT}:user/kept"])
    assert set(got) == {BOB, VENDOR}  # only this account's Revoke decisions
    assert all(r.status is Status.PASS and r.reason.startswith("removed") for r in got.values())
    assert got[VENDOR].resource_type == "AWS::IAM::Role"


def test_still_present_after_grace_fails_per_principal():
    got = revs(30, present=[BOB])
    assert got[BOB].status is Status.FAIL and "30 days after completion" in got[BOB].reason
    assert got[VENDOR].status is Status.PASS


def test_still_present_within_grace_passes_with_due_date():
    got = revs(3, present=[BOB, VENDOR])
    due = (AS_OF - timedelta(3) + timedelta(7)).date().isoformat()
    assert {r.status for r in got.values()} == {Status.PASS}
    assert got[BOB].reason == f"still present; revocation due by {due}"


def test_no_review_or_no_revocation_is_not_applicable():
    assert one(run("access_review.revocations_done", bundle([]))).status is Status.NOT_APPLICABLE
    b = bundle([("ar1", review("ar1", AS_OF - timedelta(9)), completed("ar1", AS_OF - timedelta(8)))])
    assert one(run("access_review.revocations_done", b)).status is Status.NOT_APPLICABLE


def test_presence_not_collected_is_an_error():
    done = completed("ar1", AS_OF - timedelta(30), revoke=(BOB,))
    b = bundle([("ar1", review("ar1", AS_OF - timedelta(40)), done)], present=None)
    assert one(run("access_review.revocations_done", b)).status is Status.ERROR


# ---------------------------------------------------------------- fetch


class Ctx:
    def __init__(self, root: Path, iam_client: Any) -> None:
        self.recorder = Recorder(SCOPE, reviews.OPERATIONS, classify_error)
        self.account, self.region, self.reviews_dir, self._iam = ACCT, "global", root, iam_client

    def client(self, service: str) -> Any:
        return self._iam

    def map(self, fn, items):
        return [fn(i) for i in items]


class FakeIam:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def get_account_authorization_details(self, **params):
        self.calls.append(params)
        return {"UserDetailList": [{"Arn": BOB}], "RoleDetailList": [], "IsTruncated": False}


def store(root: Path, rid: str, rev: dict, done: dict | None) -> None:
    (root / rid).mkdir(parents=True)
    (root / rid / "review.json").write_bytes(dumps(rev))
    if done:
        (root / rid / "completed.json").write_bytes(dumps(done))


def test_fetch_records_reviews_and_checks_presence_only_when_revoking(tmp_path):
    root = tmp_path / "access-reviews"
    store(root, "ar1", review("ar1", AS_OF - timedelta(40)), completed("ar1", AS_OF - timedelta(30)))
    store(root, "ar-other", {**review("ar-other", AS_OF), "accounts": ["222222222222"]}, None)
    fake = FakeIam()
    ctx = Ctx(root, fake)
    reviews.fetch(ctx)
    b = ctx.recorder.bundle
    assert b.all(reviews.SERVICE, reviews.LIST)[0].response == {"reviews": ["ar1"]}
    read = b.find(reviews.SERVICE, reviews.READ, review_id="ar1")
    assert read.ok and read.response["completed"]["status"] == "completed" and len(read.response["review_sha256"]) == 64
    assert fake.calls == []  # nobody revoked: no IAM call
    store(root, "ar2", review("ar2", AS_OF - timedelta(20)), completed("ar2", AS_OF - timedelta(10), revoke=(BOB,)))
    ctx = Ctx(root, fake)
    reviews.fetch(ctx)
    assert fake.calls == [{"Filter": ["User", "Role"], "MaxItems": 1000}]
    got = one(run("access_review.revocations_done", ctx.recorder.bundle))
    assert got.status is Status.FAIL and got.resource_id == BOB


def test_fetch_without_reviews_folder_records_an_empty_listing(tmp_path):
    ctx = Ctx(tmp_path / "none", FakeIam())
    reviews.fetch(ctx)
    assert one(run("access_review.completed_recently", ctx.recorder.bundle)).status is Status.FAIL
