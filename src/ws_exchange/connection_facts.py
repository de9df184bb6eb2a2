"""What the connection showed: the handshake's answer, TLS, the close. Pure logic.

Built from what websockets and ssl report, for the result's ``connection`` and
the expectations. Header values that carry credentials never appear: the
authentication headers by name, and any value holding a credential the function
knows (a server echoing the token) through the scrubber.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from .redaction import REDACTED, scrubber

# Headers whose values are credentials or a server's session, whatever they hold.
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "www-authenticate",
        "proxy-authenticate",
        "x-api-key",
        "x-amz-security-token",
    }
)

# The attribute names ssl reports, as distinguished names write them.
_SHORT_NAMES = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "localityName": "L",
    "stateOrProvinceName": "ST",
    "emailAddress": "E",
    "domainComponent": "DC",
}
_SECONDS_PER_DAY = 86400


def handshake_facts(status: int, headers: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """``status`` and ``headers`` (lower-case names, credentials redacted)."""
    shown: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        value = REDACTED if key in SECRET_HEADERS else scrubber.scrub_text(value)
        shown[key] = f"{shown[key]}, {value}" if key in shown else value
    return {"status": status, "headers": shown}


def tls_facts(
    ssl_object: ssl.SSLObject | None, now: datetime | None = None
) -> dict[str, Any] | None:
    """The TLS version, cipher and the server's leaf certificate; None without TLS."""
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    return {
        "version": ssl_object.version(),
        "cipher": cipher[0] if cipher else None,
        "certificate": certificate_facts(ssl_object.getpeercert(), now),
    }


def certificate_facts(
    certificate: dict[str, Any] | None, now: datetime | None = None
) -> dict[str, Any] | None:
    """Subject, issuer, expiry and days left of a certificate as ssl decodes it.

    ssl decodes a certificate only once it has verified it; without
    verification there is nothing to describe (None).
    """
    if not certificate or "notAfter" not in certificate:
        return None
    expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(certificate["notAfter"]), UTC)
    left = (expires - (now or datetime.now(UTC))).total_seconds()
    return {
        "subject": _distinguished_name(certificate.get("subject", ())),
        "issuer": _distinguished_name(certificate.get("issuer", ())),
        "not_after": expires.isoformat(),
        "days_left": int(left // _SECONDS_PER_DAY),
    }


def _distinguished_name(rdns: Iterable[Iterable[tuple[str, str]]]) -> str:
    """``CN=host, O=Org, C=US``: most specific first, as RFC 4514 writes it."""
    parts = [f"{_SHORT_NAMES.get(name, name)}={value}" for rdn in rdns for name, value in rdn]
    return ", ".join(reversed(parts))


def close_facts(code: int | None, reason: str, initiated_by: str) -> dict[str, Any]:
    """How the connection ended (1006: no close frame was exchanged)."""
    return {
        "code": 1006 if code is None else code,
        "reason": scrubber.scrub_text(reason),
        "initiated_by": initiated_by,
    }
