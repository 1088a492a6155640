"""IAM roles and groups that hold administrative or privilege-escalation power (aws.iam.privileged_roles).

Which grants count is decided by the pure evaluator collectors/aws/iam_privilege_eval.py
(AdministratorAccess and the other AWS managed policies listed in the threshold
``privileged_aws_managed_policies``, ``*`` on ``*``, Allow + NotAction on ``*``, ``iam:*``,
``iam:Attach*Policy`` / ``iam:Put*Policy`` / ``iam:CreatePolicyVersion``, ``iam:PassRole`` and
``sts:AssumeRole`` on every role). Per principal (keyed by ARN, roles then groups):

- privileged and named in ``approved_principals`` (names or ARNs, ``*`` wildcards): pass,
  listed with how the privilege is held: the approved administrators.
- privileged and not approved: fail.
- not privileged: pass; if a customer managed policy it holds has no document in the
  evidence, `error` (its privilege is undetermined), never a pass.
- service-linked roles (path /aws-service-role/): not_applicable with the service and any
  privileged grant in observed; AWS defines and maintains their permissions, the account
  cannot change them.
- the roles soc2-evidence itself assumes (``tool_roles``, default the reader role name
  soc2-evidence-reader): not_applicable, named as such; a privileged grant on it is shown
  in the reason (the tool needs only the generated read-only policy).

``observed`` carries the population an auditor samples for CC6.3: principal type, the
privileged grants (policy, statement kind, actions, resources, conditional), who can use
the principal (a role's trusted principals, a group's members), a role's permissions
boundary and last use. AWS managed policies not listed in the threshold are judged by
name only (their documents are not fetched) and are named in ``aws_managed_judged_by_name``.

Fetch: aws.iam (collectors/aws/iam.py) calls GetAccountAuthorizationDetails with Filter
User, Group, LocalManagedPolicy: no roles. Until that filter gains "Role", this module's
own collector (``aws.iam_roles``, global) makes one GetAccountAuthorizationDetails listing
with Filter Role, Group, User, LocalManagedPolicy (users for the groups' members), about
one call per 1000 principals and policies per account. Once aws.iam requests roles, set
COLLECTOR to "aws.iam" and delete ``fetch`` and the registration: the check reads the
pages the same way, and reports `error` for roles if the recorded Filter lacks Role.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from collectors.aws._gaps import not_collected
from collectors.aws.iam_privilege_eval import Privilege, parse_document, principal_privilege
from collectors.evidence import ApiCall, EvidenceBundle
from collectors.registry import CheckContext, CollectorSpec, FetchContext, check, register_collector
from controls import CheckResult, Severity

COLLECTOR = "aws.iam_roles"
OPERATIONS = {"iam:GetAccountAuthorizationDetails": "iam:GetAccountAuthorizationDetails"}
FILTER = ["Role", "Group", "User", "LocalManagedPolicy"]
PAGE_SIZE = 1000
ROLE_TYPE = "AWS::IAM::Role"
GROUP_TYPE = "AWS::IAM::Group"
SERVICE_LINKED_PATH = "/aws-service-role/"


def _pages(ctx: FetchContext, fn: Callable[..., Any]) -> None:
    """Every page (Marker in, Marker out, while IsTruncated); stops at the first error."""
    marker: str | None = None
    while True:
        params: dict[str, Any] = {"Filter": FILTER, "MaxItems": PAGE_SIZE, **({"Marker": marker} if marker else {})}
        page = ctx.recorder.call("iam", "GetAccountAuthorizationDetails", fn, **params)
        answer = page.response or {}
        marker = answer.get("Marker")
        if not page.ok or not answer.get("IsTruncated") or not marker:
            return


def fetch(ctx: FetchContext) -> None:
    _pages(ctx, ctx.client("iam").get_account_authorization_details)


register_collector(
    CollectorSpec(
        id=COLLECTOR,
        provider="aws",
        service="iam",
        per_region=False,
        operations=OPERATIONS,
        fetch=fetch,
        description="IAM roles, groups (with their members) and customer managed policies, for privileged access "
        "(global, once per account)",
    )
)


@dataclass
class Details:
    """Everything the answered GetAccountAuthorizationDetails pages hold."""

    roles: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: ApiCall | None = None  # a page failed, or nothing was recorded
    roles_requested: bool = True


def details(bundle: EvidenceBundle) -> Details:
    out = Details()
    pages = bundle.all("iam", "GetAccountAuthorizationDetails")
    if not pages:
        params = {"Filter": FILTER, "MaxItems": PAGE_SIZE}
        out.failed = not_collected(OPERATIONS, "iam", "GetAccountAuthorizationDetails", params, "IAM principals")
        return out
    out.roles_requested = all("Role" in (p.params.get("Filter") or ["Role"]) for p in pages)
    for page in pages:
        if not page.ok:
            out.failed = page
            break
        answer = page.response or {}
        out.roles.extend(answer.get("RoleDetailList") or [])
        out.groups.extend(answer.get("GroupDetailList") or [])
        out.users.extend(answer.get("UserDetailList") or [])
        out.policies.update({p.get("Arn", ""): p for p in answer.get("Policies") or []})
    return out


def _matches(patterns: Iterable[str], *names: str) -> bool:
    return any(fnmatchcase(n.lower(), str(p).lower()) for p in patterns for n in names if n)


def trusted_principals(role: Mapping[str, Any]) -> list[str]:
    """Who may assume the role, from its trust policy's Allow statements ("AWS:arn", "Service:name", ...)."""
    doc = parse_document(role.get("AssumeRolePolicyDocument")) or {}
    found: list[str] = []
    statements = doc.get("Statement")
    for stmt in statements if isinstance(statements, list) else [statements]:
        if not isinstance(stmt, Mapping) or stmt.get("Effect") != "Allow":
            continue
        principal = stmt.get("Principal")
        if principal is None:
            continue
        if not isinstance(principal, Mapping):
            found.append(str(principal))
            continue
        for kind, values in principal.items():
            found.extend(f"{kind}:{v}" for v in (values if isinstance(values, list) else [values]))
    return sorted(set(found))


def _observed(principal: Mapping[str, Any], kind: str, priv: Privilege, extra: dict[str, Any]) -> dict[str, Any]:
    observed = {
        "principal_type": kind,
        "name": principal.get("RoleName" if kind == "role" else "GroupName"),
        "path": principal.get("Path"),
        "privileged": priv.privileged,
        "privileged_through": [g.describe() for g in priv.grants],
        "grants": [g.to_json() for g in priv.grants],
        **extra,
    }
    if priv.undetermined:
        observed["undetermined"] = priv.undetermined
    if priv.judged_by_name:
        observed["aws_managed_judged_by_name"] = priv.judged_by_name
    return observed


def _verdict(
    ctx: CheckContext, rid: str, priv: Privilege, observed: dict[str, Any], kw: dict[str, Any], label: str
) -> CheckResult:
    how = "; ".join(g.describe() for g in priv.grants)
    if priv.privileged:
        if _matches(ctx.thresholds["approved_principals"], str(observed["name"]), rid):
            return ctx.passed(rid, observed=observed, reason=f"approved privileged {label}: {how}", **kw)
        return ctx.failed(rid, observed=observed, reason=f"privileged {label} not approved: {how}", **kw)
    if priv.undetermined:
        what = ", ".join(priv.undetermined)
        params = {"Filter": FILTER, "MaxItems": PAGE_SIZE}
        gap = not_collected(OPERATIONS, "iam", "GetAccountAuthorizationDetails", params, f"{label} policies {what}")
        return ctx.error(gap, rid, evidence=kw["evidence"], expected=kw["expected"], resource_type=kw["resource_type"])
    named = ", ".join(priv.judged_by_name)
    note = f" (AWS managed policies judged by name: {named})" if named else ""
    return ctx.passed(rid, observed=observed, reason=f"no privileged grant{note}", **kw)


def _role_result(role: dict[str, Any], d: Details, ctx: CheckContext, kw: dict[str, Any]) -> CheckResult:
    arn, name = str(role.get("Arn") or role.get("RoleName")), str(role.get("RoleName", ""))
    priv = principal_privilege(role, "role", d.policies, ctx.thresholds["privileged_aws_managed_policies"])
    extra = {
        "trusted_principals": trusted_principals(role),
        "permissions_boundary": (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
        "last_used": (role.get("RoleLastUsed") or {}).get("LastUsedDate"),
    }
    observed = _observed(role, "role", priv, extra)
    how = f"; privileged: {'; '.join(g.describe() for g in priv.grants)}" if priv.privileged else ""
    path = str(role.get("Path") or "")
    if path.startswith(SERVICE_LINKED_PATH):
        service = path[len(SERVICE_LINKED_PATH) :].strip("/")
        reason = f"service-linked role of {service}: AWS defines its permissions{how}"
        return ctx.not_applicable(arn, observed=observed, reason=reason, **kw)
    if _matches(ctx.thresholds["tool_roles"], name, arn):
        if how:
            how += " (it needs only the read-only policy `soc2-evidence permissions` generates)"
        return ctx.not_applicable(arn, observed=observed, reason=f"the role soc2-evidence assumes{how}", **kw)
    if extra["permissions_boundary"] and priv.privileged:
        observed["note"] = "permissions boundary not evaluated: it may cap these grants"
    return _verdict(ctx, arn, priv, observed, kw, "role")


@check(
    id="aws.iam.privileged_roles",
    collector=COLLECTOR,
    title="Administrative and privilege-escalation power in roles and groups is approved",
    description="Every IAM role and group is evaluated for administrative or privilege-escalation grants "
    "(AdministratorAccess and other listed AWS managed policies, * on *, Allow NotAction on *, iam:*, "
    "iam:Attach*Policy / Put*Policy / CreatePolicyVersion, iam:PassRole or sts:AssumeRole on every role); a "
    "privileged one fails unless named in approved_principals. Service-linked roles and the roles soc2-evidence "
    "assumes are listed as not applicable with why.",
    severity=Severity.HIGH,
    resource_type=ROLE_TYPE,
    permissions=["iam:GetAccountAuthorizationDetails"],
    remediation="Remove the grant (aws iam detach-role-policy / delete-role-policy, detach-group-policy / "
    "delete-group-policy) or scope it to named resources; if the privilege is intended, add the role or group "
    "to thresholds.aws.iam.privileged_roles.approved_principals and review its trust policy / members.",
    thresholds={
        "privileged_aws_managed_policies": ["AdministratorAccess", "IAMFullAccess", "PowerUserAccess"],
        "approved_principals": [],
        "tool_roles": ["soc2-evidence-reader"],
    },
    risk="Whoever can assume an admin role or edit IAM policies controls the whole account, customer data "
    "included; unreviewed holders of that power escape the access review.",
)
def privileged_roles(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    expected = {"privileged": False, "or_approved_in": list(ctx.thresholds["approved_principals"])}
    ev = bundle.ref("iam", "GetAccountAuthorizationDetails")
    d = details(bundle)
    if d.failed is not None:
        yield ctx.error(d.failed, evidence=ev, expected=expected)
    if not d.roles_requested:
        pages = bundle.all("iam", "GetAccountAuthorizationDetails")
        gap = not_collected(
            OPERATIONS, "iam", "GetAccountAuthorizationDetails", pages[0].params, "roles (Filter lacks Role)"
        )
        yield ctx.error(gap, evidence=ev, expected=expected, resource_type=ROLE_TYPE)
    kw_role: dict[str, Any] = {"evidence": ev, "expected": expected, "resource_type": ROLE_TYPE}
    for role in d.roles:
        yield _role_result(role, d, ctx, kw_role)
    members: dict[str, list[str]] = {}
    for user in d.users:
        for group_name in user.get("GroupList") or []:
            members.setdefault(group_name, []).append(str(user.get("UserName")))
    kw_group: dict[str, Any] = {"evidence": ev, "expected": expected, "resource_type": GROUP_TYPE}
    limit = ctx.thresholds["privileged_aws_managed_policies"]
    for group in d.groups:
        name = str(group.get("GroupName", ""))
        priv = principal_privilege(group, "group", d.policies, limit)
        observed = _observed(group, "group", priv, {"members": sorted(members.get(name, []))})
        yield _verdict(ctx, str(group.get("Arn") or name), priv, observed, kw_group, "group")
