"""Mutual TLS contexts: a client certificate from a secret, the key only in memory.

Certificates are generated with ``cryptography``; the handshake runs between two
in-process memory BIOs, so no socket is opened.
"""

from __future__ import annotations

import datetime
import json
import os
import ssl
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ws_exchange.errors import SecretInvalid
from ws_exchange.tls import client_context, default_context

NOW = datetime.datetime.now(datetime.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(
    subject: str, issuer: tuple[x509.Name, Any] | None, *, ca: bool, server: bool = False
) -> tuple[x509.Certificate, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    issuer_name, issuer_key = issuer or (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(minutes=5))
        .not_valid_after(NOW + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        # Python 3.13 verifies strictly (VERIFY_X509_STRICT): key identifiers required.
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if ca:
        builder = builder.add_extension(
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
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("server.test")]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256()), key


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _key_pem(key: Any, passphrase: str | None = None) -> str:
    encryption: Any = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


@pytest.fixture(scope="module")
def pki() -> dict[str, Any]:
    ca, ca_key = _issue("Test CA", None, ca=True)
    server, server_key = _issue("server.test", (ca.subject, ca_key), ca=False, server=True)
    client, client_key = _issue("client", (ca.subject, ca_key), ca=False)
    other_ca, other_ca_key = _issue("Other CA", None, ca=True)
    stranger, stranger_key = _issue("stranger", (other_ca.subject, other_ca_key), ca=False)
    return locals()


def _secret(pki: dict[str, Any], **changes: Any) -> str:
    document = {
        "certificate": _pem(pki["client"]),
        "private_key": _key_pem(pki["client_key"]),
        "ca_bundle": _pem(pki["ca"]),
        **changes,
    }
    return json.dumps({k: v for k, v in document.items() if v is not None})


def _handshake(client: ssl.SSLContext, pki: dict[str, Any], tmp_path: Path) -> str:
    """Run a TLS handshake against a server that requires a client certificate from
    the test CA; return the client certificate's common name the server saw."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    (tmp_path / "server.pem").write_text(_pem(pki["server"]) + _key_pem(pki["server_key"]))
    server.load_cert_chain(tmp_path / "server.pem")
    server.load_verify_locations(cadata=_pem(pki["ca"]))
    server.verify_mode = ssl.CERT_REQUIRED
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client_side = client.wrap_bio(c_in, c_out, server_hostname="server.test")
    server_side = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(20):
        for name, side in (("client", client_side), ("server", server_side)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            break
    seen = server_side.getpeercert()
    assert seen is not None
    return dict(item[0] for item in seen["subject"])["commonName"]


def test_the_server_sees_the_client_certificate_and_the_ca_bundle_is_trusted(
    pki: dict[str, Any], tmp_path: Path
) -> None:
    context = client_context(_secret(pki))
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert _handshake(context, pki, tmp_path) == "client"


def test_an_encrypted_key_loads_with_its_passphrase(pki: dict[str, Any], tmp_path: Path) -> None:
    secret = _secret(pki, private_key=_key_pem(pki["client_key"], "pa55"), passphrase="pa55")
    assert _handshake(client_context(secret), pki, tmp_path) == "client"


def test_without_ca_bundle_the_test_server_is_not_trusted(
    pki: dict[str, Any], tmp_path: Path
) -> None:
    context = client_context(_secret(pki, ca_bundle=None))
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(context, pki, tmp_path)


def test_the_key_is_never_written_to_a_file_system(pki: dict[str, Any]) -> None:
    opened: list[str] = []
    real_open = open

    def spy(path: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    memfds: list[str] = []
    real_memfd = os.memfd_create

    def memfd_spy(name: str, flags: int = os.MFD_CLOEXEC) -> int:
        memfds.append(name)
        return real_memfd(name, flags)

    with (
        mock.patch("builtins.open", spy),
        mock.patch("os.memfd_create", memfd_spy),
        mock.patch("tempfile.mkstemp", side_effect=AssertionError("temp file")),
        mock.patch("tempfile.NamedTemporaryFile", side_effect=AssertionError("temp file")),
    ):
        client_context(_secret(pki))
    assert opened == []
    assert sorted(memfds) == ["client-certificate", "client-key"]


def test_memory_files_are_closed_after_loading(pki: dict[str, Any]) -> None:
    before = set(os.listdir("/proc/self/fd"))
    client_context(_secret(pki))
    with pytest.raises(SecretInvalid):
        client_context(_secret(pki, private_key=_key_pem(pki["stranger_key"])))
    assert set(os.listdir("/proc/self/fd")) <= before


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"certificate": None}, "'certificate'"),
        ({"private_key": None}, "'private_key'"),
        ({"certificate": "sEkReT not pem"}, "certificate is not PEM"),
        ({"private_key": "sEkReT not pem"}, "private_key is not PEM"),
        (
            {"private_key": "-----BEGIN PRIVATE KEY-----\nsEkReT\n-----END PRIVATE KEY-----\n"},
            "loaded",
        ),
        (
            {"ca_bundle": "-----BEGIN CERTIFICATE-----\nsEkReT\n-----END CERTIFICATE-----\n"},
            "ca_bundle",
        ),
        ({"ca_bundle": "sEkReT"}, "ca_bundle"),
        ({"passphrase": 5}, "'passphrase'"),
    ],
)
def test_a_malformed_secret_is_secret_invalid_without_quoting_it(
    pki: dict[str, Any], changes: dict[str, Any], says: str
) -> None:
    with pytest.raises(SecretInvalid) as info:
        client_context(_secret(pki, **changes))
    assert says in info.value.message
    assert "CLIENT_CERT_SECRET_ID" in info.value.message
    assert "sEkReT" not in str(info.value)


def test_a_key_that_does_not_match_the_certificate_is_secret_invalid(pki: dict[str, Any]) -> None:
    with pytest.raises(SecretInvalid, match="match"):
        client_context(_secret(pki, private_key=_key_pem(pki["stranger_key"])))


def test_an_encrypted_key_without_its_passphrase_is_secret_invalid_not_a_prompt(
    pki: dict[str, Any],
) -> None:
    encrypted = _key_pem(pki["client_key"], "pa55")
    with pytest.raises(SecretInvalid):
        client_context(_secret(pki, private_key=encrypted))
    with pytest.raises(SecretInvalid):
        client_context(_secret(pki, private_key=encrypted, passphrase="wrong"))


def test_a_secret_that_is_not_a_json_object_is_secret_invalid() -> None:
    with pytest.raises(SecretInvalid, match="JSON object"):
        client_context("-----BEGIN CERTIFICATE-----")


def test_the_default_context_verifies_and_is_built_once() -> None:
    context = default_context()
    assert context is default_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True


# --------------------------------------------------------------------------- no memory files


@pytest.fixture
def without_memory_files(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, int, int]]:
    """Make this Linux look like macOS, which has no os.memfd_create (the platform
    difference cannot be had otherwise), and record each file os.open creates:
    (path, flags, mode, mode of its directory at that moment)."""
    monkeypatch.delattr(os, "memfd_create")
    created: list[tuple[str, int, int, int]] = []
    real_open = os.open

    def spy(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if flags & os.O_CREAT:
            folder = os.path.dirname(str(path))
            created.append((str(path), flags, mode, os.stat(folder).st_mode & 0o777))
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", spy)
    return created


def test_without_memory_files_the_key_is_loaded_from_a_private_file_removed_at_once(
    pki: dict[str, Any], tmp_path: Path, without_memory_files: list[tuple[str, int, int, int]]
) -> None:
    context = client_context(_secret(pki))

    assert _handshake(context, pki, tmp_path) == "client"
    (key_file,) = [entry for entry in without_memory_files if "client-key" in entry[0]]
    path, flags, mode, folder_mode = key_file
    assert mode == 0o600 and folder_mode == 0o700
    # Created here and now: never an existing file, nor one reached through a link.
    assert flags & os.O_EXCL and flags & os.O_NOFOLLOW
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))
    if os.access("/dev/shm", os.W_OK | os.X_OK):
        assert path.startswith("/dev/shm/"), path


def test_without_memory_files_a_key_that_fails_to_load_is_removed_too(
    pki: dict[str, Any], without_memory_files: list[tuple[str, int, int, int]]
) -> None:
    with pytest.raises(SecretInvalid):
        client_context(_secret(pki, private_key=_key_pem(pki["stranger_key"])))
    assert without_memory_files
    for path, *_ in without_memory_files:
        assert not os.path.exists(os.path.dirname(path))
