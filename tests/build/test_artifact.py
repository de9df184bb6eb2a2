"""The deployment artifact that `make build` (`sam build`, no container) produced.

`make test` runs `make build` first, so these check the real thing: what
`sam deploy` would upload for the arm64 python3.13 function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from local_stack.invoker import ROOT, load_function

ARTIFACT = ROOT / ".aws-sam" / "build" / load_function().logical_id
SIZE_BUDGET_BYTES = 10 * 1024 * 1024
DEV_ONLY = [
    "boto3",
    "botocore",
    "moto",
    "pytest",
    "cfnlint",
    "samtranslator",
    "local_stack",
    "tests",
    "mypy",
    "ruff",
    "werkzeug",
    "flask",
    "awslambdaric",
]


@pytest.fixture(scope="module")
def artifact() -> Path:
    assert ARTIFACT.is_dir(), "run `make build` (make test does) before these tests"
    return ARTIFACT


def test_handler_module_defines_the_handler(artifact: Path) -> None:
    module = ast.parse((artifact / "ws_exchange" / "handler.py").read_text())

    assert "lambda_handler" in {
        node.name for node in module.body if isinstance(node, ast.FunctionDef)
    }
    assert {p.name for p in (artifact / "ws_exchange").glob("*.py")} == {
        p.name for p in (ROOT / "src" / "ws_exchange").glob("*.py")
    }


def test_websockets_speedups_are_built_for_arm64(artifact: Path) -> None:
    speedups = list((artifact / "websockets").glob("speedups.cpython-313-*.so"))

    assert [p.name for p in speedups] == ["speedups.cpython-313-aarch64-linux-gnu.so"]
    # ELF header: e_machine 0xB7 is AArch64.
    header = speedups[0].read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 0xB7


@pytest.mark.parametrize("name", DEV_ONLY)
def test_no_dev_dependency_is_bundled(artifact: Path, name: str) -> None:
    assert not (artifact / name).exists()
    assert not list(artifact.glob(f"{name}-*.dist-info"))


def test_artifact_fits_the_size_budget(artifact: Path) -> None:
    size = sum(p.stat().st_size for p in artifact.rglob("*") if p.is_file())

    print(f"artifact: {size / 1024 / 1024:.2f} MiB unzipped ({artifact})")
    assert size < SIZE_BUDGET_BYTES
