"""The AWS population of an access review, built from the recorded IAM answers (no API call here).

IAM users (groups, policies attached directly, inline and through groups, privileged flag, console
access, MFA, last activity, access-key ages) and IAM roles that principals outside the organization
can assume (outside the account when no organization is configured): an Allow statement of the
role's trust policy whose AWS principal is "*" or in another account.

The population must be complete: an IAM call that failed makes aws_population raise
AccessReviewError with every problem listed (account, operation, error).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from collectors.aws import iam
from flows.access_review.context import AccessReviewContext, AccessReviewError, AccountEvidence
from reports.access_review import ROLE, USER, Principal

ACCOUNT_IN_ARN = re.compile(r"^arn:aws[\w-]*:(?:iam|sts)::(\d{12}):")
ACCOUNT_ID = re.compile(r"^\d{12}$")


def _days(as_of: datetime, then: datetime) -> int:
    return max(0, int((as_of - then).total_seconds() // 86400))


def _email(tags: Any) -> str:
    for tag in tags or []:
        if str(tag.get("Key", "")).strip().casefold() in ("email", "e-mail", "mail"):
            return str(tag.get("Value", ""))
    return ""


def _policy_names(entity: Mapping[str, Any], authz: iam.Authorization, inline_key: str) -> list[str]:
    out = [f"direct: {p.get('PolicyName') or p.get('PolicyArn')}" for p in entity.get("AttachedManagedPolicies") or []]
    out += [f"inline: {p.get('PolicyName')}" for p in entity.get(inline_key) or []]
    for group_name in entity.get("GroupList") or []:
        group = authz.groups.get(group_name) or {}
        out += [f"group {group_name}: {p.get('PolicyName')}" for p in group.get("AttachedManagedPolicies") or []]
        out += [f"group {group_name} inline: {p.get('PolicyName')}" for p in group.get("GroupPolicyList") or []]
    return out


def _user_row(
    acct: AccountEvidence, user: Mapping[str, Any], authz: iam.Authorization, report: iam.CredentialReport, ctx: Any
) -> Principal:
    name = str(user.get("UserName", ""))
    priv = iam.privilege_of(user, authz, ctx.privileged_policies)
    row = report.rows.get(name)
    console = mfa = last = keys = "unknown (not in the credential report)"
    if row is not None:
        console = "yes" if iam._true(row.get("password_enabled")) else "no"
        mfa = "yes" if iam._true(row.get("mfa_active")) else "no"
        used = [
            d
            for col in ("password_last_used", "access_key_1_last_used_date", "access_key_2_last_used_date")
            if (d := iam.parse_date(row.get(col)))
        ]
        last = max(used).strftime("%Y-%m-%d") if used else "never"
        ages = []
        for n in (1, 2):
            if iam._true(row.get(f"access_key_{n}_active")):
                made = iam.parse_date(row.get(f"access_key_{n}_last_rotated")) or iam.parse_date(
                    row.get("user_creation_time")
                )
                ages.append(f"access_key_{n}: {_days(ctx.as_of, made)} d" if made else f"access_key_{n}: unknown")
        keys = "; ".join(ages) or "no active key"
    return Principal(
        account=acct.account,
        account_name=acct.name,
        principal_type=USER,
        name=name,
        arn=str(user.get("Arn", "")),
        email=_email(user.get("Tags")),
        groups=", ".join(user.get("GroupList") or []),
        policies="; ".join(_policy_names(user, authz, "UserPolicyList")),
        privileged="yes" if priv.grants else ("undetermined" if priv.unknown else "no"),
        privileged_through="; ".join(priv.grants + [f"undetermined: {u}" for u in priv.unknown]),
        console_access=console,
        mfa=mfa,
        last_activity=last,
        key_ages=keys,
    )


def outside_principals(trust: Any, account: str, organization: frozenset[str] | None) -> list[str]:
    """AWS principals of Allow statements in a trust policy that are outside the organization (or the
    account when the organization is unknown): "*" or an ARN / account id of another account."""
    doc = iam._policy_document(trust)
    if not isinstance(doc, Mapping):
        return []
    inside = organization if organization is not None else frozenset({account})
    out: list[str] = []
    for stmt in iam._as_list(doc.get("Statement")):
        if not isinstance(stmt, Mapping) or stmt.get("Effect") != "Allow":
            continue
        principal = stmt.get("Principal")
        aws = (
            ["*"] if principal == "*" else iam._as_list(principal.get("AWS")) if isinstance(principal, Mapping) else []
        )
        for p in map(str, aws):
            m = ACCOUNT_IN_ARN.match(p)
            owner = m.group(1) if m else (p if ACCOUNT_ID.match(p) else None)
            if p == "*" or (owner is not None and owner not in inside):
                out.append(p)
    return sorted(set(out))


def _role_rows(acct: AccountEvidence, authz: iam.Authorization, ctx: AccessReviewContext) -> list[Principal]:
    out = []
    for page in acct.roles.all("iam", "GetAccountAuthorizationDetails"):
        for role in (page.response or {}).get("RoleDetailList") or []:
            outside = outside_principals(role.get("AssumeRolePolicyDocument"), acct.account, ctx.organization_accounts)
            if not outside:
                continue
            as_user = {
                "AttachedManagedPolicies": role.get("AttachedManagedPolicies"),
                "UserPolicyList": role.get("RolePolicyList"),
            }
            priv = iam.privilege_of(as_user, authz, ctx.privileged_policies)
            used = iam.parse_date((role.get("RoleLastUsed") or {}).get("LastUsedDate"))
            out.append(
                Principal(
                    account=acct.account,
                    account_name=acct.name,
                    principal_type=ROLE,
                    name=str(role.get("RoleName", "")),
                    arn=str(role.get("Arn", "")),
                    email=_email(role.get("Tags")),
                    policies="; ".join(_policy_names(role, authz, "RolePolicyList")),
                    privileged="yes" if priv.grants else ("undetermined" if priv.unknown else "no"),
                    privileged_through="; ".join(priv.grants + [f"undetermined: {u}" for u in priv.unknown]),
                    console_access="n/a (role)",
                    mfa="n/a (role)",
                    last_activity=used.strftime("%Y-%m-%d") if used else "never / unknown",
                    key_ages="n/a (role)",
                    trusted_principals=", ".join(outside),
                )
            )
    return out


def aws_population(ctx: AccessReviewContext) -> list[Principal]:
    """IAM users and outside-trusted IAM roles of every account; raises AccessReviewError when the
    evidence is incomplete (a review must cover the whole population)."""
    rows: list[Principal] = []
    problems: list[str] = []
    for acct in ctx.accounts:
        authz = iam.authorization(acct.iam)
        report, failed = iam.credential_report(acct.iam, ctx.as_of)
        role_pages = acct.roles.all("iam", "GetAccountAuthorizationDetails")
        role_fail = next((p for p in role_pages if not p.ok), None)
        for call in (authz.failed, failed, role_fail):
            if call is not None and call.error is not None:
                problems.append(
                    f"account {acct.account}: iam:{call.operation} failed: {call.error.code}: {call.error.message}"
                )
        if problems:
            continue
        assert report is not None
        rows += [_user_row(acct, u, authz, report, ctx) for u in authz.users]
        rows += _role_rows(acct, authz, ctx)
    if problems:
        raise AccessReviewError("cannot build the population (nothing stored):\n" + "\n".join(problems))
    return rows
