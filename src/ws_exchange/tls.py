"""TLS contexts for ``wss://`` (placeholder until mutual TLS lands). I/O at the edge."""

from __future__ import annotations

import functools
import ssl


@functools.cache
def default_context() -> ssl.SSLContext:
    """The default, verifying TLS context, built once: loading the CA store
    costs milliseconds that every warm invocation would otherwise pay."""
    return ssl.create_default_context()
