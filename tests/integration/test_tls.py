"""wss:// always verifies the server's certificate."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from local_stack.websocket_server import LocalWebSocketServer

from .test_observability import run_child


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no system trust store knows."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def tls_server(self_signed, token: str) -> Iterator[LocalWebSocketServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed)
    with LocalWebSocketServer(token, ssl_context=context) as server:
        yield server


def test_untrusted_certificate_is_refused_and_server_receives_nothing(run, tls_server) -> None:
    result = run(
        {"message": "secret business"},
        WEBSOCKET_URI=tls_server.uri,
        ALLOW_INSECURE_WEBSOCKET="false",
    )

    assert result["ok"] is False
    assert result["error"]["type"] == "handshake_failed"
    assert "certificate" in result["error"]["message"]
    assert result["attempts"] == 1
    assert tls_server.handshakes == []
    assert tls_server.messages == []


def test_trusted_certificate_is_accepted(
    function_env, secrets_manager, tls_server, self_signed
) -> None:
    variables = {
        **function_env,
        "WEBSOCKET_URI": tls_server.uri,
        "ALLOW_INSECURE_WEBSOCKET": "false",
    }

    # Trust is the process's (OpenSSL's SSL_CERT_FILE), never the event's.
    results, _ = run_child(
        [({"message": "over tls"}, variables)], secrets_manager, SSL_CERT_FILE=str(self_signed[0])
    )

    assert results[0]["ok"] is True, results
    assert tls_server.messages == ["over tls"]
