"""The function's error types, in one place.

.. code-block:: text

    ExchangeError (internal_error)
    ├── InvalidRequest          invalid_request       400
    ├── ConfigError             config_error          500
    ├── SecretNotFound          secret_not_found      500
    ├── SecretAccessDenied      secret_access_denied  500
    ├── SecretInvalid           secret_invalid        500
    ├── TokenRequestFailed      token_request_failed  502
    ├── AuthRejected            auth_rejected         502
    ├── HandshakeFailed         handshake_failed      502
    ├── ConnectFailed           connect_failed        502  retryable
    ├── ConnectTimeout          connect_timeout       504  retryable
    ├── ReplyTimeout            reply_timeout         504  retryable
    ├── ConnectionClosed        connection_closed     502  retryable
    ├── MessageTooLarge         message_too_large     502
    ├── ExpectationFailed       expectation_failed    502
    └── InternalError           internal_error        500

Every failure the function can meet is one of these exceptions. Each class
carries its error type, whether retrying the invocation later could
succeed, and the HTTP status code an API caller receives. Messages are one human
sentence and never contain the token: they are written here or in the modules
that raise them, never copied from a server's or a library's text that could
carry request headers.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ExchangeError(Exception):
    """Base class: a failure that becomes a typed ``error`` in the result."""

    type: ClassVar[str] = "internal_error"
    status_code: ClassVar[int] = 500
    default_retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = self.default_retryable if retryable is None else retryable

    def __str__(self) -> str:
        # Raised to the runtime under FAIL_ON_ERROR, where the text is all that
        # survives: name the error type first.
        return f"{self.type}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        """The ``error`` object of the result."""
        return {"type": self.type, "message": self.message, "retryable": self.retryable}


class InvalidRequest(ExchangeError):
    """The event is not one this function accepts (the caller's mistake)."""

    type = "invalid_request"
    status_code = 400


class ConfigError(ExchangeError):
    """An environment variable is missing or invalid (the deployer's mistake)."""

    type = "config_error"


class SecretNotFound(ExchangeError):
    """The configured secret does not exist (or has no current value)."""

    type = "secret_not_found"


class SecretAccessDenied(ExchangeError):
    """The secret could not be read: denied, or Secrets Manager unreachable."""

    type = "secret_access_denied"


class SecretInvalid(ExchangeError):
    """The secret was read but holds no usable token."""

    type = "secret_invalid"


class TokenRequestFailed(ExchangeError):
    """Raised when the OAuth2 token endpoint gave no usable access token."""

    type = "token_request_failed"
    status_code = 502


class AuthRejected(ExchangeError):
    """The server refused the token on the opening handshake (401/403)."""

    type = "auth_rejected"
    status_code = 502


class HandshakeFailed(ExchangeError):
    """The server answered the opening handshake with something else than 101."""

    type = "handshake_failed"
    status_code = 502


class ConnectFailed(ExchangeError):
    """No connection could be opened (refused, reset, unresolvable host)."""

    type = "connect_failed"
    status_code = 502
    default_retryable = True


class ConnectTimeout(ExchangeError):
    """Opening the connection took longer than allowed."""

    type = "connect_timeout"
    status_code = 504
    default_retryable = True


class ReplyTimeout(ExchangeError):
    """A reply did not arrive in time."""

    type = "reply_timeout"
    status_code = 504
    default_retryable = True


class ConnectionClosed(ExchangeError):
    """The server closed the connection before the exchange was complete."""

    type = "connection_closed"
    status_code = 502
    default_retryable = True


class MessageTooLarge(ExchangeError):
    """The server sent a message larger than MAX_MESSAGE_BYTES."""

    type = "message_too_large"
    status_code = 502


class ExpectationFailed(ExchangeError):
    """Raised when a reply check (``until``, ``expect``) did not hold."""

    type = "expectation_failed"
    status_code = 502


class InternalError(ExchangeError):
    """Raised in place of any failure no other type names: a bug here or in a library."""

    type = "internal_error"


ERROR_TYPES: tuple[type[ExchangeError], ...] = (
    InvalidRequest,
    ConfigError,
    SecretNotFound,
    SecretAccessDenied,
    SecretInvalid,
    TokenRequestFailed,
    AuthRejected,
    HandshakeFailed,
    ConnectFailed,
    ConnectTimeout,
    ReplyTimeout,
    ConnectionClosed,
    MessageTooLarge,
    ExpectationFailed,
    InternalError,
)
