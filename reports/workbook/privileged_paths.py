"""Who holds administrative privilege in the estate, and through what: read from the findings (pure).

The privileged-access checks already judged every principal; their findings' `observed` carries the
facts. This module turns each finding into its *paths to privilege* (one per principal and policy,
assignment or binding), for the Privileged access sheet (reports.workbook.privileged):

- `aws.iam.privileged_roles`: a privileged role or group, one path per policy holding privileged
  grants (`observed.grants` / `privileged_through`, same order); who can use it (a role's trusted
  principals, a group's members) and a role's last use. Service-linked roles and the roles the tool
  assumes are not_applicable with the reason: they are listed when they hold a privileged grant.
- `aws.iam.privileged_users`: an admin user, one path per grant of `privileged_through` ("group
  admins: dexo-administrator (customer managed, * on *)", "direct: AdministratorAccess", "inline:
  full (iam:* on *)"; IAM names hold no space, colon or parenthesis, so the text splits safely), with
  MFA, console password and active access keys from the credential report.
- `aws.sso.privileged_permission_sets`: a privileged permission set, one path per holder (a group or
  user assigned it in an account: the account where the privilege is held), with a group's members;
  a privileged set assigned to nobody is one path of its own.
- `gcp.iam.primitive_roles`: one path per basic-role binding (roles/owner, roles/editor), direct or
  inherited from a folder or the organization, service accounts (not_applicable) included.

Principals judged not privileged are not paths (they are on their control's population sheet). A
finding in error is a path whose privilege is unknown, never left out: the population is then
incomplete, and the sheet says so instead of "none".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from controls.model import Finding, Status

ROLES_CHECK = "aws.iam.privileged_roles"
USERS_CHECK = "aws.iam.privileged_users"
SSO_CHECK = "aws.sso.privileged_permission_sets"
GCP_CHECK = "gcp.iam.primitive_roles"
CHECKS = (ROLES_CHECK, USERS_CHECK, SSO_CHECK, GCP_CHECK)
UNKNOWN = "unknown: not assessed"
# fail first, then what is not known, then the accepted risks, the approved, the listed-not-judged
STATUS_ORDER: dict[str, int] = {
    Status.FAIL: 0,
    Status.ERROR: 1,
    Status.EXCEPTED: 2,
    Status.PASS: 3,
    Status.NOT_APPLICABLE: 4,
}
AWS_MANAGED_ARN = re.compile(r"^arn:aws[\w-]*:iam::aws:policy/")
# the evidence file that holds the path, per check (the first of these the finding rests on)
PRIMARY_EVIDENCE = {
    ROLES_CHECK: ("GetAccountAuthorizationDetails",),
    USERS_CHECK: ("GetAccountAuthorizationDetails",),
    SSO_CHECK: ("ListAccountAssignments",),
}
GCP_POLICY_FILES = {
    "projects": "GetProjectIamPolicy",
    "folders": "GetFolderIamPolicy",
    "organizations": "GetOrganizationIamPolicy",
}


@dataclass(frozen=True)
class PrivilegedPath:
    """One principal's path to privilege (a row of the Privileged access sheet)."""

    finding: Finding
    account: str  # the AWS account or GCP project where the privilege is held
    principal_type: str
    principal: str
    principal_id: str  # ARN, binding ID or resource ID
    privilege: str
    through: str
    held_by: str = ""
    mfa: str = ""
    last_used: str | None = None
    evidence_op: tuple[str, ...] = ()  # the operations whose file holds this path, preferred first

    @property
    def status(self) -> str:
        return str(self.finding.result.status)

    @property
    def cloud(self) -> str:
        return self.finding.result.provider.upper()

    def sort_key(self) -> tuple[Any, ...]:
        return (
            STATUS_ORDER.get(self.status, 9),
            self.cloud,
            self.account,
            self.principal_type,
            self.principal.lower(),
            self.through,
        )


def privileged_paths(findings: Iterable[Finding]) -> list[PrivilegedPath]:
    """Every path to privilege the privileged-access checks found, fail first (see the module doc)."""
    readers = {ROLES_CHECK: _iam_principal, USERS_CHECK: _iam_user, SSO_CHECK: _sso, GCP_CHECK: _gcp}
    out: list[PrivilegedPath] = []
    for f in findings:
        read = readers.get(f.result.check_id)
        if read is None:
            continue
        out.extend(_not_assessed(f) if f.result.status == Status.ERROR else read(f))
    return sorted(out, key=PrivilegedPath.sort_key)


def primary_evidence(path: PrivilegedPath) -> str | None:
    """The evidence file that holds this path (the first file of the finding when none is named)."""
    files = [e.path for e in path.finding.result.evidence]
    for op in (*path.evidence_op, *PRIMARY_EVIDENCE.get(path.finding.result.check_id, ())):
        for name in files:
            if name.rsplit("/", 1)[-1].removesuffix(".json").endswith(op):
                return name
    return files[0] if files else None


def _observed(f: Finding) -> Mapping[str, Any]:
    return f.result.observed if isinstance(f.result.observed, Mapping) else {}


def _names(values: Any) -> list[str]:
    return [str(v) for v in values] if isinstance(values, list | tuple) else []


def _not_assessed(f: Finding) -> Iterator[PrivilegedPath]:
    r = f.result
    who = "every principal" if r.resource_id in ("*", "") else r.resource_id
    if who.startswith("arn:"):
        who = who.rsplit("/", 1)[-1]
    kind = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", r.resource_type.rsplit("::", 1)[-1]).lower()
    yield PrivilegedPath(f, r.account, kind or "principal", who, r.resource_id, UNKNOWN, "")


def _iam_principal(f: Finding) -> Iterator[PrivilegedPath]:
    """A role or group of aws.iam.privileged_roles: one path per policy with privileged grants."""
    obs = _observed(f)
    if not obs.get("privileged"):
        return
    kind = str(obs.get("principal_type") or "role")
    if kind == "group":
        members = _names(obs.get("members"))
        held_by = f"members: {', '.join(members)}" if members else "no members"
    else:
        trusted = _names(obs.get("trusted_principals"))
        held_by = f"assumable by: {', '.join(trusted)}" if trusted else ""
    texts = _names(obs.get("privileged_through"))
    grants = obs.get("grants") if isinstance(obs.get("grants"), list) else []
    common = {"held_by": held_by, "last_used": obs.get("last_used")}
    name = str(obs.get("name") or f.result.resource_id)
    for i, text in enumerate(texts):
        g = grants[i] if i < len(grants) and isinstance(grants[i], Mapping) else {}
        via, policy = str(g.get("via", "")), str(g.get("policy", ""))
        prefix = f"{via} {policy}: "
        privilege = text[len(prefix) :] if via and text.startswith(prefix) else text
        if privilege == "AWS managed, privileged by name":
            privilege = f"{policy} (AWS managed, listed as privileged)"
        through = _policy_path(via, policy, str(g.get("policy_arn") or "")) if via else text
        yield PrivilegedPath(f, f.result.account, kind, name, f.result.resource_id, privilege, through, **common)


def _policy_path(via: str, policy: str, arn: str) -> str:
    if via == "inline":
        return f"inline policy {policy}"
    if via.endswith(" inline"):  # "group admins inline"
        return f"{via.removesuffix(' inline')} (membership): inline policy {policy}"
    owner = "AWS managed" if AWS_MANAGED_ARN.match(arn) else "customer managed" if arn else "managed"
    head = "" if via == "attached" else f"{via} (membership): "
    return f"{head}{owner} policy {policy}"


def _iam_user(f: Finding) -> Iterator[PrivilegedPath]:
    """An admin user of aws.iam.privileged_users: one path per grant text."""
    obs = _observed(f)
    grants = _names(obs.get("privileged_through"))
    if not grants:
        return
    mfa = _mfa(obs)
    arn = str(obs.get("arn") or f.result.resource_id)
    for text in grants:
        privilege, through = _user_grant(text)
        yield PrivilegedPath(f, f.result.account, "user", f.result.resource_id, arn, privilege, through, mfa=mfa)


def _user_grant(text: str) -> tuple[str, str]:
    """(privilege, granted through) from "group G: name (customer managed, how)", "inline: name (how)", ..."""
    via, sep, rest = text.partition(": ")
    if not sep:
        return text, text
    name, paren, details = rest.partition(" (")
    details = details.removesuffix(")") if paren else ""
    customer = details.startswith("customer managed")
    details = details.removeprefix("customer managed").removeprefix(", ")
    inline = via == "inline" or via.endswith(" inline")
    kind = "inline policy" if inline else "customer managed policy" if customer else "AWS managed policy"
    group = via.removesuffix(" inline") if via.startswith("group ") else ""
    through = f"{group} (membership): {kind} {name}" if group else f"{kind} {name}"
    privilege = details or ("* on *" if inline else f"{name} (AWS managed, listed as privileged)")
    return privilege, through


def _mfa(obs: Mapping[str, Any]) -> str:
    if "mfa_active" not in obs:
        return ""
    if obs.get("mfa_active"):
        text = "MFA active"
    else:
        text = "no MFA; console password" if obs.get("password_enabled") else "no MFA; no console password"
    keys = _names(obs.get("active_access_keys"))
    if keys:
        text += f"; active {', '.join(k.replace('_', ' ') for k in keys)}"
    return text


def _sso(f: Finding) -> Iterator[PrivilegedPath]:
    """A privileged permission set of aws.sso.privileged_permission_sets: one path per holder."""
    obs = _observed(f)
    grants = _names(obs.get("privileged_through"))
    if not grants:
        return
    ps = str(obs.get("permission_set") or f.result.resource_id)
    privilege = "; ".join(grants)
    holders = [h for h in obs.get("holders") or [] if isinstance(h, Mapping)]
    if not holders:
        through = f"Identity Center permission set {ps}"
        yield PrivilegedPath(f, f.result.account, "permission set", ps, f.result.resource_id, privilege, through,
                             held_by="assigned to nobody in the accounts in scope")  # fmt: skip
        return
    for h in holders:
        kind = str(h.get("type", "")).lower() or "principal"
        members = h.get("members")
        if kind == "group":
            held_by = "members not readable" if members is None else f"members: {', '.join(_names(members)) or 'none'}"
        else:
            held_by = "assigned directly"
        through = f"Identity Center permission set {ps} (account assignment)"
        account = str(h.get("account") or f.result.account)
        yield PrivilegedPath(f, account, f"{kind} (Identity Center)", str(h.get("principal", "")),
                             f.result.resource_id, privilege, through, held_by=held_by)  # fmt: skip


def _gcp(f: Finding) -> Iterator[PrivilegedPath]:
    """A basic-role binding of gcp.iam.primitive_roles (one member, one role, one source)."""
    obs = _observed(f)
    role, member = obs.get("role"), obs.get("member")
    if not role or not member:
        return  # the project's "no basic role" pass: nothing held
    kind, _, name = str(member).partition(":")
    source = str(obs.get("source") or "")
    through = f"IAM binding inherited from {source}" if obs.get("inherited") else f"IAM binding on {source}"
    if obs.get("condition"):
        through += f" (condition: {obs['condition']})"
    op = GCP_POLICY_FILES.get(source.split("/", 1)[0], "")
    yield PrivilegedPath(f, f.result.account, f"member ({kind})", name or kind, f.result.resource_id, str(role),
                         through, evidence_op=(op,) if op else ())  # fmt: skip


def checks_summary(findings: Sequence[Finding]) -> str:
    """What the privileged-access checks did, for a sheet that has no path: ran and found none, or did not run."""
    ran = {c: 0 for c in CHECKS}
    for f in findings:
        if f.result.check_id in ran:
            ran[f.result.check_id] += 1
    parts = [f"{c}: {n} finding(s), none privileged" if n else f"{c}: did not run (no finding)" for c, n in ran.items()]
    return "; ".join(parts)
