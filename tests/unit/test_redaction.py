"""No credential reaches a log line or a result, and redaction corrupts nothing else."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.frames import Frame, Opcode

from ws_exchange import redaction
from ws_exchange.redaction import REDACTED, Scrubber, scrubber


@pytest.fixture
def fresh() -> Scrubber:
    return Scrubber()


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Every record of every logger at any level, as a handler would write it,
    through the factory.

    Starts from an empty process-wide scrubber and captures the loggers the
    function's handler module configures (their own handlers, no propagation, its
    level) as well as the root: earlier tests may have imported it.
    """
    redaction.install()
    scrubber.forget_all()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    loggers = [logging.getLogger(name) for name in ("", "websockets", "ws_exchange")]
    saved = [(logger, logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
    try:
        yield stream
    finally:
        for logger, level, propagate in saved:
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate
        scrubber.forget_all()


# --- shapes scrubbed whatever the credential ------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "> Authorization: Bearer s3cr3t",
        "> authorization: Bearer s3cr3t",
        "> AuThOrIzAtIoN:Bearer s3cr3t",
        "> Proxy-Authorization: Basic s3cr3t",
        "> Cookie: session=s3cr3t",
        "< Set-Cookie: session=s3cr3t; HttpOnly",
        "headers: {'Authorization': b'AWS4-HMAC-SHA256 Credential=x, Signature=s3cr3t'}",
        "{'X-Amz-Security-Token': 's3cr3t', 'Host': 'x'}",
        "> GET /v1?api_key=s3cr3t HTTP/1.1",
        "< Location: wss://h/v1?a=1&token=s3cr3t",
    ],
)
def test_credential_shaped_values_are_scrubbed_from_log_lines(fresh: Scrubber, line: str) -> None:
    scrubbed = fresh.scrub_log_line(line)

    assert "s3cr3t" not in scrubbed
    assert REDACTED in scrubbed


def test_other_log_lines_are_left_as_they_are(fresh: Scrubber) -> None:
    line = "> Upgrade: websocket"

    assert fresh.scrub_log_line(line) == line


# --- remembered credentials ----------------------------------------------------------


def test_remembered_credentials_are_scrubbed_anywhere(fresh: Scrubber) -> None:
    fresh.remember(["Bearer tok-AAAA", "tok-AAAA"])

    assert fresh.scrub_text("x Bearer tok-AAAA y tok-AAAAz") == f"x {REDACTED} y {REDACTED}z"


def test_old_credentials_are_forgotten_after_many_rotations(fresh: Scrubber) -> None:
    credentials = [f"tok-{n:04d}" for n in range(40)]
    for credential in credentials:
        fresh.remember([credential])

    assert fresh.scrub_text(credentials[0]) == credentials[0]
    assert fresh.scrub_text(credentials[-1]) == REDACTED


def test_many_configured_values_never_push_a_credential_out(fresh: Scrubber) -> None:
    fresh.remember(["tok-AAAA"])
    fresh.remember_configured(f"value-{n:04d}" for n in range(100))

    assert fresh.scrub_text("tok-AAAA value-0099") == f"{REDACTED} {REDACTED}"


def test_short_configured_values_are_versions_not_keys(fresh: Scrubber) -> None:
    fresh.remember_configured(["2", "v1", "20", "qs-key-Zk93hQ"])

    assert fresh.scrub_text("v1 seq 20 qs-key-Zk93hQ") == f"v1 seq 20 {REDACTED}"


def test_a_deeply_nested_value_is_scrubbed_without_recursion(fresh: Scrubber) -> None:
    fresh.remember(["tok-AAAA"])
    value: object = "tok-AAAA"
    for _ in range(5000):
        value = [value]

    scrubbed = fresh.scrub_value(value)

    for _ in range(5000):
        assert isinstance(scrubbed, list)
        scrubbed = scrubbed[0]
    assert scrubbed == REDACTED


@pytest.mark.parametrize(
    "text",
    ['{"t": "\\u0074ok-AAAA", "s": "\\ud800"}', '"tok\\u002dAAAA', '["tok-AAA\\u0041"'],
)
def test_a_kept_text_spelling_a_credential_with_escapes_loses_it(
    fresh: Scrubber, text: str
) -> None:
    fresh.remember(["tok-AAAA"])

    scrubbed = fresh.scrub_escaped_text(text)

    assert "tok-AAAA" not in scrubbed
    assert REDACTED in scrubbed
    scrubbed.encode("utf-8")


def test_binary_frames_lose_remembered_credentials(fresh: Scrubber) -> None:
    fresh.remember(["tok-AAAA"])

    assert fresh.scrub_frame(b"\x00tok-AAAA\xff") == b"\x00" + REDACTED.encode() + b"\xff"


def test_json_values_are_scrubbed_in_strings_and_keys(fresh: Scrubber) -> None:
    fresh.remember(["tok-AAAA"])
    value = {"tok-AAAA": ["Authorization: Bearer tok-AAAA", 1, None, {"k": "tok-AAAA"}]}

    assert fresh.scrub_value(value) == {
        REDACTED: [f"Authorization: Bearer {REDACTED}", 1, None, {"k": REDACTED}]
    }


def test_a_frame_with_escapes_may_hide_a_credential(fresh: Scrubber) -> None:
    fresh.remember(["tok-AAAA"])

    assert fresh.may_hide_credentials('"\\u0074ok-AAAA"')
    assert not fresh.may_hide_credentials('"plain"')


# --- through logging, any logger, any level -------------------------------------------


def test_remembered_credential_never_reaches_a_handler(captured: io.StringIO) -> None:
    scrubber.remember(["tok-e2e-AAAA"])

    logging.getLogger("any.library").debug("sending %s now", "tok-e2e-AAAA")
    logging.getLogger("another.library").debug("> %s: %s", "Authorization", "Bearer zz9")

    output = captured.getvalue()
    assert "tok-e2e-AAAA" not in output
    assert "zz9" not in output
    assert output.count(REDACTED) == 2


def test_botocore_signing_details_are_replaced_whole(captured: io.StringIO) -> None:
    logging.getLogger("botocore.auth").debug("Signature:\n%s", "0123456789abcdef" * 4)

    assert "0123456789abcdef" not in captured.getvalue()


def test_botocore_response_body_dump_is_replaced_whole(captured: io.StringIO) -> None:
    body = json.dumps({"SecretString": "hunter2-secret"}).encode()

    logging.getLogger("botocore.parsers").debug("Response body:\n%r", body)

    assert "hunter2" not in captured.getvalue()


def test_a_long_frame_elided_by_websockets_cannot_leak_part_of_a_credential(
    captured: io.StringIO,
) -> None:
    token = "tok-" + "Z" * 200
    scrubber.remember([token])
    frame = Frame(Opcode.TEXT, json.dumps({"type": "auth", "access_token": token}).encode())

    logging.getLogger("websockets.client").debug("> %s", frame)

    assert "ZZZZ" not in captured.getvalue()


def test_install_is_idempotent() -> None:
    redaction.install()
    factory = logging.getLogRecordFactory()
    redaction.install()

    assert logging.getLogRecordFactory() is factory


# --- frames: websockets logs (a prefix of) each frame's payload at DEBUG ------------------


def fragments_of(credential: str, length: int = 4) -> list[str]:
    """Every piece of ``credential`` of ``length`` characters."""
    return [credential[i : i + length] for i in range(len(credential) - length + 1)]


TOKEN = "tok-6ab288f0f6a9c0d1e2f3"
NOTE = json.dumps({"note": f"your token is {TOKEN}"}).encode()


@pytest.mark.parametrize(
    "frames",
    [
        # A message in fragments, the token cut across two of them.
        [Frame(Opcode.TEXT, NOTE[:40], fin=False), Frame(Opcode.CONT, NOTE[40:])],
        [
            Frame(Opcode.BINARY, NOTE[:30], fin=False),
            Frame(Opcode.CONT, NOTE[30:36], fin=False),
            Frame(Opcode.CONT, NOTE[36:]),
        ],
        # A long payload, elided by websockets with the cut inside the token.
        [Frame(Opcode.TEXT, b'{"n": "' + b"x" * 34 + TOKEN.encode() + b"y" * 400 + b'"}')],
        # A close reason.
        [Frame(Opcode.CLOSE, b"\x03\xf0your token is " + TOKEN.encode())],
    ],
    ids=["fragments", "three-fragments", "elided", "close-reason"],
)
def test_no_frame_log_line_shows_any_piece_of_a_credential(
    captured: io.StringIO, frames: list[Frame]
) -> None:
    scrubber.remember([TOKEN, f"Bearer {TOKEN}"])

    for frame in frames:
        logging.getLogger("websockets.client").debug("< %s", frame)

    output = captured.getvalue()
    assert [piece for piece in fragments_of(TOKEN) if piece in output] == []
    # The line still tells what moved: the frame's kind and size.
    lines = output.splitlines()
    assert len(lines) == len(frames)
    for line, frame in zip(lines, frames, strict=True):
        assert line.startswith(f"websockets.client < {frame.opcode.name} {REDACTED} [")
        assert f"{len(frame.data)} bytes" in line
        assert ("continued" in line) is not frame.fin


def test_frame_payloads_are_logged_while_no_credential_is_known(captured: io.StringIO) -> None:
    logging.getLogger("websockets.client").debug("< %s", Frame(Opcode.TEXT, b'{"type": "pong"}'))

    assert captured.getvalue() == 'websockets.client < TEXT \'{"type": "pong"}\' [16 bytes]\n'


# --- short credentials: redacted where they stand whole, nowhere else --------------------


SHORT = ["a", "ok", "admin"]


@pytest.mark.parametrize("short", SHORT)
def test_a_short_credential_leaves_replies_and_text_around_it_intact(
    fresh: Scrubber, short: str
) -> None:
    fresh.remember([short, f"Basic {short}-encoded-long-form"])
    reply = {
        "type": "echo",
        "role": "admin",
        "timestamp": "2026-12-05T01:13:40.123Z",
        "message": "exchange succeeded",
        "admin": ["a", "ok"],
    }

    assert fresh.scrub_reply(json.dumps(reply), reply) == reply
    assert fresh.scrub_text("exchange succeeded") == "exchange succeeded"
    assert fresh.scrub_frame(b"\x00admin ok a\xff") == b"\x00admin ok a\xff"


@pytest.mark.parametrize("short", SHORT)
def test_a_short_credential_is_redacted_where_it_is_the_whole_value(
    fresh: Scrubber, short: str
) -> None:
    fresh.remember([short])

    assert fresh.scrub_reply(json.dumps(short), short) == REDACTED
    assert fresh.scrub_reply(short, short) == REDACTED
    assert fresh.scrub_frame(short.encode()) == REDACTED.encode()


def test_long_forms_derived_from_a_short_credential_are_scrubbed_anywhere(
    fresh: Scrubber,
) -> None:
    fresh.remember(["Basic dXNlcjphZG1pbg==", "dXNlcjphZG1pbg==", "admin"])

    assert fresh.scrub_text("x Basic dXNlcjphZG1pbg== y") == f"x {REDACTED} y"
    assert fresh.scrub_text("role admin") == "role admin"


def test_a_short_credential_is_redacted_from_log_lines_where_it_is_a_whole_value(
    captured: io.StringIO,
) -> None:
    scrubber.remember(["ok"])
    wire = logging.getLogger("websockets.client")

    wire.debug("> %s: %s", "X-API-Key", "ok")
    wire.debug("> %s: %s", "Sec-WebSocket-Protocol", "chat, ok")
    logging.getLogger("our.summary").info("exchange succeeded: book ok")

    lines = [line for line in captured.getvalue().splitlines() if not line.startswith("ws_")]
    assert lines == [
        f"websockets.client > X-API-Key: {REDACTED}",
        f"websockets.client > Sec-WebSocket-Protocol: chat, {REDACTED}",
        "our.summary exchange succeeded: book ok",
    ]


@pytest.fixture
def warnings() -> Iterator[list[logging.LogRecord]]:
    """The records of ws_exchange.redaction's logger."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    log = logging.getLogger("ws_exchange.redaction")
    log.addHandler(handler)
    try:
        yield records
    finally:
        log.removeHandler(handler)


def test_a_short_credential_is_warned_about_once_without_showing_it(
    fresh: Scrubber, warnings: list[logging.LogRecord]
) -> None:
    fresh.remember(["q7Z", "Bearer q7Z"])
    fresh.remember(["q7Z", "Bearer q7Z"])
    fresh.remember(["long-enough-key"])

    assert [record.levelno for record in warnings] == [logging.WARNING]
    assert "q7Z" not in warnings[0].getMessage()
    assert "shorter than 8 characters" in warnings[0].getMessage()


# --- every field of a Powertools line, and tracebacks -------------------------------------


@pytest.fixture
def powertools_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The JSON lines the function's own Powertools logger writes."""
    from ws_exchange.observability import logger

    scrubber.forget_all()
    stream = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(stream)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        handler.setStream(previous)
        scrubber.forget_all()


def test_every_field_of_a_powertools_line_is_scrubbed(
    powertools_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    from ws_exchange.observability import logger

    token = "tok-extra-AAAA1111"
    scrubber.remember([token, "q7Z"])
    try:
        raise RuntimeError(f"the server said {token}")
    except RuntimeError:
        logger.exception(
            "failed with %s",
            token,
            extra={"detail": f"got {token}", "nested": {"k": [token]}, token: 1, "key": "q7Z"},
        )

    (line,) = [line for line in powertools_lines() if line["level"] == "ERROR"]
    assert token not in json.dumps(line)
    assert line["message"] == f"failed with {REDACTED}"
    assert line["detail"] == f"got {REDACTED}"
    assert line["nested"] == {"k": [REDACTED]}
    assert line[REDACTED] == 1
    assert line["key"] == REDACTED
    assert line["exception_name"] == "RuntimeError"
    assert f"RuntimeError: the server said {REDACTED}" in line["exception"]
    assert line["stack_trace"]["value"] == f"the server said {REDACTED}"
    assert line["level"] == "ERROR"


def test_a_traceback_written_by_any_handler_is_scrubbed(captured: io.StringIO) -> None:
    token = "tok-traceback-BBBB2222"
    scrubber.remember([token])
    try:
        raise ValueError(f"bad key {token}")
    except ValueError:
        logging.getLogger("any.library").debug("failed", exc_info=True)

    output = captured.getvalue()
    assert token not in output
    assert f"ValueError: bad key {REDACTED}" in output


@pytest.mark.parametrize(
    "credential",
    ['pa"ss\\word-1234', "tok-\u00e9t\u00e9-5678", "tab\there-9012", "plain-token-3456"],
)
def test_a_line_with_a_credential_in_any_field_is_scrubbed_whatever_json_escapes(
    powertools_lines: Callable[[], list[dict[str, Any]]], credential: str
) -> None:
    from ws_exchange.observability import logger

    scrubber.remember([credential])
    logger.info("summary", extra={"deep": {"list": [f"x {credential} y"]}, "n": 1})

    (line,) = [line for line in powertools_lines() if line["message"] == "summary"]
    assert credential not in json.dumps(line, ensure_ascii=False)
    assert line["deep"] == {"list": [f"x {REDACTED} y"]}


def test_a_line_without_anything_to_scrub_is_written_as_it_is(
    powertools_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    from ws_exchange.observability import logger

    scrubber.remember(["a-token-that-is-elsewhere"])
    logger.info("summary", extra={"endpoint": "wss://h.example/v1", "timings_ms": {"total": 1.5}})

    (line,) = [line for line in powertools_lines() if line["message"] == "summary"]
    assert line["endpoint"] == "wss://h.example/v1"
    assert line["timings_ms"] == {"total": 1.5}
    assert not scrubber.line_may_need_scrubbing(json.dumps(line))
