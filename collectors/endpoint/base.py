"""Endpoint plumbing shared by the live-endpoint collectors: targets, tuning, error capture.

An endpoint scope is one target (host:port): the finding's `account` is the
target's label and its region is "global". There is no cloud API and no IAM:
a failure is a network or TLS failure, recorded with its reason.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from collectors.evidence import ApiError, Recorder, Scope

GLOBAL_REGION = "global"
PROVIDER = "endpoint"


def is_ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class EndpointTarget:
    """One TLS endpoint to assess.

    `sni` is the name sent in the TLS Server Name Indication and the name the
    certificate must match (default: `host`). `address` connects to that IP
    instead of resolving `host` (e.g. a host name served from a known IP,
    or the demo's endpoints on 127.0.0.1); the label still names `host`.
    """

    host: str
    port: int = 443
    sni: str | None = None
    address: str | None = None

    @property
    def label(self) -> str:
        """ "host:port" ("[v6]:port" for an IPv6 literal): the finding's account and resource id."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def server_name(self) -> str:
        """The name sent as SNI and matched against the certificate."""
        return self.sni or self.host

    def params(self) -> dict[str, Any]:
        """The recorded parameters of a scan of this target."""
        out: dict[str, Any] = {"host": self.host, "port": self.port, "sni": self.sni}
        if self.address:
            out["address"] = self.address
        return out


@dataclass(frozen=True)
class TlsTuning:
    """How endpoints are scanned.

    `timeout_seconds` is the network timeout of every connection the scanner
    makes; `max_scan_seconds` caps one endpoint's whole scan on the wall
    clock (default: 12 x the network timeout, at least 60 s), after which the
    scan is recorded as a `ScanTimeout` error. `ca_bundle` is a PEM file of
    trusted CAs (private PKI); None validates against the system trust store.
    `concurrency` is how many endpoints are scanned at once.
    """

    timeout_seconds: float = 10.0
    ca_bundle: str | None = None
    concurrency: int = 8
    max_scan_seconds: float | None = None
    connections_per_endpoint: int = 5  # sslyze's default per-server connection limit

    @property
    def scan_deadline(self) -> float:
        if self.max_scan_seconds is not None:
            return self.max_scan_seconds
        return max(60.0, 12 * self.timeout_seconds)


class ScanError(Exception):
    """A scan failure with the scanner's own error kind (e.g. "ConnectionToServerTimedOut")."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class ScanTimeout(Exception):
    """The wall-clock cap of one endpoint's scan was reached."""


# sslyze / socket failure kinds (class names, most specific first) -> recorded error code
_CODES: tuple[tuple[str, str], ...] = (
    ("ServerHostnameCouldNotBeResolved", "DnsFailure"),
    ("gaierror", "DnsFailure"),
    ("ConnectionToServerTimedOut", "ConnectionTimeout"),
    ("ConnectionToHttpProxyTimedOut", "ConnectionTimeout"),
    ("TlsHandshakeTimedOut", "TlsHandshakeTimeout"),
    ("ServerRejectedConnection", "ConnectionRefused"),
    ("HttpProxyRejectedConnection", "ConnectionRefused"),
    ("ConnectionRefusedError", "ConnectionRefused"),
    ("ServerTlsConfigurationNotSupported", "TlsHandshakeFailed"),
    ("ServerRejectedTlsHandshake", "TlsHandshakeFailed"),
    ("TlsHandshakeFailed", "TlsHandshakeFailed"),
    ("SSLError", "TlsHandshakeFailed"),
    ("ScanTimeout", "ScanTimeout"),
    ("TimeoutError", "ConnectionTimeout"),
    ("timeout", "ConnectionTimeout"),
    ("ConnectionToServerFailed", "ConnectionFailed"),
    ("ConnectionError", "ConnectionFailed"),
    ("OSError", "ConnectionFailed"),
)


def _kinds(exc: BaseException) -> list[str]:
    if isinstance(exc, ScanError):
        return [exc.kind]
    return [cls.__name__ for cls in type(exc).__mro__]


def classify_error(exc: BaseException) -> ApiError:
    """Turn any scan failure into recorded evidence of the failure (no IAM: permission None)."""
    kinds = _kinds(exc)
    message = getattr(exc, "message", None) or getattr(exc, "error_message", None) or str(exc) or type(exc).__name__
    if isinstance(exc, ScanError) or hasattr(exc, "error_message"):
        message = f"{kinds[0]}: {message}"
    for kind, code in _CODES:
        if kind in kinds:
            return ApiError(code, message)
    return ApiError("ScanError", f"{type(exc).__name__}: {exc}" if not isinstance(exc, ScanError) else message)


def resolve(target: EndpointTarget) -> str:
    """The IP address to connect to: `address`, the host if it is an IP literal, else DNS (IPv4 preferred)."""
    if target.address:
        return target.address
    if is_ip_address(target.host):
        return target.host
    try:
        infos = socket.getaddrinfo(target.host, target.port, socket.AF_UNSPEC, socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ScanError("ServerHostnameCouldNotBeResolved", f"cannot resolve {target.host}: {exc}") from exc
    if not infos:
        raise ScanError("ServerHostnameCouldNotBeResolved", f"cannot resolve {target.host}: no address")
    for family, _, _, _, sockaddr in infos:
        if family == socket.AF_INET:
            return str(sockaddr[0])
    return str(infos[0][4][0])


def endpoint_scope(target: EndpointTarget, collector: str = "endpoint.tls") -> Scope:
    return Scope(PROVIDER, target.label, GLOBAL_REGION, collector)


class EndpointFetchContext:
    """The FetchContext for endpoint collectors: one target."""

    def __init__(self, target: EndpointTarget, recorder: Recorder, tuning: TlsTuning | None = None) -> None:
        self.target = target
        self.recorder = recorder
        self.tuning = tuning or TlsTuning()
        self.account = target.label
        self.region = GLOBAL_REGION

    @classmethod
    def for_target(
        cls, target: EndpointTarget, tuning: TlsTuning | None = None, collector: str = "endpoint.tls"
    ) -> EndpointFetchContext:
        """A context with a fresh Recorder for `collector`'s scope of this target."""
        from collectors.registry import collectors

        spec = collectors()[collector]
        recorder = Recorder(endpoint_scope(target, collector), spec.operations, classify_error)
        return cls(target, recorder, tuning)

    def client(self, service: str) -> Any:
        raise NotImplementedError("endpoint collectors have no API client")

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        """Fan work out over a bounded pool (1 = sequential)."""
        items = list(items)
        if self.tuning.concurrency <= 1 or len(items) <= 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(self.tuning.concurrency, len(items))) as pool:
            return list(pool.map(fn, items))
