"""A throwaway certificate authority for mutual TLS on 127.0.0.1 (pure logic,
except the moment ``ssl`` must read a key from a file).

:func:`generate` makes, in memory, with the ``cryptography`` package:

======================  =======================================================
attribute               what it is
======================  =======================================================
``ca_pem``              the CA certificate, also ``ca_bundle``: what a client
                        trusts to accept the server, what the server trusts to
                        accept a client
``server_cert_pem``     a server certificate for ``127.0.0.1`` (IP SAN), by CA,
                        expiring when :func:`generate` is told
``server_key_pem``      its key (unencrypted PKCS#8)
``client_cert_pem``     a client certificate (``clientAuth``), by the CA
``client_key_pem``      its key (unencrypted PKCS#8)
``client_key_encrypted  the same key encrypted with ``passphrase``
_pem``
``untrusted_*``         a client certificate and key from another CA that the
                        server does not trust (the refusal test)
======================  =======================================================

Python's ``ssl`` loads a certificate chain only from files: :func:`load_cert_chain`
hands it anonymous in-memory files on Linux (``os.memfd_create``, read through
``/proc/self/fd``) and elsewhere a private temporary directory that is deleted
before the call returns (local development only).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOCALHOST = ipaddress.ip_address("127.0.0.1")
VALIDITY = datetime.timedelta(days=1)
# Clocks of the machine that signs and the one that verifies may differ a little.
BACKDATE = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class LocalPKI:
    """The PEMs of one generated CA, its server and its client certificates."""

    ca_pem: str
    server_cert_pem: str
    server_key_pem: str = field(repr=False)
    client_cert_pem: str
    client_key_pem: str = field(repr=False)
    client_key_encrypted_pem: str = field(repr=False)
    passphrase: str = field(repr=False)
    untrusted_client_cert_pem: str
    untrusted_client_key_pem: str = field(repr=False)

    @property
    def ca_bundle(self) -> str:
        """What a client trusts, in addition to the system CAs, to accept the server."""
        return self.ca_pem

    def server_context(self, *, require_client_certificate: bool = True) -> ssl.SSLContext:
        """A server context that requires a client certificate issued by the CA
        (unless ``require_client_certificate`` is false: plain server TLS)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        load_cert_chain(context, self.server_cert_pem, self.server_key_pem)
        if require_client_certificate:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cadata=self.ca_pem)
        else:
            # websockets' sync server waits for data with select() before reading the
            # TLS socket: a TLS 1.3 client's request can arrive with its Finished message
            # and sit decrypted in the SSL buffer, where select() never sees it, and the
            # handshake hangs until the client gives up (twice in full-suite runs). In
            # TLS 1.2 the server speaks last in the handshake, so nothing can be waiting.
            context.maximum_version = ssl.TLSVersion.TLSv1_2
        return context

    def client_context(self, *, trusted: bool = True, encrypted: bool = False) -> ssl.SSLContext:
        """A client context that trusts the CA and presents a client certificate:
        the trusted one (its key encrypted with :attr:`passphrase` if ``encrypted``)
        or, with ``trusted=False``, one the server does not know."""
        context = ssl.create_default_context(cadata=self.ca_pem)
        if not trusted:
            load_cert_chain(context, self.untrusted_client_cert_pem, self.untrusted_client_key_pem)
        elif encrypted:
            load_cert_chain(
                context, self.client_cert_pem, self.client_key_encrypted_pem, self.passphrase
            )
        else:
            load_cert_chain(context, self.client_cert_pem, self.client_key_pem)
        return context

    def client_secret(self, *, encrypted: bool = False) -> dict[str, str]:
        """The client-certificate secret's JSON shape (docs/credentials.md)."""
        secret = {"certificate": self.client_cert_pem, "ca_bundle": self.ca_pem}
        if encrypted:
            secret.update(private_key=self.client_key_encrypted_pem, passphrase=self.passphrase)
        else:
            secret.update(private_key=self.client_key_pem)
        return secret


def load_cert_chain(
    context: ssl.SSLContext, cert_pem: str, key_pem: str, password: str | None = None
) -> None:
    """``context.load_cert_chain`` from PEM text (``ssl`` reads only files): through
    anonymous in-memory files where the platform has them (Linux ``memfd``),
    else through a private temporary directory removed before returning."""
    if hasattr(os, "memfd_create") and Path("/proc/self/fd").is_dir():
        cert_fd = os.memfd_create("local-pki-cert")
        key_fd = os.memfd_create("local-pki-key")
        try:
            os.write(cert_fd, cert_pem.encode())
            os.write(key_fd, key_pem.encode())
            context.load_cert_chain(f"/proc/self/fd/{cert_fd}", f"/proc/self/fd/{key_fd}", password)
        finally:
            os.close(cert_fd)
            os.close(key_fd)
        return
    with tempfile.TemporaryDirectory(prefix="local-pki-") as folder:
        cert_file, key_file = Path(folder, "cert.pem"), Path(folder, "key.pem")
        cert_file.write_text(cert_pem)
        # Created owner-only, before the key is written.
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as key_out:
            key_out.write(key_pem)
        context.load_cert_chain(cert_file, key_file, password)


def generate(server_not_after: datetime.datetime | None = None) -> LocalPKI:
    """A fresh CA with a server certificate for 127.0.0.1 and two client
    certificates, one of them from a second, untrusted CA.

    The server certificate expires at ``server_not_after`` (aware; in the past
    for an expired one), by default :data:`VALIDITY` from now; the CA is valid
    at least as long.
    """
    now = datetime.datetime.now(datetime.UTC)
    server_not_after = server_not_after or now + VALIDITY
    ca_key, ca_cert = _authority("local-stack test CA", now, max(now + VALIDITY, server_not_after))
    other_ca_key, other_ca_cert = _authority("local-stack untrusted CA", now)

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        _leaf("127.0.0.1", server_key, ca_cert, now, server_not_after)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(LOCALHOST)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = _client(client_key, ca_cert, now).sign(ca_key, hashes.SHA256())
    untrusted_key = ec.generate_private_key(ec.SECP256R1())
    untrusted_cert = _client(untrusted_key, other_ca_cert, now).sign(other_ca_key, hashes.SHA256())
    passphrase = secrets.token_urlsafe(16)
    return LocalPKI(
        ca_pem=_cert_pem(ca_cert),
        server_cert_pem=_cert_pem(server_cert),
        server_key_pem=_key_pem(server_key),
        client_cert_pem=_cert_pem(client_cert),
        client_key_pem=_key_pem(client_key),
        client_key_encrypted_pem=_key_pem(client_key, passphrase),
        passphrase=passphrase,
        untrusted_client_cert_pem=_cert_pem(untrusted_cert),
        untrusted_client_key_pem=_key_pem(untrusted_key),
    )


def _authority(
    common_name: str, now: datetime.datetime, not_after: datetime.datetime | None = None
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after or now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
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
    return key, certificate


def _leaf(
    common_name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate,
    now: datetime.datetime,
    not_after: datetime.datetime | None = None,
) -> x509.CertificateBuilder:
    not_after = not_after or now + VALIDITY
    issuer_key_id = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # An already expired certificate must still start before it ends.
        .not_valid_before(min(now - BACKDATE, not_after - VALIDITY))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_key_id),
            critical=False,
        )
    )


def _client(
    key: ec.EllipticCurvePrivateKey, issuer: x509.Certificate, now: datetime.datetime
) -> x509.CertificateBuilder:
    return _leaf("local-stack client", key, issuer, now).add_extension(
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
    )


def _cert_pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _key_pem(key: ec.EllipticCurvePrivateKey, passphrase: str | None = None) -> str:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()
