"""The Lambda context handed to both contenders: the few attributes they read."""

from __future__ import annotations

import time
import uuid


class Context:
    function_name = "ExchangeFunction"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ExchangeFunction"
    memory_limit_in_mb = 128
    log_group_name = "/aws/lambda/ExchangeFunction"
    log_stream_name = "bench"

    def __init__(self, timeout: float = 30.0) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
