"""``AUTH_MODE=sigv4``: the handshake GET signed with AWS Signature Version 4.

For API Gateway WebSocket APIs with ``AWS_IAM`` authorization on ``$connect``. botocore's
own signer (:class:`botocore.auth.SigV4Auth`) signs an :class:`~botocore.awsrequest.AWSRequest`
GET of the ``https://`` form of the ``wss://`` URI (``http://`` for ``ws://``), carrying
the host and the configured ``HANDSHAKE_HEADERS``. The query is first rewritten in SigV4's
canonical form (names and values percent-decoded, then every byte outside RFC 3986's
unreserved set percent-encoded, sorted by name then value), and that one query is both
signed and sent: botocore signs a URL's query as written, while API Gateway
canonicalises what it receives, so ``?since=2024-01-01T00:00:00Z`` signed as written
would be refused. The signer adds ``X-Amz-Date``,
``X-Amz-Security-Token`` (with temporary credentials) and ``Authorization``. websockets
adds its own headers (``Upgrade``, ``Sec-WebSocket-Key``, ...) later, unsigned, which
SigV4 allows: only the headers listed in ``SignedHeaders`` are checked.

No secret: the credentials are the function's own, from botocore's standard provider
chain (in Lambda, the execution role's, from the environment), held by one botocore
session for the life of the execution environment; botocore refreshes temporary ones
before they expire. The region is ``SIGV4_REGION``, else the one in an
``*.execute-api.<region>.amazonaws.com`` host, else ``AWS_REGION``; the service is
``SIGV4_SERVICE`` (``execute-api``). Scrubbed: the signature, the whole ``Authorization``
value and the session token; botocore's DEBUG lines that print the canonical request
(with the session token) and the signature are dropped. A signature is bound to its
host and expires in minutes, so a redirect cannot reuse it elsewhere; a 401/403 is final.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, unquote_to_bytes, urlsplit, urlunsplit

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import BotoCoreError

from ..errors import ConfigError, SecretAccessDenied
from . import Handshake, Prepared, ReadSecret, setting, signing_region
from ._base import HandshakeOnly

if TYPE_CHECKING:
    from botocore.credentials import Credentials

    from ..deadline import Deadline

_EXECUTE_API_HOST = re.compile(r"[^.]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?")
_NAME = re.compile(r"[a-z0-9-]+")
_ADDED_BY_SIGNER = frozenset({"authorization", "x-amz-date", "x-amz-security-token"})


class _SigningDetailsFilter(logging.Filter):
    """Drops botocore.auth's DEBUG lines that print what a signature is made of."""

    _PREFIXES = ("CanonicalRequest", "StringToSign", "Signature")

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(self._PREFIXES))


_AUTH_LOGGER = logging.getLogger("botocore.auth")
if not any(isinstance(f, _SigningDetailsFilter) for f in _AUTH_LOGGER.filters):
    _AUTH_LOGGER.addFilter(_SigningDetailsFilter())

# One session per execution environment: it resolves the credential chain once and
# keeps the (self-refreshing) credentials it found.
_session: botocore.session.Session | None = None


def session_credentials() -> Credentials | None:
    """The function's AWS credentials from the standard chain, or None if there are none."""
    global _session
    if _session is None:
        _session = botocore.session.get_session()
    credentials: Credentials | None = _session.get_credentials()
    return credentials


def frozen_credentials(source: Callable[[], Any], purpose: str) -> Any:
    """The role's credentials from ``source`` (:func:`session_credentials`), frozen for
    one signature; ``purpose`` ends the messages ("for SigV4 signing").

    Raises:
        ConfigError: no AWS credentials were found.
        SecretAccessDenied: they could not be obtained (a failed refresh; retryable).
    """
    try:
        found = source()
        frozen = None if found is None else found.get_frozen_credentials()
    except BotoCoreError:
        # Temporary credentials whose refresh failed (the container credentials
        # endpoint, STS): the source of the credential, not the endpoint, is at fault.
        raise SecretAccessDenied(
            f"The function's AWS credentials could not be obtained {purpose}.",
            retryable=True,
        ) from None
    if frozen is None or not frozen.access_key or not frozen.secret_key:
        raise ConfigError(
            f"No AWS credentials were found {purpose}: run the function with an "
            "execution role (or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
            "AWS_PROFILE, outside Lambda)."
        )
    return frozen


def http_url(uri: str) -> str:
    """The ``https://`` (``http://``) URL a ``wss://`` (``ws://``) URI is signed as. Pure."""
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(scheme="https" if parts.scheme == "wss" else "http"))


def canonical_query(query: str) -> str:
    """``query`` as SigV4 canonicalises it: each name and value percent-decoded, then
    every UTF-8 byte outside ``A-Za-z0-9-_.~`` percent-encoded; sorted by name, then
    value. Pure.

    ``+`` is kept as a plus sign (RFC 3986), not read as a space (HTML forms).
    """
    pairs = []
    for item in query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        pairs.append((_encode(unquote_to_bytes(name)), _encode(unquote_to_bytes(value))))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _encode(text: bytes) -> str:
    return quote(text, safe="-_.~")


def with_canonical_query(uri: str) -> str:
    """``uri`` with its query in SigV4's canonical form (:func:`canonical_query`). Pure."""
    parts = urlsplit(uri)
    if not parts.query:
        return uri
    return urlunsplit(parts._replace(query=canonical_query(parts.query)))


def sign(
    handshake: Handshake, credentials: Any, *, service: str, region: str
) -> tuple[tuple[tuple[str, str], ...], str, str]:
    """``(headers the signer added, Authorization value, signature)``. Pure but for the clock.

    ``credentials`` are frozen (access key, secret key, token); botocore reads the time.
    """
    request = AWSRequest(method="GET", url=http_url(handshake.uri), headers=dict(handshake.headers))
    SigV4Auth(credentials, service, region).add_auth(request)
    added = tuple(
        (name, value) for name, value in request.headers.items() if name.lower() in _ADDED_BY_SIGNER
    )
    authorization = request.headers["Authorization"]
    signature = authorization.rpartition("Signature=")[2]
    return added, authorization, signature


@dataclass(frozen=True, slots=True)
class SigV4(HandshakeOnly):
    """The handshake signed with the function's own AWS credentials."""

    needs_secret: ClassVar[bool] = False
    region: str
    service: str = "execute-api"
    credentials: Callable[[], Any] = field(default=session_credentials, repr=False)

    def prepare(
        self, handshake: Handshake, read_secret: ReadSecret, deadline: Deadline, *, refresh: bool
    ) -> Prepared:
        """The handshake with ``X-Amz-Date``, ``X-Amz-Security-Token``, ``Authorization``.

        Raises:
            ConfigError: no AWS credentials were found.
            SecretAccessDenied: the credentials could not be obtained (retryable).
        """
        frozen = frozen_credentials(self.credentials, "for SigV4 signing")
        # What is signed is what is sent: one query, in the form the verifier rebuilds.
        handshake = replace(handshake, uri=with_canonical_query(handshake.uri))
        added, authorization, signature = sign(
            handshake, frozen, service=self.service, region=self.region
        )
        credentials = [signature, authorization]
        if frozen.token:
            credentials.append(frozen.token)
        # Signed just now with credentials botocore keeps current: a 401/403 is final.
        return Prepared(
            replace(handshake, headers=(*handshake.headers, *added)),
            fresh=True,
            credentials=tuple(credentials),
        )


def region_for(environ: Mapping[str, str], uri: str) -> str:
    """The signing region: ``SIGV4_REGION``, the host's, else ``AWS_REGION``. Pure.

    Raises:
        ConfigError: naming ``SIGV4_REGION`` when none is found or it is malformed.
    """
    match = _EXECUTE_API_HOST.fullmatch(urlsplit(uri).hostname or "")
    return signing_region(
        environ,
        match.group(1) if match else None,
        "SIGV4_REGION is required: WEBSOCKET_URI's host is not *.execute-api.<region>."
        "amazonaws.com and AWS_REGION is not set.",
    )


def from_environ(environ: Mapping[str, str], *, uri: str, allow_insecure: bool) -> SigV4:
    """The mode from ``SIGV4_REGION`` and ``SIGV4_SERVICE``.

    Raises:
        ConfigError: naming the variable missing or invalid.
    """
    service = setting(environ, "SIGV4_SERVICE") or "execute-api"
    if not _NAME.fullmatch(service):
        raise ConfigError("SIGV4_SERVICE must be a signing name such as execute-api.")
    return SigV4(region=region_for(environ, uri), service=service)
