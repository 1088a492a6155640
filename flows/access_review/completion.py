"""`complete`: take a reviewer's workbook back as evidence, and list the revocations to carry out.

The workbook is read back and validated against population.json (reports.access_review.validate);
on success ``completed.json`` (decisions, reviewers, dates, hashes, status "completed") and
``completed-workbook.xlsx`` are added to the review's folder. A second completion of the same
review is refused. The revocations are listed; a GCS bucket member's carries the command that
removes it ("action"):
``gcloud storage buckets remove-iam-policy-binding gs://BUCKET --member=M --role=R``; an Identity
Center access path's the ``aws sso-admin delete-account-assignment`` (direct) or
``aws identitystore delete-group-membership`` (through a group, with the group's assignment as
"alternative"), and the path itself ("identity_center"), which access_review.revocations_done checks.

Separate from the issue step: it needs no cloud access, only the stored review.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collectors.evidence import dumps
from flows.access_review.context import AccessReviewError
from flows.access_review.gcp_iam_population import KIND as GCP_KIND
from flows.access_review.gcp_iam_population import gcp_revoke_command
from flows.access_review.gcp_population import gcs_revoke_command
from flows.access_review.sso_population import KIND as SSO_KIND
from flows.access_review.sso_population import sso_revoke_commands
from flows.access_review.storage import (
    COMPLETED_FILE,
    COMPLETED_WORKBOOK,
    REVIEW_FILE,
    _iso,
    _load_json,
    _write_new,
    reviews_dir,
)
from reports.access_review import Validation, WorkbookError, population_rows, read_workbook, validate
from reports.atomic import sha256_file


@dataclass
class CompleteOutcome:
    review_id: str
    review_dir: Path
    completed: dict[str, Any]
    revocations: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)


def _candidate_dirs(meta: Mapping[str, str], output: Path | None, root: Path | None = None) -> list[Path]:
    if output is not None:  # explicit: only there
        return [reviews_dir(output.resolve())]
    if root is not None:  # the config's access_reviews.directory / <output>/access-reviews
        return [root]
    dirs = []
    if meta.get("reviews_dir"):
        dirs.append(Path(meta["reviews_dir"]))
    dirs.append(reviews_dir(Path("soc2-evidence-output").resolve()))
    return dirs


def complete(
    workbook: Path,
    *,
    output: Path | None = None,
    root: Path | None = None,
    allow_self_review: bool = False,
    now: datetime | None = None,
) -> CompleteOutcome:
    """Validate a completed workbook against its issued review and store it; see the module doc.

    output: the output directory holding access-reviews/; root: the access-reviews directory itself
    (a config's); default: the folder the workbook was issued from, as recorded in the workbook,
    else ./soc2-evidence-output/access-reviews."""
    now = now or datetime.now(UTC)
    try:
        data = Path(workbook).read_bytes()
    except OSError as exc:
        raise AccessReviewError(f"{workbook}: cannot read ({exc.strerror or exc})") from None
    try:
        read = read_workbook(data, str(workbook))
    except WorkbookError as exc:
        raise AccessReviewError(str(exc)) from None
    if not re.fullmatch(r"[A-Za-z0-9._-]+", read.review_id):
        raise AccessReviewError(f"{workbook}: wrong workbook (review id {read.review_id!r} is not valid)")
    folder = next(
        (d / read.review_id for d in _candidate_dirs(read.meta, output, root) if (d / read.review_id).is_dir()), None
    )
    if folder is None or not (folder / REVIEW_FILE).is_file():
        where = ", ".join(str(d) for d in _candidate_dirs(read.meta, output, root))
        raise AccessReviewError(f"{workbook}: wrong workbook: review {read.review_id} was not issued here ({where})")
    review = _load_json(folder / REVIEW_FILE)
    if (folder / COMPLETED_FILE).exists():
        done = _load_json(folder / COMPLETED_FILE)
        raise AccessReviewError(
            f"review {read.review_id} was already completed at {done.get('completed_at')} (nothing changed)"
        )
    pop_path = folder / review["population"]["path"]
    if sha256_file(pop_path) != review["population"]["sha256"]:
        raise AccessReviewError(f"{pop_path}: the stored population does not match its SHA-256 in review.json")
    stored_population = _load_json(pop_path)
    population = population_rows(stored_population["rows"])
    details: Mapping[str, Any] = stored_population.get("details") or {}
    issued_on = datetime.fromisoformat(review["created_at"].replace("Z", "+00:00")).date()
    result: Validation = validate(
        read, population, issued_on=issued_on, today=now.date(), allow_self_review=allow_self_review
    )
    if not result.ok:
        raise AccessReviewError(
            f"{workbook}: review {read.review_id} is not complete ({len(result.problems)} problem(s), "
            "nothing stored):\n" + "\n".join(f"  {p}" for p in result.problems)
        )
    wb_sha = _write_new(folder / COMPLETED_WORKBOOK, data)
    decisions = [d.to_json() for d in result.decisions]
    revocations = [_revocation(d, details.get(d.key)) for d in result.decisions if d.decision == "Revoke"]
    dates = sorted(d.reviewed_on for d in result.decisions)
    completed = {
        "schema": 1,
        "review_id": read.review_id,
        "organization": review.get("organization"),
        "as_of": review.get("as_of"),
        "accounts": review.get("accounts"),
        "created_at": review.get("created_at"),
        "completed_at": _iso(now),
        "reviewers": sorted({d.reviewer for d in result.decisions}),
        "reviewed_from": dates[0] if dates else None,
        "reviewed_to": dates[-1] if dates else None,
        "counts": {k: sum(1 for d in result.decisions if d.decision == k) for k in ("Keep", "Revoke", "Modify")},
        "population_complete": review.get("population_complete", True),
        "gaps": review.get("gaps") or [],
        "self_reviews": result.self_reviews,
        "decisions": decisions,
        "revocations": revocations,
        "hashes": {
            "review_json": sha256_file(folder / REVIEW_FILE),
            "population": review["population"]["sha256"],
            "issued_workbook": review["workbook"]["sha256"],
            "completed_workbook": wb_sha,
        },
        "completed_workbook": {"path": COMPLETED_WORKBOOK, "sha256": wb_sha},
        "status": "completed",
    }
    _write_new(folder / COMPLETED_FILE, dumps(completed))
    return CompleteOutcome(read.review_id, folder, completed, revocations, result.self_reviews)


def _revocation(d: Any, detail: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"account": d.account, "principal": d.name, "arn": d.arn, "type": d.principal_type}
    if detail and detail.get("kind") == "gcs_binding":
        out["action"] = gcs_revoke_command(detail)
    if detail and detail.get("kind") == GCP_KIND:
        out["action"] = gcp_revoke_command(detail)
    if detail and detail.get("kind") == SSO_KIND:
        action, alternative = sso_revoke_commands(detail)
        out["action"] = action
        if alternative:
            out["alternative"] = alternative
        out["identity_center"] = dict(detail)  # what access_review.revocations_done verifies
    return out


def print_revocations(revocations: Sequence[Mapping[str, Any]]) -> list[str]:
    if not revocations:
        return ["No revocations."]
    lines = [f"Revocations to carry out ({len(revocations)}):"]
    width = max(len(r["type"]) for r in revocations)
    for r in revocations:
        lines.append(f"  {r['account']}  {r['type'].ljust(width)}  {r['principal']}  ({r['arn']})")
        if r.get("action"):
            lines.append(f"      {r['action']}")
        if r.get("alternative"):
            lines.append(f"      or: {r['alternative']}")
    return lines
