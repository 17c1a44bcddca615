"""pyproject.toml's package list names every folder of the installed tree: a folder left out is missing from a
non-editable install (the editable one maps whole roots, so the tests would not notice) and makes setuptools warn."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_folder_is_a_declared_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    declared = set(config["packages"])
    folders = set()
    for name, where in config["package-dir"].items():
        root = ROOT / where
        folders |= {
            ".".join([name, *path.relative_to(root).parts])
            for path in [root, *root.rglob("*")]
            if path.is_dir() and "__pycache__" not in path.parts
        }
    assert folders == declared


def test_data_files_are_declared() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    roots = {name: ROOT / where for name, where in config["package-dir"].items()}

    def folder_of(package: str) -> Path:
        root_name = next(name for name in roots if package == name or package.startswith(name + "."))
        return roots[root_name].joinpath(*package[len(root_name) :].split(".")[1:])

    declared = {
        path
        for package, patterns in config["package-data"].items()
        for pattern in patterns
        for path in folder_of(package).glob(pattern)
    }
    data = {
        path
        for root in roots.values()
        for path in root.rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc")
    }
    assert data <= declared
