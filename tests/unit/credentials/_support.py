"""Shared fixtures for the credential modes: a recording secret reader and a deadline."""

from __future__ import annotations

from collections.abc import Mapping

from ws_exchange.credentials import CredentialMode, SecretValue, load_mode
from ws_exchange.deadline import Deadline

URI = "wss://stream.example.com/v1"


class Secrets:
    """A ``read_secret`` that serves queued texts and records each call's ``refresh``.

    The first text is what the cache holds; ``refresh=True`` (or the first read) pops the
    next one, as if Secrets Manager answered with the current value.
    """

    def __init__(self, *texts: str, cached: bool = False) -> None:
        self._texts = list(texts)
        self._current: str | None = self._texts.pop(0) if cached else None
        self.calls: list[bool] = []

    def __call__(self, refresh: bool) -> SecretValue:
        self.calls.append(refresh)
        if refresh or self._current is None:
            self._current = self._texts.pop(0)
            return SecretValue(self._current, fresh=True)
        return SecretValue(self._current, fresh=False)


def deadline(seconds: float = 60.0) -> Deadline:
    return Deadline(seconds, margin=0.0)


def mode(
    environ: Mapping[str, str], uri: str = URI, allow_insecure: bool = False
) -> CredentialMode:
    return load_mode(environ, uri=uri, allow_insecure=allow_insecure)
