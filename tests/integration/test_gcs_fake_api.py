"""The gcp.gcs collector against tests/fake_gcs.py: the failures the emulator cannot produce.

403 on one bucket's getIamPolicy, a project that does not exist (404) or may
not be listed (403), pagination, throttling that recovers, and slow or
unreachable endpoints: a call must give up within the configured deadline,
not google-cloud-storage's default 120 s.
"""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime

import pytest

from collectors.evidence import EvidenceBundle, Recorder, Scope
from collectors.gcp.base import GcpFetchContext, GcpTuning, classify_error
from collectors.registry import checks_for, collectors
from controls import CheckResult, Status
from tests.fake_gcs import FakeGcs, Fault, bucket_resource, policy

pytestmark = pytest.mark.integration
AS_OF = datetime(2026, 1, 15, tzinfo=UTC)
PROJECT = "dexo-prod"
NAMES = ["dexo-prod-a", "dexo-prod-b", "dexo-prod-c", "dexo-prod-d", "dexo-prod-e"]
FAST = GcpTuning(timeout_seconds=0.5, deadline_seconds=1.5, concurrency=4, initial_backoff_seconds=0.05)


def estate(**kw) -> FakeGcs:
    fake = FakeGcs(projects={PROJECT: [bucket_resource(n) for n in NAMES], "dexo-empty": []}, **kw)
    public = [{"role": "roles/storage.objectViewer", "members": ["allUsers"]}]
    fake.policies["dexo-prod-c"] = policy("dexo-prod-c", public)
    return fake


@pytest.fixture
def fake(request, monkeypatch):
    kw = getattr(request, "param", {})
    with estate(**kw) as f:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", f.endpoint)
        yield f


def collect(project: str = PROJECT, tuning: GcpTuning = FAST) -> tuple[EvidenceBundle, list[CheckResult]]:
    spec = collectors()["gcp.gcs"]
    rec = Recorder(Scope("gcp", project, "global", "gcp.gcs"), spec.operations, classify_error)
    spec.fetch(GcpFetchContext(project, rec, tuning))
    return rec.bundle, [r for chk in checks_for("gcp.gcs") for r in chk.run(rec.bundle, {}, AS_OF)]


def of(results: list[CheckResult], check: str) -> dict[str, CheckResult]:
    return {r.resource_id: r for r in results if r.check_id == f"gcp.gcs.{check}"}


def test_forbidden_iam_policy_on_one_bucket_errors_that_bucket_only(fake):
    fake.iam_faults["dexo-prod-b"] = Fault(403)
    _, results = collect()
    public = of(results, "public_iam")
    assert public["dexo-prod-b"].status == Status.ERROR
    assert public["dexo-prod-b"].observed["error_code"] == "Forbidden"
    assert public["dexo-prod-b"].observed["missing_permission"] == "storage.buckets.getIamPolicy"
    assert public["dexo-prod-c"].status == Status.FAIL
    assert {public[n].status for n in ("dexo-prod-a", "dexo-prod-d", "dexo-prod-e")} == {Status.PASS}
    errors = [r for r in results if r.status == Status.ERROR]
    assert [(r.check_id, r.resource_id) for r in errors] == [("gcp.gcs.public_iam", "dexo-prod-b")]
    assert fake.calls["GetBucketIamPolicy"] == len(NAMES)  # a 403 is not retried


@pytest.mark.parametrize(
    ("project", "code", "missing"),
    [("dexo-unknown", "NotFound", None), ("dexo-locked", "Forbidden", "storage.buckets.list")],
)
def test_project_not_found_or_forbidden_errors_every_check_of_the_project(fake, project, code, missing):
    fake.forbidden_projects.add("dexo-locked")
    bundle, results = collect(project)
    assert len(results) == len(checks_for("gcp.gcs"))
    for r in results:
        assert (r.status, r.resource_id, r.account) == (Status.ERROR, "*", project)
        assert r.observed["error_code"] == code
        assert r.observed["missing_permission"] == missing
        assert r.observed["required_permission"] == "storage.buckets.list"
    assert fake.calls["ListBuckets"] == 1 and fake.calls["GetBucketIamPolicy"] == 0
    assert bundle.all("storage", "ApiTransport") == []  # nothing was reached: no transport evidence


def test_empty_project_is_no_results_not_an_error(fake):
    bundle, results = collect("dexo-empty")
    assert results == []
    assert bundle.all("storage", "ListBuckets")[0].ok


@pytest.mark.parametrize("fake", [{"page_size": 2}], indirect=True)
def test_pagination_follows_next_page_token_and_records_each_page(fake):
    bundle, results = collect()
    pages = bundle.all("storage", "ListBuckets")
    assert len(pages) == 3
    assert [p.params.get("pageToken") for p in pages] == [None, "dexo-prod-b:1", "dexo-prod-d:2"]
    assert {r.resource_id for r in results} == set(NAMES)
    assert next(q for op, q in fake.queries if op == "ListBuckets") == {
        "project": PROJECT,
        "projection": "noAcl",
        "maxResults": "1000",
        "prettyPrint": "false",
    }


@pytest.mark.parametrize("fake", [{"page_size": 2}], indirect=True)
def test_failed_second_page_errors_the_unknown_rest_and_assesses_the_first(fake):
    fake.list_faults[(PROJECT, 1)] = Fault(403, "denied", "forbidden")
    _, results = collect()
    uniform = of(results, "uniform_access")
    assert set(uniform) == {"dexo-prod-a", "dexo-prod-b", "*"}
    assert uniform["*"].status == Status.ERROR
    assert fake.calls["GetBucketIamPolicy"] == 2  # the listed buckets still get their IAM policy


def test_throttling_is_retried_and_recovers(fake):
    fake.iam_faults["dexo-prod-a"] = Fault(429, "rate limit", "rateLimitExceeded", times=1)
    fake.iam_faults["dexo-prod-d"] = Fault(503, "backend", "backendError", times=1)
    bundle, results = collect()
    assert not [r for r in results if r.status == Status.ERROR]
    assert fake.calls["GetBucketIamPolicy"] == len(NAMES) + 2
    assert len(bundle.all("storage", "GetBucketIamPolicy")) == len(NAMES)  # one recorded answer per bucket


@pytest.mark.parametrize("fake", [{"slow_seconds": 10.0, "slow_paths": ("dexo-prod-b/iam",)}], indirect=True)
def test_slow_iam_call_gives_up_within_the_deadline(fake):
    started = time.monotonic()
    _, results = collect()
    elapsed = time.monotonic() - started
    # Behaviour, not speed: it gave up (deadline 1.5 s) rather than wait for the 10 s answer or retry
    # for google-cloud-storage's default 120 s; the margin absorbs a loaded machine.
    assert elapsed < 8.0, elapsed
    err = of(results, "public_iam")["dexo-prod-b"]
    assert err.status == Status.ERROR
    assert err.observed["error_code"] == "Timeout"
    assert err.observed["missing_permission"] is None
    assert fake.calls["GetBucketIamPolicy"] >= len(NAMES) + 1  # the slow call was retried
    assert of(results, "public_iam")["dexo-prod-a"].status == Status.PASS


@pytest.mark.parametrize("fake", [{"slow_seconds": 10.0, "slow_paths": ("/storage/v1/b?",)}], indirect=True)
def test_slow_listing_errors_the_project_within_the_deadline(fake):
    started = time.monotonic()
    _, results = collect(tuning=GcpTuning(timeout_seconds=0.4, deadline_seconds=1.0, initial_backoff_seconds=0.05))
    assert time.monotonic() - started < 2.5
    assert {(r.status, r.resource_id) for r in results} == {(Status.ERROR, "*")}
    assert {r.observed["error_code"] for r in results} == {"Timeout"}


def test_unreachable_endpoint_errors_within_the_deadline(monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    started = time.monotonic()
    _, results = collect(tuning=GcpTuning(timeout_seconds=0.5, deadline_seconds=1.0, initial_backoff_seconds=0.05))
    assert time.monotonic() - started < 2.5
    assert {r.observed["error_code"] for r in results} == {"Timeout"}
    assert "ConnectionError" in results[0].observed["message"]


def test_missing_application_default_credentials_is_recorded_not_raised(fake, monkeypatch, tmp_path):
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    spec = collectors()["gcp.gcs"]
    rec = Recorder(Scope("gcp", PROJECT, "global", "gcp.gcs"), spec.operations, classify_error)
    ctx = GcpFetchContext(PROJECT, rec, FAST, client_options={"api_endpoint": fake.endpoint})
    spec.fetch(ctx)
    (page,) = rec.bundle.all("storage", "ListBuckets")
    assert page.error is not None and page.error.code == "NoCredentials"
    assert fake.calls["ListBuckets"] == 0
