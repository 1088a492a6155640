"""The aws.iam checks on the root user: MFA (hardware or virtual) and access keys.

Root facts come from the credential report's <root_account> row; when the report has no
root row (or none could be read) they fall back to GetAccountSummary's AccountMFAEnabled /
AccountAccessKeysPresent. ListVirtualMFADevices tells a virtual root MFA (serial
arn:aws:iam::<acct>:mfa/root-account-mfa-device, or User.Arn the root) from a hardware /
FIDO one. Unknown is `error`, never a pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from collectors.aws.iam.collector import _missing
from collectors.aws.iam.report import ROOT, _days, _report_refs, _true, credential_report, parse_date
from collectors.evidence import ApiCall, EvidenceBundle
from collectors.registry import CheckContext, check
from controls import CheckResult, Severity

ROOT_VIRTUAL_MFA = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:mfa/root-account-mfa-device$")
ROOT_ARN = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:root$")


def _account_summary(bundle: EvidenceBundle) -> tuple[dict[str, Any] | None, ApiCall | None]:
    call = bundle.find("iam", "GetAccountSummary")
    if call is None:
        return None, _missing("GetAccountSummary", "NotCollected", "no recorded GetAccountSummary answer")
    if not call.ok:
        return None, call
    return dict((call.response or {}).get("SummaryMap") or {}), None


def _root_virtual_mfa(bundle: EvidenceBundle) -> tuple[bool | None, ApiCall | None, str | None]:
    """(root has a virtual MFA device, failed listing, serial): None when the listing failed."""
    pages = bundle.all("iam", "ListVirtualMFADevices")
    if not pages:
        return None, _missing("ListVirtualMFADevices", "NotCollected", "no recorded ListVirtualMFADevices answer"), None
    for page in pages:
        if not page.ok:
            return None, page, None
        for device in (page.response or {}).get("VirtualMFADevices") or []:
            serial = device.get("SerialNumber", "")
            user_arn = (device.get("User") or {}).get("Arn", "")
            if ROOT_VIRTUAL_MFA.match(serial) or ROOT_ARN.match(user_arn):
                return True, None, serial
    return False, None, None


ROOT_TYPE = "AWS::::Account"


@check(
    id="aws.iam.root_mfa",
    collector="aws.iam",
    title="The root user has MFA enabled",
    description="The AWS account root user has an MFA device (from the credential report's root row; "
    "GetAccountSummary AccountMFAEnabled when the report has no root row). With require_hardware_mfa, "
    "a virtual MFA device on root fails (hardware TOTP tokens and FIDO security keys pass).",
    severity=Severity.CRITICAL,
    resource_type=ROOT_TYPE,
    permissions=[
        "iam:GenerateCredentialReport",
        "iam:GetCredentialReport",
        "iam:GetAccountSummary",
        "iam:ListVirtualMFADevices",
    ],
    remediation="Sign in as root, open Security credentials and assign an MFA device (a hardware key or FIDO "
    "security key for require_hardware_mfa); or centralise root access (AWS Organizations) and remove root "
    "credentials from member accounts.",
    thresholds={"require_hardware_mfa": False},
    risk="A stolen root password alone gives unrestricted control of the account.",
)
def root_mfa(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    hardware = bool(ctx.thresholds["require_hardware_mfa"])
    expected = {"mfa_active": True, **({"mfa_type": "hardware"} if hardware else {})}
    report, report_failed = credential_report(bundle, ctx.as_of)
    ev = (*_report_refs(bundle), *bundle.refs_for(("iam", "GetAccountSummary"), ("iam", "ListVirtualMFADevices")))
    observed: dict[str, Any] = report.observed() if report else {}
    row = report.root if report else None
    if row is not None:
        active = _true(row.get("mfa_active"))
        observed.update(source="credential report root row", mfa_active=active)
    else:
        summary, summary_failed = _account_summary(bundle)
        if summary is None or "AccountMFAEnabled" not in summary:
            failed = (
                report_failed
                or summary_failed
                or _missing("GetAccountSummary", "NoAccountMFAEnabled", "GetAccountSummary has no AccountMFAEnabled")
            )
            yield ctx.error(failed, ROOT, evidence=ev, expected=expected)
            return
        active = summary.get("AccountMFAEnabled") == 1
        why = "credential report unavailable" if report is None else "credential report has no <root_account> row"
        observed.update(
            source=f"GetAccountSummary AccountMFAEnabled ({why})",
            account_mfa_enabled=summary.get("AccountMFAEnabled"),
            mfa_active=active,
        )
    if not active:
        yield ctx.failed(ROOT, evidence=ev, expected=expected, observed=observed, reason="root user has no MFA")
        return
    virtual, listing_failed, serial = _root_virtual_mfa(bundle)
    observed["mfa_type"] = None if virtual is None else ("virtual" if virtual else "hardware")
    if serial:
        observed["virtual_mfa_serial"] = serial
    if not hardware:
        kind = f" ({observed['mfa_type']})" if observed["mfa_type"] else ""
        yield ctx.passed(ROOT, evidence=ev, expected=expected, observed=observed, reason=f"root MFA active{kind}")
    elif virtual is None:
        assert listing_failed is not None
        yield ctx.error(listing_failed, ROOT, evidence=ev, expected=expected)
    elif virtual:
        yield ctx.failed(
            ROOT, evidence=ev, expected=expected, observed=observed, reason="root MFA is a virtual device, not hardware"
        )
    else:
        yield ctx.passed(
            ROOT,
            evidence=ev,
            expected=expected,
            observed=observed,
            reason="root MFA active and not a virtual device (hardware TOTP or FIDO security key)",
        )


@check(
    id="aws.iam.root_access_keys",
    collector="aws.iam",
    title="The root user has no active access keys",
    description="Neither of the root user's access keys is active (credential report; GetAccountSummary "
    "AccountAccessKeysPresent when the report has no root row). Root use within root_recent_use_days is "
    "reported in the reason and observed, for review: it is not a failure by itself (some tasks need root).",
    severity=Severity.CRITICAL,
    resource_type=ROOT_TYPE,
    permissions=["iam:GenerateCredentialReport", "iam:GetCredentialReport", "iam:GetAccountSummary"],
    remediation="Sign in as root, open Security credentials and delete the root access keys; use IAM roles "
    "or IAM Identity Center for programmatic access.",
    thresholds={"root_recent_use_days": 30},
    risk="A root access key is a permanent, unrestricted credential that MFA does not protect.",
)
def root_access_keys(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    recent_days = int(ctx.thresholds["root_recent_use_days"])
    expected = {"active_access_keys": 0}
    report, report_failed = credential_report(bundle, ctx.as_of)
    ev = (*_report_refs(bundle), *bundle.ref("iam", "GetAccountSummary"))
    observed: dict[str, Any] = report.observed() if report else {}
    row = report.root if report else None
    notes: list[str] = []
    if row is not None:
        active = [n for n in (1, 2) if _true(row.get(f"access_key_{n}_active"))]
        observed.update(source="credential report root row", active_access_keys=len(active))
        for n in active:
            observed[f"access_key_{n}_last_rotated"] = row.get(f"access_key_{n}_last_rotated")
            observed[f"access_key_{n}_last_used_date"] = row.get(f"access_key_{n}_last_used_date")
        uses = {"password": row.get("password_last_used")}
        uses.update({f"access_key_{n}": row.get(f"access_key_{n}_last_used_date") for n in (1, 2)})
        observed["password_last_used"] = row.get("password_last_used")
        recent = []
        for what, value in uses.items():
            when = parse_date(value)
            if when is not None and _days(ctx.as_of, when) <= recent_days:
                recent.append(f"{what} {_days(ctx.as_of, when)} days ago")
        observed["root_used_within_days"] = {"days": recent_days, "uses": recent}
        if recent:
            notes.append(f"root used within {recent_days} days ({', '.join(recent)}): review why")
        count = len(active)
    else:
        summary, summary_failed = _account_summary(bundle)
        if summary is None or "AccountAccessKeysPresent" not in summary:
            failed = (
                report_failed
                or summary_failed
                or _missing(
                    "GetAccountSummary",
                    "NoAccountAccessKeysPresent",
                    "GetAccountSummary has no AccountAccessKeysPresent",
                )
            )
            yield ctx.error(failed, ROOT, evidence=ev, expected=expected)
            return
        count = int(summary.get("AccountAccessKeysPresent") or 0)
        why = "credential report unavailable" if report is None else "credential report has no <root_account> row"
        observed.update(
            source=f"GetAccountSummary AccountAccessKeysPresent ({why}; root last use unknown)",
            account_access_keys_present=summary.get("AccountAccessKeysPresent"),
            active_access_keys=count,
            password_last_used=None,
        )
    suffix = f"; {'; '.join(notes)}" if notes else ""
    if count:
        yield ctx.failed(
            ROOT,
            evidence=ev,
            expected=expected,
            observed=observed,
            reason=f"root has {count} active access key(s){suffix}",
        )
    else:
        yield ctx.passed(
            ROOT, evidence=ev, expected=expected, observed=observed, reason=f"root has no active access keys{suffix}"
        )
