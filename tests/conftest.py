"""Shared fixtures for the plugin's own tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PROJECTS = Path(__file__).resolve().parent / "projects"
VARIANTS = Path(__file__).resolve().parent / "variants"
PLUGIN_PREFIX = "smartmaint-"


@pytest.fixture(autouse=True)
def _docker_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytester moves HOME; keep the docker CLI finding its config and CLI plugins (Compose v2)."""
    monkeypatch.setenv("DOCKER_CONFIG", os.environ.get("DOCKER_CONFIG", str(Path.home() / ".docker")))


def _engine_up() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=15, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def plugin_resources() -> list[str]:
    """Containers, networks and volumes of any project the plugin started (named smartmaint-*)."""
    found = []
    for kind, fmt in (("ps", "{{.Names}}"), ("network ls", "{{.Name}}"), ("volume ls", "{{.Name}}")):
        args = ["docker", *kind.split(), "--format", fmt] + (["-a"] if kind == "ps" else [])
        out = subprocess.run(args, capture_output=True, text=True, check=False).stdout.split()
        found += [f"{kind.split()[0]}:{name}" for name in out if name.startswith(PLUGIN_PREFIX)]
    return found


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Live tests need an engine: in CI its absence is a failure, elsewhere a skip."""
    if _engine_up():
        return
    message = "no Docker engine reachable (`docker info` failed); start one with `bash .ci/provision.sh`"
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the live tests: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def no_leftovers(docker_engine: None) -> Iterator[None]:
    """Asserts that a test leaves no container, network or volume of a plugin project behind."""
    before = set(plugin_resources())
    yield
    left = sorted(set(plugin_resources()) - before)
    assert not left, f"the plugin left resources behind: {left}"


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """A copy of tests/projects/base: a small sound stack to break one way at a time."""
    target = tmp_path / "stack"
    shutil.copytree(PROJECTS / "base", target)
    return target


@pytest.fixture
def write(project_dir: Path) -> Callable[[str, str], Path]:
    def write(relative: str, text: str) -> Path:
        path = project_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write
