"""The gcp.iam checks on recorded JSON (tests/fixtures/gcp/iam), as_of 2025-06-30.

Project dexo-prod under folders/210987654321 under organizations/123456789012:

  project   roles/owner    user:cto@dexo.chat, serviceAccount:terraform@...
            roles/editor   group:engineering@dexo.chat, the default compute service account
            roles/editor   user:oncall@dexo.chat with condition "break-glass"
            roles/viewer   allAuthenticatedUsers
            roles/storage.objectViewer  user:contractor@example.com with condition "until 2026-12-31"
  folder    roles/resourcemanager.folderViewer  group:auditors@dexo.chat
  org       roles/owner    user:founder@dexo.chat (inherited by the project)

  ci-deployer  keys a1 (2024-11-01: 241 days) and a2 (2025-06-01: 29 days)
  etl          key b1 (2023), disabled
  web          no user-managed key
"""

from __future__ import annotations

from typing import Any

import pytest

from collectors.evidence import ApiError, Scope
from controls import Status
from tests.helpers import bundle_from_calls, by_resource, fixture, run_check

SCOPE = Scope("gcp", "dexo-prod", "global", "gcp.iam")
POLICY = fixture("gcp/iam/get_project_iam_policy.json")
ANCESTRY = fixture("gcp/iam/get_ancestry.json")
FOLDER = fixture("gcp/iam/get_folder_iam_policy.json")
ORG = fixture("gcp/iam/get_organization_iam_policy.json")
ACCOUNTS = fixture("gcp/iam/list_service_accounts.json")
KEYS = fixture("gcp/iam/list_service_account_keys.json")
FOLDER_ID, ORG_ID = "folders/210987654321", "organizations/123456789012"
CI = "ci-deployer@dexo-prod.iam.gserviceaccount.com"


def forbidden(permission: str) -> ApiError:
    return ApiError("Forbidden", f"Permission '{permission}' denied on resource (or it may not exist).", None, 403)


def calls(over: dict[str, Any] | None = None):
    over = over or {}
    crm = "cloudresourcemanager"
    yield (
        crm,
        "GetProjectIamPolicy",
        {"resource": "projects/dexo-prod", "requestedPolicyVersion": 3},
        over.get("project", POLICY),
    )
    yield crm, "GetAncestry", {"project": "dexo-prod"}, over.get("ancestry", ANCESTRY)
    yield crm, "GetFolderIamPolicy", {"resource": FOLDER_ID, "requestedPolicyVersion": 3}, over.get("folder", FOLDER)
    yield crm, "GetOrganizationIamPolicy", {"resource": ORG_ID, "requestedPolicyVersion": 3}, over.get("org", ORG)
    yield "iam", "ListServiceAccounts", {"name": "projects/dexo-prod", "pageSize": 100}, over.get("accounts", ACCOUNTS)
    for email, answer in KEYS.items():
        params = {"serviceAccount": email, "keyTypes": "USER_MANAGED"}
        yield "iam", "ListServiceAccountKeys", params, over.get(email, answer)


def results(check_id: str, thresholds: dict[str, Any] | None = None, **over: Any):
    return run_check(check_id, bundle_from_calls(SCOPE, calls(over)), thresholds)


def test_basic_roles_held_by_people_fail_directly_inherited_and_conditional():
    got = by_resource(results("gcp.iam.primitive_roles"))
    failing = sorted(rid for rid, r in got.items() if r.status == Status.FAIL)
    assert failing == [
        f"{ORG_ID} roles/owner user:founder@dexo.chat",
        "projects/dexo-prod roles/editor group:engineering@dexo.chat",
        'projects/dexo-prod roles/editor user:oncall@dexo.chat [condition break-glass: request.time < timestamp("'
        '2026-01-01T00:00:00Z")]',
        "projects/dexo-prod roles/owner user:cto@dexo.chat",
    ]
    founder = got[f"{ORG_ID} roles/owner user:founder@dexo.chat"]
    assert founder.observed["inherited"] is True and "inherited from organizations/" in founder.reason
    assert got["projects/dexo-prod roles/owner serviceAccount:terraform@dexo-prod.iam.gserviceaccount.com"].status == (
        Status.NOT_APPLICABLE
    )
    assert founder.resource_type == "GCP::IAM::Binding" and founder.provider == "gcp"


def test_allowed_members_and_roles_thresholds():
    thresholds = {"allowed_members": ["user:founder@*"], "roles": ["roles/owner"]}
    got = by_resource(results("gcp.iam.primitive_roles", thresholds))
    assert got[f"{ORG_ID} roles/owner user:founder@dexo.chat"].status == Status.PASS
    assert not [rid for rid in got if "roles/editor" in rid]


def test_project_without_basic_roles_passes_once():
    clean = {"version": 3, "bindings": [{"role": "roles/viewer", "members": ["user:a@dexo.chat"]}]}
    (r,) = results("gcp.iam.primitive_roles", project=clean, org={"bindings": []})
    assert r.status == Status.PASS and r.resource_id == "dexo-prod" and "in the 2 bindings" in r.reason


def test_public_binding_fails():
    (r,) = results("gcp.iam.public_bindings")
    assert r.status == Status.FAIL and r.resource_id == "projects/dexo-prod roles/viewer allAuthenticatedUsers"


def test_forbidden_project_policy_is_error_and_inherited_bindings_are_still_judged():
    got = by_resource(results("gcp.iam.primitive_roles", project=forbidden("resourcemanager.projects.getIamPolicy")))
    assert got["*"].status == Status.ERROR
    assert got["*"].observed["missing_permission"] == "resourcemanager.projects.getIamPolicy"
    assert got[f"{ORG_ID} roles/owner user:founder@dexo.chat"].status == Status.FAIL
    (only,) = results("gcp.iam.public_bindings", project=forbidden("x"))
    assert only.status == Status.ERROR  # no "nothing public" pass without the project's own policy


def test_unreadable_ancestor_is_error_for_that_ancestor_only():
    got = by_resource(results("gcp.iam.public_bindings", org=forbidden("resourcemanager.organizations.getIamPolicy")))
    assert got[ORG_ID].status == Status.ERROR
    assert got[ORG_ID].observed["missing_permission"] == "resourcemanager.organizations.getIamPolicy"
    assert got["projects/dexo-prod roles/viewer allAuthenticatedUsers"].status == Status.FAIL
    got = by_resource(results("gcp.iam.primitive_roles", ancestry=forbidden("resourcemanager.projects.get")))
    assert got["ancestors"].status == Status.ERROR
    assert not [rid for rid in got if rid.startswith(ORG_ID)]  # the ancestors are unknown, not "clean"


def test_old_user_managed_keys_fail_recent_pass_disabled_not_applicable():
    got = by_resource(results("gcp.iam.service_account_keys"))
    base = f"projects/dexo-prod/serviceAccounts/{CI}/keys/"
    assert got[base + "a1"].status == Status.FAIL and got[base + "a1"].observed["age_days"] == 241
    assert got[base + "a2"].status == Status.PASS
    etl = next(r for rid, r in got.items() if rid.endswith("/b1"))
    assert etl.status == Status.NOT_APPLICABLE
    assert len(got) == 3
    assert by_resource(results("gcp.iam.service_account_keys", {"max_age_days": 365}))[base + "a1"].status == (
        Status.PASS
    )


def test_forbidden_keys_of_one_account_are_error_for_that_account_only():
    got = by_resource(results("gcp.iam.service_account_keys", **{CI: forbidden("iam.serviceAccountKeys.list")}))
    assert got[CI].status == Status.ERROR and got[CI].observed["missing_permission"] == "iam.serviceAccountKeys.list"
    assert not [rid for rid in got if "keys/a" in rid]


def test_forbidden_account_listing_is_error_not_a_pass():
    (r,) = results("gcp.iam.service_account_keys", accounts=forbidden("iam.serviceAccounts.list"))
    assert r.status == Status.ERROR and r.resource_id == "*"


def test_unparseable_key_time_is_error_and_no_keys_passes():
    odd = {"keys": [{"name": "k/odd", "keyType": "USER_MANAGED", "validAfterTime": "yesterday"}]}
    got = by_resource(results("gcp.iam.service_account_keys", **{CI: odd}))
    assert got["k/odd"].status == Status.ERROR
    none = {email: {} for email in KEYS}
    (r,) = results("gcp.iam.service_account_keys", **none)
    assert r.status == Status.PASS and r.resource_id == "dexo-prod"


@pytest.mark.parametrize("check_id", ["gcp.iam.primitive_roles", "gcp.iam.public_bindings"])
def test_results_cite_the_policy_evidence(check_id):
    (first, *_) = results(check_id)
    assert {e.path.rsplit("/", 1)[-1] for e in first.evidence} >= {"cloudresourcemanager.GetProjectIamPolicy.json"}
