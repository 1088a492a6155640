"""The gcp.gcs collector fetched for real over HTTP against gcp-storage-emulator, then checked.

Seeds Dexo.chat's two projects through the JSON API (google-cloud-storage:
create, then patch, then set the IAM policy), points google-cloud-storage at the
emulator the way the library itself supports (STORAGE_EMULATOR_HOST, which also
makes it use AnonymousCredentials), runs the production GcpFetchContext +
Recorder + classify_error, and asserts every check for every bucket.

What the emulator lacks (see demo/gcs_emulator.py) and how it is handled:
projects are not separated and listings are not paginated by the emulator
itself; the GcsEmulator front adds both, and a test below pins the raw
emulator's behaviour so a change upstream is noticed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.request import urlopen

import pytest

from collectors.evidence import EvidenceBundle, Recorder, Scope
from collectors.gcp import gcs
from collectors.gcp.base import GcpFetchContext, GcpTuning, classify_error
from collectors.registry import checks_for, collectors
from controls import CheckResult, Status
from demo.gcs_emulator import DEMO_THRESHOLDS, ESTATE, GcsEmulator, project_number, seed_gcp_estate

pytestmark = pytest.mark.integration
AS_OF = datetime(2026, 1, 15, tzinfo=UTC)


@pytest.fixture(scope="module")
def emulator() -> Iterator[tuple[GcsEmulator, dict[str, list[str]]]]:
    with GcsEmulator() as gcs_emulator:
        expected = seed_gcp_estate(gcs_emulator.endpoint)
        yield gcs_emulator, expected


@pytest.fixture
def gcs_env(emulator, monkeypatch):
    emu, _ = emulator
    for key, value in emu.env().items():
        monkeypatch.setenv(key, value)
    emu.reset_counts()
    return emu


def collect(project: str, tuning: GcpTuning | None = None) -> tuple[EvidenceBundle, list[CheckResult]]:
    spec = collectors()["gcp.gcs"]
    rec = Recorder(Scope("gcp", project, "global", "gcp.gcs"), spec.operations, classify_error)
    spec.fetch(GcpFetchContext(project, rec, tuning or GcpTuning()))
    results = []
    for chk in checks_for("gcp.gcs"):
        results += chk.run(rec.bundle, DEMO_THRESHOLDS.get(chk.spec.id, {}), AS_OF)
    return rec.bundle, results


def failing(results: list[CheckResult]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in results:
        if r.status == Status.FAIL:
            out.setdefault(r.check_id, set()).add(r.resource_id)
    return out


def test_fetch_and_checks_over_both_projects_find_exactly_the_seeded_problems(emulator, gcs_env):
    _, expected = emulator
    found: dict[str, set[str]] = {}
    for project in ESTATE:
        _, results = collect(project)
        assert {r.resource_id for r in results} == set(ESTATE[project]), "only the project's own buckets"
        assert not [r for r in results if r.status == Status.ERROR]
        for check_id, names in failing(results).items():
            found.setdefault(check_id, set()).update(names)
        # one result per bucket per check
        assert len(results) == len(ESTATE[project]) * len(checks_for("gcp.gcs"))
    assert {k: sorted(v) for k, v in found.items()} == {k: v for k, v in expected.items() if v}


def test_evidence_is_the_raw_json_api_body(emulator, gcs_env):
    bundle, results = collect("dexo-prod")
    (page,) = bundle.all("storage", "ListBuckets")
    assert page.params == {"project": "dexo-prod", "projection": "noAcl", "maxResults": 1000}
    items = {b["name"]: b for b in page.response["items"]}
    uploads = items["dexo-prod-user-uploads"]
    assert uploads["kind"] == "storage#bucket"
    assert uploads["projectNumber"] == project_number("dexo-prod")
    assert uploads["iamConfiguration"]["publicAccessPrevention"] == "enforced"
    assert uploads["encryption"]["defaultKmsKeyName"].endswith("/cryptoKeys/dexo-prod-user-uploads")
    assert uploads["lifecycle"]["rule"][0] == {"action": {"type": "Delete"}, "condition": {"age": 30}}
    assert uploads["labels"] == {"data-class": "personal"}
    assert items["dexo-prod-pii-archive"]["retentionPolicy"]["retentionPeriod"] == str(90 * 86400)

    iam = bundle.find(
        "storage", "GetBucketIamPolicy", bucket="dexo-prod-public-assets", optionsRequestedPolicyVersion=3
    )
    assert iam is not None and iam.ok
    assert {"role": "roles/storage.objectViewer", "members": ["allUsers"]} in iam.response["bindings"]
    assert iam.response["kind"] == "storage#policy"

    (transport,) = bundle.all("storage", "ApiTransport")
    assert transport.response["scheme"] == "http"  # the truth against the emulator
    assert transport.response["google_endpoint"] is False
    assert "non-Google endpoint" in transport.response["note"]

    # one listing page + one getIamPolicy per bucket, counted at the emulator
    assert gcs_env.calls["ListBuckets"] == 1
    assert gcs_env.calls["GetBucketIamPolicy"] == len(ESTATE["dexo-prod"])
    assert gcs_env.calls["GetBucket"] == 0  # no per-bucket GET: the listing has the full resource

    region = {r.resource_id: r.region for r in results}
    assert region["dexo-prod-public-assets"] == "us-east1"
    assert region["dexo-prod-legacy-acl"] == "eu"
    assert region["dexo-prod-user-uploads"] == "us"


def test_paginated_listing_records_every_page(emulator, gcs_env, monkeypatch):
    monkeypatch.setattr(gcs, "PAGE_SIZE", 3)
    bundle, results = collect("dexo-prod")
    pages = bundle.all("storage", "ListBuckets")
    assert len(pages) == 3  # 7 buckets, 3 a page
    assert "pageToken" not in pages[0].params and pages[1].params["pageToken"] and pages[2].params["pageToken"]
    assert "nextPageToken" not in pages[2].response
    assert {r.resource_id for r in results} == set(ESTATE["dexo-prod"])


def test_sequential_and_concurrent_fetch_record_the_same_evidence(emulator, gcs_env):
    def view(bundle: EvidenceBundle) -> Any:
        return sorted(
            (c.operation, json.dumps(c.params, sort_keys=True), json.dumps(c.response, sort_keys=True))
            for calls in bundle.calls.values()
            for c in calls
            if c.operation != "ApiTransport"
        )

    one, res_one = collect("dexo-analytics", GcpTuning(concurrency=1))
    many, res_many = collect("dexo-analytics", GcpTuning(concurrency=16))
    assert view(one) == view(many)
    assert sorted((r.check_id, r.resource_id, r.status) for r in res_one) == sorted(
        (r.check_id, r.resource_id, r.status) for r in res_many
    )


def test_unknown_project_lists_no_bucket(emulator, gcs_env):
    """The emulator has no project registry: an unknown project is an empty listing
    (real Cloud Storage answers 404; that case is tested against tests/fake_gcs.py)."""
    bundle, results = collect("dexo-nonexistent")
    assert results == []
    assert bundle.all("storage", "ListBuckets")[0].ok


def test_raw_emulator_ignores_project_and_page_size(emulator):
    """Pins the emulator gap the GcsEmulator front covers: every bucket of every project
    comes back, in one page, with the same projectNumber."""
    emu, _ = emulator
    with urlopen(f"{emu.emulator_endpoint}/storage/v1/b?project=dexo-analytics&maxResults=2", timeout=10) as resp:
        body = json.load(resp)
    names = {b["name"] for b in body["items"]}
    assert names >= set(ESTATE["dexo-prod"]) | set(ESTATE["dexo-analytics"])
    assert "nextPageToken" not in body
    assert len({b["projectNumber"] for b in body["items"]}) == 1
