"""The one reader of pyproject.toml, as the image model, test-deps and lock-consistency read it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_smartmaint.errors import SmartmaintError
from pytest_smartmaint.static.pyproject import read_pyproject

TEXT = """
[project]
name = "app"
dependencies = ["mlflow==3.17.2", "librosa>=0.10"]
[project.optional-dependencies]
test = ["pytest>=8", "pytest-xdist"]
[dependency-groups]
lint = ["ruff", {include-group = "test"}]
[tool.poetry.dependencies]
python = "^3.11"
scikit-learn = {version = "^1.5"}
[tool.poetry.group.docs]
optional = true
[tool.poetry.group.docs.dependencies]
Sphinx = "*"
"""


def test_every_table_is_read_once_into_what_each_reader_needs(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(TEXT)
    project = read_pyproject(path)
    assert sorted(project.runtime()) == ["librosa", "mlflow", "scikit-learn", "sphinx"]  # what an install brings
    assert project.constraints() == {"mlflow": "==3.17.2", "librosa": ">=0.10", "scikit-learn": "^1.5", "sphinx": "*"}
    assert [r.name for r in project.extras["test"]] == ["pytest", "pytest-xdist"]
    assert [r.name for r in project.dependency_groups["lint"]] == ["ruff"]  # an include-group is no requirement
    assert project.poetry_groups["docs"].optional and not project.poetry_groups["main"].optional


def test_a_file_that_is_not_toml_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text("[project\n")
    with pytest.raises(SmartmaintError, match=r"pyproject.toml is not valid TOML"):
        read_pyproject(path)
