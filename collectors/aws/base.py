"""AWS plumbing shared by the collectors: sessions, clients, error capture.

Sessions are obtained inside the task that uses them (never passed between
tasks), so the same code runs on threads, Dask workers or separate flow runs;
within a process, new_session() hands every task with the same credentials the
same thread-safe session.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import boto3
import botocore.exceptions
import botocore.session
from botocore.config import Config

from collectors.aws.timestamps import use_fast_timestamps
from collectors.evidence import ApiError, Recorder

GLOBAL_REGION = "global"

# The error codes botocore's retry modes treat as throttling (botocore.retries.standard): after
# the last attempt such an error means "AWS asked us to slow down", never a missing permission.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)


@dataclass(frozen=True)
class AwsTuning:
    """Client behaviour: botocore's retry modes do backoff and throttling.

    `max_attempts` is the number of attempts in all, the first one included (botocore's
    `total_max_attempts`): 5 = one call and up to 4 retries. botocore's own `max_attempts`
    key in the retries dict counts retries only (5 there would be 6 attempts)."""

    retry_mode: str = "standard"  # or "adaptive" (client-side rate limiting)
    max_attempts: int = 5  # attempts in all, the first included
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    concurrency: int = 16  # in-flight calls per collector task

    def botocore_config(self) -> Config:
        return Config(
            retries={"mode": self.retry_mode, "total_max_attempts": self.max_attempts},
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            max_pool_connections=max(10, self.concurrency * 2),
            user_agent_extra="soc2-evidence",
        )


def classify_error(exc: BaseException) -> ApiError:
    """Turn any boto3/botocore failure into recorded evidence of the failure."""
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return ApiError(str(error.get("Code", "ClientError")), str(error.get("Message", exc)), None, status)
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return ApiError("NoCredentials", str(exc))
    if isinstance(exc, botocore.exceptions.EndpointConnectionError | botocore.exceptions.ConnectTimeoutError):
        return ApiError("EndpointConnectionError", str(exc))
    if isinstance(exc, botocore.exceptions.ReadTimeoutError):
        return ApiError("ReadTimeout", str(exc))
    return ApiError(type(exc).__name__, str(exc))


class AssumeRoleError(Exception):
    """The account's role could not be assumed; carries the recorded error."""

    def __init__(self, role_arn: str, error: ApiError) -> None:
        super().__init__(f"cannot assume {role_arn}: {error.code}: {error.message}")
        self.role_arn = role_arn
        self.error = error


_CREDENTIALS_CACHE: dict[str, tuple[float, Mapping[str, str]]] = {}
_CREDENTIALS_LOCK = threading.Lock()


def clear_credentials_cache() -> None:
    """Forget assumed-role credentials (at the start of every run, so a role
    whose trust was revoked is seen as such, not masked by a cached session)."""
    with _CREDENTIALS_LOCK:
        _CREDENTIALS_CACHE.clear()
    with _SESSIONS_LOCK:
        _SESSIONS.clear()


_SHARED_LOADER: Any = None
_LOADER_LOCK = threading.Lock()
_SESSIONS: dict[tuple[tuple[str, str], ...], SharedSession] = {}
_SESSIONS_LOCK = threading.Lock()
_SESSIONS_MAX = 64  # distinct credentials kept per process; the oldest is dropped beyond


class SharedSession(boto3.Session):
    """A boto3 session that several threads may make clients from: a botocore session
    is not thread-safe, its clients are, so client() and resource() take a lock."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._client_lock = threading.Lock()

    def client(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        with self._client_lock:
            return super().client(*args, **kwargs)

    def resource(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        with self._client_lock:
            return super().resource(*args, **kwargs)


def _build_session(**credentials: str) -> SharedSession:
    global _SHARED_LOADER
    core = botocore.session.get_session()
    use_fast_timestamps(core)  # ISO 8601 timestamps without dateutil (collectors.aws.timestamps)
    with _LOADER_LOCK:
        if _SHARED_LOADER is None:
            _SHARED_LOADER = core.get_component("data_loader")
    core.register_component("data_loader", _SHARED_LOADER)
    return SharedSession(botocore_session=core, **credentials)


def new_session(**credentials: str) -> boto3.Session:
    """The process's boto3 session for these credentials (none: the default chain).

    Creating a session costs ~8 ms of CPU and each session's first client of a
    service ~3x a later one (the session caches what it derives from the service
    model): with a session per scope, the demo over every enabled region paid that
    ~1,000 times. So one session per credentials per process, made lazily
    and kept (sessions of credentials no longer used are dropped beyond
    _SESSIONS_MAX, and by clear_credentials_cache). The key includes the AWS_*
    environment (endpoint, profile, region, keys), so a changed environment gets
    a new session. Every session shares one botocore data loader: parsed service
    models (EC2's alone is ~20 MB of Python objects) exist once per process."""
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
    key = (*sorted(credentials.items()), ("", ""), *env)
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(key)
        if session is None:
            session = _build_session(**credentials)
            if len(_SESSIONS) >= _SESSIONS_MAX:
                _SESSIONS.pop(next(iter(_SESSIONS)))
            _SESSIONS[key] = session
        return session


def session_for(role_arn: str | None, tuning: AwsTuning, session_name: str = "soc2-evidence") -> boto3.Session:
    """A boto3 session in the target account: the default chain, or an
    assumed role. Credentials are cached per process until 5 minutes before
    expiry; this is an optimisation only, nothing relies on it."""
    if not role_arn:
        return new_session()
    now = time.time()
    with _CREDENTIALS_LOCK:
        cached = _CREDENTIALS_CACHE.get(role_arn)
    if cached and cached[0] - 300 > now:
        creds = cached[1]
    else:
        sts = new_session().client("sts", config=tuning.botocore_config())
        try:
            answer = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name, DurationSeconds=3600)
        except Exception as exc:
            err = classify_error(exc)
            raise AssumeRoleError(role_arn, ApiError(err.code, err.message, "sts:AssumeRole", err.http_status)) from exc
        raw = answer["Credentials"]
        creds = {
            "aws_access_key_id": raw["AccessKeyId"],
            "aws_secret_access_key": raw["SecretAccessKey"],
            "aws_session_token": raw["SessionToken"],
        }
        expiry = raw["Expiration"].timestamp() if hasattr(raw["Expiration"], "timestamp") else now + 3600
        with _CREDENTIALS_LOCK:
            _CREDENTIALS_CACHE[role_arn] = (expiry, creds)
    return new_session(**creds)


def endpoint_override(service_env_name: str) -> bool:
    """True when boto3 is pointed at a custom endpoint (moto, a proxy)."""
    return bool(os.environ.get("AWS_ENDPOINT_URL") or os.environ.get(f"AWS_ENDPOINT_URL_{service_env_name}"))


def strip_account_host_prefix(client: Any) -> Any:
    """S3 Control's endpoint rules put "<AccountId>." in front of the host, even
    of a custom endpoint URL (inject_host_prefix=False does not stop it), which
    cannot resolve for an IP address or a proxy: send to the endpoint's host."""

    def strip(request: Any, **_: Any) -> None:
        parts = urlsplit(request.url)
        label, _, rest = parts.netloc.partition(".")
        if label.isdigit() and len(label) == 12 and rest:
            request.url = urlunsplit(parts._replace(netloc=rest))

    client.meta.events.register("before-sign.s3-control", strip)
    return client


class AwsFetchContext:
    """The FetchContext for AWS collectors: one account, one region."""

    def __init__(
        self, session: boto3.Session, account: str, region: str, recorder: Recorder, tuning: AwsTuning
    ) -> None:
        self.session = session
        self.account = account
        self.region = region
        self.recorder = recorder
        self.tuning = tuning
        self.reviews_dir: Path | None = None  # set for the access-review collector
        self.identity_center: Any = None  # set for aws.sso: a collectors.aws.sso.IdentityCenterScope
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str, region: str | None = None) -> Any:
        """A client for the context's region (or another, e.g. a bucket's home region)."""
        name = region or (self.region if self.region != GLOBAL_REGION else "us-east-1")
        key = f"{service}@{name}"
        with self._lock:
            if key not in self._clients:
                client = self.session.client(service, region_name=name, config=self.tuning.botocore_config())
                if service == "s3control" and endpoint_override("S3_CONTROL"):
                    client = strip_account_host_prefix(client)
                self._clients[key] = client
            return self._clients[key]

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        """Fan per-resource calls out over a bounded pool (1 = sequential)."""
        items = list(items)
        if self.tuning.concurrency <= 1 or len(items) <= 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(self.tuning.concurrency, len(items))) as pool:
            return list(pool.map(fn, items))
