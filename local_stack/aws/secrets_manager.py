"""moto's Secrets Manager as a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

import boto3
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from local_stack.background import BackgroundServer

REGION = "us-east-1"
# moto accepts any credentials; these only keep botocore from looking further.
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Gate:
    """WSGI middleware in front of moto: counts GetSecretValue calls and
    answers AccessDeniedException for chosen secrets, since moto does not
    enforce IAM."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.denied: set[str] = set()
        self.get_secret_value_calls = 0
        self._lock = threading.Lock()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET") == "secretsmanager.GetSecretValue":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = _Replay(body)
            with self._lock:
                self.get_secret_value_calls += 1
            secret_id = json.loads(body or b"{}").get("SecretId")
            if secret_id in self.denied:
                payload = json.dumps(
                    {"__type": "AccessDeniedException", "message": "not authorized"}
                ).encode()
                start_response(
                    "400 Bad Request",
                    [
                        ("Content-Type", "application/x-amz-json-1.1"),
                        ("Content-Length", str(len(payload))),
                    ],
                )
                return [payload]
        return self.app(environ, start_response)


class _Replay:
    def __init__(self, body: bytes) -> None:
        self._body = body
        self._offset = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._body) if size is None or size < 0 else self._offset + size
        chunk = self._body[self._offset : end]
        self._offset += len(chunk)
        return chunk


class LocalSecretsManager:
    """A moto server on 127.0.0.1 (a free port unless ``port`` is given), in a
    background thread."""

    def __init__(self, *, port: int = 0) -> None:
        self.port = port
        self._gate = _Gate(DomainDispatcherApplication(create_backend_app))
        self._server: BaseWSGIServer | None = None
        self._background: BackgroundServer | None = None

    @property
    def endpoint_url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def environment(self) -> dict[str, str]:
        """What a process needs to reach this server through boto3."""
        return {
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": self.endpoint_url,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            **DUMMY_CREDENTIALS,
        }

    @property
    def get_secret_value_calls(self) -> int:
        return self._gate.get_secret_value_calls

    def deny(self, secret_id: str) -> None:
        """Answer AccessDeniedException for ``secret_id`` from now on."""
        self._gate.denied.add(secret_id)

    def start(self) -> LocalSecretsManager:
        self._server = make_server("127.0.0.1", self.port, self._gate, threaded=True)
        self._background = BackgroundServer(self._server, "local-secrets-manager")
        return self

    def stop(self) -> None:
        if self._background is not None:
            self._background.stop()

    def __enter__(self) -> LocalSecretsManager:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self) -> Any:
        """A boto3 Secrets Manager client for this server."""
        return boto3.client(
            "secretsmanager",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def put_secret(self, name: str, value: str | bytes) -> str:
        """Create ``name`` or give it a new current value; return its ARN."""
        return put_secret(self.client(), name, value)


def put_secret(client: Any, name: str, value: str | bytes) -> str:
    """Create ``name`` through a boto3 Secrets Manager ``client``, or give it a new
    current value; return its ARN."""
    kind = "SecretBinary" if isinstance(value, bytes) else "SecretString"
    try:
        return str(client.create_secret(Name=name, **{kind: value})["ARN"])
    except client.exceptions.ResourceExistsException:
        return str(client.put_secret_value(SecretId=name, **{kind: value})["ARN"])
