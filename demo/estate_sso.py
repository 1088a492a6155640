"""Dexo.chat's IAM Identity Center, seeded over HTTP into a moto server (for the aws.sso checks and
the access review's Identity Center rows).

moto gives every (account, region) an Identity Center instance of its own; Dexo.chat administers
the management account's, in us-east-1 (the config names it: ``aws.identity_center``). Seeded:

    user                    status    groups                         direct assignment
    maya.admin@dexo.chat    ENABLED   PlatformAdmins
    leo.ops@dexo.chat       ENABLED   PlatformAdmins, Developers
    sara.eng@dexo.chat      ENABLED   Developers
    omar.oncall@dexo.chat   DISABLED  Developers                     (left the company, still in the group)
    nina.contractor@…       ENABLED   -                              ReadOnly in prod

    permission set       policies                                 assigned to
    AdministratorAccess  AWS managed AdministratorAccess          PlatformAdmins in every account (approved)
    DeveloperAccess      ReadOnlyAccess + inline Allow * on *     Developers in prod and staging: over-privileged
    ReadOnly             AWS managed ReadOnlyAccess               nina (direct), and a deleted user in staging
    BreakGlass           AWS managed IAMFullAccess                nobody

UserStatus is not stored by moto (AWS sets it from the console or SCIM, not CreateUser): the demo's
WSGI layer reports it (demo.moto_wsgi), DISABLED for users created with UserType "disabled".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from demo.moto_wsgi import DISABLED_USER_TYPE
from demo.seeding import MANAGEMENT_ACCOUNT, Account

__all__ = ["DEMO_THRESHOLDS", "DISABLED_USER_TYPE", "IDENTITY_CENTER_REGION", "seed_identity_center"]

IDENTITY_CENTER_REGION = "us-east-1"
# Dexo.chat approved its admin permission set after review; DeveloperAccess was never approved
DEMO_THRESHOLDS = {"aws.sso.privileged_permission_sets": {"approved_permission_sets": ["AdministratorAccess"]}}
ALL_ACCOUNTS = ("management", "prod", "staging")
USERS: dict[str, tuple[str, ...]] = {  # user -> groups
    "maya.admin": ("PlatformAdmins",),
    "leo.ops": ("PlatformAdmins", "Developers"),
    "sara.eng": ("Developers",),
    "omar.oncall": ("Developers",),
    "nina.contractor": (),
}
DISABLED = frozenset({"omar.oncall"})
POLICY = "arn:aws:iam::aws:policy/"
PERMISSION_SETS: dict[str, tuple[tuple[str, ...], dict[str, Any] | None]] = {
    "AdministratorAccess": (("AdministratorAccess",), None),
    "DeveloperAccess": (("ReadOnlyAccess",), {"Sid": "ShipFast", "Effect": "Allow", "Action": "*", "Resource": "*"}),
    "ReadOnly": (("ReadOnlyAccess",), None),
    "BreakGlass": (("IAMFullAccess",), None),
}
# (permission set, principal "group:NAME" | "user:NAME", account keys)
ASSIGNMENTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("AdministratorAccess", "group:PlatformAdmins", ALL_ACCOUNTS),
    ("DeveloperAccess", "group:Developers", ("prod", "staging")),
    ("ReadOnly", "user:nina.contractor", ("prod",)),
    ("ReadOnly", "user:former.employee", ("staging",)),  # the user is deleted afterwards
)


def _email(user: str) -> str:
    return f"{user}@dexo.chat"


def _create_user(store: Any, store_id: str, user: str) -> str:
    given, _, family = user.partition(".")
    return store.create_user(
        IdentityStoreId=store_id,
        UserName=_email(user),
        DisplayName=user,
        Name={"GivenName": given.title(), "FamilyName": (family or "user").title()},
        Emails=[{"Value": _email(user), "Type": "work", "Primary": True}],
        **({"UserType": DISABLED_USER_TYPE} if user in DISABLED else {}),
    )["UserId"]


def seed_identity_center(endpoint_url: str, accounts: Mapping[str, str]) -> dict[str, Any]:
    """Seed the tables above into the management account's instance; what the checks must find
    (under DEMO_THRESHOLDS).

    accounts: "management" / "prod" / "staging" -> account id."""
    mgmt = Account("management", accounts.get("management", MANAGEMENT_ACCOUNT), endpoint_url)
    sso = mgmt.client("sso-admin", IDENTITY_CENTER_REGION)
    store = mgmt.client("identitystore", IDENTITY_CENTER_REGION)
    instance = sso.list_instances()["Instances"][0]
    arn, store_id = instance["InstanceArn"], instance["IdentityStoreId"]
    users = {u: _create_user(store, store_id, u) for u in (*USERS, "former.employee")}
    groups: dict[str, str] = {}
    for user, names in USERS.items():
        for group in names:
            if group not in groups:
                groups[group] = store.create_group(IdentityStoreId=store_id, DisplayName=group)["GroupId"]
            store.create_group_membership(
                IdentityStoreId=store_id, GroupId=groups[group], MemberId={"UserId": users[user]}
            )
    sets: dict[str, str] = {}
    for name, (managed, inline) in PERMISSION_SETS.items():
        ps = sso.create_permission_set(Name=name, InstanceArn=arn, SessionDuration="PT4H")["PermissionSet"]
        sets[name] = ps["PermissionSetArn"]
        for policy in managed:
            sso.attach_managed_policy_to_permission_set(
                InstanceArn=arn, PermissionSetArn=sets[name], ManagedPolicyArn=POLICY + policy
            )
        if inline:
            doc = json.dumps({"Version": "2012-10-17", "Statement": [inline]})
            sso.put_inline_policy_to_permission_set(InstanceArn=arn, PermissionSetArn=sets[name], InlinePolicy=doc)
    for ps, principal, keys in ASSIGNMENTS:
        kind, _, name = principal.partition(":")
        for key in keys:
            sso.create_account_assignment(
                InstanceArn=arn,
                TargetId=accounts[key],
                TargetType="AWS_ACCOUNT",
                PermissionSetArn=sets[ps],
                PrincipalType=kind.upper(),
                PrincipalId=groups[name] if kind == "group" else users[name],
            )
    former = users.pop("former.employee")
    store.delete_user(IdentityStoreId=store_id, UserId=former)
    where = [accounts["management"], IDENTITY_CENTER_REGION]
    orphan = f"{accounts['staging']}/ReadOnly/user:unknown user {former}"  # a direct assignment too
    failing = {
        "aws.sso.privileged_permission_sets": [sets["DeveloperAccess"]],
        "aws.sso.assignments_to_users": [f"{accounts['prod']}/ReadOnly/user:{_email('nina.contractor')}", orphan],
        "aws.sso.inactive_principals": [f"user:{_email('omar.oncall')}", orphan],
    }
    return {
        "identity_center": {
            "account": accounts["management"],
            "region": IDENTITY_CENTER_REGION,
            "instance_arn": arn,
            "identity_store_id": store_id,
            "permission_sets": sets,
            "users": {_email(u): uid for u, uid in users.items()},
            "groups": groups,
        },
        "non_compliant": {c: sorted(ids) for c, ids in failing.items()},
        "non_compliant_where": {c: sorted([*where, rid] for rid in ids) for c, ids in failing.items()},
    }
