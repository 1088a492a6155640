"""Dexo.chat's GCP IAM, seeded into the demo's fake Resource Manager / IAM APIs (demo.gcp_iam_fake).

gcp-storage-emulator serves Cloud Storage only and no emulator exists for these APIs, so the demo starts
FakeGcpIam beside it (like the other emulators) and points the gcp.iam collector at it with
CLOUDSDK_API_ENDPOINT_OVERRIDES_* (FakeGcpIam.use_env). Seeded:

    organizations/482913657201 (dexo.chat)  roles/owner user:founder@dexo.chat          inherited by both projects
    folders/310284756193 (Production)       roles/editor group:platform@dexo.chat       inherited by dexo-prod
    dexo-prod       roles/owner serviceAccount:terraform@...     (a workload: not a person)
                    roles/editor user:maya.admin@dexo.chat       (a person with a basic role)
                    roles/viewer group:engineering@dexo.chat
                    roles/bigquery.dataViewer user:analyst@agency.example until the contract ends (a condition)
                    roles/iam.serviceAccountUser group:deployers@dexo.chat
                    ci-deployer: a user-managed key 200 days old; web-app: none
    dexo-analytics  roles/viewer allAuthenticatedUsers           (public)
                    roles/bigquery.admin group:data@dexo.chat
                    etl: a key 20 days old; old-export: a disabled key 400 days old

seed_gcp_iam(fake) returns, per check, what must fail (resource ids as the checks report them).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from demo.gcp_iam_fake import FakeGcpIam, policy

__all__ = ["seed_gcp_iam"]

ORG = "organizations/482913657201"
FOLDER = "folders/310284756193"
CONTRACT_END = {"title": "contract ends 2026-12-31", "expression": 'request.time < timestamp("2027-01-01T00:00:00Z")'}


def _sa(project: str, name: str) -> str:
    return f"{name}@{project}.iam.gserviceaccount.com"


def _account(project: str, name: str) -> dict[str, Any]:
    email = _sa(project, name)
    return {
        "name": f"projects/{project}/serviceAccounts/{email}",
        "email": email,
        "projectId": project,
        "displayName": name,
    }


def _key(project: str, account: str, key_id: str, days: int, *, disabled: bool = False) -> dict[str, Any]:
    made = datetime.now(UTC) - timedelta(days=days)
    key = {
        "name": f"projects/{project}/serviceAccounts/{account}/keys/{key_id}",
        "validAfterTime": made.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "validBeforeTime": "9999-12-31T23:59:59Z",
        "keyAlgorithm": "KEY_ALG_RSA_2048",
        "keyOrigin": "GOOGLE_PROVIDED",
        "keyType": "USER_MANAGED",
    }
    return {**key, "disabled": True} if disabled else key


def seed_gcp_iam(fake: FakeGcpIam) -> dict[str, list[str]]:
    """Seed the table above into `fake` (dexo-prod, dexo-analytics); see the module doc."""
    prod, analytics = "dexo-prod", "dexo-analytics"
    fake.policies.update(
        {
            ORG: policy(
                {"role": "roles/owner", "members": ["user:founder@dexo.chat"]},
                {"role": "roles/resourcemanager.organizationViewer", "members": ["domain:dexo.chat"]},
            ),
            FOLDER: policy({"role": "roles/editor", "members": ["group:platform@dexo.chat"]}),
            f"projects/{prod}": policy(
                {"role": "roles/owner", "members": [f"serviceAccount:{_sa(prod, 'terraform')}"]},
                {"role": "roles/editor", "members": ["user:maya.admin@dexo.chat"]},
                {"role": "roles/viewer", "members": ["group:engineering@dexo.chat"]},
                {
                    "role": "roles/bigquery.dataViewer",
                    "members": ["user:analyst@agency.example"],
                    "condition": CONTRACT_END,
                },
                {"role": "roles/iam.serviceAccountUser", "members": ["group:deployers@dexo.chat"]},
            ),
            f"projects/{analytics}": policy(
                {"role": "roles/viewer", "members": ["allAuthenticatedUsers"]},
                {"role": "roles/bigquery.admin", "members": ["group:data@dexo.chat"]},
            ),
        }
    )
    fake.ancestry.update({prod: [FOLDER, ORG], analytics: [ORG]})
    accounts = {prod: ["ci-deployer", "terraform", "web-app"], analytics: ["etl", "old-export"]}
    for project, names in accounts.items():
        fake.service_accounts[project] = [_account(project, n) for n in names]
    old_key = _key(prod, _sa(prod, "ci-deployer"), "7f3a9c", 200)
    fake.keys[_sa(prod, "ci-deployer")] = [old_key]
    fake.keys[_sa(analytics, "etl")] = [_key(analytics, _sa(analytics, "etl"), "2b8e41", 20)]
    disabled = _key(analytics, _sa(analytics, "old-export"), "c09d17", 400, disabled=True)
    fake.keys[_sa(analytics, "old-export")] = [disabled]
    return {
        "gcp.iam.primitive_roles": sorted(
            [
                f"{ORG} roles/owner user:founder@dexo.chat",  # in both projects
                f"{FOLDER} roles/editor group:platform@dexo.chat",
                f"projects/{prod} roles/editor user:maya.admin@dexo.chat",
            ]
        ),
        "gcp.iam.public_bindings": [f"projects/{analytics} roles/viewer allAuthenticatedUsers"],
        "gcp.iam.service_account_keys": [old_key["name"]],
    }
