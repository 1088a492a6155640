"""The aws.sso evidence read back: instances, permission sets, assignments, users, groups, members.

Pure (no API call): the checks and the access review build the same model from the same recorded
answers. Whatever could not be read is kept beside what was (``failed`` fields hold the recorded
failing call), so a reader can say "not assessed" for exactly that part instead of passing on a
partial picture: a failed ``ListAccountAssignments`` leaves that (account, permission set) unknown,
a failed ``ListGroupMemberships`` that group's members, and so on.

An access path is one person's access: (account, permission set, user) directly, or through one
group. An assignment whose principal is no longer in the identity store (a deleted user or group)
stays visible as an ``orphan`` path.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from collectors.aws.sso.collector import (
    INTERNAL,
    OPERATIONS,
    PERMISSION_SET_DETAILS,
    SCOPE_OPERATION,
    SERVICE,
    STORE,
    selected_instances,
)
from collectors.evidence import ApiCall, ApiError, EvidenceBundle, listing_error


def missing(service: str, operation: str, message: str, params: Mapping[str, Any] | None = None) -> ApiCall:
    """A call the model needed but the evidence does not hold (never a silent gap)."""
    error = ApiError("NotCollected", message, OPERATIONS.get(f"{service}:{operation}"))
    return ApiCall(service, operation, dict(params or {}), "", None, error)


@dataclass
class PermissionSet:
    arn: str
    name: str = ""
    description: str = ""
    session_duration: str = ""
    managed: list[dict[str, Any]] = field(default_factory=list)  # [{"Arn", "Name"}]
    inline: str = ""  # the inline policy document ("" = none)
    customer_managed: list[dict[str, Any]] = field(default_factory=list)  # [{"Name", "Path"}]
    failed: ApiCall | None = None  # one of its detail calls failed: its policies are not all known

    @property
    def label(self) -> str:
        return self.name or self.arn.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Assignment:
    account: str
    permission_set: str  # ARN
    principal_type: str  # USER | GROUP
    principal_id: str


@dataclass(frozen=True)
class AccessPath:
    """One person's access to one account through one permission set, directly or via one group."""

    account: str
    permission_set: str
    user_id: str
    group_id: str | None = None  # None: assigned to the user directly
    membership_id: str | None = None
    orphan: bool = False  # the assigned user (or group) no longer exists in the identity store


@dataclass
class Instance:
    arn: str
    region: str
    identity_store: str
    owner: str | None
    name: str = ""
    permission_sets: dict[str, PermissionSet] = field(default_factory=dict)
    permission_sets_failed: ApiCall | None = None
    accounts: tuple[str, ...] = ()
    assignments: list[Assignment] = field(default_factory=list)
    assignments_failed: dict[tuple[str, str], ApiCall] = field(default_factory=dict)  # (account, ps) -> call
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    users_failed: ApiCall | None = None
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups_failed: ApiCall | None = None
    members: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # group -> [(user id, membership id)]
    members_failed: dict[str, ApiCall] = field(default_factory=dict)

    def user_name(self, user_id: str) -> str:
        user = self.users.get(user_id)
        return str(user.get("UserName") or user.get("DisplayName") or user_id) if user else f"unknown user {user_id}"

    def group_name(self, group_id: str) -> str:
        group = self.groups.get(group_id)
        return str(group.get("DisplayName") or group_id) if group else f"unknown group {group_id}"

    def ps_name(self, arn: str) -> str:
        ps = self.permission_sets.get(arn)
        return ps.label if ps else arn.rsplit("/", 1)[-1]

    def principal_name(self, a: Assignment) -> str:
        return self.user_name(a.principal_id) if a.principal_type == "USER" else self.group_name(a.principal_id)

    def exists(self, a: Assignment) -> bool | None:
        """Whether the assigned principal is in the identity store (None: the listing failed)."""
        if a.principal_type == "USER":
            return None if self.users_failed else a.principal_id in self.users
        return None if self.groups_failed else a.principal_id in self.groups

    def assigned(self, permission_set: str) -> list[Assignment]:
        return [a for a in self.assignments if a.permission_set == permission_set]

    def paths(self, assignments: Iterable[Assignment] | None = None) -> Iterator[AccessPath]:
        """The access paths of these assignments (default: all). A group whose members could not be
        read yields nothing here: callers ask `members_failed` (and say so)."""
        for a in self.assignments if assignments is None else assignments:
            if a.principal_type == "USER":
                yield AccessPath(a.account, a.permission_set, a.principal_id, orphan=self.exists(a) is False)
            elif self.exists(a) is False:
                yield AccessPath(a.account, a.permission_set, "", a.principal_id, orphan=True)
            else:
                for user_id, membership in self.members.get(a.principal_id, []):
                    yield AccessPath(a.account, a.permission_set, user_id, a.principal_id, membership)


@dataclass
class IdentityCenter:
    account: str
    regions: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    configured: bool = False
    instances: list[Instance] = field(default_factory=list)
    failed: ApiCall | None = None  # the scope record or a ListInstances listing failed / is missing


def _items(pages: Iterable[ApiCall], key: str) -> list[Any]:
    return [item for page in pages if page.ok for item in (page.response or {}).get(key) or []]


def _read_permission_set(bundle: EvidenceBundle, instance: str, arn: str) -> PermissionSet:
    ps = PermissionSet(arn)
    for operation in PERMISSION_SET_DETAILS:
        params = {"InstanceArn": instance, "PermissionSetArn": arn}
        calls = _pages_for(bundle, SERVICE, operation, **params)
        bad = _failed(calls, SERVICE, operation, params)
        if bad is not None:
            ps.failed = ps.failed or bad
            continue
        if operation == "DescribePermissionSet":
            described = (calls[0].response or {}).get("PermissionSet") or {}
            ps.name = str(described.get("Name") or "")
            ps.description = str(described.get("Description") or "")
            ps.session_duration = str(described.get("SessionDuration") or "")
        elif operation == "GetInlinePolicyForPermissionSet":
            ps.inline = str((calls[0].response or {}).get("InlinePolicy") or "")
        elif operation == "ListManagedPoliciesInPermissionSet":
            ps.managed = _items(calls, "AttachedManagedPolicies")
        else:
            ps.customer_managed = _items(calls, "CustomerManagedPolicyReferences")
    return ps


def _failed(pages: list[ApiCall], service: str, operation: str, params: Mapping[str, Any]) -> ApiCall | None:
    """The failed page of a listing, or a NotCollected call when nothing was recorded."""
    return listing_error(pages) or (None if pages else missing(service, operation, "not recorded", params))


def _pages_for(bundle: EvidenceBundle, service: str, operation: str, **params: Any) -> list[ApiCall]:
    return [c for c in bundle.all(service, operation) if all(c.params.get(k) == v for k, v in params.items())]


def _read_instance(bundle: EvidenceBundle, region: str, raw: Mapping[str, Any], accounts: tuple[str, ...]) -> Instance:
    arn = str(raw["InstanceArn"])
    store = str(raw.get("IdentityStoreId", ""))
    inst = Instance(arn, region, store, raw.get("OwnerAccountId"), str(raw.get("Name") or ""), accounts=accounts)
    ps_pages = _pages_for(bundle, SERVICE, "ListPermissionSets", InstanceArn=arn)
    inst.permission_sets_failed = _failed(ps_pages, SERVICE, "ListPermissionSets", {"InstanceArn": arn})
    for ps_arn in dict.fromkeys(map(str, _items(ps_pages, "PermissionSets"))):
        inst.permission_sets[ps_arn] = _read_permission_set(bundle, arn, ps_arn)
    by_pair: dict[tuple[str, str], list[ApiCall]] = {}
    for call in _pages_for(bundle, SERVICE, "ListAccountAssignments", InstanceArn=arn):
        pair = (str(call.params.get("AccountId")), str(call.params.get("PermissionSetArn")))
        by_pair.setdefault(pair, []).append(call)
    seen: set[Assignment] = set()
    for account in accounts:
        for ps_arn in inst.permission_sets:
            pages = by_pair.get((account, ps_arn), [])
            params = {"InstanceArn": arn, "AccountId": account, "PermissionSetArn": ps_arn}
            bad = _failed(pages, SERVICE, "ListAccountAssignments", params)
            if bad is not None:
                inst.assignments_failed[(account, ps_arn)] = bad
            for item in _items(pages, "AccountAssignments"):
                a = Assignment(account, ps_arn, str(item.get("PrincipalType")), str(item.get("PrincipalId")))
                if a not in seen:
                    seen.add(a)
                    inst.assignments.append(a)
    users = _pages_for(bundle, STORE, "ListUsers", IdentityStoreId=store)
    inst.users_failed = _failed(users, STORE, "ListUsers", {"IdentityStoreId": store})
    inst.users = {str(u["UserId"]): u for u in _items(users, "Users") if u.get("UserId")}
    groups = _pages_for(bundle, STORE, "ListGroups", IdentityStoreId=store)
    inst.groups_failed = _failed(groups, STORE, "ListGroups", {"IdentityStoreId": store})
    inst.groups = {str(g["GroupId"]): g for g in _items(groups, "Groups") if g.get("GroupId")}
    for group_id in inst.groups:
        params = {"IdentityStoreId": store, "GroupId": group_id}
        pages = _pages_for(bundle, STORE, "ListGroupMemberships", **params)
        bad = _failed(pages, STORE, "ListGroupMemberships", params)
        if bad is not None:
            inst.members_failed[group_id] = bad
        inst.members[group_id] = [
            (str((m.get("MemberId") or {}).get("UserId")), str(m.get("MembershipId", "")))
            for m in _items(pages, "GroupMemberships")
            if (m.get("MemberId") or {}).get("UserId")
        ]
    return inst


def identity_center(bundle: EvidenceBundle) -> IdentityCenter:
    """The model of one aws.sso scope (see the module doc)."""
    out = IdentityCenter(bundle.scope.account)
    scope_call = bundle.find(INTERNAL, SCOPE_OPERATION)
    if scope_call is None or not scope_call.ok:
        out.failed = scope_call or missing(INTERNAL, SCOPE_OPERATION, "no recorded Identity Center scope")
        return out
    scope = scope_call.response or {}
    out.regions = tuple(scope.get("regions") or ())
    out.accounts = tuple(scope.get("accounts") or ())
    out.configured = bool(scope.get("configured"))
    for region in out.regions:
        pages = _pages_for(bundle, SERVICE, "ListInstances", Region=region)
        bad = _failed(pages, SERVICE, "ListInstances", {"Region": region})
        if bad is not None:
            out.failed = out.failed or bad
    for region, raw in selected_instances(bundle, out.account):
        out.instances.append(_read_instance(bundle, region, raw, out.accounts))
    return out
