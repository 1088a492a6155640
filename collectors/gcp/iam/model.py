"""The gcp.iam evidence read back: the project's bindings, those it inherits, its service-account keys.

Pure (no API call): the checks and the access review read the same model. What could not be read is kept
beside what was, as the recorded failing call: the project policy (`policy_failed`), the ancestry
(`ancestry_failed`), one ancestor's policy (`inherited_failed`, by "folders/F" / "organizations/O"), the
service-account listing (`accounts_failed`) or one account's keys (`keys_failed`, by e-mail).

A binding is one (source, role, member, condition): a policy binding lists several members, each is its
own binding here, so each can be judged, reviewed and revoked alone. Its `id` names the source first
("projects/dexo-prod roles/owner user:cto@dexo.chat"), then the condition when there is one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from collectors.evidence import ApiCall, ApiError, EvidenceBundle, listing_error
from collectors.gcp.iam.collector import CRM, OPERATIONS, SERVICE, accounts, ancestors

PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")


def condition_text(condition: Mapping[str, Any] | None) -> str:
    if not condition:
        return ""
    title, expression = str(condition.get("title") or ""), str(condition.get("expression") or "")
    return f"{title}: {expression}" if title else expression


@dataclass(frozen=True)
class Binding:
    source: str  # "projects/P", "folders/F", "organizations/O"
    role: str
    member: str
    condition: Mapping[str, Any] | None = None

    @property
    def id(self) -> str:
        cond = condition_text(self.condition)
        return f"{self.source} {self.role} {self.member}" + (f" [condition {cond}]" if cond else "")

    @property
    def inherited(self) -> bool:
        return not self.source.startswith("projects/")

    @property
    def kind(self) -> str:
        """The member's kind: user, group, domain, serviceAccount, deleted, public, principal..."""
        if self.member in PUBLIC_MEMBERS:
            return "public"
        return self.member.split(":", 1)[0]


@dataclass
class ProjectIam:
    project: str
    bindings: list[Binding] = field(default_factory=list)  # the project's own and the inherited ones
    policy_failed: ApiCall | None = None
    ancestry_failed: ApiCall | None = None
    inherited_failed: dict[str, ApiCall] = field(default_factory=dict)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    accounts_failed: ApiCall | None = None
    keys: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # service account e-mail -> keys
    keys_failed: dict[str, ApiCall] = field(default_factory=dict)


def _missing(service: str, operation: str, params: Mapping[str, Any]) -> ApiCall:
    error = ApiError("NotCollected", "not recorded", OPERATIONS[f"{service}:{operation}"])
    return ApiCall(service, operation, dict(params), "", None, error)


def _bindings(source: str, policy: Mapping[str, Any]) -> list[Binding]:
    out = []
    for b in policy.get("bindings") or []:
        condition = b.get("condition") or None
        out += [Binding(source, str(b.get("role", "")), str(m), condition) for m in b.get("members") or []]
    return out


def _one(bundle: EvidenceBundle, service: str, operation: str, **params: Any) -> tuple[Any, ApiCall | None]:
    call = bundle.find(service, operation, **params)
    if call is None:
        return None, _missing(service, operation, params)
    return (call.response or {}, None) if call.ok else (None, call)


def project_iam(bundle: EvidenceBundle) -> ProjectIam:
    """The model of one gcp.iam scope (see the module doc)."""
    project = bundle.scope.account
    out = ProjectIam(project)
    resource = f"projects/{project}"
    policy, out.policy_failed = _one(bundle, CRM, "GetProjectIamPolicy", resource=resource, requestedPolicyVersion=3)
    out.bindings += _bindings(resource, policy or {})
    ancestry = bundle.find(CRM, "GetAncestry", project=project)
    out.ancestry_failed = (
        _missing(CRM, "GetAncestry", {"project": project}) if ancestry is None else (None if ancestry.ok else ancestry)
    )
    for source, operation in ancestors(ancestry):
        inherited, failed = _one(bundle, CRM, operation, resource=source, requestedPolicyVersion=3)
        if failed is not None:
            out.inherited_failed[source] = failed
        out.bindings += _bindings(source, inherited or {})
    pages = bundle.all(SERVICE, "ListServiceAccounts")
    out.accounts_failed = listing_error(pages) or (
        None if pages else _missing(SERVICE, "ListServiceAccounts", {"name": resource})
    )
    out.accounts = accounts(pages)
    for account in out.accounts:
        email = str(account.get("email", ""))
        answer, failed = _one(bundle, SERVICE, "ListServiceAccountKeys", serviceAccount=email, keyTypes="USER_MANAGED")
        if failed is not None:
            out.keys_failed[email] = failed
        out.keys[email] = list((answer or {}).get("keys") or [])
    return out
