"""Trigger recognition: what invoked the function, and what it asks for.

Pure logic. :func:`recognise` tells the trigger from the event's shape and never
fails; :func:`parse_request` turns the event into a validated :class:`Request`
or raises :class:`InvalidRequest`. The caller chooses only the messages and two
bounded numbers: the endpoint, the headers and the secret come from
configuration, so the token is never sent anywhere but the configured endpoint.
"""

from __future__ import annotations

import base64
import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .checks import CHECK_FIELDS, Checks, parse_checks
from .errors import InvalidRequest
from .framing import Outgoing, loads, prepare
from .scenario import Step, parse_steps
from .suggest import closest

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import (
        APIGatewayProxyEvent,
        APIGatewayProxyEventV2,
    )

MAX_MESSAGES = 1000
MAX_EXPECTED_REPLIES = 100
MAX_REPLY_TIMEOUT_SECONDS = 900.0
# API Gateway accepts up to 10 MB and Lambda 6 MB; a request this function can
# serve is far smaller, and parsing a huge body is work for nothing.
MAX_BODY_BYTES = 1024 * 1024

# Which targets of the targets file run (a caller only names them).
SELECTION_FIELDS = frozenset({"target", "targets", "group"})
_PAYLOAD_FIELDS = (
    frozenset({"message", "messages", "steps", "expected_replies", "reply_timeout_seconds"})
    | CHECK_FIELDS
    | SELECTION_FIELDS
)
_TARGET_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
# What a scenario's own steps say instead (expect and reply_timeout_seconds still apply).
_NOT_WITH_STEPS = (
    "message",
    "messages",
    "until",
    "expected_replies",
    "max_replies",
    "collect_seconds",
)


class Trigger(enum.Enum):
    """Where an invocation came from."""

    DIRECT = "direct"
    SCHEDULE = "schedule"
    HTTP_API = "http_api"
    REST_API = "rest_api"

    @property
    def is_api(self) -> bool:
        """True when the answer must be an API Gateway proxy response."""
        return self in (Trigger.HTTP_API, Trigger.REST_API)


@dataclass(frozen=True, slots=True)
class Selection:
    """The targets an invocation names: ``names`` (``None``: all of them) or a ``group``."""

    names: tuple[str, ...] | None = None
    group: str | None = None
    # {"target": name}: the answer is that target's own result, not the fleet's.
    single: bool = False


@dataclass(frozen=True, slots=True)
class Request:
    """What one invocation asks for. ``None`` means "use the configured value"."""

    # The messages, checked and encoded for sending.
    messages: tuple[Outgoing, ...] | None = None
    expected_replies: int | None = None
    reply_timeout: float | None = None
    checks: Checks | None = None
    # A scenario, instead of messages.
    steps: tuple[Step, ...] | None = None
    # The targets it names, if any.
    selection: Selection | None = None
    # The payload's fields as sent, but the selection: what a target's defaults give way to.
    fields: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


def recognise(event: Any) -> Trigger:
    """Tell the trigger from the event's shape (anything unknown is DIRECT)."""
    if isinstance(event, Mapping):
        if event.get("version") == "2.0" and isinstance(event.get("requestContext"), Mapping):
            return Trigger.HTTP_API
        if "httpMethod" in event and isinstance(event.get("requestContext"), Mapping):
            return Trigger.REST_API
        if event.get("source") == "aws.events" and event.get("detail-type") == "Scheduled Event":
            return Trigger.SCHEDULE
    return Trigger.DIRECT


def parse_request(event: Any, trigger: Trigger) -> Request:
    """Validate ``event`` as sent by ``trigger`` and return its :class:`Request`."""
    if trigger is Trigger.DIRECT:
        return parse_payload(event, where="event")
    if trigger is Trigger.SCHEDULE:
        # EventBridgeEvent(event).get("detail") is this very lookup; the
        # data_classes package would cost the cold start ~40 module imports.
        detail = event.get("detail")
        if detail is None or (isinstance(detail, Mapping) and not detail):
            return Request()
        if not isinstance(detail, Mapping):
            # A string, a list or a number means something to whoever wrote
            # it: sending the default message instead would hide the mistake.
            raise InvalidRequest(
                "The scheduled event's detail must be a JSON object (a direct payload), "
                "or empty to send DEFAULT_MESSAGE."
            )
        return parse_payload(detail, where="detail")
    # Imported here, on the first API invocation only: the package's
    # __init__ imports every event source's module (~10 ms of cold start)
    # that direct and scheduled invocations have no use for.
    from aws_lambda_powertools.utilities.data_classes import (
        APIGatewayProxyEvent,
        APIGatewayProxyEventV2,
    )

    if trigger is Trigger.HTTP_API:
        return parse_payload(_api_body(APIGatewayProxyEventV2(event)), where="body")
    return parse_payload(_api_body(APIGatewayProxyEvent(event)), where="body")


def parse_payload(payload: Any, *, where: str = "event") -> Request:
    """Validate a direct payload."""
    if not isinstance(payload, Mapping):
        raise InvalidRequest(f"The {where} must be a JSON object.")
    if not _PAYLOAD_FIELDS.issuperset(payload):
        unknown = sorted(str(key) for key in payload if key not in _PAYLOAD_FIELDS)
        raise InvalidRequest(
            f"The {where} has fields this function does not accept: "
            f"{', '.join(map(_with_suggestion, unknown[:5]))}."
        )
    if not SELECTION_FIELDS.isdisjoint(payload):
        selection = _selection(payload, where)
        fields = {key: value for key, value in payload.items() if key not in SELECTION_FIELDS}
        return replace(parse_payload(fields, where=where), selection=selection, fields=fields)
    if "message" in payload and "messages" in payload:
        raise InvalidRequest(f"The {where} may carry message or messages, not both.")
    if "steps" in payload:
        return _scenario(payload, where)
    listed: list[Any] | None = None
    if "message" in payload:
        listed = [payload["message"]]
    elif "messages" in payload:
        listed = payload["messages"]
        if not isinstance(listed, list) or not 1 <= len(listed) <= MAX_MESSAGES:
            raise InvalidRequest(f"messages must be a list of 1 to {MAX_MESSAGES} JSON values.")
    messages: list[Outgoing] = []
    for index, message in enumerate(listed or ()):
        try:
            # TIMESTAMP_FIELD is configuration, read after the request is checked:
            # stamped() applies it.
            messages.append(prepare(message, timestamp_field=""))
        except ValueError as exc:
            raise InvalidRequest(f"{_which(index, len(listed or ()))} {exc}.") from None
    return Request(
        messages=None if listed is None else tuple(messages),
        expected_replies=_expected_replies(payload.get("expected_replies")),
        reply_timeout=_reply_timeout(payload.get("reply_timeout_seconds")),
        checks=parse_checks(payload, error=InvalidRequest),
        fields=payload,
    )


def _selection(payload: Mapping[str, Any], where: str) -> Selection:
    named = [key for key in ("target", "targets", "group") if key in payload]
    if len(named) > 1:
        raise InvalidRequest(
            f"The {where} may carry one of target, targets and group, not several."
        )
    if "target" in payload:
        return Selection(names=(_target_name(payload["target"], "target"),), single=True)
    if "group" in payload:
        return Selection(group=_target_name(payload["group"], "group"))
    value = payload["targets"]
    if value == "*":
        return Selection()
    if not isinstance(value, list) or not value:
        raise InvalidRequest(
            'targets must be "*" (every target) or a non-empty list of target names.'
        )
    names = tuple(_target_name(name, "targets") for name in value)
    if len(set(names)) != len(names):
        raise InvalidRequest("targets names a target more than once.")
    return Selection(names=names)


def _target_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or _TARGET_NAME.fullmatch(value) is None:
        raise InvalidRequest(
            f"{what} must name a target of the targets file: 1 to 63 lower-case letters, "
            "digits and '-'."
        )
    return value


def _scenario(payload: Mapping[str, Any], where: str) -> Request:
    # message and messages count when present (null is a message); the
    # others, like every optional field, only when not null.
    clashing = [
        name
        for name in _NOT_WITH_STEPS
        if name in payload and (payload[name] is not None or name.startswith("message"))
    ]
    if clashing:
        raise InvalidRequest(
            f"The {where} carries steps and {', '.join(clashing)}: steps say what to send "
            "and receive, so they take the place of message, messages, until, "
            "expected_replies, max_replies and collect_seconds (expect and "
            "reply_timeout_seconds still apply)."
        )
    return Request(
        steps=parse_steps(payload["steps"]),
        reply_timeout=_reply_timeout(payload.get("reply_timeout_seconds")),
        checks=parse_checks(payload, error=InvalidRequest),
        fields=payload,
    )


def stamped(messages: tuple[Outgoing, ...], timestamp_field: str) -> tuple[Outgoing, ...]:
    """A request's ``messages`` with their timestamp in ``timestamp_field`` (TIMESTAMP_FIELD).

    Raises:
        InvalidRequest: the timestamp takes a message past its size limit.
    """
    ready: list[Outgoing] = []
    for index, message in enumerate(messages):
        try:
            ready.append(message.stamped_with(timestamp_field))
        except ValueError as exc:
            raise InvalidRequest(f"{_which(index, len(messages))} {exc}.") from None
    return tuple(ready)


def _which(index: int, count: int) -> str:
    return "The message" if count == 1 else f"Message {index}"


def _with_suggestion(field: str) -> str:
    known = closest(field, _PAYLOAD_FIELDS)
    return field if known is None else f"{field} (did you mean {known}?)"


def _api_body(event: APIGatewayProxyEvent | APIGatewayProxyEventV2) -> Any:
    body = event.body
    if body is None:
        return {}
    if not isinstance(body, str):
        raise InvalidRequest("The request body must be JSON text (a string).")
    if not body:
        return {}
    too_large = InvalidRequest(f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    if event.is_base64_encoded:
        if len(body) > (MAX_BODY_BYTES + 2) // 3 * 4:
            raise too_large
        try:
            # Strict: Powertools' decoded_body silently drops characters
            # outside the alphabet, turning garbage into an empty request.
            raw = base64.b64decode(body, validate=True)
        except ValueError:
            raise InvalidRequest("The request body is not valid base64.") from None
    else:
        if len(body) > MAX_BODY_BYTES:
            raise too_large
        raw = body.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_BODY_BYTES:
        raise too_large
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        what = "base64-decoded request body" if event.is_base64_encoded else "request body"
        raise InvalidRequest(f"The {what} is not UTF-8 text.") from None
    try:
        return loads(text)
    except ValueError:
        raise InvalidRequest("The request body is not valid JSON.") from None


def _expected_replies(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest("expected_replies must be a whole number.")
    if not 0 <= value <= MAX_EXPECTED_REPLIES:
        raise InvalidRequest(f"expected_replies must be between 0 and {MAX_EXPECTED_REPLIES}.")
    return value


def _reply_timeout(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest("reply_timeout_seconds must be a number.")
    try:
        seconds = float(value)
    except OverflowError:
        seconds = math.inf
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_REPLY_TIMEOUT_SECONDS):
        raise InvalidRequest(
            f"reply_timeout_seconds must be greater than 0 and at most "
            f"{MAX_REPLY_TIMEOUT_SECONDS:g}."
        )
    return seconds
