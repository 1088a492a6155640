"""TLS endpoints: the endpoint.tls collector, one sslyze scan per endpoint recorded as evidence.

The checks (protocol versions, cipher suites, certificate, HSTS) are pure functions of
the recorded scan, in tls_checks.py: this module owns the network side only.

fetch runs ONE sslyze scan of the context's target (SSL 2.0 to TLS 1.3 cipher
suites, certificate info, HTTP headers) and records its JSON (sslyze's own
pydantic model, ServerScanResultAsJson) as `tls:ScanServer`, pruned to what
an auditor and the checks need: accepted suites with key sizes, protocol
acceptance (rejected suites are only counted), the received certificate
chain (leaf PEM kept), path validation per trust store, and the HSTS header.

A scan that cannot reach the endpoint (DNS failure, refused, timeout, TLS
handshake failure, wall-clock cap) is recorded as an error call, and every
check then reports `error` with the reason: never pass, never dropped.

Before the scan, a short TCP + TLS probe (one connection, the network
timeout) classifies unreachable and hung endpoints fast; sslyze's own
connectivity test tries six protocol versions in turn, each up to the
network timeout. A wall-clock cap bounds the whole scan in any case.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import threading
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from collectors.endpoint.base import (
    EndpointFetchContext,
    EndpointTarget,
    ScanError,
    ScanTimeout,
    TlsTuning,
    is_ip_address,
    resolve,
)
from collectors.evidence import Recorder
from collectors.registry import CollectorSpec, FetchContext, register_collector

SERVICE = "tls"
OPERATION = "ScanServer"

# (protocol name, sslyze scan_result attribute), oldest first
PROTOCOLS: tuple[tuple[str, str], ...] = (
    ("SSL_2_0", "ssl_2_0_cipher_suites"),
    ("SSL_3_0", "ssl_3_0_cipher_suites"),
    ("TLS_1_0", "tls_1_0_cipher_suites"),
    ("TLS_1_1", "tls_1_1_cipher_suites"),
    ("TLS_1_2", "tls_1_2_cipher_suites"),
    ("TLS_1_3", "tls_1_3_cipher_suites"),
)
SUPPLIED_STORE = "Supplied CA file"  # sslyze's name for the custom_ca_file trust store
REFERENCE_BUNDLED_STORE = "Mozilla"  # used only when no CA file can be found at all


# --- fetch -------------------------------------------------------------------------------------


def system_ca_file() -> str | None:
    """The system trust store as one PEM file (what OpenSSL clients on this host trust)."""
    paths = ssl.get_default_verify_paths()
    for candidate in (
        os.environ.get(paths.openssl_cafile_env or "SSL_CERT_FILE"),
        paths.cafile,
        paths.openssl_cafile,
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ):
        if candidate and Path(candidate).is_file():
            return str(Path(candidate).resolve())
    return None


def trust_store_for(tuning: TlsTuning) -> dict[str, Any]:
    """Which trust store validates the chain, recorded with the evidence."""
    if tuning.ca_bundle:
        return {"kind": "ca_bundle", "path": str(tuning.ca_bundle), "validated_with": SUPPLIED_STORE}
    system = system_ca_file()
    if system:
        return {"kind": "system", "path": system, "validated_with": SUPPLIED_STORE}
    return {"kind": "bundled", "path": None, "validated_with": REFERENCE_BUNDLED_STORE}


def probe(target: EndpointTarget, ip: str, timeout: float) -> None:
    """One TCP connection and TLS handshake attempt, so that unreachable and hung
    endpoints fail within one network timeout. Raises only for failures that
    make a scan pointless (refused, unreachable, no answer); a handshake the
    server rejects is left to sslyze, which knows many more protocol versions."""
    try:
        sock = socket.create_connection((ip, target.port), timeout=timeout)
    except TimeoutError as exc:
        raise ScanError("ConnectionToServerTimedOut", f"TCP connect to {ip}:{target.port} timed out") from exc
    except ConnectionRefusedError as exc:
        raise ScanError("ServerRejectedConnection", f"connection to {ip}:{target.port} refused") from exc
    except OSError as exc:
        raise ScanError("ConnectionToServerFailed", f"cannot connect to {ip}:{target.port}: {exc}") from exc
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    with contextlib.suppress(ValueError, ssl.SSLError):
        client.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        client.set_ciphers("ALL:@SECLEVEL=0")
    sni = None if is_ip_address(target.server_name) else target.server_name
    try:
        with client.wrap_socket(sock, server_hostname=sni, do_handshake_on_connect=False) as tls:
            tls.settimeout(timeout)
            tls.do_handshake()
    except TimeoutError as exc:
        raise ScanError(
            "TlsHandshakeTimedOut",
            f"{ip}:{target.port} accepted the TCP connection but sent no TLS answer in {timeout} s",
        ) from exc
    except (ssl.SSLError, ConnectionError, OSError):
        pass  # the server answered: let sslyze find out what it speaks
    finally:
        with contextlib.suppress(OSError):
            sock.close()


def _scan_commands() -> set[Any]:
    from sslyze import ScanCommand

    return {
        ScanCommand.SSL_2_0_CIPHER_SUITES,
        ScanCommand.SSL_3_0_CIPHER_SUITES,
        ScanCommand.TLS_1_0_CIPHER_SUITES,
        ScanCommand.TLS_1_1_CIPHER_SUITES,
        ScanCommand.TLS_1_2_CIPHER_SUITES,
        ScanCommand.TLS_1_3_CIPHER_SUITES,
        ScanCommand.CERTIFICATE_INFO,
        ScanCommand.HTTP_HEADERS,
    }


def run_sslyze(target: EndpointTarget, ip: str, tuning: TlsTuning, ca_file: str | None) -> dict[str, Any]:
    """One sslyze scan; the full result as sslyze's JSON model. Raises on no connectivity."""
    from sslyze import (
        CertificateInfoExtraArgument,
        ScanCommandsExtraArguments,
        Scanner,
        ServerNetworkConfiguration,
        ServerNetworkLocation,
        ServerScanRequest,
        ServerScanResultAsJson,
        ServerScanStatusEnum,
    )
    from sslyze.scanner.scanner_observer import ScannerObserver

    class _Errors(ScannerObserver):
        error: BaseException | None = None

        def server_connectivity_test_error(self, request: Any, connectivity_error: Any) -> None:
            self.error = connectivity_error

        def server_connectivity_test_completed(self, request: Any, result: Any) -> None:
            pass

        def server_scan_completed(self, result: Any) -> None:
            pass

        def all_server_scans_completed(self) -> None:
            pass

    location = ServerNetworkLocation(hostname=target.host, port=target.port, ip_address=ip)
    network = ServerNetworkConfiguration(
        tls_server_name_indication=target.server_name,
        network_timeout=tuning.timeout_seconds,  # type: ignore[arg-type]  # a float works: it is a socket timeout
        network_max_retries=1,
    )
    extra = ScanCommandsExtraArguments(
        certificate_info=CertificateInfoExtraArgument(custom_ca_file=Path(ca_file)) if ca_file else None
    )
    request = ServerScanRequest(
        server_location=location,
        network_configuration=network,
        scan_commands=_scan_commands(),
        scan_commands_extra_arguments=extra,
    )
    observer = _Errors()
    scanner = Scanner(
        per_server_concurrent_connections_limit=max(1, tuning.connections_per_endpoint),
        concurrent_server_scans_limit=1,
        observers=[observer],
    )
    scanner.queue_scans([request])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sslyze's bundled stores trip cryptography deprecation warnings
        results = list(scanner.get_results())
    (result,) = results
    if result.scan_status == ServerScanStatusEnum.ERROR_NO_CONNECTIVITY:
        if observer.error is not None:
            raise observer.error
        trace = result.connectivity_error_trace
        kind = trace.exc_type.__name__ if trace is not None and trace.exc_type else "ConnectionToServerFailed"
        raise ScanError(kind, str(trace) if trace is not None else "no connectivity")
    return ServerScanResultAsJson.model_validate(result).model_dump(mode="json")


def with_deadline(fn: Any, seconds: float, what: str) -> Any:
    """Run fn() in a daemon thread; give up after `seconds` of wall clock (ScanTimeout).

    A scan that overruns is abandoned, not killed: its sockets time out on
    their own (each network operation is bounded by the network timeout)."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, daemon=True, name=f"tls-scan {what}").start()
    if not done.wait(seconds):
        raise ScanTimeout(f"scan of {what} did not finish within the wall-clock cap of {seconds:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _prune_cipher_result(attempt: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: attempt.get(k) for k in ("status", "error_reason")}
    if attempt.get("error_trace"):
        out["error_trace"] = str(attempt["error_trace"])[-2000:]
    result = attempt.get("result")
    if result is not None:
        out["result"] = {
            "tls_version_used": result.get("tls_version_used"),
            "is_tls_version_supported": result.get("is_tls_version_supported"),
            "accepted_cipher_suites": [
                {
                    "cipher_suite": s["cipher_suite"],
                    "ephemeral_key": {
                        k: (s.get("ephemeral_key") or {}).get(k) for k in ("type_name", "size", "curve_name")
                    }
                    if s.get("ephemeral_key")
                    else None,
                }
                for s in result.get("accepted_cipher_suites") or []
            ],
            "rejected_cipher_suites_count": len(result.get("rejected_cipher_suites") or []),
        }
    else:
        out["result"] = None
    return out


def _prune_cert(cert: Mapping[str, Any], keep_pem: bool) -> dict[str, Any]:
    out = {
        k: cert.get(k)
        for k in (
            "fingerprint_sha256",
            "not_valid_before",
            "not_valid_after",
            "subject_alternative_name",
            "signature_hash_algorithm",
        )
    }
    out["serial_number"] = str(cert.get("serial_number"))  # can exceed what JSON readers keep exactly
    out["subject"] = {"rfc4514_string": (cert.get("subject") or {}).get("rfc4514_string")}
    out["issuer"] = {"rfc4514_string": (cert.get("issuer") or {}).get("rfc4514_string")}
    key = cert.get("public_key") or {}
    out["public_key"] = {k: key.get(k) for k in ("algorithm", "key_size", "ec_curve_name")}
    if keep_pem:
        out["as_pem"] = cert.get("as_pem")
    return out


def _prune_deployment(dep: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if dep is None:
        return None
    out = {k: v for k, v in dep.items() if not isinstance(v, list | dict) or k == "ocsp_response"}
    out.pop("ocsp_response", None)
    chain = dep.get("received_certificate_chain") or []
    out["received_certificate_chain"] = [_prune_cert(c, keep_pem=i == 0) for i, c in enumerate(chain)]
    out["path_validation_results"] = [
        {
            "trust_store": {k: (p.get("trust_store") or {}).get(k) for k in ("name", "version", "path")},
            "was_validation_successful": p.get("was_validation_successful"),
            "validation_error": p.get("validation_error"),
            "verified_certificate_chain_subjects": [
                (c.get("subject") or {}).get("rfc4514_string") for c in p.get("verified_certificate_chain") or []
            ],
        }
        for p in dep.get("path_validation_results") or []
    ]
    return out


def prune(raw: Mapping[str, Any], trust_store: Mapping[str, Any]) -> dict[str, Any]:
    """sslyze's JSON, keeping what an auditor and the checks need (rejected suites counted, not listed)."""
    scan = raw.get("scan_result") or {}
    pruned: dict[str, Any] = {}
    for _, attr in PROTOCOLS:
        pruned[attr] = _prune_cipher_result(scan.get(attr) or {"status": "NOT_SCHEDULED", "error_reason": None})
    cert_attempt = scan.get("certificate_info") or {"status": "NOT_SCHEDULED", "error_reason": None}
    cert_out: dict[str, Any] = {k: cert_attempt.get(k) for k in ("status", "error_reason")}
    if cert_attempt.get("error_trace"):
        cert_out["error_trace"] = str(cert_attempt["error_trace"])[-2000:]
    result = cert_attempt.get("result")
    cert_out["result"] = (
        {
            "hostname_used_for_server_name_indication": result.get("hostname_used_for_server_name_indication"),
            "certificate_deployments": [_prune_deployment(d) for d in result.get("certificate_deployments") or []],
            "certificate_deployment_with_sni_disabled": _prune_deployment(
                result.get("certificate_deployment_with_sni_disabled")
            ),
        }
        if result
        else None
    )
    pruned["certificate_info"] = cert_out
    headers = scan.get("http_headers") or {"status": "NOT_SCHEDULED", "error_reason": None}
    pruned["http_headers"] = {k: headers.get(k) for k in ("status", "error_reason", "result")}
    if headers.get("error_trace"):
        pruned["http_headers"]["error_trace"] = str(headers["error_trace"])[-2000:]
    return {
        "scanner": "sslyze",
        "scanner_version": _sslyze_version(),
        "server_location": raw.get("server_location"),
        "network_configuration": {
            k: (raw.get("network_configuration") or {}).get(k)
            for k in ("tls_server_name_indication", "network_timeout", "network_max_retries")
        },
        "connectivity_status": raw.get("connectivity_status"),
        "connectivity_result": raw.get("connectivity_result"),
        "scan_status": raw.get("scan_status"),
        "trust_store": dict(trust_store),
        "scan_result": pruned,
    }


def _sslyze_version() -> str:
    from sslyze.__version__ import __version__

    return __version__


def scan_target(target: EndpointTarget, tuning: TlsTuning) -> dict[str, Any]:
    """DNS, probe, sslyze scan, pruning: the recorded answer, or an exception."""
    ip = resolve(target)
    probe(target, ip, tuning.timeout_seconds)
    store = trust_store_for(tuning)
    raw = run_sslyze(target, ip, tuning, store["path"])
    return prune(raw, store)


def fetch(ctx: FetchContext) -> None:
    target: EndpointTarget = ctx.target  # type: ignore[attr-defined]
    tuning: TlsTuning = ctx.tuning  # type: ignore[attr-defined]
    rec = ctx.recorder
    rec.call(
        SERVICE,
        OPERATION,
        lambda **_: with_deadline(lambda: scan_target(target, tuning), tuning.scan_deadline, target.label),
        **target.params(),
    )


def scan_endpoints(targets: Sequence[EndpointTarget], tuning: TlsTuning | None = None) -> list[Recorder]:
    """Fetch every target (one scope each), `tuning.concurrency` endpoints at a time."""
    tuning = tuning or TlsTuning()
    contexts = [EndpointFetchContext.for_target(t, tuning) for t in targets]

    def one(ctx: EndpointFetchContext) -> Recorder:
        fetch(ctx)
        return ctx.recorder

    if tuning.concurrency <= 1 or len(contexts) <= 1:
        return [one(c) for c in contexts]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(tuning.concurrency, len(contexts))) as pool:
        return list(pool.map(one, contexts))


register_collector(
    CollectorSpec(
        id="endpoint.tls",
        provider="endpoint",
        service=SERVICE,
        per_region=False,
        operations={},
        fetch=fetch,
        description="One sslyze scan per TLS endpoint: protocol versions, cipher suites, certificate chain, HSTS",
    )
)
