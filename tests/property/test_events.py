"""Property: whatever the event, the handler answers with a typed result in time.

Hypothesis generates arbitrary JSON-ish events (NaN, infinities, huge numbers, -0.0,
lone surrogates, any nesting of lists and objects) and mutations of the sample events
in events/ (scheduled events with odd ``detail``, API Gateway v1 and v2 events whose
body is of any type, odd ``isBase64Encoded`` values and ``requestContext`` shapes), and
runs each through the real handler with a valid environment pointing at the local
server. Every answer is a typed result (or an API proxy answer with the documented
status code), strict JSON, free of the token, and an invalid request does no I/O.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from hypothesis import event as label
from hypothesis import example, given, settings
from hypothesis import strategies as st

from local_stack.aws.secrets_manager import LocalSecretsManager
from local_stack.runtime.invoker import EVENTS, FunctionSpec, read_json
from local_stack.servers.websocket_server import LocalWebSocketServer

from .conftest import (
    JSONISH,
    NUMBERS,
    PROPERTY_SETTINGS,
    SCALARS,
    TEXT,
    call,
    check_invariants,
    timed,
)

# Long enough for an exchange with the local server, short enough that an
# example that waits for the deadline costs little.
TIMEOUT_SECONDS = 2

EXPRESSIONS = st.sampled_from(
    [
        "type == 'pong'",
        "type == 'echo'",
        "`true`",
        "`false`",
        "received[0].type",
        "length(received) > `0`",
        "foo[",
        "",
        "x" * 1001,
        "received[?",
    ]
)
# Wait lengths: mostly short, some that reach past the deadline, and invalid ones.
SECONDS = st.one_of(
    st.floats(min_value=0.01, max_value=0.2),
    st.sampled_from([0, -1, 0.0, -0.0, 5, 900, 901, 10**400, True, "0.1"]),
    NUMBERS,
)
COUNTS = st.one_of(st.integers(min_value=-1, max_value=3), st.sampled_from([100, 101]), SCALARS)

PAYLOAD_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "message": JSONISH,
    "messages": st.one_of(st.lists(JSONISH, max_size=4), JSONISH),
    "expected_replies": COUNTS,
    "reply_timeout_seconds": SECONDS,
    "until": st.one_of(EXPRESSIONS, SCALARS),
    "max_replies": COUNTS,
    "collect_seconds": SECONDS,
    "expect": st.one_of(st.lists(EXPRESSIONS, max_size=3), st.lists(TEXT, max_size=2), SCALARS),
}
PAYLOADS = st.one_of(
    st.fixed_dictionaries({}, optional=PAYLOAD_FIELDS),
    st.fixed_dictionaries({}, optional=PAYLOAD_FIELDS).flatmap(
        lambda payload: st.dictionaries(TEXT, JSONISH, max_size=2).map(
            lambda extra: {**extra, **payload}
        )
    ),
)


def sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = read_json(EVENTS / name)
    return event


def json_text(value: Any) -> str:
    """``value`` as a request body (NaN and lone surrogates included, as a client may)."""
    return json.dumps(value)


BODIES = st.one_of(
    PAYLOADS.map(json_text),
    PAYLOADS.map(lambda payload: base64.b64encode(json_text(payload).encode()).decode()),
    JSONISH,
    TEXT,
    st.sampled_from(["", " ", "null", "[]", "{}", "\ud800", "e30=", "!!!not base64", "NaN"]),
)
BASE64_FLAGS = st.one_of(st.booleans(), st.sampled_from(["true", "false", 1, 0, None]), SCALARS)


def mutated_api(name: str) -> st.SearchStrategy[dict[str, Any]]:
    """The sample API event with its body, flag, request context and method varied."""

    def build(body: Any, flag: Any, context: Any, method: Any, drop: list[str]) -> dict[str, Any]:
        event = copy.deepcopy(sample(name))
        event["body"] = body
        event["isBase64Encoded"] = flag
        if context is not None:
            event["requestContext"] = context
        if method is not None and "httpMethod" in event:
            event["httpMethod"] = method
        for key in drop:
            event.pop(key, None)
        return event

    contexts = st.one_of(
        st.none(),
        st.just({}),
        st.fixed_dictionaries({"requestId": JSONISH}),
        st.dictionaries(TEXT, JSONISH, max_size=3),
    )
    return st.builds(
        build,
        BODIES,
        BASE64_FLAGS,
        contexts,
        st.one_of(st.none(), st.sampled_from(["GET", "", "DELETE"]), SCALARS),
        st.lists(st.sampled_from(["body", "isBase64Encoded", "headers"]), max_size=2),
    )


def mutated_schedule() -> st.SearchStrategy[dict[str, Any]]:
    """The sample scheduled event with any ``detail`` (a payload, or anything at all)."""

    def build(detail: Any, drop_detail: bool) -> dict[str, Any]:
        event = sample("scheduled.json")
        if drop_detail:
            del event["detail"]
        else:
            event["detail"] = detail
        return event

    return st.builds(build, st.one_of(PAYLOADS, JSONISH), st.booleans())


EVENTS_STRATEGY = st.one_of(
    JSONISH,
    PAYLOADS,
    mutated_schedule(),
    mutated_api("api-http.json"),
    mutated_api("api-rest.json"),
    mutated_api("monitor-api.json"),
)


def is_api(event: Any) -> bool:
    """Whether ``event`` is an API Gateway event, as docs/invocations.md says."""
    return (
        isinstance(event, dict)
        and isinstance(event.get("requestContext"), dict)
        and (event.get("version") == "2.0" or "httpMethod" in event)
    )


# Cheap examples (most never leave the process): many of them.
@settings(PROPERTY_SETTINGS, max_examples=300)
@given(event=EVENTS_STRATEGY, fail_on_error=st.booleans())
# A body that is a JSON object, not a string (once an unhandled exception).
@example(event={**sample("api-http.json"), "body": {"message": "x"}}, fail_on_error=False)
@example(
    event={**sample("api-rest.json"), "body": 42, "isBase64Encoded": False}, fail_on_error=True
)
@example(event={"message": "\ud800"}, fail_on_error=False)
@example(event={"message": {"n": float("nan")}}, fail_on_error=True)
@example(event={"message": 10**400}, fail_on_error=False)
@example(event={**sample("scheduled.json"), "detail": {"message": "\udfff"}}, fail_on_error=True)
@example(event=[1, 2], fail_on_error=False)
@example(event="\ud800", fail_on_error=True)
@example(
    event={**sample("api-http.json"), "requestContext": {"requestId": float("nan")}},
    fail_on_error=False,
)
def test_any_event_gets_a_typed_strict_answer_in_time_and_invalid_ones_do_no_io(
    spec: FunctionSpec,
    base_env: dict[str, str],
    accepting: LocalWebSocketServer,
    secrets_manager: LocalSecretsManager,
    token: str,
    event: Any,
    fail_on_error: bool,
) -> None:
    short = timed(spec, TIMEOUT_SECONDS)
    handshakes = len(accepting.handshakes)
    secret_reads = secrets_manager.get_secret_value_calls
    api = is_api(event)

    outcome = call(
        short, copy.deepcopy(event), {**base_env, "FAIL_ON_ERROR": str(fail_on_error).lower()}
    )

    result = check_invariants(
        outcome, spec=short, secret=token, api=api, fail_on_error=fail_on_error
    )
    label(f"{'api' if api else 'direct'}: {outcome.error_type or 'ok'}")
    if outcome.error_type == "invalid_request":
        assert len(accepting.handshakes) == handshakes, "an invalid request connected"
        assert secrets_manager.get_secret_value_calls == secret_reads, "it read the secret"
        assert result.get("sent", []) == [] and result.get("received", []) == []
    if result["ok"]:
        assert len(accepting.handshakes) > handshakes
