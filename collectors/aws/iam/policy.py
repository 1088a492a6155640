"""IAM policy evaluation: which policy documents grant administrative privilege, and through what.

Pure functions over policy documents (as recorded: a dict, or JSON text, possibly
URL-encoded) and the Authorization model (authz.py); no API calls, no check results.
Kept apart from the checks so that every check about privilege (users today, roles
next) and the access review evaluate policies the same way.

What counts as privilege (aws.iam.privileged_users, the access review): the AWS managed
AdministratorAccess or IAMFullAccess policy (recognised by ARN; the list is the threshold
privileged_aws_managed_policies), or any inline / customer managed policy (default
version) with a statement that collectors/aws/iam_privilege_eval.py finds privileged:
`*` on `*`, every IAM action, NotAction with Allow on `*`, the policy-writing escalation
actions (`iam:Attach*Policy`, `iam:Put*Policy`, `iam:CreatePolicyVersion`, wildcards
such as `iam:Attach*` included), `iam:PassRole` or `sts:AssumeRole` on every role. The
same evaluator judges roles and groups (aws.iam.privileged_roles), so a user and a role
with the same policy get the same answer. Conditions and Deny statements are not
subtracted (a conditional grant is still listed: conservative).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from collectors.aws.iam.authz import Authorization
from collectors.aws.iam_privilege_eval import document_grants

AWS_MANAGED = re.compile(r"^arn:aws[\w-]*:iam::aws:policy/(?:.*/)?([^/]+)$")


def _policy_document(doc: Any) -> Any:
    """A policy document as recorded: a dict (botocore decodes), or JSON text, possibly URL-encoded."""
    if isinstance(doc, str):
        for text in (doc, unquote(doc)):
            try:
                return json.loads(text)
            except ValueError:
                continue
        return None
    return doc


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def admin_statement(doc: Any) -> str | None:
    """How the document grants privilege (e.g. "* on *", "iam:AttachUserPolicy on *"), if it does."""
    grants = document_grants(doc)
    return grants[0].describe() if grants else None


def _default_document(policy: Mapping[str, Any]) -> Any:
    versions = policy.get("PolicyVersionList") or []
    for v in versions:
        if v.get("IsDefaultVersion") or v.get("VersionId") == policy.get("DefaultVersionId"):
            return v.get("Document")
    return None


@dataclass
class Privilege:
    grants: list[str]  # how administrative privilege is granted, e.g. "group admins: AdministratorAccess"
    unknown: list[str]  # policies whose document was not collected (privilege undetermined)


def privilege_of(user: Mapping[str, Any], authz: Authorization, aws_managed_admin: Iterable[str]) -> Privilege:
    admin_names = set(aws_managed_admin)
    grants: list[str] = []
    unknown: list[str] = []

    def managed(attached: Iterable[Mapping[str, Any]], prefix: str) -> None:
        for pol in attached:
            arn, name = pol.get("PolicyArn", ""), pol.get("PolicyName") or pol.get("PolicyArn", "")
            aws = AWS_MANAGED.match(arn)
            if aws:
                if aws.group(1) in admin_names:
                    grants.append(f"{prefix}: {name}")
                continue
            policy = authz.policies.get(arn)
            doc = _default_document(policy) if policy else None
            if doc is None:
                unknown.append(f"{prefix}: {name}")
                continue
            how = admin_statement(doc)
            if how:
                grants.append(f"{prefix}: {name} (customer managed, {how})")

    def inline(policies: Iterable[Mapping[str, Any]], prefix: str) -> None:
        for pol in policies:
            how = admin_statement(pol.get("PolicyDocument"))
            if how:
                suffix = "" if how == "* on *" else f" ({how})"
                grants.append(f"{prefix}: {pol.get('PolicyName')}{suffix}")

    managed(user.get("AttachedManagedPolicies") or [], "direct")
    inline(user.get("UserPolicyList") or [], "inline")
    for group_name in user.get("GroupList") or []:
        group = authz.groups.get(group_name)
        if group is None:
            unknown.append(f"group {group_name}")
            continue
        managed(group.get("AttachedManagedPolicies") or [], f"group {group_name}")
        inline(group.get("GroupPolicyList") or [], f"group {group_name} inline")
    return Privilege(grants, unknown)
