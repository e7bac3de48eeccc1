"""test-deps: the services that run the tests have pytest and the project's pytest plugins installed.

A production image installs with ``poetry install --only=main`` (or ``--without dev``, or a
requirements file without the test group), and ``docker compose exec api pytest`` then fails
with "No module named pytest". The static half finds where the project declares pytest and
whether the image's install steps keep it; the live half imports it in the running service.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..static.image_facts import ImageFacts
from ..static.install_steps import InstallStep, install_steps
from ..static.pyproject import read_pyproject
from ..static.stack_model import StackModel
from .base import Case, Check, LiveCase, StaticCase, fail, not_applicable, record_facts

if TYPE_CHECKING:
    from ..live.stack import LiveStack

NAME = "test-deps"
NO_TEST_SERVICE = (
    "no test service: no service's command or entrypoint runs pytest; name the services that run "
    "the tests with the ini option smartmaint_test_services"
)


@dataclass(frozen=True)
class Declaration:
    """Where the project declares pytest: a requirements file, or a group/extra of pyproject.toml."""

    file: Path
    kind: str  # requirements, poetry-group, extra, dependency-group
    group: str | None
    plugins: tuple[str, ...]  # the pytest-* packages declared beside it

    def describe(self) -> str:
        if self.kind == "requirements":
            return f"{self.file.name}"
        label = {"poetry-group": "the Poetry group", "extra": "the extra", "dependency-group": "the dependency group"}
        return f"{label[self.kind]} `{self.group}` of {self.file.name}"


def _names(lines: list[str]) -> list[str]:
    found: list[str] = []
    for line in lines:
        try:
            found.append(canonicalize_name(Requirement(line).name))
        except InvalidRequirement:
            continue
    return found


def _declaration(file: Path, kind: str, group: str | None, names: list[str]) -> Declaration | None:
    if "pytest" not in names:
        return None
    return Declaration(file, kind, group, tuple(n for n in names if n.startswith("pytest-")))


def declarations(context: Path) -> list[Declaration]:
    found: list[Declaration | None] = []
    for path in sorted(context.glob("*.txt")):
        lines = [raw.split(" #")[0].strip() for raw in path.read_text(encoding="utf-8", errors="replace").splitlines()]
        found.append(
            _declaration(path, "requirements", None, _names([line for line in lines if line and line[0] not in "#-"]))
        )
    pyproject = context / "pyproject.toml"
    if pyproject.is_file():
        project = read_pyproject(pyproject)
        for extra, requirements in project.extras.items():
            found.append(
                _declaration(pyproject, "extra", extra, [str(canonicalize_name(r.name)) for r in requirements])
            )
        for group, requirements in project.dependency_groups.items():
            names = [str(canonicalize_name(r.name)) for r in requirements]
            found.append(_declaration(pyproject, "dependency-group", group, names))
        for group, poetry in project.poetry_groups.items():
            found.append(_declaration(pyproject, "poetry-group", group, list(poetry.dependencies)))
    return [d for d in found if d is not None]


def _option_values(words: list[str], *names: str) -> set[str]:
    values: set[str] = set()
    for i, word in enumerate(words):
        for name in names:
            if word == name and i + 1 < len(words):
                values.update(v.strip() for v in words[i + 1].split(","))
            elif word.startswith(name + "="):
                values.update(v.strip() for v in word.split("=", 1)[1].split(","))
    return values


@dataclass(frozen=True)
class Verdict:
    installed: bool | None  # None: an install step the files cannot read
    step: str  # the install step that decides it


def installs(image: ImageFacts, declaration: Declaration) -> Verdict:
    """Does one of the image's install steps install what ``declaration`` declares?"""
    unreadable = ""
    deciding = ""
    for step in install_steps(image.run_lines):
        words, text = list(step.words), step.text
        if step.installer == "pip" and step.verb == "install":
            deciding = deciding or text
            if "pytest" in _names([w for w in step.args if not w.startswith("-")]):
                return Verdict(True, text)
            if declaration.kind == "extra" and any(
                re.search(rf"\.\[[^\]]*\b{re.escape(declaration.group or '')}\b", w) for w in words
            ):
                return Verdict(True, text)
            if declaration.kind == "dependency-group" and declaration.group in _option_values(words, "--group"):
                return Verdict(True, text)
        elif step.installer == "poetry" and step.verb == "install":
            deciding = text
            if declaration.kind == "extra" and (
                "--all-extras" in words or declaration.group in _option_values(words, "-E", "--extras")
            ):
                return Verdict(True, text)
            if declaration.kind != "poetry-group":
                continue
            only = _option_values(words, "--only")
            without = _option_values(words, "--without") | ({"dev"} if "--no-dev" in words else set())
            with_ = _option_values(words, "--with")
            if only:
                if declaration.group in only:
                    return Verdict(True, text)
            elif declaration.group not in without and (
                declaration.group in ("main", "dev")
                or declaration.group in with_
                or not _optional_poetry_group(declaration)
            ):
                return Verdict(True, text)
        elif step.installer == "uv" and step.verb in ("sync", "install"):
            deciding = text
            if declaration.kind == "dependency-group":
                groups = _option_values(words, "--group", "--only-group")
                default = declaration.group == "dev" and "--no-dev" not in words and "--no-default-groups" not in words
                if "--all-groups" in words or declaration.group in groups or (default and "--only-group" not in text):
                    return Verdict(True, text)
            if declaration.kind == "extra" and (
                "--all-extras" in words or declaration.group in _option_values(words, "--extra")
            ):
                return Verdict(True, text)
        elif step.installer == "unread":
            unreadable = unreadable or text
    if declaration.kind == "requirements" and declaration.file in image.dependency_files:
        return Verdict(True, f"pip install -r {declaration.file.name}")
    if unreadable:
        return Verdict(None, unreadable)
    return Verdict(False, deciding)


def _pip_installs_pytest(step: InstallStep) -> bool:
    return (
        step.installer == "pip"
        and step.verb == "install"
        and "pytest" in _names([w for w in step.args if not w.startswith("-")])
    )


def _optional_poetry_group(declaration: Declaration) -> bool:
    group = read_pyproject(declaration.file).poetry_groups.get(declaration.group or "")
    return bool(group and group.optional)


def _fix(declaration: Declaration) -> str:
    return {
        "requirements": f"RUN pip install -r {declaration.file.name}",
        "poetry-group": f"RUN poetry install --with {declaration.group}   "
        f"(instead of --only=main / --without {declaration.group})",
        "extra": f"RUN pip install '.[{declaration.group}]'",
        "dependency-group": f"RUN uv sync --group {declaration.group}   (or pip install --group {declaration.group})",
    }[declaration.kind]


def static_cases(model: StackModel) -> list[StaticCase]:
    if not model.roles.tests:
        return [not_applicable(NAME, "static", NO_TEST_SERVICE)]
    return [Case(NAME, "static", name, functools.partial(_check, service=name)) for name in model.roles.tests]


def live_cases(model: StackModel) -> list[LiveCase]:
    if not model.roles.tests:
        return [not_applicable(NAME, "live", NO_TEST_SERVICE)]
    return [Case(NAME, "live", name, functools.partial(_live, service=name), (name,)) for name in model.roles.tests]


def test_declaration(model: StackModel, service: str) -> Declaration | None:
    build = model.service(service).build
    found = declarations(build.context) if build is not None else []
    return next((d for d in found if d.kind != "poetry-group" or d.group != "main"), found[0] if found else None)


def _check(model: StackModel, service: str) -> None:
    image = model.images.get(service)
    if image is None:
        pytest.skip(
            f"{service} runs a prebuilt image: the files do not say what it installs; "
            f"the live item {NAME}[live-{service}] imports pytest in the running container"
        )
    direct = next((step.text for step in install_steps(image.run_lines) if _pip_installs_pytest(step)), None)
    if direct:
        record_facts(step=direct)
        return
    declaration = test_declaration(model, service)
    if declaration is None:
        pytest.skip(
            f"{service}'s build context declares no pytest (no requirements file, extra or group names it): "
            f"the live item {NAME}[live-{service}] checks what the image has"
        )
    verdict = installs(image, declaration)
    record_facts(declared_in=declaration.describe(), step=verdict.step)
    if verdict.installed:
        return
    if verdict.installed is None:
        pytest.skip(
            f"{service}'s image installs through `{verdict.step}`, which the files do not show: "
            f"the live item {NAME}[live-{service}] checks the running container"
        )
    target = model.service(service).build
    step = f"its install step `{verdict.step}`" if verdict.step else "no install step"
    if target is not None and target.target:
        step += f" (build target `{target.target}`)"
    fail(
        f"{service} runs the tests ({model.roles.sources.get('tests', '')}), but its image leaves out pytest: the "
        f"project declares it in {declaration.describe()}, and {step} in {image.dockerfile} does not install that.\n"
        f'`docker compose exec {service} pytest` fails with "No module named pytest" (or `pytest: not found`).\n'
        f"Fix, in {image.dockerfile} (a test stage, or the image the tests run in):\n    {_fix(declaration)}"
    )


def _live(stack: LiveStack, service: str) -> None:
    declaration = test_declaration(stack.model, service)
    plugins = list(declaration.plugins) if declaration else []
    result = stack.test_tooling(service, plugins)
    record_facts(pytest=result.pytest_version, plugins=dict(result.plugins))
    problems = []
    if result.pytest_version is None:
        problems.append(f"pytest does not import: {result.pytest_error}")
    elif result.version_rc != 0:
        problems.append(f"`pytest --version` exits {result.version_rc}: {result.version_output[-300:]}")
    problems += [f"{plugin}: {error}" for plugin, error in result.plugins.items() if error != "ok"]
    if problems:
        where = f"declared in {declaration.describe()}, " if declaration else ""
        fail(
            f"the tests cannot run in {service}:\n"
            + "\n".join(f"- {p}" for p in problems)
            + f"\nInstall the test dependencies ({where}pytest and its plugins) in the image {service} runs, "
            f"then rebuild: docker compose build {service}"
        )


CHECK = Check(NAME, static=static_cases, live=live_cases)
