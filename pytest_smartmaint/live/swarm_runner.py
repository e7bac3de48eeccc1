"""Commands in the task containers of a swarm stack, as ComposeRunner runs them in a compose project's.

A task's container is found by the labels Swarm gives it (``com.docker.stack.namespace``,
``com.docker.swarm.service.name``), on the node this machine's engine is: on a one-node swarm,
every task. Swarm has no `restart`: a task whose process dies is replaced by a new task (a new
container, the same node's volumes), which is what ``restart`` here does (the process is killed);
``recreate`` and ``renew`` are `docker service update --force` (a new task gets new anonymous
volumes either way).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from .. import commands
from ..errors import SmartmaintError
from .compose_runner import EXEC_TIMEOUT_S, ComposeRunner, ProbeResult

STACK_LABEL = "com.docker.stack.namespace"
SERVICE_LABEL = "com.docker.swarm.service.name"


class SwarmRunner(ComposeRunner):
    """Runs commands in the task containers of one swarm stack (``project`` is the stack's name)."""

    def __init__(self, files: Sequence[Path], stack: str) -> None:
        super().__init__(files, stack)  # files: the deployed stack file, or the compose files of a stack attached to

    def service_name(self, service: str) -> str:
        return f"{self.project}_{service}"

    def compose(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        raise SmartmaintError(
            f"`docker compose {args[0] if args else ''}` has no counterpart for swarm stack {self.project}"
        )

    def container(self, service: str) -> str | None:
        """The newest running task container of the service (names change with every task: never cached)."""
        result = commands.run(
            [
                "docker",
                "ps",
                "--filter",
                f"label={STACK_LABEL}={self.project}",
                "--filter",
                f"label={SERVICE_LABEL}={self.service_name(service)}",
                "--format",
                "{{.Names}}",
            ],
            timeout=30,
        )
        names = result.stdout.split()
        return names[0] if names else None

    def run_one_off(
        self, service: str, command: str, timeout: float = EXEC_TIMEOUT_S, env: Mapping[str, str] | None = None
    ) -> ProbeResult:
        return ProbeResult(
            service, 1, "", f"{service} has no running task on this node of swarm stack {self.project}", command
        )

    def logs(self, services: Sequence[str], lines: int = 25) -> str:
        parts = []
        for service in services:
            done = commands.run(
                ["docker", "service", "logs", "--no-task-ids", "--tail", str(lines), self.service_name(service)],
                timeout=30,
            )
            parts.append((done.stdout + done.stderr).strip())
        return "\n".join(p for p in parts if p)

    def ps_rows(self) -> list[dict[str, object]]:
        """Every task container of the stack on this node, newest first, in `docker compose ps`'s JSON shape."""
        result = commands.run(
            ["docker", "ps", "--all", "--filter", f"label={STACK_LABEL}={self.project}", "--format", "{{json .}}"],
            timeout=30,
        )
        rows = []
        for line in result.stdout.splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            labels = dict(item.partition("=")[::2] for item in str(row.get("Labels", "")).split(","))
            service = labels.get(SERVICE_LABEL, "").removeprefix(f"{self.project}_")
            code = re.match(r"Exited \((\d+)\)", str(row.get("Status", "")))
            rows.append(
                {
                    "Service": service,
                    "Name": row.get("Names", ""),
                    "State": row.get("State", ""),
                    "ExitCode": int(code.group(1)) if code else 0,
                    "Status": row.get("Status", ""),
                }
            )
        return rows

    def port(self, service: str, port: int, protocol: str = "tcp") -> str:
        """Where the port is published: ``0.0.0.0:PUBLISHED`` by Swarm's routing mesh on every node, or (mode: host)
        the address the task's container has it on, on its node; "" when the port is not published."""
        done = commands.run(
            ["docker", "service", "inspect", "--format", "{{json .Endpoint.Ports}}", self.service_name(service)],
            timeout=30,
        )
        try:
            ports = json.loads(done.stdout) or []
        except json.JSONDecodeError:
            return ""
        for entry in ports:
            if entry.get("TargetPort") != port or entry.get("Protocol", "tcp") != protocol:
                continue
            if entry.get("PublishMode") != "host":
                return f"0.0.0.0:{entry.get('PublishedPort')}"
            container = self.container(service)
            done = commands.run(["docker", "port", container or "-", f"{port}/{protocol}"], timeout=30)
            return done.stdout.split()[0] if container and done.returncode == 0 and done.stdout.strip() else ""
        return ""

    def cycle(self, service: str, step: str, also: Sequence[str], timeout_s: float = 300) -> str | None:
        """``restart`` (the task's process killed: Swarm starts a new task), ``recreate``/``renew``
        (`docker service update --force`); then wait until ``service`` and ``also`` run a healthy task again."""
        before = self.container(service)
        if step == "restart":
            if before is None:
                return f"{service} has no running task on this node"
            done = commands.run(["docker", "kill", before], timeout=60)
        else:
            done = commands.run(
                ["docker", "service", "update", "--force", "--detach", self.service_name(service)], timeout=120
            )
        if done.returncode != 0:
            return (done.stdout + done.stderr).strip()
        return self.wait_converged([service, *also], timeout_s, replaced={service: before})

    def wait_converged(
        self, services: Sequence[str], timeout_s: float, replaced: Mapping[str, str | None] | None = None
    ) -> str | None:
        """None once every service runs all its tasks (a task with a healthcheck counts once healthy) and each of
        ``replaced`` runs another container than the one named; else what `docker service ps` shows of them."""
        deadline = time.monotonic() + timeout_s
        while True:
            pending = [s for s in dict.fromkeys(services) if not self._converged(s, (replaced or {}).get(s))]
            if not pending:
                return None
            if time.monotonic() > deadline:
                return f"not running after {timeout_s:g} s: {', '.join(pending)}\n" + self.task_errors(pending)
            time.sleep(1)

    def _converged(self, service: str, old: str | None) -> bool:
        done = commands.run(
            [
                "docker",
                "service",
                "ls",
                "--filter",
                f"name={self.service_name(service)}",
                "--format",
                "{{.Name}} {{.Replicas}}",
            ],
            timeout=30,
        )
        replicas = dict(line.split(None, 1) for line in done.stdout.splitlines() if " " in line)
        running, _, wanted = replicas.get(self.service_name(service), "0/1").split(" ")[0].partition("/")
        if not (running.isdigit() and running == wanted and int(wanted) > 0):
            return False
        current = self.container(service)
        return current is not None and current != old and self._healthy(current)

    @staticmethod
    def _healthy(container: str) -> bool:
        done = commands.run(
            [
                "docker",
                "inspect",
                "--format",
                "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}",
                container,
            ],
            timeout=30,
        )
        return done.stdout.strip() in ("healthy", "none")

    def task_errors(self, services: Sequence[str]) -> str:
        """The last tasks of each service: state and error, as `docker service ps` shows them."""
        lines = []
        for service in services:
            done = commands.run(
                [
                    "docker",
                    "service",
                    "ps",
                    "--no-trunc",
                    "--format",
                    "{{.Name}} {{.Node}} {{.CurrentState}} {{.Error}}",
                    self.service_name(service),
                ],
                timeout=30,
            )
            lines += [f"  {line}" for line in (done.stdout + done.stderr).strip().splitlines()[:5]]
        return "\n".join(lines)
