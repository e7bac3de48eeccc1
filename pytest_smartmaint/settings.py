"""The plugin's settings: command line > ini > defaults, each remembering where it came from."""

from __future__ import annotations

import argparse
import json
import re
import urllib.parse
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest

DEFAULT_COMPOSE_FILE = "docker-compose.test.yml"
PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

ROLE_INI = {
    "server": "smartmaint_server",
    "clients": "smartmaint_clients",
    "trainer": "smartmaint_trainer",
    "consumers": "smartmaint_consumers",
    "audio": "smartmaint_audio_services",
    "tests": "smartmaint_test_services",
}


class ConfigLike(Protocol):
    """What ``from_config`` reads: satisfied by pytest.Config and by small fakes in tests."""

    @property
    def rootpath(self) -> Path: ...

    @property
    def inipath(self) -> Path | None: ...

    @property
    def invocation_params(self) -> Any: ...

    def getoption(self, name: str) -> Any: ...

    def getini(self, name: str) -> Any: ...


def new_project_name() -> str:
    """A compose project of its own for one run: nothing of the user's is ever in it."""
    return f"smartmaint-{uuid.uuid4().hex[:10]}"


SWARM_STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _named(value: str, rule: re.Pattern[str], what: str, characters: str, listing: str) -> str:
    if not rule.match(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a {what}: use {characters}, starting with a letter or digit (see `{listing}`)."
        )
    return value


def project_name(value: str) -> str:
    """argparse ``type=`` for --smartmaint-project: compose's own naming rule."""
    return _named(
        value, PROJECT_NAME, "compose project name", "lowercase letters, digits, '-' and '_'", "docker compose ls"
    )


def swarm_stack_name(value: str) -> str:
    """argparse ``type=`` for --smartmaint-swarm-stack: a name `docker stack ls` shows."""
    return _named(value, SWARM_STACK_NAME, "stack name", "letters, digits, '-', '_' and '.'", "docker stack ls")


def report_path(value: str) -> Path:
    """argparse ``type=`` for --smartmaint-report: the directory must exist."""
    path = Path(value)
    if path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{value!r} is a directory; give a file path such as {value.rstrip('/')}/smartmaint.json"
        )
    if not path.absolute().parent.is_dir():
        raise argparse.ArgumentTypeError(f"the directory of {value!r} does not exist; create it first")
    return path


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise ValueError(f"must be a positive integer. Current input: {value!r}.")
    return number


SERVING_PLACEHOLDERS = ("{model_name}", "{model_version}", "{features}")
SERVING_EXAMPLE = (
    'http://api:8000/api/v1/ml/predict {"model_name": "{model_name}", "model_version": "{model_version}", '
    '"features": {features}}'
)


@dataclass(frozen=True)
class ServingRequest:
    """ini ``smartmaint_serving_request``: the URL of the API's prediction endpoint on the compose network
    (its host is a service) and the JSON body to POST there, with the smoke model's name, version and
    feature rows filled in for ``{model_name}``, ``{model_version}`` and ``{features}``."""

    url: str
    body_template: str

    @property
    def service(self) -> str:
        return urllib.parse.urlsplit(self.url).hostname or ""

    @property
    def sends_features(self) -> bool:
        return "{features}" in self.body_template

    def body(self, name: str, version: str, features: Sequence[Sequence[float]]) -> str:
        filled = self.body_template.replace("{model_name}", name).replace("{model_version}", version)
        return filled.replace("{features}", json.dumps([list(row) for row in features]))

    @classmethod
    def parse(cls, value: Any) -> ServingRequest | None:
        text = " ".join(value) if isinstance(value, list) else str(value or "")
        text = text.strip()
        if not text:
            return None
        url, _, body = text.partition(" ")
        parts = urllib.parse.urlsplit(url)
        problem = ""
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problem = f"{url!r} is not an http:// URL whose host is a service of the stack"
        elif not body.strip():
            problem = "the JSON body is missing after the URL"
        else:
            try:
                json.loads(cls(url, body.strip()).body("name", "1", [[0.0]]))
            except ValueError as exc:
                problem = f"the body is not JSON once {', '.join(SERVING_PLACEHOLDERS)} are filled in ({exc})"
        if problem:
            raise pytest.UsageError(
                f"smartmaint_serving_request: {problem}. Current input: {text!r}.\n"
                f"Write the URL, a space, then the JSON body, for example:\n"
                f"  smartmaint_serving_request = {SERVING_EXAMPLE}"
            )
        return cls(url, body.strip())


@dataclass(frozen=True)
class Settings:
    compose_files: tuple[Path, ...]
    compose_files_source: str
    static_only: bool
    project: str | None
    keep: bool
    report: Path | None
    only: bool = False  # --smartmaint-only: the built-in suite without the project's own tests
    roles: dict[str, list[str]] = field(default_factory=dict)  # role -> services named in ini
    build_context_max_mb: int = 200
    startup_timeout_s: int = 300
    teardown_timeout_s: int = 120  # `down` longer than this is cut, and reported with the command to finish it
    min_free_gb: float = 10.0  # the engine's free disk below which nothing is built (0: no limit)
    serving: ServingRequest | None = None  # ini smartmaint_serving_request
    swarm: bool = False  # --smartmaint-swarm: deploy with `docker stack deploy`; Swarm's static rules
    swarm_stack: str | None = None  # --smartmaint-swarm-stack: a deployed stack, checked read-mostly
    swarm_engines: dict[str, str] = field(default_factory=dict)  # ini smartmaint_swarm_engines: node -> endpoint

    @property
    def swarm_target(self) -> bool:
        """The stack is meant for Swarm: its static rules apply."""
        return self.swarm or self.swarm_stack is not None

    @classmethod
    def from_config(cls, config: ConfigLike) -> Settings:
        static_only = bool(config.getoption("smartmaint_static"))
        project = config.getoption("smartmaint_project")
        keep = bool(config.getoption("smartmaint_keep"))
        swarm = bool(config.getoption("smartmaint_swarm"))
        swarm_stack = config.getoption("smartmaint_swarm_stack")
        _exclusive_options(static_only, project, keep, swarm, swarm_stack)
        files, source = _compose_files(config)
        roles = {role: _names(config.getini(ini)) for role, ini in ROLE_INI.items() if _names(config.getini(ini))}
        return cls(
            compose_files=files,
            compose_files_source=source,
            static_only=static_only,
            project=project,
            keep=keep,
            report=config.getoption("smartmaint_report"),
            only=bool(config.getoption("smartmaint_only")),
            roles=roles,
            build_context_max_mb=_ini_int(config, "smartmaint_build_context_max_mb"),
            startup_timeout_s=_ini_int(config, "smartmaint_startup_timeout"),
            teardown_timeout_s=_ini_int(config, "smartmaint_teardown_timeout"),
            min_free_gb=_ini_gb(config, "smartmaint_min_free_gb"),
            serving=ServingRequest.parse(config.getini("smartmaint_serving_request")),
            swarm=swarm,
            swarm_stack=swarm_stack,
            swarm_engines=_swarm_engines(config.getini("smartmaint_swarm_engines")),
        )

    @property
    def tier(self) -> str:
        return "static" if self.static_only else "static+live"

    def reproduce_line(self) -> str:
        """A command line that reruns the suite with these settings."""
        parts = ["pytest", "--smartmaint"]
        parts += [f"--smartmaint-compose-file={f}" for f in self.compose_files]
        if self.static_only:
            parts.append("--smartmaint-static")
        if self.project:
            parts.append(f"--smartmaint-project={self.project}")
        if self.swarm:
            parts.append("--smartmaint-swarm")
        if self.swarm_stack:
            parts.append(f"--smartmaint-swarm-stack={self.swarm_stack}")
        if self.only:
            parts.append("--smartmaint-only")
        return " ".join(parts)


def _exclusive_options(
    static_only: bool, project: str | None, keep: bool, swarm: bool, swarm_stack: str | None
) -> None:
    """One usage error for options that contradict each other, naming both."""
    conflicts = [
        (
            static_only and bool(project),
            "--smartmaint-static runs no containers, so --smartmaint-project has nothing to check. Drop one of them.",
        ),
        (
            static_only and bool(swarm_stack),
            "--smartmaint-static runs no containers, so --smartmaint-swarm-stack has "
            "nothing to check. For Swarm's static rules alone: --smartmaint-static --smartmaint-swarm.",
        ),
        (
            bool(project) and (swarm or bool(swarm_stack)),
            "--smartmaint-project checks a compose project, and "
            f"{'--smartmaint-swarm' if swarm else '--smartmaint-swarm-stack'} a swarm stack. Drop one of them.",
        ),
        (
            swarm and bool(swarm_stack),
            "--smartmaint-swarm deploys a stack of its own, and --smartmaint-swarm-stack "
            "checks a deployed one. Drop one of them.",
        ),
        (
            keep and (static_only or bool(project) or bool(swarm_stack)),
            "--smartmaint-keep keeps a stack the plugin "
            "starts, and "
            + (
                "--smartmaint-static"
                if static_only
                else "--smartmaint-project"
                if project
                else "--smartmaint-swarm-stack"
            )
            + " starts none. Drop --smartmaint-keep.",
        ),
    ]
    for conflicting, message in conflicts:
        if conflicting:
            raise pytest.UsageError(message)


def _swarm_engines(value: Any) -> dict[str, str]:
    """ini smartmaint_swarm_engines: ``NODE=ENDPOINT`` pairs."""
    pairs = {}
    for item in _names(value):
        node, _, endpoint = item.partition("=")
        if not node or not endpoint:
            raise pytest.UsageError(
                f"smartmaint_swarm_engines: {item!r} is not NODE=ENDPOINT. Write each node's hostname (`docker node "
                "ls`) and its engine, for example: smartmaint_swarm_engines = worker-1=tcp://10.0.0.5:2375"
            )
        pairs[node] = endpoint
    return pairs


def _names(value: Any) -> list[str]:
    """ini lists: whitespace- or comma-separated, as users write them."""
    items = [value] if isinstance(value, str) else list(value or [])
    return [name for item in items for name in str(item).replace(",", " ").split()]


def _ini_int(config: ConfigLike, name: str) -> int:
    try:
        return positive_int(str(config.getini(name)))
    except ValueError as exc:
        raise pytest.UsageError(f"{name} {exc}") from None


def _ini_gb(config: ConfigLike, name: str) -> float:
    value = str(config.getini(name)).strip()
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if number < 0:
        raise pytest.UsageError(f"{name} must be a number of GB, 0 or more (0: no limit). Current input: {value!r}.")
    return number


def _compose_files(config: ConfigLike) -> tuple[tuple[Path, ...], str]:
    cli: Sequence[str] | None = config.getoption("smartmaint_compose_files")
    if cli:
        base = Path(config.invocation_params.dir)
        return tuple(_absolute(base, f) for f in cli), "--smartmaint-compose-file"
    ini = _names(config.getini("smartmaint_compose_files"))
    if ini:
        base = config.inipath.parent if config.inipath else config.rootpath
        return tuple(_absolute(base, f) for f in ini), f"smartmaint_compose_files in {config.inipath or 'ini'}"
    default = Path(config.invocation_params.dir) / DEFAULT_COMPOSE_FILE
    if default.is_file():
        return (default,), "default (docker-compose.test.yml)"
    from .static.compose_defaults import compose_default_files

    found = compose_default_files(Path(config.invocation_params.dir))
    return found.files, found.reason


def _absolute(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path
