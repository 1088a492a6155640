"""GCP project IAM in access reviews, on recorded JSON (tests/fixtures/gcp/iam): one row per binding member
that applies to the project (own and inherited, conditions shown), gaps for what could not be read, and the
gcloud command that revokes a row."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from collectors.evidence import EvidenceBundle, Scope
from flows.access_review.context import AccessReviewContext, ProjectEvidence
from flows.access_review.gcp_iam_population import GCP_MEMBER, gcp_iam_population, gcp_revoke_command
from flows.config import config_from_mapping
from tests.helpers import bundle_from_calls
from tests.unit.test_checks_gcp_iam import FOLDER_ID, ORG_ID, SCOPE, calls, forbidden

BASE = {"organization": "D", "period": {"start": "2026-01-01", "end": "2026-12-31"}}
CFG = config_from_mapping(BASE, base_dir=Path("."))


def population(**over):
    ctx = AccessReviewContext(CFG, datetime(2025, 6, 30, tzinfo=UTC), [], None)
    gcs = EvidenceBundle(Scope("gcp", "dexo-prod", "global", "gcp.gcs"))
    ctx.projects = [ProjectEvidence("dexo-prod", gcs, bundle_from_calls(SCOPE, calls(over)))]
    return gcp_iam_population(ctx), ctx


def test_rows_for_own_and_inherited_bindings_with_conditions():
    rows, ctx = population()
    by_arn = {p.arn: p for p in rows}
    assert len(rows) == 10 and not ctx.gaps  # 7 members on the project, 1 on the folder, 2 on the organization
    cto = by_arn["projects/dexo-prod roles/owner user:cto@dexo.chat"]
    assert (cto.principal_type, cto.account, cto.privileged) == (GCP_MEMBER, "dexo-prod", "yes")
    assert cto.email == "cto@dexo.chat"
    founder = by_arn[f"{ORG_ID} roles/owner user:founder@dexo.chat"]
    assert founder.policies == f"roles/owner on {ORG_ID} (inherited)"
    public = by_arn["projects/dexo-prod roles/viewer allAuthenticatedUsers"]
    assert public.trusted_principals == "allAuthenticatedUsers" and public.privileged == "no"
    contractor = next(p for p in rows if p.name == "user:contractor@example.com")
    assert "(condition until 2026-12-31: request.time" in contractor.policies
    assert ctx.details[founder.key]["source"] == ORG_ID


def test_unreadable_policies_are_stated_gaps():
    rows, ctx = population(folder=forbidden("resourcemanager.folders.getIamPolicy"))
    assert len(rows) == 9 and len(ctx.gaps) == 1
    call = f"cloudresourcemanager:GetFolderIamPolicy (requestedPolicyVersion=3, resource={FOLDER_ID})"
    assert ctx.gaps[0].startswith(f"GCP project dexo-prod: {call} failed: Forbidden")
    assert ctx.gaps[0].endswith("(needs resourcemanager.folders.getIamPolicy)")
    rows, ctx = population(project=forbidden("resourcemanager.projects.getIamPolicy"))
    assert all(p.arn.startswith(("folders/", "organizations/")) for p in rows) and "GetProjectIamPolicy" in ctx.gaps[0]


def test_revoke_commands_for_project_folder_organization_and_conditional_bindings():
    base = {"member": "user:a@dexo.chat", "role": "roles/editor"}
    assert gcp_revoke_command({**base, "source": "projects/dexo-prod"}) == (
        "gcloud projects remove-iam-policy-binding dexo-prod --member=user:a@dexo.chat --role=roles/editor"
    )
    assert gcp_revoke_command({**base, "source": FOLDER_ID}).startswith(
        "gcloud resource-manager folders remove-iam-policy-binding 210987654321 "
    )
    conditional = {**base, "source": ORG_ID, "condition": {"title": "t", "expression": "a, b"}}
    assert gcp_revoke_command(conditional) == (
        "gcloud organizations remove-iam-policy-binding 123456789012 --member=user:a@dexo.chat --role=roles/editor "
        "--condition='^~^expression=a, b~title=t'"
    )
