"""Keeping the token out of every log line, whatever the log level.

The websockets library logs each handshake header at DEBUG, the Authorization
header included, and botocore logs each response body at DEBUG, the
GetSecretValue response included. Any of the deployer's knobs (LOG_LEVEL,
POWERTOOLS_LOG_LEVEL, AWS_LAMBDA_LOG_LEVEL, the root logger) can enable those
lines. Filters on the loggers where those records are created rewrite or drop
them before any handler sees them, so the DEBUG output stays useful and safe.
"""

from __future__ import annotations

import logging
import re
from collections import deque

REDACTED = "[redacted]"
# How many past tokens are still scrubbed after a rotation.
_REMEMBERED_TOKENS = 4
_AUTHORIZATION_LINE = re.compile(r"(\b(?:proxy-)?authorization\s*:\s*)[^\r\n]*", re.IGNORECASE)


class TokenRedactingFilter(logging.Filter):
    """Rewrites records that carry an Authorization header or a known token."""

    def __init__(self) -> None:
        super().__init__()
        self._tokens: deque[str] = deque(maxlen=_REMEMBERED_TOKENS)

    def remember(self, token: str) -> None:
        """Scrub ``token`` from every later record."""
        if token not in self._tokens:
            self._tokens.append(token)

    def redact(self, text: str) -> str:
        """``text`` with header values and known tokens replaced."""
        text = _AUTHORIZATION_LINE.sub(lambda m: m.group(1) + REDACTED, text)
        for token in self._tokens:
            text = text.replace(token, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


class ResponseBodyFilter(logging.Filter):
    """Drops botocore's DEBUG dump of response bodies: here, the secret itself.

    The body is logged before the token is known, so it cannot be scrubbed;
    it has to go.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("Response body"))


token_filter = TokenRedactingFilter()
WEBSOCKETS_LOGGER = logging.getLogger("websockets.client")


def install() -> None:
    """Attach the filters (idempotent: a filter is added once per logger)."""
    for name in ("websockets", "websockets.client"):
        logger = logging.getLogger(name)
        if token_filter not in logger.filters:
            logger.addFilter(token_filter)
    parsers = logging.getLogger("botocore.parsers")
    if not any(isinstance(f, ResponseBodyFilter) for f in parsers.filters):
        parsers.addFilter(ResponseBodyFilter())
