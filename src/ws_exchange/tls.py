"""TLS contexts for ``wss://``: the verifying one, and one with a client certificate.

``CA_BUNDLE`` names a PEM file packaged with the function (a path relative to the
package root, ``LAMBDA_TASK_ROOT``) whose certificates every context trusts in addition
to the system's, for servers behind a private CA: :func:`ca_bundle_path` checks the
path, :func:`server_context` loads it, once per path.

Mutual TLS (``CLIENT_CERT_SECRET_ID``) works with every ``AUTH_MODE``, so it is not a
mode: :func:`client_context` builds the :class:`ssl.SSLContext` passed to websockets'
``connect(ssl=...)`` from the secret's JSON ``{"certificate": "<PEM chain>",
"private_key": "<PEM>", "passphrase": "<optional>", "ca_bundle": "<optional PEM>"}``.
The ``ca_bundle`` is trusted in addition to the system CAs; verification stays on.

The private key never touches a persistent disk in Lambda. Python's :mod:`ssl` loads a
certificate chain from files only (``SSLContext.load_cert_chain``), so the PEM text is
written to anonymous memory files (:func:`os.memfd_create`, Linux, the Lambda runtime's
OS): they have no name in any file system, live in RAM (Lambda has no swap) and vanish
when the descriptor is closed, right after OpenSSL has read them through
``/proc/self/fd``. A file under ``/tmp`` would sit on the environment's ephemeral storage
for its whole life, and could survive a crash between write and unlink.

Where there are no memory files (macOS, where the function runs only for local
development), the PEM text goes to a private directory (mode 0700, the key file created
0600 before anything is written to it) on ``/dev/shm`` when that RAM file system
exists, else in the system's temporary directory, and both are removed as soon as
OpenSSL has read them, whether it accepted them or not.

Building a context parses PEM and loads the system CAs (milliseconds): the caller
builds a client context again only when the secret was fetched again, and
:func:`default_context` and :func:`server_context` are built once per process. I/O only
on the ``CA_BUNDLE`` file and the files handed to OpenSSL.
"""

from __future__ import annotations

import contextlib
import functools
import os
import ssl
from collections.abc import Iterator
from pathlib import Path, PurePath

from .credentials import secret_object
from .errors import ConfigError, SecretInvalid

_WHAT = "The client-certificate secret (CLIENT_CERT_SECRET_ID)"
# Where the deployment package is unpacked when LAMBDA_TASK_ROOT is not set (a local
# run): the directory holding this package, as /var/task holds it in Lambda.
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
# A RAM file system on most Linux systems; macOS has none.
# Only a parent for mkdtemp's private, unpredictable directory, never a fixed name.
_SHARED_MEMORY = Path("/dev/shm")  # noqa: S108


@functools.cache
def default_context() -> ssl.SSLContext:
    """The default, verifying TLS context, built once: loading the CA store costs
    milliseconds that every warm invocation would otherwise pay."""
    return ssl.create_default_context()


def ca_bundle_path(value: str, package_root: str | None = None) -> str:
    """The absolute path of ``CA_BUNDLE``'s file, inside the package root.

    Raises:
        ConfigError: the path is absolute, climbs out with ``..``, or (through a
            symbolic link) leads outside the package root.
    """
    relative = PurePath(value)
    if relative.is_absolute() or relative.drive:
        raise ConfigError(
            "CA_BUNDLE must be a path relative to the function's package root "
            "(e.g. certs/ca.pem), not an absolute path."
        )
    if ".." in relative.parts:
        raise ConfigError("CA_BUNDLE must name a file inside the function's package, without '..'.")
    root = Path(package_root or PACKAGE_ROOT).resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise ConfigError("CA_BUNDLE leads outside the function's package (a symbolic link).")
    return str(path)


@functools.cache
def server_context(ca_bundle: str | None) -> ssl.SSLContext:
    """The verifying TLS context, also trusting the certificates in the ``ca_bundle``
    file (an absolute path from :func:`ca_bundle_path`); built once per path.

    Raises:
        ConfigError: the file is missing, unreadable or holds no PEM certificate.
    """
    if ca_bundle is None:
        return default_context()
    context = ssl.create_default_context()
    _trust_bundle(context, ca_bundle)
    return context


def _trust_bundle(context: ssl.SSLContext, ca_bundle: str) -> None:
    try:
        pem = Path(ca_bundle).read_text(encoding="ascii")
    except FileNotFoundError:
        raise ConfigError(
            "CA_BUNDLE names no file in the function's package; put the PEM file under "
            "src/certs/ (packaged with the function) and name it relative to src/."
        ) from None
    except (OSError, UnicodeDecodeError):
        raise ConfigError("CA_BUNDLE cannot be read as a PEM text file.") from None
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise ConfigError("CA_BUNDLE holds no PEM certificate (-----BEGIN CERTIFICATE-----).")
    try:
        context.load_verify_locations(cadata=pem)
    except (ssl.SSLError, ValueError):
        raise ConfigError("CA_BUNDLE holds a PEM certificate that cannot be loaded.") from None


def client_context(secret_text: str, ca_bundle: str | None = None) -> ssl.SSLContext:
    """A verifying TLS context that presents the client certificate in ``secret_text``,
    trusting the ``ca_bundle`` file (``CA_BUNDLE``, as from :func:`ca_bundle_path`) too.

    Raises:
        SecretInvalid: the secret is not the JSON above, or its certificate, key,
            passphrase or CA bundle cannot be loaded. Messages never quote the secret.
        ConfigError: the ``ca_bundle`` file cannot be loaded (see :func:`server_context`).
    """
    fields = secret_object(
        secret_text, ("certificate", "private_key"), ("passphrase", "ca_bundle"), what=_WHAT
    )
    if "-----BEGIN" not in fields["certificate"]:
        raise SecretInvalid(f"{_WHAT}'s certificate is not PEM text.")
    if "-----BEGIN" not in fields["private_key"]:
        raise SecretInvalid(f"{_WHAT}'s private_key is not PEM text.")
    context = ssl.create_default_context()
    if ca_bundle is not None:
        _trust_bundle(context, ca_bundle)
    secret_bundle = fields.get("ca_bundle")
    if secret_bundle:
        try:
            context.load_verify_locations(cadata=secret_bundle)
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
    with _key_files(certificate, key) as (certfile, keyfile):
        try:
            context.load_cert_chain(certfile, keyfile, password=lambda: password)
        except ssl.SSLError:
            raise SecretInvalid(
                f"{_WHAT}'s certificate and private_key could not be loaded: check that "
                "they are PEM, that the key matches the certificate, and the passphrase."
            ) from None
    return context


@contextlib.contextmanager
def _key_files(certificate: bytes, key: bytes) -> Iterator[tuple[str, str]]:
    """Paths OpenSSL can open holding ``certificate`` and ``key``, gone on exit."""
    if _has_memory_files():
        with (
            _memory_file("client-certificate", certificate) as certfile,
            _memory_file("client-key", key) as keyfile,
        ):
            yield certfile, keyfile
        return
    with _private_directory() as folder:
        yield (
            _private_file(folder, "client-certificate.pem", certificate),
            _private_file(folder, "client-key.pem", key),
        )


def _has_memory_files() -> bool:
    return hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd")


@contextlib.contextmanager
def _memory_file(name: str, data: bytes) -> Iterator[str]:
    """An anonymous in-memory file holding ``data``, as a path OpenSSL can open."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    try:
        _write_all(fd, data)
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


@contextlib.contextmanager
def _private_directory() -> Iterator[str]:
    """A directory only this user can enter (0700), in RAM when the system has
    ``/dev/shm``, removed with its files on exit."""
    # Imported here: only platforms without memory files come this way, never Lambda.
    import shutil
    import tempfile

    parent = str(_SHARED_MEMORY) if os.access(_SHARED_MEMORY, os.W_OK | os.X_OK) else None
    folder = tempfile.mkdtemp(prefix="ws-exchange-tls-", dir=parent)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _private_file(folder: str, name: str, data: bytes) -> str:
    """``data`` in a new file readable by this user only: 0600 from its creation,
    never following a link planted in its place."""
    path = os.path.join(folder, name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)
    return path


def _write_all(fd: int, data: bytes) -> None:
    written = 0
    while written < len(data):
        written += os.write(fd, data[written:])
