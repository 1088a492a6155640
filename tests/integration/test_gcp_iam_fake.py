"""The gcp.iam collector over real HTTP against the local fake of the Resource Manager and IAM APIs
(demo.gcp_iam_fake), reached through the collector's endpoint option (GcpFetchContext(endpoints=...)) and,
as the flow does, through CLOUDSDK_API_ENDPOINT_OVERRIDES_*; then checked.

Two projects: a 403 on one project is `error` for that project only; a 403 on one folder is `error` for that
ancestor only; the service-account listing is paginated by the server; the policy is asked for with
requestedPolicyVersion 3 (conditions come back); no credentials are sent to a plain-http endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from collectors.evidence import Recorder, Scope
from collectors.gcp.base import GcpFetchContext, GcpTuning, classify_error
from collectors.registry import checks_for, collectors
from controls import CheckResult, Status
from demo.gcp_iam_fake import FakeGcpIam, policy

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
ORG, FOLDER = "organizations/123456789012", "folders/210987654321"


def _key(email: str, n: int, days: int) -> dict:
    made = (NOW - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"name": f"projects/p/serviceAccounts/{email}/keys/k{n}", "validAfterTime": made, "keyType": "USER_MANAGED"}


@pytest.fixture
def fake() -> Iterator[FakeGcpIam]:
    server = FakeGcpIam(page_size=2)
    server.policies = {
        "projects/dexo-prod": policy(
            {"role": "roles/owner", "members": ["user:cto@dexo.chat"]},
            {"role": "roles/viewer", "members": ["allUsers"], "condition": {"title": "t", "expression": "true"}},
        ),
        "projects/dexo-analytics": policy({"role": "roles/bigquery.dataViewer", "members": ["group:data@dexo.chat"]}),
        FOLDER: policy({"role": "roles/editor", "members": ["group:platform@dexo.chat"]}),
        ORG: policy({"role": "roles/owner", "members": ["user:founder@dexo.chat"]}),
    }
    server.ancestry = {"dexo-prod": [FOLDER, ORG], "dexo-analytics": [ORG]}
    emails = [f"sa{i}@dexo-prod.iam.gserviceaccount.com" for i in range(5)]
    server.service_accounts = {
        "dexo-prod": [{"email": e, "name": f"projects/dexo-prod/serviceAccounts/{e}"} for e in emails]
    }
    google_managed = {**_key(emails[0], 3, 900), "keyType": "SYSTEM_MANAGED"}
    server.keys = {emails[0]: [_key(emails[0], 1, 200), _key(emails[0], 2, 5), google_managed]}
    with server:
        yield server


def collect(project: str, endpoints: dict | None) -> Recorder:
    spec = collectors()["gcp.iam"]
    rec = Recorder(Scope("gcp", project, "global", "gcp.iam"), spec.operations, classify_error)
    tuning = GcpTuning(timeout_seconds=5, deadline_seconds=5, concurrency=4)
    spec.fetch(GcpFetchContext(project, rec, tuning, endpoints=endpoints))
    return rec


def evaluate(rec: Recorder) -> dict[str, dict[str, CheckResult]]:
    return {c.spec.id: {r.resource_id: r for r in c.run(rec.bundle, {}, NOW)} for c in checks_for("gcp.iam")}


def test_collect_and_check_over_http_through_the_endpoint_option(fake: FakeGcpIam):
    endpoints = {"iam": fake.endpoint, "cloudresourcemanager": fake.endpoint}
    rec = collect("dexo-prod", endpoints)
    assert all(c.ok for calls in rec.bundle.calls.values() for c in calls)
    assert fake.calls["ListServiceAccounts"] == 3  # 5 accounts, 2 a page
    assert fake.calls["ListServiceAccountKeys"] == 5 and fake.calls["GetAncestry"] == 1
    asked = [body for op, body in fake.bodies if op == "GetProjectIamPolicy"]
    assert asked == [{"options": {"requestedPolicyVersion": 3}}]
    got = evaluate(rec)
    primitive = {rid for rid, r in got["gcp.iam.primitive_roles"].items() if r.status == Status.FAIL}
    assert primitive == {
        "projects/dexo-prod roles/owner user:cto@dexo.chat",
        f"{FOLDER} roles/editor group:platform@dexo.chat",
        f"{ORG} roles/owner user:founder@dexo.chat",
    }
    (public,) = got["gcp.iam.public_bindings"].values()
    assert public.status == Status.FAIL and public.resource_id.endswith("allUsers [condition t: true]")
    keys = {rid.rsplit("/", 1)[-1]: r.status for rid, r in got["gcp.iam.service_account_keys"].items()}
    assert keys == {"k1": Status.FAIL, "k2": Status.PASS}  # the system-managed key is not requested


def test_forbidden_project_is_error_for_that_project_only_via_the_environment(fake: FakeGcpIam, monkeypatch):
    fake.forbidden = {"projects/dexo-prod"}
    monkeypatch.setenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM", fake.endpoint)
    monkeypatch.setenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER", fake.endpoint)
    denied = evaluate(collect("dexo-prod", None))
    for check_id, results in denied.items():
        assert {r.status for r in results.values()} == {Status.ERROR}, check_id
    star = denied["gcp.iam.primitive_roles"]["*"]
    assert star.observed["error_code"] == "Forbidden" and star.observed["missing_permission"] == (
        "resourcemanager.projects.getIamPolicy"
    )
    fine = evaluate(collect("dexo-analytics", None))
    assert not [r for rs in fine.values() for r in rs.values() if r.status == Status.ERROR]
    assert fine["gcp.iam.primitive_roles"][f"{ORG} roles/owner user:founder@dexo.chat"].status == Status.FAIL


def test_forbidden_folder_is_error_for_that_ancestor_only(fake: FakeGcpIam):
    fake.forbidden = {FOLDER}
    got = evaluate(collect("dexo-prod", {"iam": fake.endpoint, "cloudresourcemanager": fake.endpoint}))
    primitive = got["gcp.iam.primitive_roles"]
    assert primitive[FOLDER].status == Status.ERROR
    assert primitive[FOLDER].observed["missing_permission"] == "resourcemanager.folders.getIamPolicy"
    assert primitive[f"{ORG} roles/owner user:founder@dexo.chat"].status == Status.FAIL
    assert primitive["projects/dexo-prod roles/owner user:cto@dexo.chat"].status == Status.FAIL


def test_unreachable_endpoint_is_a_bounded_error(fake: FakeGcpIam):
    fake.stop()  # nothing listens there any more
    started = datetime.now(UTC)
    got = evaluate(collect("dexo-prod", {"iam": fake_url(), "cloudresourcemanager": fake_url()}))
    assert (datetime.now(UTC) - started).total_seconds() < 30
    assert {r.status for rs in got.values() for r in rs.values()} == {Status.ERROR}


def fake_url() -> str:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/"
