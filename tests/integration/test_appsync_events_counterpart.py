"""The local AppSync Events realtime counterpart, met by websockets' own client
before any preset relies on it.

Signatures come from a signer written here from AWS's SigV4 guide (hashlib and
hmac, checked against AWS's published ``get-vanilla`` vector), not from the
counterpart's verifier, and once from botocore's ``SigV4Auth`` used exactly as
amplify-js signs, so the counterpart is shown to accept AWS-style signatures.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from local_stack.aws.appsync_events import (
    ApiKeyAuth,
    Behaviour,
    IamAuth,
    LocalAppSyncEvents,
    Moment,
    TokenAuth,
)
from local_stack.aws.sigv4 import SigningCredentials, verify

HTTP_HOST = "example123example123example1.appsync-api.eu-west-1.amazonaws.com"
REGION = "eu-west-1"
API_KEY = "da2-localexamplekey0000000000"
TOKEN = "eyJ.local-token.sig"
ACCESS_KEY = "AKIDLOCALEXAMPLE"
SECRET_KEY = "local/secret+key/EXAMPLE"
SESSION_TOKEN = "local-session-token//EXAMPLE="
# What amplify-js signs besides host and x-amz-date (AWS_APPSYNC_REALTIME_HEADERS).
AMPLIFY_HEADERS = {
    "accept": "application/json, text/javascript",
    "content-encoding": "amz-1.0",
    "content-type": "application/json; charset=UTF-8",
}
WAIT_SECONDS = 5
# How long a test listens for a message that must not come.
SILENCE_SECONDS = 0.3
CLOSE_CODES = (4400, 4401, 4403, 4409, 4429)
# AWS's SigV4 test suite, "get-vanilla": GET / on example.amazonaws.com.
GET_VANILLA_SIGNATURE = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"


# A SigV4 signer written from AWS's guide, independent of the counterpart ---


def _hmac_sha256(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def spec_signature(
    *,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    secret_key: str,
    region: str,
    service: str,
) -> tuple[str, str]:
    """``(SignedHeaders, Signature)`` over every header given (names lower case)."""
    names = sorted(headers)
    canonical = "\n".join(
        [
            method,
            path,
            "",
            "".join(f"{name}:{headers[name].strip()}\n" for name in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    amz_date = headers["x-amz-date"]
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + secret_key).encode()
    for part in (amz_date[:8], region, service, "aws4_request"):
        key = _hmac_sha256(key, part)
    return ";".join(names), hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def iam_authorization(
    body: bytes,
    *,
    secret_key: str = SECRET_KEY,
    session_token: str | None = None,
    when: datetime.datetime | None = None,
    host: str = HTTP_HOST,
) -> dict[str, str]:
    """The authorization object amplify-js sends: its signed request's headers."""
    when = when or datetime.datetime.now(datetime.UTC)
    headers = {
        **AMPLIFY_HEADERS,
        "host": host,
        "x-amz-date": when.strftime("%Y%m%dT%H%M%SZ"),
    }
    if session_token is not None:
        headers["x-amz-security-token"] = session_token
    signed, signature = spec_signature(
        method="POST",
        path="/event",
        headers=headers,
        body=body,
        secret_key=secret_key,
        region=REGION,
        service="appsync",
    )
    scope = f"{headers['x-amz-date'][:8]}/{REGION}/appsync/aws4_request"
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}"
    )
    return headers


def js_json(value: Any) -> bytes:
    """``JSON.stringify(value)``: what AWS's clients sign."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def test_the_spec_signer_reproduces_aws_published_get_vanilla_vector() -> None:
    signed, signature = spec_signature(
        method="GET",
        path="/",
        headers={"host": "example.amazonaws.com", "x-amz-date": "20150830T123600Z"},
        body=b"",
        secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        region="us-east-1",
        service="service",
    )
    assert signed == "host;x-amz-date"
    assert signature == GET_VANILLA_SIGNATURE


@pytest.mark.parametrize(
    ("signature", "accepted"),
    [(GET_VANILLA_SIGNATURE, True), (GET_VANILLA_SIGNATURE[::-1], False)],
)
def test_the_counterparts_verifier_checks_aws_published_get_vanilla_vector(
    signature: str, accepted: bool
) -> None:
    verdict = verify(
        "GET",
        "/",
        {
            "Host": "example.amazonaws.com",
            "X-Amz-Date": "20150830T123600Z",
            "Authorization": "AWS4-HMAC-SHA256 "
            "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            f"SignedHeaders=host;x-amz-date, Signature={signature}",
        },
        b"",
        credentials=SigningCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        region="us-east-1",
        service="service",
        now=datetime.datetime(2015, 8, 30, 12, 36, tzinfo=datetime.UTC),
    )
    assert verdict.ok is accepted


# A plain client ------------------------------------------------------------


def header_subprotocol(authorization: dict[str, str]) -> str:
    encoded = base64.urlsafe_b64encode(json.dumps(authorization).encode()).decode()
    return "header-" + encoded.rstrip("=")


@contextmanager
def socket_to(
    server: LocalAppSyncEvents, authorization: dict[str, str], **options: Any
) -> Iterator[ClientConnection]:
    subprotocols = options.pop(
        "subprotocols", ["aws-appsync-event-ws", header_subprotocol(authorization)]
    )
    with connect(
        server.uri, subprotocols=subprotocols, open_timeout=WAIT_SECONDS, **options
    ) as connection:
        yield connection


def send(connection: ClientConnection, message: dict[str, Any]) -> None:
    connection.send(json.dumps(message))


def receive(connection: ClientConnection, *, skip_ka: bool = True) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(connection.recv(timeout=WAIT_SECONDS))
        if not (skip_ka and message.get("type") == "ka"):
            return message


def assert_silent(connection: ClientConnection) -> None:
    with pytest.raises(TimeoutError):
        connection.recv(timeout=SILENCE_SECONDS)


def init(connection: ClientConnection) -> dict[str, Any]:
    send(connection, {"type": "connection_init"})
    return receive(connection)


def api_key_auth(key: str = API_KEY, host: str = HTTP_HOST) -> dict[str, str]:
    return {"host": host, "x-api-key": key}


def subscribe(
    connection: ClientConnection, channel: str, authorization: dict[str, str], id: str = "s1"
) -> dict[str, Any]:
    send(
        connection,
        {"type": "subscribe", "id": id, "channel": channel, "authorization": authorization},
    )
    return receive(connection)


def publish(
    connection: ClientConnection,
    channel: str,
    events: list[str],
    authorization: dict[str, str],
    id: str = "p1",
) -> None:
    send(
        connection,
        {
            "type": "publish",
            "id": id,
            "channel": channel,
            "events": events,
            "authorization": authorization,
        },
    )


@pytest.fixture(scope="module")
def api_key_server() -> Iterator[LocalAppSyncEvents]:
    with LocalAppSyncEvents(
        ApiKeyAuth(API_KEY), http_host=HTTP_HOST, keepalive_seconds=None
    ) as server:
        yield server


@pytest.fixture
def appsync(api_key_server: LocalAppSyncEvents) -> LocalAppSyncEvents:
    api_key_server.reset()
    return api_key_server


@contextmanager
def acked(server: LocalAppSyncEvents, **options: Any) -> Iterator[ClientConnection]:
    with socket_to(server, api_key_auth(), **options) as connection:
        assert init(connection)["type"] == "connection_ack"
        yield connection


# The protocol, done right ----------------------------------------------------


def test_api_key_subscribe_and_publish_round_trip(appsync: LocalAppSyncEvents) -> None:
    events = [json.dumps({"n": 1, "text": "é"}), json.dumps([1, 2])]
    with socket_to(appsync, api_key_auth()) as connection:
        assert connection.subprotocol == "aws-appsync-event-ws"
        assert init(connection) == {"type": "connection_ack", "connectionTimeoutMs": 300_000}
        assert subscribe(connection, "/default/room", api_key_auth()) == {
            "type": "subscribe_success",
            "id": "s1",
        }
        publish(connection, "/default/room", events, api_key_auth())
        first, second, ack = receive(connection), receive(connection), receive(connection)
    assert first == {"type": "data", "id": "s1", "event": events[0]}
    assert second == {"type": "data", "id": "s1", "event": events[1]}
    assert ack["type"] == "publish_success"
    assert ack["id"] == "p1"
    assert [item["index"] for item in ack["successful"]] == [0, 1]
    assert ack["failed"] == []


def test_connection_timeout_in_the_ack_is_configurable() -> None:
    with (
        LocalAppSyncEvents(
            ApiKeyAuth(API_KEY), http_host=HTTP_HOST, connection_timeout_ms=1234
        ) as server,
        socket_to(server, api_key_auth()) as connection,
    ):
        assert init(connection) == {"type": "connection_ack", "connectionTimeoutMs": 1234}


def test_keep_alives_follow_the_ack_at_the_configured_interval() -> None:
    with (
        LocalAppSyncEvents(
            ApiKeyAuth(API_KEY), http_host=HTTP_HOST, keepalive_seconds=0.02
        ) as server,
        socket_to(server, api_key_auth()) as connection,
    ):
        assert init(connection)["type"] == "connection_ack"
        kinds = [receive(connection, skip_ka=False)["type"] for _ in range(3)]
    assert kinds == ["ka", "ka", "ka"]


def test_without_keep_alives_nothing_follows_the_ack(appsync: LocalAppSyncEvents) -> None:
    with acked(appsync) as connection:
        assert_silent(connection)


def test_a_publish_reaches_a_subscriber_on_another_connection(
    appsync: LocalAppSyncEvents,
) -> None:
    with acked(appsync) as subscriber, acked(appsync) as publisher:
        assert subscribe(subscriber, "default/room", api_key_auth())["type"] == "subscribe_success"
        publish(publisher, "/default/room", ['"hello"'], api_key_auth())
        assert receive(publisher)["type"] == "publish_success"
        assert receive(subscriber) == {"type": "data", "id": "s1", "event": '"hello"'}


@pytest.mark.parametrize(
    ("subscription", "published", "delivered"),
    [
        ("/default/*", "/default/a", True),
        ("/default/*", "/default/a/b/c", True),
        ("/default/a/*", "/default/a", False),
        ("/default/a", "/default/a/b", False),
        ("/default/a", "/default/b", False),
        ("/default/a/", "/default/a", True),
    ],
)
def test_a_publish_reaches_only_matching_subscriptions(
    appsync: LocalAppSyncEvents, subscription: str, published: str, delivered: bool
) -> None:
    with acked(appsync) as connection:
        assert subscribe(connection, subscription, api_key_auth())["type"] == "subscribe_success"
        publish(connection, published, ["1"], api_key_auth())
        first = receive(connection)
        if delivered:
            assert first == {"type": "data", "id": "s1", "event": "1"}
            assert receive(connection)["type"] == "publish_success"
        else:
            assert first["type"] == "publish_success"
            assert_silent(connection)


def test_after_unsubscribe_no_data_arrives(appsync: LocalAppSyncEvents) -> None:
    with acked(appsync) as connection:
        subscribe(connection, "/default/room", api_key_auth())
        send(connection, {"type": "unsubscribe", "id": "s1"})
        assert receive(connection) == {"type": "unsubscribe_success", "id": "s1"}
        publish(connection, "/default/room", ["1"], api_key_auth())
        assert receive(connection)["type"] == "publish_success"
        assert_silent(connection)
        send(connection, {"type": "unsubscribe", "id": "s1"})
        refused = receive(connection)
    assert refused["type"] == "unsubscribe_error"
    assert refused["errors"][0]["errorType"] == "BadRequestException"


# Refusals ----------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        api_key_auth(key="da2-wrong"),
        api_key_auth(
            host="example123example123example1.appsync-realtime-api.eu-west-1.amazonaws.com"
        ),
        {"x-api-key": API_KEY},
    ],
    ids=["wrong key", "realtime host", "no host"],
)
def test_a_connection_with_a_wrong_authorization_gets_connection_error(
    appsync: LocalAppSyncEvents, authorization: dict[str, str]
) -> None:
    with socket_to(appsync, authorization) as connection:
        refusal = init(connection)
        with pytest.raises(ConnectionClosed):
            connection.recv(timeout=WAIT_SECONDS)
    assert refusal == {
        "type": "connection_error",
        "errors": [
            {
                "errorType": "UnauthorizedException",
                "message": "You are not authorized to make this call.",
                "errorCode": 401,
            }
        ],
    }


def test_a_header_subprotocol_that_is_not_base64url_json_is_a_bad_request(
    appsync: LocalAppSyncEvents,
) -> None:
    with socket_to(
        appsync, {}, subprotocols=["aws-appsync-event-ws", "header-bm90IGpzb24"]
    ) as connection:
        refusal = init(connection)
    assert refusal["type"] == "connection_error"
    assert refusal["errors"][0]["errorType"] == "BadRequestException"


def test_two_header_subprotocols_are_a_bad_request(appsync: LocalAppSyncEvents) -> None:
    header = header_subprotocol(api_key_auth())
    with socket_to(
        appsync, {}, subprotocols=["aws-appsync-event-ws", header, header + "x"]
    ) as connection:
        refusal = init(connection)
    assert refusal["type"] == "connection_error"
    assert refusal["errors"][0]["errorType"] == "BadRequestException"


def test_a_handshake_without_the_events_subprotocol_is_refused(
    appsync: LocalAppSyncEvents,
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(
            appsync.uri,
            subprotocols=[Subprotocol(header_subprotocol(api_key_auth()))],
            open_timeout=5,
        ).close()
    assert refused.value.response.status_code == 400


def test_each_subscribe_and_publish_is_authorized_on_its_own(
    appsync: LocalAppSyncEvents,
) -> None:
    with acked(appsync) as connection:
        refused = subscribe(connection, "/default/room", api_key_auth(key="da2-wrong"))
        publish(connection, "/default/room", ["1"], {"host": HTTP_HOST})
        unauthorized = receive(connection)
    assert refused["type"] == "subscribe_error"
    assert refused["errors"][0]["errorType"] == "UnauthorizedException"
    assert unauthorized["type"] == "publish_error"
    assert unauthorized["errors"][0]["errorType"] == "UnauthorizedException"


@pytest.mark.parametrize(
    ("channel", "events"),
    [
        ("/default/room", [str(n) for n in range(6)]),
        ("/default/room", []),
        ("/default/room", ["not json"]),
        ("/default/room", [{"not": "a string"}]),
        ("/default/*", ["1"]),
        ("/a/b/c/d/e/f", ["1"]),
        ("/default/bad segment", ["1"]),
    ],
    ids=["six events", "no event", "not JSON", "not a string", "wildcard", "six segments", "space"],
)
def test_a_malformed_publish_is_a_bad_request(
    appsync: LocalAppSyncEvents, channel: str, events: list[Any]
) -> None:
    with acked(appsync) as connection:
        publish(connection, channel, events, api_key_auth())
        refused = receive(connection)
    assert refused["type"] == "publish_error"
    assert refused["id"] == "p1"
    assert refused["errors"][0]["errorType"] == "BadRequestException"


def test_five_events_is_the_largest_publish(appsync: LocalAppSyncEvents) -> None:
    with acked(appsync) as connection:
        publish(connection, "/default/room", [str(n) for n in range(5)], api_key_auth())
        answer = receive(connection)
    assert answer["type"] == "publish_success"
    assert len(answer["successful"]) == 5


def test_subscribe_before_the_ack_is_an_error(appsync: LocalAppSyncEvents) -> None:
    with socket_to(appsync, api_key_auth()) as connection:
        answer = subscribe(connection, "/default/room", api_key_auth())
    assert answer["type"] == "error"
    assert answer["errors"][0]["errorType"] == "BadRequestException"


def test_a_duplicate_subscription_id_is_a_bad_request(appsync: LocalAppSyncEvents) -> None:
    with acked(appsync) as connection:
        subscribe(connection, "/default/a", api_key_auth())
        answer = subscribe(connection, "/default/b", api_key_auth())
    assert answer["type"] == "subscribe_error"
    assert answer["errors"][0]["errorType"] == "BadRequestException"


# Token and IAM authorization ---------------------------------------------


def test_token_authorization_compares_the_authorization_header() -> None:
    good = {"host": HTTP_HOST, "Authorization": TOKEN}
    with (
        LocalAppSyncEvents(TokenAuth(TOKEN), http_host=HTTP_HOST) as server,
        socket_to(server, good) as connection,
    ):
        assert init(connection)["type"] == "connection_ack"
        assert subscribe(connection, "/default/a", good)["type"] == "subscribe_success"
        wrong = subscribe(connection, "/default/b", {**good, "Authorization": "other"}, id="s2")
    assert wrong["type"] == "subscribe_error"
    assert wrong["errors"][0]["errorType"] == "UnauthorizedException"


@pytest.fixture
def iam_server() -> Iterator[LocalAppSyncEvents]:
    credentials = SigningCredentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)
    with LocalAppSyncEvents(
        IamAuth(credentials, region=REGION), http_host=HTTP_HOST, keepalive_seconds=None
    ) as server:
        yield server


def iam(body: bytes, **options: Any) -> dict[str, str]:
    return iam_authorization(body, session_token=SESSION_TOKEN, **options)


def test_iam_signed_connect_subscribe_and_publish(iam_server: LocalAppSyncEvents) -> None:
    channel, events = "/default/room", [json.dumps({"a": "ü/"})]
    with socket_to(iam_server, iam(b"{}")) as connection:
        assert init(connection)["type"] == "connection_ack"
        answer = subscribe(connection, channel, iam(js_json({"channel": channel})))
        assert answer == {"type": "subscribe_success", "id": "s1"}
        publish(connection, channel, events, iam(js_json({"channel": channel, "events": events})))
        assert receive(connection) == {"type": "data", "id": "s1", "event": events[0]}
        assert receive(connection)["type"] == "publish_success"
    assert all(verdict.ok for verdict in iam_server.verdicts)
    assert len(iam_server.verdicts) == 3


def test_iam_accepts_botocore_signatures_made_as_amplify_js_makes_them(
    iam_server: LocalAppSyncEvents,
) -> None:
    def botocore_authorization(body: bytes) -> dict[str, str]:
        request = AWSRequest(
            method="POST", url=f"https://{HTTP_HOST}/event", data=body, headers=AMPLIFY_HEADERS
        )
        credentials = Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)
        SigV4Auth(credentials, "appsync", REGION).add_auth(request)
        return {"host": HTTP_HOST, **dict(request.headers.items())}

    channel, events = "/default/room", ['{"n":1}']
    with socket_to(iam_server, botocore_authorization(b"{}")) as connection:
        assert init(connection)["type"] == "connection_ack"
        subscribed = subscribe(
            connection, channel, botocore_authorization(js_json({"channel": channel}))
        )
        assert subscribed["type"] == "subscribe_success"
        body = js_json({"channel": channel, "events": events})
        publish(connection, channel, events, botocore_authorization(body))
        assert receive(connection)["type"] == "data"
        assert receive(connection)["type"] == "publish_success"


@pytest.mark.parametrize(
    "authorization",
    [
        iam_authorization(b"{}", secret_key="wrong", session_token=SESSION_TOKEN),
        iam_authorization(b"{ }", session_token=SESSION_TOKEN),
        iam_authorization(b"{}"),
        iam_authorization(b"{}", session_token="other"),
        iam_authorization(
            b"{}",
            session_token=SESSION_TOKEN,
            when=datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=10),
        ),
        iam_authorization(b"{}", session_token=SESSION_TOKEN, host="other.example.com"),
    ],
    ids=["wrong secret", "other body", "no session token", "wrong token", "stale", "other host"],
)
def test_iam_refuses_a_connect_signature_that_does_not_hold(
    iam_server: LocalAppSyncEvents, authorization: dict[str, str]
) -> None:
    with socket_to(iam_server, authorization) as connection:
        refusal = init(connection)
    assert refusal["type"] == "connection_error"
    assert refusal["errors"][0]["errorType"] == "UnauthorizedException"
    assert not iam_server.verdicts[-1].ok


def test_iam_refuses_a_tampered_signed_header(iam_server: LocalAppSyncEvents) -> None:
    authorization = iam(b"{}")
    authorization["content-type"] = "text/plain"
    with socket_to(iam_server, authorization) as connection:
        assert init(connection)["type"] == "connection_error"
    assert iam_server.verdicts[-1].reason == "signature does not match"


@pytest.mark.parametrize(
    ("signed", "why"),
    [
        ({"channel": "/default/room", "events": []}, "events signed for a subscribe"),
        ({"channel": "/default/other"}, "another channel"),
        ({"channel": "default/room"}, "the channel rewritten"),
    ],
)
def test_iam_subscribe_signs_exactly_its_channel(
    iam_server: LocalAppSyncEvents, signed: dict[str, Any], why: str
) -> None:
    with socket_to(iam_server, iam(b"{}")) as connection:
        init(connection)
        refused = subscribe(connection, "/default/room", iam(js_json(signed)))
    assert refused["type"] == "subscribe_error", why
    assert refused["errors"][0]["errorType"] == "UnauthorizedException"


@pytest.mark.parametrize(
    "body",
    [
        js_json({"channel": "/default/room"}),
        js_json({"channel": "/default/room", "events": ['"other"']}),
        json.dumps({"channel": "/default/room", "events": ['"x"']}).encode(),
        js_json({"events": ['"x"'], "channel": "/default/room"}),
    ],
    ids=["no events", "other events", "spaced JSON", "keys reordered"],
)
def test_iam_publish_signs_its_channel_and_events_as_compact_json(
    iam_server: LocalAppSyncEvents, body: bytes
) -> None:
    with socket_to(iam_server, iam(b"{}")) as connection:
        init(connection)
        publish(connection, "/default/room", ['"x"'], iam(body))
        refused = receive(connection)
    assert refused["type"] == "publish_error"
    assert refused["errors"][0]["errorType"] == "UnauthorizedException"


# Misbehaviour --------------------------------------------------------------


def test_never_ack_leaves_connection_init_unanswered(appsync: LocalAppSyncEvents) -> None:
    appsync.reset(Behaviour(ack="never"))
    with socket_to(appsync, api_key_auth()) as connection:
        send(connection, {"type": "connection_init"})
        assert_silent(connection)


def test_ack_twice_sends_two_acks(appsync: LocalAppSyncEvents) -> None:
    appsync.reset(Behaviour(ack="twice"))
    with socket_to(appsync, api_key_auth()) as connection:
        assert init(connection)["type"] == "connection_ack"
        assert receive(connection)["type"] == "connection_ack"


def test_keepalive_only_answers_nothing_but_ka() -> None:
    with (
        LocalAppSyncEvents(
            ApiKeyAuth(API_KEY),
            http_host=HTTP_HOST,
            keepalive_seconds=0.02,
            behaviour=Behaviour(keepalive_only=True),
        ) as server,
        socket_to(server, api_key_auth()) as connection,
    ):
        assert init(connection)["type"] == "connection_ack"
        send(
            connection,
            {"type": "subscribe", "id": "s1", "channel": "/d/a", "authorization": api_key_auth()},
        )
        publish(connection, "/d/a", ["1"], api_key_auth())
        kinds = {receive(connection, skip_ka=False)["type"] for _ in range(10)}
    assert kinds == {"ka"}


def test_ping_flood_is_answered_and_the_conversation_goes_on(
    appsync: LocalAppSyncEvents,
) -> None:
    appsync.reset(Behaviour(ping_flood=200))
    with acked(appsync) as connection:
        # websockets' client answers each ping while it reads.
        assert subscribe(connection, "/default/a", api_key_auth())["type"] == "subscribe_success"
        assert len(appsync.pongs) == 200
        assert all(pong.wait(WAIT_SECONDS) for pong in appsync.pongs)


@pytest.mark.parametrize("code", CLOSE_CODES)
@pytest.mark.parametrize("moment", ["open", "connection_init", "ack", "subscribe", "publish"])
def test_close_with_a_chosen_code_at_a_chosen_moment(
    appsync: LocalAppSyncEvents, code: int, moment: Moment
) -> None:
    appsync.reset(Behaviour(close_code=code, close_at=moment))
    received: list[str] = []
    with socket_to(appsync, api_key_auth()) as connection, pytest.raises(ConnectionClosed) as end:
        send(connection, {"type": "connection_init"})
        received.append(receive(connection)["type"])
        assert subscribe(connection, "/default/a", api_key_auth())["type"] == "subscribe_success"
        received.append("subscribe_success")
        publish(connection, "/default/a", ["1"], api_key_auth())
        receive(connection)
    assert end.value.rcvd is not None
    assert end.value.rcvd.code == code
    expected = {
        "open": [],
        "connection_init": [],
        "ack": ["connection_ack"],
        "subscribe": ["connection_ack"],
        "publish": ["connection_ack", "subscribe_success"],
    }
    assert received == expected[moment]


@pytest.mark.parametrize("error_type", ["UnauthorizedException", "BadRequestException"])
def test_subscribe_and_publish_errors_on_demand(
    appsync: LocalAppSyncEvents, error_type: str
) -> None:
    appsync.reset(Behaviour(subscribe_error=error_type, publish_error=error_type))
    with acked(appsync) as connection:
        refused = subscribe(connection, "/default/a", api_key_auth())
        publish(connection, "/default/a", ["1"], api_key_auth())
        unpublished = receive(connection)
    assert refused["type"] == "subscribe_error"
    assert refused["errors"][0]["errorType"] == error_type
    assert unpublished["type"] == "publish_error"
    assert unpublished["errors"][0]["errorType"] == error_type


def test_echo_connection_params_sends_them_back_as_data(appsync: LocalAppSyncEvents) -> None:
    appsync.reset(Behaviour(echo_connection_params=True))
    with acked(appsync) as connection:
        subscribe(connection, "/default/a", api_key_auth())
        echoed = receive(connection)
    assert echoed["type"] == "data"
    assert echoed["id"] == "s1"
    assert json.loads(echoed["event"]) == api_key_auth()


def test_publish_success_may_come_before_the_data(appsync: LocalAppSyncEvents) -> None:
    appsync.reset(Behaviour(data_before_publish_success=False))
    with acked(appsync) as connection:
        subscribe(connection, "/default/a", api_key_auth())
        publish(connection, "/default/a", ["1"], api_key_auth())
        kinds = [receive(connection)["type"], receive(connection)["type"]]
    assert kinds == ["publish_success", "data"]


# Shutdown ------------------------------------------------------------------


def test_stop_closes_open_connections_and_frees_the_port() -> None:
    server = LocalAppSyncEvents(ApiKeyAuth(API_KEY), http_host=HTTP_HOST).start()
    uri = server.uri
    with socket_to(server, api_key_auth()) as connection:
        assert init(connection)["type"] == "connection_ack"
        server.stop()
        with pytest.raises(ConnectionClosed) as closed:
            connection.recv(timeout=WAIT_SECONDS)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001
    with pytest.raises(OSError):
        connect(uri, open_timeout=1).close()
