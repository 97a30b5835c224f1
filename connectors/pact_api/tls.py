"""The API's TLS certificate: the configured one, else a self-signed one made on first start.

PACT requires HTTPS. ``pcfx api`` serves TLS only, so a plain-HTTP request to its port fails during the TLS
handshake and never reaches a route: no token and no data is ever sent unencrypted.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pcfx.settings import Settings

LIFETIME_DAYS = 365  # validity of a generated certificate
RENEW_DAYS = 30  # a generated certificate is replaced when it expires within this many days


def certificate_files(settings: Settings) -> tuple[Path, Path]:
    """(certificate, key) PEM files to serve; a generated pair lives in ``<data_dir>/api/tls``."""
    if settings.tls_cert or settings.tls_key:
        if not (settings.tls_cert and settings.tls_key):
            raise ValueError("set both PCFX_TLS_CERT and PCFX_TLS_KEY, or neither for a self-signed certificate")
        return Path(settings.tls_cert), Path(settings.tls_key)
    folder = settings.data_dir / "api" / "tls"
    cert, key = folder / "cert.pem", folder / "key.pem"
    if not (cert.exists() and key.exists()) or _expires_within(cert, RENEW_DAYS):
        write_self_signed(cert, key, host_names(settings))
    return cert, key


def host_names(settings: Settings) -> list[str]:
    """Names the generated certificate is valid for: loopback, the bind address, the public URL's host."""
    names = ["localhost", "127.0.0.1", "::1", socket.gethostname()]
    public_host = urlsplit(settings.api_public_url).hostname if settings.api_public_url else None
    for name in (settings.api_host, public_host):
        if name and name not in names and name not in ("0.0.0.0", "::"):
            names.append(name)
    return names


def write_self_signed(cert_path: Path, key_path: Path, names: list[str]) -> None:
    """A P-256 key and a self-signed server certificate for ``names`` (DNS names or IP addresses)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pcfx (self-signed)")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=LIFETIME_DAYS))
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key_bytes)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _expires_within(cert_path: Path, days: int) -> bool:
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return certificate.not_valid_after_utc - dt.datetime.now(dt.timezone.utc) < dt.timedelta(days=days)
