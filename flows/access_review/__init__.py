"""Access reviews (issues 4 and 5): issue a reviewer workbook, then take the completed one back as evidence.

`start` (issue.py): config -> AWS accounts and GCP projects in scope -> their recorded IAM, Identity
Center, Cloud Storage and project IAM answers (fetch.py) -> the population (one provider per source:
aws_population.py, sso_population.py, gcp_population.py, gcp_iam_population.py) -> the workbook.
Stored, never overwritten, under ``<output>/access-reviews/<review_id>/`` (storage.py):

    evidence/aws/<account>/global/iam/<Operation>.json   the raw recorded AWS answers (hashed in review.json)
    evidence/aws/<account>/global/sso/<Operation>.json   the raw recorded Identity Center answers (hashed too)
    evidence/gcp/<project>/global/gcs/<Operation>.json   the raw recorded Cloud Storage answers (hashed too)
    evidence/gcp/<project>/global/iam/<Operation>.json   the raw recorded project IAM answers (hashed too)
    population.json                                      the population snapshot (its SHA-256 in review.json),
                                                         with population_complete and the gaps
    <organization>-access-review-<review_id>.xlsx        the issued workbook (its SHA-256 in review.json)
    review.json                                          review id, organization, as_of, accounts (AWS),
                                                         projects (GCP), created_at, hashes,
                                                         population_complete, gaps, status "issued"
                                                         (written last)

`complete` (completion.py): the workbook read back and validated against population.json; on
success ``completed.json`` and ``completed-workbook.xlsx`` are added, and the revocations listed.

The modules, one job each:
    context.py          AccessReviewError and what a population provider gets (AccessReviewContext)
    storage.py          the review folder's layout, write-once files, review ids
    fetch.py            the accounts / projects in scope and their recorded answers (the only API calls)
    aws_population.py   IAM users and outside-trusted roles, from recorded IAM answers
    sso_population.py   IAM Identity Center access paths, from recorded aws.sso answers; their aws revocation
    gcp_population.py   GCS bucket members, from recorded Cloud Storage answers; their gcloud revocation
    gcp_iam_population.py  GCP project IAM members (own and inherited bindings); their gcloud revocation
    issue.py            `start`, and the provider hook POPULATION_PROVIDERS
    completion.py       `complete` and `print_revocations`
This package module only re-exports the public names, so callers import from `flows.access_review`.

Checks on stored reviews (collectors/access_review/reviews.py) are AWS-only today:
access_review.revocations_done verifies revoked IAM users / roles per AWS account and revoked Identity
Center paths in the account that administers Identity Center; a GCS or project IAM binding marked
Revoke is not checked by it (its account is a project id): it is verified by the next review, whose
population would still show the binding.

No Prefect: plain functions, so the command starts in a second (the Google client libraries are imported
only when a GCP project is in scope).
"""

from __future__ import annotations

from flows.access_review.completion import CompleteOutcome, complete, print_revocations
from flows.access_review.context import AccessReviewContext, AccessReviewError
from flows.access_review.gcp_population import gcs_binding_id, gcs_revoke_command
from flows.access_review.issue import POPULATION_PROVIDERS, StartOutcome, describe_population, start
from flows.access_review.storage import (
    COMPLETED_FILE,
    COMPLETED_WORKBOOK,
    POPULATION_FILE,
    REVIEW_FILE,
    REVIEWS,
    reviews_dir,
    reviews_root,
)

__all__ = [
    "COMPLETED_FILE",
    "COMPLETED_WORKBOOK",
    "POPULATION_FILE",
    "POPULATION_PROVIDERS",
    "REVIEWS",
    "REVIEW_FILE",
    "AccessReviewContext",
    "AccessReviewError",
    "CompleteOutcome",
    "StartOutcome",
    "complete",
    "describe_population",
    "gcs_binding_id",
    "gcs_revoke_command",
    "print_revocations",
    "reviews_dir",
    "reviews_root",
    "start",
]
