"""Every credential mode's local counterpart, started and stopped together
(I/O: servers on 127.0.0.1, ephemeral ports), for ``make demo`` and the tests.

=============================  =================================================
endpoint (``AUTH_MODE``)       counterpart
=============================  =================================================
``bearer``                     ``LocalWebSocketServer`` (websocket_server.py)
``header``                     ``HeaderKeyServer``, header ``X-API-Key``
``basic``                      ``BasicAuthServer``
``query``                      ``QueryKeyServer``, parameter ``api_key``
``subprotocol``                ``SubprotocolTokenServer``, Kubernetes style:
                               unpadded base64url after
                               ``base64url.bearer.authorization.k8s.io.``,
                               selects ``v4.channel.k8s.io``
``subprotocol_raw``            the same with the raw token after
                               ``openai-insecure-api-key.``, selects
                               ``realtime`` (``AUTH_MODE=subprotocol``)
``oauth2_client_credentials``  ``OAuth2ProtectedServer`` behind
                               :attr:`LocalCredentialStack.token_endpoint`
``sigv4``                      ``SigV4Server`` (sigv4_verifier.py), region
                               ``eu-west-1``, for :attr:`aws_credentials`
``message``                    ``AuthMessageServer``
``none``                       ``OpenServer``
``mtls``                       an ``OpenServer`` on ``wss://`` that requires a
                               client certificate from :attr:`pki`
                               (``AUTH_MODE=none``)
``cookie``                     ``CookieServer``, cookie ``session``
=============================  =================================================

For each endpoint, :meth:`~LocalCredentialStack.settings` gives the function's
variables apart from ``TOKEN_SECRET_ID`` /
``CLIENT_CERT_SECRET_ID``, and :meth:`~LocalCredentialStack.secret` the
SecretString to store for it. Every credential is random
per stack; :meth:`~LocalCredentialStack.rotate` replaces one on its server and
returns the new SecretString; :meth:`~LocalCredentialStack.reset` restores the
originals and clears records and faults.

Every server takes a free port unless ``ports`` (endpoint name -> port) and
``token_endpoint_port`` fix some, as ``python -m local_stack serve`` does so
that the env-vars files in ``events/`` can name them.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any

from local_stack.credentials import pki as pki_module
from local_stack.credentials.oauth2_server import LocalTokenEndpoint
from local_stack.credentials.servers import (
    K8S_CHANNEL,
    K8S_PREFIX,
    AuthMessageServer,
    BasicAuthServer,
    CookieServer,
    HeaderKeyServer,
    OAuth2ProtectedServer,
    OpenServer,
    QueryKeyServer,
    SubprotocolTokenServer,
    VerifyingServer,
)
from local_stack.credentials.sigv4_server import LocalAWSCredentials, SigV4Server
from local_stack.servers.websocket_server import LocalWebSocketServer

ENDPOINTS = (
    "bearer",
    "header",
    "basic",
    "query",
    "subprotocol",
    "subprotocol_raw",
    "oauth2_client_credentials",
    "sigv4",
    "message",
    "none",
    "mtls",
    # Last: each endpoint's fixed port (serve.py) follows its place here.
    "cookie",
)
API_KEY_HEADER = "X-API-Key"
QUERY_PARAM = "api_key"
SESSION_COOKIE = "session"
# OpenAI's realtime API carries its key this way: a raw token after a prefix.
RAW_PREFIX = "openai-insecure-api-key."
RAW_CHANNEL = "realtime"
SIGV4_REGION = "eu-west-1"
# What the function sends in ``message`` mode, and how it reads the answers.
AUTH_MESSAGE = {"type": "auth", "access_token": "{token}"}
AUTH_SUCCESS = "type == 'auth_ok'"
AUTH_FAILURE = "type == 'auth_invalid'"
# A path, so the function's URI handling (query appended after it) is exercised.
PATH = "/v1"


def _token() -> str:
    return secrets.token_urlsafe(32)


class LocalCredentialStack:
    """All counterparts, from :meth:`start` (or ``with``) until :meth:`stop`."""

    def __init__(
        self,
        *,
        aws_credentials: LocalAWSCredentials | None = None,
        sigv4_region: str = SIGV4_REGION,
        expires_in: int | None = 3600,
        ports: Mapping[str, int] | None = None,
        token_endpoint_port: int = 0,
    ) -> None:
        port = dict.fromkeys(ENDPOINTS, 0) | dict(ports or {})
        if unknown := set(port) - set(ENDPOINTS):
            raise KeyError(f"no such endpoints: {sorted(unknown)}")
        self.pki = pki_module.generate()
        self.aws_credentials = aws_credentials or LocalAWSCredentials(
            access_key="AKIA" + secrets.token_hex(8).upper(),
            secret_key=_token(),
            session_token=_token(),
        )
        self.sigv4_region = sigv4_region
        self.token_endpoint = LocalTokenEndpoint(
            "local-client-" + secrets.token_hex(4),
            _token(),
            expires_in=expires_in,
            port=token_endpoint_port,
        )
        self.bearer = LocalWebSocketServer(_token(), port=port["bearer"])
        self.header = HeaderKeyServer(_token(), header=API_KEY_HEADER, port=port["header"])
        self.basic = BasicAuthServer("local-user", _token(), port=port["basic"])
        self.query = QueryKeyServer(_token(), param=QUERY_PARAM, port=port["query"])
        self.subprotocol = SubprotocolTokenServer(
            _token(),
            prefix=K8S_PREFIX,
            encoding="base64url",
            subprotocols=(K8S_CHANNEL,),
            port=port["subprotocol"],
        )
        self.subprotocol_raw = SubprotocolTokenServer(
            _token(),
            prefix=RAW_PREFIX,
            encoding="raw",
            subprotocols=(RAW_CHANNEL,),
            port=port["subprotocol_raw"],
        )
        self.oauth2 = OAuth2ProtectedServer(
            self.token_endpoint, port=port["oauth2_client_credentials"]
        )
        self.sigv4 = SigV4Server(self.aws_credentials, region=sigv4_region, port=port["sigv4"])
        self.message = AuthMessageServer(_token(), port=port["message"])
        self.none = OpenServer(port=port["none"])
        self.mtls = OpenServer(ssl_context=self.pki.server_context(), port=port["mtls"])
        self.cookie = CookieServer(_token(), cookie=SESSION_COOKIE, port=port["cookie"])
        self._original = self._credentials()
        self._exit: ExitStack | None = None

    def start(self) -> LocalCredentialStack:
        with ExitStack() as stack:
            stack.enter_context(self.token_endpoint)
            for name in ENDPOINTS:
                stack.enter_context(self.endpoint(name))
            self._exit = stack.pop_all()
        return self

    def stop(self) -> None:
        if self._exit is not None:
            self._exit.close()
            self._exit = None

    def __enter__(self) -> LocalCredentialStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def endpoint(self, name: str) -> Any:
        """The server for an endpoint name of :data:`ENDPOINTS`."""
        attribute = {"oauth2_client_credentials": "oauth2"}.get(name, name)
        if name not in ENDPOINTS:
            raise KeyError(name)
        return getattr(self, attribute)

    def uri(self, name: str) -> str:
        """The endpoint's URI, with a path (:data:`PATH`) and no credential."""
        return str(self.endpoint(name).uri) + PATH

    @property
    def aws_environment(self) -> dict[str, str]:
        """The process variables that make the standard credential chain find
        :attr:`aws_credentials` (the function's "role" in ``sigv4`` mode)."""
        variables = {
            "AWS_ACCESS_KEY_ID": self.aws_credentials.access_key,
            "AWS_SECRET_ACCESS_KEY": self.aws_credentials.secret_key,
        }
        if self.aws_credentials.session_token is not None:
            variables["AWS_SESSION_TOKEN"] = self.aws_credentials.session_token
        return variables

    def settings(self, name: str) -> dict[str, str]:
        """The function's variables for an endpoint, except the secret ids."""
        mode = {"subprotocol_raw": "subprotocol", "mtls": "none"}.get(name, name)
        variables = {"AUTH_MODE": mode, "WEBSOCKET_URI": self.uri(name)}
        if name != "mtls":
            variables["ALLOW_INSECURE_WEBSOCKET"] = "true"
        if name == "header":
            variables["AUTH_HEADER"] = self.header.header
        elif name == "query":
            variables["AUTH_QUERY_PARAM"] = self.query.param
        elif name == "cookie":
            variables["AUTH_COOKIE"] = self.cookie.cookie
        elif name in ("subprotocol", "subprotocol_raw"):
            server: SubprotocolTokenServer = self.endpoint(name)
            variables.update(
                AUTH_SUBPROTOCOL_PREFIX=server.prefix,
                AUTH_SUBPROTOCOL_ENCODING=server.encoding,
                SUBPROTOCOLS=",".join(server.subprotocols),
            )
        elif name == "oauth2_client_credentials":
            variables.update(
                OAUTH2_TOKEN_URL=self.token_endpoint.token_url,
                OAUTH2_CLIENT_AUTH="client_secret_basic",
            )
        elif name == "sigv4":
            variables.update(SIGV4_REGION=self.sigv4.region, SIGV4_SERVICE=self.sigv4.service)
        elif name == "message":
            variables.update(
                AUTH_MESSAGE=json.dumps(AUTH_MESSAGE),
                AUTH_SUCCESS=AUTH_SUCCESS,
                AUTH_FAILURE=AUTH_FAILURE,
            )
        return variables

    def secret(self, name: str) -> str | None:
        """The SecretString for ``TOKEN_SECRET_ID``; None where the mode needs none."""
        credentials = self._credentials()
        if name not in credentials:
            if name not in ENDPOINTS:
                raise KeyError(name)
            return None
        value = credentials[name]
        if name == "basic":
            return json.dumps({"username": self.basic.username, "password": value})
        if name == "oauth2_client_credentials":
            return json.dumps({"client_id": self.token_endpoint.client_id, "client_secret": value})
        return json.dumps({"token": value})

    def client_certificate_secret(self, *, encrypted: bool = False, trusted: bool = True) -> str:
        """The SecretString for ``CLIENT_CERT_SECRET_ID`` (``mtls``): the trusted
        client certificate (its key encrypted if ``encrypted``), or one from a CA
        the server does not trust."""
        shape = self.pki.client_secret(encrypted=encrypted)
        if not trusted:
            shape.update(
                certificate=self.pki.untrusted_client_cert_pem,
                private_key=self.pki.untrusted_client_key_pem,
            )
            shape.pop("passphrase", None)
        return json.dumps(shape)

    def rotate(self, name: str) -> str:
        """Give an endpoint a new credential; returns its new SecretString."""
        fresh = _token()
        self._assign(name, fresh)
        secret = self.secret(name)
        assert secret is not None
        return secret

    def reset(self) -> None:
        """Original credentials, no faults, no records, no issued access tokens."""
        for name, value in self._original.items():
            self._assign(name, value)
        self.token_endpoint.reset()
        for name in ENDPOINTS:
            server = self.endpoint(name)
            if isinstance(server, VerifyingServer):
                server.reset()
            else:
                server.scheme = "Bearer"
                server.redirect_to = None
                server.handshakes.clear()
                server.messages.clear()

    def _credentials(self) -> dict[str, str]:
        return {
            "bearer": self.bearer.token,
            "header": self.header.key,
            "basic": self.basic.password,
            "query": self.query.key,
            "subprotocol": self.subprotocol.token,
            "subprotocol_raw": self.subprotocol_raw.token,
            "oauth2_client_credentials": self.token_endpoint.client_secret,
            "message": self.message.token,
            "cookie": self.cookie.token,
        }

    def _assign(self, name: str, value: str) -> None:
        if name == "oauth2_client_credentials":
            self.token_endpoint.client_secret = value
            return
        if name not in self._original:
            raise KeyError(f"{name} has no rotatable credential")
        server = self.endpoint(name)
        attribute = {"header": "key", "query": "key", "basic": "password"}.get(name, "token")
        setattr(server, attribute, value)
