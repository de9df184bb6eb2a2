"""none mode: the handshake as configured, no secret read."""

from __future__ import annotations

from ws_exchange.credentials import Handshake, SecretValue

from ._support import URI, deadline, mode


def test_nothing_is_added_no_secret_is_read_and_a_rejection_is_final() -> None:
    def read_secret(refresh: bool) -> SecretValue:
        raise AssertionError("none mode read the secret")

    handshake = Handshake(URI, (("Origin", "o"),), ("chat",))
    prepared = mode({"AUTH_MODE": "none"}).prepare(
        handshake, read_secret, deadline(), refresh=False
    )
    assert prepared.handshake == handshake
    assert prepared.credentials == ()
    assert prepared.fresh is True
