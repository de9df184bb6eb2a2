"""AWS Signature Version 4 for header-signed requests, recomputed from the
specification with :mod:`hashlib` and :mod:`hmac` only.

Pure logic, for local counterparts that must verify what a client signed
without sharing the client's signer (botocore, or a hand-written one), so a
mistake on either side cannot cancel out. The steps are those of AWS's
"Create a signed AWS API request" guide:

1. canonical request: method, URI-encoded path, sorted query, the signed
   headers as ``name:value`` lines (names lower-cased, values trimmed and
   inner runs of spaces collapsed), the ``SignedHeaders`` list, and the hex
   SHA-256 of the body;
2. string to sign: ``AWS4-HMAC-SHA256``, the ``X-Amz-Date``, the credential
   scope ``day/region/service/aws4_request`` and the hex SHA-256 of (1);
3. signing key: ``HMAC("AWS4" + secret, day)``, then region, service and
   ``aws4_request`` in turn;
4. signature: hex ``HMAC(key, string to sign)``.

:func:`verify` checks a request's headers against those steps and the one
set of credentials it knows; a :class:`Verdict` names the check that failed
and never quotes the credential.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote

ALGORITHM = "AWS4-HMAC-SHA256"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_SKEW = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class SigningCredentials:
    """The only AWS credentials a verifier accepts (static, as a test signs with)."""

    access_key: str
    secret_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Verdict:
    """Whether a signature holds, and if not which check failed."""

    ok: bool
    reason: str


ACCEPTED = Verdict(True, "signature verified")


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def _uri_encode(text: str, *, keep_slash: bool) -> str:
    # RFC 3986 unreserved characters stay; everything else is %XX, upper case.
    return quote(text, safe="-_.~/" if keep_slash else "-_.~")


def canonical_query(query: str) -> str:
    """The query string in canonical form: encoded pairs sorted by name, then value."""
    pairs = parse_qsl(query, keep_blank_values=True)
    encoded = sorted(
        (_uri_encode(name, keep_slash=False), _uri_encode(value, keep_slash=False))
        for name, value in pairs
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    body: bytes,
) -> str:
    """Step 1; ``headers`` maps lower-case names to values and holds every signed one."""
    lines = "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in signed_headers)
    return "\n".join(
        [
            method,
            _uri_encode(path or "/", keep_slash=True),
            canonical_query(query),
            lines,
            ";".join(signed_headers),
            _sha256_hex(body),
        ]
    )


def string_to_sign(amz_date: str, scope: str, request: str) -> str:
    """Step 2."""
    return "\n".join([ALGORITHM, amz_date, scope, _sha256_hex(request.encode())])


def signing_key(secret_key: str, day: str, region: str, service: str) -> bytes:
    """Step 3."""
    key = _hmac(f"AWS4{secret_key}".encode(), day)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def signature(key: bytes, to_sign: str) -> str:
    """Step 4."""
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def same(presented: str, expected: str) -> bool:
    return hmac.compare_digest(presented.encode(), expected.encode())


def authorization_fields(authorization: str) -> dict[str, str] | None:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != ALGORITHM:
        return None
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, equals, value = part.strip().partition("=")
        if not equals or name in fields:
            return None
        fields[name] = value
    if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        return None
    return fields


def verify(
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    credentials: SigningCredentials,
    region: str,
    service: str,
    now: datetime.datetime,
    query: str = "",
) -> Verdict:
    """Check the SigV4 ``Authorization`` among ``headers`` (any name case) for ``body``."""
    received: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in received:
            return Verdict(False, f"header {name.lower()} appears twice")
        received[name.lower()] = value

    authorization = received.get("authorization")
    if authorization is None:
        return Verdict(False, "no Authorization header")
    fields = authorization_fields(authorization)
    if fields is None:
        return Verdict(False, "Authorization is not an AWS4-HMAC-SHA256 signature")

    amz_date = received.get("x-amz-date")
    if amz_date is None:
        return Verdict(False, "no X-Amz-Date header")
    return verify_signed(
        method,
        path,
        query,
        body,
        fields,
        received,
        credentials=credentials,
        region=region,
        service=service,
        now=now,
    )


def verify_signed(
    method: str,
    path: str,
    query: str,
    body: bytes,
    fields: Mapping[str, str],
    received: Mapping[str, str],
    *,
    credentials: SigningCredentials,
    region: str,
    service: str,
    now: datetime.datetime,
) -> Verdict:
    """Check a request once its headers are read: ``fields`` of its Authorization,
    ``received`` its headers by lower-case name (X-Amz-Date among them), each once."""
    amz_date = received["x-amz-date"]
    try:
        signed_at = datetime.datetime.strptime(amz_date, TIMESTAMP_FORMAT).replace(
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
    if not same(access_key, credentials.access_key):
        return Verdict(False, "unknown access key")
    if (day, scope_region, scope_service, terminator) != (
        amz_date[:8],
        region,
        service,
        "aws4_request",
    ):
        return Verdict(False, "credential scope names another day, region or service")

    signed = fields["SignedHeaders"].split(";")
    if signed != sorted(set(signed)) or any(name != name.lower() for name in signed):
        return Verdict(False, "SignedHeaders is not in canonical form")
    if "host" not in signed or "x-amz-date" not in signed:
        return Verdict(False, "Host and X-Amz-Date must be signed")
    if any(name not in received for name in signed):
        return Verdict(False, "a signed header is missing")
    token = received.get("x-amz-security-token")
    if credentials.session_token is None:
        if token is not None:
            return Verdict(False, "unexpected session token")
    elif (
        token is None
        or "x-amz-security-token" not in signed
        or not same(token, credentials.session_token)
    ):
        return Verdict(False, "session token missing, unsigned or wrong")

    request = canonical_request(method, path, query, received, signed, body)
    expected = signature(
        signing_key(credentials.secret_key, day, region, service),
        string_to_sign(amz_date, "/".join(scope[1:]), request),
    )
    if not same(fields["Signature"], expected):
        return Verdict(False, "signature does not match")
    return ACCEPTED
