"""The Lambda entry point: ``ws_exchange.handler.lambda_handler``.

Thin by design: Powertools decorators add the Lambda context and the API
request id (the correlation id) to every log line and flush the metrics;
:func:`service.handle` does the work and never raises, except under
FAIL_ON_ERROR, on purpose.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from . import redaction
from .observability import logger, metrics
from .service import handle

redaction.install()
# The library's own log lines (the websockets handshake at DEBUG, our retries)
# come out as the same structured JSON, at the level the deployer chose.
copy_config_to_registered_loggers(source_logger=logger, include={"websockets", "ws_exchange"})


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(
    # requestContext.requestId: API_GATEWAY_HTTP is the same path.
    correlation_id_path=correlation_paths.API_GATEWAY_REST,
    clear_state=True,
)
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Run one authenticated WebSocket exchange for ``event``."""
    return handle(event, context)
