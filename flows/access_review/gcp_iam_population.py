"""The GCP project IAM population of an access review ("GCP IAM member" rows, provider "gcp"), built from
the recorded gcp.iam answers (no API call here), and the gcloud command that revokes a row.

One row per (project, source, role, member, condition) of every binding that applies to the project: its
own policy and the folder and organization policies it inherits (a conditional binding is its own row,
the condition shown). Account = the project id; Principal = the member as IAM writes it; ARN = the
binding's id ("projects/dexo-prod roles/owner user:cto@dexo.chat", "organizations/1 roles/owner ..."),
unique with the project; Policies = "ROLE on SOURCE" (+ "inherited" and the condition); Trusted outside
principals = the member when it is public (allUsers, allAuthenticatedUsers). Privileged: the basic
Owner / Editor roles, the roles that change IAM or act as service accounts (PRIVILEGED_ROLES), any
predefined "*.admin" role; a custom role is "undetermined" (its permissions are not collected).

Never silently partial: a project policy, an ancestry or an inherited policy that could not be read is
stated in ctx.gaps (project, operation, error, permission) and the workbook says the population is
incomplete. Revocation: ``gcloud projects|resource-manager folders|organizations remove-iam-policy-binding``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from collectors.evidence import ApiCall
from collectors.gcp.iam import PUBLIC_MEMBERS, Binding, condition_text, project_iam
from flows.access_review.context import AccessReviewContext
from reports.access_review import Principal

GCP_MEMBER = "GCP IAM member"
KIND = "gcp_binding"
NOT_APPLICABLE = "n/a"
CUSTOM_ROLE = re.compile(r"^(?:projects|organizations)/[^/]+/roles/")
PRIVILEGED_ROLES: dict[str, str] = {
    "roles/owner": "basic Owner role (full control)",
    "roles/editor": "basic Editor role (modifies everything)",
    "roles/resourcemanager.projectIamAdmin": "changes the project's IAM policy",
    "roles/resourcemanager.folderAdmin": "administers folders and their IAM policies",
    "roles/resourcemanager.organizationAdmin": "administers the organization and its IAM policy",
    "roles/iam.securityAdmin": "changes IAM policies",
    "roles/iam.serviceAccountAdmin": "changes service accounts and their IAM policies",
    "roles/iam.serviceAccountKeyAdmin": "creates keys for service accounts",
    "roles/iam.serviceAccountTokenCreator": "impersonates service accounts",
    "roles/iam.serviceAccountUser": "acts as service accounts",
}
GCLOUD = {
    "projects": "gcloud projects",
    "folders": "gcloud resource-manager folders",
    "organizations": "gcloud organizations",
}


def privilege(role: str) -> tuple[str, str]:
    """("yes" | "no" | "undetermined", why)."""
    if role in PRIVILEGED_ROLES:
        return "yes", f"{role}: {PRIVILEGED_ROLES[role]}"
    if CUSTOM_ROLE.match(role):
        return "undetermined", f"undetermined: custom role {role} (its permissions are not collected)"
    if role.endswith(".admin"):
        return "yes", f"{role}: administers {role.removeprefix('roles/').removesuffix('.admin')}"
    return "no", ""


def _email(member: str) -> str:
    kind, sep, rest = member.partition(":")
    return rest if sep and kind in ("user", "serviceAccount", "group") and "@" in rest else ""


def _gap(project: str, call: ApiCall) -> str:
    err = call.error
    assert err is not None
    permission = f" (needs {err.permission})" if err.permission else ""
    params = ", ".join(f"{k}={v}" for k, v in sorted(call.params.items()))
    failed = f"{call.service}:{call.operation} ({params}) failed: {err.code}: {err.message}{permission}"
    return f"GCP project {project}: {failed}"


def _row(project: str, b: Binding, ctx: AccessReviewContext) -> Principal:
    privileged, through = privilege(b.role)
    cond = condition_text(b.condition)
    where = f"{b.role} on {b.source}" + (" (inherited)" if b.inherited else "")
    where += f" (condition {cond})" if cond else ""
    p = Principal(
        account=project,
        account_name=project,
        principal_type=GCP_MEMBER,
        name=b.member,
        arn=b.id,
        email=_email(b.member),
        policies=where,
        privileged=privileged,
        privileged_through=through,
        console_access=NOT_APPLICABLE,
        mfa=NOT_APPLICABLE,
        last_activity=NOT_APPLICABLE,
        key_ages=NOT_APPLICABLE,
        trusted_principals=b.member if b.member in PUBLIC_MEMBERS else "",
        provider="gcp",
    )
    ctx.details[p.key] = {
        "kind": KIND,
        "project": project,
        "source": b.source,
        "role": b.role,
        "member": b.member,
        "condition": dict(b.condition) if b.condition else None,
    }
    return p


def gcp_iam_population(ctx: AccessReviewContext) -> list[Principal]:
    """One row per binding member that applies to each project in scope; what could not be read goes to
    ctx.gaps (never raises)."""
    rows: dict[str, Principal] = {}
    for pe in ctx.projects:
        if pe.iam is None:
            continue
        model = project_iam(pe.iam)
        for call in (model.policy_failed, model.ancestry_failed, *model.inherited_failed.values()):
            if call is not None:
                ctx.gaps.append(_gap(pe.project, call))
        for b in model.bindings:
            p = _row(pe.project, b, ctx)
            rows[p.key] = p
    return list(rows.values())


def gcp_revoke_command(binding: Mapping[str, Any]) -> str:
    """The gcloud command that removes one member from one project, folder or organization binding."""
    collection, _, resource_id = str(binding["source"]).partition("/")
    cmd = (
        f"{GCLOUD.get(collection, 'gcloud projects')} remove-iam-policy-binding {shlex.quote(resource_id)} "
        f"--member={shlex.quote(str(binding['member']))} --role={shlex.quote(str(binding['role']))}"
    )
    condition: Mapping[str, Any] = binding.get("condition") or {}
    if condition:  # gcloud's alternate delimiter (gcloud topic escaping): an expression may contain commas
        parts = [f"{k}={condition[k]}" for k in ("expression", "title", "description") if condition.get(k)]
        cmd += " --condition=" + shlex.quote("^~^" + "~".join(parts))
    return cmd
