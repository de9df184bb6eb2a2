"""The extension reader's pure halves, and its cache driven by a fake clock (no I/O)."""

from __future__ import annotations

import base64
import json

import pytest

from ws_exchange.errors import ConfigError, SecretAccessDenied, SecretInvalid, SecretNotFound
from ws_exchange.secret_extension import (
    DEFAULT_PORT,
    ExtensionSecretStore,
    classify_failure,
    extension_port,
    request_path,
    secret_text,
)

SECRET = "s3cr3t-value-never-quoted"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ScriptedStore(ExtensionSecretStore):
    """The store with its one I/O method replaced: each fetch returns the next value."""

    def __init__(self, clock: FakeClock, values: list[str]) -> None:
        super().__init__({}, clock=clock)
        self.values = values
        self.timeouts: list[float] = []

    def _request(self, secret_id: str, timeout: float) -> str:
        self.fetches += 1
        self.timeouts.append(timeout)
        return self.values[self.fetches - 1]


# --------------------------------------------------------------------------- request


def test_secret_id_is_fully_percent_encoded_in_the_path() -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:team/token+x=y&z-AbCdEf"

    path = request_path(arn)

    assert path == (
        "/secretsmanager/get?secretId=arn%3Aaws%3Asecretsmanager%3Aus-east-1%3A123456789012"
        "%3Asecret%3Ateam%2Ftoken%2Bx%3Dy%26z-AbCdEf"
    )


def test_port_defaults_to_2773_and_reads_the_extension_variable() -> None:
    assert extension_port({}) == DEFAULT_PORT == 2773
    assert extension_port({"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": ""}) == 2773
    assert extension_port({"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": " 4000 "}) == 4000


@pytest.mark.parametrize("value", ["http", "-1", "0", "65536", "27.5"])
def test_invalid_port_is_a_config_error_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"):
        extension_port({"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": value})


# --------------------------------------------------------------------------- body


def test_secret_string_is_returned_as_is() -> None:
    body = json.dumps({"Name": "x", "SecretString": '{"token": "abc"}'}).encode()

    assert secret_text(body) == '{"token": "abc"}'


def test_secret_binary_is_decoded_from_base64_to_text() -> None:
    body = json.dumps({"SecretBinary": base64.b64encode(b"binary token").decode()}).encode()

    assert secret_text(body) == "binary token"


def test_secret_binary_that_is_not_utf8_is_invalid() -> None:
    body = json.dumps({"SecretBinary": base64.b64encode(b"\xff\xfe\x00").decode()}).encode()

    with pytest.raises(SecretInvalid, match="not UTF-8"):
        secret_text(body)


def test_secret_binary_that_is_not_base64_is_invalid() -> None:
    with pytest.raises(SecretInvalid):
        secret_text(json.dumps({"SecretBinary": "not base64!"}).encode())


def test_document_without_a_value_is_invalid() -> None:
    with pytest.raises(SecretInvalid, match="neither a SecretString nor a SecretBinary"):
        secret_text(json.dumps({"Name": "x", "SecretString": None}).encode())


@pytest.mark.parametrize("body", [b"", b"<html>", b"[1, 2]", b"\xff" + SECRET.encode()])
def test_a_body_that_is_not_a_json_object_is_retryable_and_quotes_nothing(body: bytes) -> None:
    with pytest.raises(SecretAccessDenied) as caught:
        secret_text(body)

    assert caught.value.retryable is True
    assert SECRET not in str(caught.value)


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("status", "body", "expected", "retryable"),
    [
        (404, b"", SecretNotFound, False),
        (400, b'{"__type": "ResourceNotFoundException"}', SecretNotFound, False),
        (400, b"ResourceNotFoundException: can't find the secret", SecretNotFound, False),
        (400, b'{"__type": "AccessDeniedException"}', SecretAccessDenied, False),
        (403, b"", SecretAccessDenied, False),
        (400, b"", SecretAccessDenied, False),
        (401, b"", SecretAccessDenied, False),
        (400, b'{"__type": "DecryptionFailure"}', SecretInvalid, False),
        (400, b'{"__type": "InvalidRequestException"}', SecretInvalid, False),
        (400, b'{"__type": "ThrottlingException"}', SecretAccessDenied, True),
        (500, b"", SecretAccessDenied, True),
        (502, b"<html>bad gateway</html>", SecretAccessDenied, True),
        (503, b"", SecretAccessDenied, True),
    ],
)
def test_each_failure_answer_maps_to_its_error_type(
    status: int, body: bytes, expected: type[Exception], retryable: bool
) -> None:
    error = classify_failure(status, body)

    assert type(error) is expected
    assert error.retryable is retryable


def test_a_401_points_at_the_token_header() -> None:
    assert "X-Aws-Parameters-Secrets-Token" in classify_failure(401, b"").message


def test_failure_messages_never_quote_the_body() -> None:
    body = f'{{"__type": "AccessDeniedException", "message": "{SECRET}"}}'.encode()

    for status in (400, 401, 403, 404, 500):
        assert SECRET not in str(classify_failure(status, body))


# --------------------------------------------------------------------------- cache


def test_second_get_within_max_age_is_served_from_the_store() -> None:
    clock = FakeClock()
    store = ScriptedStore(clock, ["one", "two"])

    first = store.get("id", max_age=300, refresh=False, timeout=2.0)
    clock.now += 300  # the last instant of the window still counts
    second = store.get("id", max_age=300, refresh=False, timeout=2.0)

    assert (first.text, first.fresh) == ("one", True)
    assert (second.text, second.fresh) == ("one", False)
    assert store.fetches == 1


def test_value_is_fetched_again_once_max_age_has_passed() -> None:
    clock = FakeClock()
    store = ScriptedStore(clock, ["one", "two"])

    store.get("id", max_age=300, refresh=False, timeout=2.0)
    clock.now += 300.001
    again = store.get("id", max_age=300, refresh=False, timeout=2.0)

    assert (again.text, again.fresh) == ("two", True)
    assert store.fetches == 2


def test_refresh_bypasses_the_store_and_replaces_its_value() -> None:
    clock = FakeClock()
    store = ScriptedStore(clock, ["one", "two", "three"])

    store.get("id", max_age=300, refresh=False, timeout=2.0)
    refreshed = store.get("id", max_age=300, refresh=True, timeout=2.0)
    cached = store.get("id", max_age=300, refresh=False, timeout=2.0)

    assert (refreshed.text, refreshed.fresh) == ("two", True)
    assert (cached.text, cached.fresh) == ("two", False)
    assert store.fetches == 2


@pytest.mark.parametrize("max_age", [0, -5])
def test_max_age_zero_or_less_never_stores(max_age: float) -> None:
    store = ScriptedStore(FakeClock(), ["one", "two"])

    store.get("id", max_age=max_age, refresh=False, timeout=2.0)
    second = store.get("id", max_age=max_age, refresh=False, timeout=2.0)

    assert (second.text, second.fresh) == ("two", True)
    assert store.fetches == 2


def test_values_are_stored_per_secret_id() -> None:
    store = ScriptedStore(FakeClock(), ["a", "b"])

    a = store.get("first", max_age=300, refresh=False, timeout=2.0)
    b = store.get("second", max_age=300, refresh=False, timeout=2.0)

    assert (a.text, b.text) == ("a", "b")
    assert store.get("first", max_age=300, refresh=False, timeout=2.0).text == "a"
    assert store.fetches == 2


def test_the_callers_timeout_reaches_the_request() -> None:
    store = ScriptedStore(FakeClock(), ["one"])

    store.get("id", max_age=300, refresh=False, timeout=0.75)

    assert store.timeouts == [0.75]


def test_clear_forgets_every_value() -> None:
    store = ScriptedStore(FakeClock(), ["one", "two"])

    store.get("id", max_age=300, refresh=False, timeout=2.0)
    store.clear()

    assert store.get("id", max_age=300, refresh=False, timeout=2.0).text == "two"


@pytest.mark.parametrize("timeout", [0.0, -1.0])
def test_no_time_left_raises_before_any_io(timeout: float) -> None:
    # Port 1 on 127.0.0.1: any connection attempt would be refused, with another message.
    store = ExtensionSecretStore(
        {"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": "1", "AWS_SESSION_TOKEN": "x"}
    )

    with pytest.raises(SecretAccessDenied, match="deadline") as caught:
        store.get("id", max_age=300, refresh=False, timeout=timeout)

    assert caught.value.retryable is True
    assert store.fetches == 0


def test_a_stored_value_is_served_even_with_no_time_left() -> None:
    store = ScriptedStore(FakeClock(), ["one"])
    store.get("id", max_age=300, refresh=False, timeout=2.0)

    assert store.get("id", max_age=300, refresh=False, timeout=0.0).text == "one"


def test_missing_session_token_is_refused_before_any_io() -> None:
    store = ExtensionSecretStore({"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": "1"})

    with pytest.raises(SecretAccessDenied, match="AWS_SESSION_TOKEN") as caught:
        store.get("id", max_age=300, refresh=False, timeout=1.0)

    assert caught.value.retryable is False
    assert store.fetches == 0


def test_repr_of_a_value_hides_the_secret() -> None:
    value = ScriptedStore(FakeClock(), [SECRET]).get("id", max_age=300, refresh=False, timeout=1.0)

    assert SECRET not in repr(value)
