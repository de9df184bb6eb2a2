"""Run the function inside AWS's own runtime interface client, without Docker.

AWS's Python images start ``python -m awslambdaric <Handler>`` in the code
directory; the runtime client then imports the handler, sets up logging from
``AWS_LAMBDA_LOG_FORMAT`` / ``AWS_LAMBDA_LOG_LEVEL``, builds the context and
deadline from the headers of each event, and serialises errors. Here it talks
to :class:`~local_stack.runtime.runtime_api.RuntimeAPI` on loopback. One runtime process
serves every warm invocation; it is replaced, as Lambda replaces a sandbox,
after an init error, a crash or a timeout.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from local_stack.runtime.invoker import ACCOUNT_ID, REGION, FunctionSpec, lambda_environment
from local_stack.runtime.runtime_api import InvocationOutcome, RuntimeAPI

# Lambda gives an on-demand init phase 10 s before it gives up on the sandbox.
INIT_LIMIT_SECONDS = 10.0
_POLL_SECONDS = 0.01


def awslambdaric_version() -> str | None:
    """The installed runtime interface client's version, or None without it."""
    if importlib.util.find_spec("awslambdaric") is None:
        return None
    return importlib.metadata.version("awslambdaric")


@dataclass(frozen=True)
class RuntimeInvocation:
    """One invocation: the runtime's outcome, and what it wrote meanwhile
    (its init output too, on a cold start)."""

    outcome: InvocationOutcome
    log_lines: list[str]
    pid: int

    @property
    def payload(self) -> Any:
        return self.outcome.payload


def runtime_environment(
    spec: FunctionSpec,
    variables: Mapping[str, str],
    process_environment: Mapping[str, str],
    runtime_api: str,
) -> dict[str, str]:
    """The runtime process's whole environment, as Lambda builds it: the
    function's variables, then Lambda's reserved ones, then the host's
    (endpoints, credentials), which play the part of Lambda's own."""
    reserved = {
        **lambda_environment(spec),
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex,
        "AWS_LAMBDA_LOG_FORMAT": spec.log_format,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        # The interpreter is this venv's, so awslambdaric and the function's
        # dependencies come from its site-packages; the code comes first, as
        # LAMBDA_TASK_ROOT does in Lambda.
        "PYTHONPATH": str(spec.code_dir),
    }
    if spec.log_level:
        reserved["AWS_LAMBDA_LOG_LEVEL"] = spec.log_level
    return {**variables, **reserved, **process_environment}


class RuntimeInvoker:
    """Invoke ``spec`` through awslambdaric: ``with RuntimeInvoker(...) as r: r.invoke(event)``."""

    def __init__(
        self,
        spec: FunctionSpec,
        variables: Mapping[str, str],
        process_environment: Mapping[str, str] | None = None,
    ) -> None:
        self.spec = spec
        self.variables = dict(variables)
        self.process_environment = dict(process_environment or {})
        self.log_lines: list[str] = []
        self._api = RuntimeAPI(
            f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{spec.function_name}"
        )
        self._process: subprocess.Popen[bytes] | None = None
        self._partial = b""

    @property
    def output(self) -> str:
        """Everything every runtime process wrote so far, stdout and stderr."""
        return "".join(line + "\n" for line in self.log_lines)

    def __enter__(self) -> RuntimeInvoker:
        self._api.start()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._stop_process()
        finally:
            self._api.stop()

    def invoke(self, event: Any) -> RuntimeInvocation:
        """Hand ``event`` to the runtime and wait for its answer."""
        process = self._process if self._process is not None else self._start_process()
        first_line = len(self.log_lines)
        request_id = self._api.submit(event, self.spec.timeout)
        submitted = time.monotonic()
        outcome: InvocationOutcome | None = None
        while outcome is None:
            self._read_output(_POLL_SECONDS)
            outcome = self._api.wait(request_id, 0)
            if outcome is not None:
                break
            if process.poll() is not None:
                outcome = self._api.wait(request_id, 0) or _platform_error(
                    request_id,
                    "Runtime.ExitError",
                    f"Runtime exited with error: exit status {process.returncode}",
                )
                self._stop_process()
            elif self._out_of_time(request_id, submitted):
                outcome = _platform_error(
                    request_id,
                    "Sandbox.Timedout",
                    f"Task timed out after {self.spec.timeout:.2f} seconds",
                )
                self._stop_process()
        if outcome.kind == "init_error":
            # The runtime exits after reporting it; the next invocation starts afresh.
            self._stop_process()
        self._read_output(0)
        return RuntimeInvocation(outcome, self.log_lines[first_line:], process.pid)

    def _start_process(self) -> subprocess.Popen[bytes]:
        self._api.reset()
        self._process = subprocess.Popen(  # noqa: S603 (our own interpreter and the template's handler)
            [sys.executable, "-m", "awslambdaric", self.spec.handler],
            cwd=self.spec.code_dir,
            env=runtime_environment(
                self.spec, self.variables, self.process_environment, self._api.address
            ),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            # One stream, in the order written, as CloudWatch receives them.
            stderr=subprocess.STDOUT,
        )
        return self._process

    def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        assert process.stdout is not None
        self._collect(process.stdout.read())
        process.stdout.close()
        if self._partial:
            self.log_lines.append(self._partial.decode("utf-8", "replace"))
            self._partial = b""

    def _out_of_time(self, request_id: str, submitted: float) -> bool:
        deadline_ms = self._api.deadline_ms(request_id)
        if deadline_ms is None:
            return time.monotonic() - submitted > INIT_LIMIT_SECONDS
        return time.time() * 1000 > deadline_ms

    def _read_output(self, wait: float) -> None:
        """Take whatever the runtime has written, waiting up to ``wait`` for some.

        The runtime writes an invocation's log lines before it posts the
        outcome, so reading after the outcome arrived finds all of them.
        """
        if self._process is None or self._process.stdout is None:
            return
        descriptor = self._process.stdout.fileno()
        ready = select.select([descriptor], [], [], wait)[0]
        while ready:
            chunk = os.read(descriptor, 65536)
            if not chunk:
                return
            self._collect(chunk)
            ready = select.select([descriptor], [], [], 0)[0]

    def _collect(self, chunk: bytes) -> None:
        # Only "\n" ends a line: the runtime's text-format errors join theirs with "\r".
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        self.log_lines.extend(line.decode("utf-8", "replace") for line in lines)


def _platform_error(request_id: str, error_type: str, message: str) -> InvocationOutcome:
    """An error Lambda itself reports when the runtime cannot (its wording)."""
    return InvocationOutcome(
        "error",
        {"errorType": error_type, "errorMessage": f"RequestId: {request_id} Error: {message}"},
        request_id,
    )
