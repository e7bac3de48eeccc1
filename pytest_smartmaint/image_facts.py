"""What a service's image will contain, read from its Dockerfile without building it.

dockerfile-parse does the parsing; this module reads the final stage (or the build
target) for CMD/ENTRYPOINT, ENV, USER, WORKDIR, the system packages it installs and the
Python dependency files it installs from, and reads those files' declared packages.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from dockerfile_parse import DockerfileParser
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .compose_model import Build
from .errors import SmartmaintError

SYSTEM_INSTALLERS = (("apt-get", "install"), ("apt", "install"), ("apk", "add"), ("yum", "install"), ("dnf", "install"))
_SHELL_SPLIT = re.compile(r"&&|\|\||;|\|")


@dataclass(frozen=True)
class ImageFacts:
    dockerfile: Path
    base_image: str
    cmd: tuple[str, ...] | None
    entrypoint: tuple[str, ...] | None
    env: Mapping[str, str]
    user: str | None
    workdir: str
    system_packages: frozenset[str]
    python_packages: Mapping[str, Requirement]  # canonical name -> declared requirement
    dependency_files: tuple[Path, ...] = field(default=())
    removed_python_packages: frozenset[str] = frozenset()  # `pip uninstall`ed in this stage
    sets_workdir: bool = True

    def declares(self, package: str) -> bool:
        return canonicalize_name(package) in self.python_packages

    def on_top_of(self, parent: ImageFacts) -> ImageFacts:
        """These facts for a Dockerfile whose FROM is ``parent``'s image (built by another service)."""
        kept = {n: r for n, r in parent.python_packages.items() if n not in self.removed_python_packages}
        return replace(
            self,
            cmd=self.cmd if self.cmd is not None else parent.cmd,
            entrypoint=self.entrypoint if self.entrypoint is not None else parent.entrypoint,
            env={**parent.env, **self.env},
            user=self.user or parent.user,
            workdir=self.workdir if self.sets_workdir else parent.workdir,
            system_packages=parent.system_packages | self.system_packages,
            python_packages={**kept, **self.python_packages},
            dependency_files=parent.dependency_files + self.dependency_files,
        )


def read_image_facts(build: Build) -> ImageFacts:
    if not build.dockerfile.is_file():
        raise SmartmaintError(
            f"the Dockerfile {build.dockerfile} named by a build section does not exist; "
            "fix `build.dockerfile` (it is relative to `build.context`)."
        )
    parser = DockerfileParser(
        path=str(build.dockerfile), build_args=dict(build.args), env_replace=True, cache_content=True
    )
    stage = _final_stage(parser.structure, build.target)
    facts = _StageReader(build, stage)
    python_packages = facts.python_packages()
    return ImageFacts(
        dockerfile=build.dockerfile,
        base_image=parser.baseimage or "",
        cmd=facts.exec_form("CMD"),
        entrypoint=facts.exec_form("ENTRYPOINT"),
        env=dict(parser.envs),
        user=facts.last("USER"),
        workdir=facts.workdir(),
        system_packages=frozenset(facts.system_packages()),
        python_packages=python_packages,
        dependency_files=tuple(facts.dependency_files),
        removed_python_packages=frozenset(facts.removed),
        sets_workdir=facts.last("WORKDIR") is not None,
    )


def _final_stage(structure: list[dict[str, str]], target: str | None) -> list[dict[str, str]]:
    stages: list[tuple[str | None, list[dict[str, str]]]] = []
    for instruction in structure:
        if instruction["instruction"] == "FROM":
            words = instruction["value"].split()
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append((name, []))
        elif stages:
            stages[-1][1].append(instruction)
    if target:
        for name, body in stages:
            if name == target:
                return body
    return stages[-1][1] if stages else []


class _StageReader:
    def __init__(self, build: Build, stage: list[dict[str, str]]) -> None:
        self.build = build
        self.stage = stage
        self.dependency_files: list[Path] = []
        self.removed: set[str] = set()

    def values(self, instruction: str) -> Iterator[str]:
        return (i["value"] for i in self.stage if i["instruction"] == instruction)

    def last(self, instruction: str) -> str | None:
        found = list(self.values(instruction))
        return found[-1].strip() if found else None

    def exec_form(self, instruction: str) -> tuple[str, ...] | None:
        value = self.last(instruction)
        if value is None:
            return None
        if value.startswith("["):
            try:
                return tuple(str(v) for v in json.loads(value))
            except json.JSONDecodeError:
                pass
        return ("/bin/sh", "-c", value)

    def workdir(self) -> str:
        current = "/"
        for value in self.values("WORKDIR"):
            current = posixpath.normpath(posixpath.join(current, value.strip()))
        return current

    def run_commands(self) -> Iterator[list[str]]:
        for value in self.values("RUN"):
            for part in _SHELL_SPLIT.split(value):
                try:
                    words = shlex.split(part)
                except ValueError:
                    words = part.split()
                if words:
                    yield words

    def system_packages(self) -> Iterator[str]:
        for words in self.run_commands():
            tool = posixpath.basename(words[0])
            for installer, verb in SYSTEM_INSTALLERS:
                if tool == installer and verb in words[1:]:
                    after = words[words.index(verb, 1) + 1 :]
                    yield from (w.split("=")[0] for w in after if not w.startswith("-"))

    def copies(self) -> list[tuple[list[str], str]]:
        """(sources, destination) of every COPY/ADD from the build context (not --from=)."""
        result = []
        for instruction in self.stage:
            if instruction["instruction"] not in ("COPY", "ADD"):
                continue
            words = [w for w in instruction["value"].split()]
            if any(w.startswith("--from") for w in words):
                continue
            words = [w for w in words if not w.startswith("--")]
            if len(words) >= 2:
                result.append((words[:-1], words[-1]))
        return result

    def context_file(self, container_path: str) -> Path | None:
        """Map a path used inside RUN back to the build-context file COPY put there."""
        container_path = posixpath.normpath(posixpath.join(self.workdir(), container_path))
        for sources, dest in self.copies():
            dest_abs = posixpath.normpath(posixpath.join(self.workdir(), dest))
            for source in sources:
                if dest_abs == container_path or posixpath.join(dest_abs, posixpath.basename(source)) == container_path:
                    candidate = self.build.context / source
                    if candidate.is_file():
                        return candidate
                if container_path.startswith(dest_abs.rstrip("/") + "/") and (self.build.context / source).is_dir():
                    candidate = self.build.context / source / posixpath.relpath(container_path, dest_abs)
                    if candidate.is_file():
                        return candidate
        fallback = self.build.context / posixpath.basename(container_path)
        return fallback if fallback.is_file() else None

    def python_packages(self) -> dict[str, Requirement]:
        declared: dict[str, Requirement] = {}
        for words in self.run_commands():
            tool = posixpath.basename(words[0])
            is_pip = tool.startswith("pip") or (len(words) > 2 and words[1:3] == ["-m", "pip"])
            if is_pip and "uninstall" in words:
                for name in words[words.index("uninstall") + 1 :]:
                    if not name.startswith("-"):
                        declared.pop(canonicalize_name(name), None)
                        self.removed.add(canonicalize_name(name))
                continue
            if "install" not in words:
                continue
            if is_pip:
                self._pip_install(words[words.index("install") + 1 :], declared)
            elif tool in ("poetry", "uv") or words[:2] == ["uv", "sync"]:
                self._pyproject(self.context_file("pyproject.toml"), declared)
        return declared

    def _pip_install(self, args: list[str], declared: dict[str, Requirement]) -> None:
        i = 0
        while i < len(args):
            arg = args[i]
            if arg in ("-r", "--requirement", "-c", "--constraint") and i + 1 < len(args):
                if arg in ("-r", "--requirement"):
                    self._requirements_file(self.context_file(args[i + 1]), declared)
                i += 2
                continue
            if arg.startswith("-"):
                i += 1
                continue
            if arg in (".", "./") or arg.startswith((".[", "./[")) or arg.endswith(("/", ".")):
                self._pyproject(self.context_file("pyproject.toml"), declared)
            else:
                _add_requirement(arg, declared)
            i += 1

    def _requirements_file(self, path: Path | None, declared: dict[str, Requirement]) -> None:
        if path is None or path in self.dependency_files:
            return
        self.dependency_files.append(path)
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            line = raw.split(" #")[0].strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith(("-r ", "--requirement ")):
                self._requirements_file(path.parent / line.split(None, 1)[1], declared)
            elif not line.startswith("-"):
                _add_requirement(line, declared)

    def _pyproject(self, path: Path | None, declared: dict[str, Requirement]) -> None:
        if path is None or path in self.dependency_files:
            return
        self.dependency_files.append(path)
        for name, spec in pyproject_dependencies(path).items():
            declared.setdefault(name, spec)


def pyproject_dependencies(path: Path) -> dict[str, Requirement]:
    """Declared runtime dependencies: PEP 621 ``[project]`` and Poetry's ``[tool.poetry]``."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SmartmaintError(f"{path} is not valid TOML: {exc}") from exc
    declared: dict[str, Requirement] = {}
    for line in data.get("project", {}).get("dependencies", []):
        _add_requirement(line, declared)
    poetry = data.get("tool", {}).get("poetry", {})
    groups = [poetry.get("dependencies", {})] + [
        g.get("dependencies", {}) for g in poetry.get("group", {}).values()
    ]
    for group in groups:
        for name in group:
            if name.lower() != "python":
                _add_requirement(name, declared)
    return declared


def _add_requirement(text: str, declared: dict[str, Requirement]) -> None:
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return
    declared.setdefault(canonicalize_name(requirement.name), requirement)
