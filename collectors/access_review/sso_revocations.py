"""Identity Center revocations of a completed access review: fetch what verifies them, and judge each one.

A completed review's Identity Center row marked Revoke carries its access path in completed.json
(``revocations[].identity_center``: the account that administers Identity Center, region, instance,
identity store, target account, permission set, user, and the group it came through). It is verified in
the administering account's access_review scope (the only account whose role can read Identity Center),
whatever account the access reached:

- fetch: ``sso-admin:ListAccountAssignments`` once per distinct (instance, target account, permission
  set), paginated; ``identitystore:ListGroupMemberships`` once per distinct group of a via-group path;
- judge: the path is gone when its assignment (the user's own, or the group's) is no longer listed, or,
  for a via-group path, the user is no longer a member of the group. A path still present is judged by
  access_review.revocations_done with its grace period.

Not a collector of its own: reviews.py calls it (this module registers nothing).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from collectors.evidence import ApiCall, ApiError, EvidenceBundle, Recorder, listing_error

OPERATIONS = {
    "sso-admin:ListAccountAssignments": "sso:ListAccountAssignments",
    "identitystore:ListGroupMemberships": "identitystore:ListGroupMemberships",
}
RESOURCE_TYPE = "AWS::SSO::AccountAssignment"
PAGE = 100


def revoked_paths(completed: Mapping[str, Any], account: str) -> list[dict[str, Any]]:
    """The Identity Center paths marked Revoke whose Identity Center is administered from `account`:
    each {"arn", "principal", "reviewer"..., "path": the stored access path}."""
    out = []
    for r in completed.get("revocations") or []:
        path = r.get("identity_center")
        if isinstance(path, Mapping) and path.get("identity_center_account") == account:
            out.append({**r, "path": dict(path)})
    return out


def _assignment_params(path: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "InstanceArn": path["instance_arn"],
        "AccountId": path["account"],
        "PermissionSetArn": path["permission_set_arn"],
        "MaxResults": PAGE,
    }


def _membership_params(path: Mapping[str, Any]) -> dict[str, Any] | None:
    if not path.get("group_id") or not path.get("user_id"):
        return None
    return {"IdentityStoreId": path["identity_store_id"], "GroupId": path["group_id"], "MaxResults": PAGE}


def fetch(ctx: Any, rec: Recorder, paths: Iterable[Mapping[str, Any]]) -> None:
    """The calls that verify these paths (see the module doc), each distinct call once."""
    jobs: dict[tuple[str, str, str], tuple[str, str, dict[str, Any]]] = {}
    for path in paths:
        params = _assignment_params(path)
        jobs[("sso-admin", path["region"], repr(sorted(params.items())))] = ("sso-admin", path["region"], params)
        members = _membership_params(path)
        if members is not None:
            jobs[("identitystore", path["region"], repr(sorted(members.items())))] = (
                "identitystore",
                path["region"],
                members,
            )

    def run(job: tuple[str, str, dict[str, Any]]) -> None:
        service, region, params = job
        operation = "ListAccountAssignments" if service == "sso-admin" else "ListGroupMemberships"
        client = ctx.client(service, region)
        method = client.list_account_assignments if service == "sso-admin" else client.list_group_memberships
        rec.paginate(service, operation, method, "NextToken", "NextToken", **params)

    ctx.map(run, list(jobs.values()))


def _pages(bundle: EvidenceBundle, service: str, operation: str, params: Mapping[str, Any]) -> list[ApiCall]:
    return [c for c in bundle.all(service, operation) if all(c.params.get(k) == v for k, v in params.items())]


def _answer(bundle: EvidenceBundle, service: str, operation: str, params: Mapping[str, Any], key: str):
    """(items, failed call) of one recorded listing; a listing never recorded is a NotCollected failure."""
    pages = _pages(bundle, service, operation, params)
    failed = listing_error(pages)
    if not pages:
        error = ApiError("NotCollected", "not recorded", OPERATIONS[f"{service}:{operation}"])
        failed = ApiCall(service, operation, dict(params), "", None, error)
    items = [i for p in pages if p.ok for i in (p.response or {}).get(key) or []]
    return items, failed


def still_present(bundle: EvidenceBundle, path: Mapping[str, Any]) -> tuple[bool | None, ApiCall | None]:
    """Whether the access path still exists (None with the failed call when it cannot be told)."""
    assignments, failed = _answer(
        bundle, "sso-admin", "ListAccountAssignments", _assignment_params(path), "AccountAssignments"
    )
    if failed is not None:
        return None, failed
    kind = "GROUP" if path.get("group_id") else "USER"
    principal = path.get("group_id") or path.get("user_id")
    assigned = any(a.get("PrincipalType") == kind and a.get("PrincipalId") == principal for a in assignments)
    members_params = _membership_params(path)
    if not assigned or members_params is None:
        return assigned, None
    members, failed = _answer(bundle, "identitystore", "ListGroupMemberships", members_params, "GroupMemberships")
    if failed is not None:
        return None, failed
    return any((m.get("MemberId") or {}).get("UserId") == path["user_id"] for m in members), None


def evidence_ops() -> tuple[tuple[str, str], ...]:
    return tuple(tuple(k.split(":", 1)) for k in OPERATIONS)  # type: ignore[misc]
