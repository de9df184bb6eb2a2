"""No credential reaches a log line or a result."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from websockets.frames import Frame, Opcode

from ws_exchange import redaction
from ws_exchange.redaction import REDACTED, Scrubber, scrubber


@pytest.fixture
def fresh() -> Scrubber:
    return Scrubber()


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Every record of every logger, as a handler would write it, through the factory."""
    redaction.install()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    root = logging.getLogger()
    saved_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_level)
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


def test_a_credential_however_short_is_scrubbed(fresh: Scrubber) -> None:
    fresh.remember(["ab", ""])

    assert fresh.scrub_text("xaby") == f"x{REDACTED}y"


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
