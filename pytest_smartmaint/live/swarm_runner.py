"""Commands in the task containers of a swarm stack, as ComposeRunner runs them in a compose project's.

A task's container is found by the labels Swarm gives it (``com.docker.stack.namespace``,
``com.docker.swarm.service.name``) on the node `docker stack ps` says runs it: the engine the
docker CLI points at (a manager), or another node whose engine ini ``smartmaint_swarm_engines``
names (``NODE=ENDPOINT``: a node's hostname and a DOCKER_HOST for its engine). A task on a node
the run cannot reach is said to be so, never guessed.

Swarm has no `restart`: a task whose process dies is replaced by a new task (a new container, the
same node's volumes), which is what ``restart`` here does (the process is killed);
``recreate`` and ``renew`` are `docker service update --force` (a new task gets new anonymous
volumes either way).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import commands
from ..errors import SmartmaintError
from .compose_runner import EXEC_TIMEOUT_S, ComposeRunner, ProbeResult, env_flags

STACK_LABEL = "com.docker.stack.namespace"
SERVICE_LABEL = "com.docker.swarm.service.name"
GETENT_NOT_FOUND = 2  # getent's exit status for a name it cannot resolve
TASK_FIELDS = ("{{.ID}}", "{{.Name}}", "{{.Node}}", "{{.DesiredState}}", "{{.CurrentState}}")


@dataclass(frozen=True)
class Task:
    """One task of a stack's service, as `docker stack ps` shows it."""

    id: str
    service: str
    node: str  # "" until the task is scheduled
    desired: str  # Running, Shutdown, Ready, ...
    state: str  # the first word of its current state: Running, Starting, Complete, Failed, ...

    @property
    def running(self) -> bool:
        """Swarm wants it running and it runs: once healthy, for a task with a healthcheck (held in Starting)."""
        return self.desired == "Running" and self.state == "Running"

    @classmethod
    def parse(cls, line: str, stack: str) -> Task | None:
        fields = line.split("|")
        if len(fields) != len(TASK_FIELDS):
            return None
        task, name, node, desired, state = (field.strip() for field in fields)
        # the name is <stack>_<service>.<slot> (a global service: .<node id>); with --format, never indented
        service = name.removeprefix(f"{stack}_").rpartition(".")[0]
        return cls(task, service, node, desired, state.split(" ")[0] if state else "")


def _converged(replicas: str, tasks: list[Task], replaced: set[str]) -> bool:
    """A service runs as many tasks as it wants (``replicas``: "running/wanted", as `docker service ls` counts
    them; the running count is taken from ``tasks``, since `service ls` still counts a killed task a moment after
    `stack ps` shows it failed) and none it ``replaced``; or it is scaled to nothing; or, a one-shot job, Swarm
    wants no task of it running any more and its last task completed."""
    wanted = replicas.split(" ")[0].partition("/")[2]
    if wanted == "0":
        return True
    if (
        not replaced
        and tasks
        and tasks[0].state == "Complete"
        and not any(task.desired in ("Running", "Ready") for task in tasks)
    ):
        return True
    running = {task.id for task in tasks if task.running}
    return str(len(running)) == wanted and not (running & replaced)


def _running_node(service: str, tasks: list[Task]) -> str | None:
    """The node of the service's first running task; None when none runs."""
    return next((task.node for task in tasks if task.service == service and task.running), None)


class SwarmRunner(ComposeRunner):
    """Runs commands in the task containers of one swarm stack (``project`` is the stack's name)."""

    def __init__(self, files: Sequence[Path], stack: str, engines: Mapping[str, str] | None = None) -> None:
        super().__init__(files, stack)  # files: the deployed stack file, or the compose files of a stack attached to
        self.engines = dict(engines or {})  # node hostname -> its engine's endpoint (ini smartmaint_swarm_engines)
        self._local_node: str | None = None

    def local_node(self) -> str:
        """The hostname of the node the docker CLI's engine is."""
        if self._local_node is None:
            done = commands.run(
                ["docker", "node", "inspect", "self", "--format", "{{.Description.Hostname}}"], timeout=30
            )
            self._local_node = done.stdout.strip()
        return self._local_node

    def node_of(self, service: str) -> str | None:
        """The node that runs the service's (first) running task, as the swarm says; None when none runs."""
        return _running_node(service, self._tasks(service))

    def _engine_args(self, node: str | None) -> list[str] | None:
        """``docker`` options that reach ``node``'s engine; None when the run cannot reach it."""
        if node is None or node == self.local_node():
            return []
        return ["--host", self.engines[node]] if node in self.engines else None

    def locate(self, service: str) -> tuple[list[str], str] | None:
        """The ``docker`` options for the engine that runs the service's task, and its container; None if the run
        reaches no running task of it."""
        located = self._located(service)
        return located[1:] if located else None

    def _located(self, service: str, tasks: list[Task] | None = None) -> tuple[str | None, list[str], str] | None:
        """The node of the service's running task (None: none runs, and this node's containers are looked at),
        the ``docker`` options for its engine, and its container; None if the run reaches no running task.
        ``tasks``: the stack's tasks as just read, else they are read."""
        node = _running_node(service, self._tasks(service) if tasks is None else tasks)
        args = self._engine_args(node)
        if args is None:
            return None
        container = self._container_on(service, args)
        return (node, args, container) if container else None

    def service_name(self, service: str) -> str:
        return f"{self.project}_{service}"

    def compose(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        raise SmartmaintError(
            f"`docker compose {args[0] if args else ''}` has no counterpart for swarm stack {self.project}"
        )

    def container(self, service: str) -> str | None:
        """The newest running task container of the service on this node (names change with every task: never
        cached); None when it runs on another node."""
        return self._container_on(service, [])

    def _container_on(self, service: str, engine: list[str]) -> str | None:
        result = commands.run(
            [
                "docker",
                *engine,
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

    def run(
        self, service: str, command: str, timeout: float = EXEC_TIMEOUT_S, env: Mapping[str, str] | None = None
    ) -> ProbeResult:
        located = self.locate(service)
        if located is None:
            return self.run_one_off(service, command, timeout, env)
        engine, container = located
        done = commands.run(
            ["docker", *engine, "exec", "-i", *env_flags(env), container, "/bin/sh", "-c", command], timeout=timeout
        )
        return ProbeResult(service, done.returncode, done.stdout, done.stderr, command)

    def run_one_off(
        self, service: str, command: str, timeout: float = EXEC_TIMEOUT_S, env: Mapping[str, str] | None = None
    ) -> ProbeResult:
        """Swarm has no one-off run: what the service runs on is said instead."""
        node = self.node_of(service)
        where = (
            f"its task runs on node {node}, whose engine the run does not reach: name it in the ini option "
            f"smartmaint_swarm_engines ({node}=tcp://...:2375 or ssh://...)"
            if node
            else "it has no running task"
        )
        return ProbeResult(service, 1, "", f"{service} of swarm stack {self.project}: {where}", command)

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
            located = self._located(service)
            if located is None:
                return ""
            node, engine, container = located
            done = commands.run(["docker", *engine, "port", container, f"{port}/{protocol}"], timeout=30)
            bound = done.stdout.split()[0] if done.returncode == 0 and done.stdout.strip() else ""
            if not bound or not engine or node is None:
                return bound  # this node's: reached where the engine is
            address = commands.run(["docker", "node", "inspect", node, "--format", "{{.Status.Addr}}"], timeout=30)
            return f"{address.stdout.strip()}:{bound.rpartition(':')[2]}"  # another node's, at its address
        return ""

    def cycle(self, service: str, step: str, also: Sequence[str], timeout_s: float = 300) -> str | None:
        """``restart`` (a task's process killed: Swarm starts a new task in its place), ``recreate``/``renew``
        (`docker service update --force`: every task replaced); then wait until ``service`` and ``also`` run all
        their tasks again, healthy, and none of the replaced ones."""
        if step == "restart":
            located = self.locate(service)
            if located is None:
                return self.run_one_off(service, "kill").stderr
            engine, container = located
            task = commands.run(
                [
                    "docker",
                    *engine,
                    "inspect",
                    "--format",
                    '{{index .Config.Labels "com.docker.swarm.task.id"}}',
                    container,
                ],
                timeout=30,
            ).stdout.strip()
            replaced = {task}
            done = commands.run(["docker", *engine, "kill", container], timeout=60)
        else:
            replaced = set(self.running_tasks(service))
            done = commands.run(
                ["docker", "service", "update", "--force", "--detach", self.service_name(service)], timeout=120
            )
        if done.returncode != 0:
            return (done.stdout + done.stderr).strip()
        pending = self.wait_converged([service, *also], timeout_s, replaced={service: replaced})
        return (
            f"not running after {timeout_s:g} s: {', '.join(pending)}\n{self.task_errors(pending)}" if pending else None
        )

    def running_tasks(self, service: str) -> list[str]:
        """The ids of the service's tasks that Swarm reports running: once healthy, for a task with a healthcheck
        (Swarm holds it in "Starting" until then)."""
        return [task.id for task in self._tasks(service) if task.running]

    def _tasks(self, service: str | None = None) -> list[Task]:
        """The tasks of the stack (or of one service), history included, each slot's newest first: one
        `docker stack ps`."""
        done = commands.run(
            ["docker", "stack", "ps", "--no-trunc", "--format", "|".join(TASK_FIELDS), self.project], timeout=30
        )
        tasks = [Task.parse(line, self.project) for line in done.stdout.splitlines()]
        return [task for task in tasks if task and (service is None or task.service == service)]

    def wait_converged(
        self, services: Sequence[str], timeout_s: float, replaced: Mapping[str, set[str]] | None = None
    ) -> list[str]:
        """Wait until every service runs all its tasks (healthy, where it has a healthcheck), or has completed them
        (a one-shot job), and none of its ``replaced`` tasks runs; the services that still do not at the end of
        ``timeout_s`` (none: converged). Each look is two docker calls, however many services the stack has."""
        deadline = time.monotonic() + timeout_s
        while True:
            replicas, tasks = self._replicas(), self._tasks()
            pending = [
                service
                for service in dict.fromkeys(services)
                if not _converged(
                    replicas.get(service, "0/1"),
                    [task for task in tasks if task.service == service],
                    (replaced or {}).get(service, set()),
                )
            ]
            if not pending:
                self._wait_resolvable(services, tasks, deadline)
                return pending
            if time.monotonic() > deadline:
                return pending
            time.sleep(1)

    def _wait_resolvable(self, services: Sequence[str], tasks: list[Task], deadline: float) -> None:
        """Wait until each service's name resolves in its own running task's container: the engine's DNS adds a
        new task a moment after Swarm reports it running, and a client that asks meanwhile gets "Name or service
        not known". Not waited for: a task on a node the run does not reach, an image without getent."""
        for service in dict.fromkeys(services):
            located = self._located(service, tasks)
            while located:
                _, engine, container = located
                done = commands.run(["docker", *engine, "exec", container, "getent", "hosts", service], timeout=30)
                if done.returncode != GETENT_NOT_FOUND or time.monotonic() > deadline:
                    break
                time.sleep(0.5)

    def _replicas(self) -> dict[str, str]:
        """Each service's "running/wanted" tasks, as `docker service ls` counts them."""
        done = commands.run(
            ["docker", "service", "ls", "--filter", f"label={STACK_LABEL}={self.project}", "--format",
             "{{.Name}} {{.Replicas}}"],
            timeout=30,
        )  # fmt: skip
        rows = (line.split() for line in done.stdout.splitlines())
        return {row[0].removeprefix(f"{self.project}_"): row[1] for row in rows if len(row) >= 2}

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
