"""Which IAM policy statements grant administrative or privilege-escalation power (pure, no I/O).

Policy documents in, the privileged statements ("grants") out. Used by
``aws.iam.privileged_roles`` (collectors/aws/iam_roles.py) and written to be reused by
``aws.iam.privileged_users``: principals are the entries of GetAccountAuthorizationDetails
(UserDetailList, GroupDetailList, RoleDetailList) and its ``Policies`` list.

An Allow statement is privileged when it grants (kinds, in ``Grant.kind``):

- ``admin``: Action ``*`` on Resource ``*``.
- ``not_action``: NotAction with Allow on Resource ``*`` (everything but a list, the
  PowerUserAccess pattern); ``actions`` lists the escalation actions it leaves allowed.
- ``iam_all``: every IAM action (``iam:*``, or any pattern covering it) on ``*``.
- ``escalation``: an action that rewrites permissions, on any IAM resource (a role,
  user, group or policy ARN, or ``*``):
  ``iam:Attach*Policy``, ``iam:Put*Policy``, ``iam:CreatePolicyVersion`` (whoever can
  attach or edit a policy can grant themselves everything).
- ``pass_role``: ``iam:PassRole`` on every role (``*`` or ``...:role/*``): hand any role,
  an admin one included, to a service the principal controls.
- ``assume_role``: ``sts:AssumeRole`` on every role.
- ``aws_managed``: an AWS managed policy whose document is not in the evidence but whose
  name is listed as privileged (threshold, e.g. AdministratorAccess, IAMFullAccess,
  PowerUserAccess).

Wildcards: IAM matches action names case-insensitively with ``*`` and ``?``
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html).
A statement's pattern (``iam:Attach*``, ``iam:*Policy``, ``*``) is matched against the
concrete escalation actions below. That list is the issue's patterns expanded over
botocore's IAM and STS service models (``iam:PassRole`` is permission-only, not an API
operation, so it is added by hand); it is frozen here so that re-evaluating a stored run
gives the same findings whatever botocore is installed, and a unit test re-expands the
patterns over the installed botocore so a new matching operation fails the test instead
of going unseen. Chosen over policyuniverse (its action data was last refreshed in
November 2023) and policy_sentry / cloudsplaining (large dependency trees for ten action
names): botocore is already a dependency and AWS updates its models with every release.

Conservative by design (never a false "not privileged"): Deny statements, Conditions,
permissions boundaries, SCPs and session policies are not subtracted; a conditional grant
is still listed, marked ``conditional``. NotResource is read as "every resource".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

ADMIN = "admin"
NOT_ACTION = "not_action"
IAM_ALL = "iam_all"
ESCALATION = "escalation"
PASS_ROLE = "pass_role"
ASSUME_ROLE = "assume_role"
AWS_MANAGED = "aws_managed"

# The patterns iam:Attach*Policy, iam:Put*Policy, iam:CreatePolicyVersion over botocore's IAM model.
ESCALATION_PATTERNS = ("iam:Attach*Policy", "iam:Put*Policy", "iam:CreatePolicyVersion")
POLICY_WRITE_ACTIONS = (
    "iam:AttachGroupPolicy",
    "iam:AttachRolePolicy",
    "iam:AttachUserPolicy",
    "iam:CreatePolicyVersion",
    "iam:PutGroupPolicy",
    "iam:PutRolePolicy",
    "iam:PutUserPolicy",
)
PASS_ROLE_ACTION = "iam:PassRole"
ASSUME_ROLE_ACTION = "sts:AssumeRole"
DANGEROUS_ACTIONS = (*POLICY_WRITE_ACTIONS, PASS_ROLE_ACTION, ASSUME_ROLE_ACTION)
AWS_MANAGED_ARN = re.compile(r"^arn:aws[\w-]*:iam::aws:policy/(?:.*/)?([^/]+)$")
ALL_ROLES = re.compile(r"^arn:(?:aws[\w-]*|\*):(?:iam|\*):[^:]*:(?:\d{12}|\*)?:(?:\*|role/\*)$")


@lru_cache(maxsize=4096)
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower()))


def action_matches(pattern: str, action: str) -> bool:
    """IAM's matching: case-insensitive, ``*`` any run of characters, ``?`` one character."""
    return _pattern(str(pattern)).fullmatch(action.lower()) is not None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def parse_document(doc: Any) -> Mapping[str, Any] | None:
    """A policy document as recorded: a dict (botocore decodes it), or JSON text, possibly URL-encoded."""
    if isinstance(doc, Mapping):
        return doc
    if isinstance(doc, str):
        for text in (doc, unquote(doc)):
            try:
                parsed = json.loads(text)
            except ValueError:
                continue
            return parsed if isinstance(parsed, Mapping) else None
    return None


def _everything(pattern: str) -> bool:
    service, _, action = pattern.partition(":")
    return set(pattern) <= {"*"} or (set(service) <= {"*"} and set(action) <= {"*"} and bool(action))


def _all_of_iam(pattern: str) -> bool:
    service, _, action = pattern.partition(":")
    return action_matches(service, "iam") and bool(action) and set(action) <= {"*"}


def _covers_all_roles(resources: list[str]) -> bool:
    return any(r == "*" or ALL_ROLES.match(r) for r in resources)


def _may_be_iam(resources: list[str]) -> bool:
    """Whether any resource could be an IAM entity (an IAM action on an S3 ARN grants nothing)."""
    return any(r == "*" or (r.count(":") >= 2 and action_matches(r.split(":")[2], "iam")) for r in resources)


@dataclass(frozen=True)
class Grant:
    """One privileged statement (or a privileged AWS managed policy known by name)."""

    kind: str
    actions: tuple[str, ...]  # the privileged actions granted ("*" for admin)
    patterns: tuple[str, ...]  # the statement's Action (or NotAction) entries
    resources: tuple[str, ...]
    conditional: bool = False
    sid: str | None = None

    def describe(self) -> str:
        on = ", ".join(self.resources) or "*"
        cond = " (with conditions)" if self.conditional else ""
        if self.kind == ADMIN:
            text = f"* on {on}"
        elif self.kind == NOT_ACTION:
            left = f", leaving {', '.join(self.actions)}" if self.actions else ""
            text = f"Allow NotAction [{', '.join(self.patterns)}] on {on}{left}"
        elif self.kind == IAM_ALL:
            text = f"iam:* on {on}"
        elif self.kind == AWS_MANAGED:
            text = "AWS managed, privileged by name"
        else:
            text = f"{', '.join(self.actions)} on {on}"
        return text + cond

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "actions": list(self.actions),
            "patterns": list(self.patterns),
            "resources": list(self.resources),
            "conditional": self.conditional,
            "sid": self.sid,
        }


def statement_grants(stmt: Any) -> list[Grant]:
    """The privileged grants of one statement (empty for Deny, malformed or harmless statements)."""
    if not isinstance(stmt, Mapping) or stmt.get("Effect") != "Allow":
        return []
    if "NotResource" in stmt:  # "every resource except ...": read as every resource
        resources = ["*"]
        shown = (f"NotResource {', '.join(map(str, _as_list(stmt['NotResource'])))}",)
    else:
        resources = [str(r) for r in _as_list(stmt.get("Resource"))]
        shown = tuple(resources)
    everywhere = "*" in resources
    base = {"resources": shown, "conditional": bool(stmt.get("Condition")), "sid": stmt.get("Sid")}
    if "NotAction" in stmt:
        excluded = [str(p) for p in _as_list(stmt.get("NotAction"))]
        left = [a for a in DANGEROUS_ACTIONS if not any(action_matches(p, a) for p in excluded)]
        if everywhere:
            return [Grant(NOT_ACTION, tuple(left), tuple(excluded), **base)]
        granted = [a for a in left if a in POLICY_WRITE_ACTIONS]
        return _role_and_write_grants(granted, left, tuple(excluded), resources, base)
    patterns = [str(p) for p in _as_list(stmt.get("Action"))]
    if everywhere and any(_everything(p) for p in patterns):
        return [Grant(ADMIN, ("*",), tuple(patterns), **base)]
    if everywhere and any(_all_of_iam(p) for p in patterns):
        out = [Grant(IAM_ALL, ("iam:*",), tuple(p for p in patterns if _all_of_iam(p)), **base)]
        assume = [p for p in patterns if action_matches(p, ASSUME_ROLE_ACTION)]
        if assume:
            out.append(Grant(ASSUME_ROLE, (ASSUME_ROLE_ACTION,), tuple(assume), **base))
        return out
    matched = [a for a in DANGEROUS_ACTIONS if any(action_matches(p, a) for p in patterns)]
    matching = tuple(p for p in patterns if any(action_matches(p, a) for a in matched))
    return _role_and_write_grants([a for a in matched if a in POLICY_WRITE_ACTIONS], matched, matching, resources, base)


def _role_and_write_grants(
    writes: list[str], matched: list[str], patterns: tuple[str, ...], resources: list[str], base: dict[str, Any]
) -> list[Grant]:
    out = []
    if writes and _may_be_iam(resources):
        out.append(Grant(ESCALATION, tuple(writes), patterns, **base))
    if _covers_all_roles(resources):
        if PASS_ROLE_ACTION in matched:
            out.append(Grant(PASS_ROLE, (PASS_ROLE_ACTION,), patterns, **base))
        if ASSUME_ROLE_ACTION in matched:
            out.append(Grant(ASSUME_ROLE, (ASSUME_ROLE_ACTION,), patterns, **base))
    return out


def document_grants(doc: Any) -> list[Grant]:
    """Every privileged grant of a policy document (dict, JSON text or URL-encoded JSON)."""
    parsed = parse_document(doc)
    if parsed is None:
        return []
    return [g for stmt in _as_list(parsed.get("Statement")) for g in statement_grants(stmt)]


def default_document(policy: Mapping[str, Any]) -> Any:
    """The default version's document of a managed policy entry (GetAccountAuthorizationDetails ``Policies``)."""
    for version in policy.get("PolicyVersionList") or []:
        if version.get("IsDefaultVersion") or version.get("VersionId") == policy.get("DefaultVersionId"):
            return version.get("Document")
    return None


@dataclass(frozen=True)
class PolicyGrants:
    """The privileged grants one attached or inline policy gives a principal."""

    via: str  # "inline", "attached", "group admins", "group admins inline"
    policy: str
    policy_arn: str | None
    grants: tuple[Grant, ...]

    def describe(self) -> str:
        return f"{self.via} {self.policy}: " + "; ".join(g.describe() for g in self.grants)

    def to_json(self) -> dict[str, Any]:
        return {
            "via": self.via,
            "policy": self.policy,
            "policy_arn": self.policy_arn,
            "grants": [g.to_json() for g in self.grants],
        }


@dataclass
class Privilege:
    """A principal's privileged grants, and what could not be judged."""

    grants: list[PolicyGrants] = field(default_factory=list)
    undetermined: list[str] = field(default_factory=list)  # policies whose document is not in the evidence
    judged_by_name: list[str] = field(default_factory=list)  # AWS managed policies not listed as privileged

    @property
    def privileged(self) -> bool:
        return bool(self.grants)


INLINE_KEYS = {"user": "UserPolicyList", "group": "GroupPolicyList", "role": "RolePolicyList"}


def principal_privilege(
    principal: Mapping[str, Any],
    kind: str,
    policies: Mapping[str, Mapping[str, Any]],
    privileged_aws_managed: Iterable[str],
    groups: Mapping[str, Mapping[str, Any]] | None = None,
) -> Privilege:
    """The privileged grants of a user, group or role (kind), from its inline and attached policies and,
    for a user, its groups'. `policies` maps managed policy ARN -> GetAccountAuthorizationDetails entry."""
    listed = {str(n).lower() for n in privileged_aws_managed}
    out = Privilege()

    def attached(entries: Iterable[Mapping[str, Any]], via: str) -> None:
        for entry in entries:
            arn = str(entry.get("PolicyArn", ""))
            name = str(entry.get("PolicyName") or arn)
            policy = policies.get(arn)
            doc = default_document(policy) if policy else None
            aws = AWS_MANAGED_ARN.match(arn)
            if doc is not None:
                found = tuple(document_grants(doc))
            elif aws and aws.group(1).lower() in listed:
                found = (Grant(AWS_MANAGED, ("*",), (), ("*",)),)
            elif aws:
                out.judged_by_name.append(name)
                continue
            else:
                out.undetermined.append(f"{via} {name}")
                continue
            if found:
                out.grants.append(PolicyGrants(via, name, arn, found))

    def inline(entries: Iterable[Mapping[str, Any]], via: str) -> None:
        for entry in entries:
            found = tuple(document_grants(entry.get("PolicyDocument")))
            if found:
                out.grants.append(PolicyGrants(via, str(entry.get("PolicyName")), None, found))

    attached(principal.get("AttachedManagedPolicies") or [], "attached")
    inline(principal.get(INLINE_KEYS[kind]) or [], "inline")
    for name in principal.get("GroupList") or [] if kind == "user" else []:
        group = (groups or {}).get(name)
        if group is None:
            out.undetermined.append(f"group {name}")
            continue
        attached(group.get("AttachedManagedPolicies") or [], f"group {name}")
        inline(group.get("GroupPolicyList") or [], f"group {name} inline")
    return out
