"""The scenario events in events/scenarios/ fit the scenario server: each is
checked statically (step shapes, expressions, placeholders, its env-vars file),
then played step by step against the server by a small player written here from
the step syntax, so an event that no longer matches the server's paths or replies
fails now, before the function can run steps."""

from __future__ import annotations

import datetime
import json
import math
import re
import ssl
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import jmespath
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from local_stack.runtime.invoker import EVENTS
from local_stack.servers.scenario import PATHS, ScenarioServer, tls_scenario_server

SCENARIOS = EVENTS / "scenarios"
NAMES = sorted(p.stem for p in SCENARIOS.glob("*.json") if not p.name.startswith("env"))
ACTIONS = {"send", "receive", "collect", "await_close", "ping", "expect", "sleep"}
BUILT_INS = {"uuid", "timestamp", "epoch_ms", "request_id"}
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
PLACEHOLDER = re.compile(r"\{\{(" + NAME.pattern + r")\}\}")
ESCAPE = re.compile(r"(\{\{\{\{|\}\}\}\})")
REQUEST_ID = "scenario-events-test"


def scenario(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((SCENARIOS / f"{name}.json").read_text())
    return event


def environment(name: str) -> dict[str, str]:
    variables: dict[str, str] = json.loads((SCENARIOS / f"env-{name}.json").read_text())[
        "ExchangeFunction"
    ]
    return variables


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys excluded."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)


def placeholders(value: Any) -> set[str]:
    return {
        name
        for text in strings(value)
        for piece in ESCAPE.split(text)
        if not ESCAPE.fullmatch(piece)
        for name in PLACEHOLDER.findall(piece)
    }


def expressions(event: dict[str, Any]) -> list[str]:
    found = list(event.get("expect", []))
    for step in event["steps"]:
        if "expect" in step:
            found.append(step["expect"])
        if isinstance(step.get("receive"), dict) and "until" in step["receive"]:
            found.append(step["receive"]["until"])
        found.extend(step.get("extract", {}).values())
    return found


# --- static: what the function's validation will demand ---------------------------


def test_there_is_one_scenario_per_server_behaviour() -> None:
    assert NAMES == ["cert", "close", "echo", "login"]
    assert sorted(p.name for p in SCENARIOS.glob("env-*.json")) == [
        f"env-{name}.json" for name in NAMES
    ]


@pytest.mark.parametrize("name", NAMES)
def test_every_step_has_exactly_one_known_action(name: str) -> None:
    event = scenario(name)

    assert set(event) <= {"steps", "expect", "reply_timeout_seconds"}
    assert 1 <= len(event["steps"]) <= 1000
    for step in event["steps"]:
        actions = set(step) & ACTIONS
        assert len(actions) == 1, step
        assert set(step) - actions <= ({"extract"} if "receive" in actions else set()), step
        receive = step.get("receive")
        if receive is not None:
            assert ("count" in receive) != ("until" in receive), step
            assert set(receive) <= {"count", "until", "max_replies", "timeout_seconds"}, step
            assert 1 <= receive.get("count", 1) <= 1000
            assert 1 <= receive.get("max_replies", 100) <= 1000
        assert all(NAME.fullmatch(variable) for variable in step.get("extract", {}))


@pytest.mark.parametrize("name", NAMES)
def test_every_expression_compiles(name: str) -> None:
    for expression in expressions(scenario(name)):
        assert len(expression) <= 1000
        jmespath.compile(expression)


@pytest.mark.parametrize("name", NAMES)
def test_every_placeholder_names_a_built_in_or_an_earlier_extract(name: str) -> None:
    known = set(BUILT_INS)
    for step in scenario(name)["steps"]:
        assert placeholders(step.get("send")) <= known, step
        known |= set(step.get("extract", {}))


@pytest.mark.parametrize("name", NAMES)
def test_the_env_file_points_at_a_scenario_server_path(name: str) -> None:
    variables = environment(name)
    uri = urlsplit(variables["WEBSOCKET_URI"])

    assert uri.hostname == "127.0.0.1"
    assert uri.path in PATHS
    assert variables["AUTH_MODE"] == "none"  # the scenario server runs without a token
    if uri.scheme == "ws":
        assert variables["ALLOW_INSECURE_WEBSOCKET"] == "true"
    else:
        # The stack's CA is trusted as the machine's (SSL_CERT_FILE), never from src/.
        assert uri.scheme == "wss" and "CA_BUNDLE" not in variables


# --- played against the server --------------------------------------------------------


def truthy(value: Any) -> bool:
    """JMESPath's truthiness: false, null and empty strings, lists and objects are
    false; every number, 0 included, is true."""
    if value is None or value is False:
        return False
    if isinstance(value, str | list | dict):
        return len(value) > 0
    return True


def built_in(name: str) -> Any:
    now = datetime.datetime.now(datetime.UTC)
    return {
        "uuid": str(uuid.uuid4()),
        "timestamp": now.isoformat(),
        "epoch_ms": int(now.timestamp() * 1000),
        "request_id": REQUEST_ID,
    }[name]


def substitute(value: Any, variables: dict[str, Any]) -> Any:
    def lookup(name: str) -> Any:
        return variables[name] if name in variables else built_in(name)

    def text(found: Any) -> str:
        return found if isinstance(found, str) else json.dumps(found, separators=(",", ":"))

    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, variables) for key, item in value.items()}
    if not isinstance(value, str):
        return value
    if whole := PLACEHOLDER.fullmatch(value):
        return lookup(whole[1])
    return "".join(
        piece[:2]
        if ESCAPE.fullmatch(piece)
        else PLACEHOLDER.sub(lambda match: text(lookup(match[1])), piece)
        for piece in ESCAPE.split(value)
    )


def decode(frame: str | bytes) -> Any:
    try:
        return json.loads(frame)
    except ValueError:
        return frame


class Player:
    """Runs one scenario's steps over one connection, keeping the document its
    expressions see."""

    def __init__(self, connection: ClientConnection, reply_timeout: float) -> None:
        self.connection = connection
        self.reply_timeout = reply_timeout
        self.document: dict[str, Any] = {
            "sent": [],
            "received": [],
            "subprotocol": connection.subprotocol,
            "timings_ms": {},
            "connection": {"tls": tls_of(connection), "close": None},
            "vars": {},
        }

    def reply(self, timeout: float | None = None) -> Any:
        message = decode(self.connection.recv(timeout=timeout or self.reply_timeout))
        self.document["received"].append(message)
        return message

    def expect(self, expression: str) -> None:
        assert truthy(jmespath.search(expression, self.document)), expression

    def step(self, step: dict[str, Any]) -> None:
        (action,) = set(step) & ACTIONS
        argument = step[action]
        if action == "send":
            message = substitute(argument, self.document["vars"])
            if isinstance(message, dict) and "timestamp" not in message:
                message = {**message, "timestamp": built_in("timestamp")}
            self.connection.send(message if isinstance(message, str) else json.dumps(message))
            self.document["sent"].append(message)
        elif action == "receive":
            timeout = argument.get("timeout_seconds")
            if "count" in argument:
                replies = [self.reply(timeout) for _ in range(argument["count"])]
            else:
                replies = []
                for _ in range(argument.get("max_replies", 100)):
                    replies.append(self.reply(timeout))
                    if truthy(jmespath.search(argument["until"], replies[-1])):
                        break
                else:
                    pytest.fail(f"no reply made {argument['until']!r} true")
            for variable, expression in step.get("extract", {}).items():
                value = jmespath.search(expression, replies[-1])
                assert value is not None, variable
                self.document["vars"][variable] = value
        elif action == "collect":
            deadline = time.monotonic() + argument
            while (left := deadline - time.monotonic()) > 0:
                try:
                    self.reply(left)
                except TimeoutError:
                    break
        elif action == "await_close":
            with pytest.raises(ConnectionClosed) as closed:
                self.reply(argument["timeout_seconds"])
            received = closed.value.rcvd
            assert received is not None
            self.document["connection"]["close"] = {
                "code": received.code,
                "reason": received.reason,
                "initiated_by": "server",
            }
        elif action == "ping":
            started = time.monotonic()
            assert self.connection.ping().wait(self.reply_timeout)
            self.document["timings_ms"]["ping"] = (time.monotonic() - started) * 1000
        elif action == "expect":
            self.expect(argument)
        else:
            time.sleep(argument)


def tls_of(connection: ClientConnection) -> dict[str, Any] | None:
    if not isinstance(connection.socket, ssl.SSLSocket):
        return None
    certificate = connection.socket.getpeercert()
    assert certificate
    seconds_left = ssl.cert_time_to_seconds(str(certificate["notAfter"])) - time.time()
    return {
        "version": connection.socket.version(),
        "certificate": {"days_left": math.floor(seconds_left / 86_400)},
    }


@contextmanager
def server_for(name: str) -> Iterator[tuple[str, ssl.SSLContext | None]]:
    """A started scenario server and the URI and TLS context the event's env file
    means, its port replaced by the server's."""
    uri = urlsplit(environment(name)["WEBSOCKET_URI"])
    secure = uri.scheme == "wss"
    with tls_scenario_server() if secure else ScenarioServer() as server:
        context = None
        if secure:
            assert server.pki is not None
            context = ssl.create_default_context(cadata=server.pki.ca_pem)
        yield server.uri + uri.path + (f"?{uri.query}" if uri.query else ""), context


def play(name: str, event: dict[str, Any] | None = None) -> dict[str, Any]:
    event = event or scenario(name)
    with server_for(name) as (uri, context), connect(uri, ssl=context) as connection:
        player = Player(connection, event.get("reply_timeout_seconds", 10))
        for step in event["steps"]:
            player.step(step)
        for expression in event.get("expect", []):
            player.expect(expression)
    return player.document


@pytest.mark.parametrize("name", NAMES)
def test_the_scenario_plays_through_against_the_server(name: str) -> None:
    document = play(name)

    assert document["sent"]
    assert document["received"]


def test_a_scenario_that_no_longer_matches_the_server_fails_to_play() -> None:
    event = scenario("login")
    event["steps"][4] = {"expect": "received[-1].message == 'no such session'"}

    with pytest.raises(AssertionError, match="no such session"):
        play("login", event)


def test_placeholders_keep_their_type_whole_and_become_text_inside_a_string() -> None:
    variables = {"n": 7, "s": "x"}

    assert substitute({"a": "{{n}}", "b": ["{{s}}-{{n}}"]}, variables) == {"a": 7, "b": ["x-7"]}
    assert substitute("{{{{n}}}} {{n}}", variables) == "{{n}} 7"
    assert substitute("{{request_id}}", {}) == REQUEST_ID
