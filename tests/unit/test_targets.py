"""The targets file: its shape, each target's settings laid over the environment, choosing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ws_exchange import targets
from ws_exchange.config import VARIABLES
from ws_exchange.errors import ConfigError, InvalidRequest
from ws_exchange.targets import SETTINGS, Fleet, load_fleet, parse_fleet, request_fields
from ws_exchange.triggers import parse_payload

ROOT = Path(__file__).resolve().parents[2]
BASE = {"WEBSOCKET_URI": "wss://default.example.com/v1", "TOKEN_SECRET_ID": "prod/token"}


def fleet(*entries: dict[str, Any], environ: dict[str, str] | None = None) -> Fleet:
    parsed = parse_fleet({"targets": list(entries)}, BASE if environ is None else environ)
    assert parsed is not None
    return parsed


def test_a_target_keeps_what_it_leaves_out_from_the_environment() -> None:
    chosen = fleet({"name": "prices", "websocket_uri": "wss://prices.example.com/ws"})
    config = chosen.targets["prices"].config
    assert config is not None
    assert config.endpoint == "wss://prices.example.com/ws"
    assert config.token_secret_id == "prod/token"


def test_settings_are_variable_names_in_lower_snake_case_with_json_values() -> None:
    chosen = fleet(
        {
            "name": "a",
            "auth_mode": "header",
            "auth_header": "X-API-Key",
            "handshake_headers": {"Origin": "https://app.example.com"},
            "subprotocols": ["v2", "v1"],
            "reply_timeout_seconds": 2.5,
            "expected_replies": 0,
            "allow_insecure_websocket": True,
            "websocket_uri": "ws://127.0.0.1:9/",
        }
    )
    config = chosen.targets["a"].config
    assert config is not None
    assert config.handshake.headers == (("Origin", "https://app.example.com"),)
    assert config.handshake.subprotocols == ("v2", "v1")
    assert config.reply_timeout == 2.5
    assert config.expected_replies == 0
    assert config.allow_insecure


def test_one_bad_target_is_a_config_error_for_it_alone_in_its_own_words() -> None:
    chosen = fleet(
        {"name": "good"},
        {"name": "bad", "websocket_uri": "ws://plain.example.com/"},
    )
    assert chosen.targets["good"].error is None
    error = chosen.targets["bad"].error
    assert error is not None and error.type == "config_error"
    assert error.message == (
        "Target 'bad': websocket_uri must use wss://; ws:// needs allow_insecure_websocket=true."
    )


def test_a_setting_the_environment_holds_keeps_the_environments_name() -> None:
    environ = {**BASE, "OPEN_TIMEOUT_SECONDS": "0"}
    error = fleet({"name": "a"}, environ=environ).targets["a"].error
    assert error is not None
    assert error.message.startswith("Target 'a': OPEN_TIMEOUT_SECONDS must be greater than 0")
    missing = fleet({"name": "b", "auth_mode": "header"}).targets["b"].error
    assert missing is not None
    assert missing.message.startswith("Target 'b': auth_header is required with auth_mode header")


def test_an_unknown_setting_names_the_closest_known_one() -> None:
    error = fleet({"name": "a", "websocket_url": "wss://x.example.com"}).targets["a"].error
    assert error is not None
    assert "websocket_url (did you mean websocket_uri?)" in error.message


def test_a_target_that_changes_the_mode_does_not_inherit_the_other_modes_settings() -> None:
    environ = {**BASE, "AUTH_MODE": "header", "AUTH_HEADER": "X-Key"}
    chosen = fleet({"name": "a", "auth_mode": "bearer"}, environ=environ)
    assert chosen.targets["a"].error is None


def test_a_target_that_changes_the_protocol_does_not_inherit_the_other_presets_settings() -> None:
    environ = {**BASE, "PROTOCOL": "socketio", "SOCKETIO_AUTH": '{"token": "{token}"}'}
    chosen = fleet({"name": "a", "protocol": "graphql-transport-ws"}, environ=environ)
    config = chosen.targets["a"].config
    assert chosen.targets["a"].error is None
    assert config is not None and config.preset is not None
    assert config.preset.name == "graphql-transport-ws"


def test_invalid_defaults_are_the_targets_config_error() -> None:
    error = fleet({"name": "a", "message": 1, "messages": [2]}).targets["a"].error
    assert error is not None and error.type == "config_error"
    assert "message or messages, not both" in error.message


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ([], 'a JSON object with a "targets" list'),
        ({"targets": {}}, "must be a list"),
        ({"targets": [{"name": "Bad Name"}]}, "targets[0] needs a name"),
        ({"targets": [{"name": "a"}, {"name": "a"}]}, "more than once"),
        ({"targets": [], "defaults": {}}, "fields it does not accept: defaults"),
    ],
)
def test_a_file_of_the_wrong_shape_is_a_config_error(document: Any, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        parse_fleet(document, BASE)


def test_no_targets_is_no_fleet() -> None:
    assert parse_fleet({"targets": []}, BASE) is None


def test_an_unknown_name_is_invalid_with_the_closest_known_one() -> None:
    chosen = fleet({"name": "prices"}, {"name": "orders"})
    with pytest.raises(InvalidRequest, match=r"no target 'price' \(did you mean prices\?\)"):
        chosen.choose(("price",), None)


def test_groups_choose_their_targets_in_file_order() -> None:
    chosen = fleet(
        {"name": "a", "group": "eu"}, {"name": "b", "group": "us"}, {"name": "c", "group": "eu"}
    )
    assert [t.name for t in chosen.choose(None, "eu")] == ["a", "c"]
    assert [t.name for t in chosen.choose(None, None)] == ["a", "b", "c"]
    with pytest.raises(InvalidRequest, match="did you mean eu"):
        chosen.choose(None, "eur")


def test_an_invocation_replaces_what_it_carries_and_keeps_the_rest() -> None:
    target = fleet(
        {"name": "a", "message": {"action": "ping"}, "until": "type == 'x'", "expect": ["ok"]}
    ).targets["a"]
    assert request_fields(target, {}) == {
        "message": {"action": "ping"},
        "until": "type == 'x'",
        "expect": ["ok"],
    }
    assert request_fields(target, {"steps": [{"send": 1}]}) == {
        "steps": [{"send": 1}],
        "expect": ["ok"],
    }


def test_a_caller_cannot_carry_a_setting() -> None:
    with pytest.raises(InvalidRequest, match="websocket_uri"):
        parse_payload({"target": "a", "websocket_uri": "wss://evil.example.com"})


def test_every_setting_of_the_environment_but_the_deployments_own_is_a_target_key() -> None:
    schema = json.loads((ROOT / "src" / "targets.schema.json").read_text())
    properties = set(schema["$defs"]["target"]["properties"])
    assert set(SETTINGS) <= properties
    assert {name.lower() for name in VARIABLES} & properties == set(SETTINGS)
    assert properties == targets.KEYS


def test_the_file_is_read_once_while_it_and_the_environment_stay_the_same(
    tmp_path: Path,
) -> None:
    path = tmp_path / "targets.json"
    path.write_text(json.dumps({"targets": [{"name": "a"}]}))
    environ = {**BASE, "TARGETS_FILE": str(path)}
    first = load_fleet(environ)
    assert first is not None and load_fleet(environ) is first
    path.write_text(json.dumps({"targets": [{"name": "a"}, {"name": "bb"}]}))
    again = load_fleet(environ)
    assert again is not None and list(again.targets) == ["a", "bb"]


def test_without_a_targets_file_there_is_no_fleet(tmp_path: Path) -> None:
    assert load_fleet({**BASE, "LAMBDA_TASK_ROOT": str(tmp_path)}) is None
    # As the template names it: the default file, absent, is no fleet either.
    named = {**BASE, "LAMBDA_TASK_ROOT": str(tmp_path), "TARGETS_FILE": "targets.json"}
    assert load_fleet(named) is None
    with pytest.raises(ConfigError, match="TARGETS_FILE names"):
        load_fleet({**BASE, "TARGETS_FILE": str(tmp_path / "missing.json")})


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "targets.json"
    path.write_text('{"targets": [\n  {"name": "a",}\n]}')
    with pytest.raises(ConfigError, match=r"not valid JSON \(line 2"):
        load_fleet({**BASE, "TARGETS_FILE": str(path)})


@pytest.mark.parametrize("value", ["0", "65", "many"])
def test_max_concurrency_is_bounded(value: str) -> None:
    with pytest.raises(ConfigError, match="MAX_CONCURRENCY"):
        targets.max_concurrency({"MAX_CONCURRENCY": value})


# --- the shipped files ----------------------------------------------------------------

SHIPPED = [ROOT / "src" / "targets.json", ROOT / "local_stack" / "targets.json"]


def test_the_schema_is_a_valid_json_schema() -> None:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(
        json.loads((ROOT / "src" / "targets.schema.json").read_text())
    )


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: str(path.relative_to(ROOT)))
def test_the_shipped_targets_files_are_valid_for_editors_and_the_function(path: Path) -> None:
    from jsonschema import Draft202012Validator

    schema = json.loads((ROOT / "src" / "targets.schema.json").read_text())
    document = json.loads(path.read_text())
    assert list(Draft202012Validator(schema).iter_errors(document)) == []
    assert targets.check_file(str(path)) == []
    assert (path.parent / document["$schema"]).resolve() == ROOT / "src" / "targets.schema.json"


def test_the_check_the_build_runs_fails_on_a_bad_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "targets.json"
    path.write_text(json.dumps({"targets": [{"name": "a", "auth_mode": "header"}]}))

    assert targets.main([str(path)]) == 1
    assert "Target 'a': auth_header is required" in capsys.readouterr().err
    path.write_text(json.dumps({"targets": [{"name": "a", "websocket_uri": "wss://a.example/"}]}))
    assert targets.main([str(path)]) == 0


def test_what_the_schema_refuses_the_function_refuses_too() -> None:
    from jsonschema import Draft202012Validator

    schema = json.loads((ROOT / "src" / "targets.schema.json").read_text())
    validator = Draft202012Validator(schema)
    for entry in (
        {"name": "a", "websocket_url": "wss://x"},
        {"name": "a", "message": 1, "messages": [1]},
        {"name": "A"},
        {"name": "a", "max_attempts": 0},
    ):
        assert list(validator.iter_errors({"targets": [entry]})), entry
        problem: str | None
        try:
            parsed = parse_fleet({"targets": [entry]}, BASE)
            assert parsed is not None
            error = next(iter(parsed.targets.values())).error
            problem = None if error is None else error.message
        except ConfigError as error:
            problem = error.message
        assert problem is not None, entry


def test_the_local_fleet_events_name_targets_of_the_local_targets_file() -> None:
    local = parse_fleet(json.loads((ROOT / "local_stack" / "targets.json").read_text()), BASE)
    assert local is not None
    for path in sorted((ROOT / "events" / "fleet").glob("*.json")):
        if path.name.startswith("env"):
            continue
        request = parse_payload(json.loads(path.read_text()))
        assert request.selection is not None, path.name
        selection = request.selection
        assert local.choose(selection.names, selection.group), path.name
