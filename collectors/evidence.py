"""Raw evidence: every API answer (or error) a fetch received, as plain JSON.

A fetch records calls through a :class:`Recorder`; the flow writes the
recorded calls to the evidence store; checks read them back through an
:class:`EvidenceBundle`. Checks only ever see JSON-normalised data (dates as
ISO strings), exactly what is on disk, so `evaluate RUN_DIR` reproduces the
same findings from the stored files.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from controls import EvidenceRef


def utc_now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "read"):  # botocore StreamingBody: never recorded raw
        return "<stream>"
    return str(value)


def normalise(value: Any) -> Any:
    """Round-trip through JSON so in-memory evidence equals on-disk evidence."""
    return json.loads(json.dumps(value, default=_json_default))


def dumps(value: Any) -> bytes:
    """Deterministic JSON bytes (sorted keys) for evidence files and hashes."""
    return json.dumps(value, default=_json_default, sort_keys=True, indent=1, ensure_ascii=False).encode()


@dataclass(frozen=True)
class Scope:
    """Where a batch of evidence comes from: one collector in one account/region."""

    provider: str
    account: str
    region: str
    collector: str  # e.g. "aws.s3"

    def to_json(self) -> dict[str, str]:
        return {"provider": self.provider, "account": self.account, "region": self.region, "collector": self.collector}


@dataclass(frozen=True)
class ApiError:
    """Why a call failed, with the IAM permission it needed."""

    code: str
    message: str
    permission: str | None = None
    http_status: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "permission": self.permission,
            "http_status": self.http_status,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ApiError:
        return cls(data["code"], data["message"], data.get("permission"), data.get("http_status"))


@dataclass(frozen=True)
class ApiCall:
    """One raw API answer (or failure) as recorded."""

    service: str
    operation: str  # the API's own operation name, e.g. "GetBucketEncryption"
    params: Mapping[str, Any]
    collected_at: str
    response: Any = None
    error: ApiError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "collected_at": self.collected_at,
            "response": self.response,
            "error": self.error.to_json() if self.error else None,
        }


def _params_key(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


@dataclass
class EvidenceBundle:
    """The recorded calls of one scope, grouped by (service, operation).

    `refs` maps (service, operation) to the evidence file once written, so a
    check can cite the exact file (and hash) a result derives from.
    """

    scope: Scope
    calls: dict[tuple[str, str], list[ApiCall]] = field(default_factory=dict)
    refs: dict[tuple[str, str], EvidenceRef] = field(default_factory=dict)
    _index: dict[tuple[str, str], dict[str, ApiCall]] = field(default_factory=dict, repr=False)

    def add(self, call: ApiCall) -> None:
        self.calls.setdefault((call.service, call.operation), []).append(call)
        self._index.pop((call.service, call.operation), None)

    def all(self, service: str, operation: str) -> list[ApiCall]:
        """Every recorded call of an operation (pages of a listing, in order)."""
        return self.calls.get((service, operation), [])

    def find(self, service: str, operation: str, **params: Any) -> ApiCall | None:
        """The call of `operation` made with exactly these parameters."""
        key = (service, operation)
        index = self._index.get(key)
        if index is None:
            index = {_params_key(c.params): c for c in self.calls.get(key, [])}
            self._index[key] = index
        return index.get(_params_key(params))

    def ref(self, service: str, operation: str) -> tuple[EvidenceRef, ...]:
        r = self.refs.get((service, operation))
        return (r,) if r else ()

    def refs_for(self, *ops: tuple[str, str]) -> tuple[EvidenceRef, ...]:
        out: list[EvidenceRef] = []
        for service, operation in ops:
            out.extend(self.ref(service, operation))
        return tuple(out)

    def operations(self) -> Iterator[tuple[str, str]]:
        return iter(sorted(self.calls))

    # --- (de)serialisation of one evidence file per (service, operation) ---

    def file_payload(self, service: str, operation: str) -> dict[str, Any]:
        calls = self.calls[(service, operation)]
        return {
            **self.scope.to_json(),
            "service": service,
            "operation": operation,
            "calls": [c.to_json() for c in calls],
        }

    def add_file_payload(self, payload: Mapping[str, Any]) -> None:
        for c in payload["calls"]:
            self.add(
                ApiCall(
                    service=payload["service"],
                    operation=payload["operation"],
                    params=c["params"],
                    collected_at=c["collected_at"],
                    response=c["response"],
                    error=ApiError.from_json(c["error"]) if c.get("error") else None,
                )
            )


ErrorClassifier = Callable[[BaseException], ApiError]


class Recorder:
    """Records each API answer of a fetch, thread-safely.

    `operations` maps "service:Operation" to the IAM permission it needs;
    an error on that operation names the permission, so an `error` result can
    tell the user exactly what to grant.
    """

    def __init__(self, scope: Scope, operations: Mapping[str, str], classify: ErrorClassifier) -> None:
        self.scope = scope
        self.operations = operations
        self._classify = classify
        self._lock = threading.Lock()
        self.bundle = EvidenceBundle(scope)
        self.api_calls = 0

    def permission_for(self, service: str, operation: str) -> str | None:
        return self.operations.get(f"{service}:{operation}")

    def record(
        self,
        service: str,
        operation: str,
        params: Mapping[str, Any],
        response: Any = None,
        error: ApiError | None = None,
    ) -> ApiCall:
        if isinstance(response, Mapping):
            response = {k: v for k, v in response.items() if k != "ResponseMetadata"}
        call = ApiCall(service, operation, normalise(dict(params)), utc_now_iso(), normalise(response), error)
        with self._lock:
            self.bundle.add(call)
            self.api_calls += 1
        return call

    def call(self, service: str, operation: str, fn: Callable[..., Any], **params: Any) -> ApiCall:
        """Invoke `fn(**params)` and record its answer or its error."""
        try:
            response = fn(**params)
        except Exception as exc:  # every failure is evidence, never a crash or a silent drop
            err = self._classify(exc)
            if err.permission is None:
                err = ApiError(err.code, err.message, self.permission_for(service, operation), err.http_status)
            return self.record(service, operation, params, error=err)
        return self.record(service, operation, params, response=response)

    def paginate(
        self,
        service: str,
        operation: str,
        fn: Callable[..., Any],
        token_in: str,
        token_out: str,
        **params: Any,
    ) -> list[ApiCall]:
        """Record every page of a token-paginated listing; stops at the first error."""
        pages: list[ApiCall] = []
        token: str | None = None
        while True:
            page_params = dict(params)
            if token:
                page_params[token_in] = token
            page = self.call(service, operation, fn, **page_params)
            pages.append(page)
            if not page.ok:
                return pages
            token = (page.response or {}).get(token_out)
            if not token:
                return pages


def listing_error(pages: Iterable[ApiCall]) -> ApiCall | None:
    """The failed page of a listing, if any: its results are then incomplete."""
    for page in pages:
        if not page.ok:
            return page
    return None
