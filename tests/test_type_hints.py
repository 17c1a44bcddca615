"""The type hints are true: mypy finds nothing wrong in any module of reconstream, its tests or its benchmarks.

The package is checked as it installs (`reconstream.models`, ...): a folder whose subpackages link to the
top-level folders, as pyproject.toml maps them. Checked by their folder names instead, the modules' imports
of `reconstream.*` would not resolve and every type crossing a package would pass as Any. The tests import
their helpers (`factories`, `matching_cases`, ...) from tests/, as pytest's pythonpath has it, so mypy looks
there too. One run checks all three: the tests and benchmarks import the package, which it checks once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# reconstream.<name> -> its top-level folder, as pyproject.toml maps them (a package added there is checked too).
PACKAGE_DIRS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-dir"]


def scripts(folder: str) -> list[str]:
    """Every Python file under a folder of the repository, but those in hidden folders (benchmarks/.data holds
    generated data and the Quix peer's own virtualenv)."""
    found = (ROOT / folder).rglob("*.py")
    return sorted(str(path) for path in found if not any(part.startswith(".") for part in path.relative_to(ROOT).parts))


def test_mypy_finds_nothing_in_the_package_its_tests_and_benchmarks(tmp_path: Path) -> None:
    package = tmp_path / "reconstream"
    package.mkdir()
    for name, folder in PACKAGE_DIRS.items():
        (package / name.removeprefix("reconstream.")).symlink_to(ROOT / folder)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--namespace-packages",
            "--explicit-package-bases",
            "reconstream",
            *scripts("tests"),
            *scripts("benchmarks"),
        ],
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(ROOT / "tests")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout
