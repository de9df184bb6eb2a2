"""TLS contexts for ``wss://``: the default verifying one, and one with a client certificate.

Mutual TLS (``CLIENT_CERT_SECRET_ID``) works with every ``AUTH_MODE``, so it is not a
mode: :func:`client_context` builds the :class:`ssl.SSLContext` passed to websockets'
``connect(ssl=...)`` from the secret's JSON ``{"certificate": "<PEM chain>",
"private_key": "<PEM>", "passphrase": "<optional>", "ca_bundle": "<optional PEM>"}``.
The ``ca_bundle`` is trusted in addition to the system CAs; verification stays on.

The private key never touches a persistent disk. Python's :mod:`ssl` loads a certificate
chain from files only (``SSLContext.load_cert_chain``), so the PEM text is written to
anonymous memory files (:func:`os.memfd_create`, Linux, the Lambda runtime's OS): they
have no name in any file system, live in RAM (Lambda has no swap) and vanish when the
descriptor is closed, right after OpenSSL has read them through ``/proc/self/fd``. A file
under ``/tmp`` would sit on the environment's ephemeral storage for its whole life, and
could survive a crash between write and unlink.

Building a context parses PEM and loads the system CAs (milliseconds): the caller
builds a client context again only when the secret was fetched again, and
:func:`default_context` is built once per process. I/O only on the memory files.
"""

from __future__ import annotations

import contextlib
import functools
import os
import ssl
from collections.abc import Iterator

from .credentials import secret_object
from .errors import SecretInvalid

_WHAT = "The client-certificate secret (CLIENT_CERT_SECRET_ID)"


@functools.cache
def default_context() -> ssl.SSLContext:
    """The default, verifying TLS context, built once: loading the CA store costs
    milliseconds that every warm invocation would otherwise pay."""
    return ssl.create_default_context()


def client_context(secret_text: str) -> ssl.SSLContext:
    """A verifying TLS context that presents the client certificate in ``secret_text``.

    Raises:
        SecretInvalid: the secret is not the JSON above, or its certificate, key,
            passphrase or CA bundle cannot be loaded. Messages never quote the secret.
    """
    fields = secret_object(
        secret_text, ("certificate", "private_key"), ("passphrase", "ca_bundle"), what=_WHAT
    )
    if "-----BEGIN" not in fields["certificate"]:
        raise SecretInvalid(f"{_WHAT}'s certificate is not PEM text.")
    if "-----BEGIN" not in fields["private_key"]:
        raise SecretInvalid(f"{_WHAT}'s private_key is not PEM text.")
    context = ssl.create_default_context()
    ca_bundle = fields.get("ca_bundle")
    if ca_bundle:
        try:
            context.load_verify_locations(cadata=ca_bundle)
        except (ssl.SSLError, ValueError):
            raise SecretInvalid(f"{_WHAT}'s ca_bundle holds no valid PEM certificate.") from None
    passphrase = fields.get("passphrase") or ""
    # A callable, never None: without a password OpenSSL would prompt on the terminal
    # for an encrypted key. An empty answer makes an encrypted key fail to load instead.
    try:
        password = passphrase.encode()
    except UnicodeEncodeError:
        raise SecretInvalid(f"{_WHAT}'s passphrase is not text.") from None
    try:
        certificate = fields["certificate"].encode()
        key = fields["private_key"].encode()
    except UnicodeEncodeError:
        raise SecretInvalid(f"{_WHAT}'s certificate or private_key is not text.") from None
    with (
        _memory_file("client-certificate", certificate) as certfile,
        _memory_file("client-key", key) as keyfile,
    ):
        try:
            context.load_cert_chain(certfile, keyfile, password=lambda: password)
        except ssl.SSLError:
            raise SecretInvalid(
                f"{_WHAT}'s certificate and private_key could not be loaded: check that "
                "they are PEM, that the key matches the certificate, and the passphrase."
            ) from None
    return context


@contextlib.contextmanager
def _memory_file(name: str, data: bytes) -> Iterator[str]:
    """An anonymous in-memory file holding ``data``, as a path OpenSSL can open."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    try:
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)
