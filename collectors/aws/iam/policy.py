"""IAM policy evaluation: which policy documents grant administrative privilege, and through what.

Pure functions over policy documents (as recorded: a dict, or JSON text, possibly
URL-encoded) and the Authorization model (authz.py); no API calls, no check results.
Kept apart from the checks so that every check about privilege (users today, roles
next) and the access review evaluate policies the same way.

What counts as administrative privilege (aws.iam.privileged_users): the AWS
managed AdministratorAccess or IAMFullAccess policy (recognised by ARN; the
list is the threshold privileged_aws_managed_policies), or any inline /
customer managed policy (default version) with an Allow statement whose Action
is "*" or "iam:*" (a string or in a list) on Resource "*": whoever controls IAM
can grant themselves everything. Conditions and Deny statements are not
evaluated (a conditional admin is still listed: conservative); NotAction
statements are not counted (PowerUserAccess style).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from collectors.aws.iam.authz import Authorization

AWS_MANAGED = re.compile(r"^arn:aws[\w-]*:iam::aws:policy/(?:.*/)?([^/]+)$")
ADMIN_ACTIONS = frozenset({"*", "iam:*"})


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
    """The action ("*" or "iam:*") an Allow statement grants on Resource "*", if any."""
    doc = _policy_document(doc)
    if not isinstance(doc, Mapping):
        return None
    for stmt in _as_list(doc.get("Statement")):
        if not isinstance(stmt, Mapping) or stmt.get("Effect") != "Allow":
            continue
        if "*" not in _as_list(stmt.get("Resource")):
            continue
        actions = {str(a).lower() for a in _as_list(stmt.get("Action"))}
        for action in ("*", "iam:*"):
            if action in actions:
                return action
    return None


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
            action = admin_statement(doc)
            if action:
                grants.append(f"{prefix}: {name} (customer managed, {action} on *)")

    def inline(policies: Iterable[Mapping[str, Any]], prefix: str) -> None:
        for pol in policies:
            action = admin_statement(pol.get("PolicyDocument"))
            if action:
                suffix = "" if action == "*" else f" ({action} on *)"
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
