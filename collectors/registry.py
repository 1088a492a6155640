"""The declarative registry of collectors and checks (Cloud Custodian-style).

A *collector* fetches raw evidence for one cloud service and declares the
IAM permission each API operation needs. A *check* is a pure function of a
collector's evidence that declares its metadata (title, severity, resource
type, permissions, remediation, default thresholds). The permissions policy,
the catalog validation and the reports are all generated from here.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from collectors.evidence import ApiCall, EvidenceBundle, Recorder, Scope
from controls import CheckResult, CheckSpec, EvidenceRef, Severity, Status

ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
        "AuthorizationErrorException",
        "Forbidden",
        "UnauthorizedAccess",
        "AccessDeniedForDependencyException",
        "AWSOrganizationsNotInUseException",
    }
)


MESSAGE_LIMIT = 1_000


def cap_message(message: str, limit: int = MESSAGE_LIMIT, kept_in: str | None = "the evidence file") -> str:
    """An error message short enough for a finding, a CSV cell and a workbook row.

    Some services answer errors with whole HTML pages or long XML (over 40 KB seen); the full
    answer stays in the evidence file, the finding keeps its head and says where the rest is."""
    if len(message) <= limit:
        return message
    where = f"; the full message is in {kept_in}" if kept_in else ""
    return f"{message[:limit]}… [{len(message):,} characters in all{where}]"


class FetchContext(Protocol):
    """What a collector's fetch gets: a recorder and a way to fan out calls."""

    recorder: Recorder
    region: str
    account: str

    def client(self, service: str) -> Any: ...

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]: ...


@dataclass(frozen=True)
class CollectorSpec:
    id: str  # "aws.s3"
    provider: str  # "aws"
    service: str  # "s3"
    per_region: bool  # False: runs once per account, region recorded as "global"
    operations: Mapping[str, str]  # "service:Operation" -> IAM permission it needs
    fetch: Callable[[FetchContext], None]
    description: str = ""
    # error codes that are an answer, not a failure: "this is not configured"
    # (e.g. S3's NoSuchPublicAccessBlockConfiguration); recorded as they came,
    # but they do not make the collector's status partial
    absent_codes: frozenset[str] = frozenset()
    # "collect": one task per (account, region) in the fan-out; "scope": run by the flow once per
    # account before the fan-out, because its answers decide the fan-out (aws.scope: the regions)
    stage: str = "collect"


class CheckContext:
    """Builds results for one check in one scope, so checks stay short and
    every result carries the same provider/account/region/check ID."""

    def __init__(self, spec: CheckSpec, scope: Scope, thresholds: Mapping[str, Any], as_of: datetime) -> None:
        self.spec = spec
        self.scope = scope
        self.thresholds = {**spec.thresholds, **thresholds}
        self.as_of = as_of

    def result(
        self,
        status: Status,
        resource_id: str,
        *,
        observed: Any,
        expected: Any,
        reason: str,
        evidence: Iterable[EvidenceRef] = (),
        region: str | None = None,
        resource_type: str | None = None,
    ) -> CheckResult:
        return CheckResult(
            check_id=self.spec.id,
            provider=self.scope.provider,
            account=self.scope.account,
            region=region or self.scope.region,
            resource_type=resource_type or self.spec.resource_type,
            resource_id=resource_id,
            status=status,
            observed=observed,
            expected=expected,
            reason=reason,
            evidence=tuple(dict.fromkeys(evidence)),
        )

    def passed(self, resource_id: str, **kw: Any) -> CheckResult:
        return self.result(Status.PASS, resource_id, **kw)

    def failed(self, resource_id: str, **kw: Any) -> CheckResult:
        return self.result(Status.FAIL, resource_id, **kw)

    def not_applicable(self, resource_id: str, **kw: Any) -> CheckResult:
        return self.result(Status.NOT_APPLICABLE, resource_id, **kw)

    def error(
        self,
        call: ApiCall,
        resource_id: str = "*",
        *,
        evidence: Iterable[EvidenceRef] = (),
        expected: Any = None,
        region: str | None = None,
        resource_type: str | None = None,
    ) -> CheckResult:
        """An `error` result for a failed call: never a pass, never dropped.

        `resource_id="*"` stands for "every resource of this type in scope",
        used when the listing itself failed and the population is unknown.
        """
        err = call.error
        assert err is not None, "error() needs a failed call"
        denied = err.code in ACCESS_DENIED_CODES
        observed = {
            "operation": f"{call.service}:{call.operation}",
            "error_code": err.code,
            "message": cap_message(err.message),
            "required_permission": err.permission,
            "missing_permission": err.permission if denied else None,
        }
        what = "every resource in scope" if resource_id == "*" else resource_id
        reason = f"not assessed ({what}): {call.service}:{call.operation} failed with {err.code}"
        if denied and err.permission:
            reason += f"; missing permission {err.permission}"
        elif err.code == str(err.http_status) == "403":
            # botocore found no error code in the body: a proxy, a WAF or a malformed answer
            # refused it as often as IAM did, so naming a missing permission would mislead.
            reason += " (HTTP 403 without an AWS error code: not necessarily a missing permission"
            reason += f"; it needs {err.permission})" if err.permission else ")"
        elif err.permission:
            reason += f" (needs {err.permission})"
        return self.result(
            Status.ERROR,
            resource_id,
            observed=observed,
            expected=expected if expected is not None else "evidence collected",
            reason=reason,
            evidence=evidence,
            region=region,
            resource_type=resource_type,
        )


CheckFn = Callable[[EvidenceBundle, CheckContext], Iterable[CheckResult]]


@dataclass(frozen=True)
class Check:
    spec: CheckSpec
    collector: str
    evaluate: CheckFn

    def run(self, bundle: EvidenceBundle, thresholds: Mapping[str, Any], as_of: datetime) -> list[CheckResult]:
        return list(self.evaluate(bundle, CheckContext(self.spec, bundle.scope, thresholds, as_of)))


_COLLECTORS: dict[str, CollectorSpec] = {}
_CHECKS: dict[str, Check] = {}

# Provider packages whose modules register collectors and checks on import.
PROVIDER_PACKAGES: tuple[str, ...] = (
    "collectors.aws",
    "collectors.gcp",
    "collectors.endpoint",
    "collectors.access_review",
)
NOT_COLLECTORS = frozenset({"base"})  # shared plumbing modules of a provider package


def builtin_modules() -> list[str]:
    """Every collector module of the provider packages (new modules register
    themselves by existing: no list to keep in sync)."""
    out = []
    for package in PROVIDER_PACKAGES:
        try:
            pkg = importlib.import_module(package)
        except ModuleNotFoundError:
            continue
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
            if not info.name.startswith("_") and info.name not in NOT_COLLECTORS:
                out.append(f"{package}.{info.name}")
    return out


def register_collector(spec: CollectorSpec) -> CollectorSpec:
    if spec.id in _COLLECTORS and _COLLECTORS[spec.id] is not spec:
        raise ValueError(f"collector {spec.id} registered twice")
    _COLLECTORS[spec.id] = spec
    return spec


def check(
    *,
    id: str,
    collector: str,
    title: str,
    description: str,
    severity: Severity,
    resource_type: str,
    permissions: Iterable[str],
    remediation: str,
    thresholds: Mapping[str, Any] | None = None,
    risk: str = "",
) -> Callable[[CheckFn], CheckFn]:
    """Register a pure check function with its metadata."""

    def register(fn: CheckFn) -> CheckFn:
        if id in _CHECKS:
            raise ValueError(f"check {id} registered twice")
        provider = id.split(".", 1)[0]
        spec = CheckSpec(
            id=id,
            title=title,
            description=description,
            severity=severity,
            provider=provider,
            resource_type=resource_type,
            permissions=tuple(sorted(set(permissions))),
            remediation=remediation,
            thresholds=dict(thresholds or {}),
            risk=risk,
        )
        _CHECKS[id] = Check(spec=spec, collector=collector, evaluate=fn)
        return fn

    return register


_LOADED = threading.Event()
_LOAD_LOCK = threading.Lock()


def load_builtin() -> None:
    """Import every built-in collector module, once per process.

    The registry is read on hot paths (every evidence file name, every task);
    walking the provider packages on each read cost a directory listing per
    call and, under 8 task threads, showed up as ~10% of a run's wall time."""
    if _LOADED.is_set():
        return
    with _LOAD_LOCK:
        if _LOADED.is_set():
            return
        for module in builtin_modules():
            importlib.import_module(module)
        _LOADED.set()


def collectors() -> dict[str, CollectorSpec]:
    load_builtin()
    return dict(_COLLECTORS)


def checks() -> dict[str, Check]:
    load_builtin()
    return dict(_CHECKS)


def collector_spec(collector_id: str) -> CollectorSpec | None:
    """One collector's spec without copying the registry (a hot path)."""
    load_builtin()
    return _COLLECTORS.get(collector_id)


def checks_for(collector_id: str) -> list[Check]:
    load_builtin()
    return [c for c in _CHECKS.values() if c.collector == collector_id]


def specs() -> dict[str, CheckSpec]:
    return {cid: c.spec for cid, c in checks().items()}
