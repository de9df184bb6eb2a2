"""How ``PROTOCOL=appsync-events`` carries credentials (``APPSYNC_AUTH``).

AWS AppSync Events reads no credential from the handshake's headers: the client
offers the subprotocol ``aws-appsync-event-ws`` and, after it,
``header-<base64url(JSON)>`` (unpadded), the JSON being an *authorization
object*; every ``subscribe`` and ``publish`` carries such an object again as
its ``authorization``. The object names the API's HTTP domain as ``host`` and,
by ``APPSYNC_AUTH``:

* ``api_key`` (default): ``x-api-key``, the secret's key;
* ``token``: ``Authorization``, the secret's token as it is (a Cognito user
  pool, OIDC or Lambda-authorizer token);
* ``iam``: the headers of a SigV4-signed ``POST https://<host>/event`` (service
  ``appsync``), made with the function's own AWS credentials as AWS's clients
  make them: ``accept``, ``content-encoding: amz-1.0``, ``content-type``,
  ``host``, ``x-amz-date``, ``X-Amz-Security-Token`` with temporary credentials,
  and ``Authorization``; the connection is signed over the body ``{}``, each
  subscribe and publish over its own compact JSON body
  (:func:`signed_body`), at the moment it is sent.

``api_key`` and ``token`` read ``TOKEN_SECRET_ID`` (the whole SecretString, or
its ``TOKEN_SECRET_FIELD``) through the core's secret cache; a refused
connection reads it again once. ``iam`` reads no secret: botocore's session
(shared with ``AUTH_MODE=sigv4``, imported only here) holds the role's
credentials and refreshes them. Scrubbed: the key or token, the ``header-``
subprotocol, and for ``iam`` every signature, ``Authorization`` value and the
session token.

:func:`header_subprotocol`, :func:`signed_body` and :func:`key_object` are the
pure half; :func:`sign` is the one call into botocore.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from ..credentials import Handshake, Prepared, ReadSecret, read_token
from ..credentials._base import HandshakeOnly
from ..framing import dumps

if TYPE_CHECKING:
    from ..deadline import Deadline

EVENT_SUBPROTOCOL = "aws-appsync-event-ws"
HEADER_PREFIX = "header-"
SERVICE = "appsync"
SIGNED_PATH = "/event"
# What AWS's clients sign besides host and x-amz-date (amplify-js's realtime headers).
SIGNED_HEADERS: tuple[tuple[str, str], ...] = (
    ("accept", "application/json, text/javascript"),
    ("content-encoding", "amz-1.0"),
    ("content-type", "application/json; charset=UTF-8"),
)
# The connection's authorization is signed over an empty JSON object.
CONNECT_BODY = b"{}"

Authorization = dict[str, str]


def header_subprotocol(authorization: Authorization) -> str:
    """``header-`` and the authorization object as unpadded base64url JSON. Pure."""
    encoded = base64.urlsafe_b64encode(dumps(authorization).encode("utf-8")).decode("ascii")
    return HEADER_PREFIX + encoded.rstrip("=")


def signed_body(channel: str, events: list[str] | None = None) -> bytes:
    """The body an IAM signature covers, as ``JSON.stringify`` writes it: compact,
    keys in this order, nothing escaped that need not be. Pure."""
    body: dict[str, Any] = {"channel": channel}
    if events is not None:
        body["events"] = events
    return dumps(body).encode("utf-8")


def key_object(host: str, name: str, credential: str) -> Authorization:
    """The authorization object of ``api_key`` (``x-api-key``) or ``token``
    (``Authorization``). Pure."""
    return {"host": host, name: credential}


@dataclass(frozen=True, slots=True)
class SecretAuthorizer:
    """``api_key`` or ``token``: one credential from the secret, the same object everywhere."""

    host: str
    # The object's field for the credential: x-api-key or Authorization.
    name: str

    def authorize(self, prepared: Prepared, body: bytes) -> tuple[Authorization, tuple[str, ...]]:
        """The object for a message (whatever its body), and no new credential."""
        return key_object(self.host, self.name, prepared.token or ""), ()


@dataclass(frozen=True, slots=True)
class SecretAuth(HandshakeOnly):
    """``APPSYNC_AUTH`` ``api_key`` or ``token``: the credential mode of the preset."""

    needs_secret: ClassVar[bool] = True
    authorizer: SecretAuthorizer
    field: str = "token"

    def prepare(
        self, handshake: Handshake, read_secret: ReadSecret, deadline: Deadline, *, refresh: bool
    ) -> Prepared:
        credential, fresh = read_token(read_secret, self.field, refresh=refresh)
        authorizer = self.authorizer
        subprotocol = header_subprotocol(key_object(authorizer.host, authorizer.name, credential))
        return Prepared(
            replace(handshake, subprotocols=(*handshake.subprotocols, subprotocol)),
            fresh=fresh,
            credentials=(credential, subprotocol),
            token=credential,
        )


def session_credentials() -> Any:
    """The function's AWS credentials (botocore's standard chain), or None.

    Imported here, not at the top: only ``iam`` loads botocore.
    """
    from ..credentials import sigv4

    return sigv4.session_credentials()


def sign(credentials: Any, host: str, region: str, body: bytes) -> tuple[Authorization, str]:
    """The authorization object of a signed ``POST https://<host>/event`` of ``body``,
    and its signature. Pure but for the clock (botocore reads it).

    ``credentials`` are frozen (access key, secret key, token).
    """
    # Imported with the signing: botocore's import costs a bearer deployment ~100 ms.
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    # Also installs the filter that keeps botocore's signing details out of DEBUG logs.
    from ..credentials import sigv4  # noqa: F401

    request = AWSRequest(
        method="POST",
        url=f"https://{host}{SIGNED_PATH}",
        data=body,
        headers={**dict(SIGNED_HEADERS), "host": host},
    )
    SigV4Auth(credentials, SERVICE, region).add_auth(request)
    headers = dict(request.headers.items())
    authorization: Authorization = {
        **dict(SIGNED_HEADERS),
        "host": host,
        "x-amz-date": headers["X-Amz-Date"],
    }
    if "X-Amz-Security-Token" in headers:
        authorization["X-Amz-Security-Token"] = headers["X-Amz-Security-Token"]
    authorization["Authorization"] = headers["Authorization"]
    signature = headers["Authorization"].rpartition("Signature=")[2]
    return authorization, signature


@dataclass(frozen=True, slots=True)
class IamAuthorizer:
    """``iam``: each object signed for its own body with the role's credentials."""

    host: str
    region: str
    credentials: Callable[[], Any] = field(default=session_credentials, repr=False)

    def authorize(self, prepared: Prepared, body: bytes) -> tuple[Authorization, tuple[str, ...]]:
        """The object for ``body``, and the credentials it put on the wire (to scrub).

        Raises:
            ConfigError: no AWS credentials were found.
            SecretAccessDenied: the credentials could not be obtained (retryable).
        """
        frozen = self._frozen()
        authorization, signature = sign(frozen, self.host, self.region, body)
        credentials = [signature, authorization["Authorization"]]
        if frozen.token:
            credentials.append(frozen.token)
        return authorization, tuple(credentials)

    def _frozen(self) -> Any:
        from ..credentials import sigv4

        return sigv4.frozen_credentials(self.credentials, "to sign for AppSync (APPSYNC_AUTH iam)")


@dataclass(frozen=True, slots=True)
class IamAuth(HandshakeOnly):
    """``APPSYNC_AUTH=iam``: the credential mode of the preset."""

    needs_secret: ClassVar[bool] = False
    authorizer: IamAuthorizer

    def prepare(
        self, handshake: Handshake, read_secret: ReadSecret, deadline: Deadline, *, refresh: bool
    ) -> Prepared:
        authorization, credentials = self.authorizer.authorize(
            Prepared(handshake, fresh=True), CONNECT_BODY
        )
        subprotocol = header_subprotocol(authorization)
        # Signed just now with credentials botocore keeps current: a refusal is final.
        return Prepared(
            replace(handshake, subprotocols=(*handshake.subprotocols, subprotocol)),
            fresh=True,
            credentials=(*credentials, subprotocol),
        )


Authorizer = SecretAuthorizer | IamAuthorizer
