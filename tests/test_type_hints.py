"""The package's type hints are true: mypy finds nothing wrong in any module of reconstream.

The package is checked as it installs (`reconstream.models`, ...): a folder whose subpackages link to the
top-level folders, as pyproject.toml maps them. Checked by their folder names instead, the modules' imports
of `reconstream.*` would not resolve and every type crossing a package would pass as Any.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# reconstream.<name> -> its top-level folder, as pyproject.toml maps them (a package added there is checked too).
PACKAGE_DIRS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-dir"]


def test_mypy_finds_nothing_in_the_package(tmp_path: Path) -> None:
    package = tmp_path / "reconstream"
    package.mkdir()
    for name, folder in PACKAGE_DIRS.items():
        (package / name.removeprefix("reconstream.")).symlink_to(ROOT / folder)
    selected = [arg for name in PACKAGE_DIRS for arg in ("-p", name)]
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
            *selected,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout
