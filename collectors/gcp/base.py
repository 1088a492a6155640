"""GCP plumbing shared by the collectors: clients, bounded retries, error capture.

Credentials are Application Default Credentials, resolved by google-cloud-storage
itself: when STORAGE_EMULATOR_HOST is set the library targets that endpoint and
uses AnonymousCredentials on its own (client.py: "Authentication may be bypassed
... if STORAGE_EMULATOR_HOST is set"), so this module does not special-case it.

Every request goes through :meth:`GcpFetchContext.get`, which bounds it twice:
each attempt has `timeout_seconds` (never more than what is left of the budget)
and all attempts together, back-off included, stay within `deadline_seconds`.
google-cloud-storage's own default retry would keep an unreachable endpoint busy
for 120 s per call.

Raw answers are the JSON API's own bodies (`Connection.api_request`), not the
library's objects, so the evidence is exactly what the Cloud Storage API said.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import google.auth.exceptions
import requests
from google.api_core import exceptions as api_exceptions
from google.api_core.retry import Retry
from google.cloud.storage.retry import _should_retry

from collectors.evidence import ApiError, Recorder

GLOBAL_REGION = "global"


@dataclass(frozen=True)
class GcpTuning:
    """Client behaviour: per-attempt timeout, total retry budget, fan-out."""

    timeout_seconds: float = 10.0  # one HTTP attempt (connect + read)
    deadline_seconds: float = 30.0  # every attempt and back-off of one call together
    concurrency: int = 16  # in-flight calls per collector task
    initial_backoff_seconds: float = 0.5
    max_backoff_seconds: float = 8.0


def classify_error(exc: BaseException) -> ApiError:
    """Turn a google-cloud-storage / google-auth / requests failure into recorded evidence."""
    if isinstance(exc, api_exceptions.RetryError):
        cause = exc.cause
        last = f"{type(cause).__name__}: {cause}" if cause is not None else "none"
        status = getattr(cause, "code", None) if isinstance(cause, api_exceptions.GoogleAPICallError) else None
        return ApiError("Timeout", f"retry deadline exceeded ({exc.message}); last error: {last}", None, status)
    if isinstance(exc, api_exceptions.DeadlineExceeded):
        return ApiError("Timeout", str(exc.message), None, exc.code if isinstance(exc.code, int) else None)
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        status = exc.code if isinstance(exc.code, int) else None
        reason = getattr(exc, "reason", None)
        message = str(exc.message) + (f" (reason: {reason})" if reason else "")
        return ApiError(type(exc).__name__, message, None, status)
    if isinstance(exc, google.auth.exceptions.DefaultCredentialsError):
        return ApiError("NoCredentials", str(exc))
    if isinstance(exc, google.auth.exceptions.RefreshError):
        return ApiError("CredentialsRefreshError", str(exc))
    if isinstance(exc, requests.Timeout):
        return ApiError("Timeout", str(exc))
    if isinstance(exc, requests.ConnectionError | ConnectionError):
        return ApiError("EndpointConnectionError", str(exc))
    if isinstance(exc, google.auth.exceptions.TransportError):
        return ApiError("EndpointConnectionError", str(exc))
    return ApiError(type(exc).__name__, str(exc))


class GcpFetchContext:
    """The FetchContext for GCP collectors: one project, region "global".

    `account` is the project ID (the scope's account). `client()` is created
    lazily, so missing Application Default Credentials surface as the recorded
    error of the first call (code NoCredentials), not as a crash.
    """

    def __init__(
        self,
        project: str,
        recorder: Recorder,
        tuning: GcpTuning | None = None,
        *,
        credentials: Any = None,
        client_options: Mapping[str, Any] | None = None,
        endpoints: Mapping[str, str] | None = None,
    ) -> None:
        self.project = project
        self.account = project
        self.region = GLOBAL_REGION
        self.recorder = recorder
        self.tuning = tuning or GcpTuning()
        self._credentials = credentials
        self._client_options = dict(client_options) if client_options else None
        self._client: Any = None
        self._lock = threading.Lock()
        self._endpoints = dict(endpoints) if endpoints else None
        self._apis: dict[str, Any] = {}

    def client(self, service: str = "storage") -> Any:
        """The google.cloud.storage.Client of the project (one per context, thread-safe to share)."""
        if service != "storage":
            raise ValueError(f"no GCP client for service {service!r}")
        with self._lock:
            if self._client is None:
                from google.cloud import storage  # imported when first used

                client = storage.Client(
                    project=self.project, credentials=self._credentials, client_options=self._client_options
                )
                pool = max(10, self.tuning.concurrency * 2)
                adapter = requests.adapters.HTTPAdapter(pool_connections=pool, pool_maxsize=pool)
                client._http.mount("https://", adapter)
                client._http.mount("http://", adapter)
                self._client = client
            return self._client

    def api(self, name: str) -> Any:
        """A Google REST API of the project's context ("iam", "cloudresourcemanager"): a collectors.gcp.rest.RestApi
        (endpoint option: `endpoints`, else CLOUDSDK_API_ENDPOINT_OVERRIDES_<API>)."""
        from collectors.gcp.rest import RestApi

        with self._lock:
            if name not in self._apis:
                self._apis[name] = RestApi(name, self.tuning, endpoints=self._endpoints, credentials=self._credentials)
            return self._apis[name]

    @property
    def endpoint(self) -> str:
        """The API base URL the client talks to (https://storage.googleapis.com unless overridden)."""
        return str(self.client()._connection.API_BASE_URL)

    def retry(self) -> Retry:
        return Retry(
            predicate=_should_retry,
            initial=self.tuning.initial_backoff_seconds,
            maximum=self.tuning.max_backoff_seconds,
            multiplier=2.0,
            timeout=self.tuning.deadline_seconds,
        )

    def get(self, path: str, query_params: Mapping[str, Any] | None = None) -> Any:
        """GET a JSON API path (e.g. "/b") and return the raw body; bounded by the tuning.

        Each attempt's timeout is the smaller of `timeout_seconds` and what is
        left of `deadline_seconds`, so a call never outlives its budget by more
        than the scheduling noise, whatever the endpoint does.
        """
        connection = self.client()._connection
        deadline_at = time.monotonic() + self.tuning.deadline_seconds
        params = dict(query_params or {})

        def attempt() -> Any:
            remaining = deadline_at - time.monotonic()
            if remaining <= 0:
                raise api_exceptions.DeadlineExceeded(f"deadline of {self.tuning.deadline_seconds}s exhausted")
            timeout = min(self.tuning.timeout_seconds, remaining)
            return connection.api_request(method="GET", path=path, query_params=params, timeout=timeout)

        return self.retry()(attempt)()

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        """Fan per-resource calls out over a bounded pool (1 = sequential)."""
        items = list(items)
        if self.tuning.concurrency <= 1 or len(items) <= 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(self.tuning.concurrency, len(items))) as pool:
            return list(pool.map(fn, items))


def endpoint_scheme(endpoint: str) -> str:
    return urlsplit(endpoint).scheme or "https"
