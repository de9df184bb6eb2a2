"""Property: whatever the deployer configures, the handler answers with a typed result.

Hypothesis varies the documented variables: the credential mode and every
mode setting, HANDSHAKE_HEADERS, SUBPROTOCOLS, the limits and timeouts,
DEFAULT_MESSAGE, DEFAULT_EXPECT and WEBSOCKET_URI built from odd schemes, userinfo,
hosts (IDNA, over-long labels, IPv6), ports and paths, starting from a valid
environment pointing at the local server. Every invocation answers in time with a
typed, strict, token-free result; a ``config_error`` names a variable, says nothing
secret, and comes before any I/O (no handshake, no Secrets Manager call).

Host names other than loopback are answered "unknown" by a patched resolver, so no
generated name ever reaches the network.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import event as label
from hypothesis import given, settings
from hypothesis import strategies as st

from local_stack.aws.secrets_manager import LocalSecretsManager
from local_stack.runtime.invoker import FunctionSpec
from local_stack.servers.hostile_servers import free_port
from local_stack.servers.websocket_server import LocalWebSocketServer

from .conftest import (
    PROPERTY_SETTINGS,
    Outcome,
    call,
    check_invariants,
    loopback_only,
    timed,
)

TIMEOUT_SECONDS = 2
# The token's place in generated values is marked with this, replaced per example.
TOKEN = "{token}"

# What os.environ can hold: no NUL, no lone surrogate (Lambda's variables are UTF-8).
ENV_TEXT = st.text(
    st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=30
)
MODES = [
    "bearer",
    "header",
    "basic",
    "query",
    "subprotocol",
    "oauth2_client_credentials",
    "sigv4",
    "message",
    "none",
]
BOOLEANS = st.sampled_from(["true", "false", "TRUE", " yes ", "0", "", "maybe", "truee"])
NUMBERS = st.one_of(
    st.integers(min_value=-2, max_value=12).map(str),
    st.sampled_from(
        [
            "0",
            "1",
            "0.05",
            "0.2",
            "1e3",
            " 3 ",
            "-0",
            "nan",
            "inf",
            "-inf",
            "0x10",
            "\uff11",  # a digit int() reads, outside ASCII
            "",
            "5242880",
            "5242881",
            "6291456",
            "99999999999999999999",
            "1_000",
            "½",
        ]
    ),
    ENV_TEXT,
)
EXPRESSIONS = ["`true`", "`false`", "type == 'pong'", "foo[", "", "x" * 1001, "received[0]"]


def uris(port: int) -> st.SearchStrategy[str]:
    """WEBSOCKET_URI: valid ones to the local server, and every odd part in between."""
    schemes = st.sampled_from(["ws", "wss", "WS", "WSS", "Ws", "http", "https", "ftp", "", "ws:"])
    separators = st.sampled_from(["://", "://", ":/", ":", ":///"])
    userinfo = st.sampled_from(["", "", "user@", f"user:{TOKEN}@", ":@", "@", f"{TOKEN}@"])
    hosts = st.sampled_from(
        [
            "127.0.0.1",
            "127.0.0.1",
            "localhost",
            "[::1]",
            "[::1",
            "::1",
            "[fe80::1%25eth0]",
            "",
            "a" * 63 + ".example",
            "a" * 64 + ".example",
            ("a" * 63 + ".") * 4 + "example",
            "bücher.example",
            "xn--bcher-kva.example",
            "xn--.example",
            "-bad-.example",
            "a..b",
            ".",
            "256.1.1.1",
            "127.1",
            "ex ample",
            "%31%32%37.0.0.1",
            "ﬀ.example",
            "\u200d.example",
            "例え.テスト",
        ]
    )
    ports = st.sampled_from(
        [f":{port}", f":{port}", "", ":", ":0", ":65535", ":65536", ":-1", ":abc", f":{port}0"]
    )
    paths = st.sampled_from(
        [
            "/v1",
            "/v1",
            "",
            "/",
            f"/v1?access_token={TOKEN}",
            "/v1?a=1&b",
            "/v1#frag",
            "/ü",
            "/%zz",
            "/v1 x",
            "?",
            "/" + "p" * 5000,
        ]
    )
    built = st.builds(
        lambda *parts: "".join(parts), schemes, separators, userinfo, hosts, ports, paths
    )
    return st.one_of(built, ENV_TEXT)


def variables(
    port: int, closed_port: int, secret_id: str, endpoint: str
) -> dict[str, st.SearchStrategy[str]]:
    """A strategy of odd and ordinary values for each documented variable."""
    loopback_http = [f"http://127.0.0.1:{closed_port}/token", f"https://127.0.0.1:{closed_port}/t"]
    return {
        "WEBSOCKET_URI": uris(port),
        "AUTH_MODE": st.one_of(
            st.sampled_from(MODES),
            st.sampled_from(["BEARER", " none ", "kerberos", "", "oauth2"]),
            ENV_TEXT,
        ),
        "TOKEN_SECRET_ID": st.sampled_from(
            [secret_id, secret_id, "", "does/not/exist", "arn:aws:secretsmanager:::nope", " "]
        ),
        "TOKEN_SECRET_FIELD": st.one_of(st.sampled_from(["token", "", "nope", "0"]), ENV_TEXT),
        "AUTH_SCHEME": st.one_of(st.sampled_from(["Bearer", "Token", "", "Two words"]), ENV_TEXT),
        "AUTH_HEADER": st.one_of(
            st.sampled_from(["", "X-API-Key", "Authorization", "Bad Header", "Host"]), ENV_TEXT
        ),
        "AUTH_COOKIE": st.one_of(
            st.sampled_from(["", "session", "a=b", "two words", "a;b", "ü"]), ENV_TEXT
        ),
        "AUTH_QUERY_PARAM": st.one_of(
            st.sampled_from(["access_token", "key", "", "a&b", "=", "ü"]), ENV_TEXT
        ),
        "AUTH_SUBPROTOCOL_PREFIX": st.one_of(
            st.sampled_from(["", "base64url.bearer.authorization.k8s.io.", "bad prefix,"]),
            ENV_TEXT,
        ),
        "AUTH_SUBPROTOCOL_ENCODING": st.sampled_from(["raw", "base64url", "", "hex", "RAW"]),
        "OAUTH2_TOKEN_URL": st.one_of(
            st.sampled_from([*loopback_http, "", "ftp://127.0.0.1/x", "not a url", "http://"]),
            ENV_TEXT,
        ),
        "OAUTH2_SCOPE": st.one_of(st.sampled_from(["", "read write"]), ENV_TEXT),
        "OAUTH2_AUDIENCE": st.one_of(st.sampled_from(["", "https://api"]), ENV_TEXT),
        "OAUTH2_CLIENT_AUTH": st.sampled_from(
            ["client_secret_basic", "client_secret_post", "", "private_key_jwt"]
        ),
        "AUTH_MESSAGE": st.one_of(
            st.sampled_from(
                [
                    '{"type": "auth", "access_token": "{token}"}',
                    "",
                    "{",
                    '"{token}"',
                    "1e400",
                    "NaN",
                    '"\\ud800"',
                    "[" * 100 + "]" * 100,
                ]
            ),
            ENV_TEXT,
        ),
        "AUTH_SUCCESS": st.sampled_from(["", *EXPRESSIONS]),
        "AUTH_FAILURE": st.sampled_from(["", *EXPRESSIONS]),
        "SIGV4_SERVICE": st.sampled_from(["execute-api", "", "s3", "bad service"]),
        "SIGV4_REGION": st.sampled_from(["", "us-east-1", "nowhere", "x" * 100]),
        "CLIENT_CERT_SECRET_ID": st.sampled_from(["", "", secret_id, "does/not/exist"]),
        "HANDSHAKE_HEADERS": st.one_of(
            st.sampled_from(
                [
                    "{}",
                    "",
                    '{"Origin": "http://127.0.0.1"}',
                    '{"X-Tenant": "a", "x-tenant": "b"}',
                    '{"Authorization": "Bearer {token}"}',
                    '{"X-Key": "{token}"}',
                    '{"Host": "elsewhere"}',
                    '{"Sec-WebSocket-Key": "x"}',
                    '{"Bad Name": "v"}',
                    '{"X-A": "a\\r\\nInjected: 1"}',
                    '{"X-A": 1}',
                    '{"X-A": "\\ud800"}',
                    '{"X-Ü": "v"}',
                    "[]",
                    "nope",
                    "[" * 10000,
                ]
            ),
            st.dictionaries(ENV_TEXT, st.one_of(ENV_TEXT, st.integers()), max_size=3).map(
                json.dumps
            ),
            ENV_TEXT,
        ),
        "SUBPROTOCOLS": st.one_of(
            st.sampled_from(["", "chat", "a,b", " , ", "a,,b", "bad proto", "ü", "a;b"]), ENV_TEXT
        ),
        "OPEN_TIMEOUT_SECONDS": NUMBERS,
        "REPLY_TIMEOUT_SECONDS": NUMBERS,
        "EXPECTED_REPLIES": NUMBERS,
        "MAX_ATTEMPTS": NUMBERS,
        "SECRETS_SOURCE": st.sampled_from(["sdk", "sdk", "extension", "EXTENSION", "", "vault"]),
        "SECRET_MAX_AGE_SECONDS": NUMBERS,
        "DEFAULT_MESSAGE": st.one_of(
            st.sampled_from(
                [
                    '{"action": "ping"}',
                    "",
                    '{"n": 1e400}',
                    "NaN",
                    "-Infinity",
                    '"\\ud800"',
                    '{"\\udfff": 1}',
                    "[" * 65 + "]" * 65,
                    "[" * 100000,
                    "not json",
                    '"' + "a" * (1024 * 1024 + 1) + '"',
                    "1" * 5000,
                    '"{token}"',
                ]
            ),
            ENV_TEXT,
        ),
        "DEFAULT_EXPECT": st.one_of(
            st.sampled_from(["[]", "", "{}", "[1]", "x", '["foo["]', '["`true`"]']),
            st.lists(st.sampled_from(EXPRESSIONS), max_size=21).map(json.dumps),
        ),
        "ALLOW_INSECURE_WEBSOCKET": BOOLEANS,
        "MAX_MESSAGE_BYTES": NUMBERS,
        "MAX_RESULT_BYTES": NUMBERS,
        "FAIL_ON_ERROR": BOOLEANS,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": st.sampled_from(
            # Never unset or another reachable URL: the stores' client is made once.
            [endpoint, endpoint, "localhost:4566", "ftp://127.0.0.1", "http://", "http://[::1"]
        ),
    }


@pytest.fixture(scope="module")
def strategies(
    accepting: LocalWebSocketServer, module_secret: str, secrets_manager: LocalSecretsManager
) -> dict[str, st.SearchStrategy[str]]:
    port = int(accepting.uri.rsplit(":", 1)[1])
    return variables(port, free_port(), module_secret, secrets_manager.endpoint_url)


def changes(strategies: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[dict[str, str]]:
    """A few variables changed (most examples), or any number of them."""
    few = st.lists(st.sampled_from(sorted(strategies)), min_size=1, max_size=3, unique=True)
    return st.one_of(
        few.flatmap(lambda names: st.fixed_dictionaries({n: strategies[n] for n in names})),
        st.fixed_dictionaries({}, optional=strategies),
    )


def fail_on_error_reading(value: str | None) -> bool | None:
    """What FAIL_ON_ERROR means for the test: only "true" and "false" are pinned down."""
    if value is None or value.strip() == "false":
        return False
    return True if value.strip() == "true" else None


def names_a_variable(message: str, environment: dict[str, str]) -> bool:
    return any(name in message for name in environment)


@settings(PROPERTY_SETTINGS, max_examples=400)
@given(data=st.data())
def test_any_environment_gets_a_typed_answer_and_config_errors_name_a_variable_before_io(
    spec: FunctionSpec,
    base_env: dict[str, str],
    accepting: LocalWebSocketServer,
    secrets_manager: LocalSecretsManager,
    strategies: dict[str, st.SearchStrategy[str]],
    token: str,
    data: st.DataObject,
) -> None:
    changed = data.draw(changes(strategies), label="changed")
    outcome = run_environment(spec, base_env, accepting, secrets_manager, token, changed)
    label(outcome.error_type or "ok")


# Regressions named in the issue (once unhandled exceptions), pinned as examples.
@pytest.mark.parametrize(
    "changed",
    [
        {"WEBSOCKET_URI": "WSS://127.0.0.1:1/v1"},
        {"WEBSOCKET_URI": "wss://" + "a" * 64 + ".example.com/v1"},
        {"AWS_ENDPOINT_URL_SECRETS_MANAGER": "localhost:4566"},
        {"DEFAULT_MESSAGE": '{"n": 1e400}'},
        {"WEBSOCKET_URI": f"ws://user:{TOKEN}@127.0.0.1/v1"},
        {"HANDSHAKE_HEADERS": '{"Authorization": "Bearer {token}"}', "FAIL_ON_ERROR": "true"},
    ],
)
def test_named_operator_mistakes_keep_the_environment_invariants(
    spec: FunctionSpec,
    base_env: dict[str, str],
    accepting: LocalWebSocketServer,
    secrets_manager: LocalSecretsManager,
    token: str,
    changed: dict[str, str],
) -> None:
    run_environment(spec, base_env, accepting, secrets_manager, token, changed)


def run_environment(
    spec: FunctionSpec,
    base_env: dict[str, str],
    server: LocalWebSocketServer,
    secrets_manager: LocalSecretsManager,
    token: str,
    changed: dict[str, str],
) -> Outcome:
    short = timed(spec, TIMEOUT_SECONDS)
    environment = {**base_env, **{k: v.replace(TOKEN, token) for k, v in changed.items()}}
    handshakes = len(server.handshakes)
    secret_reads = secrets_manager.get_secret_value_calls

    with loopback_only():
        outcome = call(short, {}, environment)

    check_invariants(
        outcome,
        spec=short,
        secret=token,
        api=False,
        fail_on_error=fail_on_error_reading(environment.get("FAIL_ON_ERROR")),
    )
    if outcome.error_type == "config_error":
        message = outcome.result["error"]["message"]
        assert names_a_variable(message, environment), message
        assert token not in message
        assert len(server.handshakes) == handshakes, "a config_error connected"
        assert secrets_manager.get_secret_value_calls == secret_reads, "it read the secret"
    return outcome
