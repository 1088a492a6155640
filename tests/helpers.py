"""Test helpers: build an EvidenceBundle from recorded answers and run one registered check.

Bundles are built through the production Recorder and error classifier, so an
error in a test is recorded exactly as a failed boto3 call would be (error code,
HTTP status, required IAM permission from the collector's operations map).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.exceptions

from collectors.aws.base import classify_error
from collectors.evidence import ApiError, EvidenceBundle, Recorder, Scope, dumps
from collectors.registry import checks, collectors
from controls import CheckResult, EvidenceRef

FIXTURES = Path(__file__).parent / "fixtures"
ACCOUNT = "123456789012"
REGION = "us-east-1"
AS_OF = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)

HTTP_STATUS = {
    "AccessDenied": 403,
    "AccessDeniedException": 400,
    "UnauthorizedOperation": 403,
    "NotFoundException": 400,
    "ResourceNotFoundException": 400,
    "ServerSideEncryptionConfigurationNotFoundError": 404,
    "NoSuchPublicAccessBlockConfiguration": 404,
    "ThrottlingException": 400,
    "InternalError": 500,
}


class Fail:
    """A recorded failure: the call raised a botocore ClientError with this code."""

    def __init__(self, code: str, message: str | None = None, status: int | None = None) -> None:
        self.code = code
        self.message = message or f"{code} (test)"
        self.status = status if status is not None else HTTP_STATUS.get(code, 400)

    def raise_(self, operation: str) -> None:
        raise botocore.exceptions.ClientError(
            {
                "Error": {"Code": self.code, "Message": self.message},
                "ResponseMetadata": {"HTTPStatusCode": self.status},
            },
            operation,
        )


Call = tuple[str, str, Mapping[str, Any], Any]  # (service, operation, params, response | Fail | ApiError)


def scope(collector: str, region: str = REGION, account: str = ACCOUNT) -> Scope:
    return Scope("aws", account, region, collector)


def fixture(path: str) -> Any:
    """A hand-written boto3 response (JSON-normalised), e.g. fixture("aws/ebs/describe_volumes_page1.json")."""
    return json.loads((FIXTURES / path).read_text())


def bundle_from_calls(scope: Scope, calls: Iterable[Call], *, with_refs: bool = True) -> EvidenceBundle:
    """Record each (service, operation, params, response | Fail | ApiError) through a real Recorder.

    With `with_refs`, every recorded (service, operation) gets an EvidenceRef
    hashed from its evidence-file payload, as the flow does once it writes files.
    """
    operations = collectors()[scope.collector].operations
    rec = Recorder(scope, operations, classify_error)
    for service, operation, params, outcome in calls:
        if isinstance(outcome, ApiError):  # an already-classified failure, recorded as is
            permission = outcome.permission or rec.permission_for(service, operation)
            error = ApiError(outcome.code, outcome.message, permission, outcome.http_status)
            rec.record(service, operation, params, error=error)
            continue

        def answer(outcome: Any = outcome, operation: str = operation, **_: Any) -> Any:
            if isinstance(outcome, Fail):
                outcome.raise_(operation)
            return outcome

        rec.call(service, operation, answer, **dict(params))
    bundle = rec.bundle
    if with_refs:
        for service, operation in bundle.operations():
            payload = dumps(bundle.file_payload(service, operation))
            path = (
                f"evidence/{scope.provider}/{scope.account}/{scope.region}/{scope.collector}/{service}.{operation}.json"
            )
            bundle.refs[(service, operation)] = EvidenceRef(path, hashlib.sha256(payload).hexdigest())
    return bundle


def ref_ops(result: CheckResult) -> set[str]:
    """The evidence files a result cites, as "service.Operation"."""
    return {r.path.rsplit("/", 1)[-1].removesuffix(".json") for r in result.evidence}


def run_check(check_id: str, bundle: EvidenceBundle, thresholds: Mapping[str, Any] | None = None) -> list[CheckResult]:
    return checks()[check_id].run(bundle, thresholds=dict(thresholds or {}), as_of=AS_OF)


def by_resource(results: Iterable[CheckResult]) -> dict[str, CheckResult]:
    """Results keyed by resource_id; fails if a resource got two results."""
    out: dict[str, CheckResult] = {}
    for r in results:
        assert r.resource_id not in out, f"two results for {r.resource_id}"
        out[r.resource_id] = r
    return out
