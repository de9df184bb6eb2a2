"""Run the handler the way ``sam local invoke`` does, in-process, without Docker.

The function is read from ``template.yaml``: its ``CodeUri``, ``Handler``,
``Timeout``, ``MemorySize`` and ``Environment`` (``Globals`` merged in, ``Ref``
to parameters resolved by SAM's own intrinsics resolver). An ``--env-vars``
file in SAM's format then overrides variables the template declares, and only
those, exactly as SAM does. The handler gets a Lambda context whose
``get_remaining_time_in_millis`` counts down to a real deadline.
"""

from __future__ import annotations

import importlib
import json
import os
import shlex
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samtranslator.intrinsics.resolver import IntrinsicsResolver
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
# Sample events, shared by the demo, the tests, the benchmark and the docs.
EVENTS = ROOT / "events"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"


class InputError(ValueError):
    """A file or option the user gave cannot be used; the message is one sentence
    naming it and what is wrong."""


@dataclass(frozen=True)
class FunctionSpec:
    """One ``AWS::Serverless::Function`` as ``sam local invoke`` would run it."""

    logical_id: str
    code_dir: Path
    handler: str
    timeout: int = 3
    memory_size: int = 128
    environment: dict[str, str] = field(default_factory=dict)
    # LoggingConfig: what Lambda passes as AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_LEVEL.
    log_format: str = "Text"
    log_level: str | None = None

    @property
    def function_name(self) -> str:
        return self.logical_id


def load_function(
    template: Path = TEMPLATE,
    logical_id: str | None = None,
    parameter_overrides: Mapping[str, str] | None = None,
) -> FunctionSpec:
    """Read a function from a SAM template (the only one, or ``logical_id``)."""
    document = read_template(template)
    functions = template_functions(document)
    if logical_id is None:
        if len(functions) != 1:
            raise ValueError(f"name one of the template's functions: {sorted(functions)}")
        logical_id = next(iter(functions))
    parameters: dict[str, Any] = {
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": "aws",
        "AWS::StackName": "local",
        "AWS::URLSuffix": "amazonaws.com",
    }
    for name, spec in document.get("Parameters", {}).items():
        if "Default" in spec:
            parameters[name] = spec["Default"]
    parameters.update(parameter_overrides or {})
    resolver = IntrinsicsResolver(parameters)

    globals_ = document.get("Globals", {}).get("Function", {})
    properties = {**globals_, **functions[logical_id]["Properties"]}
    variables = {
        **globals_.get("Environment", {}).get("Variables", {}),
        **functions[logical_id]["Properties"].get("Environment", {}).get("Variables", {}),
    }
    environment: dict[str, str] = {}
    for name, value in resolver.resolve_parameter_refs(variables).items():
        # As in SAM, what cannot be resolved locally (a Ref to a parameter without
        # a default, another intrinsic) is "", still declared for --env-vars to set.
        if isinstance(value, str | int | float | bool):
            environment[name] = str(value).lower() if isinstance(value, bool) else str(value)
        else:
            environment[name] = ""
    logging_config = resolver.resolve_parameter_refs(properties.get("LoggingConfig") or {})
    application_log_level = logging_config.get("ApplicationLogLevel")
    return FunctionSpec(
        logical_id=logical_id,
        code_dir=(template.parent / str(properties["CodeUri"])).resolve(),
        handler=str(properties["Handler"]),
        timeout=int(resolver.resolve_parameter_refs(properties.get("Timeout", 3))),
        memory_size=int(resolver.resolve_parameter_refs(properties.get("MemorySize", 128))),
        environment=environment,
        log_format=str(logging_config.get("LogFormat", "Text")),
        log_level=str(application_log_level) if application_log_level else None,
    )


def read_template(template: Path) -> dict[str, Any]:
    """The SAM template as a document (its ``!Ref`` short forms expanded)."""
    try:
        document = yaml_parse(template.read_text())
    except OSError as exc:
        raise InputError(f"cannot read the template {template}: {exc.strerror}") from None
    if not isinstance(document, dict):
        raise InputError(f"{template} is not a SAM template")
    return document


def template_functions(document: Mapping[str, Any]) -> dict[str, Any]:
    """The template's ``AWS::Serverless::Function`` resources by logical id."""
    return {
        name: resource
        for name, resource in (document.get("Resources") or {}).items()
        if isinstance(resource, dict) and resource.get("Type") == "AWS::Serverless::Function"
    }


def parse_parameter_overrides(text: str) -> dict[str, str]:
    """``--parameter-overrides`` in SAM's syntax: ``Key=Value`` pairs separated by
    spaces (shell quoting for values with spaces), or CloudFormation's
    ``ParameterKey=Key,ParameterValue=Value``."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise InputError(f"--parameter-overrides: {exc} in {text!r}") from None
    overrides = {}
    for word in words:
        if word.startswith("ParameterKey="):
            fields = dict(part.partition("=")[::2] for part in word.split(",", 1))
            if set(fields) != {"ParameterKey", "ParameterValue"}:
                raise InputError(
                    f"--parameter-overrides: {word!r} is not ParameterKey=Name,ParameterValue=Value"
                )
            name, value = fields["ParameterKey"], fields["ParameterValue"]
        else:
            name, equals, value = word.partition("=")
            if not equals or not name:
                raise InputError(f"--parameter-overrides: {word!r} is not Name=Value")
        overrides[name] = value
    return overrides


def check_parameter_overrides(document: Mapping[str, Any], overrides: Mapping[str, str]) -> None:
    """Refuse what CloudFormation would refuse: an unknown parameter, or a value
    outside its ``AllowedValues``."""
    parameters = document.get("Parameters") or {}
    for name, value in overrides.items():
        if name not in parameters:
            raise InputError(
                f"--parameter-overrides: the template has no parameter {name!r} "
                f"(it has {', '.join(sorted(parameters))})"
            )
        allowed = [str(choice) for choice in parameters[name].get("AllowedValues", [])]
        if allowed and value not in allowed:
            raise InputError(
                f"--parameter-overrides: {name} must be one of {', '.join(allowed)}, not {value!r}"
            )


# Variables people reach for to change the log level; in Lambda the function's
# LoggingConfig (the LogLevel parameter) sets AWS_LAMBDA_LOG_LEVEL, which wins.
_LOG_LEVEL_VARIABLES = {"LOG_LEVEL", "POWERTOOLS_LOG_LEVEL", "AWS_LAMBDA_LOG_LEVEL"}


def check_env_vars(
    document: Mapping[str, Any], spec: FunctionSpec, env_vars: Any, source: Path
) -> None:
    """Refuse an ``--env-vars`` document that would not do what it says: not
    SAM's shape, a key that is neither ``Parameters`` nor one of the template's
    functions, or a variable the function does not declare (which
    ``sam local invoke`` silently ignores)."""
    if not isinstance(env_vars, dict):
        raise InputError(f"{source} must be a JSON object of function names (SAM's --env-vars)")
    functions = template_functions(document)
    for scope, variables in env_vars.items():
        if scope != "Parameters" and scope not in functions:
            raise InputError(
                f'{source} names {scope!r}, which is neither "Parameters" nor a function '
                f"of the template ({', '.join(sorted(functions))})"
            )
        if not isinstance(variables, dict):
            raise InputError(f"{source}: {scope!r} must map variable names to values")
        if scope not in ("Parameters", spec.logical_id):
            continue
        for name, value in variables.items():
            if name not in spec.environment and name in _LOG_LEVEL_VARIABLES:
                raise InputError(
                    f"{source} sets {name}, but the log level is the template's LogLevel "
                    "parameter: use --parameter-overrides LogLevel=DEBUG "
                    '(make invoke PARAMS="LogLevel=DEBUG")'
                )
            if name not in spec.environment:
                raise InputError(
                    f"{source} sets {name} for {scope}, which the template does not declare "
                    "for the function (sam local invoke would silently ignore it)"
                )
            if isinstance(value, dict | list):
                raise InputError(f"{source}: {name} must be a string, number or boolean")


def apply_env_vars(spec: FunctionSpec, env_vars: Mapping[str, Any]) -> dict[str, str]:
    """The function's environment after an ``--env-vars`` document (SAM's format).

    ``Parameters`` applies to every function, the function's logical id to it
    alone (and wins); variables the template does not declare are ignored.
    """
    environment = dict(spec.environment)
    for scope in ("Parameters", spec.logical_id):
        for name, value in (env_vars.get(scope) or {}).items():
            if name in environment:
                environment[name] = "" if value is None else str(value)
    # The local stack's targets file (local_stack/targets.json) is named from the
    # repository, outside the function's package, where a relative TARGETS_FILE points.
    targets_file = environment.get("TARGETS_FILE", "")
    if (
        targets_file
        and not Path(targets_file).is_absolute()
        and not (spec.code_dir / targets_file).is_file()
        and (ROOT / targets_file).is_file()
    ):
        environment["TARGETS_FILE"] = str(ROOT / targets_file)
    return environment


class LocalContext:
    """The Lambda context object, with a deadline that really passes."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.function_name = spec.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{spec.function_name}"
        )
        self.memory_limit_in_mb = spec.memory_size
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Set ``variables`` in ``os.environ`` for the duration, then restore."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def lambda_environment(spec: FunctionSpec) -> dict[str, str]:
    """The variables the Lambda service itself sets for a function."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": os.environ.get("AWS_REGION", REGION),
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", REGION),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "_HANDLER": spec.handler,
    }


def invoke(spec: FunctionSpec, event: Any, variables: Mapping[str, str]) -> Any:
    """Invoke the handler in this process with ``variables`` as its environment.

    The handler module is imported once and reused, as in a warm Lambda.
    """
    with environment({**lambda_environment(spec), **variables}):
        if str(spec.code_dir) not in sys.path:
            sys.path.insert(0, str(spec.code_dir))
        module_name, _, function_name = spec.handler.rpartition(".")
        handler = getattr(importlib.import_module(module_name), function_name)
        return handler(event, LocalContext(spec))


def read_json(path: Path) -> Any:
    """The JSON document in ``path``; :class:`InputError` names the file otherwise."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
