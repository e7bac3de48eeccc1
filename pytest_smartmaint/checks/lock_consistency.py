"""lock-consistency: poetry.lock holds every dependency pyproject.toml declares, at a version it allows.

Constraints are read with poetry-core, so ``^1.2``, ``~1.2`` and PEP 440 specifiers mean
what they mean to ``poetry install``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from packaging.utils import canonicalize_name

from ..static.pyproject import read_pyproject, read_toml
from ..static.stack_model import StackModel
from .audio_deps import PYTHON_PACKAGES as AUDIO_PACKAGES
from .base import Case, Check, StaticCase, fail, not_applicable

NAME = "lock-consistency"


def static_cases(model: StackModel) -> list[StaticCase]:
    directories = {model.project.directory}
    directories.update(s.build.context for s in model.project.services.values() if s.build is not None)
    locked = sorted(d for d in directories if (d / "poetry.lock").is_file() and (d / "pyproject.toml").is_file())
    if not locked:
        return [
            not_applicable(
                NAME, "static", "no poetry.lock next to a pyproject.toml in the project or its build contexts"
            )
        ]
    return [Case(NAME, "static", _label(model, d), functools.partial(_check, directory=d)) for d in locked]


def _label(model: StackModel, directory: Path) -> str:
    relative = Path(os.path.relpath(directory, model.project.directory)).as_posix()
    return (
        "./poetry.lock"
        if relative == "."
        else f"{relative if relative.startswith('.') else './' + relative}/poetry.lock"
    )


def _check(model: StackModel, directory: Path) -> None:
    from poetry.core.constraints.version import Version, parse_constraint

    pyproject = read_pyproject(directory / "pyproject.toml")
    lock = read_toml(directory / "poetry.lock")
    locked: dict[str, str] = {canonicalize_name(p["name"]): str(p["version"]) for p in lock.get("package", [])}
    declared = pyproject.constraints()
    missing = sorted(n for n in declared if n not in locked)
    outside = []
    for name, constraint in sorted(declared.items()):
        if name in locked and constraint not in ("*", ""):
            try:
                allowed = parse_constraint(constraint).allows(Version.parse(locked[name]))
            except ValueError:
                continue
            if not allowed:
                outside.append(f"{name}: declared {constraint}, locked {locked[name]}")
    if not missing and not outside:
        return
    relied = [n for n in missing if n in AUDIO_PACKAGES or n in ("mlflow", "mlflow-skinny", "scikit-learn")]
    lines = []
    if missing:
        lines.append(f"declared in pyproject.toml but not in poetry.lock: {', '.join(missing)}")
    if outside:
        lines.append("locked at a version pyproject.toml no longer allows: " + "; ".join(outside))
    consequence = (
        f"\n{', '.join(relied)} {'is' if len(relied) == 1 else 'are'} what the live checks rely on: "
        "an image built from this lock lacks it."
        if relied
        else ""
    )
    fail(
        f"{_label(model, directory)} is out of date with {directory.name}/pyproject.toml:\n- "
        + "\n- ".join(lines)
        + f'{consequence}\n`poetry install` refuses a stale lock ("pyproject.toml changed significantly since '
        f'poetry.lock was last generated"), and `poetry export`/`pip install` from it installs the old set.\n'
        f"Fix: run `poetry lock` in {directory} and commit poetry.lock."
    )


CHECK = Check(NAME, static=static_cases)
