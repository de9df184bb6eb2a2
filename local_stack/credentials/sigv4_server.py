"""Verification of an AWS Signature Version 4 on a WebSocket opening handshake,
as API Gateway does for ``AWS_IAM`` authorization on ``$connect``.

:func:`verify` is pure logic: it rebuilds the signed request (``GET``, the
``Host`` header, path and query, and exactly the headers the ``Authorization``
header's ``SignedHeaders`` lists) and recomputes the signature from AWS's
specification with hashlib and hmac (:mod:`local_stack.aws.sigv4`) for the
configured credentials, region and service at the request's ``X-Amz-Date``,
so the counterpart cannot agree with a mistake of the signer under test,
botocore's ``SigV4Auth`` included. It compares in constant time, and refuses a date
more than :data:`MAX_SKEW` away from now, a credential scope for another key,
day, region or service, and a session token other than the configured one.

Clients sign the ``https://`` form of a ``wss://`` URL (API Gateway's own
examples do): the canonical request holds only the path, query and ``Host``,
and the payload hash (of an empty body) is signed for both schemes, so the signature is the
same as long as the port is not the scheme's default.

:class:`SigV4Server` is the I/O half: a
:class:`~local_stack.credentials.servers.VerifyingServer` that answers 403 when
:func:`verify` refuses (API Gateway's status) and records each verdict.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from websockets.http11 import Request

from local_stack.aws import sigv4 as spec
from local_stack.credentials.servers import VerifyingServer

SERVICE = "execute-api"


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# The verifier's types are the spec verifier's: the same credentials and verdicts.
LocalAWSCredentials = spec.SigningCredentials
Verdict = spec.Verdict
ACCEPTED = spec.ACCEPTED
MAX_SKEW = spec.MAX_SKEW


def verify(
    method: str,
    path: str,
    headers: Iterable[tuple[str, str]],
    *,
    credentials: LocalAWSCredentials,
    region: str,
    service: str = SERVICE,
    now: datetime.datetime,
) -> Verdict:
    """Check the SigV4 signature of a request (``path`` includes the query)."""
    received: dict[str, list[str]] = {}
    for name, value in headers:
        received.setdefault(name.lower(), []).append(value)

    authorizations = received.get("authorization", [])
    if len(authorizations) != 1:
        return Verdict(False, "no single Authorization header")
    fields = spec.authorization_fields(authorizations[0])
    if fields is None:
        return Verdict(False, "Authorization is not an AWS4-HMAC-SHA256 signature")

    dates = received.get("x-amz-date", [])
    if len(dates) != 1:
        return Verdict(False, "no single X-Amz-Date header")
    try:
        signed_at = datetime.datetime.strptime(dates[0], spec.TIMESTAMP_FORMAT).replace(
            tzinfo=datetime.UTC
        )
    except ValueError:
        return Verdict(False, "X-Amz-Date is malformed")
    if abs(now - signed_at) > MAX_SKEW:
        return Verdict(False, "X-Amz-Date is more than 5 minutes from now")

    scope = fields["Credential"].split("/")
    if len(scope) != 5:
        return Verdict(False, "credential scope is malformed")
    access_key, day, scope_region, scope_service, terminator = scope
    if not spec.same(access_key, credentials.access_key):
        return Verdict(False, "unknown access key")
    if (day, scope_region, scope_service, terminator) != (
        dates[0][:8],
        region,
        service,
        "aws4_request",
    ):
        return Verdict(False, "credential scope names another day, region or service")

    signed = fields["SignedHeaders"].split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        return Verdict(False, "Host and X-Amz-Date must be signed")
    if any(name not in received for name in signed):
        return Verdict(False, "a signed header is missing")
    tokens = received.get("x-amz-security-token", [])
    if credentials.session_token is None:
        if tokens:
            return Verdict(False, "unexpected session token")
    elif (
        len(tokens) != 1
        or "x-amz-security-token" not in signed
        or not spec.same(tokens[0], credentials.session_token)
    ):
        return Verdict(False, "session token missing, unsigned or wrong")

    if signed != sorted(set(signed)) or any(name != name.lower() for name in signed):
        return Verdict(False, "SignedHeaders is not in canonical form")
    # Repeated headers sign as one line, their values joined by commas.
    values = {name: ",".join(received[name]) for name in signed}
    # The scheme does not enter the canonical request; https is what clients sign.
    route, _, query = path.partition("?")
    canonical = spec.canonical_request(method, route, query, values, signed, b"")
    expected = spec.signature(
        spec.signing_key(credentials.secret_key, day, region, service),
        spec.string_to_sign(dates[0], "/".join(scope[1:]), canonical),
    )
    if not spec.same(fields["Signature"], expected):
        return Verdict(False, "signature does not match")
    return ACCEPTED


class SigV4Server(VerifyingServer):
    """A WebSocket server whose handshakes must be SigV4-signed for :attr:`credentials`."""

    refusal = HTTPStatus.FORBIDDEN
    thread_name = "local-sigv4-server"

    def __init__(
        self,
        credentials: LocalAWSCredentials,
        *,
        region: str = "us-east-1",
        service: str = SERVICE,
        clock: Callable[[], datetime.datetime] = _utc_now,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.credentials = credentials
        self.region = region
        self.service = service
        self.clock = clock
        self._clock = clock
        self.verdicts: list[Verdict] = []

    def reset(self) -> None:
        """Forget records; back to the constructor's clock."""
        super().reset()
        with self._lock:
            self.clock = self._clock
            self.verdicts.clear()

    def verify(self, request: Request) -> bool:
        verdict = verify(
            "GET",
            request.path,
            request.headers.raw_items(),
            credentials=self.credentials,
            region=self.region,
            service=self.service,
            now=self.clock(),
        )
        with self._lock:
            self.verdicts.append(verdict)
        return verdict.ok
