"""aws.sso: the IAM Identity Center fetch (sso-admin + identitystore) and its API cost.

Identity Center is administered from one account (the organization's management account, or
its delegated administrator) in one region; every other account only receives what it assigns.
The collector runs once per account ("global" scope), but only collects an instance it should:

- configured (``aws.identity_center: {account, region}``): only in that account, and only
  ``ListInstances`` in that region; every ACTIVE instance listed there is collected. No instance
  there is an `error` (wrong account or region), never a silent "nothing to check";
- discovered (no ``aws.identity_center``): in every account in scope, ``ListInstances`` in each of
  the account's regions; an instance is collected from the account that owns it
  (``OwnerAccountId``), or, when its owner is not in scope, from the account that sees it (the
  delegated administrator: AWS allows one). No instance anywhere is `not_applicable` per account.

Per collected instance (one flat, bounded fan-out; ``MaxResults`` 100, the APIs' maximum):

- ``ListPermissionSets``; per permission set ``DescribePermissionSet``,
  ``ListManagedPoliciesInPermissionSet``, ``GetInlinePolicyForPermissionSet`` and
  ``ListCustomerManagedPolicyReferencesInPermissionSet`` (4 calls);
- ``ListAccountAssignments`` for every (account in scope × permission set). Not
  ``ListAccountsForProvisionedPermissionSet`` + assignments: moto answers that call with the
  caller's account whatever was provisioned where, and AWS only lists accounts where the set is
  *provisioned*, which an assignment being deleted can outlive. The product is exact and its cost
  is known: accounts × permission sets calls;
- identitystore ``ListUsers`` and ``ListGroups`` (100 a page), ``ListGroupMemberships`` per group.

Cost: 2 + 4·P + A·P + ceil(U/100) + ceil(G/100) + G calls for P permission sets, A accounts,
U users and G groups (2,000 users, 200 groups, 50 sets, 100 accounts: ~5,420 calls).

What the fetch was asked to cover (regions, accounts, configured or discovered) is recorded first
as ``soc2-evidence:IdentityCenterScope``, so `evaluate RUN` re-derives the same results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore import xform_name

from collectors.evidence import ApiCall, EvidenceBundle, Recorder
from collectors.registry import CollectorSpec, FetchContext, register_collector

SERVICE = "sso-admin"
STORE = "identitystore"
INTERNAL = "soc2-evidence"
SCOPE_OPERATION = "IdentityCenterScope"
PAGE = 100  # MaxResults maximum of every listing used here
OPERATIONS = {
    "sso-admin:ListInstances": "sso:ListInstances",
    "sso-admin:ListPermissionSets": "sso:ListPermissionSets",
    "sso-admin:DescribePermissionSet": "sso:DescribePermissionSet",
    "sso-admin:ListManagedPoliciesInPermissionSet": "sso:ListManagedPoliciesInPermissionSet",
    "sso-admin:GetInlinePolicyForPermissionSet": "sso:GetInlinePolicyForPermissionSet",
    "sso-admin:ListCustomerManagedPolicyReferencesInPermissionSet": (
        "sso:ListCustomerManagedPolicyReferencesInPermissionSet"
    ),
    "sso-admin:ListAccountAssignments": "sso:ListAccountAssignments",
    "identitystore:ListUsers": "identitystore:ListUsers",
    "identitystore:ListGroups": "identitystore:ListGroups",
    "identitystore:ListGroupMemberships": "identitystore:ListGroupMemberships",
}
PERMISSION_SET_DETAILS = (
    "DescribePermissionSet",
    "ListManagedPoliciesInPermissionSet",
    "GetInlinePolicyForPermissionSet",
    "ListCustomerManagedPolicyReferencesInPermissionSet",
)
PAGINATED = frozenset({"ListManagedPoliciesInPermissionSet", "ListCustomerManagedPolicyReferencesInPermissionSet"})


@dataclass(frozen=True)
class IdentityCenterScope:
    """Where the fetch looks (plain data: it travels with the task to any worker).

    regions: where ListInstances is called; accounts: the accounts whose assignments are
    enumerated (the run's accounts in scope); configured: aws.identity_center names this account."""

    regions: tuple[str, ...]
    accounts: tuple[str, ...]
    configured: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"regions": list(self.regions), "accounts": list(self.accounts), "configured": self.configured}


def _in_region(ctx: Any, service: str, region: str, method: str) -> Callable[..., Any]:
    """An API method of the region's client; the recorded "Region" parameter is not sent."""

    def call(**params: Any) -> Any:
        sent = {k: v for k, v in params.items() if k != "Region"}
        return getattr(ctx.client(service, region), method)(**sent)

    return call


def selected_instances(bundle: EvidenceBundle, account: str) -> list[tuple[str, dict[str, Any]]]:
    """(region, instance) pairs this account's fetch collects (see the module doc); pure, so the
    fetch and the checks agree on the same recorded answers."""
    scope_call = bundle.find(INTERNAL, SCOPE_OPERATION)
    scope = (scope_call.response or {}) if scope_call and scope_call.ok else {}
    configured = bool(scope.get("configured"))
    in_scope = set(scope.get("accounts") or [])
    out: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    for page in bundle.all(SERVICE, "ListInstances"):
        region = str(page.params.get("Region", ""))
        for inst in (page.response or {}).get("Instances") or [] if page.ok else []:
            arn = str(inst.get("InstanceArn", ""))
            if not arn or arn in seen or inst.get("Status", "ACTIVE") != "ACTIVE":
                continue
            owner = inst.get("OwnerAccountId")
            if configured or owner in (None, account) or owner not in in_scope:
                seen.add(arn)
                out.append((region, inst))
    return out


def _paginate(rec: Recorder, service: str, operation: str, fn: Callable[..., Any], **params: Any) -> list[ApiCall]:
    return rec.paginate(service, operation, fn, "NextToken", "NextToken", **params)


def _ids(pages: Iterable[ApiCall], key: str, field: str | None = None) -> list[str]:
    out = []
    for page in pages:
        for item in (page.response or {}).get(key) or [] if page.ok else []:
            value = item.get(field) if field and isinstance(item, Mapping) else item
            if value:
                out.append(str(value))
    return list(dict.fromkeys(out))


def fetch_instance(ctx: Any, region: str, instance: Mapping[str, Any], accounts: Iterable[str]) -> None:
    """Everything the checks and the access review read about one instance (see the module doc)."""
    rec: Recorder = ctx.recorder
    arn = str(instance["InstanceArn"])
    store = str(instance.get("IdentityStoreId", ""))

    def listing(service: str, operation: str, **params: Any) -> Callable[[], list[ApiCall]]:
        method = _in_region(ctx, service, region, xform_name(operation))
        return lambda: _paginate(rec, service, operation, method, MaxResults=PAGE, **params)

    def single(operation: str, **params: Any) -> Callable[[], ApiCall]:
        method = _in_region(ctx, SERVICE, region, xform_name(operation))
        return lambda: rec.call(SERVICE, operation, method, **params)

    first = [
        listing(SERVICE, "ListPermissionSets", InstanceArn=arn),
        listing(STORE, "ListUsers", IdentityStoreId=store),
        listing(STORE, "ListGroups", IdentityStoreId=store),
    ]
    ps_pages, _, group_pages = ctx.map(lambda job: job(), first)
    permission_sets = _ids(ps_pages, "PermissionSets")
    jobs: list[Callable[[], Any]] = []
    for ps in permission_sets:
        for operation in PERMISSION_SET_DETAILS:
            if operation in PAGINATED:
                jobs.append(listing(SERVICE, operation, InstanceArn=arn, PermissionSetArn=ps))
            else:
                jobs.append(single(operation, InstanceArn=arn, PermissionSetArn=ps))
    for account in accounts:
        for ps in permission_sets:
            jobs.append(
                listing(SERVICE, "ListAccountAssignments", InstanceArn=arn, AccountId=account, PermissionSetArn=ps)
            )
    for group in _ids(group_pages, "Groups", "GroupId"):
        jobs.append(listing(STORE, "ListGroupMemberships", IdentityStoreId=store, GroupId=group))
    ctx.map(lambda job: job(), jobs)


def fetch(ctx: FetchContext) -> None:
    rec = ctx.recorder
    scope = getattr(ctx, "identity_center", None)
    if scope is None:  # run outside the flow: this account, the context's region
        region = ctx.region if ctx.region != "global" else "us-east-1"
        scope = IdentityCenterScope((region,), (ctx.account,))
    rec.record(INTERNAL, SCOPE_OPERATION, {}, response=scope.to_json())

    def instances(region: str) -> list[ApiCall]:
        method = _in_region(ctx, SERVICE, region, "list_instances")
        return _paginate(rec, SERVICE, "ListInstances", method, Region=region, MaxResults=PAGE)

    ctx.map(instances, scope.regions)
    for region, instance in selected_instances(rec.bundle, ctx.account):
        fetch_instance(ctx, region, instance, scope.accounts)


register_collector(
    CollectorSpec(
        id="aws.sso",
        provider="aws",
        service=SERVICE,
        per_region=False,
        operations=OPERATIONS,
        fetch=fetch,
        description="IAM Identity Center: instances, permission sets (managed, inline and customer managed "
        "policies), account assignments per account in scope, identity-store users, groups and memberships "
        "(once, from the account that administers Identity Center)",
    )
)
