"""endpoint.tls.* and endpoint.https.hsts on recorded sslyze scans.

The fixtures are real scans of local servers (demo/tls_servers.py),
captured through the collector's fetch, with the port set to 443, trust store
paths made machine-independent and the leaf's validity pinned to 2025 dates.
Variants are edited copies made here.
"""

from __future__ import annotations

import copy
import socket
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from collectors.endpoint import tls, tls_checks
from collectors.endpoint.base import (
    EndpointFetchContext,
    EndpointTarget,
    ScanError,
    ScanTimeout,
    TlsTuning,
    classify_error,
    endpoint_scope,
)
from collectors.evidence import ApiError
from collectors.registry import checks, collectors
from controls import Status
from tests.helpers import bundle_from_calls, fixture, ref_ops

AS_OF = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
TARGET = EndpointTarget("app.dexo.chat", 443, "app.dexo.chat")
LABEL = "app.dexo.chat:443"
CHECK_IDS = ("endpoint.tls.protocols", "endpoint.tls.ciphers", "endpoint.tls.certificate", "endpoint.https.hsts")


def scan(name: str) -> dict[str, Any]:
    return copy.deepcopy(fixture(f"endpoint/scan_{name}.json"))


def bundle(outcome: Any, target: EndpointTarget = TARGET):
    return bundle_from_calls(endpoint_scope(target), [("tls", "ScanServer", target.params(), outcome)])


def run(check_id: str, outcome: Any, thresholds: dict[str, Any] | None = None, as_of: datetime = AS_OF, **kw: Any):
    results = checks()[check_id].run(bundle(outcome, **kw), thresholds=dict(thresholds or {}), as_of=as_of)
    assert len(results) == 1, results
    return results[0]


def suite(name: str, openssl: str, key_size: int, anonymous: bool = False) -> dict[str, Any]:
    return {
        "cipher_suite": {"name": name, "openssl_name": openssl, "key_size": key_size, "is_anonymous": anonymous},
        "ephemeral_key": None,
    }


def accept(response: dict[str, Any], protocol_attr: str, *suites: dict[str, Any]) -> dict[str, Any]:
    attempt = response["scan_result"][protocol_attr]
    attempt["result"]["accepted_cipher_suites"].extend(suites)
    attempt["result"]["is_tls_version_supported"] = True
    return response


def leaf(response: dict[str, Any]) -> dict[str, Any]:
    return response["scan_result"]["certificate_info"]["result"]["certificate_deployments"][0][
        "received_certificate_chain"
    ][0]


# --- registration ---------------------------------------------------------------------------------


def test_collector_and_checks_are_registered():
    spec = collectors()["endpoint.tls"]
    assert (spec.provider, spec.service, spec.per_region, dict(spec.operations)) == ("endpoint", "tls", False, {})
    for cid in CHECK_IDS:
        chk = checks()[cid]
        assert chk.collector == "endpoint.tls"
        assert chk.spec.provider == "endpoint"
        assert chk.spec.resource_type == "Endpoint::TLS"
        assert chk.spec.permissions == ()
    assert checks()["endpoint.tls.certificate"].spec.thresholds == {"min_days_to_expiry": 30}
    assert checks()["endpoint.https.hsts"].spec.thresholds == {"min_max_age_seconds": 31536000}
    assert checks()["endpoint.tls.ciphers"].spec.thresholds == {"require_256_bit_share": None}


def test_target_label_and_params():
    assert TARGET.label == LABEL
    assert EndpointTarget("::1", 8443).label == "[::1]:8443"
    assert EndpointTarget("10.0.0.1").server_name == "10.0.0.1"
    assert EndpointTarget("a.example", 443, None, address="127.0.0.1").params() == {
        "host": "a.example",
        "port": 443,
        "sni": None,
        "address": "127.0.0.1",
    }
    scope = endpoint_scope(TARGET)
    assert (scope.provider, scope.account, scope.region, scope.collector) == (
        "endpoint",
        LABEL,
        "global",
        "endpoint.tls",
    )


# --- a compliant endpoint --------------------------------------------------------------------------


def test_modern_endpoint_passes_every_check():
    response = scan("modern")
    for cid in CHECK_IDS:
        r = run(cid, response)
        assert r.status == Status.PASS, (cid, r.reason)
        assert (r.provider, r.account, r.region) == ("endpoint", LABEL, "global")
        assert r.resource_id == LABEL
        assert r.resource_type == "Endpoint::TLS"
        assert ref_ops(r) == {"tls.ScanServer"}

    protocols = run("endpoint.tls.protocols", response)
    assert protocols.observed["accepted_protocols"] == ["TLS_1_2", "TLS_1_3"]
    assert protocols.observed["refused_protocols"] == ["SSL_2_0", "SSL_3_0", "TLS_1_0", "TLS_1_1"]
    assert protocols.reason == "offers only TLS_1_2, TLS_1_3"


def test_ciphers_observed_lists_every_suite_and_measures_the_256_bit_share():
    r = run("endpoint.tls.ciphers", scan("modern"))
    suites = r.observed["accepted_suites"]
    assert {(s["protocol"], s["name"], s["key_size"]) for s in suites} >= {
        ("TLS_1_3", "TLS_AES_256_GCM_SHA384", 256),
        ("TLS_1_3", "TLS_AES_128_GCM_SHA256", 128),
        ("TLS_1_2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 256),
    }
    n256 = sum(1 for s in suites if s["key_size"] >= 256)
    assert r.observed["suites_256_bit"] == n256
    assert r.observed["share_256_bit"] == round(n256 / len(suites), 4)
    assert 0 < r.observed["share_256_bit"] < 1
    assert r.observed["min_key_size"] == 128
    assert r.observed["weak_suites"] == []
    assert f"{n256} of {len(suites)}" in r.reason
    ecdhe = next(s for s in suites if s["name"] == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
    assert ecdhe["key_exchange"].startswith("ECDH")


def test_certificate_observed_fields():
    r = run("endpoint.tls.certificate", scan("modern"))
    o = r.observed
    assert o["subject"] == "CN=app.dexo.chat,O=Dexo.chat demo"
    assert o["issuer"] == "CN=Dexo.chat Demo Root CA,O=Dexo.chat demo"
    assert o["not_after"] == "2026-01-01T00:00:00Z"
    assert o["days_left"] == 184  # from ctx.as_of, not from now
    assert o["sans"] == ["app.dexo.chat", "127.0.0.1"]
    assert o["trusted"] is True and o["hostname_ok"] is True
    assert o["trust_store"] == "Supplied CA file" and o["trust_store_kind"] == "ca_bundle"
    assert r.expected == {"trusted": True, "hostname_ok": True, "days_left_more_than": 30}
    assert r.reason == "trusted by Supplied CA file, matches app.dexo.chat, expires in 184 days"


def test_hsts_observed_header():
    r = run("endpoint.https.hsts", scan("modern"))
    assert r.observed["strict_transport_security"] == {
        "max_age": 31536000,
        "include_subdomains": True,
        "preload": False,
    }
    assert r.reason == "Strict-Transport-Security max-age=31536000; includeSubDomains"


def test_tls13_only_endpoint_passes_protocols():
    r = run("endpoint.tls.protocols", scan("tls13_only"))
    assert r.status == Status.PASS
    assert r.observed["accepted_protocols"] == ["TLS_1_3"]
    assert r.reason == "offers only TLS_1_3"


# --- protocols ----------------------------------------------------------------------------------


def test_legacy_endpoint_fails_protocols_ciphers_and_hsts():
    response = scan("legacy")
    protocols = run("endpoint.tls.protocols", response)
    assert protocols.status == Status.FAIL
    assert protocols.reason == "accepts legacy TLS_1_0, TLS_1_1"
    assert protocols.observed["accepted_protocols"] == ["TLS_1_0", "TLS_1_1", "TLS_1_2", "TLS_1_3"]

    ciphers = run("endpoint.tls.ciphers", response)
    assert ciphers.status == Status.FAIL
    assert "anonymous (no server authentication)" in ciphers.reason
    assert all("anonymous (no server authentication)" in w["weak"] for w in ciphers.observed["weak_suites"])
    assert any(w["name"].startswith("TLS_ECDH_anon") for w in ciphers.observed["weak_suites"])

    hsts = run("endpoint.https.hsts", response)
    assert hsts.status == Status.FAIL
    assert hsts.reason == "no Strict-Transport-Security header"
    assert run("endpoint.tls.certificate", response).status == Status.PASS


@pytest.mark.parametrize("attr,name", [("ssl_2_0_cipher_suites", "SSL_2_0"), ("ssl_3_0_cipher_suites", "SSL_3_0")])
def test_ssl_accepted_fails(attr, name):
    response = accept(scan("modern"), attr, suite("TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA", 128))
    r = run("endpoint.tls.protocols", response)
    assert r.status == Status.FAIL
    assert r.reason == f"accepts legacy {name}"


def test_neither_tls12_nor_tls13_fails():
    response = scan("legacy")
    for attr in ("tls_1_2_cipher_suites", "tls_1_3_cipher_suites"):
        response["scan_result"][attr]["result"]["accepted_cipher_suites"] = []
    r = run("endpoint.tls.protocols", response)
    assert r.status == Status.FAIL
    assert r.reason == "accepts legacy TLS_1_0, TLS_1_1; offers neither TLS 1.2 nor TLS 1.3"


def test_protocol_scan_command_error_is_error_not_pass():
    response = scan("modern")
    response["scan_result"]["tls_1_0_cipher_suites"] = {
        "status": "ERROR",
        "error_reason": "BUG_IN_SSLYZE",
        "error_trace": "Traceback...\nRuntimeError: boom",
        "result": None,
    }
    r = run("endpoint.tls.protocols", response)
    assert r.status == Status.ERROR
    assert r.observed["error_code"] == "ScanCommandFailed"
    assert "TLS_1_0 cipher suites ERROR: BUG_IN_SSLYZE: RuntimeError: boom" in r.observed["message"]
    c = run("endpoint.tls.ciphers", response)
    assert c.status == Status.ERROR  # suites of an unscanned version are unknown


def test_known_legacy_acceptance_fails_even_with_another_version_unassessed():
    response = scan("legacy")
    response["scan_result"]["ssl_3_0_cipher_suites"] = {"status": "ERROR", "error_reason": "CONNECTIVITY_ISSUE"}
    r = run("endpoint.tls.protocols", response)
    assert r.status == Status.FAIL
    assert r.reason == "accepts legacy TLS_1_0, TLS_1_1 (not assessed: SSL_3_0)"
    assert r.observed["not_assessed"] == ["SSL_3_0"]


# --- ciphers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,openssl,key_size,reason",
    [
        ("TLS_RSA_WITH_NULL_SHA256", "NULL-SHA256", 0, "NULL encryption"),
        ("TLS_RSA_EXPORT_WITH_RC4_40_MD5", "EXP-RC4-MD5", 40, "EXPORT grade"),
        ("TLS_RSA_WITH_RC4_128_SHA", "RC4-SHA", 128, "RC4"),
        ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA", 168, "DES/3DES"),
        ("TLS_DH_anon_WITH_AES_256_GCM_SHA384", "ADH-AES256-GCM-SHA384", 256, "anonymous (no server authentication)"),
    ],
)
def test_each_weak_suite_kind_fails(name, openssl, key_size, reason):
    response = accept(scan("modern"), "tls_1_2_cipher_suites", suite(name, openssl, key_size))
    r = run("endpoint.tls.ciphers", response)
    assert r.status == Status.FAIL
    assert reason in r.reason
    assert f"TLS_1_2 {name}" in r.reason
    (weak,) = r.observed["weak_suites"]
    assert reason in weak["weak"]
    assert weak["key_size"] == key_size


def test_weak_reasons_of_strong_suites_are_empty():
    for name, openssl in [
        ("TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384"),
        ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"),
        ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"),
    ]:
        assert tls_checks.weak_reasons({"name": name, "openssl_name": openssl}) == []
    assert tls_checks.weak_reasons({"name": "TLS_RSA_EXPORT_WITH_RC4_40_MD5", "openssl_name": "EXP-RC4-MD5"}) == [
        "EXPORT grade",
        "RC4",
    ]


def test_256_bit_share_threshold():
    response = scan("modern")
    share = run("endpoint.tls.ciphers", response).observed["share_256_bit"]
    low = run("endpoint.tls.ciphers", response, {"require_256_bit_share": 0.5})
    assert low.status == Status.PASS
    assert low.expected == {"weak_suites_accepted": [], "share_256_bit_at_least": 0.5}
    strict = run("endpoint.tls.ciphers", response, {"require_256_bit_share": 1.0})
    assert strict.status == Status.FAIL
    assert strict.reason == f"256-bit share {share:.0%} is below the required 100%"
    only_256 = scan("modern")
    for attr in ("tls_1_2_cipher_suites", "tls_1_3_cipher_suites"):
        res = only_256["scan_result"][attr]["result"]
        res["accepted_cipher_suites"] = [
            s for s in res["accepted_cipher_suites"] if s["cipher_suite"]["key_size"] >= 256
        ]
    full = run("endpoint.tls.ciphers", only_256, {"require_256_bit_share": 1.0})
    assert full.status == Status.PASS
    assert full.observed["share_256_bit"] == 1.0


def test_no_accepted_suite_at_all_is_an_error():
    response = scan("modern")
    for _, attr in tls.PROTOCOLS:
        response["scan_result"][attr]["result"]["accepted_cipher_suites"] = []
    r = run("endpoint.tls.ciphers", response)
    assert r.status == Status.ERROR
    assert "no suite accepted" in r.observed["message"]


# --- certificate --------------------------------------------------------------------------------


def test_expired_certificate_fails():
    r = run("endpoint.tls.certificate", scan("expired"))
    assert r.status == Status.FAIL
    assert r.reason == "certificate expired on 2025-06-28T00:00:00Z"
    assert r.observed["days_left"] == -3
    assert r.observed["trusted"] is None  # validation stopped at the validity period: chain trust undetermined


def test_expiry_threshold_uses_as_of_and_min_days():
    response = scan("modern")  # notAfter 2026-01-01
    assert run("endpoint.tls.certificate", response, {"min_days_to_expiry": 184}).status == Status.PASS
    soon = run("endpoint.tls.certificate", response, {"min_days_to_expiry": 200})
    assert soon.status == Status.FAIL
    assert soon.reason == "certificate expires in 184 days (2026-01-01T00:00:00Z), less than 200"
    late = run("endpoint.tls.certificate", response, as_of=datetime(2025, 12, 22, tzinfo=UTC))
    assert late.status == Status.FAIL
    assert late.observed["days_left"] == 10
    after = run("endpoint.tls.certificate", response, as_of=datetime(2026, 1, 2, tzinfo=UTC))
    assert after.reason.startswith("certificate expired on 2026-01-01T00:00:00Z")


def test_not_yet_valid_certificate_fails():
    r = run("endpoint.tls.certificate", scan("modern"), as_of=datetime(2024, 12, 1, tzinfo=UTC))
    assert r.status == Status.FAIL
    assert r.reason == "certificate not valid before 2025-01-01T00:00:00Z"


def test_wrong_hostname_fails():
    r = run("endpoint.tls.certificate", scan("wrong_hostname"))
    assert r.status == Status.FAIL
    assert r.observed["hostname_ok"] is False
    assert r.observed["hostname"] == "app.dexo.chat"
    assert r.reason == "certificate does not match app.dexo.chat (SANs: other.example, 127.0.0.1)"


def test_self_signed_certificate_is_not_trusted():
    r = run("endpoint.tls.certificate", scan("self_signed"))
    assert r.status == Status.FAIL
    assert r.observed["trusted"] is False
    assert r.observed["hostname_ok"] is True
    assert r.reason.startswith("chain not trusted by Supplied CA file (validation failed:")


def test_certificate_validated_against_the_recorded_store_only():
    response = scan("modern")
    response["trust_store"] = {"kind": "bundled", "path": None, "validated_with": "Mozilla"}
    r = run("endpoint.tls.certificate", response)
    assert r.status == Status.FAIL  # the demo CA is not in Mozilla's store
    assert r.observed["trust_store"] == "Mozilla"
    response["trust_store"]["validated_with"] = "No such store"
    r = run("endpoint.tls.certificate", response)
    assert r.observed["trusted"] is False
    assert "no validation against No such store recorded" in r.reason


def test_name_or_time_validation_error_without_visible_cause_still_fails():
    response = scan("modern")
    validation = next(
        p
        for p in response["scan_result"]["certificate_info"]["result"]["certificate_deployments"][0][
            "path_validation_results"
        ]
        if p["trust_store"]["name"] == "Supplied CA file"
    )
    validation.update(
        was_validation_successful=False, validation_error="leaf certificate has no matching subjectAltName"
    )
    r = run("endpoint.tls.certificate", response)
    assert r.status == Status.FAIL
    assert r.reason == "chain validation failed: leaf certificate has no matching subjectAltName"


def test_certificate_info_error_is_error():
    response = scan("modern")
    response["scan_result"]["certificate_info"] = {
        "status": "ERROR",
        "error_reason": "CONNECTIVITY_ISSUE",
        "result": None,
    }
    r = run("endpoint.tls.certificate", response)
    assert r.status == Status.ERROR
    assert r.observed["message"] == "certificate info ERROR: CONNECTIVITY_ISSUE"
    del response["scan_result"]["certificate_info"]
    assert "not in the recorded scan" in run("endpoint.tls.certificate", response).observed["message"]


def test_every_certificate_deployment_is_assessed():
    response = scan("modern")
    deployments = response["scan_result"]["certificate_info"]["result"]["certificate_deployments"]
    other = copy.deepcopy(deployments[0])
    other["received_certificate_chain"][0]["not_valid_after"] = "2025-07-05T00:00:00Z"
    deployments.append(other)
    r = run("endpoint.tls.certificate", response)
    assert r.status == Status.FAIL
    assert "expires in 4 days" in r.reason
    assert r.observed["other_certificates"][0]["days_left"] == 4


def test_hostname_matching_rules():
    m = tls_checks.hostname_matches
    assert m("app.dexo.chat", ["APP.dexo.chat."], [])
    assert m("app.dexo.chat", ["*.dexo.chat"], [])
    assert not m("a.b.dexo.chat", ["*.dexo.chat"], [])
    assert not m("dexo.chat", ["*.dexo.chat"], [])
    assert m("127.0.0.1", ["localhost"], ["127.0.0.1"])
    assert not m("127.0.0.2", [], ["127.0.0.1"])
    assert not m("app.dexo.chat", [], ["127.0.0.1"])


# --- HSTS ---------------------------------------------------------------------------------------


def test_hsts_max_age_threshold():
    response = scan("modern")
    response["scan_result"]["http_headers"]["result"]["strict_transport_security_header"]["max_age"] = 86400
    r = run("endpoint.https.hsts", response)
    assert r.status == Status.FAIL
    assert r.reason == "Strict-Transport-Security max-age 86400 is below 31536000 seconds"
    assert run("endpoint.https.hsts", response, {"min_max_age_seconds": 86400}).status == Status.PASS


def test_hsts_http_failure_is_error():
    response = scan("modern")
    response["scan_result"]["http_headers"]["result"]["http_error_trace"] = "Traceback\nConnectionResetError: reset"
    r = run("endpoint.https.hsts", response)
    assert r.status == Status.ERROR
    assert "the HTTP request over TLS failed: ConnectionResetError: reset" in r.observed["message"]
    response["scan_result"]["http_headers"] = {"status": "ERROR", "error_reason": "CONNECTIVITY_ISSUE", "result": None}
    assert run("endpoint.https.hsts", response).status == Status.ERROR


# --- scan errors: never pass, never dropped ---------------------------------------------------------


@pytest.mark.parametrize(
    "code", ["DnsFailure", "ConnectionRefused", "ConnectionTimeout", "TlsHandshakeTimeout", "ScanTimeout"]
)
def test_scan_error_makes_every_check_error(code):
    failure = ApiError(code, f"{code}: test reason")
    for cid in CHECK_IDS:
        r = run(cid, failure)
        assert r.status == Status.ERROR
        assert r.resource_id == LABEL
        assert r.observed["error_code"] == code
        assert r.observed["message"] == f"{code}: test reason"
        assert r.observed["missing_permission"] is None
        assert r.reason == f"not assessed ({LABEL}): tls:ScanServer failed with {code}"
        assert ref_ops(r) == {"tls.ScanServer"}


def test_no_recorded_scan_is_an_error_for_every_check():
    empty = bundle_from_calls(endpoint_scope(TARGET), [])
    for cid in CHECK_IDS:
        (r,) = checks()[cid].run(empty, thresholds={}, as_of=AS_OF)
        assert r.status == Status.ERROR
        assert r.resource_id == LABEL
        assert r.observed["error_code"] == "NotCollected"


# --- error classification and the wall-clock cap ----------------------------------------------------


def test_classify_error():
    from sslyze.errors import (
        ConnectionToServerFailed,
        ConnectionToServerTimedOut,
        ServerRejectedConnection,
        ServerRejectedTlsHandshake,
        ServerTlsConfigurationNotSupported,
        TlsHandshakeTimedOut,
    )

    def sslyze_error(cls: type) -> Exception:
        return cls(None, None, "why")

    assert classify_error(sslyze_error(ConnectionToServerTimedOut)).code == "ConnectionTimeout"
    assert classify_error(sslyze_error(ServerRejectedConnection)).code == "ConnectionRefused"
    assert classify_error(sslyze_error(ServerRejectedTlsHandshake)).code == "TlsHandshakeFailed"
    assert classify_error(sslyze_error(ServerTlsConfigurationNotSupported)).code == "TlsHandshakeFailed"
    assert classify_error(sslyze_error(TlsHandshakeTimedOut)).code == "TlsHandshakeTimeout"
    assert classify_error(sslyze_error(ConnectionToServerFailed)).code == "ConnectionFailed"
    assert classify_error(sslyze_error(ServerRejectedConnection)).message == "ServerRejectedConnection: why"
    assert classify_error(socket.gaierror(-2, "Name or service not known")).code == "DnsFailure"
    assert classify_error(ConnectionRefusedError(111, "refused")).code == "ConnectionRefused"
    assert classify_error(TimeoutError("timed out")).code == "ConnectionTimeout"
    assert classify_error(ScanTimeout("cap")).code == "ScanTimeout"
    dns = classify_error(ScanError("ServerHostnameCouldNotBeResolved", "cannot resolve x.invalid"))
    assert (dns.code, dns.message, dns.permission) == (
        "DnsFailure",
        "ServerHostnameCouldNotBeResolved: cannot resolve x.invalid",
        None,
    )
    other = classify_error(ValueError("bad"))
    assert (other.code, other.message) == ("ScanError", "ValueError: bad")


def test_fetch_enforces_the_wall_clock_cap(monkeypatch):
    def hang(target: EndpointTarget, tuning: TlsTuning) -> dict[str, Any]:
        time.sleep(3)
        return {}

    monkeypatch.setattr(tls, "scan_target", hang)
    ctx = EndpointFetchContext.for_target(TARGET, TlsTuning(timeout_seconds=0.1, max_scan_seconds=0.3))
    started = time.monotonic()
    tls.fetch(ctx)
    assert time.monotonic() - started < 1.5
    (call,) = ctx.recorder.bundle.all("tls", "ScanServer")
    assert call.error is not None and call.error.code == "ScanTimeout"
    assert "wall-clock cap of 0.3 s" in call.error.message
    assert call.params == {"host": "app.dexo.chat", "port": 443, "sni": "app.dexo.chat"}


def test_fetch_records_dns_failure_without_a_scan():
    ctx = EndpointFetchContext.for_target(EndpointTarget("no-such-host.invalid", 443), TlsTuning(timeout_seconds=1))
    tls.fetch(ctx)
    (call,) = ctx.recorder.bundle.all("tls", "ScanServer")
    assert call.error is not None and call.error.code == "DnsFailure"
    assert "no-such-host.invalid" in call.error.message
    assert (ctx.account, ctx.region) == ("no-such-host.invalid:443", "global")


def test_context_map_is_bounded_and_ordered():
    ctx = EndpointFetchContext.for_target(TARGET, TlsTuning(concurrency=3))
    assert ctx.map(lambda x: x * 2, range(10)) == [x * 2 for x in range(10)]
    seq = EndpointFetchContext.for_target(TARGET, TlsTuning(concurrency=1))
    assert seq.map(str, [1, 2]) == ["1", "2"]


def test_scan_deadline_default():
    assert TlsTuning().scan_deadline == 120.0
    assert TlsTuning(timeout_seconds=2).scan_deadline == 60.0
    assert TlsTuning(max_scan_seconds=5).scan_deadline == 5
