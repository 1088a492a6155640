"""`start`: issue an access review. Fetch every account and project in scope, build the population
through the providers, then store the evidence, population.json, the workbook and review.json (last).

Either side may be empty, not both ("no account or project in scope"). The population must be
complete: an AWS account that cannot be entered, or a refusing provider's problem (an IAM call that
failed, a GCP project whose bucket listing failed, a bucket whose IAM policy could not be read) makes
`start` refuse with every problem listed; nothing is stored. What a gap-reporting provider could not
read (Identity Center) is stated instead: review.json and population.json say "population_complete":
false with the gaps, and the workbook opens on a "Population gaps" sheet. See the package docstring
(flows.access_review) for the stored layout.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from collectors.aws.base import AwsTuning, clear_credentials_cache
from collectors.evidence import dumps
from flows.access_review.aws_population import aws_population
from flows.access_review.context import AccessReviewContext, AccessReviewError
from flows.access_review.fetch import _targets, fetch_account, fetch_identity_center, fetch_project
from flows.access_review.gcp_iam_population import gcp_iam_population
from flows.access_review.gcp_population import gcp_population
from flows.access_review.sso_population import sso_population
from flows.access_review.storage import (
    POPULATION_FILE,
    REVIEW_FILE,
    _iso,
    _store_bundle,
    _write_new,
    new_review_id,
    reviews_dir,
    reviews_root,
    workbook_name,
)
from flows.accounts import identify
from flows.config import AppConfig
from reports.access_review import Principal, write_workbook

GCS_FOLDER = "gcs"

# provider hook: every population provider adds its principals
POPULATION_PROVIDERS: dict[str, Callable[[AccessReviewContext], list[Principal]]] = {
    "aws": aws_population,
    "aws_sso": sso_population,
    "gcp": gcp_population,
    "gcp_iam": gcp_iam_population,
}
SSO_FOLDER = "sso"
GCP_IAM_FOLDER = "iam"


@dataclass
class StartOutcome:
    review_id: str
    review_dir: Path
    workbook: Path
    principals: list[Principal]
    review: dict[str, Any]


def start(cfg: AppConfig, *, as_of: date | None = None, output: Path | None = None) -> StartOutcome:
    """Issue an access review; see the module doc."""
    created = datetime.now(UTC)
    as_of_dt = datetime.combine(as_of, datetime.min.time(), UTC) if as_of else created
    root = reviews_dir(output.resolve()) if output is not None else reviews_root(cfg)
    if root is None:
        raise AccessReviewError(
            f"output {cfg.output} is a bucket: access reviews are kept in a directory; "
            "set access_reviews.directory in the config or pass --output DIR"
        )
    tuning = AwsTuning(retry_mode=cfg.aws.retry_mode, max_attempts=cfg.aws.max_attempts)
    clear_credentials_cache()
    targets, organization, discovery = _targets(cfg, tuning)
    projects = list(cfg.gcp.projects)
    if not targets and not projects:
        raise AccessReviewError(
            "no account or project in scope (aws.accounts is empty, no organization discovery, gcp.projects is empty)"
        )
    unreachable = []
    for t in targets:
        ident = identify(t, tuning)
        if not ident.ok and ident.call.error is not None:
            unreachable.append(f"account {t.id}: {ident.call.error.code}: {ident.call.error.message}")
    if unreachable:
        raise AccessReviewError("cannot enter every account in scope (nothing stored):\n" + "\n".join(unreachable))
    evidence = [fetch_account(t, tuning) for t in targets]
    project_evidence = [fetch_project(p) for p in projects]
    privileged = tuple(
        cfg.thresholds.get("aws.iam.privileged_users", {}).get(
            "privileged_aws_managed_policies", ["AdministratorAccess", "IAMFullAccess"]
        )
    )
    ctx = AccessReviewContext(cfg, as_of_dt, evidence, organization, privileged, projects=project_evidence)
    ctx.identity_center = fetch_identity_center(cfg, targets, tuning)
    ctx.account_names = {t.id: t.name for t in targets}
    principals: list[Principal] = []
    failures: list[str] = []
    for provider in sorted(POPULATION_PROVIDERS):
        try:
            principals += POPULATION_PROVIDERS[provider](ctx)
        except AccessReviewError as exc:  # every provider's problems in one message
            failures.append(str(exc).removeprefix("cannot build the population (nothing stored):\n"))
    if failures:
        raise AccessReviewError("cannot build the population (nothing stored):\n" + "\n".join(failures))
    principals.sort(key=lambda p: (p.account, p.principal_type, p.name, p.arn))
    keys = [p.key for p in principals]
    if len(set(keys)) != len(keys):  # a provider bug: the workbook could not be validated back
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        raise AccessReviewError("duplicate population rows (nothing stored): " + ", ".join(dupes))

    review_id = new_review_id(created)
    folder = root / review_id
    folder.mkdir(parents=True, exist_ok=False)
    files: list[dict[str, Any]] = []
    if discovery is not None:
        files += _store_bundle(folder, discovery.bundle, "organizations")
    for acct in evidence:
        files += _store_bundle(folder, acct.iam, "iam")
        files += _store_bundle(folder, acct.roles, "iam-roles")
    for ic in ctx.identity_center:
        files += _store_bundle(folder, ic.bundle, SSO_FOLDER) if ic.bundle is not None else []
    for pe in project_evidence:
        files += _store_bundle(folder, pe.gcs, GCS_FOLDER)
        files += _store_bundle(folder, pe.iam, GCP_IAM_FOLDER) if pe.iam is not None else []
    complete = not ctx.gaps
    accounts = [t.id for t in targets]
    population = {
        "schema": 1,
        "review_id": review_id,
        "organization": cfg.organization,
        "as_of": as_of_dt.date().isoformat(),
        "created_at": _iso(created),
        "accounts": accounts,
        "projects": projects,
        "population_complete": complete,
        "gaps": list(ctx.gaps),
        "rows": [p.to_json() for p in principals],
        "details": {k: ctx.details[k] for k in sorted(ctx.details)},
    }
    population_sha = _write_new(folder / POPULATION_FILE, dumps(population))
    wb_path = folder / workbook_name(cfg.organization, review_id)
    buf = io.BytesIO()
    write_workbook(
        buf,
        principals,
        review_id=review_id,
        organization=cfg.organization,
        as_of=population["as_of"],
        population_sha256=population_sha,
        reviews_dir=str(root),
        gaps=ctx.gaps,
    )
    wb_sha = _write_new(wb_path, buf.getvalue())
    review = {
        "schema": 1,
        "review_id": review_id,
        "organization": cfg.organization,
        "as_of": population["as_of"],
        "accounts": accounts,
        "projects": projects,
        "account_names": {t.id: t.name for t in targets},
        "organization_accounts": sorted(organization) if organization is not None else None,
        "created_at": _iso(created),
        "principals": len(principals),
        "population_complete": complete,
        "gaps": list(ctx.gaps),
        "population": {"path": POPULATION_FILE, "sha256": population_sha},
        "workbook": {"path": wb_path.name, "sha256": wb_sha},
        "evidence": files,
        "status": "issued",
    }
    _write_new(folder / REVIEW_FILE, dumps(review))
    return StartOutcome(review_id, folder, wb_path, principals, review)


def describe_population(out: StartOutcome) -> tuple[str, list[str]]:
    """("13 IAM user, 24 Identity Center user, ...", warning lines when the population is incomplete)."""
    from collections import Counter

    kinds = Counter(p.principal_type for p in out.principals)
    described = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    gaps = list(out.review.get("gaps") or [])
    if not gaps:
        return described, []
    lines = [f"WARNING: the population is INCOMPLETE ({len(gaps)} gap(s), also on the workbook's first sheet):"]
    return described, lines + [f"  {g}" for g in gaps]
