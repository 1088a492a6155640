"""gcp.iam: the fetch of a project's IAM policy (and the policies it inherits) and its service-account keys.

Per project (region "global"), over the REST APIs (collectors.gcp.rest: AuthorizedSession, raw JSON bodies):

- Resource Manager ``projects.getIamPolicy`` (v3, ``requestedPolicyVersion`` 3 so conditional bindings
  come back with their conditions) -- resourcemanager.projects.getIamPolicy;
- ``projects.getAncestry`` (v1) -- resourcemanager.projects.get; then ``folders.getIamPolicy`` /
  ``organizations.getIamPolicy`` (v3) for each ancestor -- resourcemanager.folders.getIamPolicy /
  resourcemanager.organizations.getIamPolicy. Inherited bindings apply to the project too; an ancestor
  whose policy cannot be read (often: the project's reader has no folder or organization role) is
  `error` for that ancestor only;
- IAM ``projects.serviceAccounts.list`` (100 a page) -- iam.serviceAccounts.list; then
  ``serviceAccounts.keys.list`` with ``keyTypes=USER_MANAGED`` per service account --
  iam.serviceAccountKeys.list (Google-managed keys rotate themselves and are not requested).

Cost per project: 2 + A + ceil(S/100) + S calls for A ancestors (folders + organization) and S service
accounts. A 403 on one project (or one service account) is `error` for that project (or account) only:
every project is its own scope.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from collectors.evidence import ApiCall
from collectors.registry import CollectorSpec, FetchContext, register_collector

SERVICE = "iam"
CRM = "cloudresourcemanager"
OPERATIONS = {
    "cloudresourcemanager:GetProjectIamPolicy": "resourcemanager.projects.getIamPolicy",
    "cloudresourcemanager:GetAncestry": "resourcemanager.projects.get",
    "cloudresourcemanager:GetFolderIamPolicy": "resourcemanager.folders.getIamPolicy",
    "cloudresourcemanager:GetOrganizationIamPolicy": "resourcemanager.organizations.getIamPolicy",
    "iam:ListServiceAccounts": "iam.serviceAccounts.list",
    "iam:ListServiceAccountKeys": "iam.serviceAccountKeys.list",
}
POLICY_VERSION = 3  # requestedPolicyVersion: conditional bindings with their conditions
PAGE = 100
USER_MANAGED = "USER_MANAGED"
# ancestor type (getAncestry) -> (resource collection, evidence operation)
ANCESTORS = {"folder": ("folders", "GetFolderIamPolicy"), "organization": ("organizations", "GetOrganizationIamPolicy")}


def _policy(ctx: Any, resource: str) -> Callable[..., Any]:
    """getIamPolicy of "projects/P", "folders/F" or "organizations/O" (v3), recorded with its parameters."""
    body = {"options": {"requestedPolicyVersion": POLICY_VERSION}}
    return lambda **_: ctx.api(CRM).call("POST", f"v3/{resource}:getIamPolicy", body=body)


def ancestors(ancestry: ApiCall | None) -> list[tuple[str, str]]:
    """(resource "folders/F" | "organizations/O", evidence operation) of a recorded getAncestry, nearest first."""
    out = []
    for item in (ancestry.response or {}).get("ancestor") or [] if ancestry and ancestry.ok else []:
        rid: Mapping[str, Any] = item.get("resourceId") or {}
        kind = ANCESTORS.get(str(rid.get("type")))
        if kind and rid.get("id"):
            out.append((f"{kind[0]}/{rid['id']}", kind[1]))
    return out


def accounts(pages: list[ApiCall]) -> list[dict[str, Any]]:
    """The service accounts of the answered ListServiceAccounts pages."""
    return [a for p in pages if p.ok for a in (p.response or {}).get("accounts") or []]


def fetch(ctx: FetchContext) -> None:
    rec = ctx.recorder
    project = ctx.account
    api: Any = ctx

    def policy() -> None:
        resource = f"projects/{project}"
        rec.call(CRM, "GetProjectIamPolicy", _policy(api, resource), resource=resource, requestedPolicyVersion=3)

    def inherited() -> None:
        path = f"v1/projects/{quote(project, safe='')}:getAncestry"
        got = rec.call(CRM, "GetAncestry", lambda **_: api.api(CRM).call("POST", path, body={}), project=project)
        for resource, operation in ancestors(got):
            rec.call(CRM, operation, _policy(api, resource), resource=resource, requestedPolicyVersion=3)

    def keys() -> None:
        listing = f"v1/projects/{quote(project, safe='')}/serviceAccounts"
        pages = rec.paginate(
            SERVICE,
            "ListServiceAccounts",
            lambda **q: api.api(SERVICE).call("GET", listing, params={k: v for k, v in q.items() if k != "name"}),
            "pageToken",
            "nextPageToken",
            name=f"projects/{project}",
            pageSize=PAGE,
        )
        emails = [
            str(a["email"]) for p in pages if p.ok for a in (p.response or {}).get("accounts") or [] if a.get("email")
        ]

        def account_keys(email: str) -> None:
            path = f"{listing}/{quote(email, safe='@')}/keys"

            def answer(**params: Any) -> Any:
                return api.api(SERVICE).call("GET", path, params={"keyTypes": params["keyTypes"]})

            rec.call(SERVICE, "ListServiceAccountKeys", answer, serviceAccount=email, keyTypes=USER_MANAGED)

        ctx.map(account_keys, list(dict.fromkeys(emails)))

    ctx.map(lambda job: job(), [policy, inherited, keys])


register_collector(
    CollectorSpec(
        id="gcp.iam",
        provider="gcp",
        service=SERVICE,
        per_region=False,
        operations=OPERATIONS,
        fetch=fetch,
        description="a GCP project's IAM policy (with conditions), the folder and organization policies it "
        "inherits, and its service accounts' user-managed keys",
    )
)
