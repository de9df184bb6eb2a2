"""Shared pieces of the property tests: the local stack, the invariants, the strategies.

The fixtures are the integration suite's (moto's Secrets Manager over HTTP and the
authenticated websockets server on 127.0.0.1), re-exported here so that pytest finds
them for this folder too. The invariants are the function's promises that hold for
every invocation, whatever the event, the configuration or the server:
a typed result (or, with FAIL_ON_ERROR, an exception naming the type), before the
deadline, strict JSON within Lambda's 6 MB response limit, no credential in it.
"""

from __future__ import annotations

import json
import re
import socket
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from local_stack.aws.secrets_manager import LocalSecretsManager
from local_stack.runtime.invoker import EVENTS, FunctionSpec, apply_env_vars, invoke, read_json
from local_stack.servers.websocket_server import LocalWebSocketServer
from tests.integration.conftest import secrets_manager, spec, token, ws_server
from ws_exchange import service
from ws_exchange.errors import ExchangeError

__all__ = ["secrets_manager", "spec", "token", "ws_server"]

# Bounded by examples, never by the clock: a loaded machine must not turn a slow
# example into a failure. derandomize: the same examples on every run.
PROPERTY_SETTINGS = settings(
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# docs/invocations.md's table, written out rather than read from the code under test.
DOCUMENTED_STATUS = {
    "invalid_request": 400,
    "config_error": 500,
    "secret_not_found": 500,
    "secret_access_denied": 500,
    "secret_invalid": 500,
    "internal_error": 500,
    "auth_rejected": 502,
    "token_request_failed": 502,
    "handshake_failed": 502,
    "connect_failed": 502,
    "connection_closed": 502,
    "message_too_large": 502,
    "expectation_failed": 502,
    "connect_timeout": 504,
    "reply_timeout": 504,
}
RESULT_FIELDS = {
    "ok",
    "endpoint",
    "subprotocol",
    "sent",
    "received",
    "checks",
    "attempts",
    "connection",
    "timings_ms",
    "error",
    "request_id",
}
# Lambda's synchronous response limit.
RESPONSE_LIMIT_BYTES = 6_000_000


@dataclass(frozen=True)
class Outcome:
    """One invocation seen from outside: the answer (or the exception) and its time."""

    answer: Any
    raised: ExchangeError | None
    seconds: float

    @property
    def result(self) -> dict[str, Any]:
        """The structured result: the answer, the API body decoded, or the raised error's."""
        if self.raised is not None:
            return {"ok": False, "error": self.raised.as_dict()}
        if isinstance(self.answer, dict) and "statusCode" in self.answer:
            decoded: dict[str, Any] = json.loads(self.answer["body"])
            return decoded
        assert isinstance(self.answer, dict), self.answer
        return self.answer

    @property
    def error_type(self) -> str | None:
        error = self.result["error"]
        return None if error is None else str(error["type"])


def timed(spec: FunctionSpec, seconds: int) -> FunctionSpec:
    """``spec`` with a shorter Lambda timeout (the invoker's real deadline)."""
    return type(spec)(**{**spec.__dict__, "timeout": seconds})


def call(spec: FunctionSpec, event: Any, variables: Mapping[str, str]) -> Outcome:
    """Invoke the real handler; an ExchangeError raised (FAIL_ON_ERROR) is kept, not
    propagated, and anything else raised fails the test."""
    started = time.monotonic()
    try:
        answer = invoke(spec, event, variables)
    except ExchangeError as exc:
        return Outcome(None, exc, time.monotonic() - started)
    return Outcome(answer, None, time.monotonic() - started)


def strict_json(answer: Any) -> str:
    """The answer as the Lambda runtime sends it: fails on NaN, Infinity, lone surrogates."""
    text = json.dumps(answer, allow_nan=False)
    json.dumps(answer, ensure_ascii=False, allow_nan=False).encode("utf-8")
    return text


_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)


def shows_token(value: Any, secret: str) -> bool:
    """Whether a reader of ``value`` can read ``secret`` in it: literally, or spelled
    with JSON ``\\uXXXX`` escapes inside a string kept as text."""
    for text in strings(value):
        if secret in text or secret in _UNICODE_ESCAPE.sub(lambda m: chr(int(m[1], 16)), text):
            return True
    return False


def check_invariants(
    outcome: Outcome,
    *,
    spec: FunctionSpec,
    secret: str,
    api: bool,
    fail_on_error: bool | None,
) -> dict[str, Any]:
    """Assert every promise that holds for any invocation; return the result.

    ``fail_on_error``: whether FAIL_ON_ERROR is on (None: a value whose reading is the
    implementation's choice, so either behaviour passes).
    """
    assert outcome.seconds < spec.timeout, f"answered after {outcome.seconds:.2f} s"
    if outcome.raised is not None:
        exc = outcome.raised
        # Only the opt-in raises, only for direct and scheduled invocations, only on failure.
        assert fail_on_error is not False and not api, f"raised without FAIL_ON_ERROR: {exc!r}"
        assert exc.type in DOCUMENTED_STATUS, exc.type
        assert str(exc).startswith(exc.type), str(exc)
        assert secret not in str(exc) and secret not in repr(exc)
        return outcome.result
    answer = outcome.answer
    text = strict_json(answer)
    assert len(json.dumps(answer, ensure_ascii=False).encode("utf-8")) <= RESPONSE_LIMIT_BYTES
    assert secret not in text
    assert secret not in json.dumps(answer, ensure_ascii=False)
    if api:
        assert set(answer) == {"statusCode", "headers", "body"}, answer
        assert answer["headers"] == {"Content-Type": "application/json"}
        assert isinstance(answer["body"], str)
        result = outcome.result
        expected = 200 if result["error"] is None else DOCUMENTED_STATUS[result["error"]["type"]]
        assert answer["statusCode"] == expected, (answer["statusCode"], result["error"])
    else:
        result = answer
    assert set(result) == RESULT_FIELDS, result
    assert secret not in json.dumps(result, ensure_ascii=False)
    assert not shows_token(result, secret), "the token, spelled with escapes, is in the result"
    assert isinstance(result["ok"], bool)
    if result["ok"]:
        assert result["error"] is None
    else:
        error = result["error"]
        assert set(error) == {"type", "message", "retryable"}, error
        assert error["type"] in DOCUMENTED_STATUS, error
        assert isinstance(error["message"], str) and error["message"], error
        assert isinstance(error["retryable"], bool)
        # FAIL_ON_ERROR raises for direct and scheduled invocations; a failed
        # result returned then would be the opt-in ignored.
        assert api or fail_on_error is not True, "FAIL_ON_ERROR=true returned a failed result"
    return result


# --- the stack ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stores() -> Iterator[None]:
    """The property tests' own secret stores: what they do to the execution
    environment's cache neither leaks into other tests nor depends on them."""
    saved = service._stores
    service._stores = {}
    try:
        yield
    finally:
        service._stores = saved


@pytest.fixture(scope="module")
def module_secret(secrets_manager: LocalSecretsManager, token: str) -> str:
    """A secret of the module's own holding the session token."""
    return secrets_manager.put_secret(f"property/{uuid.uuid4()}", json.dumps({"token": token}))


@pytest.fixture(scope="module")
def base_env(
    spec: FunctionSpec, ws_server: LocalWebSocketServer, module_secret: str, stores: None
) -> dict[str, str]:
    """A valid environment pointing at the local server, with short waits."""
    variables = apply_env_vars(spec, read_json(EVENTS / "env.json"))
    variables.update(
        WEBSOCKET_URI=ws_server.uri + "/v1",
        TOKEN_SECRET_ID=module_secret,
        ALLOW_INSECURE_WEBSOCKET="true",
        REPLY_TIMEOUT_SECONDS="0.2",
        OPEN_TIMEOUT_SECONDS="1",
        FAIL_ON_ERROR="false",
    )
    return variables


@pytest.fixture(scope="module")
def accepting(ws_server: LocalWebSocketServer, token: str) -> LocalWebSocketServer:
    """The shared server, accepting the session token (another test may have changed it)."""
    ws_server.token = token
    ws_server.scheme = "Bearer"
    ws_server.redirect_to = None
    return ws_server


_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}  # noqa: S104 - compared, not bound


@contextmanager
def loopback_only() -> Iterator[None]:
    """Name resolution that answers for loopback only: generated host names must
    never reach a real resolver (tests contact no network)."""
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
        if name.strip("[]").lower() not in _LOOPBACK and not name.startswith("127."):
            raise socket.gaierror(socket.EAI_NONAME, "loopback only in the property tests")
        return real(host, *args, **kwargs)

    socket.getaddrinfo = resolve
    try:
        yield
    finally:
        socket.getaddrinfo = real


# --- strategies -----------------------------------------------------------------------

SURROGATES = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])
# Any code point, lone surrogates included.
CHARACTERS = st.one_of(st.characters(), SURROGATES)
TEXT = st.text(CHARACTERS, max_size=20)
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([10**400, -(10**400), 2**63, -(2**63) - 1]),
    st.floats(),  # nan, inf, -inf, -0.0, subnormals, 1e308
    st.sampled_from([float("nan"), float("inf"), float("-inf"), -0.0, 1e308]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSONISH = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(TEXT, children, max_size=4),
    ),
    max_leaves=12,
)
