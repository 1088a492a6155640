"""IAM: root account, users' credentials (MFA, key rotation, unused credentials),
the password policy, administrative privileges and directly attached policies.

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

import csv
import io
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from collectors.evidence import ApiCall, ApiError, EvidenceBundle, Recorder
from collectors.registry import CheckContext, CollectorSpec, FetchContext, check, register_collector
from controls import CheckResult, EvidenceRef, Severity

OPERATIONS = {
    "iam:GenerateCredentialReport": "iam:GenerateCredentialReport",
    "iam:GetCredentialReport": "iam:GetCredentialReport",
    "iam:GetAccountSummary": "iam:GetAccountSummary",
    "iam:GetAccountPasswordPolicy": "iam:GetAccountPasswordPolicy",
    "iam:ListVirtualMFADevices": "iam:ListVirtualMFADevices",
    "iam:GetAccountAuthorizationDetails": "iam:GetAccountAuthorizationDetails",
}

NO_SUCH_ENTITY = "NoSuchEntity"
ROOT = "<root_account>"  # the root account's row in the credential report, and its resource id here
PAGE_SIZE = 1000  # MaxItems maximum of the IAM listings
AUTHZ_FILTER = ["User", "Group", "LocalManagedPolicy"]
REPORT_POLL_FIRST_S = 0.2
REPORT_POLL_LIMIT_S = 30.0
NOT_A_DATE = frozenset({"", "N/A", "no_information", "not_supported"})
ROOT_VIRTUAL_MFA = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:mfa/root-account-mfa-device$")
ROOT_ARN = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:root$")
AWS_MANAGED = re.compile(r"^arn:aws[\w-]*:iam::aws:policy/(?:.*/)?([^/]+)$")
ADMIN_ACTIONS = frozenset({"*", "iam:*"})
# moto answers ListVirtualMFADevices with each device's TOTP seed and QR code (AWS only
# returns them from CreateVirtualMFADevice): secrets are never recorded as evidence
MFA_SECRETS = ("Base32StringSeed", "QRCodePNG")

_sleep: Callable[[float], None] = time.sleep  # replaced in tests
_clock: Callable[[], float] = time.monotonic

# ---------------------------------------------------------------------------------------------- fetch


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

# ---------------------------------------------------------------------------------------------- evidence model


def _missing(operation: str, code: str, message: str, params: Mapping[str, Any] | None = None) -> ApiCall:
    """A failure the checks derive from the evidence (nothing recorded, or an unusable answer)."""
    return ApiCall(
        "iam", operation, dict(params or {}), "", None, ApiError(code, message, OPERATIONS[f"iam:{operation}"])
    )


def parse_date(value: str | None) -> datetime | None:
    """An ISO date of the credential report; None for N/A, no_information, not_supported or garbage."""
    if value is None or value.strip() in NOT_A_DATE:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _days(as_of: datetime, then: datetime) -> int:
    return int((as_of - then).total_seconds() // 86400)


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


@dataclass
class CredentialReport:
    rows: dict[str, dict[str, str]]  # user name (or ROOT) -> row
    generated_at: str | None
    age_hours: float | None

    def observed(self) -> dict[str, Any]:
        return {"report_generated_at": self.generated_at, "report_age_hours": self.age_hours}

    @property
    def root(self) -> dict[str, str] | None:
        return self.rows.get(ROOT)

    def users(self) -> Iterator[tuple[str, dict[str, str]]]:
        for name, row in self.rows.items():
            if name != ROOT:
                yield name, row


def credential_report(bundle: EvidenceBundle, as_of: datetime) -> tuple[CredentialReport | None, ApiCall | None]:
    """The parsed report, or the failure that explains why there is none (the root cause first)."""
    generated = bundle.all("iam", "GenerateCredentialReport")
    got = bundle.all("iam", "GetCredentialReport")
    last_get = got[-1] if got else None
    if last_get is None or not last_get.ok:
        if generated and not generated[-1].ok:
            return None, generated[-1]
        if last_get is not None:
            return None, last_get
        if generated:
            state = (generated[-1].response or {}).get("State")
            polls = len(generated)
            return None, _missing(
                "GenerateCredentialReport",
                "ReportNotComplete",
                f"credential report State {state} after {polls} polls within {REPORT_POLL_LIMIT_S:.0f} s",
            )
        return None, _missing("GetCredentialReport", "NotCollected", "no recorded credential report")
    answer = last_get.response or {}
    content = answer.get("Content")
    if not isinstance(content, str) or not content.strip():
        return None, _missing("GetCredentialReport", "UnreadableReport", "the credential report has no CSV content")
    reader = csv.DictReader(io.StringIO(content.lstrip("\ufeff")))
    if not reader.fieldnames or "user" not in reader.fieldnames:
        return None, _missing("GetCredentialReport", "UnreadableReport", "the credential report has no 'user' column")
    rows = {row["user"]: {k: (v or "") for k, v in row.items() if k is not None} for row in reader if row.get("user")}
    generated_at = answer.get("GeneratedTime")
    when = parse_date(generated_at) if isinstance(generated_at, str) else None
    age = round((as_of - when).total_seconds() / 3600, 2) if when else None
    return CredentialReport(rows, generated_at, age), None


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


@dataclass
class Authorization:
    """What GetAccountAuthorizationDetails returned (all pages that were answered)."""

    users: list[dict[str, Any]] = field(default_factory=list)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # customer managed, by ARN
    failed: ApiCall | None = None  # a page failed (or none was recorded): the population is incomplete


def authorization(bundle: EvidenceBundle) -> Authorization:
    out = Authorization()
    pages = bundle.all("iam", "GetAccountAuthorizationDetails")
    if not pages:
        out.failed = _missing(
            "GetAccountAuthorizationDetails",
            "NotCollected",
            "no recorded GetAccountAuthorizationDetails answer",
            {"Filter": AUTHZ_FILTER, "MaxItems": PAGE_SIZE},
        )
        return out
    for page in pages:
        if not page.ok:
            out.failed = page
            break
        answer = page.response or {}
        out.users.extend(answer.get("UserDetailList") or [])
        for group in answer.get("GroupDetailList") or []:
            out.groups[group.get("GroupName", "")] = group
        for policy in answer.get("Policies") or []:
            out.policies[policy.get("Arn", "")] = policy
    return out


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


def _report_refs(bundle: EvidenceBundle) -> tuple[EvidenceRef, ...]:
    return bundle.refs_for(("iam", "GetCredentialReport"), ("iam", "GenerateCredentialReport"))


def _not_in_report(report: CredentialReport, user: str) -> ApiCall:
    return _missing(
        "GetCredentialReport",
        "NotInCredentialReport",
        f"user {user} is not in the credential report generated at {report.generated_at} "
        "(created after it? AWS caches the report for up to 4 hours)",
    )


def _unreported_users(bundle: EvidenceBundle, report: CredentialReport) -> list[str]:
    """Users that exist (per GetAccountAuthorizationDetails) but have no row in the report."""
    authz = authorization(bundle)
    return [u["UserName"] for u in authz.users if u.get("UserName") and u["UserName"] not in report.rows]


def _account_summary(bundle: EvidenceBundle) -> tuple[dict[str, Any] | None, ApiCall | None]:
    call = bundle.find("iam", "GetAccountSummary")
    if call is None:
        return None, _missing("GetAccountSummary", "NotCollected", "no recorded GetAccountSummary answer")
    if not call.ok:
        return None, call
    return dict((call.response or {}).get("SummaryMap") or {}), None


# ---------------------------------------------------------------------------------------------- root


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


# ---------------------------------------------------------------------------------------------- users


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


# ---------------------------------------------------------------------------------------------- privileges


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
