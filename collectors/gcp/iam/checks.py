"""The gcp.iam checks: basic (primitive) roles held by people, public bindings, old service-account keys.

Bindings are judged where they apply: the project's own and those it inherits from its folders and
organization (one result per binding, its id naming the source). What could not be read is `error` for
exactly that part: the project policy ("*"), the ancestry ("ancestors"), one ancestor ("folders/F"), the
service-account listing ("*") or one account's keys (its e-mail); the rest is still judged.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from collectors.evidence import EvidenceBundle
from collectors.gcp.iam.collector import CRM, OPERATIONS, SERVICE
from collectors.gcp.iam.model import Binding, ProjectIam, condition_text, project_iam
from collectors.registry import CheckContext, check
from controls import CheckResult, EvidenceRef, Severity, Status

BINDING_TYPE = "GCP::IAM::Binding"
KEY_TYPE = "GCP::IAM::ServiceAccountKey"
PROJECT_TYPE = "GCP::ResourceManager::Project"
POLICY_PERMISSIONS = sorted(p for k, p in OPERATIONS.items() if k.startswith(CRM))
KEY_PERMISSIONS = sorted(p for k, p in OPERATIONS.items() if k.startswith(SERVICE))


def _policy_evidence(bundle: EvidenceBundle) -> tuple[EvidenceRef, ...]:
    return bundle.refs_for(*(tuple(k.split(":", 1)) for k in OPERATIONS if k.startswith(CRM)))  # type: ignore[misc]


def _policy_errors(model: ProjectIam, ctx: CheckContext, **kw: Any) -> Iterator[CheckResult]:
    if model.policy_failed is not None:
        yield ctx.error(model.policy_failed, "*", **kw)
    if model.ancestry_failed is not None:
        yield ctx.error(model.ancestry_failed, "ancestors", **kw)
    for source, call in sorted(model.inherited_failed.items()):
        yield ctx.error(call, source, **kw)


def _observed(b: Binding) -> dict[str, Any]:
    condition = condition_text(b.condition) or None
    return {"source": b.source, "inherited": b.inherited, "role": b.role, "member": b.member, "condition": condition}


def _project_pass(
    ctx: CheckContext, model: ProjectIam, reason: str, observed: dict[str, Any], **kw: Any
) -> CheckResult:
    return ctx.passed(model.project, observed=observed, reason=reason, resource_type=PROJECT_TYPE, **kw)


def _matches(member: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(member, str(p)) for p in patterns)


@check(
    id="gcp.iam.primitive_roles",
    collector="gcp.iam",
    title="Basic roles (Owner, Editor) are not granted to people",
    description="No user, group, domain or public member holds a basic role (roles/owner, roles/editor: the "
    "roles threshold) on the project, directly or inherited from a folder or the organization; one fail per "
    "binding (conditional bindings included, with their condition) unless the member matches allowed_members. "
    "Service accounts holding them are listed as not applicable (a workload, reviewed with its keys). A project "
    "with none passes.",
    severity=Severity.HIGH,
    resource_type=BINDING_TYPE,
    permissions=POLICY_PERMISSIONS,
    remediation="Replace the basic role with predefined roles for what the person does (gcloud projects "
    "remove-iam-policy-binding P --member=M --role=roles/editor, then add-iam-policy-binding with the narrow role).",
    thresholds={"roles": ["roles/owner", "roles/editor"], "allowed_members": []},
    risk="Owner and Editor reach every service of the project: one phished account changes or deletes everything.",
)
def primitive_roles(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    roles = set(ctx.thresholds["roles"])
    expected = {"basic_roles_held_by_people": [], "roles": sorted(roles)}
    model = project_iam(bundle)
    kw: dict[str, Any] = {"evidence": _policy_evidence(bundle), "expected": expected}
    yield from _policy_errors(model, ctx, **kw)
    found = 0
    for b in sorted((b for b in model.bindings if b.role in roles), key=lambda b: b.id):
        found += 1
        observed = _observed(b)
        where = f"inherited from {b.source}" if b.inherited else "on the project"
        if b.kind == "serviceAccount":
            reason = f"{b.role} {where} is held by a service account (outside this check: people only)"
            yield ctx.not_applicable(b.id, observed=observed, reason=reason, **kw)
        elif _matches(b.member, ctx.thresholds["allowed_members"]):
            yield ctx.passed(b.id, observed=observed, reason=f"{b.role} {where}: member allowed", **kw)
        else:
            yield ctx.failed(b.id, observed=observed, reason=f"{b.member} holds {b.role} {where}", **kw)
    if not found and model.policy_failed is None:
        reason = f"no basic role in the {len(model.bindings)} bindings that apply to the project"
        yield _project_pass(ctx, model, reason, {"bindings": len(model.bindings)}, **kw)


@check(
    id="gcp.iam.public_bindings",
    collector="gcp.iam",
    title="No project IAM binding is public",
    description="No binding that applies to the project (its own, or inherited from a folder or the "
    "organization) grants a role to allUsers or allAuthenticatedUsers; one fail per such binding, a project "
    "with none passes.",
    severity=Severity.CRITICAL,
    resource_type=BINDING_TYPE,
    permissions=POLICY_PERMISSIONS,
    remediation="gcloud projects remove-iam-policy-binding P --member=allUsers --role=R (or allAuthenticatedUsers; "
    "for an inherited binding, on the folder or organization).",
    risk="A public binding gives the role to anyone on the internet (or any Google account).",
)
def public_bindings(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    expected = {"public_members": []}
    model = project_iam(bundle)
    kw: dict[str, Any] = {"evidence": _policy_evidence(bundle), "expected": expected}
    yield from _policy_errors(model, ctx, **kw)
    public = sorted((b for b in model.bindings if b.kind == "public"), key=lambda b: b.id)
    for b in public:
        where = f"inherited from {b.source}" if b.inherited else "on the project"
        yield ctx.failed(b.id, observed=_observed(b), reason=f"{b.role} granted to {b.member} {where}", **kw)
    if not public and model.policy_failed is None:
        reason = f"none of the {len(model.bindings)} bindings that apply to the project is public"
        yield _project_pass(ctx, model, reason, {"bindings": len(model.bindings)}, **kw)


def _parse(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


@check(
    id="gcp.iam.service_account_keys",
    collector="gcp.iam",
    title="Service-account keys are not older than 90 days",
    description="Every user-managed key of the project's service accounts (keyTypes=USER_MANAGED: the ones "
    "someone downloaded; Google-managed keys rotate themselves) was created (validAfterTime) within "
    "max_age_days; a disabled key is not applicable; a project without user-managed keys passes.",
    severity=Severity.MEDIUM,
    resource_type=KEY_TYPE,
    permissions=KEY_PERMISSIONS,
    remediation="Create a new key, deploy it, then gcloud iam service-accounts keys delete KEY_ID "
    "--iam-account=EMAIL; better, replace keys with workload identity federation or attached service accounts.",
    thresholds={"max_age_days": 90},
    risk="A long-lived key file is a password that never expires, copied to laptops, CI systems and backups.",
)
def service_account_keys(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    max_days = int(ctx.thresholds["max_age_days"])
    expected = {"max_age_days": max_days}
    model = project_iam(bundle)
    ops = [tuple(k.split(":", 1)) for k in OPERATIONS if k.startswith(SERVICE)]
    kw: dict[str, Any] = {"evidence": bundle.refs_for(*ops), "expected": expected}  # type: ignore[arg-type]
    if model.accounts_failed is not None:
        yield ctx.error(model.accounts_failed, "*", **kw)
    for email, call in sorted(model.keys_failed.items()):
        yield ctx.error(call, email, resource_type="GCP::IAM::ServiceAccount", **kw)
    found = 0
    for email, keys in sorted(model.keys.items()):
        for key in sorted(keys, key=lambda k: str(k.get("name"))):
            if str(key.get("keyType", "USER_MANAGED")) != "USER_MANAGED":
                continue
            found += 1
            name = str(key.get("name") or f"{email}/keys/?")
            made = _parse(key.get("validAfterTime"))
            observed = {
                "service_account": email,
                "created": key.get("validAfterTime"),
                "expires": key.get("validBeforeTime"),
                "disabled": bool(key.get("disabled")),
            }
            if key.get("disabled"):
                yield ctx.not_applicable(name, observed=observed, reason="disabled key (cannot authenticate)", **kw)
                continue
            if made is None:  # never a pass on a key whose age is unknown
                reason = f"not assessed ({name}): its creation time {key.get('validAfterTime')!r} is not a date"
                yield ctx.result(
                    Status.ERROR, name, observed={**observed, "error_code": "Unparseable"}, reason=reason, **kw
                )
                continue
            age = int((ctx.as_of - made).total_seconds() // 86400)
            observed["age_days"] = age
            if age > max_days:
                yield ctx.failed(name, observed=observed, reason=f"user-managed key of {email} is {age} days old", **kw)
            else:
                yield ctx.passed(name, observed=observed, reason=f"user-managed key of {email}, {age} days old", **kw)
    if not found and model.accounts_failed is None and not model.keys_failed:
        reason = f"no user-managed key on the project's {len(model.accounts)} service accounts"
        yield _project_pass(ctx, model, reason, {"service_accounts": len(model.accounts)}, **kw)
