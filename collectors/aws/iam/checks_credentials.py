"""The aws.iam checks on IAM users' credentials: MFA, access key rotation, unused credentials,
and the account password policy they are held to.

All but the password policy read the credential report (report.py): one result per user
or per credential. A user that exists (GetAccountAuthorizationDetails) but is not in the
report, e.g. created after AWS generated it, is `error`, never silently skipped.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from collectors.aws.iam.authz import authorization
from collectors.aws.iam.collector import NO_SUCH_ENTITY, _missing
from collectors.aws.iam.report import (
    CredentialReport,
    _days,
    _not_in_report,
    _report_refs,
    _true,
    credential_report,
    parse_date,
)
from collectors.evidence import ApiCall, EvidenceBundle
from collectors.registry import CheckContext, check
from controls import CheckResult, Severity

USER_TYPE = "AWS::IAM::User"


def _report_or_error(
    bundle: EvidenceBundle, ctx: CheckContext, expected: Any
) -> tuple[CredentialReport | None, list[CheckResult]]:
    """The report, or one `error` result for every user (the population is unknown)."""
    report, failed = credential_report(bundle, ctx.as_of)
    if report is None:
        assert failed is not None
        return None, [ctx.error(failed, "*", evidence=_report_refs(bundle), expected=expected)]
    return report, []


def _unreported_users(bundle: EvidenceBundle, report: CredentialReport) -> list[str]:
    """Users that exist (per GetAccountAuthorizationDetails) but have no row in the report."""
    authz = authorization(bundle)
    return [u["UserName"] for u in authz.users if u.get("UserName") and u["UserName"] not in report.rows]


def _unreported(
    bundle: EvidenceBundle, ctx: CheckContext, report: CredentialReport, expected: Any
) -> list[CheckResult]:
    ev = (*_report_refs(bundle), *bundle.ref("iam", "GetAccountAuthorizationDetails"))
    return [
        ctx.error(_not_in_report(report, name), name, evidence=ev, expected=expected)
        for name in _unreported_users(bundle, report)
    ]


@check(
    id="aws.iam.user_mfa",
    collector="aws.iam",
    title="IAM users with a console password have MFA",
    description="Every IAM user with a console password (credential report password_enabled) has an MFA "
    "device (mfa_active); users without a console password are not applicable.",
    severity=Severity.HIGH,
    resource_type=USER_TYPE,
    permissions=["iam:GenerateCredentialReport", "iam:GetCredentialReport", "iam:GetAccountAuthorizationDetails"],
    remediation="aws iam create-virtual-mfa-device / enable-mfa-device for the user (or have the user assign "
    "one in the console), and enforce it with an MFA-required policy; prefer IAM Identity Center.",
    risk="A console password without MFA can be phished or guessed into account access.",
)
def user_mfa(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    expected = {"mfa_active_when_password_enabled": True}
    report, errors = _report_or_error(bundle, ctx, expected)
    yield from errors
    if report is None:
        return
    ev = _report_refs(bundle)
    for name, row in report.users():
        observed = {
            **report.observed(),
            "arn": row.get("arn"),
            "password_enabled": _true(row.get("password_enabled")),
            "password_last_used": row.get("password_last_used"),
            "mfa_active": _true(row.get("mfa_active")),
        }
        if not observed["password_enabled"]:
            yield ctx.not_applicable(
                name, evidence=ev, expected=expected, observed=observed, reason="no console password"
            )
        elif observed["mfa_active"]:
            yield ctx.passed(
                name, evidence=ev, expected=expected, observed=observed, reason="console password with MFA"
            )
        else:
            yield ctx.failed(
                name, evidence=ev, expected=expected, observed=observed, reason="console password without MFA"
            )
    yield from _unreported(bundle, ctx, report, expected)


def _unparseable(report: CredentialReport, user: str, column: str, value: str | None) -> ApiCall:
    return _missing(
        "GetCredentialReport",
        "UnreadableReport",
        f"user {user}: {column} is {value!r}, not a date (report generated at {report.generated_at})",
    )


@check(
    id="aws.iam.access_key_rotation",
    collector="aws.iam",
    title="Active access keys are rotated",
    description="Every active IAM user access key was created (last rotated) at most max_key_age_days ago; "
    "inactive keys are not applicable. Root keys are assessed by aws.iam.root_access_keys.",
    severity=Severity.MEDIUM,
    resource_type="AWS::IAM::AccessKey",
    permissions=["iam:GenerateCredentialReport", "iam:GetCredentialReport", "iam:GetAccountAuthorizationDetails"],
    remediation="Create a new key (aws iam create-access-key), move its users to it, deactivate then delete "
    "the old one (aws iam update-access-key --status Inactive; aws iam delete-access-key); prefer roles.",
    thresholds={"max_key_age_days": 90},
    risk="A long-lived key has had longer to leak (code, laptops, CI logs) and still works.",
)
def access_key_rotation(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    max_age = int(ctx.thresholds["max_key_age_days"])
    expected = {"key_age_days_at_most": max_age}
    report, errors = _report_or_error(bundle, ctx, expected)
    yield from errors
    if report is None:
        return
    ev = _report_refs(bundle)
    for name, row in report.users():
        for n in (1, 2):
            rid = f"{name}/access_key_{n}"
            rotated_raw = row.get(f"access_key_{n}_last_rotated")
            rotated = parse_date(rotated_raw)
            active = _true(row.get(f"access_key_{n}_active"))
            if not active and rotated is None:
                continue  # no such key
            observed = {
                **report.observed(),
                "user": name,
                "active": active,
                "last_rotated": rotated_raw,
                "last_used_date": row.get(f"access_key_{n}_last_used_date"),
                "last_used_service": row.get(f"access_key_{n}_last_used_service"),
            }
            if not active:
                yield ctx.not_applicable(
                    rid, evidence=ev, expected=expected, observed=observed, reason="key is inactive"
                )
                continue
            if rotated is None:
                bad = _unparseable(report, name, f"access_key_{n}_last_rotated", rotated_raw)
                yield ctx.error(bad, rid, evidence=ev, expected=expected)
                continue
            age = _days(ctx.as_of, rotated)
            observed["age_days"] = age
            if age > max_age:
                yield ctx.failed(
                    rid,
                    evidence=ev,
                    expected=expected,
                    observed=observed,
                    reason=f"active key is {age} days old (more than {max_age})",
                )
            else:
                yield ctx.passed(
                    rid, evidence=ev, expected=expected, observed=observed, reason=f"active key is {age} days old"
                )
    yield from _unreported(bundle, ctx, report, expected)


def _credentials(row: Mapping[str, str]) -> list[tuple[str, str, str, str]]:
    """(credential, last-used column, created column, fallback created column) of each usable credential."""
    out = []
    if _true(row.get("password_enabled")):
        out.append(("password", "password_last_used", "password_last_changed", "user_creation_time"))
    for n in (1, 2):
        if _true(row.get(f"access_key_{n}_active")):
            out.append(
                (
                    f"access_key_{n}",
                    f"access_key_{n}_last_used_date",
                    f"access_key_{n}_last_rotated",
                    "user_creation_time",
                )
            )
    return out


@check(
    id="aws.iam.unused_credentials",
    collector="aws.iam",
    title="Unused credentials are removed",
    description="Every console password and active access key of an IAM user was used within max_unused_days; "
    "a credential never used fails once it is older than max_unused_days (password: last changed, else the "
    "user's creation; key: last rotated). One result per credential; a user with no usable credential gets "
    "one not-applicable result. Root is assessed by the root checks.",
    severity=Severity.MEDIUM,
    resource_type=USER_TYPE,
    permissions=["iam:GenerateCredentialReport", "iam:GetCredentialReport", "iam:GetAccountAuthorizationDetails"],
    remediation="Remove the console password (aws iam delete-login-profile) or deactivate and delete the key "
    "(aws iam update-access-key --status Inactive; aws iam delete-access-key); remove the user if unused.",
    thresholds={"max_unused_days": 90},
    risk="Credentials nobody uses are not missed when stolen; they widen the attack surface for no benefit.",
)
def unused_credentials(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    max_days = int(ctx.thresholds["max_unused_days"])
    expected = {"used_within_days": max_days}
    report, errors = _report_or_error(bundle, ctx, expected)
    yield from errors
    if report is None:
        return
    ev = _report_refs(bundle)
    for name, row in report.users():
        creds = _credentials(row)
        if not creds:
            yield ctx.not_applicable(
                name,
                evidence=ev,
                expected=expected,
                observed={**report.observed(), "user": name, "credentials": []},
                reason="no console password and no active access key",
            )
            continue
        for cred, used_col, created_col, fallback_col in creds:
            rid = f"{name}/{cred}"
            used_raw = row.get(used_col)
            used = parse_date(used_raw)
            created_raw = row.get(created_col)
            created = parse_date(created_raw)
            if created is None:
                created_col, created_raw = fallback_col, row.get(fallback_col)
                created = parse_date(created_raw)
            observed: dict[str, Any] = {
                **report.observed(),
                "user": name,
                "credential": cred,
                "last_used": used_raw,
                "created_from": created_col,
                "created": created_raw,
            }
            if used is not None:
                days = _days(ctx.as_of, used)
                observed["days_since_use"] = days
                if days > max_days:
                    reason = f"{cred} last used {days} days ago (more than {max_days})"
                    yield ctx.failed(rid, evidence=ev, expected=expected, observed=observed, reason=reason)
                else:
                    reason = f"{cred} used {days} days ago"
                    yield ctx.passed(rid, evidence=ev, expected=expected, observed=observed, reason=reason)
                continue
            if created is None:
                bad = _unparseable(report, name, created_col, created_raw)
                yield ctx.error(bad, rid, evidence=ev, expected=expected)
                continue
            age = _days(ctx.as_of, created)
            observed.update(never_used=True, days_since_created=age)
            if age > max_days:
                reason = f"{cred} never used, created {age} days ago (more than {max_days})"
                yield ctx.failed(rid, evidence=ev, expected=expected, observed=observed, reason=reason)
            else:
                reason = f"{cred} not used yet, created {age} days ago (within {max_days})"
                yield ctx.passed(rid, evidence=ev, expected=expected, observed=observed, reason=reason)
    yield from _unreported(bundle, ctx, report, expected)


# ---------------------------------------------------------------------------------------------- password policy


@check(
    id="aws.iam.password_policy",
    collector="aws.iam",
    title="The account password policy is strong",
    description="The IAM account password policy exists and requires at least min_length characters, "
    "symbols, numbers, upper and lower case letters; optionally a maximum age (max_age_days) and a "
    "reuse-prevention depth (password_reuse_prevention). No policy fails.",
    severity=Severity.MEDIUM,
    resource_type="AWS::IAM::AccountPasswordPolicy",
    permissions=["iam:GetAccountPasswordPolicy"],
    remediation="aws iam update-account-password-policy --minimum-password-length 14 --require-symbols "
    "--require-numbers --require-uppercase-characters --require-lowercase-characters "
    "[--max-password-age 90] [--password-reuse-prevention 24]",
    thresholds={
        "min_length": 14,
        "require_symbols": True,
        "require_numbers": True,
        "require_uppercase": True,
        "require_lowercase": True,
        "max_age_days": None,
        "password_reuse_prevention": None,
    },
    risk="Weak IAM passwords are guessed or cracked into console access.",
)
def password_policy(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    t = ctx.thresholds
    expected: dict[str, Any] = {"MinimumPasswordLength": f">= {t['min_length']}"}
    for key, setting in (
        ("require_symbols", "RequireSymbols"),
        ("require_numbers", "RequireNumbers"),
        ("require_uppercase", "RequireUppercaseCharacters"),
        ("require_lowercase", "RequireLowercaseCharacters"),
    ):
        if t[key]:
            expected[setting] = True
    if t["max_age_days"] is not None:
        expected["MaxPasswordAge"] = f"<= {t['max_age_days']}"
    if t["password_reuse_prevention"] is not None:
        expected["PasswordReusePrevention"] = f">= {t['password_reuse_prevention']}"
    account = ctx.scope.account
    ev = bundle.ref("iam", "GetAccountPasswordPolicy")
    call = bundle.find("iam", "GetAccountPasswordPolicy") or _missing(
        "GetAccountPasswordPolicy", "NotCollected", "no recorded GetAccountPasswordPolicy answer"
    )
    if call.error and call.error.code == NO_SUCH_ENTITY:
        yield ctx.failed(
            account, evidence=ev, expected=expected, observed={"policy": None}, reason="no account password policy"
        )
        return
    if call.error:
        yield ctx.error(call, account, evidence=ev, expected=expected)
        return
    policy = dict((call.response or {}).get("PasswordPolicy") or {})
    short: list[str] = []
    length = int(policy.get("MinimumPasswordLength") or 0)
    if length < int(t["min_length"]):
        short.append(f"MinimumPasswordLength {length} < {t['min_length']}")
    for setting in ("RequireSymbols", "RequireNumbers", "RequireUppercaseCharacters", "RequireLowercaseCharacters"):
        if expected.get(setting) and not policy.get(setting):
            short.append(f"{setting} is off")
    if t["max_age_days"] is not None:
        age = policy.get("MaxPasswordAge")
        if not policy.get("ExpirePasswords", age is not None) or age is None:
            short.append(f"passwords never expire (MaxPasswordAge must be <= {t['max_age_days']})")
        elif int(age) > int(t["max_age_days"]):
            short.append(f"MaxPasswordAge {age} > {t['max_age_days']}")
    if t["password_reuse_prevention"] is not None:
        reuse = int(policy.get("PasswordReusePrevention") or 0)
        if reuse < int(t["password_reuse_prevention"]):
            short.append(f"PasswordReusePrevention {reuse or 'off'} < {t['password_reuse_prevention']}")
    observed = {"policy": policy}
    if short:
        yield ctx.failed(account, evidence=ev, expected=expected, observed=observed, reason="; ".join(short))
    else:
        yield ctx.passed(
            account, evidence=ev, expected=expected, observed=observed, reason="password policy meets every setting"
        )
