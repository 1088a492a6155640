"""Live sslyze scans of real TLS servers on 127.0.0.1, through the real fetch and the checks.

Every server is started once per module and scanned concurrently (one
EndpointFetchContext + Recorder per endpoint, as the flow does); the tests
then evaluate the checks on what was recorded.
"""

from __future__ import annotations

import datetime as dt
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from collectors.endpoint.base import EndpointFetchContext, EndpointTarget, TlsTuning
from collectors.endpoint.tls import fetch, scan_endpoints
from collectors.evidence import Recorder
from collectors.registry import checks_for
from controls import CheckResult, Status
from demo.tls_ca import TestCA
from demo.tls_servers import (
    LEGACY_CIPHERS,
    MODERN_CIPHERS,
    SilentServer,
    TlsServer,
    closed_port,
    start_demo_endpoints,
)

pytestmark = pytest.mark.integration

TIMEOUT = 2.0
HOST = "app.dexo.chat"


@dataclass
class Scanned:
    recorder: Recorder
    target: EndpointTarget

    def results(self, as_of: dt.datetime | None = None) -> dict[str, CheckResult]:
        as_of = as_of or dt.datetime.now(dt.UTC)
        out = {}
        for chk in checks_for("endpoint.tls"):
            (result,) = chk.run(self.recorder.bundle, {}, as_of)
            out[chk.spec.id] = result
        return out

    @property
    def call(self):
        (call,) = self.recorder.bundle.all("tls", "ScanServer")
        return call


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def scans(ca: TestCA) -> Iterator[dict[str, Scanned]]:
    now = dt.datetime.now(dt.UTC)
    servers = {
        "tls10": (
            TlsServer(ca.issue([HOST]), minimum=ssl.TLSVersion.TLSv1, ciphers=LEGACY_CIPHERS, hsts=True, legacy=True),
            HOST,
        ),
        "tls12_only": (
            TlsServer(ca.issue([HOST]), maximum=ssl.TLSVersion.TLSv1_2, ciphers=MODERN_CIPHERS, hsts=True),
            HOST,
        ),
        "tls12_plus": (TlsServer(ca.issue([HOST]), ciphers=MODERN_CIPHERS, hsts=True), HOST),
        "tls13_only": (TlsServer(ca.issue([HOST]), minimum=ssl.TLSVersion.TLSv1_3, hsts=True), HOST),
        "expired": (
            TlsServer(
                ca.issue([HOST], not_before=now - dt.timedelta(days=90), not_after=now - dt.timedelta(days=1)),
                ciphers=MODERN_CIPHERS,
            ),
            HOST,
        ),
        "wrong_hostname": (TlsServer(ca.issue(["www.other.example"]), ciphers=MODERN_CIPHERS), HOST),
        "self_signed": (TlsServer(ca.issue([HOST], self_signed=True), ciphers=MODERN_CIPHERS), HOST),
        "no_hsts": (TlsServer(ca.issue([HOST]), ciphers=MODERN_CIPHERS, hsts=False), HOST),
        "short_hsts": (TlsServer(ca.issue([HOST]), ciphers=MODERN_CIPHERS, hsts="max-age=300"), HOST),
    }
    for server, _ in servers.values():
        server.start()
    try:
        targets = {name: server.target(sni=sni, host=sni) for name, (server, sni) in servers.items()}
        targets["by_ip"] = servers["tls12_plus"][0].target()  # 127.0.0.1, no SNI: the IP SAN must match
        targets["closed"] = EndpointTarget("127.0.0.1", closed_port())
        tuning = TlsTuning(timeout_seconds=TIMEOUT, ca_bundle=str(ca.bundle_path), concurrency=8)
        recorders = scan_endpoints(list(targets.values()), tuning)
        yield {name: Scanned(rec, t) for (name, t), rec in zip(targets.items(), recorders, strict=True)}
    finally:
        for server, _ in servers.values():
            server.stop()


def test_scans_are_recorded_as_evidence(scans):
    s = scans["tls12_plus"]
    call = s.call
    assert call.ok, call.error
    assert call.params == {"host": HOST, "port": s.target.port, "sni": HOST, "address": "127.0.0.1"}
    assert s.recorder.scope.account == f"{HOST}:{s.target.port}"
    assert s.recorder.scope.region == "global"
    resp = call.response
    assert resp["scanner"] == "sslyze"
    assert resp["trust_store"]["kind"] == "ca_bundle"
    assert resp["server_location"]["ip_address"] == "127.0.0.1"
    chain = resp["scan_result"]["certificate_info"]["result"]["certificate_deployments"][0][
        "received_certificate_chain"
    ]
    assert chain[0]["as_pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert "as_pem" not in chain[1]  # only the leaf's PEM is kept
    assert "rejected_cipher_suites" not in resp["scan_result"]["tls_1_0_cipher_suites"]["result"]
    assert resp["scan_result"]["tls_1_0_cipher_suites"]["result"]["rejected_cipher_suites_count"] > 0


def test_compliant_endpoint_passes_everything(scans):
    results = scans["tls12_plus"].results()
    assert {cid: r.status for cid, r in results.items()} == dict.fromkeys(results, Status.PASS)
    assert results["endpoint.tls.protocols"].observed["accepted_protocols"] == ["TLS_1_2", "TLS_1_3"]
    share = results["endpoint.tls.ciphers"].observed["share_256_bit"]
    assert 0.5 <= share < 1  # AES-128-GCM suites are offered next to AES-256 and ChaCha20


def test_tls10_endpoint_fails_protocols_and_ciphers(scans):
    results = scans["tls10"].results()
    protocols = results["endpoint.tls.protocols"]
    assert protocols.status == Status.FAIL
    assert "TLS_1_0" in protocols.observed["accepted_protocols"]  # OpenSSL 3 at @SECLEVEL=0 really offers TLS 1.0
    assert "TLS_1_1" in protocols.observed["accepted_protocols"]
    assert protocols.reason.startswith("accepts legacy TLS_1_0, TLS_1_1")
    ciphers = results["endpoint.tls.ciphers"]
    assert ciphers.status == Status.FAIL
    assert "anonymous" in ciphers.reason


def test_tls12_only_and_tls13_only(scans):
    only12 = scans["tls12_only"].results()["endpoint.tls.protocols"]
    assert only12.status == Status.PASS
    assert only12.observed["accepted_protocols"] == ["TLS_1_2"]
    only13 = scans["tls13_only"].results()
    assert only13["endpoint.tls.protocols"].observed["accepted_protocols"] == ["TLS_1_3"]
    assert only13["endpoint.tls.protocols"].status == Status.PASS
    assert only13["endpoint.tls.certificate"].status == Status.PASS  # the chain is fetched over TLS 1.3 too
    ciphers = only13["endpoint.tls.ciphers"]
    assert ciphers.status == Status.PASS
    assert {s["name"] for s in ciphers.observed["accepted_suites"]} == {
        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_AES_128_GCM_SHA256",
    }
    assert ciphers.observed["share_256_bit"] == pytest.approx(2 / 3, abs=1e-3)


def test_certificate_failures(scans):
    expired = scans["expired"].results()["endpoint.tls.certificate"]
    assert expired.status == Status.FAIL
    assert expired.reason.startswith("certificate expired on")
    assert expired.observed["days_left"] < 0

    wrong = scans["wrong_hostname"].results()["endpoint.tls.certificate"]
    assert wrong.status == Status.FAIL
    assert wrong.observed["hostname_ok"] is False
    assert "does not match app.dexo.chat" in wrong.reason

    self_signed = scans["self_signed"].results()["endpoint.tls.certificate"]
    assert self_signed.status == Status.FAIL
    assert self_signed.observed["trusted"] is False
    assert "chain not trusted" in self_signed.reason

    ok = scans["tls12_plus"].results()["endpoint.tls.certificate"]
    assert ok.status == Status.PASS
    assert ok.observed["trusted"] is True and ok.observed["hostname_ok"] is True
    soon = scans["tls12_plus"].results(as_of=dt.datetime.now(dt.UTC) + dt.timedelta(days=340))
    assert soon["endpoint.tls.certificate"].status == Status.FAIL  # < 30 days left from as_of


def test_ip_target_matches_the_ip_san(scans):
    results = scans["by_ip"].results()
    cert = results["endpoint.tls.certificate"]
    assert cert.status == Status.PASS, cert.reason
    assert cert.resource_id == f"127.0.0.1:{scans['by_ip'].target.port}"


def test_hsts(scans):
    assert scans["no_hsts"].results()["endpoint.https.hsts"].status == Status.FAIL
    short = scans["short_hsts"].results()["endpoint.https.hsts"]
    assert short.status == Status.FAIL
    assert short.observed["strict_transport_security"]["max_age"] == 300


def test_port_with_nothing_listening_is_error(scans):
    s = scans["closed"]
    assert s.call.error is not None and s.call.error.code == "ConnectionRefused"
    for result in s.results().values():
        assert result.status == Status.ERROR
        assert result.observed["error_code"] == "ConnectionRefused"


def test_silent_server_ends_within_the_timeout_and_is_error():
    with SilentServer() as silent:
        ctx = EndpointFetchContext.for_target(silent.target(), TlsTuning(timeout_seconds=TIMEOUT))
        started = time.monotonic()
        fetch(ctx)
        elapsed = time.monotonic() - started
    # Behaviour, not speed: the scan ended on its timeout instead of hanging on the silent server;
    # the margin absorbs a loaded machine.
    assert elapsed < TIMEOUT + 8.0, elapsed
    (call,) = ctx.recorder.bundle.all("tls", "ScanServer")
    assert call.error is not None and call.error.code == "TlsHandshakeTimeout"
    assert "accepted the TCP connection but sent no TLS answer" in call.error.message
    for chk in checks_for("endpoint.tls"):
        (result,) = chk.run(ctx.recorder.bundle, {}, dt.datetime.now(dt.UTC))
        assert result.status == Status.ERROR


def test_demo_endpoints_fail_exactly_as_expected(tmp_path: Path):
    with start_demo_endpoints(tmp_path / "ca") as demo:
        tuning = TlsTuning(timeout_seconds=TIMEOUT, ca_bundle=str(demo.ca_bundle))
        recorders = scan_endpoints(demo.targets, tuning)
    assert [t.host for t in demo.targets] == ["app.dexo.chat", "legacy-api.dexo.chat", "status.dexo.chat"]
    now = dt.datetime.now(dt.UTC)
    failing: dict[str, set[str]] = {}
    for rec in recorders:
        for chk in checks_for("endpoint.tls"):
            for r in chk.run(rec.bundle, {}, now):
                assert r.status in (Status.PASS, Status.FAIL), (r.check_id, r.resource_id, r.reason)
                if r.status == Status.FAIL:
                    failing.setdefault(r.check_id, set()).add(r.resource_id)
    assert failing == demo.expected_failures
