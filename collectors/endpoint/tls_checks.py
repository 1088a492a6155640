"""The endpoint.tls checks: protocol versions, cipher suites, certificate and HSTS.

Pure functions of the scan the endpoint.tls collector (tls.py) recorded as `tls:ScanServer`:
no network here, so a recorded run re-evaluates to the same findings. A failed scan, or a
scan command that did not complete, is `error` with its reason: never pass, never dropped.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from collectors.endpoint.base import EndpointTarget, is_ip_address
from collectors.endpoint.tls import OPERATION, PROTOCOLS, SERVICE, SUPPLIED_STORE
from collectors.evidence import ApiCall, ApiError, EvidenceBundle
from collectors.registry import CheckContext, check
from controls import CheckResult, Severity

RESOURCE_TYPE = "Endpoint::TLS"
LEGACY_PROTOCOLS = ("SSL_2_0", "SSL_3_0", "TLS_1_0", "TLS_1_1")
MODERN_PROTOCOLS = ("TLS_1_2", "TLS_1_3")


def _label(call: ApiCall) -> str:
    return EndpointTarget(str(call.params.get("host")), int(call.params.get("port") or 443)).label


def _scans(bundle: EvidenceBundle) -> Iterator[tuple[str, ApiCall]]:
    """(label, call) per recorded scan; a `NotCollected` error call when there is none."""
    calls = bundle.all(SERVICE, OPERATION)
    if not calls:
        error = ApiError("NotCollected", f"no recorded {SERVICE}:{OPERATION} answer for {bundle.scope.account}")
        yield bundle.scope.account, ApiCall(SERVICE, OPERATION, {}, "", None, error)
        return
    for call in calls:
        yield _label(call), call


def _part_failed(call: ApiCall, part: str, attempt: Mapping[str, Any] | None) -> ApiCall:
    """A synthetic failed call for one scan command of an otherwise successful scan."""
    attempt = attempt or {}
    status = attempt.get("status") or "MISSING"
    reason = attempt.get("error_reason") or ("not in the recorded scan" if status == "MISSING" else status)
    trace = str(attempt.get("error_trace") or "").strip().splitlines()
    detail = f": {trace[-1]}" if trace else ""
    error = ApiError("ScanCommandFailed", f"{part} {status}: {reason}{detail}")
    return ApiCall(call.service, call.operation, call.params, call.collected_at, None, error)


def _protocol_attempt(scan: Mapping[str, Any], attr: str) -> Mapping[str, Any] | None:
    attempt = (scan.get("scan_result") or {}).get(attr)
    if not attempt or attempt.get("status") != "COMPLETED" or attempt.get("result") is None:
        return None
    return attempt


def accepted_suites(scan: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every accepted (protocol, suite) of a recorded scan."""
    out = []
    for proto, attr in PROTOCOLS:
        attempt = _protocol_attempt(scan, attr)
        for s in ((attempt or {}).get("result") or {}).get("accepted_cipher_suites") or []:
            suite = s.get("cipher_suite") or {}
            eph = s.get("ephemeral_key") or {}
            out.append(
                {
                    "protocol": proto,
                    "name": suite.get("name"),
                    "openssl_name": suite.get("openssl_name"),
                    "key_size": suite.get("key_size"),
                    "anonymous": bool(suite.get("is_anonymous")),
                    "key_exchange": (
                        f"{eph.get('type_name')} {eph.get('curve_name') or eph.get('size')}" if eph else None
                    ),
                }
            )
    return out


def weak_reasons(suite: Mapping[str, Any]) -> list[str]:
    """Why a suite is weak: NULL, EXPORT, RC4, DES/3DES, anonymous; [] if it is not."""
    name = str(suite.get("name") or "").upper()
    openssl = str(suite.get("openssl_name") or "").upper()
    reasons = []
    if "_WITH_NULL_" in name or "NULL" in openssl.split("-"):
        reasons.append("NULL encryption")
    if "EXPORT" in name or openssl.startswith("EXP"):
        reasons.append("EXPORT grade")
    if "RC4" in name or "RC4" in openssl:
        reasons.append("RC4")
    if "3DES" in name or "DES-CBC3" in openssl or "_DES_" in name or "DES-CBC-" in openssl:
        reasons.append("DES/3DES")
    if suite.get("anonymous") or "_ANON_" in name or openssl.startswith(("ADH", "AECDH")):
        reasons.append("anonymous (no server authentication)")
    return reasons


@check(
    id="endpoint.tls.protocols",
    collector="endpoint.tls",
    title="Endpoints offer only TLS 1.2 or later",
    description="The endpoint refuses SSL 2.0, SSL 3.0, TLS 1.0 and TLS 1.1, and offers TLS 1.2 and/or TLS 1.3, "
    "as measured by a live scan that attempts a handshake with every protocol version.",
    severity=Severity.HIGH,
    resource_type=RESOURCE_TYPE,
    permissions=[],
    remediation="Disable SSL 2.0/3.0 and TLS 1.0/1.1 on the endpoint's TLS terminator (load balancer security policy, "
    "e.g. ELBSecurityPolicy-TLS13-1-2-2021-06; nginx `ssl_protocols TLSv1.2 TLSv1.3;`).",
    risk="Legacy protocol versions have known weaknesses (POODLE, BEAST, no AEAD ciphers) and allow downgrades.",
)
def tls_protocols(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    expected = {"refused": list(LEGACY_PROTOCOLS), "offered_any_of": list(MODERN_PROTOCOLS)}
    ev = bundle.ref(SERVICE, OPERATION)
    for label, call in _scans(bundle):
        if not call.ok:
            yield ctx.error(call, label, evidence=ev, expected=expected)
            continue
        scan = call.response or {}
        accepted, refused, unknown = [], [], []
        for proto, attr in PROTOCOLS:
            attempt = _protocol_attempt(scan, attr)
            if attempt is None:
                unknown.append(proto)
            elif (attempt.get("result") or {}).get("accepted_cipher_suites"):
                accepted.append(proto)
            else:
                refused.append(proto)
        observed = {"accepted_protocols": accepted, "refused_protocols": refused, "not_assessed": unknown}
        legacy = [p for p in accepted if p in LEGACY_PROTOCOLS]
        modern = [p for p in accepted if p in MODERN_PROTOCOLS]
        problems = []
        if legacy:
            problems.append("accepts legacy " + ", ".join(legacy))
        if not modern and not any(p in unknown for p in MODERN_PROTOCOLS):
            problems.append("offers neither TLS 1.2 nor TLS 1.3")
        if problems:
            reason = "; ".join(problems)
            if unknown:
                reason += f" (not assessed: {', '.join(unknown)})"
            yield ctx.failed(label, evidence=ev, expected=expected, observed=observed, reason=reason)
        elif unknown:
            attr = dict(PROTOCOLS)[unknown[0]]
            failed = _part_failed(call, f"{unknown[0]} cipher suites", (scan.get("scan_result") or {}).get(attr))
            yield ctx.error(failed, label, evidence=ev, expected=expected)
        else:
            yield ctx.passed(
                label, evidence=ev, expected=expected, observed=observed, reason="offers only " + ", ".join(modern)
            )


@check(
    id="endpoint.tls.ciphers",
    collector="endpoint.tls",
    title="Endpoints accept no weak cipher suites (256-bit share measured)",
    description="No NULL, EXPORT, RC4, DES/3DES or anonymous (ADH/AECDH) cipher suite is accepted under any protocol "
    "version. Every accepted suite is listed with its protocol and symmetric key size, and the share of "
    "accepted suites with a 256-bit key is measured (a policy's '256-bit encryption' claim); with "
    "`require_256_bit_share` set, a lower share fails.",
    severity=Severity.HIGH,
    resource_type=RESOURCE_TYPE,
    permissions=[],
    remediation="Restrict the cipher list to ECDHE with AES-GCM or ChaCha20-Poly1305 (e.g. Mozilla's 'intermediate' "
    "profile); to claim 256-bit encryption, prefer or only allow AES-256-GCM / ChaCha20-Poly1305.",
    thresholds={"require_256_bit_share": None},
    risk="Weak suites let an attacker decrypt or tamper with traffic, or impersonate the server (anonymous suites).",
)
def tls_ciphers(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    required = ctx.thresholds.get("require_256_bit_share")
    expected: dict[str, Any] = {"weak_suites_accepted": []}
    if required is not None:
        expected["share_256_bit_at_least"] = required
    ev = bundle.ref(SERVICE, OPERATION)
    for label, call in _scans(bundle):
        if not call.ok:
            yield ctx.error(call, label, evidence=ev, expected=expected)
            continue
        scan = call.response or {}
        suites = accepted_suites(scan)
        unknown = [p for p, attr in PROTOCOLS if _protocol_attempt(scan, attr) is None]
        weak = [{**s, "weak": r} for s in suites if (r := weak_reasons(s))]
        n256 = sum(1 for s in suites if (s.get("key_size") or 0) >= 256)
        share = round(n256 / len(suites), 4) if suites else None
        observed = {
            "accepted_suites": suites,
            "accepted_count": len(suites),
            "weak_suites": weak,
            "suites_256_bit": n256,
            "share_256_bit": share,
            "min_key_size": min((s.get("key_size") or 0 for s in suites), default=None),
            "not_assessed": unknown,
        }
        problems = []
        if weak:
            kinds = sorted({r for w in weak for r in w["weak"]})
            problems.append(
                f"accepts {len(weak)} weak suite(s) ({', '.join(kinds)}): "
                + ", ".join(f"{w['protocol']} {w['name']}" for w in weak[:10])
            )
        if required is not None and share is not None and share < float(required):
            problems.append(f"256-bit share {share:.0%} is below the required {float(required):.0%}")
        if problems:
            yield ctx.failed(label, evidence=ev, expected=expected, observed=observed, reason="; ".join(problems))
        elif unknown:
            attr = dict(PROTOCOLS)[unknown[0]]
            failed = _part_failed(call, f"{unknown[0]} cipher suites", (scan.get("scan_result") or {}).get(attr))
            yield ctx.error(failed, label, evidence=ev, expected=expected)
        elif not suites:
            failed = _part_failed(call, "cipher suites", {"status": "EMPTY", "error_reason": "no suite accepted"})
            yield ctx.error(failed, label, evidence=ev, expected=expected)
        else:
            yield ctx.passed(
                label,
                evidence=ev,
                expected=expected,
                observed=observed,
                reason=f"no weak suite among {len(suites)} accepted; {n256} of {len(suites)} "
                f"({share:.0%}) use a 256-bit key",
            )


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def hostname_matches(name: str, dns_names: Sequence[str], ip_addresses: Sequence[str]) -> bool:
    """RFC 6125 matching of `name` against a certificate's SANs (wildcard = one leftmost label)."""
    if is_ip_address(name):
        import ipaddress

        want = ipaddress.ip_address(name)
        return any(is_ip_address(ip) and ipaddress.ip_address(ip) == want for ip in ip_addresses)
    name = name.rstrip(".").lower()
    for pattern in dns_names:
        pattern = pattern.rstrip(".").lower()
        if pattern == name:
            return True
        if pattern.startswith("*.") and "." in name:
            head, _, rest = name.partition(".")
            if head and rest == pattern[2:] and "*" not in rest:
                return True
    return False


NAME_ERRORS = ("subjectAltName", "hostname", "subject name")
TIME_ERRORS = ("not valid at validation time", "expired", "not yet valid")


def chain_trusted(validation: Mapping[str, Any] | None) -> bool | None:
    """Whether the chain validates against the trust store; None when validation stopped at
    the host name or the validity period (reported separately), so chain trust is undetermined."""
    if validation is None:
        return False
    if validation.get("was_validation_successful"):
        return True
    error = str(validation.get("validation_error") or "")
    if any(e in error for e in NAME_ERRORS + TIME_ERRORS):
        return None
    return False


def _leaf_observed(dep: Mapping[str, Any], server_name: str, store: str, as_of: datetime) -> dict[str, Any]:
    chain = dep.get("received_certificate_chain") or [{}]
    leaf = chain[0]
    san = leaf.get("subject_alternative_name") or {}
    not_after = leaf.get("not_valid_after")
    not_before = leaf.get("not_valid_before")
    days_left = math.floor((_parse_time(not_after) - as_of).total_seconds() / 86400) if not_after else None
    validations = {
        p["trust_store"]["name"]: p for p in dep.get("path_validation_results") or [] if p.get("trust_store")
    }
    ref = validations.get(store)
    validation_error = ref.get("validation_error") if ref else f"no validation against {store} recorded"
    return {
        "subject": (leaf.get("subject") or {}).get("rfc4514_string"),
        "issuer": (leaf.get("issuer") or {}).get("rfc4514_string"),
        "not_before": not_before,
        "not_after": not_after,
        "days_left": days_left,
        "sans": list(san.get("dns_names") or []) + list(san.get("ip_addresses") or []),
        "fingerprint_sha256": leaf.get("fingerprint_sha256"),
        "public_key": leaf.get("public_key"),
        "trust_store": store,
        "trusted": chain_trusted(ref),
        "validation_error": validation_error,
        "hostname": server_name,
        "hostname_ok": hostname_matches(server_name, san.get("dns_names") or [], san.get("ip_addresses") or []),
        "chain_length": len(chain),
    }


def _cert_problems(obs: Mapping[str, Any], as_of: datetime, min_days: int) -> list[str]:
    problems = []
    if obs["trusted"] is False:
        problems.append(f"chain not trusted by {obs['trust_store']} ({obs['validation_error']})")
    if not obs["hostname_ok"]:
        problems.append(f"certificate does not match {obs['hostname']} (SANs: {', '.join(obs['sans']) or 'none'})")
    if obs["not_after"] is None:
        problems.append("no notAfter recorded")
    else:
        not_after = _parse_time(obs["not_after"])
        if not_after <= as_of:
            problems.append(f"certificate expired on {obs['not_after']}")
        elif not_after <= as_of + timedelta(days=min_days):
            problems.append(
                f"certificate expires in {obs['days_left']} days ({obs['not_after']}), less than {min_days}"
            )
    if obs["not_before"] and _parse_time(obs["not_before"]) > as_of:
        problems.append(f"certificate not valid before {obs['not_before']}")
    if obs["trusted"] is None and not problems:
        # validation stopped at a name/time error that the recorded fields do not show: still a failure
        problems.append(f"chain validation failed: {obs['validation_error']}")
    return problems


@check(
    id="endpoint.tls.certificate",
    collector="endpoint.tls",
    title="Endpoint certificates are trusted, match the host name and are not about to expire",
    description="The certificate chain the endpoint sends validates against the trust store (the system store, or "
    "the configured CA bundle), the leaf certificate matches the host name (the SNI name), and it is valid "
    "for longer than `min_days_to_expiry` days after the evaluation time.",
    severity=Severity.HIGH,
    resource_type=RESOURCE_TYPE,
    permissions=[],
    remediation="Install a certificate issued by a trusted CA for the endpoint's host name, with its intermediate "
    "certificates; automate renewal (ACME, AWS Certificate Manager) well before expiry.",
    thresholds={"min_days_to_expiry": 30},
    risk="An expired, mismatched or untrusted certificate breaks clients or trains users to accept interception.",
)
def tls_certificate(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    min_days = int(ctx.thresholds.get("min_days_to_expiry") or 0)
    expected = {"trusted": True, "hostname_ok": True, "days_left_more_than": min_days}
    ev = bundle.ref(SERVICE, OPERATION)
    for label, call in _scans(bundle):
        if not call.ok:
            yield ctx.error(call, label, evidence=ev, expected=expected)
            continue
        scan = call.response or {}
        attempt = (scan.get("scan_result") or {}).get("certificate_info")
        result = (attempt or {}).get("result")
        deployments = (result or {}).get("certificate_deployments") or []
        if not attempt or attempt.get("status") != "COMPLETED" or not deployments:
            yield ctx.error(_part_failed(call, "certificate info", attempt), label, evidence=ev, expected=expected)
            continue
        store = (scan.get("trust_store") or {}).get("validated_with") or SUPPLIED_STORE
        server_name = result.get("hostname_used_for_server_name_indication") or call.params.get("sni") or ""
        server_name = server_name or str(call.params.get("host"))
        leaves = [_leaf_observed(d, server_name, store, ctx.as_of) for d in deployments]
        problems = [(leaf, _cert_problems(leaf, ctx.as_of, min_days)) for leaf in leaves]
        observed = dict(leaves[0])
        observed["trust_store_kind"] = (scan.get("trust_store") or {}).get("kind")
        if len(leaves) > 1:
            observed["other_certificates"] = leaves[1:]
        reasons = [p for leaf, ps in problems for p in ps]
        if reasons:
            yield ctx.failed(
                label, evidence=ev, expected=expected, observed=observed, reason="; ".join(dict.fromkeys(reasons))
            )
        else:
            yield ctx.passed(
                label,
                evidence=ev,
                expected=expected,
                observed=observed,
                reason=f"trusted by {store}, matches {server_name}, expires in {observed['days_left']} days",
            )


@check(
    id="endpoint.https.hsts",
    collector="endpoint.tls",
    title="HTTPS endpoints send Strict-Transport-Security",
    description="The endpoint's HTTP response carries a Strict-Transport-Security header with a max-age of at least "
    "`min_max_age_seconds` (one year by default), so browsers never fall back to plain HTTP.",
    severity=Severity.MEDIUM,
    resource_type=RESOURCE_TYPE,
    permissions=[],
    remediation="Add `Strict-Transport-Security: max-age=31536000; includeSubDomains` to every HTTPS response.",
    thresholds={"min_max_age_seconds": 31536000},
    risk="Without HSTS a network attacker can strip TLS from a user's first request (SSL stripping).",
)
def https_hsts(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    min_age = int(ctx.thresholds.get("min_max_age_seconds") or 0)
    expected = {"strict_transport_security": True, "max_age_at_least": min_age}
    ev = bundle.ref(SERVICE, OPERATION)
    for label, call in _scans(bundle):
        if not call.ok:
            yield ctx.error(call, label, evidence=ev, expected=expected)
            continue
        attempt = ((call.response or {}).get("scan_result") or {}).get("http_headers")
        result = (attempt or {}).get("result")
        if not attempt or attempt.get("status") != "COMPLETED" or result is None:
            yield ctx.error(_part_failed(call, "HTTP headers", attempt), label, evidence=ev, expected=expected)
            continue
        if result.get("http_error_trace"):
            http_failed = {
                "status": "HTTP_ERROR",
                "error_reason": "the HTTP request over TLS failed",
                "error_trace": result["http_error_trace"],
            }
            yield ctx.error(_part_failed(call, "HTTP headers", http_failed), label, evidence=ev, expected=expected)
            continue
        header = result.get("strict_transport_security_header")
        observed = {
            "strict_transport_security": header,
            "http_path_redirected_to": result.get("http_path_redirected_to"),
        }
        if not header:
            yield ctx.failed(
                label, evidence=ev, expected=expected, observed=observed, reason="no Strict-Transport-Security header"
            )
            continue
        max_age = header.get("max_age")
        if max_age is None or int(max_age) < min_age:
            yield ctx.failed(
                label,
                evidence=ev,
                expected=expected,
                observed=observed,
                reason=f"Strict-Transport-Security max-age {max_age} is below {min_age} seconds",
            )
        else:
            yield ctx.passed(
                label,
                evidence=ev,
                expected=expected,
                observed=observed,
                reason=f"Strict-Transport-Security max-age={max_age}"
                + ("; includeSubDomains" if header.get("include_subdomains") else ""),
            )
