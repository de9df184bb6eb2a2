"""Guard: every ``tests/**/test_*.py`` file is collected by pytest.

pytest silently skips folders its ``norecursedirs`` names (by default any folder
called ``build``), so a whole suite can stop running without a single failure.
These tests run pytest's own collection in a subprocess, as ``make test`` does,
and compare what it found with the files on disk.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# "tests/unit/test_config.py: 42" per collected file (``--collect-only -qq``).
_COLLECTED_FILE = re.compile(r"^(?P<path>\S+\.py): \d+$")


def uncollected_test_files(root: Path) -> set[str]:
    """The ``tests/**/test_*.py`` files under ``root`` that pytest does not collect
    with ``root``'s own configuration."""
    collection = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-qq", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    # 5 is "no tests collected"; anything else but 0 is a collection error.
    assert collection.returncode in (0, 5), collection.stdout + collection.stderr
    collected = {
        Path(match["path"]).as_posix()
        for line in collection.stdout.splitlines()
        if (match := _COLLECTED_FILE.match(line.strip()))
    }
    on_disk = {path.relative_to(root).as_posix() for path in (root / "tests").rglob("test_*.py")}
    return on_disk - collected


def test_every_test_file_in_the_repository_is_collected() -> None:
    assert uncollected_test_files(ROOT) == set()


def test_a_test_folder_skipped_by_pytest_defaults_is_reported(tmp_path: Path) -> None:
    # pytest's defaults (no norecursedirs of our own) skip tests/build: the
    # situation the guard exists for.
    (tmp_path / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    for folder in ("unit", "build"):
        (tmp_path / "tests" / folder).mkdir(parents=True)
        (tmp_path / "tests" / folder / f"test_{folder}.py").write_text(
            "def test_passes() -> None:\n    assert True\n"
        )

    assert uncollected_test_files(tmp_path) == {"tests/build/test_build.py"}
