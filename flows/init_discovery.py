"""What `soc2-evidence init` learns about the caller before writing a starting config.

Read-only calls from the default credentials (AWS_PROFILE or `--profile`): who the caller is
(sts:GetCallerIdentity), the account's alias (iam:ListAccountAliases), whether it belongs to an
organization and can list its accounts (organizations:DescribeOrganization, ListAccounts) and
which regions the account has enabled. Region discovery is the run's own (the `aws.scope`
collector's fetch, as flows.regions uses it), so `init` and a run agree on "enabled".

Every failed call is kept as a `Denied` with the permission it needed: the renderer
(flows.init_config) turns it into a comment saying what to grant or fill in by hand, so a
partly denied caller still gets a file. Nothing here writes anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from collectors.aws.base import AwsFetchContext, AwsTuning, classify_error, new_session
from collectors.evidence import ApiCall, Recorder, Scope

# The permissions `init` uses (all read-only); `soc2-evidence permissions --for init` prints them.
INIT_OPERATIONS: dict[str, str] = {
    "sts:GetCallerIdentity": "sts:GetCallerIdentity",
    "iam:ListAccountAliases": "iam:ListAccountAliases",
    "organizations:DescribeOrganization": "organizations:DescribeOrganization",
    "organizations:ListAccounts": "organizations:ListAccounts",
    "ec2:DescribeRegions": "ec2:DescribeRegions",
    "account:ListRegions": "account:ListRegions",
}
NOT_IN_USE = "AWSOrganizationsNotInUseException"
# account:ListRegions states of a region on its way in or out (DescribeRegions does not show them)
CHANGING_STATES = frozenset({"ENABLING", "DISABLING"})
# Quick answers, 3 attempts in all (throttling retried): init is interactive.
INIT_TUNING = AwsTuning(max_attempts=3, connect_timeout=5.0, read_timeout=15.0, concurrency=4)


@dataclass(frozen=True)
class Denied:
    """A call that failed, with the IAM permission it needed."""

    permission: str
    code: str
    message: str

    def text(self) -> str:
        return f"{self.permission} failed ({self.code}: {self.message[:200]})"


@dataclass(frozen=True)
class OrgAccount:
    """One account of organizations:ListAccounts; `state` is State (or the older Status)."""

    id: str
    name: str
    state: str

    @property
    def active(self) -> bool:
        return self.state == "ACTIVE"


@dataclass(frozen=True)
class Discovered:
    """Everything `init` found, as plain data: the renderer's only input from AWS.

    org_role: "management" (the caller is the management account), "delegated" (a member that can
    list the accounts: a delegated administrator), "member" (in an organization, cannot list),
    "none" (AWSOrganizationsNotInUseException) or "unknown" (DescribeOrganization failed)."""

    account: str
    arn: str
    partition: str = "aws"
    alias: str | None = None
    alias_error: Denied | None = None
    org_role: str = "none"
    org_id: str | None = None
    management_account: str | None = None
    org_error: Denied | None = None
    accounts: tuple[OrgAccount, ...] = ()
    accounts_error: Denied | None = None
    regions: tuple[str, ...] | None = None  # enabled; None: discovery failed
    regions_error: Denied | None = None
    regions_changing: tuple[tuple[str, str], ...] = ()  # (region, ENABLING|DISABLING)

    @property
    def can_discover(self) -> bool:
        """The caller can list the organization's accounts: aws.organization.discover applies."""
        return self.org_role in ("management", "delegated") and self.accounts_error is None

    def denied(self) -> list[Denied]:
        """Every failed call, in the order the summary names them."""
        found = (self.org_error, self.accounts_error, self.regions_error, self.alias_error)
        return [d for d in found if d is not None]


def denied_of(call: ApiCall) -> Denied | None:
    """The failure of a recorded call, or None when it answered."""
    if call.ok or call.error is None:
        return None
    return Denied(call.error.permission or f"{call.service}:{call.operation}", call.error.code, call.error.message)


def discover(tuning: AwsTuning = INIT_TUNING) -> Discovered:
    """Ask AWS, from the default credentials (checked beforehand by preflight's credentials check)."""
    from flows.regions import HOME_REGION, partition_of

    session = new_session()
    rec = Recorder(Scope("aws", "caller", "global", "init"), INIT_OPERATIONS, classify_error)
    cfg = tuning.botocore_config()
    sts = session.client("sts", region_name=session.region_name or "us-east-1", config=cfg)
    who = rec.call("sts", "GetCallerIdentity", sts.get_caller_identity)
    if not who.ok:
        raise RuntimeError(f"sts:GetCallerIdentity failed: {who.error}")  # preflight's check passed a moment ago
    account, arn = str(who.response["Account"]), str(who.response["Arn"])
    partition = partition_of(arn)
    home = HOME_REGION.get(partition, session.region_name or "us-east-1")
    iam = session.client("iam", region_name=home, config=cfg)
    aliases = rec.call("iam", "ListAccountAliases", iam.list_account_aliases)
    alias = next(iter((aliases.response or {}).get("AccountAliases") or []), None) if aliases.ok else None
    org_role, org_id, management, org_error, accounts, accounts_error = _organization(
        session.client("organizations", region_name=home, config=cfg), rec, account
    )
    regions, regions_error, changing = _regions(session, account, home, tuning, partition)
    return Discovered(
        account=account,
        arn=arn,
        partition=partition,
        alias=alias,
        alias_error=denied_of(aliases),
        org_role=org_role,
        org_id=org_id,
        management_account=management,
        org_error=org_error,
        accounts=accounts,
        accounts_error=accounts_error,
        regions=regions,
        regions_error=regions_error,
        regions_changing=changing,
    )


def _organization(
    client: object, rec: Recorder, account: str
) -> tuple[str, str | None, str | None, Denied | None, tuple[OrgAccount, ...], Denied | None]:
    """(org_role, org_id, management_account, org_error, accounts, accounts_error)."""
    described = rec.call("organizations", "DescribeOrganization", client.describe_organization)  # type: ignore[attr-defined]
    if not described.ok:
        error = denied_of(described)
        if error is not None and error.code == NOT_IN_USE:
            return "none", None, None, None, (), None
        return "unknown", None, None, error, (), None
    org = (described.response or {}).get("Organization") or {}
    org_id, management = org.get("Id"), str(org.get("MasterAccountId") or "") or None
    pages = rec.paginate("organizations", "ListAccounts", client.list_accounts, "NextToken", "NextToken")  # type: ignore[attr-defined]
    failed = next((p for p in pages if not p.ok), None)
    if failed is not None:
        role = "management" if management == account else "member"
        return role, org_id, management, None, (), denied_of(failed)
    accounts = tuple(
        OrgAccount(str(a["Id"]), str(a.get("Name") or a["Id"]), str(a.get("State") or a.get("Status") or "ACTIVE"))
        for page in pages
        for a in (page.response or {}).get("Accounts", [])
    )
    role = "management" if management == account else "delegated"
    return role, org_id, management, None, tuple(sorted(accounts, key=lambda a: a.id)), None


def _regions(
    session: object, account: str, home: str, tuning: AwsTuning, partition: str
) -> tuple[tuple[str, ...] | None, Denied | None, tuple[tuple[str, str], ...]]:
    """(enabled regions, the DescribeRegions failure, regions being enabled/disabled): the
    `aws.scope` collector's own fetch and reading of the answers."""
    from collectors.aws import scope as region_scope

    rec = Recorder(Scope("aws", account, "global", region_scope.COLLECTOR), region_scope.OPERATIONS, classify_error)
    region_scope.fetch(AwsFetchContext(session, account, home, rec, tuning))  # type: ignore[arg-type]
    describe = region_scope.first(rec.bundle, "ec2", "DescribeRegions")
    if describe is None or not describe.ok:
        error = denied_of(describe) if describe is not None else None
        return None, error or Denied("ec2:DescribeRegions", "NotCollected", "no answer"), ()
    enabled = tuple(region_scope.enabled_regions(describe, partition))
    opt = region_scope.account_opt_status(rec.bundle)
    changing = tuple(sorted((r, s) for r, s in opt.items() if s in CHANGING_STATES))
    return enabled, None, changing
