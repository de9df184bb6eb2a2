"""The function's output as a person reads it, for ``make demo`` / ``make invoke``.

Pure logic. In Lambda the function writes three kinds of JSON line: Powertools
log records, the runtime's own records (awslambdaric's JSON log format, e.g.
botocore's), and EMF metric documents. CloudWatch wants them that way; a
terminal does not. :func:`human_line` turns each into one short line (level,
logger, message, the record's own fields), keeps tracebacks on the lines
below, and drops botocore's INFO notes on where it found credentials and
endpoints. Anything that is not such a JSON line passes unchanged. ``--raw``
skips all of this and shows the lines exactly as CloudWatch would get them.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any, TextIO

# Fields every record carries (Powertools' standard keys, the Lambda context it
# injects, awslambdaric's keys): the same on every line, so they are left out.
_CONTEXT_FIELDS = frozenset(
    {
        "level",
        "log_level",
        "message",
        "timestamp",
        "location",
        "service",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "correlation_id",
        "xray_trace_id",
        "sampling_rate",
        "requestId",
        "taskName",
        "logger",
        "exception",
        "exception_name",
        "stack_trace",
        "stackTrace",
        "errorMessage",
        "errorType",
        # websockets adds its connection object's repr to every record.
        "websocket",
    }
)
# botocore says at INFO where it found credentials and endpoints, once per
# cold start: noise locally (the host's dummy credentials), kept by --raw.
_QUIET_LOGGERS = frozenset({"botocore.credentials", "botocore.configprovider"})
_MAX_VALUE_CHARS = 100
# Lines that continue a record (a multi-line message, a traceback) are indented.
_CONTINUATION = " " * 8
_UNITS = {"Milliseconds": "ms", "Seconds": "s", "Count": "", "Bytes": "B"}


def human_line(line: str) -> str | None:
    """``line`` as a person reads it, or None when it is noise."""
    line = line.replace("\r", "\n")
    document = _json_object(line)
    if document is None:
        return line
    if "_aws" in document:
        return _metrics(document)
    level = document.get("level") or document.get("log_level")
    if not isinstance(level, str):
        return line
    logger = document.get("logger")
    if logger in _QUIET_LOGGERS and level == "INFO":
        return None
    return _record(level, logger, document)


def _json_object(line: str) -> dict[str, Any] | None:
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _record(level: str, logger: Any, document: dict[str, Any]) -> str:
    message = document.get("message")
    if message is None and "errorType" in document:
        # awslambdaric's own record of an error the handler raised.
        message = f"{document['errorType']}: {document.get('errorMessage', '')}"
    text = message if isinstance(message, str) else json.dumps(message)
    text = text.rstrip("\n").replace("\n", "\n" + _CONTINUATION)
    head = f"{level:<7} {logger}: {text}" if isinstance(logger, str) else f"{level:<7} {text}"
    fields = " ".join(
        f"{name}={_value(value)}"
        for name, value in document.items()
        if name not in _CONTEXT_FIELDS and value is not None
    )
    lines = [f"{head}  {fields}" if fields else head]
    trace = document.get("exception") or document.get("stack_trace") or document.get("stackTrace")
    if isinstance(trace, list):
        trace = "".join(str(frame) for frame in trace)
    if isinstance(trace, str) and trace:
        lines.extend(_CONTINUATION + frame for frame in trace.rstrip("\n").splitlines())
    return "\n".join(lines)


def _value(value: Any) -> str:
    if isinstance(value, dict) and all(not isinstance(v, dict | list) for v in value.values()):
        text = ",".join(f"{key}:{_scalar(item)}" for key, item in value.items())
    else:
        text = _scalar(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 1] + "…"


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value if value and " " not in value else json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _scalar(value)


def _metrics(document: dict[str, Any]) -> str:
    directives = document["_aws"].get("CloudWatchMetrics", [])
    shown = []
    for metric in (metric for directive in directives for metric in directive.get("Metrics", [])):
        name = metric.get("Name")
        values = document.get(name)
        unit = _UNITS.get(metric.get("Unit", ""), " " + str(metric.get("Unit")))
        shown.append(
            f"{name}="
            + ",".join(
                f"{_number(item)}{unit}"
                for item in (values if isinstance(values, list) else [values])
            )
        )
    # "service" is on every metric of this function; other dimensions say something.
    dimensions = sorted(
        {
            f"{key}={document[key]}"
            for directive in directives
            for group in directive.get("Dimensions", [])
            for key in group
            if key in document and key not in ("service", "function_name")
        }
    )
    line = "METRIC  " + " ".join(shown)
    return f"{line}  ({', '.join(dimensions)})" if dimensions else line


class LineFilter(io.TextIOBase):
    """A text stream that passes each complete line through ``transform``
    (None drops it) on its way to ``target``: for the in-process runtime, whose
    loggers write straight to ``sys.stdout``."""

    def __init__(self, target: TextIO, transform: Callable[[str], str | None]) -> None:
        self._target = target
        self._transform = transform
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            shown = self._transform(line)
            if shown is not None:
                self._target.write(shown + "\n")
        return len(text)

    def flush(self) -> None:
        self._target.flush()


def pretty(value: Any, width: int = 88, indent: str = "") -> str:
    """``value`` as indented JSON, with each object or list that fits in
    ``width`` columns kept on one line (``json.dumps(indent=2)`` gives every
    two-field object four lines)."""
    flat = json.dumps(value, ensure_ascii=False)
    if len(indent) + len(flat) <= width or not isinstance(value, dict | list) or not value:
        return flat
    inner = indent + "  "
    if isinstance(value, dict):
        items = [
            f"{inner}{json.dumps(key, ensure_ascii=False)}: {pretty(item, width, inner).lstrip()}"
            for key, item in value.items()
        ]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    items = [inner + pretty(item, width, inner) for item in value]
    return "[\n" + ",\n".join(items) + f"\n{indent}]"
