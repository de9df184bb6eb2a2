"""wss:// always verifies the server's certificate."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.client import connect

from local_stack.credentials import pki
from local_stack.servers.websocket_server import LocalWebSocketServer
from ws_exchange import tls
from ws_exchange.config import load_config

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


# --------------------------------------------------------------------------- CA_BUNDLE


@pytest.fixture(scope="module")
def authority() -> pki.LocalPKI:
    return pki.generate()


@pytest.fixture
def private_ca_server(authority: pki.LocalPKI, token: str) -> Iterator[LocalWebSocketServer]:
    """A wss:// server whose certificate only the private CA vouches for; no client
    certificate asked."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    pki.load_cert_chain(context, authority.server_cert_pem, authority.server_key_pem)
    with LocalWebSocketServer(token, ssl_context=context) as server:
        yield server


@pytest.fixture
def package(tmp_path: Path, authority: pki.LocalPKI) -> Path:
    """A package root with the private CA's certificate at certs/ca.pem."""
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_text(authority.ca_pem)
    return tmp_path


async def _exchange(uri: str, token: str, context: ssl.SSLContext) -> str:
    async with connect(
        uri, ssl=context, additional_headers={"Authorization": f"Bearer {token}"}
    ) as connection:
        await connection.send('{"action": "ping"}')
        reply = await connection.recv()
    assert isinstance(reply, str)
    return reply


def test_a_server_behind_a_private_ca_is_trusted_with_the_bundle_alone(
    private_ca_server: LocalWebSocketServer, package: Path, token: str
) -> None:
    config = load_config(
        {
            "WEBSOCKET_URI": private_ca_server.uri,
            "AUTH_MODE": "none",
            "CA_BUNDLE": "certs/ca.pem",
            "LAMBDA_TASK_ROOT": str(package),
        }
    )
    assert config.ca_bundle is not None
    reply = asyncio.run(
        _exchange(private_ca_server.uri, token, tls.server_context(config.ca_bundle))
    )
    assert json.loads(reply)["type"] == "pong"
    assert private_ca_server.messages == ['{"action": "ping"}']


def test_without_the_bundle_the_private_ca_server_is_refused(
    private_ca_server: LocalWebSocketServer, token: str
) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        asyncio.run(_exchange(private_ca_server.uri, token, tls.server_context(None)))
    assert private_ca_server.messages == []


def test_the_client_certificate_context_trusts_the_bundle(
    authority: pki.LocalPKI, package: Path, token: str
) -> None:
    # The server asks for a client certificate; the secret carries no ca_bundle of its
    # own, so only CA_BUNDLE makes the server's certificate trusted.
    secret = authority.client_secret()
    del secret["ca_bundle"]
    path = tls.ca_bundle_path("certs/ca.pem", str(package))
    with LocalWebSocketServer(token, ssl_context=authority.server_context()) as server:
        with pytest.raises(ssl.SSLCertVerificationError):
            asyncio.run(_exchange(server.uri, token, tls.client_context(json.dumps(secret))))
        context = tls.client_context(json.dumps(secret), ca_bundle=path)
        assert json.loads(asyncio.run(_exchange(server.uri, token, context)))["type"] == "pong"


def test_the_function_trusts_the_bundle_end_to_end(
    run, private_ca_server: LocalWebSocketServer, package: Path
) -> None:
    result = run(
        {"message": "behind a private CA"},
        WEBSOCKET_URI=private_ca_server.uri,
        ALLOW_INSECURE_WEBSOCKET="false",
        CA_BUNDLE="certs/ca.pem",
        LAMBDA_TASK_ROOT=str(package),
    )
    assert result["ok"] is True, result
    assert private_ca_server.messages == ["behind a private CA"]
