"""Where access reviews are stored and how: the folder and file names, write-once files, the recorded
evidence copied into a review, review ids and workbook names.

Separate because both steps (issue, completion) and evidence runs (flows.run reads REVIEWS) rely on
the same layout; see the package docstring (flows.access_review) for what each file holds.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collectors.evidence import EvidenceBundle, dumps
from flows.access_review.context import AccessReviewError
from flows.config import AppConfig
from reports.atomic import write_bytes
from reports.store import evidence_path, safe_component

REVIEWS = "access-reviews"
REVIEW_FILE = "review.json"
POPULATION_FILE = "population.json"
COMPLETED_FILE = "completed.json"
COMPLETED_WORKBOOK = "completed-workbook.xlsx"


def reviews_dir(output: Path) -> Path:
    return output / REVIEWS


def reviews_root(cfg: AppConfig) -> Path | None:
    """Where the config's access reviews live: `access_reviews.directory`, else
    <output>/access-reviews for a directory output; None when output: is a
    bucket and no directory is set (reviewers edit files: they need a folder)."""
    if cfg.access_reviews.directory is not None:
        return cfg.access_reviews.directory
    if cfg.output_location.is_remote:
        return None
    return reviews_dir(Path(cfg.output).resolve())


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_new(path: Path, data: bytes) -> str:
    """Write atomically, never over an existing file; the SHA-256 of what was written."""
    if path.exists():
        raise AccessReviewError(f"{path}: already exists (stored evidence is never overwritten)")
    return write_bytes(path, data)


def _store_bundle(review: Path, bundle: EvidenceBundle, folder: str) -> list[dict[str, Any]]:
    out = []
    s = bundle.scope
    for service, operation in bundle.operations():
        rel = evidence_path(s.provider, s.account, s.region, folder, operation)
        sha = _write_new(review / rel, dumps(bundle.file_payload(service, operation)))
        out.append({"path": rel, "sha256": sha, "calls": len(bundle.all(service, operation))})
    return out


def new_review_id(now: datetime) -> str:
    return f"ar-{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def workbook_name(organization: str, review_id: str) -> str:
    return f"{safe_component(organization)}-access-review-{review_id}.xlsx"


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise AccessReviewError(f"{path}: unreadable ({exc})") from None
