"""Google REST APIs (Resource Manager, IAM) over plain authorized HTTP: google-auth's AuthorizedSession.

Why not google-cloud-resource-manager / google-cloud-iam: both are gRPC-first clients that would add
grpcio, proto-plus and grpc-google-iam-v1 (tens of MB, a C extension) for six read-only calls, and turn
every answer into protobuf messages; the evidence would then be a re-serialisation, not what the API said.
google-auth (Application Default Credentials, token refresh) and google-api-core (the exceptions, the
retry) are already installed with google-cloud-storage. So each call is one HTTPS request whose JSON body
is recorded as it came, the same way the Cloud Storage collector records the JSON API's bodies.

Endpoints (the client's endpoint option): ``GcpFetchContext(..., endpoints={"iam": URL, ...})``, else the
environment variable gcloud itself honours, ``CLOUDSDK_API_ENDPOINT_OVERRIDES_<API>`` (e.g.
``CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM=http://127.0.0.1:8080/``), else ``https://<api>.googleapis.com/``.
That is how the tests and the demo reach a local fake over real HTTP.

Credentials: Application Default Credentials (cloud-platform scope), resolved at the first call so that
missing credentials are the recorded error of that call (NoCredentials), not a crash. A plain-``http``
endpoint gets no credentials at all: it can only be a local emulator, and a token is never sent in clear.

Every request is bounded like the Cloud Storage calls (collectors.gcp.base): `timeout_seconds` per
attempt, `deadline_seconds` for all attempts and back-off together; 429 / 5xx / connection errors are
retried. An HTTP error raises google-api-core's exception for its status (Forbidden, NotFound...), which
collectors.gcp.base.classify_error records with the status and, for 403, the missing permission.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from google.api_core import exceptions as api_exceptions
from google.api_core.retry import Retry
from google.cloud.storage.retry import _should_retry

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
ENV_PREFIX = "CLOUDSDK_API_ENDPOINT_OVERRIDES_"


def endpoint_for(api: str, endpoints: Mapping[str, str] | None = None) -> str:
    """The base URL of an API ("iam", "cloudresourcemanager"), always ending in "/"."""
    url = (endpoints or {}).get(api) or os.environ.get(ENV_PREFIX + api.upper()) or f"https://{api}.googleapis.com/"
    return url if url.endswith("/") else url + "/"


def _credentials(endpoint: str, given: Any) -> Any:
    if urlsplit(endpoint).scheme == "http":  # a local emulator: never send a token in clear
        from google.auth.credentials import AnonymousCredentials

        return AnonymousCredentials()
    if given is not None:
        return given
    import google.auth

    credentials, _ = google.auth.default(scopes=list(SCOPES))
    return credentials


class RestApi:
    """One Google REST API: `call(method, path, params=..., body=...)` returns the JSON answer."""

    def __init__(self, api: str, tuning: Any, *, endpoints: Mapping[str, str] | None = None, credentials: Any = None):
        self.api = api
        self.endpoint = endpoint_for(api, endpoints)
        self.tuning = tuning
        self._given = credentials
        self._session: Any = None
        self._lock = threading.Lock()

    def session(self) -> Any:
        with self._lock:
            if self._session is None:
                import requests
                from google.auth.transport.requests import AuthorizedSession

                session = AuthorizedSession(_credentials(self.endpoint, self._given))
                pool = max(10, int(self.tuning.concurrency) * 2)
                adapter = requests.adapters.HTTPAdapter(pool_connections=pool, pool_maxsize=pool)
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                self._session = session
            return self._session

    def call(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None
    ) -> dict[str, Any]:
        """One request (path relative to the endpoint, e.g. "v1/projects/p:getAncestry"), bounded by the tuning."""
        deadline_at = time.monotonic() + self.tuning.deadline_seconds
        url = self.endpoint + path.lstrip("/")

        def attempt() -> dict[str, Any]:
            remaining = deadline_at - time.monotonic()
            if remaining <= 0:
                raise api_exceptions.DeadlineExceeded(f"deadline of {self.tuning.deadline_seconds}s exhausted")
            timeout = min(self.tuning.timeout_seconds, remaining)
            response = self.session().request(method, url, params=dict(params or {}), json=body, timeout=timeout)
            if response.status_code >= 400:
                raise api_exceptions.from_http_response(response)
            return response.json() if response.content else {}

        retry = Retry(
            predicate=_should_retry,
            initial=self.tuning.initial_backoff_seconds,
            maximum=self.tuning.max_backoff_seconds,
            multiplier=2.0,
            timeout=self.tuning.deadline_seconds,
        )
        return retry(attempt)()
