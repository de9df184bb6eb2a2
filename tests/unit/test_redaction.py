"""The token never reaches a log line (contract section 7)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from ws_exchange import redaction
from ws_exchange.redaction import REDACTED, ResponseBodyFilter, TokenRedactingFilter

FILTERED_LOGGERS = ("websockets", "websockets.client", "botocore.parsers")


def record(msg: object, *args: object, name: str = "websockets.client") -> logging.LogRecord:
    return logging.LogRecord(name, logging.DEBUG, __file__, 1, msg, args or None, None)


@pytest.fixture
def token_filter() -> TokenRedactingFilter:
    return TokenRedactingFilter()


@pytest.fixture
def pristine_loggers() -> Iterator[None]:
    """Restore the filters, level, handlers of the shared loggers and the shared token memory."""
    saved = {}
    for name in FILTERED_LOGGERS:
        logger = logging.getLogger(name)
        saved[name] = (list(logger.filters), logger.level, list(logger.handlers), logger.propagate)
    remembered = list(redaction.token_filter._tokens)
    yield
    for name, (filters, level, handlers, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.filters[:] = filters
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate
    redaction.token_filter._tokens.clear()
    redaction.token_filter._tokens.extend(remembered)


# --- Authorization lines -------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "> Authorization: Bearer s3cr3t",
        "> authorization: Bearer s3cr3t",
        "> AUTHORIZATION: bearer s3cr3t",
        "> AuThOrIzAtIoN:Bearer s3cr3t",
        "> Authorization :  Token s3cr3t",
        "> Proxy-Authorization: Basic s3cr3t",
        "Authorization: s3cr3t",
    ],
)
def test_authorization_header_value_is_scrubbed(
    token_filter: TokenRedactingFilter, line: str
) -> None:
    rec = record(line)
    assert token_filter.filter(rec) is True
    assert "s3cr3t" not in rec.getMessage()
    assert REDACTED in rec.getMessage()
    assert "uthorization" in rec.getMessage().lower()


@pytest.mark.parametrize(
    ("fmt", "args"),
    [
        ("> %s: %s", ("Authorization", "Bearer s3cr3t")),
        ("> %s: %s", ("authorization", "bearer s3cr3t")),
        ("%s %s", ("Authorization:", "Bearer s3cr3t")),
        ("header %(name)s: %(value)s", ({"name": "Authorization", "value": "Bearer s3cr3t"},)),
    ],
)
def test_authorization_in_percent_args_is_scrubbed(
    token_filter: TokenRedactingFilter, fmt: str, args: tuple[object, ...]
) -> None:
    rec = record(fmt, *args)
    assert token_filter.filter(rec) is True
    assert "s3cr3t" not in rec.getMessage()
    assert rec.getMessage().endswith(REDACTED)


def test_only_the_authorization_line_of_a_multiline_dump_is_scrubbed(
    token_filter: TokenRedactingFilter,
) -> None:
    dump = (
        "GET /v1 HTTP/1.1\r\nHost: example.com\r\n"
        "Authorization: Bearer s3cr3t\r\nUpgrade: websocket"
    )
    rec = record(dump)
    token_filter.filter(rec)
    assert rec.getMessage() == (
        f"GET /v1 HTTP/1.1\r\nHost: example.com\r\nAuthorization: {REDACTED}\r\nUpgrade: websocket"
    )


# --- remembered tokens ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "args"),
    [
        ("token is tok-AAAA in the middle", ()),
        ("tok-AAAA", ()),
        ("sending %s", ("tok-AAAA",)),
        ("url wss://h/?t=%s&x=1", ("tok-AAAA",)),
        ("%r", ({"Authorization-ish": "xtok-AAAAx"},)),
    ],
)
def test_remembered_token_scrubbed_anywhere(
    token_filter: TokenRedactingFilter, fmt: str, args: tuple[object, ...]
) -> None:
    token_filter.remember("tok-AAAA")
    rec = record(fmt, *args)
    token_filter.filter(rec)
    assert "tok-AAAA" not in rec.getMessage()
    assert REDACTED in rec.getMessage()
    assert rec.args is None


def test_at_most_four_tokens_are_remembered_oldest_forgotten(
    token_filter: TokenRedactingFilter,
) -> None:
    tokens = [f"tok-{n}-xyz" for n in range(1, 6)]
    for token in tokens:
        token_filter.remember(token)
    text = token_filter.redact(" ".join(tokens))
    assert tokens[0] in text  # the oldest is forgotten
    for token in tokens[1:]:
        assert token not in text
    assert text.count(REDACTED) == 4


def test_remembering_a_token_twice_takes_one_place(token_filter: TokenRedactingFilter) -> None:
    tokens = ["tok-a-1", "tok-b-2", "tok-c-3", "tok-d-4"]
    token_filter.remember(tokens[0])
    for token in tokens:
        token_filter.remember(token)
    token_filter.remember(tokens[0])
    assert token_filter.redact(" ".join(tokens)) == " ".join([REDACTED] * 4)


def test_nothing_remembered_by_a_new_filter(token_filter: TokenRedactingFilter) -> None:
    assert token_filter.redact("tok-AAAA") == "tok-AAAA"


# --- untouched records ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("msg", "args"),
    [
        ("> %s: %s", ("Host", "stream.example.com")),
        ("connection open", None),
        ("= connection is %s", ("OPEN",)),
        ("%d bytes", (42,)),
        ("authorized user %s", ("alice",)),
    ],
)
def test_other_records_are_left_untouched(
    token_filter: TokenRedactingFilter, msg: str, args: tuple[object, ...] | None
) -> None:
    token_filter.remember("tok-AAAA")
    rec = logging.LogRecord("websockets.client", logging.DEBUG, __file__, 1, msg, args, None)
    assert token_filter.filter(rec) is True
    assert rec.msg is msg
    assert rec.args is args


def test_non_string_msg_without_token_is_left_untouched(token_filter: TokenRedactingFilter) -> None:
    msg = {"event": "open"}
    rec = record(msg)
    assert token_filter.filter(rec) is True
    assert rec.msg is msg


# --- ResponseBodyFilter ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("msg", "kept"),
    [
        ("Response body:\n%r", False),
        ('Response body:\nb\'{"SecretString": "s3cr3t"}\'', False),
        ("Response body", False),
        ("Response headers: %r", True),
        ("Making request for OperationModel", True),
        ("response body:\n%r", True),
        ("The Response body", True),
        (12345, True),
    ],
)
def test_response_body_filter(msg: object, kept: bool) -> None:
    assert ResponseBodyFilter().filter(record(msg, name="botocore.parsers")) is kept


def test_response_body_filter_does_not_rewrite_kept_records() -> None:
    rec = record("Response headers: %r", {"x": "y"}, name="botocore.parsers")
    before = (rec.msg, rec.args)
    ResponseBodyFilter().filter(rec)
    assert (rec.msg, rec.args) == before


# --- install() -----------------------------------------------------------------------


@pytest.mark.usefixtures("pristine_loggers")
@pytest.mark.parametrize("calls", [1, 2, 3])
def test_install_is_idempotent(calls: int) -> None:
    for _ in range(calls):
        redaction.install()
    for name in ("websockets", "websockets.client"):
        filters = logging.getLogger(name).filters
        assert filters.count(redaction.token_filter) == 1
    parsers = logging.getLogger("botocore.parsers").filters
    assert sum(isinstance(f, ResponseBodyFilter) for f in parsers) == 1


@pytest.mark.usefixtures("pristine_loggers")
def test_install_keeps_other_filters() -> None:
    other = logging.Filter("x")
    logging.getLogger("websockets.client").addFilter(other)
    redaction.install()
    assert other in logging.getLogger("websockets.client").filters


def test_websockets_logger_is_the_client_logger() -> None:
    assert redaction.WEBSOCKETS_LOGGER is logging.getLogger("websockets.client")


# --- end to end through real loggers and a handler at DEBUG ------------------------------


@pytest.fixture
def captured(pristine_loggers: None) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    redaction.install()
    redaction.install()
    for name in FILTERED_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.addHandler(handler)
    yield stream


@pytest.mark.parametrize("logger_name", ["websockets.client", "websockets"])
def test_end_to_end_authorization_header_never_written(
    captured: io.StringIO, logger_name: str
) -> None:
    logger = logging.getLogger(logger_name)
    logger.debug("> %s: %s", "Host", "stream.example.com")
    logger.debug("> %s: %s", "Authorization", "Bearer s3cr3t")
    output = captured.getvalue()
    assert "s3cr3t" not in output
    assert f"{logger_name} > Authorization: {REDACTED}" in output
    assert f"{logger_name} > Host: stream.example.com" in output
    assert output.count("\n") == 2


def test_end_to_end_remembered_token_never_written(captured: io.StringIO) -> None:
    redaction.token_filter.remember("tok-e2e-AAAA")
    logging.getLogger("websockets.client").debug("! failure: %s", "echo tok-e2e-AAAA back")
    output = captured.getvalue()
    assert "tok-e2e-AAAA" not in output
    assert f"! failure: echo {REDACTED} back" in output


def test_end_to_end_response_body_never_written(captured: io.StringIO) -> None:
    parsers = logging.getLogger("botocore.parsers")
    parsers.debug("Response headers: %r", {"x-amzn-RequestId": "r-1"})
    parsers.debug("Response body:\n%r", b'{"SecretString": "{\\"token\\": \\"s3cr3t\\"}"}')
    output = captured.getvalue()
    assert "s3cr3t" not in output
    assert "Response body" not in output
    assert "x-amzn-RequestId" in output
