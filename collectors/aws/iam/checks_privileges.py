"""The aws.iam checks on how IAM users get their permissions: administrators (and their MFA),
and policies attached to users directly instead of through groups.

Privilege is decided by the policy evaluation (policy.py) over the
GetAccountAuthorizationDetails evidence (authz.py); an administrator's MFA and console
password come from the credential report (report.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from collectors.aws.iam.authz import Authorization, authorization
from collectors.aws.iam.checks_credentials import USER_TYPE
from collectors.aws.iam.collector import AUTHZ_FILTER, PAGE_SIZE, _missing
from collectors.aws.iam.policy import privilege_of
from collectors.aws.iam.report import _not_in_report, _report_refs, _true, credential_report
from collectors.evidence import EvidenceBundle
from collectors.registry import CheckContext, check
from controls import CheckResult, Severity


def _authz_error(bundle: EvidenceBundle, ctx: CheckContext, authz: Authorization, expected: Any) -> list[CheckResult]:
    if authz.failed is None:
        return []
    return [
        ctx.error(authz.failed, "*", evidence=bundle.ref("iam", "GetAccountAuthorizationDetails"), expected=expected)
    ]


@check(
    id="aws.iam.privileged_users",
    collector="aws.iam",
    title="Privileged IAM users are listed and protected by MFA",
    description="Every IAM user with administrative privileges (AWS managed AdministratorAccess / IAMFullAccess, "
    "directly or through a group, or an inline / customer managed policy allowing Action * or iam:* on "
    "Resource *) is listed with how the privilege is granted; it fails when the user has a console password "
    "and no MFA. An admin's access keys stay privileged (listed in observed). Other users are not applicable.",
    severity=Severity.HIGH,
    resource_type=USER_TYPE,
    permissions=["iam:GetAccountAuthorizationDetails", "iam:GenerateCredentialReport", "iam:GetCredentialReport"],
    remediation="Enable MFA for the user (or remove the console password); grant administration through "
    "roles assumed with MFA or IAM Identity Center permission sets rather than IAM users.",
    thresholds={"privileged_aws_managed_policies": ["AdministratorAccess", "IAMFullAccess"]},
    risk="An administrator's password without MFA is one phishing email away from full control.",
)
def privileged_users(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    expected = {"mfa_active_or_no_console_password": True}
    authz = authorization(bundle)
    yield from _authz_error(bundle, ctx, authz, expected)
    report, report_failed = credential_report(bundle, ctx.as_of)
    ev = (*bundle.ref("iam", "GetAccountAuthorizationDetails"), *_report_refs(bundle))
    for user in authz.users:
        name = user.get("UserName", "")
        priv = privilege_of(user, authz, ctx.thresholds["privileged_aws_managed_policies"])
        observed: dict[str, Any] = {"arn": user.get("Arn"), "privileged_through": priv.grants}
        if priv.unknown:
            observed["undetermined"] = priv.unknown
        if not priv.grants:
            if priv.unknown:
                bad = _missing(
                    "GetAccountAuthorizationDetails",
                    "NotCollected",
                    f"no policy document for {', '.join(priv.unknown)}",
                    {"Filter": AUTHZ_FILTER, "MaxItems": PAGE_SIZE},
                )
                yield ctx.error(bad, name, evidence=ev, expected=expected)
            elif authz.failed is None:
                yield ctx.not_applicable(
                    name, evidence=ev, expected=expected, observed=observed, reason="no administrative privileges"
                )
            continue
        if report is None:
            assert report_failed is not None
            yield ctx.error(report_failed, name, evidence=ev, expected=expected)
            continue
        row = report.rows.get(name)
        if row is None:
            yield ctx.error(_not_in_report(report, name), name, evidence=ev, expected=expected)
            continue
        password = _true(row.get("password_enabled"))
        mfa = _true(row.get("mfa_active"))
        keys = [f"access_key_{n}" for n in (1, 2) if _true(row.get(f"access_key_{n}_active"))]
        observed.update(report.observed(), password_enabled=password, mfa_active=mfa, active_access_keys=keys)
        how = "; ".join(priv.grants)
        if password and not mfa:
            yield ctx.failed(
                name,
                evidence=ev,
                expected=expected,
                observed=observed,
                reason=f"admin ({how}) with a console password and no MFA",
            )
        else:
            state = "MFA active" if mfa else "no console password"
            if keys:
                state += f"; active access keys {', '.join(keys)} are privileged too"
            yield ctx.passed(name, evidence=ev, expected=expected, observed=observed, reason=f"admin ({how}); {state}")


@check(
    id="aws.iam.direct_user_policies",
    collector="aws.iam",
    title="IAM users get permissions through groups only",
    description="No IAM user has a managed policy attached directly or an inline policy (CC6.3: access is "
    "granted by role / group, so it is reviewed and revoked consistently).",
    severity=Severity.LOW,
    resource_type=USER_TYPE,
    permissions=["iam:GetAccountAuthorizationDetails"],
    remediation="Move the permissions to a group (aws iam attach-group-policy / put-group-policy), add the user "
    "to it, then aws iam detach-user-policy / delete-user-policy.",
    risk="Permissions attached to individuals escape role-based access reviews and linger after job changes.",
)
def direct_user_policies(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    expected = {"attached_managed_policies": [], "inline_policies": []}
    authz = authorization(bundle)
    yield from _authz_error(bundle, ctx, authz, expected)
    ev = bundle.ref("iam", "GetAccountAuthorizationDetails")
    for user in authz.users:
        name = user.get("UserName", "")
        managed = [p.get("PolicyName") or p.get("PolicyArn") for p in user.get("AttachedManagedPolicies") or []]
        inline = [p.get("PolicyName") for p in user.get("UserPolicyList") or []]
        observed = {
            "arn": user.get("Arn"),
            "attached_managed_policies": managed,
            "inline_policies": inline,
            "groups": list(user.get("GroupList") or []),
        }
        if managed or inline:
            parts = [f"managed: {', '.join(map(str, managed))}"] if managed else []
            parts += [f"inline: {', '.join(map(str, inline))}"] if inline else []
            yield ctx.failed(
                name,
                evidence=ev,
                expected=expected,
                observed=observed,
                reason=f"policies attached to the user ({'; '.join(parts)})",
            )
        else:
            yield ctx.passed(
                name, evidence=ev, expected=expected, observed=observed, reason="no policy attached to the user"
            )
