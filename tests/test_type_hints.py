"""The package's type hints are true: mypy finds nothing wrong in any module of reconstream.

The package is checked as it installs (`reconstream.models`, ...): a folder whose subpackages link to the
top-level folders, as pyproject.toml maps them. Checked by their folder names instead, the modules' imports
of `reconstream.*` would not resolve and every type crossing a package would pass as Any.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("models", "matchers", "tables", "streams", "shells", "synthetic")


def test_mypy_finds_nothing_in_the_package(tmp_path: Path) -> None:
    package = tmp_path / "reconstream"
    package.mkdir()
    for name in PACKAGES:
        (package / name).symlink_to(ROOT / name)
    selected = [arg for name in PACKAGES for arg in ("-p", f"reconstream.{name}")]
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
