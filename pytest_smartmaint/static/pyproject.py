"""The one reader of pyproject.toml: PEP 621's ``[project]``, PEP 735's ``[dependency-groups]`` and Poetry's
``[tool.poetry]``, as the image model (what an install brings), test-deps (where pytest is declared) and
lock-consistency (what poetry.lock must hold) read them.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..errors import SmartmaintError


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file (pyproject.toml, poetry.lock); one clear error when it does not parse."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SmartmaintError(f"{path} is not valid TOML: {exc}") from exc


@dataclass(frozen=True)
class PoetryGroup:
    dependencies: Mapping[str, str]  # canonical name -> version constraint as written ("*" when none)
    optional: bool = False


@dataclass(frozen=True)
class Pyproject:
    path: Path
    dependencies: tuple[Requirement, ...] = ()  # [project] dependencies
    extras: Mapping[str, tuple[Requirement, ...]] = field(default_factory=dict)  # [project.optional-dependencies]
    dependency_groups: Mapping[str, tuple[Requirement, ...]] = field(default_factory=dict)  # PEP 735
    poetry_groups: Mapping[str, PoetryGroup] = field(default_factory=dict)  # "main", "dev", and [tool.poetry.group.*]

    def runtime(self) -> dict[str, Requirement]:
        """What installing the project brings: [project] dependencies, and every Poetry group's."""
        found: dict[str, Requirement] = {str(canonicalize_name(r.name)): r for r in reversed(self.dependencies)}
        for group in self.poetry_groups.values():
            for name in group.dependencies:
                poetry_requirement = _requirement(name)
                if poetry_requirement is not None:
                    found.setdefault(name, poetry_requirement)
        return found

    def constraints(self) -> dict[str, str]:
        """canonical name -> constraint text, from [project] and every Poetry group (what poetry.lock must hold)."""
        found = {str(canonicalize_name(r.name)): str(r.specifier) or "*" for r in reversed(self.dependencies)}
        for group in self.poetry_groups.values():
            for name, version in group.dependencies.items():
                found.setdefault(name, version)
        return found


def read_pyproject(path: Path) -> Pyproject:
    data = read_toml(path)
    project = data.get("project", {})
    poetry = data.get("tool", {}).get("poetry", {})
    groups: dict[str, PoetryGroup] = {"main": PoetryGroup(_poetry_dependencies(poetry.get("dependencies", {})))}
    if poetry.get("dev-dependencies"):
        groups["dev"] = PoetryGroup(_poetry_dependencies(poetry["dev-dependencies"]))
    for name, spec in (poetry.get("group") or {}).items():
        groups[str(name)] = PoetryGroup(_poetry_dependencies(spec.get("dependencies", {})), bool(spec.get("optional")))
    return Pyproject(
        path,
        _requirements(project.get("dependencies", [])),
        {str(k): _requirements(v) for k, v in (project.get("optional-dependencies") or {}).items()},
        {str(k): _requirements(v) for k, v in (data.get("dependency-groups") or {}).items()},
        groups,
    )


def _requirement(text: str) -> Requirement | None:
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def _requirements(lines: object) -> tuple[Requirement, ...]:
    """PEP 508 lines; an include-group table or a line that does not parse is left out."""
    items = lines if isinstance(lines, list) else []
    return tuple(r for line in items if isinstance(line, str) and (r := _requirement(line)) is not None)


def _poetry_dependencies(table: Mapping[str, Any]) -> dict[str, str]:
    return {
        str(canonicalize_name(name)): str(spec.get("version", "*") if isinstance(spec, dict) else spec)
        for name, spec in table.items()
        if name.lower() != "python"
    }
