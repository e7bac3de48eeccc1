"""Run one static check on a compose project, without pytest's collection."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_smartmaint.checks import REGISTRY
from pytest_smartmaint.errors import CheckFailure
from pytest_smartmaint.settings import Settings
from pytest_smartmaint.static.stack_model import StackModel, build_model


def settings_for(files: list[Path], **kwargs: object) -> Settings:
    return Settings(
        compose_files=tuple(files),
        compose_files_source="test",
        static_only=True,
        project=None,
        keep=False,
        report=None,
        **kwargs,  # type: ignore[arg-type]
    )


def load(project_dir: Path, *overrides: str, **kwargs: object) -> StackModel:
    files = [project_dir / "docker-compose.yml"]
    for i, text in enumerate(overrides):
        path = project_dir / f"override-{i}.yml"
        path.write_text(text, encoding="utf-8")
        files.append(path)
    return build_model(settings_for(files, **kwargs))


def verdict(model: StackModel, check: str, subject: str) -> str:
    """'passed', 'skipped: <reason>' or the failure message of ``check[static-subject]``."""
    cases = [c for c in REGISTRY.static_cases(model, only=[check])]
    matching = [c for c in cases if c.subject == subject]
    assert matching, f"no {check} case for {subject!r}; cases: {[c.subject for c in cases]}"
    try:
        matching[0].run(model)
    except CheckFailure as failure:
        return str(failure)
    except pytest.skip.Exception as skipped:
        return f"skipped: {skipped.msg}"
    return "passed"
