"""Real TLS servers on 127.0.0.1 for the demo, the integration tests and the benchmark.

A :class:`TlsServer` is a threaded HTTPS server built on Python's `ssl`
module with a chosen TLS version range, cipher string, certificate (from
the test CA of tls_ca.py) and Strict-Transport-Security header:

    ca = TestCA()
    cert = ca.issue(["app.dexo.chat"])
    with TlsServer(cert, minimum=ssl.TLSVersion.TLSv1_2, hsts=True) as srv:
        target = srv.target(sni="app.dexo.chat")

Legacy protocol versions: OpenSSL 3 refuses TLS 1.0/1.1 at its default
security level 1 even when the minimum version allows them; `legacy=True`
sets the cipher string's `@SECLEVEL=0` so the server really offers them
(verified by an sslyze scan in tests/integration/test_tls_scans.py).

:class:`SilentServer` accepts TCP connections and never answers (a hung
endpoint); :func:`closed_port` is a port with nothing listening.
start_demo_endpoints() runs Dexo.chat's three public endpoints.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collectors.endpoint.base import EndpointTarget
from demo.tls_ca import LOCALHOST, IssuedCert, TestCA

__all__ = [
    "LEGACY_CIPHERS",
    "MODERN_CIPHERS",
    "DemoEndpoints",
    "SilentServer",
    "TlsServer",
    "closed_port",
    "demo_endpoints",
    "start_demo_endpoints",
]

HSTS_ONE_YEAR = "max-age=31536000; includeSubDomains"
MODERN_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"  # TLS 1.2 suites; TLS 1.3 suites are not set by set_ciphers
# OpenSSL 3 offers TLS 1.0/1.1 only at @SECLEVEL=0; this build has no 3DES/RC4, so the weak suites
# the legacy endpoint accepts are anonymous ones (ADH/AECDH: no server authentication)
LEGACY_CIPHERS = "HIGH:AECDH:!PSK:!SRP:@SECLEVEL=0"


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "dexo-demo"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b"ok\n"
        self.send_response(200)
        hsts = self.server.hsts_header  # type: ignore[attr-defined]
        if hsts:
            self.send_header("Strict-Transport-Security", hsts)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    do_HEAD = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class _TlsHttpServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """HTTPS server that does each TLS handshake in the connection's thread,
    so a slow or failed handshake never blocks accept()."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, context: ssl.SSLContext, hsts_header: str | None, timeout: float, latency: float = 0.0) -> None:
        self.ssl_context = context
        self.latency = latency
        self.hsts_header = hsts_header
        self.conn_timeout = timeout
        super().__init__((LOCALHOST, 0), _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(self.conn_timeout)
        if self.latency:
            time.sleep(self.latency)  # a network round trip before the handshake
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return  # scanners make many handshakes that are meant to fail
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(OSError):
                tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet
        pass


class TlsServer:
    """A threaded HTTPS server on 127.0.0.1 (port 0) with a chosen TLS configuration."""

    def __init__(
        self,
        cert: IssuedCert,
        *,
        minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
        maximum: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED,
        ciphers: str | None = MODERN_CIPHERS,
        hsts: str | bool | None = True,
        legacy: bool | None = None,
        name: str = "",
        latency_seconds: float = 0.0,
    ) -> None:
        self.cert = cert
        self.latency_seconds = latency_seconds
        self.name = name
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if legacy is None:
            legacy = minimum < ssl.TLSVersion.TLSv1_2
        if legacy:
            ctx.set_ciphers(ciphers if ciphers and "@SECLEVEL" in ciphers else f"{ciphers or 'DEFAULT'}:@SECLEVEL=0")
            ctx.options &= ~ssl.OP_NO_TLSv1 & ~ssl.OP_NO_TLSv1_1  # type: ignore[assignment]
        elif ciphers:
            ctx.set_ciphers(ciphers)
        ctx.minimum_version = minimum
        ctx.maximum_version = maximum
        ctx.load_cert_chain(cert.cert_path, cert.key_path)
        self.context = ctx
        self.hsts_header = HSTS_ONE_YEAR if hsts is True else (hsts or None)
        self._server: _TlsHttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    def target(self, sni: str | None = None, host: str | None = None) -> EndpointTarget:
        """The endpoint to scan: `host` (default 127.0.0.1) at this port, with SNI `sni`;
        a DNS host name is connected to at 127.0.0.1 (no DNS lookup)."""
        if host is None:
            return EndpointTarget(LOCALHOST, self.port, sni)
        return EndpointTarget(host, self.port, sni, address=LOCALHOST)

    def start(self) -> TlsServer:
        self._server = _TlsHttpServer(self.context, self.hsts_header, timeout=10.0, latency=self.latency_seconds)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True, name=f"tls-{self.name}"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> TlsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SilentServer:
    """Accepts TCP connections and never answers: a hung endpoint."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._sock is not None
        return self._sock.getsockname()[1]

    def target(self, sni: str | None = None) -> EndpointTarget:
        return EndpointTarget(LOCALHOST, self.port, sni)

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns.append(conn)  # held open, never read, never answered

    def start(self) -> SilentServer:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((LOCALHOST, 0))
        self._sock.listen(64)
        self._sock.settimeout(0.1)
        self._thread = threading.Thread(target=self._accept, daemon=True, name="tls-silent")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for c in self._conns:
            with contextlib.suppress(OSError):
                c.close()
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> SilentServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def closed_port() -> int:
    """A local port with nothing listening (bound then released; the kernel
    does not hand it out again right away)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOCALHOST, 0))
        return s.getsockname()[1]


# --- the demo: Dexo.chat's public endpoints ------------------------------------------------------

APP = "app.dexo.chat"
LEGACY_API = "legacy-api.dexo.chat"
STATUS = "status.dexo.chat"


@dataclass
class DemoEndpoints:
    """The demo's running endpoints: what to scan, the CA to trust, what should fail."""

    targets: list[EndpointTarget]
    ca_bundle: Path
    # check id -> labels ("host:port") expected to be non-compliant
    expected_failures: dict[str, set[str]]
    servers: list[TlsServer] = field(default_factory=list)
    ca: TestCA | None = None

    def stop(self) -> None:
        for s in self.servers:
            s.stop()
        self.servers.clear()

    def __enter__(self) -> DemoEndpoints:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_demo_endpoints(ca_dir: Path) -> DemoEndpoints:
    """Dexo.chat's three public endpoints on 127.0.0.1, with certificates from a demo CA:

    - app.dexo.chat: TLS 1.2+ with ECDHE AEAD suites only, HSTS one year: compliant;
    - legacy-api.dexo.chat: TLS 1.0 and 1.1 still allowed, every HIGH suite including anonymous
      (ADH/AECDH) ones, no HSTS;
    - status.dexo.chat: TLS 1.2+ and HSTS, but its certificate expires in 10 days.

    Targets name the host (label "app.dexo.chat:PORT") and connect to 127.0.0.1.
    """
    ca = TestCA(Path(ca_dir))
    now = dt.datetime.now(dt.UTC)
    servers = [
        TlsServer(ca.issue([APP]), minimum=ssl.TLSVersion.TLSv1_2, ciphers=MODERN_CIPHERS, hsts=True, name=APP),
        TlsServer(
            ca.issue([LEGACY_API]),
            minimum=ssl.TLSVersion.TLSv1,
            ciphers=LEGACY_CIPHERS,
            hsts=False,
            legacy=True,
            name=LEGACY_API,
        ),
        TlsServer(
            ca.issue([STATUS], not_after=now + dt.timedelta(days=10)),
            minimum=ssl.TLSVersion.TLSv1_2,
            ciphers=MODERN_CIPHERS,
            hsts=True,
            name=STATUS,
        ),
    ]
    started: list[TlsServer] = []
    try:
        for s in servers:
            started.append(s.start())
    except BaseException:
        for s in started:
            s.stop()
        raise
    targets = [s.target(sni=s.name, host=s.name) for s in servers]
    app, legacy, status = (t.label for t in targets)
    expected = {
        "endpoint.tls.protocols": {legacy},
        "endpoint.tls.ciphers": {legacy},
        "endpoint.tls.certificate": {status},
        "endpoint.https.hsts": {legacy},
    }
    del app
    return DemoEndpoints(targets=targets, ca_bundle=ca.bundle_path, expected_failures=expected, servers=servers, ca=ca)


@contextlib.contextmanager
def demo_endpoints(ca_dir: Path) -> Iterator[DemoEndpoints]:
    endpoints = start_demo_endpoints(ca_dir)
    try:
        yield endpoints
    finally:
        endpoints.stop()
