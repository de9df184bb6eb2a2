"""CA_BUNDLE: a PEM file packaged with the function, trusted besides the system's CAs.

The file is named relative to the package root (``LAMBDA_TASK_ROOT``); each way it can
be wrong is a ``config_error`` naming ``CA_BUNDLE``, raised while the configuration is
read, so no secret is read and no connection opened.
"""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import pytest

from local_stack.credentials import pki
from ws_exchange import tls
from ws_exchange.config import load_config
from ws_exchange.errors import ConfigError

BASE = {"WEBSOCKET_URI": "wss://stream.example.com/v1", "TOKEN_SECRET_ID": "prod/ws-token"}


@pytest.fixture(scope="module")
def authority() -> pki.LocalPKI:
    return pki.generate()


@pytest.fixture
def package(tmp_path: Path, authority: pki.LocalPKI) -> Path:
    """A package root holding certs/ca.pem, the private CA's certificate."""
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_text(authority.ca_pem)
    return tmp_path


def _config_error(**variables: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config({**BASE, **variables})
    return info.value.message


def test_the_bundle_is_found_relative_to_the_package_root(package: Path) -> None:
    config = load_config({**BASE, "CA_BUNDLE": "certs/ca.pem", "LAMBDA_TASK_ROOT": str(package)})
    assert config.ca_bundle == str((package / "certs" / "ca.pem").resolve())


def test_without_lambda_task_root_the_root_is_the_directory_holding_the_package() -> None:
    # src/ locally, /var/task in Lambda: where ws_exchange/ itself lies.
    src = Path(tls.__file__).resolve().parents[1]
    assert tls.ca_bundle_path("certs/ca.pem") == str(src / "certs" / "ca.pem")


def test_unset_or_empty_means_no_bundle() -> None:
    assert load_config(BASE).ca_bundle is None
    assert load_config({**BASE, "CA_BUNDLE": " "}).ca_bundle is None


def test_the_context_trusts_the_bundle_and_the_system_and_is_built_once(package: Path) -> None:
    path = tls.ca_bundle_path("certs/ca.pem", str(package))
    context = tls.server_context(path)
    assert context is tls.server_context(path)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname is True
    system = ssl.create_default_context().cert_store_stats()["x509_ca"]
    assert context.cert_store_stats()["x509_ca"] == system + 1
    assert tls.server_context(None) is tls.default_context()


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("/etc/ssl/certs/ca-certificates.crt", "relative"),
        ("../outside.pem", "'..'"),
        ("certs/../../outside.pem", "'..'"),
    ],
)
def test_a_path_that_is_not_inside_the_package_is_a_config_error(
    package: Path, value: str, says: str
) -> None:
    message = _config_error(CA_BUNDLE=value, LAMBDA_TASK_ROOT=str(package))
    assert "CA_BUNDLE" in message and says in message


def test_a_symbolic_link_out_of_the_package_is_a_config_error(
    package: Path, tmp_path_factory: pytest.TempPathFactory, authority: pki.LocalPKI
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "ca.pem"
    outside.write_text(authority.ca_pem)
    (package / "certs" / "link.pem").symlink_to(outside)
    message = _config_error(CA_BUNDLE="certs/link.pem", LAMBDA_TASK_ROOT=str(package))
    assert "CA_BUNDLE" in message and "outside" in message


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "no file"),
        ("directory", "cannot be read"),
        (b"\xff\xfe not text", "cannot be read"),
        ("just some text\n", "no PEM certificate"),
        ("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n", "loaded"),
    ],
)
def test_a_file_that_is_missing_unreadable_or_not_pem_is_a_config_error(
    package: Path, content: str | bytes | None, says: str
) -> None:
    target = package / "certs" / "bad.pem"
    if content == "directory":
        target.mkdir()
    elif isinstance(content, bytes):
        target.write_bytes(content)
    elif content is not None:
        target.write_text(content)
    message = _config_error(CA_BUNDLE="certs/bad.pem", LAMBDA_TASK_ROOT=str(package))
    assert "CA_BUNDLE" in message and says in message


def test_a_missing_file_says_where_to_put_it(package: Path) -> None:
    message = _config_error(CA_BUNDLE="certs/missing.pem", LAMBDA_TASK_ROOT=str(package))
    assert "src/certs/" in message


def test_a_bundle_with_ws_is_a_contradiction(package: Path) -> None:
    message = _config_error(
        WEBSOCKET_URI="ws://127.0.0.1:9/v1",
        ALLOW_INSECURE_WEBSOCKET="true",
        CA_BUNDLE="certs/ca.pem",
        LAMBDA_TASK_ROOT=str(package),
    )
    assert "CA_BUNDLE" in message and "wss://" in message


def test_the_client_certificate_context_trusts_the_bundle_too(
    package: Path, authority: pki.LocalPKI
) -> None:
    secret = authority.client_secret()
    del secret["ca_bundle"]
    path = tls.ca_bundle_path("certs/ca.pem", str(package))
    with_bundle = tls.client_context(json.dumps(secret), ca_bundle=path)
    without = tls.client_context(json.dumps(secret))
    assert with_bundle.cert_store_stats()["x509_ca"] == without.cert_store_stats()["x509_ca"] + 1
