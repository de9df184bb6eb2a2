"""The fleet: named targets from the targets file. Pure logic, apart from reading the file.

A target is a name, any setting the environment can hold (its variable's name in
lower snake case: ``websocket_uri``, ``auth_mode``, ``token_secret_id``...), what an
invocation carries by default (``message``/``messages``/``steps``, ``expect``, the
reply checks), and an optional ``group`` and ``tags``. A setting the target leaves
out comes from the environment. Each target's settings are validated exactly as the
environment is: laid over it and read by :func:`~.config.load_config`, so one bad
target is a ``config_error`` for that target alone, naming it.

The file is read once per execution environment (it is packaged with the function
and never changes there): :func:`load_fleet` returns the same :class:`Fleet` while
the file and the environment are the same. Without a targets file (or with an empty
list of targets) there is no fleet, and the function does what the environment says.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from . import tls
from .config import VARIABLES, Config, load_config
from .credentials import MODE_VARIABLES
from .errors import ConfigError, ExchangeError, InvalidRequest
from .protocols import PRESET_VARIABLES
from .suggest import closest

# Where the targets file is when TARGETS_FILE is unset: beside the code, in the package root.
DEFAULT_TARGETS_FILE = "targets.json"
NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
DEFAULT_MAX_CONCURRENCY = 8
MAX_CONCURRENCY_LIMIT = 64
# Each target's result gets an equal share of Lambda's 6 MB response; below this many
# targets a share still leaves room for a result's own fields and some replies.
MAX_TARGETS_PER_INVOCATION = 50
# A file this size holds thousands of targets; anything larger is a mistake.
MAX_FILE_BYTES = 1024 * 1024

# Settings that belong to the deployment, not to one endpoint: the secrets source and
# the AWS endpoints, how failures surface, and the defaults a target states as its own
# ``message`` and ``expect``.
_DEPLOYMENT_WIDE = frozenset(
    {
        "LAMBDA_TASK_ROOT",
        "SECRETS_SOURCE",
        "AWS_REGION",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        "AWS_ENDPOINT_URL",
        "FAIL_ON_ERROR",
        "DEFAULT_MESSAGE",
        "DEFAULT_EXPECT",
    }
)
# A target's key -> the environment variable it stands for.
SETTINGS: dict[str, str] = {
    name.lower(): name for name in VARIABLES if name not in _DEPLOYMENT_WIDE
}
# What an invocation carries, which a target states as its defaults.
PAYLOAD_KEYS = frozenset(
    {"message", "messages", "steps", "until", "max_replies", "collect_seconds", "expect"}
)
# What an invocation's own message, messages or steps replace of a target's defaults.
EXCHANGE_KEYS = frozenset(
    {"message", "messages", "steps", "until", "max_replies", "collect_seconds"}
)
_OWN_KEYS = frozenset({"name", "group", "tags", "description"})
KEYS = frozenset(SETTINGS) | PAYLOAD_KEYS | _OWN_KEYS
# Settings written as JSON in the environment, which a target may write as JSON values.
_LIST_SETTINGS = frozenset({"subprotocols"})


@dataclass(frozen=True, slots=True)
class Target:
    """One named endpoint: its configuration (or why it has none) and its defaults."""

    name: str
    config: Config | None
    # Why the target cannot run: its settings, or its defaults, are invalid.
    error: ConfigError | None = None
    # The invocation fields it carries by default (message, steps, expect...), as written.
    defaults: Mapping[str, Any] = field(default_factory=dict)
    group: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Fleet:
    """Every target of the targets file, in the order written."""

    path: str
    targets: Mapping[str, Target]

    @property
    def groups(self) -> tuple[str, ...]:
        """The groups the targets name, in order of first appearance."""
        seen: dict[str, None] = {}
        for target in self.targets.values():
            if target.group is not None:
                seen.setdefault(target.group)
        return tuple(seen)

    def choose(self, names: tuple[str, ...] | None, group: str | None) -> tuple[Target, ...]:
        """The targets ``names`` (all of them when ``None``) or ``group`` name.

        Raises:
            InvalidRequest: an unknown name or group (with the closest known one), or
                more targets than one invocation runs.
        """
        if group is not None:
            chosen = tuple(t for t in self.targets.values() if t.group == group)
            if not chosen:
                hint = closest(group, self.groups)
                known = ", ".join(self.groups) or "none"
                raise InvalidRequest(
                    f"No target is in group {group!r}"
                    + (f" (did you mean {hint}?)" if hint else "")
                    + f"; the groups are: {known}."
                )
        elif names is None:
            chosen = tuple(self.targets.values())
        else:
            unknown = [name for name in names if name not in self.targets]
            if unknown:
                described = ", ".join(map(self._with_suggestion, unknown[:5]))
                raise InvalidRequest(f"The targets file {self.path} has no target {described}.")
            chosen = tuple(self.targets[name] for name in names)
        if len(chosen) > MAX_TARGETS_PER_INVOCATION:
            raise InvalidRequest(
                f"{len(chosen)} targets were named; one invocation runs at most "
                f"{MAX_TARGETS_PER_INVOCATION}: split them into groups, each with its own schedule."
            )
        return chosen

    def _with_suggestion(self, name: str) -> str:
        known = closest(name, self.targets)
        return repr(name) if known is None else f"{name!r} (did you mean {known}?)"


def request_fields(target: Target, invocation: Mapping[str, Any]) -> dict[str, Any]:
    """The payload one target runs: its defaults, with what the invocation carries instead.

    An invocation's ``message``, ``messages`` or ``steps`` replace the target's (and the
    reply checks that go with them); its ``expect`` replaces the target's ``expect``.
    """
    fields = dict(target.defaults)
    if any(key in invocation for key in ("message", "messages", "steps")):
        for key in EXCHANGE_KEYS:
            fields.pop(key, None)
    fields.update(invocation)
    return fields


# The last fleet read, with what it was read from: the file's identity and the environment.
_last: tuple[tuple[Any, ...], Fleet | ConfigError | None] | None = None
# The last file found to list no targets: its path and identity.
_empty: tuple[str, Any] | None = None


def load_fleet(environ: Mapping[str, str]) -> Fleet | None:
    """The fleet of the targets file, or ``None`` without one (or with no targets).

    Raises:
        ConfigError: the file (or TARGETS_FILE) is invalid as a whole: not JSON, not the
            documented shape, a target without a valid, unique name. A target whose
            settings are invalid does not raise: it carries its error.
    """
    global _last, _empty
    configured = environ.get("TARGETS_FILE", "").strip()
    root = environ.get("LAMBDA_TASK_ROOT", "").strip() or None
    try:
        path = _path(configured or DEFAULT_TARGETS_FILE, root)
        stat = os.stat(path)
        identity: Any = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    except FileNotFoundError:
        # Only a file named on purpose must exist: the template names the default one.
        if configured and configured != DEFAULT_TARGETS_FILE:
            raise ConfigError(
                f"TARGETS_FILE names {configured}, which is not in the function's package."
            ) from None
        return None
    except OSError:
        raise ConfigError(
            f"The targets file {configured or DEFAULT_TARGETS_FILE} cannot be read."
        ) from None
    # A file that lists no targets means no fleet, whatever the environment: known
    # without reading the ~50 variables the key below is made of (~40 us of a warm
    # invocation through os.environ, 0.02 of the raw floor in make bench).
    if _empty == (path, identity):
        return None
    key = (path, identity, tuple(map(environ.get, VARIABLES)))
    if _last is not None and _last[0] == key:
        return _raise_or_return(_last[1])
    try:
        fleet: Fleet | ConfigError | None = read_fleet(path, environ)
    except ConfigError as error:
        fleet = error
    _last = (key, fleet)
    if fleet is None:
        _empty = (path, identity)
    return _raise_or_return(fleet)


def _raise_or_return(fleet: Fleet | ConfigError | None) -> Fleet | None:
    if isinstance(fleet, ConfigError):
        raise fleet
    return fleet


# Pure, and pathlib costs ~60 us a call: once per execution environment.
@functools.lru_cache(maxsize=16)
def _path(value: str, root: str | None) -> str:
    # An absolute path is for local runs (the local stack's own file); in Lambda the
    # file is packaged, and a relative path is resolved inside the package.
    if PurePath(value).is_absolute():
        return value
    if ".." in PurePath(value).parts:
        raise ConfigError(
            "TARGETS_FILE must name a file inside the function's package, without '..'."
        )
    return str(Path(root or tls.PACKAGE_ROOT) / value)


def read_fleet(path: str, environ: Mapping[str, str]) -> Fleet | None:
    """Read and validate the targets file at ``path``; see :func:`load_fleet`."""
    shown = Path(path).name
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except OSError:
        raise ConfigError(f"The targets file {shown} cannot be read.") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"The targets file {shown} is larger than {MAX_FILE_BYTES} bytes.")
    try:
        document = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        where = (
            f" (line {exc.lineno}, column {exc.colno})"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        raise ConfigError(f"The targets file {shown} is not valid JSON{where}.") from None
    return parse_fleet(document, environ, shown=shown)


def parse_fleet(
    document: Any, environ: Mapping[str, str], *, shown: str = DEFAULT_TARGETS_FILE
) -> Fleet | None:
    """Validate a targets file's decoded ``document`` over ``environ``. Pure."""
    if not isinstance(document, dict):
        raise ConfigError(f'The targets file {shown} must be a JSON object with a "targets" list.')
    extra = sorted(set(document) - {"$schema", "targets"})
    if extra:
        raise ConfigError(
            f"The targets file {shown} has fields it does not accept: {', '.join(extra)} "
            '(only "targets" and "$schema").'
        )
    entries = document.get("targets", [])
    if not isinstance(entries, list):
        raise ConfigError(f'The targets file {shown}: "targets" must be a list of targets.')
    if not entries:
        return None
    targets: dict[str, Target] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ConfigError(f"The targets file {shown}: targets[{index}] must be a JSON object.")
        name = entry.get("name")
        if not isinstance(name, str) or NAME.fullmatch(name) is None:
            raise ConfigError(
                f"The targets file {shown}: targets[{index}] needs a name of 1 to 63 lower-case "
                "letters, digits and '-', starting with a letter or digit."
            )
        if name in targets:
            raise ConfigError(f"The targets file {shown} names the target {name!r} more than once.")
        targets[name] = parse_target(name, entry, environ)
    return Fleet(path=shown, targets=targets)


def parse_target(name: str, entry: Mapping[str, Any], environ: Mapping[str, str]) -> Target:
    """One target of the file, its settings laid over ``environ``. Never raises: a
    target whose settings or defaults are invalid carries its ``config_error``."""
    group = entry.get("group")
    tags = entry.get("tags", [])
    defaults = {key: entry[key] for key in PAYLOAD_KEYS if key in entry}
    try:
        unknown = sorted(key for key in entry if key not in KEYS)
        if unknown:
            raise ConfigError(
                f"it has settings this function does not know: "
                f"{', '.join(map(_key_with_suggestion, unknown[:5]))}."
            )
        if group is not None and (not isinstance(group, str) or NAME.fullmatch(group) is None):
            raise ConfigError("its group must be 1 to 63 lower-case letters, digits and '-'.")
        if not isinstance(tags, list) or not all(isinstance(tag, str) and tag for tag in tags):
            raise ConfigError("its tags must be a list of non-empty strings.")
        overlay = {
            SETTINGS[key]: _variable_value(key, entry[key]) for key in entry if key in SETTINGS
        }
        config = load_config(_laid_over(environ, overlay))
        _check_defaults(defaults)
    except ExchangeError as error:
        return Target(
            name=name,
            config=None,
            error=ConfigError(
                f"Target {name!r}: {_in_target_words(error.message, entry, environ)}"
            ),
            defaults=defaults,
            group=group if isinstance(group, str) else None,
        )
    return Target(name=name, config=config, defaults=defaults, group=group, tags=tuple(tags))


def _check_defaults(defaults: Mapping[str, Any]) -> None:
    # Imported here: triggers imports this module's caller, not the other way round.
    from .triggers import parse_payload

    try:
        parse_payload(defaults, where="target")
    except InvalidRequest as error:
        raise ConfigError(error.message) from None


def _laid_over(environ: Mapping[str, str], overlay: Mapping[str, str]) -> dict[str, str]:
    merged = dict(environ)
    if "AUTH_MODE" in overlay and overlay["AUTH_MODE"] != environ.get("AUTH_MODE"):
        # The environment's mode settings belong to its own mode, not the target's.
        for variable in MODE_VARIABLES:
            merged.pop(variable, None)
    if "PROTOCOL" in overlay and overlay["PROTOCOL"] != environ.get("PROTOCOL"):
        # Likewise the environment's protocol settings.
        for variable in PRESET_VARIABLES:
            merged.pop(variable, None)
    merged.update(overlay)
    return merged


def _variable_value(key: str, value: Any) -> str:
    """A target's value as the environment would hold it."""
    if value is None:
        return ""  # as the template writes "not set"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if key in _LIST_SETTINGS and isinstance(value, list):
        return ",".join(map(str, value))
    return json.dumps(value)


def _in_target_words(message: str, entry: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    """``message`` with each setting named by the target's key, but those the target
    leaves to the environment, which sets them: the fix is where the value is."""
    for key, variable in SETTINGS.items():
        if key in entry or not (environ.get(variable) or "").strip():
            message = re.sub(rf"\b{variable}\b", key, message)
    return message


def _key_with_suggestion(key: str) -> str:
    known = closest(key, KEYS)
    return key if known is None else f"{key} (did you mean {known}?)"


def max_concurrency(environ: Mapping[str, str]) -> int:
    """``MAX_CONCURRENCY``: how many targets run at once (default 8).

    Raises:
        ConfigError: not a whole number between 1 and 64.
    """
    raw = environ.get("MAX_CONCURRENCY", "").strip()
    if not raw:
        return DEFAULT_MAX_CONCURRENCY
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_CONCURRENCY_LIMIT:
        raise ConfigError(
            f"MAX_CONCURRENCY must be a whole number between 1 and {MAX_CONCURRENCY_LIMIT}."
        )
    return value


# Stands in for the environment when a targets file is checked before deployment
# (the build, `make lint`): what a target leaves to the environment is not its fault.
CHECK_ENVIRONMENT = {
    "WEBSOCKET_URI": "wss://environment.invalid/",
    "TOKEN_SECRET_ID": "environment-secret",
}


def check_file(path: str) -> list[str]:
    """Every problem of the targets file at ``path``, in the function's words."""
    environ = {**CHECK_ENVIRONMENT, "LAMBDA_TASK_ROOT": str(Path(path).resolve().parent)}
    try:
        fleet = read_fleet(path, environ)
    except ConfigError as error:
        return [error.message]
    if fleet is None:
        return []
    return [target.error.message for target in fleet.targets.values() if target.error]


def main(argv: list[str]) -> int:
    """``python -m ws_exchange.targets FILE...``: check targets files (the build runs it)."""
    problems = [f"{path}: {problem}" for path in argv for problem in check_file(path)]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
