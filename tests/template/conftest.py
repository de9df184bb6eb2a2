"""Fixtures for the offline template tests (helpers live in _cfn.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ._cfn import load_template, sam_transform


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="session")
def cfn(template: dict[str, Any]) -> dict[str, Any]:
    """The transformed template with the parameter defaults."""
    return sam_transform(template)


@pytest.fixture(scope="session")
def transform_with(template: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """Transform with some parameters overridden."""

    def _transform(**parameters: Any) -> dict[str, Any]:
        return sam_transform(template, parameters)

    return _transform
