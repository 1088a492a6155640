"""Dexo.chat's IAM identities, seeded over HTTP into a moto server (for the aws.iam checks).

seed_iam_identities(endpoint_url, accounts) acts inside each account through
demo.seeding.member_session (the management account with its own
credentials, members through OrganizationAccountAccessRole) and returns what
each aws.iam check must find non-compliant, in the tool's resource_id format
(user names; "<user>/password", "<user>/access_key_N"; "<root_account>"; the
account id for the password policy).

moto cannot backdate a user, a password or an access key: every credential is
created "now", so at the run's time nothing is old or unused for long.
`expected["non_compliant"]` is what fails at run time (default thresholds);
`expected["non_compliant_after_days"]` says what also fails once
AGED_DAYS have passed (evaluate with as_of = run time + AGED_DAYS), when the
never-used key, the never-used passwords and the un-rotated keys are old.

moto has no root row in the credential report and GetAccountSummary always
says AccountMFAEnabled 0, so aws.iam.root_mfa fails in every account.

AdministratorAccess exists in moto only when its IAM backend was created with
MOTO_IAM_LOAD_MANAGED_POLICIES=true; otherwise the admin group gets a customer
managed policy allowing * on * ("dexo-administrator"): the same users are
privileged either way (expected["admin_policy_arn"] says which one was used).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import botocore.exceptions
from botocore.config import Config

from demo.seeding import member_session

__all__ = ["AGED_DAYS", "EXTERNAL_PRINCIPAL", "HOSTILE_USER_NAMES", "seed_iam_identities"]

AGED_DAYS = 91
EXTERNAL_PRINCIPAL = "arn:aws:iam::999999999999:root"
VENDOR_ROLE = "dexo-vendor-audit-access"
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
# IAM user names allow [\w+=,.@-]: both are legal names that a spreadsheet would read as formulas
HOSTILE_USER_NAMES = ("=1+2", "@evil-sum")
PASSWORD = "demo-only-Not-a-secret-1"  # moto only
ROOT = "<root_account>"
GLOBAL = "global"
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})

# (user, console password, MFA, groups, access keys "active" | "inactive", directly attached policies, inline * on *)
PEOPLE: dict[str, list[tuple[str, bool, bool, tuple[str, ...], tuple[str, ...], tuple[str, ...], bool]]] = {
    "management": [
        ("maya.admin", True, True, ("platform-admins",), (), (), False),
        ("leo.ops", True, False, ("platform-admins",), ("active",), (), False),  # admin without MFA
        ("terraform-ci", False, False, (), ("active",), ("dexo-terraform-deploy",), False),  # direct policy
        ("old-backup-bot", False, False, (), ("active",), (), False),  # key never used
    ],
    "prod": [
        ("sara.eng", True, True, ("developers",), (), (), False),
        ("omar.oncall", True, False, ("developers",), (), (), False),  # console without MFA
        ("prod-deploy-bot", False, False, ("deployers",), ("active", "inactive"), (), False),
    ],
    "staging": [
        ("nina.qa", True, False, ("developers",), (), (), True),  # inline * on *: privileged, no MFA
        ("staging-loadtest", False, False, (), ("inactive",), (), False),
        (HOSTILE_USER_NAMES[0], False, False, (), (), (), False),
        (HOSTILE_USER_NAMES[1], True, True, ("developers",), (), (), False),
    ],
}
# account key -> password policy (None: no policy at all)
PASSWORD_POLICIES: dict[str, dict[str, Any] | None] = {
    "management": None,
    "prod": {
        "MinimumPasswordLength": 16,
        "RequireSymbols": True,
        "RequireNumbers": True,
        "RequireUppercaseCharacters": True,
        "RequireLowercaseCharacters": True,
        "MaxPasswordAge": 90,
        "PasswordReusePrevention": 24,
    },
    "staging": {"MinimumPasswordLength": 8, "RequireNumbers": True, "RequireLowercaseCharacters": True},
}
CHECKS = (
    "aws.iam.root_mfa",
    "aws.iam.root_access_keys",
    "aws.iam.user_mfa",
    "aws.iam.access_key_rotation",
    "aws.iam.unused_credentials",
    "aws.iam.password_policy",
    "aws.iam.privileged_users",
    "aws.iam.direct_user_policies",
)


def _doc(statement: Mapping[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [dict(statement)]})


def _admin_policy(iam: Any) -> str:
    """AdministratorAccess when moto knows AWS managed policies, else a customer managed equivalent."""
    try:
        iam.get_policy(PolicyArn=ADMIN_POLICY)
        return ADMIN_POLICY
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("NoSuchEntity", "NoSuchEntityException"):
            raise
    doc = _doc({"Effect": "Allow", "Action": "*", "Resource": "*"})
    return iam.create_policy(PolicyName="dexo-administrator", PolicyDocument=doc)["Policy"]["Arn"]


def _groups(iam: Any, admin_arn: str) -> None:
    developer = iam.create_policy(
        PolicyName="dexo-developer",
        PolicyDocument=_doc(
            {"Effect": "Allow", "Action": ["logs:Get*", "cloudwatch:Get*", "s3:GetObject"], "Resource": "*"}
        ),
    )["Policy"]["Arn"]
    for group, policy in (("platform-admins", admin_arn), ("developers", developer), ("deployers", developer)):
        iam.create_group(GroupName=group)
        iam.attach_group_policy(GroupName=group, PolicyArn=policy)


def seed_iam_identities(endpoint_url: str, accounts: Mapping[str, str]) -> dict[str, Any]:
    """Seed PEOPLE, groups, password policies and a role trusted by an outside account; see the module doc.

    accounts: "management" / "prod" / "staging" -> account id (keys without people are skipped)."""
    failing: dict[str, list[list[str]]] = {c: [] for c in CHECKS}
    aged: dict[str, list[list[str]]] = {c: [] for c in CHECKS}
    users: dict[str, list[str]] = {}
    roles: list[dict[str, str]] = []
    admin_arns: dict[str, str] = {}
    for key, account_id in accounts.items():
        if key not in PEOPLE:
            continue
        iam = member_session(endpoint_url, account_id).client("iam", endpoint_url=endpoint_url, config=_CONFIG)
        admin_arn = admin_arns[key] = _admin_policy(iam)
        _groups(iam, admin_arn)
        where = [account_id, GLOBAL]
        failing["aws.iam.root_mfa"].append([*where, ROOT])  # moto: see the module doc
        for name, password, mfa, groups, keys, managed, inline_admin in PEOPLE[key]:
            iam.create_user(UserName=name, Tags=[{"Key": "team", "Value": "dexo-chat"}])
            users.setdefault(key, []).append(name)
            if password:
                iam.create_login_profile(UserName=name, Password=PASSWORD)
                if not mfa:
                    failing["aws.iam.user_mfa"].append([*where, name])
                # moto never records a sign-in: every password is never used
                aged["aws.iam.unused_credentials"].append([*where, f"{name}/password"])
            if mfa:
                serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=name.strip("=@"))["VirtualMFADevice"]
                iam.enable_mfa_device(
                    UserName=name,
                    SerialNumber=serial["SerialNumber"],
                    AuthenticationCode1="123456",
                    AuthenticationCode2="654321",
                )
            for group in groups:
                iam.add_user_to_group(GroupName=group, UserName=name)
            for n, state in enumerate(keys, 1):
                made = iam.create_access_key(UserName=name)["AccessKey"]
                if state == "inactive":
                    iam.update_access_key(UserName=name, AccessKeyId=made["AccessKeyId"], Status="Inactive")
                    continue
                aged["aws.iam.access_key_rotation"].append([*where, f"{name}/access_key_{n}"])
                aged["aws.iam.unused_credentials"].append([*where, f"{name}/access_key_{n}"])
            for policy_name in managed:
                doc = _doc({"Effect": "Allow", "Action": ["s3:*", "dynamodb:*"], "Resource": "*"})
                arn = iam.create_policy(PolicyName=policy_name, PolicyDocument=doc)["Policy"]["Arn"]
                iam.attach_user_policy(UserName=name, PolicyArn=arn)
            if inline_admin:
                doc = _doc({"Effect": "Allow", "Action": "*", "Resource": "*"})
                iam.put_user_policy(UserName=name, PolicyName=f"{key}-full-access", PolicyDocument=doc)
            if managed or inline_admin:
                failing["aws.iam.direct_user_policies"].append([*where, name])
            privileged = inline_admin or "platform-admins" in groups
            if privileged and password and not mfa:
                failing["aws.iam.privileged_users"].append([*where, name])
        policy = PASSWORD_POLICIES.get(key)
        if policy is not None:
            iam.update_account_password_policy(**policy)
        if policy is None or policy["MinimumPasswordLength"] < 14:
            failing["aws.iam.password_policy"].append([*where, account_id])
        if key == "prod":  # a vendor's account may assume this role: for the access review
            trust = {"Effect": "Allow", "Principal": {"AWS": EXTERNAL_PRINCIPAL}, "Action": "sts:AssumeRole"}
            role = iam.create_role(
                RoleName=VENDOR_ROLE,
                AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]}),
                Description="Read-only access for the external SOC 2 auditor's tooling",
            )["Role"]
            iam.attach_role_policy(RoleName=VENDOR_ROLE, PolicyArn=_readonly(iam))
            roles.append({"account": account_id, "role_arn": role["Arn"], "trusted_principal": EXTERNAL_PRINCIPAL})
    for check_id, rows in failing.items():
        aged[check_id] = sorted(rows + aged[check_id])
    where_now = {c: sorted(rows) for c, rows in failing.items()}
    return {
        "users": users,
        "non_compliant": {c: sorted({rid for _, _, rid in rows}) for c, rows in where_now.items()},
        "non_compliant_where": where_now,
        "non_compliant_after_days": {
            "days": AGED_DAYS,
            "non_compliant": {c: sorted({rid for _, _, rid in rows}) for c, rows in aged.items()},
            "non_compliant_where": aged,
        },
        "external_trust_roles": roles,
        "admin_policy_arn": admin_arns,
        "hostile_text": list(HOSTILE_USER_NAMES),
    }


def _readonly(iam: Any) -> str:
    doc = _doc({"Effect": "Allow", "Action": ["iam:Get*", "iam:List*", "s3:GetBucket*"], "Resource": "*"})
    return iam.create_policy(PolicyName="dexo-vendor-audit-read", PolicyDocument=doc)["Policy"]["Arn"]
