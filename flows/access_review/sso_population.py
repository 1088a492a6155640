"""The Identity Center population of an access review, built from the recorded aws.sso answers (no API
call here), and the aws commands that revoke a row.

One row per access path: (person, account, permission set, via one group or direct), for every account in
scope. Account = the account the permission set reaches; Type "Identity Center user"; Principal = the user
name; ARN = "<permission set ARN> in <account> user:<name> via group:<group>" (or "via direct
assignment"), the row's stable identity, unique on its own (revocations_done reports by it); Groups = the
group it comes through; Policies = the permission set and its policies; Privileged as
aws.sso.privileged_permission_sets judges it (AWS managed policies named in its
privileged_aws_managed_policies threshold, an inline * / iam:* on *; "undetermined" for customer managed
policy references); Console access = the Identity Center portal and the user's status. An assignment
to a principal the identity store no longer holds is a row too (Principal "unknown user <id>" or Type
"Identity Center group" "deleted group <id>"): it is access nobody owns.

Never silently partial: whatever could not be read (an account that could not be entered,
aws.identity_center naming an account out of scope, ListInstances denied, no instance where configured,
a permission-set listing, an (account, permission set) assignment listing, users, groups or a group's
members) is stated in ctx.gaps, with the operation, error and permission; the workbook then says the
population is incomplete.

Revocation (on completion): a direct assignment ->
``aws sso-admin delete-account-assignment ... --principal-type USER``; through a group -> remove the
person from the group (``aws identitystore delete-group-membership``; every account the group reaches),
or, alternatively, the group's assignment (``--principal-type GROUP``; every member loses this account).
access_review.revocations_done verifies that the row's path is gone either way.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from collectors.aws.sso import AccessPath, Instance, identity_center, permission_set_privilege
from collectors.aws.sso.model import PermissionSet
from collectors.evidence import ApiCall
from flows.access_review.context import AccessReviewContext, IdentityCenterEvidence
from reports.access_review import Principal

SSO_USER = "Identity Center user"
SSO_GROUP = "Identity Center group"
KIND = "sso_assignment"
CHECK = "aws.sso.privileged_permission_sets"
DEFAULT_PRIVILEGED = ("AdministratorAccess", "IAMFullAccess")
NOT_EXPOSED = "not exposed by the Identity Center API (CloudTrail)"


def _gap(where: str, call: ApiCall) -> str:
    err = call.error
    assert err is not None
    permission = f" (needs {err.permission})" if err.permission else ""
    return f"Identity Center ({where}): {call.service}:{call.operation} failed: {err.code}: {err.message}{permission}"


def _policies(ps: PermissionSet) -> str:
    parts = [f"AWS managed {p.get('Name') or p.get('Arn')}" for p in ps.managed]
    parts += ["inline policy"] if ps.inline else []
    parts += [f"customer managed {r.get('Path') or '/'}{r.get('Name')}" for r in ps.customer_managed]
    return f"permission set {ps.label}" + (f": {'; '.join(parts)}" if parts else "")


def _email(user: Mapping[str, Any] | None) -> str:
    emails = (user or {}).get("Emails") or []
    primary = next((e for e in emails if e.get("Primary")), emails[0] if emails else {})
    return str(primary.get("Value") or "")


def row_arn(inst: Instance, path: AccessPath) -> str:
    """The stable identity of one access path (see the module doc)."""
    where = f"{path.permission_set} in {path.account}"
    if not path.user_id:
        return f"{where} group:deleted group {path.group_id}"
    via = f"via group:{inst.group_name(path.group_id)}" if path.group_id else "via direct assignment"
    return f"{where} user:{inst.user_name(path.user_id)} {via}"


def _row(inst: Instance, path: AccessPath, ic_account: str, ctx: AccessReviewContext) -> Principal:
    ps = inst.permission_sets[path.permission_set]
    thresholds = ctx.cfg.thresholds.get(CHECK, {})
    priv = permission_set_privilege(ps, thresholds.get("privileged_aws_managed_policies", DEFAULT_PRIVILEGED))
    user = inst.users.get(path.user_id) if path.user_id else None
    status = str((user or {}).get("UserStatus") or "status not reported") if user else "no longer in the store"
    p = Principal(
        account=path.account,
        account_name=ctx.account_names.get(path.account, path.account),
        principal_type=SSO_USER if path.user_id else SSO_GROUP,
        name=inst.user_name(path.user_id) if path.user_id else f"deleted group {path.group_id}",
        arn=row_arn(inst, path),
        email=_email(user),
        groups=inst.group_name(path.group_id) if path.group_id and path.user_id else "",
        policies=_policies(ps),
        privileged="yes" if priv.grants else ("undetermined" if priv.undetermined else "no"),
        privileged_through="; ".join(priv.grants + [f"undetermined: {u}" for u in priv.undetermined]),
        console_access=f"Identity Center portal (user {status})" if path.user_id else "n/a (deleted group)",
        mfa="set in Identity Center / the identity provider (not collected)",
        last_activity=NOT_EXPOSED,
        key_ages="n/a (Identity Center)",
    )
    ctx.details[p.key] = {
        "kind": KIND,
        "identity_center_account": ic_account,
        "region": inst.region,
        "instance_arn": inst.arn,
        "identity_store_id": inst.identity_store,
        "account": path.account,
        "permission_set_arn": path.permission_set,
        "permission_set": ps.label,
        "user_id": path.user_id or None,
        "user": inst.user_name(path.user_id) if path.user_id else None,
        "group_id": path.group_id,
        "group": inst.group_name(path.group_id) if path.group_id else None,
        "membership_id": path.membership_id,
        "principal_type": "GROUP" if path.group_id else "USER",
        "principal_id": path.group_id or path.user_id,
    }
    return p


def _instance_rows(inst: Instance, ic_account: str, ctx: AccessReviewContext) -> list[Principal]:
    where = f"account {ic_account}, {inst.region}"
    if inst.permission_sets_failed is not None:
        ctx.gaps.append(_gap(where, inst.permission_sets_failed))
        return []
    for (account, ps), call in sorted(inst.assignments_failed.items()):
        ctx.gaps.append(_gap(f"{where}: assignments of {inst.ps_name(ps)} in {account}", call))
    for call in (inst.users_failed, inst.groups_failed):
        if call is not None:
            ctx.gaps.append(_gap(where, call))
    for group, call in sorted(inst.members_failed.items()):
        if any(a.principal_id == group for a in inst.assignments):  # an assigned group's members are unknown
            ctx.gaps.append(_gap(f"{where}: members of group {inst.group_name(group)}", call))
    rows = {}
    for path in inst.paths():
        p = _row(inst, path, ic_account, ctx)
        rows[p.key] = p
    return list(rows.values())


def _evidence_rows(ev: IdentityCenterEvidence, ctx: AccessReviewContext) -> list[Principal]:
    if ev.failure is not None or ev.bundle is None:
        if ev.failure is not None:
            ctx.gaps.append(_gap(f"account {ev.account}", ev.failure))
        return []
    ic = identity_center(ev.bundle)
    if ic.failed is not None:
        ctx.gaps.append(_gap(f"account {ev.account}", ic.failed))
    elif not ic.instances and ic.configured:
        regions = ", ".join(ic.regions)
        ctx.gaps.append(
            f"Identity Center (account {ev.account}): no active instance in {regions}: aws.identity_center names "
            "the wrong account or region (needs sso:ListInstances there)"
        )
    rows: list[Principal] = []
    for inst in ic.instances:
        rows += _instance_rows(inst, ev.account, ctx)
    return rows


def sso_population(ctx: AccessReviewContext) -> list[Principal]:
    """One row per Identity Center access path of every account in scope; gaps go to ctx.gaps (never raises)."""
    rows: dict[str, Principal] = {}
    for ev in ctx.identity_center:
        for p in _evidence_rows(ev, ctx):
            rows[p.key] = p
    return list(rows.values())


def _aws(*words: str) -> str:
    return " ".join(shlex.quote(w) if not w.startswith("--") else w for w in words)


def sso_revoke_commands(detail: Mapping[str, Any]) -> tuple[str, str | None]:
    """(the command that removes the row's access, an alternative or None); see the module doc."""
    delete = [
        "aws", "sso-admin", "delete-account-assignment", "--region", detail["region"],
        "--instance-arn", detail["instance_arn"], "--target-id", detail["account"], "--target-type", "AWS_ACCOUNT",
        "--permission-set-arn", detail["permission_set_arn"],
    ]  # fmt: skip
    by_group = [*delete, "--principal-type", "GROUP", "--principal-id", str(detail.get("group_id"))]
    if not detail.get("group_id"):
        return _aws(*delete, "--principal-type", "USER", "--principal-id", str(detail.get("user_id"))), None
    if not detail.get("user_id") or not detail.get("membership_id"):  # a deleted group: its assignment
        return _aws(*by_group), None
    leave = _aws(
        "aws", "identitystore", "delete-group-membership", "--region", detail["region"],
        "--identity-store-id", detail["identity_store_id"], "--membership-id", detail["membership_id"],
    )  # fmt: skip
    return leave, _aws(*by_group)
