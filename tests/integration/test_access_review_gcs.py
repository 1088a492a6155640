"""access-review start -> complete with GCS bucket IAM members in the population (issue 5).

AWS from moto's server (MotoEmulator + seed_demo_estate) and Cloud Storage from gcp-storage-emulator
(GcsEmulator + seed_gcp_estate, plus a few member bindings added through the JSON API) in the same `start`;
the GCS rows, their stored evidence and hashes; a Revoke on a GCS binding printed as the gcloud command by
`complete`. Then: a GCP-only config, an empty scope, and a project whose listing or bucket IAM policy is
forbidden (tests/fake_gcs.py), which must make `start` refuse and store nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook

from demo.emulators import MotoEmulator
from demo.estate import seed_demo_estate
from demo.gcs_emulator import ESTATE, GcsEmulator, _storage_client, seed_gcp_estate
from demo.run import write_demo_config
from flows import access_review as flow
from flows.access_review import REVIEWS, AccessReviewError, complete, print_revocations, start
from flows.config import load_config
from reports.access_review import HEADERS, SHEET
from reports.atomic import sha256_file
from tests.fake_gcs import FakeGcs, Fault, bucket_resource, policy

pytestmark = pytest.mark.integration
PROJECTS = ["dexo-prod", "dexo-analytics"]
GCS = "GCS bucket member"
# bindings added on top of seed_gcp_estate's (which only adds the public ones): bucket -> [(role, member)]
EXTRA = {
    "dexo-prod-user-uploads": [
        ("roles/storage.admin", "user:maya.admin@dexo.chat"),
        ("roles/storage.objectViewer", "serviceAccount:uploads@dexo-prod.iam.gserviceaccount.com"),
    ],
    "dexo-analytics-tmp": [
        ("roles/storage.legacyBucketOwner", "projectOwner:dexo-analytics"),
        ("projects/dexo-analytics/roles/tmpCleaner", "group:data-eng@dexo.chat"),
    ],
}
# (project, bucket, role, member) -> privileged
EXPECTED = {
    ("dexo-prod", "dexo-prod-public-assets", "roles/storage.objectViewer", "allUsers"): "no",
    ("dexo-analytics", "dexo-analytics-events", "roles/storage.objectViewer", "allAuthenticatedUsers"): "no",
    ("dexo-prod", "dexo-prod-user-uploads", "roles/storage.admin", "user:maya.admin@dexo.chat"): "yes",
    (
        "dexo-prod",
        "dexo-prod-user-uploads",
        "roles/storage.objectViewer",
        "serviceAccount:uploads@dexo-prod.iam.gserviceaccount.com",
    ): "no",
    ("dexo-analytics", "dexo-analytics-tmp", "roles/storage.legacyBucketOwner", "projectOwner:dexo-analytics"): "yes",
    (
        "dexo-analytics",
        "dexo-analytics-tmp",
        "projects/dexo-analytics/roles/tmpCleaner",
        "group:data-eng@dexo.chat",
    ): "undetermined",
}
REVOKE_PUBLIC = (
    "gcloud storage buckets remove-iam-policy-binding gs://dexo-prod-public-assets "
    "--member=allUsers --role=roles/storage.objectViewer"
)


@pytest.fixture(scope="module")
def estates():
    """moto with Dexo.chat's AWS organization and the GCS emulator with its two projects, for the module."""
    with MotoEmulator() as moto, moto.use_env(), GcsEmulator() as gcs:
        moto.reset()
        estate = seed_demo_estate(moto.endpoint_url)
        seed_gcp_estate(gcs.endpoint)
        project_of = {b: p for p, buckets in ESTATE.items() for b in buckets}
        for bucket_name, grants in EXTRA.items():
            bucket = _storage_client(gcs.endpoint, project_of[bucket_name]).bucket(bucket_name)
            pol = bucket.get_iam_policy(requested_policy_version=3, timeout=10)
            pol.version = 3
            for role, member in grants:
                pol.bindings.append({"role": role, "members": {member}})
            bucket.set_iam_policy(pol, timeout=10)
        yield estate, gcs
        moto.reset()


@pytest.fixture
def gcs_env(estates, monkeypatch):
    _, gcs = estates
    for key, value in gcs.env().items():
        monkeypatch.setenv(key, value)
    return gcs


def gcs_rows(principals):
    return {
        (p.account, p.arn.split(" ")[0].removeprefix("gs://"), p.policies.split(" on ")[0], p.name): p
        for p in principals
        if p.principal_type == GCS
    }


def test_start_adds_gcs_members_to_the_aws_population_and_complete_prints_gcloud(estates, gcs_env, tmp_path):
    estate, _ = estates
    cfg = load_config(write_demo_config(estate, tmp_path, gcp_projects=PROJECTS, workload_regions_only=True))
    issued = start(cfg, output=tmp_path)
    folder = issued.review_dir
    review = json.loads((folder / "review.json").read_text())
    assert sorted(review["accounts"]) == sorted(estate.accounts.values())  # AWS accounts only
    assert review["projects"] == PROJECTS
    for e in review["evidence"]:
        assert sha256_file(folder / e["path"]) == e["sha256"], e["path"]
    paths = {e["path"] for e in review["evidence"]}
    for project in PROJECTS:
        for op in ("ListBuckets", "GetBucketIamPolicy"):
            assert f"evidence/gcp/{project}/global/gcs/{op}.json" in paths
    listed = json.loads((folder / "evidence/gcp/dexo-prod/global/gcs/ListBuckets.json").read_text())
    assert {b["name"] for c in listed["calls"] for b in c["response"]["items"]} == set(ESTATE["dexo-prod"])

    # the AWS population is still there
    assert any(p.principal_type == "IAM user" and p.name == "leo.ops" for p in issued.principals)
    rows = gcs_rows(issued.principals)
    assert {k: p.privileged for k, p in rows.items()} == EXPECTED
    public = rows[("dexo-prod", "dexo-prod-public-assets", "roles/storage.objectViewer", "allUsers")]
    assert public.provider == "gcp" and public.trusted_principals == "allUsers"
    assert (public.console_access, public.mfa, public.key_ages) == ("n/a", "n/a", "n/a")
    assert public.policies == "roles/storage.objectViewer on gs://dexo-prod-public-assets"
    maya = rows[("dexo-prod", "dexo-prod-user-uploads", "roles/storage.admin", "user:maya.admin@dexo.chat")]
    assert maya.email == "maya.admin@dexo.chat" and "roles/storage.admin" in maya.privileged_through
    population = json.loads((folder / "population.json").read_text())
    assert population["details"][public.key]["bucket"] == "dexo-prod-public-assets"

    wb = load_workbook(issued.workbook)
    ws = wb[SHEET]
    col = {h: HEADERS.index(h) + 1 for h in HEADERS}
    revoke = {"allUsers", "old-backup-bot"}
    types = set()
    for r in range(2, ws.max_row + 1):
        name = ws.cell(r, col["Principal"]).value
        types.add(ws.cell(r, col["Type"]).value)
        ws.cell(r, col["Decision"]).value = "Revoke" if name in revoke else "Keep"
        ws.cell(r, col["Reviewer"]).value = "carla.ciso@dexo.chat"
        ws.cell(r, col["Reviewed on"]).value = datetime.now(UTC).replace(tzinfo=None)
        ws.cell(r, col["Justification"]).value = "no longer needed" if name in revoke else None
    assert GCS in types
    done = tmp_path / "completed.xlsx"
    wb.save(done)
    out = complete(done)
    by_principal = {r["principal"]: r for r in out.revocations}
    assert set(by_principal) == revoke
    assert by_principal["allUsers"]["action"] == REVOKE_PUBLIC
    assert by_principal["allUsers"]["account"] == "dexo-prod" and by_principal["allUsers"]["type"] == GCS
    assert "action" not in by_principal["old-backup-bot"]  # AWS rows unchanged
    printed = print_revocations(out.revocations)
    assert f"      {REVOKE_PUBLIC}" in printed
    stored = json.loads((folder / "completed.json").read_text())
    assert stored["status"] == "completed" and len(stored["revocations"]) == 2


def gcp_only_config(tmp_path: Path, projects: list[str]) -> Path:
    body = {"organization": "Dexo", "period": {"start": "2026-01-01", "end": "2026-12-31"}, "output": str(tmp_path)}
    if projects:
        body["gcp"] = {"projects": projects}
    path = tmp_path / "soc2-evidence.yaml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return path


def test_gcp_only_config_without_any_aws_account(estates, gcs_env, tmp_path):
    issued = start(load_config(gcp_only_config(tmp_path, ["dexo-analytics"])), output=tmp_path)
    assert issued.review["accounts"] == [] and issued.review["projects"] == ["dexo-analytics"]
    assert {p.account for p in issued.principals} == {"dexo-analytics"}
    assert {p.principal_type for p in issued.principals} == {GCS}
    assert ("dexo-analytics", "dexo-analytics-events", "roles/storage.objectViewer", "allAuthenticatedUsers") in (
        gcs_rows(issued.principals)
    )
    assert not [e for e in issued.review["evidence"] if e["path"].startswith("evidence/aws/")]


def test_nothing_in_scope_is_refused(tmp_path):
    with pytest.raises(AccessReviewError, match="no account or project in scope"):
        start(load_config(gcp_only_config(tmp_path, [])), output=tmp_path)
    assert not (tmp_path / REVIEWS).exists()


def test_forbidden_listing_or_iam_policy_refuses_and_stores_nothing(tmp_path, monkeypatch):
    fake = FakeGcs(
        projects={"dexo-prod": [bucket_resource("dexo-prod-a"), bucket_resource("dexo-prod-b")], "dexo-locked": []},
        forbidden_projects={"dexo-locked"},
    )
    fake.policies["dexo-prod-a"] = policy("dexo-prod-a", [{"role": "roles/storage.admin", "members": ["user:a@x.io"]}])
    fake.iam_faults["dexo-prod-b"] = Fault(403)
    with fake:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake.endpoint)
        cfg = load_config(gcp_only_config(tmp_path, ["dexo-prod", "dexo-locked"]))
        with pytest.raises(AccessReviewError) as err:
            start(cfg, output=tmp_path)
    text = str(err.value)
    assert "nothing stored" in text
    assert "project dexo-prod: storage:GetBucketIamPolicy for gs://dexo-prod-b failed: Forbidden" in text
    assert "(needs storage.buckets.getIamPolicy)" in text
    assert "project dexo-locked: storage:ListBuckets failed: Forbidden" in text
    assert "(needs storage.buckets.list)" in text
    assert not (tmp_path / REVIEWS).exists()


def test_revoke_command_of_a_conditional_binding():
    binding = {
        "bucket": "b",
        "role": "roles/storage.objectViewer",
        "member": "user:a@x.io",
        "condition": {"title": "until 2026", "expression": 'request.time < timestamp("2026-01-01T00:00:00Z")'},
    }
    cmd = flow.gcs_revoke_command(binding)
    assert cmd.startswith(
        "gcloud storage buckets remove-iam-policy-binding gs://b --member=user:a@x.io --role=roles/storage.objectViewer"
    )
    assert " --condition='^~^expression=request.time < timestamp(\"2026-01-01T00:00:00Z\")~title=until 2026'" in cmd
    ident = flow.gcs_binding_id("b", binding["role"], binding["member"], binding["condition"])
    assert ident != flow.gcs_binding_id("b", binding["role"], binding["member"])
