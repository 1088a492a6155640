"""A throw-away certificate authority for the demo's and the tests' TLS servers.

A :class:`TestCA` is made with `cryptography` (a proper CA: critical basicConstraints
CA:TRUE, keyCertSign, subject/authority key ids); it issues leaf certificates for DNS
names and 127.0.0.1 and writes its PEM bundle, which the endpoint collector is given as
its trust store (`TlsTuning(ca_bundle=...)`). Self-signed and EC certificates, and any
validity window, are one argument away, for the certificate checks' failure cases.

Separate from tls_servers.py: this module only makes certificates and key files; the
servers that present them live there.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["LOCALHOST", "IssuedCert", "TestCA"]

LOCALHOST = "127.0.0.1"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _name(common_name: str, org: str = "Dexo.chat demo") -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    )


def _key_pem(key: Any) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass
class IssuedCert:
    """A leaf certificate with its key and chain as PEM files."""

    cert: x509.Certificate
    cert_path: Path  # leaf + issuing CA (the chain the server sends)
    key_path: Path

    @property
    def not_after(self) -> dt.datetime:
        return self.cert.not_valid_after_utc


class TestCA:
    """A throw-away certificate authority (RSA 2048) written to a directory."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path | None = None, name: str = "Dexo.chat Demo Root CA") -> None:
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="soc2-tls-ca-")
            directory = Path(self._tmp.name)
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.key, self.cert = self.make_ca(name)
        self.bundle_path = self.write_bundle(self.directory / "ca-bundle.pem")
        # one leaf key shared by every certificate: RSA key generation is the slow part
        self._leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._serial = 0
        self._lock = threading.Lock()

    @staticmethod
    def make_ca(name: str, not_after: dt.datetime | None = None) -> tuple[Any, x509.Certificate]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = _name(name)
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(not_after or now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return key, cert

    def write_bundle(self, path: Path) -> Path:
        path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return path

    def issue(
        self,
        names: Iterable[str],
        *,
        not_after: dt.datetime | None = None,
        not_before: dt.datetime | None = None,
        ip_addresses: Iterable[str] = (LOCALHOST,),
        self_signed: bool = False,
        ec_key: bool = False,
    ) -> IssuedCert:
        """A server certificate for DNS `names` (the first is the CN) and IP SANs.

        `self_signed` makes a certificate not issued by this CA (an untrusted
        endpoint); `ec_key` uses a fresh P-256 key instead of the shared RSA key.
        """
        names = list(names)
        now = _now()
        key: Any = ec.generate_private_key(ec.SECP256R1()) if ec_key else self._leaf_key
        if self_signed:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
        subject = _name(names[0] if names else LOCALHOST)
        issuer_key = key if self_signed else self.key
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject if self_signed else self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - dt.timedelta(days=1))
            .not_valid_after(not_after or now + dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=not ec_key,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if not self_signed:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
        cert = builder.sign(issuer_key, hashes.SHA256())
        with self._lock:
            self._serial += 1
            stem = f"leaf-{self._serial:03d}-{(names[0] if names else 'ip').replace('*', '_')}"
        cert_path = self.directory / f"{stem}.pem"
        key_path = self.directory / f"{stem}.key"
        chain = cert.public_bytes(serialization.Encoding.PEM)
        if not self_signed:
            chain += self.cert.public_bytes(serialization.Encoding.PEM)
        cert_path.write_bytes(chain)
        key_path.write_bytes(_key_pem(key))
        return IssuedCert(cert, cert_path, key_path)

    def close(self) -> None:
        if getattr(self, "_tmp", None) is not None:
            self._tmp.cleanup()
