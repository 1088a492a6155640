"""One unit of work: a collector in one (account, region), fetch then evaluate.

Plain functions of plain data, so the Prefect tasks that wrap them can run on
threads, Dask workers or other machines; and so `evaluate` can re-run the
same evaluation on stored evidence.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from collectors.aws.base import AssumeRoleError, AwsFetchContext, AwsTuning, classify_error, session_for
from collectors.aws.sso import IdentityCenterScope
from collectors.endpoint.base import EndpointFetchContext, EndpointTarget, TlsTuning
from collectors.endpoint.base import classify_error as classify_endpoint_error
from collectors.evidence import ApiCall, ApiError, EvidenceBundle, Recorder, Scope
from collectors.gcp.base import GcpFetchContext, GcpTuning
from collectors.gcp.base import classify_error as classify_gcp_error
from collectors.registry import Check, CheckContext, CollectorSpec, cap_message, checks_for, collector_spec
from controls import CheckResult, EvidenceRef
from reports.store import RunWriter, evidence_path


@dataclass
class ScopeOutcome:
    """What one task returns: results, the evidence it wrote, how it went."""

    scope: Scope
    results: list[CheckResult]
    evidence: list[dict[str, Any]] = field(default_factory=list)
    status: str = "ok"  # ok | partial (some calls failed) | error (not collected) | crashed
    api_calls: int = 0
    failed_calls: int = 0
    duration_s: float = 0.0
    message: str = ""
    # results that do not derive from an evidence file (the scope could not
    # be reached at all); `evaluate` carries them over from the manifest
    collection_errors: list[CheckResult] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            **self.scope.to_json(),
            "status": self.status,
            "api_calls": self.api_calls,
            "failed_calls": self.failed_calls,
            "duration_s": round(self.duration_s, 3),
            "results": len(self.results),
            "message": cap_message(self.message, kept_in=None),
        }


def evidence_file_for(scope: Scope, service: str, operation: str) -> str:
    """evidence/<provider>/<account>/<region>/<collector>/<call>.json, where
    <call> is the operation, prefixed by its API service when the collector
    reads another service's API (e.g. dynamodb/kms.DescribeKey.json), so that
    two collectors never write the same file."""
    short = scope.collector.split(".", 1)[-1]
    spec = collector_spec(scope.collector)
    primary = spec.service if spec else short
    call = operation if service == primary else f"{service}.{operation}"
    return evidence_path(scope.provider, scope.account, scope.region, short, call)


def write_bundle(bundle: EvidenceBundle, writer: RunWriter) -> list[dict[str, Any]]:
    """Write one file per (service, operation) and point the bundle at them."""
    files = []
    s = bundle.scope
    for service, operation in bundle.operations():
        rel = evidence_file_for(s, service, operation)
        payload = bundle.file_payload(service, operation)
        ref = writer.write_json(rel, payload)
        bundle.refs[(service, operation)] = ref
        calls = bundle.all(service, operation)
        files.append(
            {
                "path": rel,
                "sha256": ref.sha256,
                **s.to_json(),
                "service": service,
                "operation": operation,
                "records": len(calls),
                "errors": sum(1 for c in calls if not c.ok),
                "collected_at": min((c.collected_at for c in calls), default=""),
                "parameters": summarise_params(calls),
            }
        )
    return files


def summarise_params(calls: Iterable[ApiCall]) -> str:
    """A short, readable description of the parameters a file's calls used."""
    calls = list(calls)
    keys = sorted({k for c in calls for k in c.params})
    if not keys:
        return "(none)"
    if len(calls) == 1:
        return ", ".join(f"{k}={calls[0].params[k]}" for k in keys)[:500]
    return f"{len(calls)} calls over " + ", ".join(keys)


def load_bundle_files(
    run_dir: Path,
    entries: Iterable[Mapping[str, Any]],
    on_unreadable: Callable[[str, str], None] | None = None,
) -> dict[Scope, EvidenceBundle]:
    """Evidence files of a run, read back into bundles per scope (refs set).

    Missing files are skipped: callers that must notice check hashes first. A file that is not
    an evidence payload (truncated, not UTF-8, edited into other JSON) is reported through
    `on_unreadable(path, why)` and skipped when a caller wants to carry on (`evaluate`), and
    raises otherwise."""
    bundles: dict[Scope, EvidenceBundle] = {}
    for entry in entries:
        path = run_dir / entry["path"]
        if not path.is_file():
            continue
        try:
            payload = json.loads(path.read_bytes().decode("utf-8"))
            scope = Scope(payload["provider"], payload["account"], payload["region"], payload["collector"])
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            if on_unreadable is None:
                raise
            on_unreadable(str(entry["path"]), f"{type(exc).__name__}: {exc}")
            continue
        bundle = bundles.setdefault(scope, EvidenceBundle(scope))
        bundle.add_file_payload(payload)
        bundle.refs[(payload["service"], payload["operation"])] = EvidenceRef(entry["path"], entry["sha256"])
    return bundles


def evaluate_bundle(
    bundle: EvidenceBundle, checks: Iterable[Check], thresholds: Mapping[str, Mapping[str, Any]], as_of: datetime
) -> list[CheckResult]:
    """Run each check on the bundle; a check that crashes is an `error`, not a gap."""
    out: list[CheckResult] = []
    for chk in checks:
        try:
            out.extend(chk.run(bundle, thresholds.get(chk.spec.id, {}), as_of))
        except Exception as exc:  # a bug in a check must show, not hide resources
            ctx = CheckContext(chk.spec, bundle.scope, {}, as_of)
            call = ApiCall(
                "soc2-evidence",
                "EvaluateCheck",
                {"check": chk.spec.id},
                "",
                None,
                ApiError("CheckCrashed", f"{type(exc).__name__}: {exc}"),
            )
            out.append(ctx.error(call, "*", expected="check evaluated"))
    return out


def scope_errors(scope: Scope, call: ApiCall, evidence: Iterable[EvidenceRef] = ()) -> list[CheckResult]:
    """An `error` per check of the collector for a scope that could not be reached."""
    evidence = tuple(evidence)
    return [
        CheckContext(chk.spec, scope, {}, datetime.min).error(call, "*", evidence=evidence)
        for chk in checks_for(scope.collector)
    ]


@dataclass(frozen=True)
class Target:
    """Where one task collects, as plain data (serialisable to any task runner).

    `account` is the AWS account ID, the GCP project ID, or the endpoint's
    "host:port" label; `endpoint` is (host, port, sni, address) for endpoints.
    """

    provider: str
    account: str
    role_arn: str | None = None
    endpoint: tuple[str, int, str | None, str | None] | None = None
    reviews_dir: str | None = None  # access-review collectors: where the reviews are kept
    identity_center: IdentityCenterScope | None = None  # aws.sso: regions and accounts it covers


class AccessReviewsNotConfigured(Exception):
    """The run's output is a bucket and no access-reviews directory is set."""


NOT_CONFIGURED = ApiError(
    "AccessReviewsNotConfigured",
    "access reviews are kept in a directory and output: is a bucket: set access_reviews.directory in the config",
)


@dataclass(frozen=True)
class Tunings:
    """Per-provider client behaviour (timeouts, retries, fan-out)."""

    aws: AwsTuning = field(default_factory=AwsTuning)
    gcp: GcpTuning = field(default_factory=GcpTuning)
    tls: TlsTuning = field(default_factory=TlsTuning)


def open_context(
    spec: CollectorSpec, scope: Scope, target: Target, tunings: Tunings, run_path: Path
) -> tuple[Any, Recorder]:
    """The provider's fetch context and recorder. Raises AssumeRoleError when
    an AWS account cannot be entered."""
    if spec.provider == "access_review":
        # stored access reviews (<output>/access-reviews) plus the account's IAM state
        session = session_for(target.role_arn, tunings.aws)
        rec = Recorder(scope, spec.operations, classify_error)
        ctx = AwsFetchContext(session, scope.account, scope.region, rec, tunings.aws)
        if target.reviews_dir is None:
            raise AccessReviewsNotConfigured(NOT_CONFIGURED.message)
        ctx.reviews_dir = Path(target.reviews_dir)
        return ctx, rec
    if spec.provider == "aws":
        session = session_for(target.role_arn, tunings.aws)
        rec = Recorder(scope, spec.operations, classify_error)
        ctx = AwsFetchContext(session, scope.account, scope.region, rec, tunings.aws)
        ctx.identity_center = target.identity_center
        return ctx, rec
    if spec.provider == "gcp":
        rec = Recorder(scope, spec.operations, classify_gcp_error)
        return GcpFetchContext(scope.account, rec, tunings.gcp), rec
    if spec.provider == "endpoint":
        if target.endpoint is None:
            raise ValueError(f"endpoint collector {spec.id} needs an endpoint target")
        host, port, sni, address = target.endpoint
        rec = Recorder(scope, spec.operations, classify_endpoint_error)
        return EndpointFetchContext(EndpointTarget(host, port, sni, address), rec, tunings.tls), rec
    raise ValueError(f"unknown provider {spec.provider!r} of collector {spec.id}")


def collect_scope(
    *,
    target: Target,
    region: str,
    collector_id: str,
    run_path: str,
    thresholds: Mapping[str, Mapping[str, Any]],
    as_of: datetime,
    tunings: Tunings,
) -> ScopeOutcome:
    """Fetch one collector's evidence in one account/project/endpoint and
    region, store it, evaluate it."""
    started = time.monotonic()
    spec = collector_spec(collector_id)
    if spec is None:
        raise KeyError(f"unknown collector {collector_id!r}")
    scope = Scope(spec.provider, target.account, region, collector_id)
    try:
        ctx, recorder = open_context(spec, scope, target, tunings, Path(run_path))
    except (AssumeRoleError, AccessReviewsNotConfigured) as exc:
        if isinstance(exc, AssumeRoleError):
            call = ApiCall("sts", "AssumeRole", {"RoleArn": target.role_arn}, "", None, exc.error)
        else:
            call = ApiCall("soc2-evidence", "ListAccessReviews", {}, "", None, NOT_CONFIGURED)
        errs = scope_errors(scope, call)
        return ScopeOutcome(
            scope, errs, status="error", message=str(exc), collection_errors=errs, duration_s=time.monotonic() - started
        )
    spec.fetch(ctx)
    files = write_bundle(recorder.bundle, RunWriter(Path(run_path)))
    results = evaluate_bundle(recorder.bundle, checks_for(collector_id), thresholds, as_of)
    failed = sum(
        1
        for calls in recorder.bundle.calls.values()
        for c in calls
        if c.error and c.error.code not in spec.absent_codes
    )
    status = "ok" if failed == 0 else ("partial" if failed < recorder.api_calls else "error")
    return ScopeOutcome(
        scope,
        results,
        evidence=files,
        status=status,
        api_calls=recorder.api_calls,
        failed_calls=failed,
        duration_s=time.monotonic() - started,
    )


def crashed_outcome(scope: Scope, exc: BaseException | str) -> ScopeOutcome:
    """A task that failed even after its retries: every check of it is `error`."""
    text = exc if isinstance(exc, str) else "".join(traceback.format_exception_only(exc)).strip()
    call = ApiCall(
        "soc2-evidence", "Collect", {"collector": scope.collector}, "", None, ApiError("CollectorCrashed", text)
    )
    errs = scope_errors(scope, call)
    return ScopeOutcome(scope, errs, status="crashed", message=text, collection_errors=errs)


def unreachable_outcome(scope: Scope, call: ApiCall, evidence: Iterable[EvidenceRef] = ()) -> ScopeOutcome:
    """A scope in an account that could not be entered (role, credentials, throttling). The message
    names the call and the error code: AWS's own text alone ("Rate exceeded") does not say which."""
    errs = scope_errors(scope, call, evidence)
    err = call.error
    message = f"{call.service}:{call.operation} {err.code}: {err.message}" if err else ""
    return ScopeOutcome(scope, errs, status="error", message=message, collection_errors=errs)


__all__ = [
    "ScopeOutcome",
    "collect_scope",
    "crashed_outcome",
    "evaluate_bundle",
    "scope_errors",
    "unreachable_outcome",
    "write_bundle",
]
