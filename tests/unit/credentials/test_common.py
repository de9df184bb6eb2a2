"""The shared half of the credential modes: registry, cross-mode checks, secret text,
HANDSHAKE_HEADERS, SUBPROTOCOLS, and the lazy imports that keep bearer's cold start."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ws_exchange.credentials import (
    MODE_VARIABLES,
    MODES,
    SECRET_SHAPES,
    Handshake,
    Prepared,
    SecretValue,
    parse_handshake_headers,
    parse_subprotocols,
    secret_object,
    token_from_secret,
)
from ws_exchange.errors import ConfigError, SecretInvalid

from ._support import mode

# Minimal valid settings per mode, so that a test varies one thing at a time.
VALID: dict[str, dict[str, str]] = {
    "bearer": {"TOKEN_SECRET_ID": "s"},
    "header": {"TOKEN_SECRET_ID": "s", "AUTH_HEADER": "X-API-Key"},
    "basic": {"TOKEN_SECRET_ID": "s"},
    "query": {"TOKEN_SECRET_ID": "s"},
    "subprotocol": {"TOKEN_SECRET_ID": "s", "AUTH_SUBPROTOCOL_PREFIX": "token."},
    "oauth2_client_credentials": {
        "TOKEN_SECRET_ID": "s",
        "OAUTH2_TOKEN_URL": "https://idp.example.com/token",
    },
    "sigv4": {"SIGV4_REGION": "eu-west-1"},
    "message": {"TOKEN_SECRET_ID": "s", "AUTH_MESSAGE": '{"token": "{token}"}'},
    "cookie": {"TOKEN_SECRET_ID": "s", "AUTH_COOKIE": "session"},
    "none": {},
}


def config_error(environ: dict[str, str], uri: str = "wss://stream.example.com/v1") -> str:
    with pytest.raises(ConfigError) as info:
        mode(environ, uri=uri)
    assert info.value.type == "config_error"
    return info.value.message


# --- registry ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODES))
def test_every_mode_loads_from_its_minimal_settings(name: str) -> None:
    loaded = mode({"AUTH_MODE": name, **VALID[name]})
    assert loaded.needs_secret == (name in SECRET_SHAPES)


def test_bearer_is_the_default_mode() -> None:
    assert type(mode({"TOKEN_SECRET_ID": "s"})).__name__ == "Bearer"
    assert type(mode({"AUTH_MODE": "  ", "TOKEN_SECRET_ID": "s"})).__name__ == "Bearer"


@pytest.mark.parametrize("value", ["Bearer", "oauth2", "jwt", "none;", "BASIC"])
def test_unknown_mode_is_a_config_error_naming_auth_mode(value: str) -> None:
    assert "AUTH_MODE" in config_error({"AUTH_MODE": value, "TOKEN_SECRET_ID": "s"})


@pytest.mark.parametrize("name", sorted(SECRET_SHAPES))
def test_secret_backed_modes_require_token_secret_id(name: str) -> None:
    settings = {k: v for k, v in VALID[name].items() if k != "TOKEN_SECRET_ID"}
    message = config_error({"AUTH_MODE": name, **settings})
    assert "TOKEN_SECRET_ID" in message
    assert SECRET_SHAPES[name] in message


@pytest.mark.parametrize("name", ["sigv4", "none"])
def test_token_secret_id_is_ignored_where_no_secret_is_read(name: str) -> None:
    loaded = mode({"AUTH_MODE": name, **VALID[name], "TOKEN_SECRET_ID": "left-over"})
    assert loaded.needs_secret is False


CONTRADICTIONS = [
    (variable, name)
    for variable, owners in MODE_VARIABLES.items()
    for name in MODES
    if name not in owners
]


@pytest.mark.parametrize(("variable", "name"), CONTRADICTIONS)
def test_a_variable_of_another_mode_is_a_config_error_naming_it(variable: str, name: str) -> None:
    message = config_error({"AUTH_MODE": name, **VALID[name], variable: "x"})
    assert message.startswith(variable)
    assert name in message


def test_the_documented_examples_are_contradictions() -> None:
    assert "AUTH_HEADER" in config_error({"TOKEN_SECRET_ID": "s", "AUTH_HEADER": "X-Key"})
    assert "AUTH_SCHEME" in config_error(
        {"AUTH_MODE": "basic", "TOKEN_SECRET_ID": "s", "AUTH_SCHEME": "Basic"}
    )


def test_a_blank_variable_counts_as_unset() -> None:
    # Templates pass "" for parameters left empty.
    mode({"TOKEN_SECRET_ID": "s", "AUTH_HEADER": "", "OAUTH2_TOKEN_URL": "  "})


# --- token from the secret's text ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        ('{"token": "abc123"}', "token", "abc123"),
        ('{"api_key": "k-1", "token": "t-2"}', "api_key", "k-1"),
        ('  {"token": " abc123\\n"}\n', "token", "abc123"),
        ("abc123\n", "token", "abc123"),
        ("!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "token", "!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
        # What a token may hold depends on its carrier: each mode checks that.
        ("two words", "token", "two words"),
        ('{"token": "line\\nbreak ☕"}', "token", "line\nbreak ☕"),
        ('"abc"', "token", '"abc"'),
        ("[1,2]", "token", "[1,2]"),
        ("{not-json", "token", "{not-json"),
    ],
)
def test_token_is_the_field_of_a_json_object_or_the_whole_text(
    text: str, field: str, expected: str
) -> None:
    assert token_from_secret(text, field) == expected


# Each carries the marker "sEkReT" so that a message quoting it is caught.
INVALID_SECRETS = [
    ('{"token": "sEkReT"}', "api_key", "'api_key'"),
    (json.dumps({"token": ["sEkReT"]}), "token", "not a string"),
    ('{"token": "   "}', "token", "empty"),
    ("", "token", "empty"),
    (json.dumps({"token": "sEkReT\ud800"}), "token", "Unicode"),
    ('{"token": ' + "[" * 10_000 + "]" * 10_000 + "}", "token", "nested"),
]


@pytest.mark.parametrize(
    ("text", "field", "says"), INVALID_SECRETS, ids=range(len(INVALID_SECRETS))
)
def test_unusable_token_is_secret_invalid_without_quoting_it(
    text: str, field: str, says: str
) -> None:
    with pytest.raises(SecretInvalid) as info:
        token_from_secret(text, field)
    error = info.value
    assert says in error.message
    assert error.retryable is False
    for shown in (error.message, str(error), repr(error), json.dumps(error.as_dict())):
        assert "sEkReT" not in shown
        assert "X-Injected" not in shown


def test_secret_object_names_the_missing_field_and_never_the_values() -> None:
    with pytest.raises(SecretInvalid) as info:
        secret_object('{"username": "sEkReT"}', ("username", "password"), what="The secret")
    assert "'password'" in info.value.message
    assert "sEkReT" not in info.value.message
    with pytest.raises(SecretInvalid, match="JSON object"):
        secret_object("sEkReT", ("username",), what="The secret")
    with pytest.raises(SecretInvalid, match="not a string"):
        secret_object('{"username": 1}', ("username",), what="The secret")
    with pytest.raises(SecretInvalid, match="empty"):
        secret_object('{"username": ""}', ("username",), what="The secret")
    assert secret_object('{"a": "1", "b": "2"}', ("a",), ("b", "c"), what="x") == {
        "a": "1",
        "b": "2",
    }


# --- HANDSHAKE_HEADERS ------------------------------------------------------------------------


def test_handshake_headers_keep_their_order_and_case() -> None:
    environ = {"HANDSHAKE_HEADERS": '{"Origin": "https://app.example.com", "X-Tenant": "a b"}'}
    assert parse_handshake_headers(environ) == (
        ("Origin", "https://app.example.com"),
        ("X-Tenant", "a b"),
    )
    assert parse_handshake_headers({}) == ()
    assert parse_handshake_headers({"HANDSHAKE_HEADERS": " "}) == ()
    assert parse_handshake_headers({"HANDSHAKE_HEADERS": "{}"}) == ()


@pytest.mark.parametrize(
    ("raw", "extra"),
    [
        ("not json", {}),
        ('[["Origin", "x"]]', {}),
        ('"Origin: x"', {}),
        ('{"X-A": 1}', {}),
        ('{"X-A": {"b": "c"}}', {}),
        ('{"Bad Name": "x"}', {}),
        ('{"X-A:": "x"}', {}),
        ('{"X-A": "line\\r\\nX-Injected: 1"}', {}),
        ('{"X-A": " padded"}', {}),
        ('{"X-A": "caf\\u00e9"}', {}),
        ('{"X-A": "1", "x-a": "2"}', {}),
        ('{"X-A": "1", "X-A": "2"}', {}),
        ('{"Authorization": "Bearer x"}', {}),
        ('{"proxy-authorization": "x"}', {}),
        ('{"Cookie": "a=b"}', {}),
        ('{"Cookie": "a=b"}', {"AUTH_MODE": "cookie", "AUTH_COOKIE": "session"}),
        ('{"Host": "evil.example.com"}', {}),
        ('{"Sec-WebSocket-Protocol": "x"}', {}),
        ('{"sec-websocket-key": "x"}', {}),
        ('{"Upgrade": "x"}', {}),
        ('{"X-API-Key": "x"}', {"AUTH_HEADER": "x-api-key"}),
        ('{"X-Amz-Date": "x"}', {"AUTH_MODE": "sigv4"}),
    ],
)
def test_invalid_handshake_headers_are_a_config_error_naming_the_variable(
    raw: str, extra: dict[str, str]
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_handshake_headers({"HANDSHAKE_HEADERS": raw, **extra})
    assert info.value.message.startswith("HANDSHAKE_HEADERS")


# --- SUBPROTOCOLS ---------------------------------------------------------------------------


def test_subprotocols_are_comma_separated_tokens_in_order() -> None:
    assert parse_subprotocols({"SUBPROTOCOLS": "v4.channel.k8s.io, graphql-ws,chat"}) == (
        "v4.channel.k8s.io",
        "graphql-ws",
        "chat",
    )
    assert parse_subprotocols({}) == ()
    assert parse_subprotocols({"SUBPROTOCOLS": ""}) == ()


@pytest.mark.parametrize("raw", ["a,,b", "a,", "a b", "a,a", 'chat"', "caf\u00e9", "a;b"])
def test_invalid_subprotocols_are_a_config_error_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_subprotocols({"SUBPROTOCOLS": raw})
    assert info.value.message.startswith("SUBPROTOCOLS")


# --- reprs -------------------------------------------------------------------------------------


def test_values_holding_credentials_hide_them_in_repr() -> None:
    shown = [
        repr(SecretValue("sEkReT", fresh=True)),
        repr(Handshake("wss://h/?k=sEkReT", (("Authorization", "sEkReT"),), ("sEkReT",))),
        repr(Prepared(Handshake("wss://h"), fresh=False, credentials=("sEkReT",), token="sEkReT")),
    ]
    for text in shown:
        assert "sEkReT" not in text


# --- lazy imports --------------------------------------------------------------------------


def _modules_after(script: str) -> set[str]:
    src = Path(__file__).resolve().parents[3] / "src"
    output = subprocess.run(
        [sys.executable, "-c", script],
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    loaded: Any = json.loads(output)
    return set(loaded)


PREPARE = """
import json, sys
from ws_exchange.credentials import Handshake, SecretValue, load_mode
from ws_exchange.deadline import Deadline
mode = load_mode({{"AUTH_MODE": "{mode}", **{settings}}}, uri="wss://h.example.com/",
                 allow_insecure=False)
mode.prepare(Handshake("wss://h.example.com/"), lambda refresh: SecretValue({secret!r}, True),
             Deadline(10), refresh=False)
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("name", ["bearer", "cookie"])
def test_header_modes_import_no_signer_http_client_or_jmespath(name: str) -> None:
    loaded = _modules_after(PREPARE.format(mode=name, settings=VALID[name], secret="tok"))
    assert f"ws_exchange.credentials.{name}" in loaded
    for heavy in ("botocore", "botocore.auth", "urllib3", "jmespath", "boto3"):
        assert heavy not in loaded


def test_the_probe_sees_what_a_heavy_mode_imports() -> None:
    # The same probe run on message mode finds jmespath: the test above can fail.
    loaded = _modules_after(PREPARE.format(mode="message", settings=VALID["message"], secret="tok"))
    assert "jmespath" in loaded
    assert "urllib3" not in loaded
