"""The GCP population of an access review ("GCS bucket member" rows, provider "gcp"), built from the
recorded Cloud Storage answers (no API call here), and the gcloud command that revokes a row.

One row per (project, bucket, role, member) of every bucket's IAM policy (version 3; a conditional
binding is its own row, the condition shown). Account = the project id; Principal = the member as
IAM writes it (user:..., serviceAccount:..., group:..., domain:..., projectOwner:..., allUsers,
allAuthenticatedUsers); ARN = "gs://BUCKET ROLE MEMBER" (the row's stable identity); Email = the
member's address (user, service account, group); Policies = "ROLE on gs://BUCKET"; Trusted outside
principals = the member when it is public (allUsers, allAuthenticatedUsers); console access, MFA,
last activity and key ages are "n/a" (Cloud Storage IAM has no such notion).

Privileged (GCS_PRIVILEGED_ROLES, flows.access_review.context): roles/owner, roles/editor (basic
roles), roles/storage.admin and roles/storage.legacyBucketOwner (they can change who has access: the
bucket's IAM policy / ACLs) and roles/storage.objectAdmin (editor-like: overwrites or deletes every
object and sets object ACLs); a custom role (projects/.../roles/..., organizations/.../roles/...) is
"undetermined" (its permissions are not collected); every other predefined role is "no".

A project whose bucket listing failed or a bucket whose IAM policy could not be read makes
gcp_population raise AccessReviewError (project, operation, error and the permission it needs).
The Google client libraries are imported only when a GCP project is in scope.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from collectors.evidence import ApiCall, ApiError, listing_error
from flows.access_review.context import AccessReviewContext, AccessReviewError, ProjectEvidence
from reports.access_review import Principal

GCS_MEMBER = "GCS bucket member"
NOT_APPLICABLE = "n/a"
CUSTOM_ROLE = re.compile(r"^(?:projects|organizations)/[^/]+/roles/")


def _member_email(member: str) -> str:
    kind, sep, rest = member.partition(":")
    if sep and kind in ("user", "serviceAccount", "group") and "@" in rest:
        return rest
    return ""


def _condition_text(condition: Mapping[str, Any] | None) -> str:
    if not condition:
        return ""
    title, expression = str(condition.get("title") or ""), str(condition.get("expression") or "")
    return f"{title}: {expression}" if title else expression


def gcs_binding_id(bucket: str, role: str, member: str, condition: Mapping[str, Any] | None = None) -> str:
    """The "ARN" of a GCS bucket member row: unique per (bucket, role, member, condition)."""
    cond = _condition_text(condition)
    return f"gs://{bucket} {role} {member}" + (f" [condition {cond}]" if cond else "")


def gcs_revoke_command(binding: Mapping[str, Any]) -> str:
    """The gcloud command that removes one member from one bucket IAM binding."""
    cmd = (
        f"gcloud storage buckets remove-iam-policy-binding gs://{binding['bucket']} "
        f"--member={shlex.quote(str(binding['member']))} --role={shlex.quote(str(binding['role']))}"
    )
    condition = binding.get("condition") or {}
    if condition:
        # gcloud's alternate delimiter (gcloud topic escaping): an expression may contain commas
        parts = [f"{k}={condition[k]}" for k in ("expression", "title", "description") if condition.get(k)]
        cmd += " --condition=" + shlex.quote("^~^" + "~".join(parts))
    return cmd


def _gcs_privilege(role: str, privileged_roles: Mapping[str, str]) -> tuple[str, str]:
    if role in privileged_roles:
        return "yes", f"{role}: {privileged_roles[role]}"
    if CUSTOM_ROLE.match(role):
        return "undetermined", f"undetermined: custom role {role} (its permissions are not collected)"
    return "no", ""


def _gcs_problem(project: str, call: ApiCall, what: str = "") -> str:
    err = call.error
    assert err is not None
    permission = f" (needs {err.permission})" if err.permission else ""
    return f"project {project}: storage:{call.operation}{what} failed: {err.code}: {err.message}{permission}"


def _gcs_project_rows(pe: ProjectEvidence, ctx: AccessReviewContext) -> tuple[list[Principal], list[str]]:
    from collectors.gcp import gcs

    bundle = pe.gcs
    pages = bundle.all(gcs.SERVICE, "ListBuckets")
    failed = listing_error(pages)
    if failed is None and not pages:
        failed = ApiCall(
            gcs.SERVICE,
            "ListBuckets",
            {"project": pe.project},
            "",
            None,
            ApiError("NotCollected", "no recorded bucket listing", gcs.LIST_PERMISSION),
        )
    if failed is not None:
        return [], [_gcs_problem(pe.project, failed)]
    rows: dict[str, Principal] = {}
    problems: list[str] = []
    for b in gcs.buckets(bundle):
        name = str(b["name"])
        call = bundle.find(
            gcs.SERVICE, "GetBucketIamPolicy", bucket=name, optionsRequestedPolicyVersion=gcs.IAM_POLICY_VERSION
        )
        if call is None:
            err = ApiError("NotCollected", "no recorded IAM policy for this bucket", gcs.IAM_PERMISSION)
            call = ApiCall(gcs.SERVICE, "GetBucketIamPolicy", {"bucket": name}, "", None, err)
        if call.error is not None:
            problems.append(_gcs_problem(pe.project, call, f" for gs://{name}"))
            continue
        for binding in (call.response or {}).get("bindings") or []:
            role = str(binding.get("role", ""))
            condition = binding.get("condition") or None
            privileged, through = _gcs_privilege(role, ctx.gcs_privileged_roles)
            cond = _condition_text(condition)
            for member in map(str, binding.get("members") or []):
                arn = gcs_binding_id(name, role, member, condition)
                p = Principal(
                    account=pe.project,
                    account_name=pe.project,
                    principal_type=GCS_MEMBER,
                    name=member,
                    arn=arn,
                    email=_member_email(member),
                    policies=f"{role} on gs://{name}" + (f" (condition {cond})" if cond else ""),
                    privileged=privileged,
                    privileged_through=through,
                    console_access=NOT_APPLICABLE,
                    mfa=NOT_APPLICABLE,
                    last_activity=NOT_APPLICABLE,
                    key_ages=NOT_APPLICABLE,
                    trusted_principals=member if member in gcs.PUBLIC_MEMBERS else "",
                    provider="gcp",
                )
                rows[p.key] = p
                ctx.details[p.key] = {
                    "kind": "gcs_binding",
                    "project": pe.project,
                    "bucket": name,
                    "role": role,
                    "member": member,
                    "condition": dict(condition) if condition else None,
                }
    return list(rows.values()), problems


def gcp_population(ctx: AccessReviewContext) -> list[Principal]:
    """One row per (project, bucket, role, member) of every bucket IAM policy of every project; raises
    AccessReviewError when a listing or an IAM policy is missing (a review must cover the whole population)."""
    rows: list[Principal] = []
    problems: list[str] = []
    for pe in ctx.projects:
        got, failed = _gcs_project_rows(pe, ctx)
        rows += got
        problems += failed
    if problems:
        raise AccessReviewError("cannot build the population (nothing stored):\n" + "\n".join(problems))
    return rows
