"""Which AWS accounts a run covers, and who we are in each of them.

Explicit accounts come from the config; with `aws.organization.discover`
AWS Organizations supplies the ACTIVE accounts (minus `exclude`), each
reached through the configured role name. Every failure here becomes
evidence and `error` results later, never a silently smaller scope.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from collectors.aws.base import AssumeRoleError, AwsTuning, classify_error, new_session, session_for
from collectors.evidence import ApiCall, ApiError, Recorder, Scope


@dataclass(frozen=True)
class AccountTarget:
    id: str
    name: str
    role_arn: str | None
    regions: tuple[str, ...]
    source: str  # "config" or "organizations"


@dataclass
class Discovery:
    targets: list[AccountTarget]
    recorder: Recorder | None = None  # the recorded ListAccounts pages
    failure: ApiCall | None = None  # set when discovery failed
    excluded: list[str] = field(default_factory=list)
    inactive: list[str] = field(default_factory=list)


ORG_OPERATIONS = {
    "organizations:ListAccounts": "organizations:ListAccounts",
    "sts:GetCallerIdentity": "sts:GetCallerIdentity",
}


ORGANIZATION_REGION = "organization"


def role_arn_for(account_id: str, role_name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account_id}:role/{role_name}"


def discover_accounts(
    role_name: str, exclude: tuple[str, ...], regions: tuple[str, ...], tuning: AwsTuning
) -> Discovery:
    """List the organization's accounts from the management (default) credentials."""
    session = new_session()
    sts = session.client("sts", config=tuning.botocore_config())
    ident = Recorder(Scope("aws", "management", "global", "aws.organizations"), ORG_OPERATIONS, classify_error)
    who = ident.call("sts", "GetCallerIdentity", sts.get_caller_identity)
    management = str((who.response or {}).get("Account", "management")) if who.ok else "management"
    partition = str((who.response or {}).get("Arn", "arn:aws:")).split(":")[1] if who.ok else "aws"
    # region "organization": the discovery's own evidence folder, apart from
    # the management account's per-account evidence under "global"
    rec = Recorder(Scope("aws", management, ORGANIZATION_REGION, "aws.organizations"), ORG_OPERATIONS, classify_error)
    for call in ident.bundle.all("sts", "GetCallerIdentity"):
        rec.bundle.add(call)
    org = session.client("organizations", config=tuning.botocore_config())
    pages = rec.paginate("organizations", "ListAccounts", org.list_accounts, "NextToken", "NextToken")
    failed = next((p for p in pages if not p.ok), None)
    if failed is not None:
        return Discovery([], rec, failed)
    out = Discovery([], rec)
    for page in pages:
        for acct in (page.response or {}).get("Accounts", []):
            aid = str(acct["Id"])
            if aid in exclude:
                out.excluded.append(aid)
                continue
            if acct.get("Status", "ACTIVE") != "ACTIVE" or acct.get("State", "ACTIVE") not in ("ACTIVE",):
                out.inactive.append(aid)
                continue
            out.targets.append(
                AccountTarget(
                    aid, str(acct.get("Name", aid)), role_arn_for(aid, role_name, partition), regions, "organizations"
                )
            )
    return out


@dataclass(frozen=True)
class Identity:
    account: str
    arn: str | None
    call: ApiCall  # GetCallerIdentity or the failed AssumeRole, recorded as evidence

    @property
    def ok(self) -> bool:
        return self.arn is not None


def identify(target: AccountTarget, tuning: AwsTuning) -> Identity:
    """Assume the account's role (if any) and ask STS who we are there.

    A mismatch between the configured account and the credentials' account
    is a failure: evidence must never be attributed to the wrong account.
    """
    rec = Recorder(
        Scope("aws", target.id, "global", "aws.sts"), {"sts:GetCallerIdentity": "sts:GetCallerIdentity"}, classify_error
    )
    try:
        session = session_for(target.role_arn, tuning)
    except AssumeRoleError as exc:
        call = rec.record(
            "sts", "AssumeRole", {"RoleArn": target.role_arn, "RoleSessionName": "soc2-evidence"}, error=exc.error
        )
        return Identity(target.id, None, call)
    call = rec.call(
        "sts", "GetCallerIdentity", session.client("sts", config=tuning.botocore_config()).get_caller_identity
    )
    if not call.ok:
        return Identity(target.id, None, call)
    actual = str(call.response.get("Account"))
    if actual != target.id:
        bad = ApiError("AccountMismatch", f"credentials belong to account {actual}, not {target.id}", None)
        return Identity(
            target.id, None, ApiCall(call.service, call.operation, call.params, call.collected_at, call.response, bad)
        )
    return Identity(target.id, str(call.response.get("Arn")), call)
