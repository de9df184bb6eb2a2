"""Configuration: defaults, validation, the public endpoint."""

from __future__ import annotations

import json

import pytest

from ws_exchange.config import Config, load_config, public_endpoint, wants_fail_on_error
from ws_exchange.errors import ConfigError

BASE = {"WEBSOCKET_URI": "wss://stream.example.com/v1", "TOKEN_SECRET_ID": "prod/ws-token"}


def env(**overrides: str | None) -> dict[str, str]:
    """BASE with overrides; an override of None removes the variable."""
    merged: dict[str, str | None] = {**BASE, **overrides}
    return {key: value for key, value in merged.items() if value is not None}


def config_error(environ: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(environ)
    return info.value


# --- defaults ---------------------------------------------------------------


def test_minimal_environment_gives_every_documented_default() -> None:
    config = load_config(BASE)
    assert isinstance(config, Config)
    assert config.websocket_uri == "wss://stream.example.com/v1"
    assert config.endpoint == "wss://stream.example.com/v1"
    assert config.token_secret_id == "prod/ws-token"
    assert config.secrets_source == "sdk"
    assert config.max_result_bytes == 4 * 1024 * 1024
    assert config.open_timeout == 10.0
    assert config.reply_timeout == 10.0
    assert config.expected_replies == 1
    assert config.max_attempts == 3
    assert config.secret_max_age == 300
    assert config.default_message == {"action": "ping"}
    assert config.allow_insecure is False
    assert config.max_message_bytes == 1048576
    assert config.fail_on_error is False


@pytest.mark.parametrize(
    "name",
    [
        "OPEN_TIMEOUT_SECONDS",
        "REPLY_TIMEOUT_SECONDS",
        "EXPECTED_REPLIES",
        "MAX_ATTEMPTS",
        "SECRET_MAX_AGE_SECONDS",
        "MAX_MESSAGE_BYTES",
        "DEFAULT_MESSAGE",
    ],
)
def test_blank_optional_variable_means_its_default(name: str) -> None:
    assert load_config(env(**{name: "  "})) == load_config(BASE)


@pytest.mark.parametrize("name", ["TOKEN_SECRET_FIELD", "AUTH_SCHEME"])
def test_blank_mode_settings_mean_their_defaults(name: str) -> None:
    # A template passes "" for a parameter left empty.
    assert load_config(env(**{name: "  "})) == load_config(BASE)


@pytest.mark.parametrize(
    ("name", "raw", "attribute", "expected"),
    [
        ("OPEN_TIMEOUT_SECONDS", "2.5", "open_timeout", 2.5),
        ("OPEN_TIMEOUT_SECONDS", "900", "open_timeout", 900.0),
        ("OPEN_TIMEOUT_SECONDS", "0.001", "open_timeout", 0.001),
        ("REPLY_TIMEOUT_SECONDS", "30", "reply_timeout", 30.0),
        ("REPLY_TIMEOUT_SECONDS", " 5 ", "reply_timeout", 5.0),
        ("EXPECTED_REPLIES", "0", "expected_replies", 0),
        ("EXPECTED_REPLIES", "100", "expected_replies", 100),
        ("MAX_ATTEMPTS", "1", "max_attempts", 1),
        ("MAX_ATTEMPTS", "10", "max_attempts", 10),
        ("SECRET_MAX_AGE_SECONDS", "0", "secret_max_age", 0),
        ("SECRET_MAX_AGE_SECONDS", "86400", "secret_max_age", 86400),
        ("MAX_MESSAGE_BYTES", "1", "max_message_bytes", 1),
        ("MAX_MESSAGE_BYTES", str(6 * 1024 * 1024), "max_message_bytes", 6 * 1024 * 1024),
        ("DEFAULT_MESSAGE", '{"action": "subscribe"}', "default_message", {"action": "subscribe"}),
        ("DEFAULT_MESSAGE", '"hello"', "default_message", "hello"),
        ("DEFAULT_MESSAGE", "[1, 2]", "default_message", [1, 2]),
        ("DEFAULT_MESSAGE", "null", "default_message", None),
        ("FAIL_ON_ERROR", "true", "fail_on_error", True),
        ("MAX_RESULT_BYTES", "1000", "max_result_bytes", 1000),
        ("MAX_RESULT_BYTES", str(5 * 1024 * 1024), "max_result_bytes", 5 * 1024 * 1024),
        ("SECRETS_SOURCE", "extension", "secrets_source", "extension"),
        ("WEBSOCKET_URI", "WSS://example.com/v1", "websocket_uri", "wss://example.com/v1"),
    ],
)
def test_valid_values_are_parsed(name: str, raw: str, attribute: str, expected: object) -> None:
    value = getattr(load_config(env(**{name: raw})), attribute)
    assert value == expected
    assert type(value) is type(expected)


# --- booleans ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        (" True ", True),
        ("1", True),
        ("yes", True),
        ("on", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
        ("off", False),
        ("", False),
    ],
)
@pytest.mark.parametrize(
    ("name", "attribute"),
    [("FAIL_ON_ERROR", "fail_on_error"), ("ALLOW_INSECURE_WEBSOCKET", "allow_insecure")],
)
def test_booleans(name: str, attribute: str, raw: str, expected: bool) -> None:
    assert getattr(load_config(env(**{name: raw})), attribute) is expected


@pytest.mark.parametrize("raw", ["maybe", "2", "-1", "truee", "t", "yes please", "null"])
@pytest.mark.parametrize("name", ["FAIL_ON_ERROR", "ALLOW_INSECURE_WEBSOCKET"])
def test_boolean_garbage_is_config_error_naming_the_variable(name: str, raw: str) -> None:
    error = config_error(env(**{name: raw}))
    assert name in error.message
    assert error.type == "config_error"


# --- required variables -----------------------------------------------------


@pytest.mark.parametrize("name", ["WEBSOCKET_URI", "TOKEN_SECRET_ID"])
@pytest.mark.parametrize("raw", [None, "", "   ", "\n"])
def test_required_variable_missing_or_blank(name: str, raw: str | None) -> None:
    assert name in config_error(env(**{name: raw})).message


def test_empty_environment_is_config_error_not_a_crash() -> None:
    assert "WEBSOCKET_URI" in config_error({}).message


def test_secret_id_is_stripped() -> None:
    assert load_config(env(TOKEN_SECRET_ID="  arn:aws:secretsmanager:x \n")).token_secret_id == (
        "arn:aws:secretsmanager:x"
    )


# --- WEBSOCKET_URI ----------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "http://stream.example.com/v1",
        "https://stream.example.com/v1",
        "ftp://stream.example.com/v1",
        "wsss://stream.example.com/v1",
        "stream.example.com/v1",
        "//stream.example.com/v1",
        "wss:/stream.example.com",
        "wss://",
        "wss:///path-only",
        "wss://stream.example.com:99999/v1",
        "wss://stream.example.com:port/v1",
        "wss://stream.example.com/v1#fragment",
        "wss://stream.example.com/a b",
        "wss://stream.example.com/a\tb",
    ],
)
def test_invalid_websocket_uri_is_config_error_naming_the_variable(uri: str) -> None:
    assert "WEBSOCKET_URI" in config_error(env(WEBSOCKET_URI=uri)).message


@pytest.mark.parametrize(
    "uri",
    [
        "wss://user:hunter2@stream.example.com/v1",
        "wss://user@stream.example.com/v1",
        "wss://:hunter2@stream.example.com/v1",
        "wss://user:hunter2@[::1]:8443/v1",
    ],
)
def test_userinfo_in_uri_is_rejected_without_echoing_it(uri: str) -> None:
    error = config_error(env(WEBSOCKET_URI=uri))
    assert "WEBSOCKET_URI" in error.message
    assert "hunter2" not in str(error)


@pytest.mark.parametrize("allow", [None, "false", "0", ""])
def test_ws_scheme_needs_allow_insecure(allow: str | None) -> None:
    error = config_error(
        env(WEBSOCKET_URI="ws://127.0.0.1:8765/v1", ALLOW_INSECURE_WEBSOCKET=allow)
    )
    assert "WEBSOCKET_URI" in error.message
    assert "ALLOW_INSECURE_WEBSOCKET" in error.message


@pytest.mark.parametrize("allow", ["true", "1", "yes"])
def test_ws_scheme_allowed_with_allow_insecure(allow: str) -> None:
    config = load_config(
        env(WEBSOCKET_URI="ws://127.0.0.1:8765/v1", ALLOW_INSECURE_WEBSOCKET=allow)
    )
    assert config.websocket_uri == "ws://127.0.0.1:8765/v1"
    assert config.allow_insecure is True


def test_allow_insecure_does_not_admit_other_schemes() -> None:
    error = config_error(env(WEBSOCKET_URI="http://127.0.0.1/", ALLOW_INSECURE_WEBSOCKET="true"))
    assert "WEBSOCKET_URI" in error.message


@pytest.mark.parametrize(
    "uri",
    [
        "wss://stream.example.com",
        "wss://stream.example.com:8443/v1/feed",
        "wss://[::1]:8443/v1",
        "wss://stream.example.com/v1?api_key=abc",
    ],
)
def test_valid_wss_uris_are_accepted(uri: str) -> None:
    assert load_config(env(WEBSOCKET_URI=uri)).websocket_uri == uri


def test_uri_is_stripped_and_endpoint_has_no_query() -> None:
    config = load_config(env(WEBSOCKET_URI="  wss://stream.example.com/v1?api_key=abc \n"))
    assert config.websocket_uri == "wss://stream.example.com/v1?api_key=abc"
    assert config.endpoint == "wss://stream.example.com/v1"


# --- timeouts and integers ----------------------------------------------------


@pytest.mark.parametrize("name", ["OPEN_TIMEOUT_SECONDS", "REPLY_TIMEOUT_SECONDS"])
@pytest.mark.parametrize(
    "raw",
    [
        "abc",
        "10s",
        "0",
        "0.0",
        "-1",
        "-0.5",
        "inf",
        "-inf",
        "Infinity",
        "nan",
        "NaN",
        "1e400",
        "900.001",
        "901",
        "100000",
    ],
)
def test_invalid_timeout_is_config_error_naming_the_variable(name: str, raw: str) -> None:
    assert name in config_error(env(**{name: raw})).message


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("EXPECTED_REPLIES", "-1"),
        ("EXPECTED_REPLIES", "101"),
        ("EXPECTED_REPLIES", "1.5"),
        ("EXPECTED_REPLIES", "one"),
        ("MAX_ATTEMPTS", "0"),
        ("MAX_ATTEMPTS", "-3"),
        ("MAX_ATTEMPTS", "11"),
        ("MAX_ATTEMPTS", "3.0"),
        ("SECRET_MAX_AGE_SECONDS", "-1"),
        ("SECRET_MAX_AGE_SECONDS", "86401"),
        ("SECRET_MAX_AGE_SECONDS", "5m"),
        ("MAX_MESSAGE_BYTES", "0"),
        ("MAX_MESSAGE_BYTES", str(6 * 1024 * 1024 + 1)),
        ("MAX_MESSAGE_BYTES", "1MB"),
    ],
)
def test_invalid_integer_is_config_error_naming_the_variable(name: str, raw: str) -> None:
    assert name in config_error(env(**{name: raw})).message


# --- DEFAULT_MESSAGE and AUTH_SCHEME -------------------------------------------


@pytest.mark.parametrize("raw", ["not json", "{action: ping}", "{'action': 'ping'}", "{", "ping"])
def test_non_json_default_message_is_config_error(raw: str) -> None:
    assert "DEFAULT_MESSAGE" in config_error(env(DEFAULT_MESSAGE=raw)).message


@pytest.mark.parametrize("raw", ["NaN", "Infinity", '{"level": -Infinity}'])
def test_default_message_with_non_json_numbers_is_config_error(raw: str) -> None:
    assert "DEFAULT_MESSAGE" in config_error(env(DEFAULT_MESSAGE=raw)).message


def test_deeply_nested_default_message_is_config_error() -> None:
    assert "DEFAULT_MESSAGE" in config_error(env(DEFAULT_MESSAGE="[" * 100_000)).message


@pytest.mark.parametrize(
    "scheme", ["Bearer token", "Be arer", "Bearer\tx", "Bear:er", "Béarer", "Bearer,x"]
)
def test_auth_scheme_must_be_one_token(scheme: str) -> None:
    assert "AUTH_SCHEME" in config_error(env(AUTH_SCHEME=scheme)).message


# --- public_endpoint ---------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("wss://stream.example.com/v1", "wss://stream.example.com/v1"),
        ("wss://stream.example.com", "wss://stream.example.com"),
        ("wss://stream.example.com:8443/v1/feed", "wss://stream.example.com:8443/v1/feed"),
        ("wss://stream.example.com/v1?api_key=abc&x=1", "wss://stream.example.com/v1"),
        ("wss://stream.example.com/v1#frag", "wss://stream.example.com/v1"),
        ("wss://user:pw@stream.example.com:8443/v1?k=v#f", "wss://stream.example.com:8443/v1"),
        ("wss://user@stream.example.com/v1", "wss://stream.example.com/v1"),
        ("wss://[::1]:8443/v1", "wss://[::1]:8443/v1"),
        ("wss://user:pw@[2001:db8::1]/x?k=v", "wss://[2001:db8::1]/x"),
        ("ws://127.0.0.1:8765/v1?token=abc", "ws://127.0.0.1:8765/v1"),
    ],
)
def test_public_endpoint(uri: str, expected: str) -> None:
    assert public_endpoint(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "wss://user:pw@stream.example.com:8443/v1?api_key=k3y#f",
        "wss://stream.example.com/v1?api_key=k3y",
    ],
)
def test_public_endpoint_never_carries_secrets(uri: str) -> None:
    endpoint = public_endpoint(uri)
    for leaked in ("user", "pw@", "k3y", "?", "#"):
        assert leaked not in endpoint


# --- wants_fail_on_error -----------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"FAIL_ON_ERROR": "true"}, True),
        ({"FAIL_ON_ERROR": "1"}, True),
        ({"FAIL_ON_ERROR": "false"}, False),
        ({"FAIL_ON_ERROR": "garbage"}, False),
        # the rest of the configuration being broken does not matter
        ({"FAIL_ON_ERROR": "true", "WEBSOCKET_URI": "http://x", "MAX_ATTEMPTS": "-1"}, True),
    ],
)
def test_wants_fail_on_error(environ: dict[str, str], expected: bool) -> None:
    assert wants_fail_on_error(environ) is expected


def test_config_is_immutable() -> None:
    config = load_config(BASE)
    with pytest.raises(AttributeError):
        config.websocket_uri = "wss://elsewhere.example.com"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("wss://" + "a" * 64 + ".example.com/", "label"),
        ("wss://" + ".".join(["abcdefghij"] * 24) + "/", "253"),
        ("wss://[::zz]/", "valid"),
        ("wss://exa mple.com/", "whitespace"),
        ("wss://example.com/\x00", "control"),
        ("wss://user@example.com/", "credentials"),
    ],
)
def test_uris_the_client_cannot_use_are_config_errors(uri: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as caught:
        load_config(env(WEBSOCKET_URI=uri))
    assert "WEBSOCKET_URI" in caught.value.message


@pytest.mark.parametrize(
    "value", ["localhost:4566", "ftp://127.0.0.1:4566", "http://", "http://h:x"]
)
def test_endpoint_override_without_a_scheme_or_host_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError, match="AWS_ENDPOINT_URL_SECRETS_MANAGER"):
        load_config(env(AWS_ENDPOINT_URL_SECRETS_MANAGER=value))


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ('{"n": 1e400}', "valid JSON"),
        ('{"n": NaN}', "valid JSON"),
        ('"\\ud800"', "JSON"),
        ("[" * 65 + "]" * 65, "nested"),
        (json.dumps("x" * (1024 * 1024 + 1)), "larger than"),
    ],
)
def test_default_messages_that_cannot_be_sent_are_config_errors(raw: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as caught:
        load_config(env(DEFAULT_MESSAGE=raw))
    assert caught.value.message.startswith("DEFAULT_MESSAGE")


@pytest.mark.parametrize("value", ["0", str(5 * 1024 * 1024 + 1), "lots"])
def test_max_result_bytes_is_bounded_by_lambdas_response_limit(value: str) -> None:
    with pytest.raises(ConfigError, match="MAX_RESULT_BYTES"):
        load_config(env(MAX_RESULT_BYTES=value))


def test_unknown_secrets_source_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="SECRETS_SOURCE"):
        load_config(env(SECRETS_SOURCE="vault"))


def test_unknown_auth_mode_is_a_config_error_before_any_import() -> None:
    with pytest.raises(ConfigError, match="AUTH_MODE"):
        load_config(env(AUTH_MODE="kerberos"))


# --- a misspelt variable is pointed out ------------------------------------------


@pytest.mark.parametrize(
    ("environ", "missing", "present"),
    [
        (
            {"WEBSOCKET_URL": "wss://stream.example.com/v1", "TOKEN_SECRET_ID": "s"},
            "WEBSOCKET_URI",
            "WEBSOCKET_URL",
        ),
        (
            {"websocket_uri": "wss://stream.example.com/v1", "TOKEN_SECRET_ID": "s"},
            "WEBSOCKET_URI",
            "websocket_uri",
        ),
        (env(AUTH_MODE="header", AUTH_HEADERS="X-API-Key"), "AUTH_HEADER", "AUTH_HEADERS"),
        (
            env(TOKEN_SECRET_ID=None, TOKEN_SECRET="prod/ws-token"),
            "TOKEN_SECRET_ID",
            "TOKEN_SECRET",
        ),
        (
            env(AUTH_MODE="message", AUTH_MESAGE='{"token": "{token}"}'),
            "AUTH_MESSAGE",
            "AUTH_MESAGE",
        ),
    ],
    ids=["url-for-uri", "lower-case", "plural", "truncated", "typo"],
)
def test_a_missing_variable_names_the_misspelt_one_that_is_set(
    environ: dict[str, str], missing: str, present: str
) -> None:
    message = config_error(environ).message
    assert message.startswith(missing)
    assert f"{present} is set: did you mean {missing}?" in message


def test_the_misspelt_variables_value_is_never_shown() -> None:
    environ = env(AUTH_MODE="header", AUTH_HEADERS="X-Leaked-Value")
    assert "X-Leaked-Value" not in config_error(environ).message


def test_no_suggestion_for_a_missing_variable_nothing_resembles() -> None:
    environ = env(AUTH_MODE="header", PATH="/usr/bin", AWS_LAMBDA_FUNCTION_NAME="fn")
    assert "did you mean" not in config_error(environ).message


def test_no_suggestion_when_the_named_variable_is_set_but_invalid() -> None:
    environ = env(AUTH_MODE="header", AUTH_HEADER="Bad Header", AUTH_HEADERS="X-API-Key")
    assert "did you mean" not in config_error(environ).message


def test_a_known_variable_is_never_suggested_for_another() -> None:
    # AWS_REGION is close to SIGV4_REGION, but it is a variable of its own.
    environ = {
        "WEBSOCKET_URI": "wss://example.com/",
        "AUTH_MODE": "sigv4",
        "AWS_REGION": "eu-west-1x",
    }
    try:
        load_config(environ)
    except ConfigError as error:
        assert "did you mean" not in error.message


# --- TIMESTAMP_FIELD ---------------------------------------------------------------


def test_timestamp_field_defaults_to_timestamp() -> None:
    config = load_config(BASE)
    assert config.timestamp_field == "timestamp"
    assert config.default_outgoing.sent_at("T") == {"action": "ping", "timestamp": "T"}


@pytest.mark.parametrize("field", ["sentAt", "ts", "x" * 64, "é", "a b"])
def test_timestamp_field_names_where_the_default_message_is_stamped(field: str) -> None:
    config = load_config(env(TIMESTAMP_FIELD=field))
    assert config.timestamp_field == field
    assert config.default_outgoing.sent_at("T") == {"action": "ping", field: "T"}


def test_an_empty_timestamp_field_stamps_nothing() -> None:
    config = load_config(env(TIMESTAMP_FIELD=""))
    assert config.timestamp_field == ""
    assert config.default_outgoing.sent_at("T") == {"action": "ping"}
    assert config.default_outgoing.frame_at("T") == '{"action":"ping"}'


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("x" * 65, "at most 64"),
        (" ts", "whitespace"),
        ("ts ", "whitespace"),
        ("   ", "whitespace"),
        ("a\nb", "control"),
        ("a\x00b", "control"),
        ("a\udcffb", "UTF-8"),
    ],
    ids=repr,
)
def test_a_bad_timestamp_field_is_a_config_error_naming_it(raw: str, reason: str) -> None:
    message = config_error(env(TIMESTAMP_FIELD=raw)).message
    assert message.startswith("TIMESTAMP_FIELD")
    assert reason in message


def test_a_default_message_the_timestamp_field_takes_past_the_limit_is_a_config_error() -> None:
    from ws_exchange.framing import MAX_OUTGOING_BYTES

    fits = json.dumps({"x": "a" * (MAX_OUTGOING_BYTES - 100)}, separators=(",", ":"))
    load_config(env(DEFAULT_MESSAGE=fits, TIMESTAMP_FIELD=""))
    message = config_error(env(DEFAULT_MESSAGE=fits, TIMESTAMP_FIELD="t" * 64)).message
    assert message.startswith("DEFAULT_MESSAGE")
    assert "larger than" in message
