"""The AWS Parameters and Secrets Lambda Extension's HTTP API on 127.0.0.1, in front of moto.

In Lambda the extension is a layer listening on ``localhost:2773``; the
function asks it ``GET /secretsmanager/get?secretId=<id>`` with the header
``X-Aws-Parameters-Secrets-Token: $AWS_SESSION_TOKEN``. This emulator answers
the same request the same way:

- a missing or wrong token header: 401, before Secrets Manager is asked;
- a known secret: 200 and ``GetSecretValue``'s JSON document (``ARN``, ``Name``,
  ``VersionId``, ``SecretString`` or base64 ``SecretBinary``, ``VersionStages``,
  ``CreatedDate``);
- a Secrets Manager error: its HTTP status, and a body naming its error code
  (``{"__type": "ResourceNotFoundException", "message": ...}``);
- no ``secretId``: 400; any other path: 404.

Each request is forwarded to the local moto server (:mod:`local_stack.aws.secrets_manager`)
through boto3, so denials configured there (``LocalSecretsManager.deny``) and
its ``GetSecretValue`` counter apply. Unlike the real extension it keeps no
cache of its own, as the template configures the real one
(``PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED=false``). :attr:`calls` counts
the requests it served. Dev-only, never deployed.
"""

from __future__ import annotations

import base64
import hmac
import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
from botocore.exceptions import ClientError

from local_stack.aws.secrets_manager import DUMMY_CREDENTIALS, REGION
from local_stack.background import BackgroundServer

TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"
PATH = "/secretsmanager/get"


class LocalSecretsExtension:
    """The extension's API on ``127.0.0.1:port`` (0: a free port), in a background thread.

    ``endpoint_url`` is the Secrets Manager server it forwards to (the local
    moto server's ``endpoint_url``); ``session_token`` is the value the token
    header must carry, the function's ``AWS_SESSION_TOKEN``.
    """

    def __init__(self, endpoint_url: str, session_token: str, *, port: int = 0) -> None:
        self.endpoint_url = endpoint_url
        self.session_token = session_token
        self.calls = 0
        self._port = port
        self._lock = threading.Lock()
        self._client: Any = None
        self._server: ThreadingHTTPServer | None = None
        self._background: BackgroundServer | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.server_address[1])

    @property
    def environment(self) -> dict[str, str]:
        """What the function needs to read secrets through this emulator."""
        return {
            "SECRETS_SOURCE": "extension",
            "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(self.port),
            "AWS_SESSION_TOKEN": self.session_token,
        }

    def start(self) -> LocalSecretsExtension:
        self._client = boto3.client(
            "secretsmanager",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), self._handler_class())
        self._server.daemon_threads = True
        self._background = BackgroundServer(self._server, "local-secrets-extension")
        return self

    def stop(self) -> None:
        if self._background is not None:
            self._background.stop()

    def __enter__(self) -> LocalSecretsExtension:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def answer(self, path: str, token: str | None) -> tuple[int, dict[str, Any]]:
        """The status and JSON document the extension answers ``GET path``."""
        url = urlsplit(path)
        if url.path != PATH:
            return HTTPStatus.NOT_FOUND, {"message": "not found"}
        if token is None or not hmac.compare_digest(token.encode(), self.session_token.encode()):
            return HTTPStatus.UNAUTHORIZED, {"message": "missing or invalid token header"}
        secret_ids = parse_qs(url.query).get("secretId")
        if not secret_ids or not secret_ids[0]:
            return HTTPStatus.BAD_REQUEST, {"message": "secretId is required"}
        with self._lock:
            self.calls += 1
        try:
            value = self._client.get_secret_value(SecretId=secret_ids[0])
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400)
            return status, {"__type": error.get("Code", ""), "message": error.get("Message", "")}
        document: dict[str, Any] = {
            "ARN": value["ARN"],
            "Name": value["Name"],
            "VersionId": value["VersionId"],
            "VersionStages": value.get("VersionStages", []),
            "CreatedDate": value["CreatedDate"].timestamp(),
        }
        if "SecretString" in value:
            document["SecretString"] = value["SecretString"]
        if "SecretBinary" in value:
            document["SecretBinary"] = base64.b64encode(value["SecretBinary"]).decode("ascii")
        return HTTPStatus.OK, document

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        extension = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, document = extension.answer(self.path, self.headers.get(TOKEN_HEADER))
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                # One line per request on stderr would drown the tests' output.
                pass

        return Handler
