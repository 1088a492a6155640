"""Evidence gaps as failed calls: what a check reports when an answer it needs was never recorded.

A check must never read "nothing recorded" as "nothing there": a listing that
was not recorded, or a per-resource answer that is missing, becomes an
`error` result naming the operation and the IAM permission it needs, through
the same ``CheckContext.error`` path as a call that failed at AWS.
(The module name starts with "_": the registry does not load it as a collector.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collectors.evidence import ApiCall, ApiError, EvidenceBundle, listing_error


def not_collected(
    operations: Mapping[str, str], service: str, operation: str, params: Mapping[str, Any], what: str
) -> ApiCall:
    """A stand-in failed call: no recorded `operation` answer for `what`."""
    error = ApiError(
        "NotCollected", f"no recorded {operation} answer for {what}", operations.get(f"{service}:{operation}")
    )
    return ApiCall(service, operation, dict(params), "", None, error)


def listing_failure(
    bundle: EvidenceBundle,
    operations: Mapping[str, str],
    service: str,
    operation: str,
    params: Mapping[str, Any],
    what: str,
) -> ApiCall | None:
    """The failed page of a listing, a stand-in if it was never recorded, or None when it is complete."""
    pages = bundle.all(service, operation)
    if pages:
        return listing_error(pages)
    return not_collected(operations, service, operation, params, what)
