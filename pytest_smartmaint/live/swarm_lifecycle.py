"""The live stack on Swarm: the project deployed with `docker stack deploy` under a stack of its own, always removed.

The plugin never initialises, joins or leaves a swarm (``require_swarm`` says what to run instead).
The images are built as the project itself builds them (lifecycle.py), compose's resolved project is
turned into a stack file (swarm_stack_file.py), and the checks run in the tasks' containers
(swarm_runner.py). At the end: `docker stack rm`, then the stack's containers, volumes and networks
once Swarm has let go of them. A run killed outright is removed by the reaper, as a compose project is.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .. import commands
from ..errors import SmartmaintError
from ..settings import Settings
from ..static.compose import compose_base_command
from ..static.stack_model import StackModel
from .compose_runner import ComposeRunner
from .engine_endpoint import engine_endpoint
from .isolation import isolate
from .lifecycle import (
    TeardownFailed,
    explain_up_failure,
    refuse_short_disk,
    refuse_unredirectable_binds,
    require_engine,
    signals_as_interrupt,
    watched_run,
)
from .stack import LiveStack
from .startup_diagnosis import FileFindings, no_file_findings
from .swarm_runner import STACK_LABEL, SwarmRunner
from .swarm_stack_file import stack_file


@dataclass(frozen=True)
class SwarmState:
    node: str  # the engine's LocalNodeState: inactive, active, pending, error, locked
    manager: bool
    nodes: int  # the swarm's nodes, as a manager counts them


def swarm_state() -> SwarmState | None:
    """The engine's swarm state; None when no engine answers."""
    done = commands.run(
        ["docker", "info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.Nodes}}"],
        timeout=30,
    )
    parts = done.stdout.split()
    if done.returncode != 0 or len(parts) != 3:
        return None
    return SwarmState(parts[0], parts[1] == "true", int(parts[2]) if parts[2].isdigit() else 0)


def swarm_usage_problem(option: str, state: SwarmState | None) -> str | None:
    """Why ``option`` cannot run on this engine's swarm, for a usage error; None when it can (or no engine answers:
    the live tier says that itself)."""
    if state is None:
        return None
    node, manager = state.node, state.manager
    engine = engine_endpoint().describe()
    if node == "inactive":
        return (
            f"{option} needs a swarm, and the engine ({engine}) is in none. The plugin never initialises or joins "
            f"one: run `docker swarm init` (or `docker swarm join`) first, or drop {option}. Swarm's static rules "
            "need no swarm: --smartmaint-static --smartmaint-swarm."
        )
    if node != "active":
        what = {
            "locked": "is locked: unlock it with `docker swarm unlock`",
            "pending": "is still joining its swarm: wait until `docker info` shows Swarm: active",
        }.get(node, f"is in a swarm it cannot use now (Swarm: {node}): `docker info` says why")
        return f"{option} needs an active swarm, and the engine ({engine}) {what}."
    if not manager:
        return (
            f"{option} needs a manager of the swarm, and the engine ({engine}) is a worker: point DOCKER_HOST "
            "or `docker context use` at a manager (`docker node ls` there lists the nodes)."
        )
    return None


@contextmanager
def attached_stack(settings: Settings, model: StackModel, name: str) -> Iterator[LiveStack]:
    """--smartmaint-swarm-stack: a stack deployed by someone else, checked read-mostly (nothing is updated or
    removed; the smoke model the run registers goes again)."""
    require_engine()
    problem = swarm_usage_problem("--smartmaint-swarm-stack", swarm_state())
    if problem:
        raise SmartmaintError(problem)
    services = _labelled("service", name)
    if not services:
        raise SmartmaintError(
            f"--smartmaint-swarm-stack {name}: the swarm has no stack of that name (no service labelled "
            f"{STACK_LABEL}={name}). See `docker stack ls` for the deployed stacks."
        )
    stack = LiveStack(
        model,
        SwarmRunner(model.project.files, name, settings.swarm_engines),
        owned=False,
        min_free_gb=settings.min_free_gb,
    )
    try:
        yield stack
    finally:
        stack.remove_smoke_model()


@contextmanager
def deployed_stack(
    settings: Settings, model: StackModel, name: str, file_findings: FileFindings = no_file_findings
) -> Iterator[LiveStack]:
    """The project deployed as swarm stack ``name``; removed afterwards (also when the deploy fails) unless
    --smartmaint-keep."""
    require_engine()
    problem = swarm_usage_problem("--smartmaint-swarm", swarm_state())
    if problem:
        raise SmartmaintError(problem)
    refuse_unredirectable_binds(
        model,
        "the stack is deployed to a swarm, whose tasks keep data in volumes",
        into="a volume of the stack",
        opens="that path of the node that runs the server",
        instead="check the stack with compose (without --smartmaint-swarm)",
    )
    refuse_short_disk(model, settings.min_free_gb)
    isolation = isolate(model, name, engine_endpoint(), swarm=True)
    files = [*model.project.files, isolation.override]
    with watched_run(name, isolation, settings.keep, settings.swarm_engines), signals_as_interrupt():
        try:
            runner = _deploy(model, name, files, isolation.run_dir, settings, file_findings)
            yield LiveStack(model, runner, owned=True, isolation=isolation, min_free_gb=settings.min_free_gb)
        except BaseException as error:
            if not settings.keep:
                _remove_after(name, settings, error)
            raise
        if not settings.keep:
            remove_stack(name, settings.teardown_timeout_s, settings.swarm_engines)


def _remove_after(name: str, settings: Settings, error: BaseException) -> None:
    """Remove the stack while ``error`` goes up: a teardown that fails too is added to a SmartmaintError's message."""
    try:
        remove_stack(name, settings.teardown_timeout_s, settings.swarm_engines)
    except TeardownFailed as teardown:
        if isinstance(error, SmartmaintError):
            raise TeardownFailed(f"{error}\n\nAlso, {teardown}") from None
        raise


def _deploy(
    model: StackModel, name: str, files: list[Path], run_dir: Path, settings: Settings, file_findings: FileFindings
) -> SwarmRunner:
    builder = ComposeRunner(list(model.project.files), model.project.name)  # exactly `docker compose build`
    built = builder.compose("build", timeout=900)
    if built.returncode != 0:
        raise SmartmaintError(explain_up_failure(builder, built.stdout + built.stderr, model, file_findings))
    config = commands.run([*compose_base_command(files, name), "config", "--format", "json"], timeout=60)
    if config.returncode != 0:
        raise SmartmaintError(f"`docker compose config` failed for the stack file: {config.stderr.strip()[-500:]}")
    images = {service: model.image_name(service) for service in model.project.services}
    deployable = stack_file(json.loads(config.stdout), images)
    path = run_dir / "smartmaint-stack.json"
    path.write_text(deployable.text, encoding="utf-8")
    runner = SwarmRunner([path], name, settings.swarm_engines)
    deployed = commands.run(
        ["docker", "stack", "deploy", "--resolve-image", "never", "--compose-file", str(path), name], timeout=300
    )
    if deployed.returncode != 0:
        raise SmartmaintError(
            f"`docker stack deploy` refused the stack ({name}):\n{(deployed.stdout + deployed.stderr).strip()[-1500:]}"
        )
    pending = runner.wait_converged(sorted(model.project.services), settings.startup_timeout_s)
    if pending:
        raise SmartmaintError(
            f"the swarm stack {name} did not converge: not every task of {', '.join(pending)} was running (and "
            f"healthy, where it has a healthcheck) after {settings.startup_timeout_s} s (smartmaint_startup_timeout)."
            f"\nTheir last tasks (`docker service ps`):\n{runner.task_errors(pending)}\nTheir last log lines:\n"
            + "\n".join(f"  {line}" for line in runner.logs(pending, 8).splitlines()[-40:])
        )
    return runner


def _labelled(kind: str, name: str, engine: Sequence[str] = ()) -> list[str]:
    every = ["--all"] if kind == "container" else []  # stopped ones too
    done = commands.run(
        ["docker", *engine, kind, "ls", *every, "-q", "--filter", f"label={STACK_LABEL}={name}"], timeout=60
    )
    return done.stdout.split()


def remove_stack(name: str, deadline_s: int, engines: Mapping[str, str] | None = None) -> None:
    """`docker stack rm`, then whatever Swarm leaves of the stack: its containers and volumes on this node and on
    the nodes whose ``engines`` the run reaches, and its networks, once they are free. Raises TeardownFailed,
    naming what is left, past ``deadline_s``."""
    removing = commands.run(["docker", "stack", "rm", name], timeout=120)
    nodes: list[list[str]] = [[], *(["--host", endpoint] for endpoint in (engines or {}).values())]
    deadline = time.monotonic() + deadline_s
    left: list[str] = []
    while time.monotonic() < deadline:
        services = _labelled("service", name)
        if services and removing.returncode != 0:  # (a stack rm cut short): again
            removing = commands.run(["docker", "stack", "rm", name], timeout=120)
        left = list(services)
        for engine in nodes:
            containers = _labelled("container", name, engine)
            if containers and time.monotonic() > deadline - deadline_s / 2:
                commands.run(["docker", *engine, "rm", "-f", "-v", *containers], timeout=120)
            if not containers:  # free now: what stack rm could not remove while a task held it
                for kind in ("volume", "network"):
                    found = _labelled(kind, name, engine)
                    if found:
                        commands.run(["docker", *engine, kind, "rm", *found], timeout=120)
            left += containers + _labelled("volume", name, engine) + _labelled("network", name, engine)
        if not left:
            return
        time.sleep(1)
    raise TeardownFailed(
        f"removing swarm stack {name}: {len(left)} services, containers, volumes or networks are still there "
        f"after {deadline_s} s (smartmaint_teardown_timeout).\nFinish it with: {engine_endpoint().env_prefix()}"
        f"docker stack rm {name}; docker volume rm $(docker volume ls -q --filter label={STACK_LABEL}={name}) "
        "(and the same `docker volume rm` on every node that ran one of its tasks)"
    )
