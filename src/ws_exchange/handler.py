"""The Lambda entry point: ``ws_exchange.handler.lambda_handler``.

Thin by design: Powertools decorators add the Lambda context and correlation
id to every log line and flush the metrics; :func:`service.handle` does the work.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
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
@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Run one authenticated WebSocket exchange for ``event``."""
    return handle(event, context, tokens)
