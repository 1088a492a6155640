"""GetAccountAuthorizationDetails read back from the evidence: users, groups and customer managed policies.

Every answered page is merged into one Authorization (users with their inline policies,
attached policies and groups; groups with theirs; customer managed policies with their
versions, documents included). A failed or missing page is kept as `failed`: the population
is then incomplete and the checks say so instead of passing on what they saw. The policy
evaluation (policy.py) works on this model; the checks and the access review share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from collectors.aws.iam.collector import AUTHZ_FILTER, PAGE_SIZE, _missing
from collectors.evidence import ApiCall, EvidenceBundle


@dataclass
class Authorization:
    """What GetAccountAuthorizationDetails returned (all pages that were answered)."""

    users: list[dict[str, Any]] = field(default_factory=list)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # customer managed, by ARN
    failed: ApiCall | None = None  # a page failed (or none was recorded): the population is incomplete


def authorization(bundle: EvidenceBundle) -> Authorization:
    out = Authorization()
    pages = bundle.all("iam", "GetAccountAuthorizationDetails")
    if not pages:
        out.failed = _missing(
            "GetAccountAuthorizationDetails",
            "NotCollected",
            "no recorded GetAccountAuthorizationDetails answer",
            {"Filter": AUTHZ_FILTER, "MaxItems": PAGE_SIZE},
        )
        return out
    for page in pages:
        if not page.ok:
            out.failed = page
            break
        answer = page.response or {}
        out.users.extend(answer.get("UserDetailList") or [])
        for group in answer.get("GroupDetailList") or []:
            out.groups[group.get("GroupName", "")] = group
        for policy in answer.get("Policies") or []:
            out.policies[policy.get("Arn", "")] = policy
    return out
