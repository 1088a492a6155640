"""The aws.sso checks: privileged permission sets and who holds them, access granted to users
directly instead of through groups, and disabled or deleted principals that still hold access.

Every check reads the model (model.py) of one aws.sso scope. The scope-level outcomes are shared:
a failed ListInstances (or a missing scope record) is `error` for every resource ("*"); no
instance is `error` when aws.identity_center names this account (wrong account or region), and
`not_applicable` when Identity Center was only being discovered here; a failed
ListPermissionSets is `error` for that instance. Results carry the instance's region.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from collectors.aws.sso.collector import INTERNAL, OPERATIONS, SCOPE_OPERATION, SERVICE, STORE
from collectors.aws.sso.model import Assignment, IdentityCenter, Instance, PermissionSet, identity_center
from collectors.aws.sso.privilege import DEFAULT_PRIVILEGED_AWS_MANAGED, Privilege, permission_set_privilege
from collectors.evidence import ApiCall, ApiError, EvidenceBundle
from collectors.registry import CheckContext, check
from controls import CheckResult, EvidenceRef, Severity, Status

PERMISSION_SET_TYPE = "AWS::SSO::PermissionSet"
ASSIGNMENT_TYPE = "AWS::SSO::AccountAssignment"
USER_TYPE = "AWS::IdentityStore::User"
INSTANCE_TYPE = "AWS::SSO::Instance"
ALL_PERMISSIONS = sorted(set(OPERATIONS.values()))


def _evidence(bundle: EvidenceBundle) -> tuple[EvidenceRef, ...]:
    return bundle.refs_for((INTERNAL, SCOPE_OPERATION), *(tuple(k.split(":", 1)) for k in OPERATIONS))


def _scope_results(
    ic: IdentityCenter, ctx: CheckContext, expected: Any, ev: tuple[EvidenceRef, ...]
) -> list[CheckResult]:
    """The results that do not belong to one instance (see the module doc)."""
    out = []
    if ic.failed is not None:
        out.append(ctx.error(ic.failed, "*", evidence=ev, expected=expected))
    if ic.instances or ic.failed is not None:
        return out
    regions = ", ".join(ic.regions) or "none"
    if ic.configured:
        err = ApiError(
            "NoIdentityCenterInstance",
            f"no active Identity Center instance in account {ic.account}, region {regions}: aws.identity_center "
            "names the wrong account or region (it must be the management or delegated administrator account)",
            OPERATIONS["sso-admin:ListInstances"],
        )
        call = ApiCall(SERVICE, "ListInstances", {"Region": regions}, "", None, err)
        out.append(ctx.error(call, "*", evidence=ev, expected=expected, resource_type=INSTANCE_TYPE))
    else:
        out.append(
            ctx.not_applicable(
                ic.account,
                evidence=ev,
                expected=expected,
                observed={"regions": list(ic.regions), "instances": 0},
                reason=f"no Identity Center instance administered from this account (ListInstances in {regions})",
                resource_type="AWS::::Account",
            )
        )
    return out


def _instances(
    bundle: EvidenceBundle, ctx: CheckContext, expected: Any
) -> tuple[list[CheckResult], list[Instance], tuple[EvidenceRef, ...]]:
    """Scope-level results, then the instances whose permission sets could be listed."""
    ev = _evidence(bundle)
    ic = identity_center(bundle)
    out = _scope_results(ic, ctx, expected, ev)
    usable = []
    for inst in ic.instances:
        if inst.permission_sets_failed is not None:
            out.append(ctx.error(inst.permission_sets_failed, "*", evidence=ev, expected=expected, region=inst.region))
        else:
            usable.append(inst)
    return out, usable, ev


def holders(inst: Instance, assignments: Iterable[Assignment]) -> list[dict[str, Any]]:
    """Who holds these assignments: each principal, and a group's members (None: not readable)."""
    out = []
    for a in sorted(assignments, key=lambda a: (a.account, a.principal_type, inst.principal_name(a))):
        row: dict[str, Any] = {"account": a.account, "type": a.principal_type, "principal": inst.principal_name(a)}
        if a.principal_type == "GROUP":
            known = a.principal_id in inst.members and a.principal_id not in inst.members_failed
            row["members"] = sorted(inst.user_name(u) for u, _ in inst.members[a.principal_id]) if known else None
        out.append(row)
    return out


def describe_holders(rows: Iterable[Mapping[str, Any]]) -> str:
    parts = []
    for r in rows:
        if r["type"] == "GROUP":
            members = r.get("members")
            who = "members not readable" if members is None else (", ".join(members) or "no members")
            parts.append(f"group {r['principal']} in {r['account']} ({who})")
        else:
            parts.append(f"user {r['principal']} in {r['account']} (direct)")
    return "; ".join(parts)


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, str(p)) for p in patterns)


def _undetermined(ctx: CheckContext, ps: PermissionSet, priv: Privilege, region: str, **kw: Any) -> CheckResult:
    """Not assessed: no administrative grant found, but a policy whose document is elsewhere."""
    what = "; ".join(priv.undetermined)
    observed = {
        "operation": "iam:GetPolicyVersion",
        "error_code": "NotCollected",
        "message": f"privilege undetermined: {what}",
        "required_permission": "iam:GetPolicyVersion",
        "missing_permission": None,
        "permission_set": ps.label,
    }
    reason = f"not assessed ({ps.label}): no administrative grant found, but {what} is not in the evidence"
    return ctx.result(Status.ERROR, ps.arn, observed=observed, reason=reason, region=region, **kw)


@check(
    id="aws.sso.privileged_permission_sets",
    collector="aws.sso",
    title="Privileged Identity Center permission sets are approved, and who holds them is listed",
    description="Every permission set granting administrative privilege (AWS managed AdministratorAccess / "
    "IAMFullAccess, or an inline policy allowing * or iam:* on *) is listed with who holds it in each account in "
    "scope: groups with their members, and users assigned directly. A privileged set held by anyone fails unless "
    "its name matches approved_permission_sets; a privileged set assigned to nobody passes (listed); a set "
    "whose only unknown is a customer managed policy (its document lives in each account) is error, never "
    "'not privileged'. Other sets are not applicable.",
    severity=Severity.HIGH,
    resource_type=PERMISSION_SET_TYPE,
    permissions=ALL_PERMISSIONS,
    remediation="Narrow the permission set (aws sso-admin detach-managed-policy-from-permission-set / "
    "put-inline-policy-to-permission-set), or record it in approved_permission_sets after review; assign it to "
    "a small admin group only.",
    thresholds={
        "privileged_aws_managed_policies": list(DEFAULT_PRIVILEGED_AWS_MANAGED),
        "approved_permission_sets": [],
    },
    risk="A broad permission set assigned to a large group makes everyone in it an administrator of every "
    "account it reaches.",
)
def privileged_permission_sets(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    expected = {"privileged_permission_sets_approved": list(ctx.thresholds["approved_permission_sets"])}
    scope_results, instances, ev = _instances(bundle, ctx, expected)
    yield from scope_results
    for inst in instances:
        if not inst.permission_sets:
            kw0: dict[str, Any] = {"evidence": ev, "expected": expected, "region": inst.region}
            observed = {"permission_sets": 0}
            reason = "the instance has no permission set"
            yield ctx.not_applicable(inst.arn, observed=observed, reason=reason, resource_type=INSTANCE_TYPE, **kw0)
        for ps in inst.permission_sets.values():
            kw: dict[str, Any] = {"evidence": ev, "expected": expected, "region": inst.region}
            if ps.failed is not None:
                yield ctx.error(ps.failed, ps.arn, **kw)
                continue
            priv = permission_set_privilege(ps, ctx.thresholds["privileged_aws_managed_policies"])
            held = inst.assigned(ps.arn)
            unread = sorted(acct for (acct, arn) in inst.assignments_failed if arn == ps.arn)
            rows = holders(inst, held)
            observed = {
                "permission_set": ps.label,
                "instance": inst.arn,
                "privileged_through": priv.grants,
                "undetermined": priv.undetermined,
                "holders": rows,
                "accounts_not_read": unread,
            }
            if not priv.privileged:
                if priv.undetermined:
                    yield _undetermined(ctx, ps, priv, inst.region, evidence=ev, expected=expected)
                else:
                    reason = "no administrative grant"
                    yield ctx.not_applicable(ps.arn, observed=observed, reason=reason, **kw)
                continue
            how = ", ".join(priv.grants)
            if not held:
                if unread:
                    yield ctx.error(inst.assignments_failed[(unread[0], ps.arn)], ps.arn, **kw)
                else:
                    reason = f"{ps.label} is privileged ({how}) but assigned to nobody in the accounts in scope"
                    yield ctx.passed(ps.arn, observed=observed, reason=reason, **kw)
                continue
            who = describe_holders(rows)
            if _matches(ps.label, ctx.thresholds["approved_permission_sets"]):
                yield ctx.passed(
                    ps.arn, observed=observed, reason=f"approved privileged set ({how}); held by {who}", **kw
                )
            else:
                reason = f"{ps.label} grants administrative privilege ({how}) and is held by {who}"
                yield ctx.failed(ps.arn, observed=observed, reason=reason, **kw)


def assignment_id(inst: Instance, a: Assignment) -> str:
    """A readable, stable id of one account assignment: account / permission set / principal."""
    return f"{a.account}/{inst.ps_name(a.permission_set)}/{a.principal_type.lower()}:{inst.principal_name(a)}"


@check(
    id="aws.sso.assignments_to_users",
    collector="aws.sso",
    title="Identity Center access is granted to groups, not to individual users",
    description="Every account assignment goes to a group (CC6.3: access follows the role, so it is reviewed and "
    "revoked with group membership). Each assignment made to a user directly fails, unless the user matches "
    "allowed_users (e.g. a break-glass account); an instance with none passes. An (account, permission set) "
    "whose assignments could not be listed is error, and so is a direct assignment whose user could not be named "
    "(ListUsers failed) while allowed_users is set.",
    severity=Severity.LOW,
    resource_type=ASSIGNMENT_TYPE,
    permissions=ALL_PERMISSIONS,
    remediation="Assign the permission set to a group and add the user to it, then "
    "aws sso-admin delete-account-assignment --principal-type USER for the direct assignment.",
    thresholds={"allowed_users": []},
    risk="Access given to individuals escapes group-based reviews and survives role changes.",
)
def assignments_to_users(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    expected = {"principal_type": "GROUP"}
    scope_results, instances, ev = _instances(bundle, ctx, expected)
    yield from scope_results
    for inst in instances:
        kw: dict[str, Any] = {"evidence": ev, "expected": expected, "region": inst.region}
        direct = [a for a in inst.assignments if a.principal_type == "USER"]
        for a in sorted(direct, key=lambda a: assignment_id(inst, a)):
            name = inst.user_name(a.principal_id)
            observed = {"account": a.account, "permission_set": inst.ps_name(a.permission_set), "user": name}
            if inst.users_failed and a.principal_id not in inst.users and ctx.thresholds["allowed_users"]:
                # the user's name was not read (ListUsers failed): whether allowed_users covers it is unknown
                yield ctx.error(inst.users_failed, assignment_id(inst, a), **kw)
            elif _matches(name, ctx.thresholds["allowed_users"]):
                yield ctx.passed(assignment_id(inst, a), observed=observed, reason="direct assignment allowed", **kw)
            else:
                reason = f"{inst.ps_name(a.permission_set)} assigned to user {name} directly in {a.account}"
                yield ctx.failed(assignment_id(inst, a), observed=observed, reason=reason, **kw)
        for (account, ps), call in sorted(inst.assignments_failed.items()):
            yield ctx.error(call, f"{account}/{inst.ps_name(ps)}", **kw)
        if not direct and not inst.assignments_failed:
            observed = {"assignments": len(inst.assignments), "accounts": list(inst.accounts)}
            reason = f"all {len(inst.assignments)} account assignments go to groups"
            yield ctx.passed(inst.arn, observed=observed, reason=reason, resource_type=INSTANCE_TYPE, **kw)


def _status_unreported(inst: Instance, user_ids: Iterable[str]) -> list[str]:
    return sorted(inst.user_name(u) for u in set(user_ids) if u in inst.users and not inst.users[u].get("UserStatus"))


@check(
    id="aws.sso.inactive_principals",
    collector="aws.sso",
    title="Disabled or deleted Identity Center principals hold no account access",
    description="No account assignment names a user or group that no longer exists in the identity store, and no "
    "user whose UserStatus is DISABLED still holds an assignment (directly or through a group). Identity Center's "
    "APIs do not expose sign-in activity (that is in CloudTrail), so inactivity is judged from status and "
    "existence only; users whose status the identity store does not report make the instance error.",
    severity=Severity.MEDIUM,
    resource_type=USER_TYPE,
    permissions=ALL_PERMISSIONS,
    remediation="Delete the assignment (aws sso-admin delete-account-assignment) or remove the disabled user from "
    "the group (aws identitystore delete-group-membership).",
    risk="Access left on departed identities comes back the moment an account is re-enabled or re-created.",
)
def inactive_principals(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    expected = {"assigned_principals": "exist and are ENABLED"}
    scope_results, instances, ev = _instances(bundle, ctx, expected)
    yield from scope_results
    for inst in instances:
        kw: dict[str, Any] = {"evidence": ev, "expected": expected, "region": inst.region}
        problems = 0
        for listing in (inst.users_failed, inst.groups_failed):
            if listing is not None:
                problems += 1
                yield ctx.error(listing, "*", **kw)
        for (account, ps), call in sorted(inst.assignments_failed.items()):
            problems += 1
            yield ctx.error(call, f"{account}/{inst.ps_name(ps)}", resource_type=ASSIGNMENT_TYPE, **kw)
        unread: set[str] = set()  # assigned groups whose members could not be read
        for a in inst.assignments:
            if inst.exists(a) is False:
                problems += 1
                what = "user" if a.principal_type == "USER" else "group"
                observed = {
                    "account": a.account,
                    "permission_set": inst.ps_name(a.permission_set),
                    what: a.principal_id,
                }
                reason = f"{inst.ps_name(a.permission_set)} in {a.account} is assigned to a deleted {what}"
                rid = assignment_id(inst, a)
                yield ctx.failed(rid, observed=observed, reason=reason, resource_type=ASSIGNMENT_TYPE, **kw)
            elif a.principal_type == "GROUP" and a.principal_id in inst.members_failed and a.principal_id not in unread:
                problems += 1
                unread.add(a.principal_id)
                yield ctx.error(inst.members_failed[a.principal_id], f"group:{inst.group_name(a.principal_id)}", **kw)
        holding: dict[str, list[str]] = {}
        for path in inst.paths():
            if not path.orphan and path.user_id:
                via = f" via group {inst.group_name(path.group_id)}" if path.group_id else " (direct)"
                holding.setdefault(path.user_id, []).append(f"{path.account}/{inst.ps_name(path.permission_set)}{via}")
        for user_id in sorted(holding, key=inst.user_name):
            if str((inst.users.get(user_id) or {}).get("UserStatus", "")).upper() == "DISABLED":
                problems += 1
                name = inst.user_name(user_id)
                observed = {"user": name, "status": "DISABLED", "access": sorted(set(holding[user_id]))}
                reason = f"disabled user {name} still holds {', '.join(sorted(set(holding[user_id])))}"
                yield ctx.failed(f"user:{name}", observed=observed, reason=reason, **kw)
        unreported = _status_unreported(inst, holding)
        if unreported:
            message = (
                f"the identity store reports no UserStatus for {len(unreported)} user(s) holding access "
                f"({', '.join(unreported[:10])}): disabled users cannot be told apart"
            )
            err = ApiError("NotReported", message, OPERATIONS["identitystore:ListUsers"])
            call = ApiCall(STORE, "ListUsers", {"IdentityStoreId": inst.identity_store}, "", None, err)
            yield ctx.error(call, "*", **kw)
        elif not problems:
            observed = {"users_holding_access": len(holding), "assignments": len(inst.assignments)}
            reason = f"the {len(holding)} users holding access exist and are enabled (sign-in activity: CloudTrail)"
            yield ctx.passed(inst.arn, observed=observed, reason=reason, resource_type=INSTANCE_TYPE, **kw)
