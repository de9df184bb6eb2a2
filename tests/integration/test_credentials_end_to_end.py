"""Every AUTH_MODE through the handler against its real local counterpart.

For each mode: the right credential succeeds, a wrong one gives the documented
error, a rotated secret is fetched again after a 401/403, and no form of the
credential appears in DEBUG output or in the result.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Callable
from email.utils import format_datetime
from typing import Any

import pytest

from local_stack.aws.secrets_manager import LocalSecretsManager
from local_stack.credentials.oauth2_server import Fault
from local_stack.credentials.stack import LocalCredentialStack
from local_stack.runtime.invoker import environment, invoke
from ws_exchange.credentials import oauth2, sigv4

from .conftest import Invoke
from .test_observability import run_child

pytest_plugins = ["tests.integration.conftest_counterparts"]

SECRET_MODES = [
    "bearer",
    "header",
    "basic",
    "query",
    "subprotocol",
    "subprotocol_raw",
    "oauth2_client_credentials",
    "message",
    "cookie",
]
MODES = [*SECRET_MODES, "sigv4", "none"]

MakeEnv = Callable[..., dict[str, str]]


@pytest.fixture(autouse=True)
def new_execution_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a new Lambda environment would: no access token cached,
    no AWS credentials resolved yet."""
    oauth2.clear_cache()
    monkeypatch.setattr(sigv4, "_session", None)


@pytest.fixture
def mode_env(
    credential_stack: LocalCredentialStack,
    secrets_manager: LocalSecretsManager,
    function_env: dict[str, str],
) -> MakeEnv:
    """``mode_env(name, secret=...)``: the function's variables for an endpoint."""

    def make(name: str, secret: str | None = None, **extra: str) -> dict[str, str]:
        variables = {
            key: value
            for key, value in function_env.items()
            if key not in ("WEBSOCKET_URI", "TOKEN_SECRET_ID", "ALLOW_INSECURE_WEBSOCKET")
        }
        variables.update(credential_stack.settings(name))
        value = secret if secret is not None else credential_stack.secret(name)
        if value is not None:
            variables["TOKEN_SECRET_ID"] = secrets_manager.put_secret(f"test/{uuid.uuid4()}", value)
        return {**variables, **extra}

    return make


@pytest.fixture
def call(spec: Any, credential_stack: LocalCredentialStack) -> Invoke:
    """Invoke the handler with the stack's AWS credentials as the function's role."""

    def _call(event: Any, variables: dict[str, str]) -> Any:
        with environment(credential_stack.aws_environment):
            return invoke(spec, event, variables)

    return _call


def wrong_secret(stack: LocalCredentialStack, name: str) -> str:
    secret = stack.secret(name)
    assert secret is not None
    document = json.loads(secret)
    key = {"basic": "password", "oauth2_client_credentials": "client_secret"}.get(name, "token")
    document[key] = "wrong-" + uuid.uuid4().hex
    return json.dumps(document)


@pytest.mark.parametrize("name", MODES)
def test_the_right_credential_succeeds(
    call: Invoke, mode_env: MakeEnv, credential_stack: LocalCredentialStack, name: str
) -> None:
    result = call({"message": {"action": "ping"}}, mode_env(name))

    assert result["ok"] is True, result
    assert result["received"] == [{"type": "pong"}]
    assert credential_stack.endpoint(name).handshakes, "the counterpart saw the handshake"


@pytest.mark.parametrize("name", [m for m in SECRET_MODES if m != "oauth2_client_credentials"])
def test_a_wrong_credential_is_auth_rejected(
    call: Invoke, mode_env: MakeEnv, credential_stack: LocalCredentialStack, name: str
) -> None:
    result = call({}, mode_env(name, secret=wrong_secret(credential_stack, name)))

    assert result["ok"] is False, result
    assert result["error"]["type"] == "auth_rejected", result["error"]
    assert result["error"]["retryable"] is False


def test_a_wrong_client_secret_just_read_is_token_request_failed(
    call: Invoke, mode_env: MakeEnv, credential_stack: LocalCredentialStack
) -> None:
    name = "oauth2_client_credentials"

    result = call({}, mode_env(name, secret=wrong_secret(credential_stack, name)))

    assert result["error"]["type"] == "token_request_failed", result
    assert result["error"]["retryable"] is False
    assert "invalid_client" in result["error"]["message"]
    # Read just now: reading it again could not help.
    assert credential_stack.token_endpoint.requests == 1


def test_sigv4_signs_and_sends_a_query_with_reserved_characters_in_one_canonical_form(
    call: Invoke, mode_env: MakeEnv, credential_stack: LocalCredentialStack
) -> None:
    uri = credential_stack.uri("sigv4") + "?symbols=BTC,ETH&since=2024-01-01T00:00:00Z"

    result = call({}, mode_env("sigv4", WEBSOCKET_URI=uri))

    assert result["ok"] is True, result
    assert credential_stack.sigv4.paths == ["/v1?since=2024-01-01T00%3A00%3A00Z&symbols=BTC%2CETH"]


def test_a_key_in_a_sigv4_uris_query_stays_out_of_debug_logs_in_its_canonical_form(
    mode_env: MakeEnv, credential_stack: LocalCredentialStack, secrets_manager: LocalSecretsManager
) -> None:
    # Re-encoded for signing, the value is sent as qs%3Akey%2FZk93hQ: a form the
    # configuration never wrote.
    uri = credential_stack.uri("sigv4") + "?api_key=qs:key/Zk93hQ&v=2"
    variables = {**mode_env("sigv4", WEBSOCKET_URI=uri), **credential_stack.aws_environment}
    debug = {"LOG_LEVEL": "DEBUG", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"}

    results, output = run_child(
        [({}, {**variables, **debug})],
        secrets_manager,
        root_debug=True,
        **credential_stack.aws_environment,
    )

    assert results[0]["ok"] is True, results
    assert credential_stack.sigv4.paths == ["/v1?api_key=qs%3Akey%2FZk93hQ&v=2"]
    assert "GET /v1?api_key=[redacted]" in output, "the request line is logged, scrubbed"
    for form in ("qs%3Akey%2FZk93hQ", "qs:key/Zk93hQ"):
        assert form not in output
        assert form not in json.dumps(results)


def test_a_query_token_may_hold_any_character(
    call: Invoke,
    mode_env: MakeEnv,
    credential_stack: LocalCredentialStack,
) -> None:
    token = "k3y with spaces&=;,+/%\u00e9\u2615"
    credential_stack.query.key = token

    result = call({}, mode_env("query", secret=json.dumps({"token": token})))

    assert result["ok"] is True, result
    assert token not in json.dumps(result, ensure_ascii=False)


def test_sigv4_with_credentials_the_api_does_not_know_is_auth_rejected(
    spec: Any, mode_env: MakeEnv, credential_stack: LocalCredentialStack
) -> None:
    impostor = {**credential_stack.aws_environment, "AWS_SECRET_ACCESS_KEY": "not-the-key"}

    with environment(impostor):
        result = invoke(spec, {}, mode_env("sigv4"))

    assert result["error"]["type"] == "auth_rejected", result


@pytest.mark.parametrize("name", SECRET_MODES)
def test_a_rotated_secret_is_read_again_after_a_rejection(
    call: Invoke,
    mode_env: MakeEnv,
    credential_stack: LocalCredentialStack,
    secrets_manager: LocalSecretsManager,
    name: str,
) -> None:
    variables = mode_env(name)
    assert call({}, variables)["ok"] is True  # the secret is now cached
    secrets_manager.put_secret(variables["TOKEN_SECRET_ID"], credential_stack.rotate(name))
    if name == "oauth2_client_credentials":
        credential_stack.token_endpoint.revoke()  # the cached access token stops working

    result = call({}, variables)

    assert result["ok"] is True, result
    assert result["attempts"] == 2


def test_an_expired_access_token_is_requested_again(
    call: Invoke, mode_env: MakeEnv, credential_stack: LocalCredentialStack
) -> None:
    variables = mode_env("oauth2_client_credentials")
    assert call({}, variables)["ok"] is True
    credential_stack.token_endpoint.expire()

    result = call({}, variables)

    assert result["ok"] is True, result
    assert credential_stack.token_endpoint.requests == 2


@pytest.mark.parametrize(
    ("fault", "retryable"),
    [
        (Fault.STATUS_500, True),
        (Fault.STATUS_503, True),
        (Fault.NOT_JSON, False),
        (Fault.NO_ACCESS_TOKEN, False),
        (Fault.HANG, True),
    ],
)
def test_token_endpoint_faults_are_token_request_failed(
    spec: Any,
    mode_env: MakeEnv,
    credential_stack: LocalCredentialStack,
    fault: Fault,
    retryable: bool,
) -> None:
    credential_stack.token_endpoint.fault = fault
    short = type(spec)(**{**spec.__dict__, "timeout": 2})

    with environment(credential_stack.aws_environment):
        result = invoke(short, {}, mode_env("oauth2_client_credentials"))

    assert result["error"]["type"] == "token_request_failed", result
    assert result["error"]["retryable"] is retryable
    assert credential_stack.oauth2.handshakes == []


@pytest.mark.parametrize(
    ("says", "requests"),
    [
        # More than a day, or not a number: reused for the secret window.
        (10**400, 1),
        ("forever", 1),
        (86_401, 1),
        # 0 or less: used for this invocation only, asked for again by the next.
        (0, 2),
        (-60, 2),
        ("0", 2),
    ],
    ids=["10^400", "string", "over-a-day", "zero", "negative", "zero-string"],
)
def test_an_odd_expires_in_never_breaks_the_invocation(
    call: Invoke,
    mode_env: MakeEnv,
    credential_stack: LocalCredentialStack,
    says: Any,
    requests: int,
) -> None:
    credential_stack.token_endpoint.answer_expires_in = says
    variables = mode_env("oauth2_client_credentials")

    results = [call({}, variables), call({}, variables)]

    assert [result["ok"] for result in results] == [True, True], results
    assert [result["attempts"] for result in results] == [1, 1]
    assert credential_stack.token_endpoint.requests == requests


@pytest.mark.parametrize("fault", [Fault.STATUS_429, Fault.STATUS_503])
@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_a_retry_after_that_fits_is_honoured_once(
    call: Invoke,
    mode_env: MakeEnv,
    credential_stack: LocalCredentialStack,
    fault: Fault,
    form: str,
) -> None:
    endpoint = credential_stack.token_endpoint
    endpoint.fault, endpoint.fault_times = fault, 1
    # An HTTP date has a one-second resolution: one second from now is 0 to 1 s away.
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=1)
    endpoint.retry_after = "1" if form == "seconds" else format_datetime(soon, usegmt=True)

    result = call({}, mode_env("oauth2_client_credentials"))

    assert result["ok"] is True, result
    assert endpoint.requests == 2


@pytest.mark.parametrize("fault", [Fault.STATUS_429, Fault.STATUS_503])
def test_a_retry_after_past_the_deadline_is_retryable_and_not_waited_for(
    call: Invoke, mode_env: MakeEnv, credential_stack: LocalCredentialStack, fault: Fault
) -> None:
    endpoint = credential_stack.token_endpoint
    endpoint.fault, endpoint.retry_after = fault, "3600"

    result = call({}, mode_env("oauth2_client_credentials"))

    assert result["error"]["type"] == "token_request_failed", result
    assert result["error"]["retryable"] is True
    assert "3600 s" in result["error"]["message"]
    assert endpoint.requests == 1


def test_a_rate_limit_without_retry_after_is_retryable(
    call: Invoke, mode_env: MakeEnv, credential_stack: LocalCredentialStack
) -> None:
    credential_stack.token_endpoint.fault = Fault.STATUS_429

    result = call({}, mode_env("oauth2_client_credentials"))

    assert result["error"]["type"] == "token_request_failed", result
    assert result["error"]["retryable"] is True
    assert "429" in result["error"]["message"]
    assert credential_stack.token_endpoint.requests == 1


def test_an_unknown_scope_is_an_rfc_6749_error_not_retryable(
    call: Invoke, mode_env: MakeEnv, credential_stack: LocalCredentialStack
) -> None:
    credential_stack.token_endpoint.allowed_scopes = frozenset({"read"})

    result = call({}, mode_env("oauth2_client_credentials", OAUTH2_SCOPE="admin"))

    assert result["error"]["type"] == "token_request_failed", result
    assert result["error"]["retryable"] is False
    assert "invalid_scope" in result["error"]["message"]


# --- message mode --------------------------------------------------------------------


def test_an_authentication_reply_larger_than_max_message_bytes_is_message_too_large(
    call: Invoke, mode_env: MakeEnv, credential_stack: LocalCredentialStack
) -> None:
    credential_stack.message.oversized_reply = 3 * 1024 * 1024

    result = call({}, mode_env("message"))

    assert result["ok"] is False, result
    assert result["error"]["type"] == "message_too_large", result["error"]
    assert "MAX_MESSAGE_BYTES" in result["error"]["message"]
    assert credential_stack.message.auth_outcomes == [True]


# --- mutual TLS ---------------------------------------------------------------------


@pytest.fixture
def mtls_env(
    mode_env: MakeEnv, credential_stack: LocalCredentialStack, secrets_manager: LocalSecretsManager
) -> MakeEnv:
    def make(certificate_secret: str) -> dict[str, str]:
        cert_id = secrets_manager.put_secret(f"test/cert-{uuid.uuid4()}", certificate_secret)
        return mode_env("mtls", CLIENT_CERT_SECRET_ID=cert_id)

    return make


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain-key", "encrypted-key"])
def test_mutual_tls_with_the_right_certificate_succeeds(
    call: Invoke, mtls_env: MakeEnv, credential_stack: LocalCredentialStack, encrypted: bool
) -> None:
    variables = mtls_env(credential_stack.client_certificate_secret(encrypted=encrypted))

    result = call({"message": {"action": "ping"}}, variables)

    assert result["ok"] is True, result
    assert result["endpoint"].startswith("wss://")


def test_mutual_tls_with_an_untrusted_certificate_is_handshake_failed(
    call: Invoke, mtls_env: MakeEnv, credential_stack: LocalCredentialStack
) -> None:
    variables = mtls_env(credential_stack.client_certificate_secret(trusted=False))

    result = call({}, {**variables, "MAX_ATTEMPTS": "1"})

    assert result["error"]["type"] == "handshake_failed", result


@pytest.mark.parametrize(
    "secret", ['{"certificate": "x"}', '{"certificate": "nope", "private_key": "nope"}', "[]"]
)
def test_a_malformed_certificate_secret_is_secret_invalid(
    call: Invoke, mtls_env: MakeEnv, secret: str
) -> None:
    result = call({}, mtls_env(secret))

    assert result["error"]["type"] == "secret_invalid", result


# --- nothing secret at DEBUG --------------------------------------------------------


def credential_forms(stack: LocalCredentialStack, name: str) -> list[str]:
    secret = stack.secret(name)
    forms = list(json.loads(secret).values()) if secret else []
    forms = [value for value in forms if isinstance(value, str) and len(value) > 8]
    forms += list(stack.token_endpoint.issued)
    if name == "sigv4":
        aws = stack.aws_environment
        forms += [aws["AWS_SECRET_ACCESS_KEY"], aws.get("AWS_SESSION_TOKEN", "")]
    return [form for form in forms if form]


@pytest.mark.parametrize("name", MODES)
def test_no_credential_reaches_debug_output_or_the_result(
    mode_env: MakeEnv,
    credential_stack: LocalCredentialStack,
    secrets_manager: LocalSecretsManager,
    name: str,
) -> None:
    variables = {**mode_env(name), **credential_stack.aws_environment}
    debug = {"LOG_LEVEL": "DEBUG", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"}
    echo = {"message": {"action": "echo", "note": "the server echoes this"}}

    results, output = run_child(
        [({"message": {"action": "ping"}}, {**variables, **debug}), (echo, {**variables, **debug})],
        secrets_manager,
        root_debug=True,
        **credential_stack.aws_environment,
    )

    assert [r["ok"] for r in results] == [True, True], results
    assert '"level":"DEBUG"' in output or "DEBUG:" in output
    for form in credential_forms(credential_stack, name):
        assert form not in output, f"a credential of {name} reached the logs"
        assert form not in json.dumps(results)
