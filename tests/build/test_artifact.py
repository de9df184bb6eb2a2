"""The deployment artifact that `make build` (`sam build`, no container) produced.

`make test` runs `make build` first, so these check the real thing: what
`sam deploy` would upload for the arm64 python3.13 function.
"""

from __future__ import annotations

import ast
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from local_stack.runtime.invoker import ROOT, load_function

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
# CPython 3.13's bytecode magic number (importlib.util.MAGIC_NUMBER under 3.13):
# the runtime rejects, and recompiles from source, bytecode of any other version.
CPYTHON_313_MAGIC = (3571).to_bytes(2, "little") + b"\r\n"
# PEP 552 flags word: bit 0 = hash-based, bit 1 = check the source. 0b01 is
# "unchecked-hash": valid whatever the source's mtime, which the zip drops.
UNCHECKED_HASH_FLAGS = 0b01
# Bundled packages whose modules must all come with bytecode.
BUNDLED = ["ws_exchange", "aws_lambda_powertools", "websockets", "jmespath"]


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


def test_the_targets_file_is_packaged_as_written_beside_its_schema(artifact: Path) -> None:
    for name in ("targets.json", "targets.schema.json"):
        assert (artifact / name).read_bytes() == (ROOT / "src" / name).read_bytes(), name


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


def bytecode_for(source: Path) -> Path:
    return source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"


def test_build_files_are_not_shipped(artifact: Path) -> None:
    assert not (artifact / "Makefile").exists()
    assert not (artifact / "requirements.txt").exists()


@pytest.mark.parametrize("package", BUNDLED)
def test_every_module_ships_unchecked_hash_bytecode_for_cpython_313(
    artifact: Path, package: str
) -> None:
    sources = sorted((artifact / package).rglob("*.py"))
    assert sources, f"{package} is not bundled"
    for source in sources:
        header = bytecode_for(source).read_bytes()[:8]
        assert header[:4] == CPYTHON_313_MAGIC, source
        assert int.from_bytes(header[4:8], "little") == UNCHECKED_HASH_FLAGS, source


def test_top_level_modules_ship_bytecode_too(artifact: Path) -> None:
    modules = sorted(artifact.glob("*.py"))

    assert [p.name for p in modules] == ["typing_extensions.py"]
    assert bytecode_for(modules[0]).read_bytes()[:4] == CPYTHON_313_MAGIC


IMPORT_THE_HANDLER = """
import sys
import ws_exchange.handler, ws_exchange.secret_extension
root = sys.argv[1]
for name in ("ws_exchange.handler", "aws_lambda_powertools", "websockets", "typing_extensions"):
    assert sys.modules[name].__file__.startswith(root), (name, sys.modules[name].__file__)
"""


def test_handler_imports_from_bytecode_alone_in_a_read_only_copy(
    artifact: Path, tmp_path: Path
) -> None:
    """As in Lambda: /var/task is read-only and its sources' mtimes are not the build's.

    Every bundled source is overwritten with a syntax error, so the import
    succeeds only if each module it loads comes from the shipped bytecode;
    nothing may be written next to it.
    """
    task = tmp_path / "task"
    shutil.copytree(artifact, task)
    for source in task.rglob("*.py"):
        source.write_text("this is not Python (\n")
    before = sorted(str(p.relative_to(task)) for p in task.rglob("*"))
    for path in [task, *task.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        child = subprocess.run(
            [sys.executable, "-c", IMPORT_THE_HANDLER, str(task)],
            env={
                "PATH": os.environ.get("PATH", ""),
                "PYTHONPATH": str(task),
                "AWS_REGION": "us-east-1",
                "AWS_DEFAULT_REGION": "us-east-1",
                "POWERTOOLS_SERVICE_NAME": "build-test",
                "POWERTOOLS_METRICS_NAMESPACE": "BuildTest",
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        after = sorted(str(p.relative_to(task)) for p in task.rglob("*"))
    finally:
        for path in [task, *task.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)

    assert child.returncode == 0, child.stderr[-2000:]
    assert after == before
