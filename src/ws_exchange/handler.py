"""The Lambda entry point: ``ws_exchange.handler.lambda_handler``.

Thin by design: Powertools decorators add the Lambda context and correlation
id to every log line and flush the metrics; :func:`service.handle` does the work.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from . import redaction
from .observability import logger, metrics
from .secret import TokenSource
from .service import handle

redaction.install()
# The library's own log lines (the websockets handshake at DEBUG, our retries)
# come out as the same structured JSON, at the level the deployer chose.
copy_config_to_registered_loggers(source_logger=logger, include={"websockets", "ws_exchange"})
# Shared by warm invocations: the secret cache and the boto3 client live here.
tokens = TokenSource()


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Run one authenticated WebSocket exchange for ``event``."""
    request_id = _api_request_id(event)
    if request_id is not None:
        logger.set_correlation_id(request_id)
    return handle(event, context, tokens)


def _api_request_id(event: Any) -> Any:
    """``requestContext.requestId`` (correlation_paths.API_GATEWAY_REST and
    API_GATEWAY_HTTP alike), read directly: the decorator's JMESPath query
    costs every invocation tens of microseconds. clear_state has already
    dropped the previous invocation's id."""
    if isinstance(event, dict):
        request_context = event.get("requestContext")
        if isinstance(request_context, dict):
            return request_context.get("requestId")
    return None
