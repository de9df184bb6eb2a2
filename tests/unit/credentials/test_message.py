"""message mode: the token in a first message, then the server's verdict."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.frames import Close

from ws_exchange.checks import compile_expression
from ws_exchange.credentials import Handshake, Prepared
from ws_exchange.credentials.message import (
    MAX_SKIPPED_REPLIES,
    Message,
    auth_text,
    closed_error,
    judge,
    replace_token,
)
from ws_exchange.errors import AuthRejected, ConfigError, MessageTooLarge, ReplyTimeout

from ._support import URI, Secrets, deadline, mode

HOME_ASSISTANT = {
    "AUTH_MODE": "message",
    "TOKEN_SECRET_ID": "s",
    "AUTH_MESSAGE": '{"type": "auth", "access_token": "{token}"}',
    "AUTH_SUCCESS": "type == 'auth_ok'",
    "AUTH_FAILURE": "type == 'auth_invalid'",
}


class FakeConnection:
    """Replies in order; then silence, or a close when ``close_after`` is set."""

    protocol = SimpleNamespace(max_message_size=1024)

    def __init__(self, *replies: Any, close_after: bool = False) -> None:
        self.replies = [r if isinstance(r, str | bytes) else json.dumps(r) for r in replies]
        self.sent: list[str] = []
        self.close_after = close_after
        self.received = 0

    async def send(self, text: str) -> None:
        self.sent.append(text)

    async def recv(self) -> str | bytes:
        if self.replies:
            self.received += 1
            return self.replies.pop(0)
        if self.close_after:
            raise ConnectionClosedError(Close(1008, "sEkReT reason"), None)
        await asyncio.Event().wait()  # silence: only the timeout ends it
        raise AssertionError("unreachable")


def authenticate(
    connection: FakeConnection, environ: dict[str, str] | None = None, reply_timeout: float = 5.0
) -> Prepared:
    message = mode(environ or HOME_ASSISTANT)
    prepared = message.prepare(Handshake(URI), Secrets('tok-"1\\'), deadline(), refresh=False)
    asyncio.run(message.after_open(connection, prepared, deadline(), reply_timeout))  # type: ignore[arg-type]
    return prepared


# --- pure half ---------------------------------------------------------------------------------


def test_every_placeholder_in_string_values_is_replaced_and_keys_are_kept() -> None:
    template = {"{token}": ["{token}", "Bearer {token}.{token}", 1, None], "n": {"t": "{token}"}}
    assert replace_token(template, "T") == {
        "{token}": ["T", "Bearer T.T", 1, None],
        "n": {"t": "T"},
    }


def test_the_auth_message_is_json_text_or_a_bare_string() -> None:
    assert json.loads(auth_text({"access_token": "{token}"}, 'a"b')) == {"access_token": 'a"b'}
    assert auth_text("AUTH {token}", "T") == "AUTH T"


def test_judging_replies() -> None:
    ok, bad = compile_expression("type == 'auth_ok'"), compile_expression("type == 'auth_invalid'")
    assert judge({"type": "auth_required"}, ok, bad) == "skip"
    assert judge({"type": "auth_ok"}, ok, bad) == "success"
    assert judge({"type": "auth_invalid"}, ok, bad) == "failure"
    assert judge("plain text", ok, bad) == "skip"
    assert judge({"anything": 1}, None, None) == "success"
    assert judge({"type": "auth_invalid"}, None, bad) == "failure"
    # JMESPath truthiness: 0 is true, empty values are false; type errors do not match.
    assert judge({"n": 0}, compile_expression("n"), None) == "success"
    assert judge({"n": []}, compile_expression("n"), None) == "skip"
    assert judge({"n": 5}, compile_expression("length(n) > `0`"), None) == "skip"


# --- the exchange ----------------------------------------------------------------------------


def test_home_assistant_flow_skips_the_greeting_and_accepts_auth_ok() -> None:
    connection = FakeConnection({"type": "auth_required"}, {"type": "auth_ok"}, {"type": "event"})
    prepared = authenticate(connection)
    assert [json.loads(t) for t in connection.sent] == [
        {"type": "auth", "access_token": 'tok-"1\\'}
    ]
    assert connection.received == 2  # the third reply is left for the exchange
    # Raw and JSON-escaped forms are both scrubbed.
    assert set(prepared.credentials) == {'tok-"1\\', 'tok-\\"1\\\\'}
    assert prepared.handshake == Handshake(URI)


def test_auth_invalid_is_auth_rejected_and_not_retryable() -> None:
    with pytest.raises(AuthRejected) as info:
        authenticate(FakeConnection({"type": "auth_required"}, {"type": "auth_invalid"}))
    assert info.value.retryable is False


def test_a_close_is_auth_rejected_with_its_code_but_not_its_reason() -> None:
    with pytest.raises(AuthRejected, match="1008") as info:
        authenticate(FakeConnection({"type": "auth_required"}, close_after=True))
    assert "sEkReT" not in str(info.value)


def test_a_close_websockets_sent_for_a_too_large_reply_is_message_too_large() -> None:
    # websockets closes with 1009 itself: the close frame it sent, none received.
    error = closed_error(ConnectionClosedError(None, Close(1009, "over size limit"), None), 1024)
    assert isinstance(error, MessageTooLarge)
    assert "MAX_MESSAGE_BYTES (1024 bytes)" in error.message
    # A 1009 the server sent is its own verdict, as any other close.
    refused = closed_error(ConnectionClosedError(Close(1009, ""), Close(1009, ""), True), 1024)
    assert isinstance(refused, AuthRejected)


def test_more_than_ten_unmatched_replies_is_auth_rejected() -> None:
    greetings = [{"type": "notice"}] * MAX_SKIPPED_REPLIES
    authenticate(FakeConnection(*greetings, {"type": "auth_ok"}))
    with pytest.raises(AuthRejected, match="AUTH_SUCCESS"):
        authenticate(FakeConnection(*greetings, {"type": "notice"}, {"type": "auth_ok"}))


def test_without_expressions_the_first_reply_is_success() -> None:
    environ = {k: v for k, v in HOME_ASSISTANT.items() if not k.startswith("AUTH_S")}
    environ.pop("AUTH_FAILURE")
    connection = FakeConnection("anything", "more")
    authenticate(connection, environ)
    assert connection.received == 1


def test_silence_is_a_reply_timeout_within_the_reply_timeout() -> None:
    with pytest.raises(ReplyTimeout, match=r"0\.05 s"):
        authenticate(FakeConnection({"type": "auth_required"}), reply_timeout=0.05)


def test_no_time_left_before_the_deadline_is_a_reply_timeout_without_sending() -> None:
    message = mode(HOME_ASSISTANT)
    prepared = message.prepare(Handshake(URI), Secrets("t"), deadline(), refresh=False)
    connection = FakeConnection({"type": "auth_ok"})
    with pytest.raises(ReplyTimeout, match="deadline"):
        asyncio.run(message.after_open(connection, prepared, deadline(0.0), 5.0))  # type: ignore[arg-type]
    assert connection.sent == []


def test_a_cached_token_is_not_fresh_and_refresh_reads_it_again() -> None:
    message = mode(HOME_ASSISTANT)
    secrets = Secrets("old", "new", cached=True)
    assert message.prepare(Handshake(URI), secrets, deadline(), refresh=False).fresh is False
    refreshed = message.prepare(Handshake(URI), secrets, deadline(), refresh=True)
    assert (refreshed.fresh, refreshed.token) == (True, "new")


# --- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"AUTH_MESSAGE": ""}, "AUTH_MESSAGE"),
        ({"AUTH_MESSAGE": "{type: auth}"}, "AUTH_MESSAGE"),
        ({"AUTH_MESSAGE": '{"n": NaN, "t": "{token}"}'}, "AUTH_MESSAGE"),
        ({"AUTH_MESSAGE": '{"type": "auth"}'}, "AUTH_MESSAGE"),
        ({"AUTH_MESSAGE": '{"{token}": "key only"}'}, "AUTH_MESSAGE"),
        ({"AUTH_MESSAGE": '"{token}\udcff"'}, "AUTH_MESSAGE"),
        ({"AUTH_SUCCESS": "type == "}, "AUTH_SUCCESS"),
        ({"AUTH_FAILURE": "[?"}, "AUTH_FAILURE"),
        ({"AUTH_SUCCESS": "a" * 1001}, "AUTH_SUCCESS"),
        # Checked as the reply checks are: a function jmespath does not have.
        ({"AUTH_FAILURE": "no_such_function(@)"}, "AUTH_FAILURE"),
    ],
)
def test_invalid_settings_name_their_variable(changes: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as info:
        mode({**HOME_ASSISTANT, **changes})
    assert info.value.message.startswith(variable)


def test_repr_shows_neither_template_nor_token() -> None:
    message = mode(HOME_ASSISTANT)
    assert isinstance(message, Message)
    assert "{token}" not in repr(message)
