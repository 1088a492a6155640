"""The aws.iam collector: what it fetches, how, and at what API cost (the checks read it back).

Global collector (once per account, region "global").

Sources and API cost (independent of the number of users, except the paging):

- the credential report: GenerateCredentialReport, polled until State COMPLETE
  (0.2 s doubling, at most 30 s), then GetCredentialReport once. One CSV row per
  user (and the root account, "<root_account>") with password / MFA / access-key
  state, rotation and last-use dates. AWS caches the report for up to 4 hours:
  every result derived from it states "report_generated_at" and
  "report_age_hours" at the run's evaluation time (as_of). A user created after
  the report was generated is reported as `error` (not in the report), never
  silently skipped.
- GetAccountAuthorizationDetails (Filter User, Group, LocalManagedPolicy;
  MaxItems 1000, paginated with Marker while IsTruncated): every user with its
  inline policies (documents included), directly attached managed policies and
  groups; every group with its inline and attached policies; every customer
  managed policy with its versions (documents included).
- GetAccountSummary (AccountMFAEnabled, AccountAccessKeysPresent: the root
  signals when the report has no root row), GetAccountPasswordPolicy
  (NoSuchEntity = no policy: an answer, declared in absent_codes), and
  ListVirtualMFADevices (AssignmentStatus Assigned, paginated) once, to tell a
  virtual root MFA (serial arn:aws:iam::<acct>:mfa/root-account-mfa-device, or
  User.Arn the root) from a hardware / FIDO one.

Why GetAccountAuthorizationDetails instead of per-user calls: the per-user
route (ListUsers, then per user ListGroupsForUser + ListAttachedUserPolicies +
ListUserPolicies + GetUserPolicy per inline policy, per group
ListAttachedGroupPolicies + ListGroupPolicies + GetGroupPolicy, per customer
managed policy GetPolicy + GetPolicyVersion) costs at least 3 calls per user
and more with inline policies. GetAccountAuthorizationDetails returns the same
facts, documents included, 1000 entities (users + groups + policies) a page:
about 1 call per 1000 users, i.e. ~0.001 calls per user beyond the report. MFA
comes from the report's mfa_active column, so no ListMFADevices either. Total per
account: 2+ report calls + 3 + ceil(entities / 1000) + ceil(assigned virtual
MFA devices / 1000). The cost is one broader permission
(iam:GetAccountAuthorizationDetails, part of AWS's SecurityAudit and
ReadOnlyAccess policies). Roles are not requested (no check uses them yet).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from collectors.evidence import ApiCall, ApiError, Recorder
from collectors.registry import CollectorSpec, FetchContext, register_collector

OPERATIONS = {
    "iam:GenerateCredentialReport": "iam:GenerateCredentialReport",
    "iam:GetCredentialReport": "iam:GetCredentialReport",
    "iam:GetAccountSummary": "iam:GetAccountSummary",
    "iam:GetAccountPasswordPolicy": "iam:GetAccountPasswordPolicy",
    "iam:ListVirtualMFADevices": "iam:ListVirtualMFADevices",
    "iam:GetAccountAuthorizationDetails": "iam:GetAccountAuthorizationDetails",
}

NO_SUCH_ENTITY = "NoSuchEntity"
PAGE_SIZE = 1000  # MaxItems maximum of the IAM listings
AUTHZ_FILTER = ["User", "Group", "LocalManagedPolicy"]
REPORT_POLL_FIRST_S = 0.2
REPORT_POLL_LIMIT_S = 30.0
# moto answers ListVirtualMFADevices with each device's TOTP seed and QR code (AWS only
# returns them from CreateVirtualMFADevice): secrets are never recorded as evidence
MFA_SECRETS = ("Base32StringSeed", "QRCodePNG")

_sleep: Callable[[float], None] = time.sleep  # replaced in tests
_clock: Callable[[], float] = time.monotonic


def _pages(rec: Recorder, operation: str, fn: Callable[..., Any], **params: Any) -> list[ApiCall]:
    """Every page of an IAM listing (Marker in, Marker out, while IsTruncated); stops at the first error."""
    pages: list[ApiCall] = []
    marker: str | None = None
    while True:
        page = rec.call("iam", operation, fn, **params, **({"Marker": marker} if marker else {}))
        pages.append(page)
        answer = page.response or {}
        marker = answer.get("Marker")
        if not page.ok or not answer.get("IsTruncated") or not marker:
            return pages


def _without_mfa_secrets(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(**params: Any) -> Any:
        answer = fn(**params)
        for device in answer.get("VirtualMFADevices", []):
            for secret in MFA_SECRETS:
                device.pop(secret, None)
        return answer

    return call


def fetch_credential_report(rec: Recorder, iam: Any) -> None:
    """GenerateCredentialReport until COMPLETE (exponential backoff, time limit), then GetCredentialReport.

    Every poll is recorded. Not COMPLETE in time: no GetCredentialReport (there is no current report to
    get); the checks turn the last State into `error` results. Generate failing (e.g. AccessDenied): a
    report generated earlier may still be readable, so GetCredentialReport is tried anyway."""
    deadline = _clock() + REPORT_POLL_LIMIT_S
    delay = REPORT_POLL_FIRST_S
    while True:
        generated = rec.call("iam", "GenerateCredentialReport", iam.generate_credential_report)
        if not generated.ok or (generated.response or {}).get("State") == "COMPLETE":
            break
        remaining = deadline - _clock()
        if remaining <= 0:
            return
        _sleep(min(delay, remaining))
        delay *= 2
    rec.call("iam", "GetCredentialReport", iam.get_credential_report)


def fetch(ctx: FetchContext) -> None:
    rec = ctx.recorder
    iam = ctx.client("iam")
    jobs: list[Callable[[], Any]] = [
        lambda: fetch_credential_report(rec, iam),  # seconds on AWS: overlapped with the rest
        lambda: _pages(
            rec,
            "GetAccountAuthorizationDetails",
            iam.get_account_authorization_details,
            Filter=AUTHZ_FILTER,
            MaxItems=PAGE_SIZE,
        ),
        lambda: rec.call("iam", "GetAccountSummary", iam.get_account_summary),
        lambda: rec.call("iam", "GetAccountPasswordPolicy", iam.get_account_password_policy),
        lambda: _pages(
            rec,
            "ListVirtualMFADevices",
            _without_mfa_secrets(iam.list_virtual_mfa_devices),
            AssignmentStatus="Assigned",
            MaxItems=PAGE_SIZE,
        ),
    ]
    ctx.map(lambda job: job(), jobs)


register_collector(
    CollectorSpec(
        id="aws.iam",
        provider="aws",
        service="iam",
        per_region=False,
        operations=OPERATIONS,
        fetch=fetch,
        description="IAM credential report, users / groups / customer managed policies, password policy, "
        "account summary and virtual MFA devices (global, once per account)",
        absent_codes=frozenset({NO_SUCH_ENTITY}),
    )
)


def _missing(operation: str, code: str, message: str, params: Mapping[str, Any] | None = None) -> ApiCall:
    """A failure the checks derive from the evidence (nothing recorded, or an unusable answer)."""
    return ApiCall(
        "iam", operation, dict(params or {}), "", None, ApiError(code, message, OPERATIONS[f"iam:{operation}"])
    )
