"""Offline helpers for the SAM template: parse it, transform it, evaluate conditions.

Nothing here needs AWS credentials, Docker or the network: the template is decoded with
cfn-lint's CloudFormation-aware YAML loader and expanded with aws-sam-translator, the same
library `sam validate` uses, with a managed-policy loader that never calls IAM.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
SAMCONFIG_PATH = ROOT / "samconfig.toml"

# Values for the parameters without defaults, and the token secret the default AuthMode
# (bearer) needs. Shaped like real ones so the AllowedPatterns hold.
REQUIRED_PARAMETERS = {
    "WebSocketUri": "wss://stream.example.com/v1",
    "TokenSecretArn": (
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:websocket-exchange/token-AbCdEf"
    ),
}

NO_VALUE = {"Ref": "AWS::NoValue"}


def load_template() -> dict[str, Any]:
    """The template as plain JSON-compatible data (short tags expanded to Fn:: forms)."""
    from cfnlint.decode.decode import decode_str

    template, matches = decode_str(TEMPLATE_PATH.read_text(encoding="utf-8"))
    assert not matches, [str(m) for m in matches]
    assert template is not None
    # cfn-lint's node classes carry line marks; plain dicts are what samtranslator expects.
    return json.loads(json.dumps(template))


class OfflineManagedPolicyLoader:
    """Stands in for samtranslator's ManagedPolicyLoader, which lists policies through IAM.

    The map is only consulted for managed policies named in `Policies:`; the template names
    none, so an empty map is enough and any such reference would fail the transform.
    """

    def load(self) -> dict[str, str]:
        return {}


def sam_transform(template: dict[str, Any], parameters: dict[str, Any] | None = None) -> dict:
    """Expand the SAM template into CloudFormation, as `sam validate` / the deploy would."""
    from samtranslator.translator.transform import transform

    sam_template = copy.deepcopy(template)
    for resource in sam_template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            # What `sam validate` does: the local CodeUri is only uploaded by `sam deploy`.
            resource["Properties"]["CodeUri"] = "s3://bucket/key"
    values = {**REQUIRED_PARAMETERS, **(parameters or {})}
    with pytest.MonkeyPatch.context() as env:
        # samtranslator asks boto3 for a region (ARN partition, AWS::Region); no credentials.
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.delenv("AWS_REGION", raising=False)
        env.delenv("AWS_PROFILE", raising=False)
        return transform(sam_template, values, OfflineManagedPolicyLoader())


def resources_of_type(cfn: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in cfn["Resources"].items() if v["Type"] == type_name}


def only_resource(cfn: dict[str, Any], type_name: str) -> tuple[str, dict[str, Any]]:
    found = resources_of_type(cfn, type_name)
    assert len(found) == 1, f"expected one {type_name}, found {sorted(found)}"
    return next(iter(found.items()))


def resolve_conditions(value: Any, conditions: dict[str, bool]) -> Any:
    """Evaluate Fn::If with the given condition values and drop AWS::NoValue.

    Returns NO_VALUE when the whole value disappears.
    """
    if isinstance(value, dict):
        if set(value) == {"Fn::If"}:
            name, when_true, when_false = value["Fn::If"]
            assert name in conditions, f"condition {name} not given"
            return resolve_conditions(when_true if conditions[name] else when_false, conditions)
        if value == NO_VALUE:
            return NO_VALUE
        out = {}
        for key, item in value.items():
            resolved = resolve_conditions(item, conditions)
            if resolved != NO_VALUE:
                out[key] = resolved
        return out
    if isinstance(value, list):
        items = [resolve_conditions(item, conditions) for item in value]
        return [item for item in items if item != NO_VALUE]
    return value


def condition_combinations(cfn: dict[str, Any]) -> list[dict[str, bool]]:
    """Every true/false assignment of the template's conditions (there are only a few)."""
    names = sorted(cfn.get("Conditions", {}))
    assert len(names) <= 13, "too many conditions to enumerate"
    return [
        {name: bool(mask >> i & 1) for i, name in enumerate(names)}
        for mask in range(2 ** len(names))
    ]


def parameter_default(template: dict[str, Any], value: Any) -> Any:
    """A literal, or the default of the parameter it references."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        parameter = template["Parameters"][value["Ref"]]
        assert "Default" in parameter, f"parameter {value['Ref']} has no default"
        return parameter["Default"]
    return value


# --------------------------------------------------------------------------- evaluation
# What CloudFormation does at deploy time with concrete parameter values, for the few
# functions the template uses: conditions, rules, and the values a property resolves to.

PSEUDO_PARAMETERS = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "websocket-exchange",
}


def parameter_values(template: dict[str, Any], overrides: dict[str, Any] | None = None) -> dict:
    """Every parameter's value: its default, the required ones, then ``overrides``."""
    values = {
        name: spec["Default"] for name, spec in template["Parameters"].items() if "Default" in spec
    }
    values.update(REQUIRED_PARAMETERS)
    values.update(overrides or {})
    missing = set(template["Parameters"]) - set(values)
    assert not missing, f"no value for {sorted(missing)}"
    return values


def evaluate(value: Any, values: dict[str, Any], conditions: dict[str, bool] | None = None) -> Any:
    """Resolve ``value`` as CloudFormation would with these parameter ``values``.

    Covers Ref, Condition, Fn::If, Fn::Equals, Fn::Not, Fn::And, Fn::Or, Fn::Contains,
    Fn::Select, Fn::Split, Fn::Join and Fn::Sub (other references stay as written).
    Only the chosen branch of Fn::If is evaluated, as CloudFormation does.
    """
    if isinstance(value, list):
        items = [evaluate(item, values, conditions) for item in value]
        return [item for item in items if item != NO_VALUE]
    if not isinstance(value, dict):
        return value
    if value == NO_VALUE:
        return NO_VALUE
    if len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref" and argument in values:
            return values[argument]
        if function == "Ref" and argument in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[argument]
        if function == "Condition":
            assert conditions is not None and argument in conditions, argument
            return conditions[argument]
        if function == "Fn::If":
            name, when_true, when_false = argument
            assert conditions is not None and name in conditions, name
            return evaluate(when_true if conditions[name] else when_false, values, conditions)
        if function == "Fn::Equals":
            left, right = (evaluate(item, values, conditions) for item in argument)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not evaluate(argument[0], values, conditions)
        if function == "Fn::And":
            return all(evaluate(item, values, conditions) for item in argument)
        if function == "Fn::Or":
            return any(evaluate(item, values, conditions) for item in argument)
        if function == "Fn::Contains":
            members, item = (evaluate(part, values, conditions) for part in argument)
            return item in members
        if function == "Fn::Select":
            index, items = (evaluate(part, values, conditions) for part in argument)
            index = int(index)
            # CloudFormation fails the deploy here; the assertion stands for that.
            assert 0 <= index < len(items), f"Fn::Select: no item {index} in {items}"
            return items[index]
        if function == "Fn::Split":
            separator, text = (evaluate(part, values, conditions) for part in argument)
            return text.split(separator)
        if function == "Fn::Join":
            separator, items = (evaluate(part, values, conditions) for part in argument)
            return separator.join(str(item) for item in items)
        if function == "Fn::Sub":
            return _substitute(argument, values, conditions)
    resolved = {key: evaluate(item, values, conditions) for key, item in value.items()}
    return {key: item for key, item in resolved.items() if item != NO_VALUE}


def _substitute(argument: Any, values: dict[str, Any], conditions: dict[str, bool] | None) -> Any:
    text, variables = (argument, {}) if isinstance(argument, str) else argument
    names = {**PSEUDO_PARAMETERS, **values}
    names.update({k: evaluate(v, values, conditions) for k, v in variables.items()})

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in names:
            return str(names[name])
        # ${Resource} / ${Resource.Attr}: left as written, resolved only at deploy time.
        return match.group(0)

    return re.sub(r"\$\{([^}!]+)\}", replace, text)


def evaluate_conditions(cfn: dict[str, Any], values: dict[str, Any]) -> dict[str, bool]:
    """The template's conditions with these parameter values."""
    definitions = cfn.get("Conditions", {})
    results: dict[str, bool] = {}

    def condition(name: str) -> bool:
        if name not in results:
            results[name] = bool(evaluate(definitions[name], values, _Lazy(condition)))
        return results[name]

    for name in definitions:
        condition(name)
    return results


class _Lazy(dict[str, bool]):
    """Conditions that refer to other conditions: evaluated on first use."""

    def __init__(self, compute: Any) -> None:
        super().__init__()
        self._compute = compute

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str)

    def __getitem__(self, name: str) -> bool:
        return bool(self._compute(name))


def failed_rules(template: dict[str, Any], values: dict[str, Any]) -> list[str]:
    """The AssertDescription of every rule assertion these values break (deploy refused)."""
    failures = []
    for rule in template.get("Rules", {}).values():
        applies = "RuleCondition" not in rule or evaluate(rule["RuleCondition"], values)
        if not applies:
            continue
        for assertion in rule["Assertions"]:
            if not evaluate(assertion["Assert"], values):
                failures.append(assertion.get("AssertDescription", json.dumps(assertion)))
    return failures
