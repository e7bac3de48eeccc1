"""Run commands inside the stack's containers, testinfra-style.

The backend (``docker exec`` into the running container, or ``docker compose run --rm`` for a
one-shot service that is not running) only runs a command and returns rc/stdout/stderr; every
call has a timeout (testinfra's own backend has none, so a hung exec would hang the run).
Probe scripts are the modules of ``live/probes`` and print one JSON document, so one exec gathers
everything a check needs from one service. Everything goes through the docker CLI, so a
remote engine (DOCKER_HOST, docker contexts) works the same.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import commands
from ..errors import SmartmaintError
from ..static.compose import compose_base_command

EXEC_TIMEOUT_S = 300  # the slowest probe (register a model, numba's first compile) takes ~30 s

# MLflow's client retries a refused connection for minutes by default: a probe must fail fast instead.
PROBE_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "AWS_MAX_ATTEMPTS": "2",  # boto3 (an S3 artifact store): a bounded retry, not 5 with backoff
    "AWS_RETRY_MODE": "standard",
    # MLflow 3 clients report usage to a host outside the stack unless told not to: a probe talks to the stack only
    "MLFLOW_DISABLE_TELEMETRY": "true",
}

# Find an interpreter the way the image's PATH does (venvs first), then run the script.
_PYTHON = (
    'PY="$(command -v python3 || command -v python)" || {{ echo "no python in PATH" >&2; exit 127; }}; '
    'exec "$PY" -c {script} {arg}'
)


def env_flags(env: Mapping[str, str] | None) -> list[str]:
    """``-e KEY=VALUE`` for ``docker exec`` and ``docker compose run`` alike."""
    return [arg for key, value in (env or {}).items() for arg in ("-e", f"{key}={value}")]


class CommandFailed(AssertionError):
    """A command run with ``check_output`` exited non-zero: the message names service, command and output."""


@dataclass(frozen=True)
class ProbeResult:
    """What a command in a service's container did: exit code and output (testinfra's CommandResult, typed)."""

    service: str
    rc: int
    stdout: str
    stderr: str
    command: str = ""

    @property
    def succeeded(self) -> bool:
        return self.rc == 0

    def check_output(self) -> str:
        """The stripped stdout; raises CommandFailed (an AssertionError) on a non-zero exit."""
        if self.rc != 0:
            output = (self.stderr.strip() or self.stdout.strip())[-2000:] or "(no output)"
            raise CommandFailed(f"`{self.command}` in service {self.service} exited {self.rc}:\n{output}")
        return self.stdout.strip()

    def json(self) -> dict[str, Any]:
        try:
            data = json.loads(self.stdout.strip().splitlines()[-1]) if self.stdout.strip() else None
        except json.JSONDecodeError:
            data = None
        if self.rc != 0 or not isinstance(data, dict):
            raise SmartmaintError(
                f"the probe in service {self.service} exited {self.rc}:\n{(self.stderr or self.stdout).strip()[-2000:]}"
            )
        return data


class ComposeRunner:
    """Runs commands in the containers of one compose project."""

    def __init__(self, files: Sequence[Path], project: str) -> None:
        self.files = tuple(files)
        self.project = project
        self._containers: dict[str, str] = {}  # compose keeps a container's name across recreates

    def compose(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return commands.run([*compose_base_command(self.files, self.project), *args], timeout=timeout)

    def container(self, service: str) -> str | None:
        """The name of the service's running container, or None."""
        if service in self._containers:
            return self._containers[service]
        result = commands.run(
            [
                "docker",
                "ps",
                "--filter",
                f"label=com.docker.compose.project={self.project}",
                "--filter",
                f"label=com.docker.compose.service={service}",
                "--format",
                "{{.Names}}",
            ],
            timeout=30,
        )
        names = result.stdout.split()
        if not names:
            return None
        self._containers[service] = sorted(names)[0]
        return self._containers[service]

    def run(
        self, service: str, command: str, timeout: float = EXEC_TIMEOUT_S, env: Mapping[str, str] | None = None
    ) -> ProbeResult:
        container = self.container(service)
        if container is not None:
            done = commands.run(
                ["docker", "exec", "-i", *env_flags(env), container, "/bin/sh", "-c", command], timeout=timeout
            )
            return ProbeResult(service, done.returncode, done.stdout, done.stderr, command)
        return self.run_one_off(service, command, timeout, env)  # a one-shot job that ran and exited

    def run_one_off(
        self, service: str, command: str, timeout: float = EXEC_TIMEOUT_S, env: Mapping[str, str] | None = None
    ) -> ProbeResult:
        """``command`` in a fresh, removed container of the service: same image, user and mounts."""
        done = self.compose(
            "run",
            "--rm",
            "--no-deps",
            "-T",
            *env_flags(env),
            "--entrypoint",
            "/bin/sh",
            service,
            "-c",
            command,
            timeout=timeout + 30,
        )
        return ProbeResult(service, done.returncode, done.stdout, done.stderr, command)

    def python(self, service: str, script: str, arg: Any = None, timeout: float = EXEC_TIMEOUT_S) -> ProbeResult:
        command = _PYTHON.format(script=shlex.quote(script), arg=shlex.quote(json.dumps(arg)))
        return self.run(service, command, timeout, PROBE_ENV)

    def logs(self, services: Sequence[str], lines: int = 25) -> str:
        result = self.compose("logs", "--no-color", "--tail", str(lines), *services, timeout=30)
        return (result.stdout + result.stderr).strip()

    def ps_rows(self) -> list[dict[str, Any]]:
        """Every container of the project, as `docker compose ps --all --format json` gives them."""
        result = self.compose("ps", "--all", "--format", "json", timeout=30)
        rows: list[dict[str, Any]] = []
        for line in result.stdout.splitlines():  # compose prints one JSON object per line (older: one array)
            line = line.strip()
            if not line:
                continue
            try:
                parsed = json.loads(line)
            except json.JSONDecodeError:
                continue
            rows += parsed if isinstance(parsed, list) else [parsed]
        return rows

    def port(self, service: str, port: int, protocol: str = "tcp") -> str:
        """``host:port`` the engine publishes the service's container ``port`` on; "" when unpublished."""
        done = self.compose("port", "--protocol", protocol, service, str(port), timeout=30)
        return done.stdout.strip().splitlines()[0] if done.returncode == 0 and done.stdout.strip() else ""

    def cycle(self, service: str, step: str, also: Sequence[str], timeout_s: float = 300) -> str | None:
        """``restart``, ``recreate`` (a new container) or ``renew`` (a new container with new anonymous volumes,
        as `down` then `up` gives) one service, then wait until it and ``also`` are healthy. None when they came
        back, else compose's output."""
        first = {
            "restart": ("restart", service),
            "recreate": ("up", "-d", "--no-deps", "--force-recreate", "--wait", service),
            "renew": ("up", "-d", "--no-deps", "--force-recreate", "--renew-anon-volumes", "--wait", service),
        }[step]
        # waiting never recreates: a tag rebuilt meanwhile must not turn a restart into a recreate
        waited = dict.fromkeys((service, *also))
        for args in (first, ("up", "-d", "--no-deps", "--no-recreate", "--wait", *waited)):
            done = self.compose(*args, timeout=timeout_s)
            if done.returncode != 0:
                return (done.stdout + done.stderr).strip()
        return None
