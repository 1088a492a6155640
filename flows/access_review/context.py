"""What the access-review steps share: the error the user can fix, and what a population provider gets.

The population has a provider hook (flows.access_review.issue.POPULATION_PROVIDERS): it maps a
provider name to a function (AccessReviewContext) -> list[Principal] ("aws", "aws_sso", "gcp"); a
provider may add per-row details (row key -> JSON) to ctx.details, stored in population.json (hashed)
and used by `complete` (the gcloud / aws command). A provider either refuses an incomplete population
(raises AccessReviewError: IAM users, GCS buckets) or states what it could not read in ctx.gaps
(Identity Center): the review is then issued marked incomplete, never silently partial.

Separate so that the providers (aws_population, gcp_population), the fetch and the two steps share
these types without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collectors.evidence import ApiCall, EvidenceBundle
from flows.config import AppConfig

# bucket IAM roles flagged privileged (see flows.access_review.gcp_population), with why
GCS_PRIVILEGED_ROLES: dict[str, str] = {
    "roles/owner": "basic Owner role (full control)",
    "roles/editor": "basic Editor role (modifies everything)",
    "roles/storage.admin": "full control of the bucket, its objects and its IAM policy",
    "roles/storage.legacyBucketOwner": "changes the bucket's IAM policy and ACLs",
    "roles/storage.objectAdmin": "overwrites or deletes every object, sets object ACLs",
}


class AccessReviewError(Exception):
    """Anything the user can fix (bad workbook, unreachable account...): one message, exit 2."""


@dataclass
class AccountEvidence:
    """One account's recorded IAM answers (the aws.iam fetch + the roles listing)."""

    account: str
    name: str
    iam: EvidenceBundle
    roles: EvidenceBundle


@dataclass
class ProjectEvidence:
    """One GCP project's recorded Cloud Storage answers (the gcp.gcs fetch) and IAM answers (gcp.iam)."""

    project: str
    gcs: EvidenceBundle
    iam: EvidenceBundle | None = None  # the gcp.iam fetch: project IAM, inherited policies


@dataclass
class IdentityCenterEvidence:
    """One account's recorded aws.sso fetch (flows.identity_center plans where), or why it was not made."""

    account: str
    bundle: EvidenceBundle | None
    failure: ApiCall | None = None  # the account could not be entered, or aws.identity_center is out of scope


@dataclass
class AccessReviewContext:
    """What a population provider gets."""

    cfg: AppConfig
    as_of: datetime
    accounts: list[AccountEvidence]
    organization_accounts: frozenset[str] | None  # None: the organization is unknown (no discovery)
    privileged_policies: tuple[str, ...] = ("AdministratorAccess", "IAMFullAccess")
    projects: list[ProjectEvidence] = field(default_factory=list)
    gcs_privileged_roles: Mapping[str, str] = field(default_factory=lambda: dict(GCS_PRIVILEGED_ROLES))
    # row key -> provider details (JSON), stored in population.json; e.g. a GCS binding for its revocation
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    identity_center: list[IdentityCenterEvidence] = field(default_factory=list)
    account_names: Mapping[str, str] = field(default_factory=dict)  # account id -> name, for every target
    # what the population could not cover (a provider that reports gaps instead of refusing): stated in the
    # workbook, population.json and review.json ("population_complete": false)
    gaps: list[str] = field(default_factory=list)
