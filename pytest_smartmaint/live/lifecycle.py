"""The live stack: brought up through pytest-docker in a project of its own, always torn down.

pytest-docker's ``get_docker_services`` runs its setup commands *before* its
``try/finally``, so a failing ``up`` leaks the stack. Here its setup list is left empty
and ``up`` runs inside the context, so its cleanup (``down -v``) also runs when bring-up
fails. SIGTERM and SIGINT become one KeyboardInterrupt while the stack exists, so pytest
unwinds and tears down as it does on Ctrl-C, and a second signal cannot cut `down` short.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from pytest_docker.plugin import get_docker_services

from .. import commands
from ..commands import CommandTimeout
from ..errors import SmartmaintError
from ..settings import Settings
from ..static.compose import compose_base_command
from ..static.stack_model import StackModel
from . import reaper
from .compose_runner import ComposeRunner
from .engine_disk import read_engine_disk
from .engine_endpoint import engine_endpoint
from .facts import InspectedState
from .isolation import Isolation, isolate, unredirectable_data_binds
from .stack import LiveStack
from .startup_diagnosis import FileFindings, diagnose, no_file_findings
from .stopped import container_states, find_stopped, log_and_cause


@contextmanager
def signals_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGINT raise KeyboardInterrupt once; later ones are ignored, so teardown finishes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def live_stack(
    settings: Settings, model: StackModel, name: str, file_findings: FileFindings = no_file_findings
) -> Iterator[LiveStack]:
    """The stack the live checks run against: the user's running project, or one of our own.

    ``file_findings`` names what the checks prove wrong in the files, to explain a bring-up that failed."""
    if settings.swarm or settings.swarm_stack:
        from .swarm_lifecycle import attached_stack, deployed_stack

        with (
            attached_stack(settings, model, settings.swarm_stack)
            if settings.swarm_stack
            else deployed_stack(settings, model, name, file_findings)
        ) as swarm_stack:
            yield swarm_stack
        return
    if settings.project:
        runner = ComposeRunner(model.project.files, settings.project)
        _require_running(runner, model)
        stack = LiveStack(model, runner, owned=False, min_free_gb=settings.min_free_gb)
        try:
            yield stack
        finally:
            stack.remove_smoke_model()
        return
    engine = engine_endpoint()
    if engine.remote:
        refuse_unredirectable_binds(
            model,
            f"the engine is {engine.describe()}",
            into="a volume of that engine",
            opens="that path of the engine's machine",
            instead="run against this machine's engine",
        )
    require_engine()
    refuse_short_disk(model, settings.min_free_gb)
    isolation = isolate(model, name, engine)
    files = [*model.project.files, isolation.override]
    runner = ComposeRunner(files, name)
    with (
        watched_run(name, isolation, settings.keep),
        signals_as_interrupt(),
        _compose_project(files, name, settings.keep, settings.teardown_timeout_s, isolation.run_dir),
    ):
        _bring_up(runner, model, settings.startup_timeout_s, file_findings)
        yield LiveStack(model, runner, owned=True, isolation=isolation, min_free_gb=settings.min_free_gb)


def refuse_short_disk(model: StackModel, min_free_gb: float) -> None:
    """Nothing is built on an engine short of free space (before anything is created: nothing to clean up)."""
    disk = read_engine_disk(model.image_names())
    shortage = disk.shortage(min_free_gb) if disk else None
    if shortage:
        raise SmartmaintError(f"nothing was built: {shortage}")


@contextmanager
def watched_run(
    name: str, isolation: Isolation, keep: bool, engines: Mapping[str, str] | None = None
) -> Iterator[None]:
    """The reaper removes the run's project (or stack) if this process is killed (SIGKILL) meanwhile; the run
    directory goes afterwards, unless the stack stays (``keep``, or a teardown that failed: the command that
    finishes it names the directory, whose override is in the compose files)."""
    watcher = reaper.start(name, isolation.run_dir, engines)
    left = keep
    try:
        yield
    except TeardownFailed:
        left = True
        raise
    finally:
        reaper.stop(watcher)
        if not left:
            isolation.remove()


def refuse_unredirectable_binds(model: StackModel, where: str, *, into: str, opens: str, instead: str) -> None:
    """Stop before anything is created (nothing to clean up) when the server's SQLite file is a bind of its own:
    where data goes into volumes (a remote engine, a swarm), no volume can stand in for a file."""
    refused = unredirectable_data_binds(model)
    if refused:
        raise SmartmaintError(
            f"nothing was started: {where}, and the server's SQLite file is a bind of its own, which the run cannot "
            f"redirect into {into}:\n"
            + "\n".join(f"    {bind}" for bind in refused)
            + f"\nKept as written, it would open {opens}, where your registry may be. Mount the directory that "
            f"holds the file instead, or {instead}."
        )


class TeardownFailed(SmartmaintError):
    """`down` failed or ran past its deadline: the message names what is left and the command to finish it."""


@contextmanager
def _compose_project(files: list[Path], name: str, keep: bool, deadline_s: int, run_dir: Path) -> Iterator[None]:
    """pytest-docker's project context, whose cleanup (``down``) runs however the body ends.

    Only pytest-docker's cleanup is caught (it raises a bare Exception when ``down`` fails): that
    becomes an error naming what is left and how to remove it. Whatever the body raises passes
    through unchanged; when both fail, the body's error comes first and the teardown's is added.
    """
    cleanup = [] if keep else ["down --volumes --remove-orphans --timeout 10"]
    # pytest-docker runs `down` through a shell with no timeout: coreutils' timeout gives it a deadline
    deadline = f"timeout --kill-after=5 {deadline_s} " if shutil.which("timeout") else ""
    project = get_docker_services(
        f"{deadline}docker compose", [str(f) for f in files], name, docker_setup=[], docker_cleanup=cleanup
    )
    project.__enter__()  # with docker_setup=[] this runs nothing, so the body's `up` is inside the cleanup's reach

    def teardown_failed(exc: Exception) -> str:
        cut = re.search(r"returned (124|137):", str(exc)) and deadline
        what = (
            f": `docker compose down` did not finish within {deadline_s} s (smartmaint_teardown_timeout) and was cut"
            if cut
            else f" failed: {exc}"
        )
        return (
            f"tearing down project {name}{what}.\nFinish it with: "
            f"{engine_endpoint().env_prefix()}{' '.join(compose_base_command(files, name))} down --volumes "
            f"--remove-orphans && rm -rf {run_dir}"
        )

    try:
        yield
    except BaseException as error:
        try:
            project.__exit__(type(error), error, error.__traceback__)
        except Exception as teardown:
            if teardown is error:
                raise
            if isinstance(error, SmartmaintError):
                raise TeardownFailed(f"{error}\n\nAlso, {teardown_failed(teardown)}") from None
        raise
    else:
        try:
            project.__exit__(None, None, None)
        except Exception as teardown:
            raise TeardownFailed(teardown_failed(teardown)) from None


def require_engine() -> None:
    result = commands.run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=30)
    if result.returncode != 0:
        raise SmartmaintError(
            "no Docker engine is reachable (`docker info` failed: "
            f"{(result.stderr.strip().splitlines() or ['no output'])[-1]}).\n"
            "Start one (e.g. `sudo systemctl start docker`, or `dockerd &`), or point DOCKER_HOST / "
            "`docker context use` at a running engine. The static tier needs none: --smartmaint-static."
        )


def _require_running(runner: ComposeRunner, model: StackModel) -> None:
    require_engine()
    running = [s for s in model.project.services if runner.container(s)]
    if not running:
        raise SmartmaintError(
            f"--smartmaint-project {runner.project}: no running container of that project has a service of "
            f"{', '.join(str(f) for f in model.project.files)}. See `docker compose ls` for running projects."
        )


def _bring_up(runner: ComposeRunner, model: StackModel, timeout_s: int, file_findings: FileFindings) -> None:
    """Build as the project itself would, then start the run's own project from those images.

    Compose labels what it builds with the project's name, so a build under the run's random name
    would be a new image each run: every tag of the stack would move (its own running containers then
    look stale, and the images they run are left dangling). Built under the project's own name, an
    unchanged stack is a cache hit with the same image ids as the user's own `docker compose build`.
    """
    wait = ("--wait", "--wait-timeout", str(timeout_s))
    builder = ComposeRunner(list(model.project.files), model.project.name)  # exactly `docker compose build`
    try:
        result = builder.compose("build", timeout=900)
        if result.returncode == 0:
            result = runner.compose("up", "--no-build", "--detach", *wait, timeout=timeout_s + 300)
    except CommandTimeout as exc:  # a build or a pull that hangs: `up --wait` bounds only the wait for health
        raise CommandTimeout(f"bringing up project {runner.project} timed out: {exc}") from None
    if result.returncode == 0:
        return
    finished = _one_shots_done(runner, (result.stdout + result.stderr))
    if finished:
        # `up --wait` gives up when a one-shot job exits 0: wait for the long-running services alone
        others = [s for s in model.project.services if s not in finished]
        result = runner.compose("up", "--detach", "--no-recreate", *wait, *others, timeout=timeout_s + 60)
        if result.returncode == 0:
            return
    output = (result.stdout + result.stderr).strip()
    raise SmartmaintError(explain_up_failure(runner, output, model, file_findings))


def _one_shots_done(runner: ComposeRunner, output: str) -> set[str]:
    """Services whose container ran to completion (exit 0), when that is all `up --wait` complains of."""
    exited = set(re.findall(r"container (\S+) exited \((\d+)\)", output))
    if not exited or any(code != "0" for _, code in exited) or "unhealthy" in output:
        return set()
    states = runner.compose("ps", "--all", "--format", "{{.Name}} {{.Service}} {{.State}} {{.ExitCode}}").stdout
    done = {}
    for line in states.splitlines():
        name, service, state, code = (line.split() + ["", "", "", ""])[:4]
        done[name] = service if state == "exited" and code == "0" else None
    services = {done.get(name) for name, _ in exited}
    return set() if None in services else {s for s in services if s}


def failing_build_steps(lines: list[str]) -> list[str]:
    """BuildKit's plain log: the header, last output lines and error of each failed step (#N)."""
    failed = {m.group(1) for line in lines if (m := re.match(r"#(\d+) ERROR", line))}
    shown: list[str] = []
    for step in sorted(failed, key=int):
        own = [line for line in lines if line.startswith(f"#{step} ")]
        header = [line for line in own if re.match(rf"#{step} \[", line)][:1]
        shown += header + [line for line in own if line not in header][-6:]
    return shown or [line for line in lines if "failed to solve" in line][-1:]


def explain_up_failure(
    runner: ComposeRunner, output: str, model: StackModel, file_findings: FileFindings = no_file_findings
) -> str:
    lines = output.splitlines()
    if "failed to solve" in output or re.search(r"^#\d+ ERROR", output, re.MULTILINE):
        return (
            f"the stack's images did not build (project {runner.project}); the failing step:\n"
            + "\n".join(f"  {line}" for line in failing_build_steps(lines))
            + "\nRun `docker compose build` to see the whole build log."
        )
    unhealthy = (
        re.findall(r"container (\S+) (?:is unhealthy|exited \(\d+\))", output)
        or _failed_jobs(runner, output)
        or re.findall(r"(\S+)\s+Error", output)
    )
    if unhealthy:
        parts = []
        for container in dict.fromkeys(unhealthy):
            parts.append(_container_state(container))
        causes = diagnose(runner, model, file_findings)
        states = container_states(runner)
        stopped = find_stopped(runner, model, tuple(model.project.services), states)
        # a container that still runs but never got healthy (a server retrying a refused database) names its cause too
        running = [s.service for s in states.values() if s.name in unhealthy and not s.stopped]
        retrying = [cause for service in running if (cause := log_and_cause(runner, model, service)[1])]
        found = [*causes.causes, *(s.cause for s in stopped if s.cause), *retrying]
        cause = "".join(f"\nCause: {c}" for c in dict.fromkeys(found))
        also = "".join(f"\n  - {finding}" for finding in causes.file_findings)
        return (
            f"the stack did not become healthy (project {runner.project}, `docker compose up --wait`).{cause}\n"
            + "What the containers show:\n"
            + "\n".join(parts)
            + (f"\nAlso wrong in the files (each may be the cause, or a failure still to come):{also}" if also else "")
        )
    return f"`docker compose up` failed (project {runner.project}):\n" + "\n".join(lines[-20:])


def _failed_jobs(runner: ComposeRunner, output: str) -> list[str]:
    """The containers of one-shot services another waited for (``service_completed_successfully``) that failed."""
    services = re.findall(r'service "([^"]+)" didn\'t complete successfully', output)
    names = []
    for service in dict.fromkeys(services):
        done = runner.compose("ps", "--all", "--format", "{{.Name}}", service, timeout=30)
        names += done.stdout.split()[:1]
    return names


def _container_state(container: str) -> str:
    """Status, restarts, last healthcheck output and log tail of one container that kept `up --wait` from succeeding.

    A crash loop is caught in any phase: "restarting" (waiting to start again), or "running" again after
    an exit. The engine's restart count is no guide (it stays 0 under ``restart: always`` here), and a
    restarted container's exit code reads 0 again; an exit time on a running container tells.
    """
    inspected = commands.run(["docker", "inspect", "--format", "{{json .State}}", container], timeout=30)
    state = InspectedState.parse(
        json.loads(inspected.stdout) if inspected.returncode == 0 and inspected.stdout.strip() else {}
    )
    logs = commands.run(["docker", "logs", "--tail", "15", container], timeout=30)
    if state.status == "running" and state.exited_before:
        summary = f"status running again (it exited at {state.finished_at[11:19]} and was restarted)"
    else:
        summary = f"status {state.status}, exit code {state.exit_code}"
    return (
        f"{container}: {summary}, restarts "
        f"{state.restarts}{'   <- crash loop: it exits and is restarted' if state.looping else ''}\n"
        f"  last healthcheck output: {state.last_probe[-300:]}\n"
        "  last log lines:\n" + "\n".join(f"    {line}" for line in (logs.stdout + logs.stderr).splitlines()[-15:])
    )
