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
    # Repeated headers sign as one line, their values joined by commas.
    values = {name: ",".join(each) for name, each in received.items()}
    # The scheme does not enter the canonical request; https is what clients sign.
    route, _, query = path.partition("?")
    return spec.verify_signed(
        method,
        route,
        query,
        b"",
        fields,
        values,
        credentials=credentials,
        region=region,
        service=service,
        now=now,
    )


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
