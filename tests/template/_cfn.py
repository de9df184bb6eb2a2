"""Offline helpers for the SAM template: parse it, transform it, evaluate conditions.

Nothing here needs AWS credentials, Docker or the network: the template is decoded with
cfn-lint's CloudFormation-aware YAML loader and expanded with aws-sam-translator, the same
library `sam validate` uses, with a managed-policy loader that never calls IAM.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
SAMCONFIG_PATH = ROOT / "samconfig.toml"

# Values for the parameters without defaults. Shaped like real ones so the AllowedPatterns hold.
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
    assert len(names) <= 8, "too many conditions to enumerate"
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
