"""A service that is not running when the checks need it: the run's first finding, by cause.

`up --wait` returns once a service without a healthcheck runs; an API that loads its model at
startup and exits a second later, or a server that dies at import, is then simply gone. Every
check that needs such a container would blame something else (its mounts, its user, a missing
interpreter), so each live item first asks whether its services still run. The first item that
meets a stopped service reports it in full: exit code, last log lines, and the cause where the
log names a common one; every later item points to that item.

A service that exited 0 is a one-shot job (a training run) and is probed with
``docker compose run``: it is not a finding.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from ..static.database import DRIVERS
from ..static.stack_model import StackModel
from .compose_runner import ComposeRunner
from .schema_mismatch import diagnose_refusal

LOG_LINES = 15


# a service with no healthcheck that dies at startup (an import, a model load) does so by then: importing mlflow takes
# 3-4 s on an idle machine, and over 5 s on a CI runner whose CPUs are busy with other stacks
SETTLE_S = 10.0


@dataclass(frozen=True)
class ContainerState:
    service: str
    name: str
    state: str  # running, exited, restarting, dead, created, paused
    exit_code: int
    up_s: float | None = None  # how long it has been running, when compose says it in seconds

    @property
    def stopped(self) -> bool:
        """Not running, and not a job that finished its work (exit 0)."""
        return self.state in ("restarting", "dead") or (self.state == "exited" and self.exit_code != 0)


def container_states(runner: ComposeRunner) -> dict[str, ContainerState]:
    """Every container of the project (a swarm stack: its newest task's on this node), read once."""
    states: dict[str, ContainerState] = {}
    for row in runner.ps_rows():
        if str(row.get("Service", "")) in states:  # a swarm service's older tasks come after its newest
            continue
        service = str(row.get("Service", ""))
        code = row.get("ExitCode", 0)
        status = str(row.get("Status", ""))
        up = re.match(r"Up (\d+|Less than a) second", status)
        states[service] = ContainerState(
            service,
            str(row.get("Name", "")),
            str(row.get("State", "")),
            int(code) if isinstance(code, int) else 0,
            (0.0 if up.group(1).startswith("Less") else float(up.group(1))) if up else None,
        )
    return states


def settled_states(runner: ComposeRunner, unwatched: set[str]) -> dict[str, ContainerState]:
    """The states once every service that no healthcheck watches (``unwatched``) has run ``SETTLE_S``:
    `up --wait` returns as soon as such a service runs, and one that dies at startup is gone a moment later."""
    states = container_states(runner)
    young = [s.up_s for name, s in states.items() if name in unwatched and s.state == "running" and s.up_s is not None]
    wait = SETTLE_S - min(young, default=SETTLE_S)
    if wait > 0:
        time.sleep(wait)
        states = container_states(runner)
    return states


@dataclass(frozen=True)
class StoppedService:
    service: str
    container: str
    state: str
    exit_code: int
    log_tail: str
    cause: str | None

    def message(self, project: str) -> str:
        how = "keeps restarting" if self.state == "restarting" else f"exited with code {self.exit_code}"
        cause = f"\nCause: {self.cause}" if self.cause else ""
        return (
            f"{self.service} is not running: its container {self.container} {how} after the stack came up "
            f"(project {project}).{cause}\nLast log lines of {self.service}:\n"
            + "\n".join(f"    {line}" for line in (self.log_tail.splitlines() or ["(no log lines)"]))
            + f"\nEvery check that needs {self.service} reports this finding instead of guessing at another cause."
        )


MODEL_NOT_FOUND = re.compile(r"RESOURCE_DOES_NOT_EXIST: Registered Model with name=(\S+?) not found")
SQLALCHEMY_21 = re.compile(r"cannot import name '(\w+)' from 'sqlalchemy[.\w]*'")
NO_MODULE = re.compile(r"ModuleNotFoundError: No module named '([\w.]+)'")


def interpret(service: str, logs: str, trainer: str | None, trainer_logs: str = "") -> str | None:
    """The common causes MLflow stacks die of, read from the service's log."""
    if match := MODEL_NOT_FOUND.search(logs):
        name = match.group(1).strip("'\"")
        who = (
            f"{trainer} should have registered it; its last log lines:\n"
            + "\n".join(f"      {line}" for line in trainer_logs.splitlines()[-6:] or ["(no log lines)"])
            if trainer
            else "no service of the stack registers models (no trainer detected)"
        )
        return (
            f"{service} loads the registered model {name!r} at startup, and the registry does not have it "
            f"(MLflow answered RESOURCE_DOES_NOT_EXIST). {who}\n"
            f"  Register {name!r} before {service} starts (a job it depends_on with condition: "
            "service_completed_successfully), or let it start without the model"
        )
    if match := SQLALCHEMY_21.search(logs):
        return (
            f"MLflow in {service} imports {match.group(1)} from SQLAlchemy, which SQLAlchemy 2.1 removed: the image "
            "pins an older MLflow but not SQLAlchemy, so pip installed 2.1. Fix: pin sqlalchemy<2.1 beside mlflow in "
            f"{service}'s image, or take a newer MLflow"
        )
    if match := NO_MODULE.search(logs):
        module = match.group(1).split(".")[0]
        driver = next((d for d, (_, m) in DRIVERS.items() if m.split(".")[0] == module), None)
        if driver is None:
            return f"{service} imports {match.group(1)!r}, which its image does not install"
        packages = DRIVERS[driver][0]
        bare = (
            " (SQLAlchemy 2.1, which MLflow 3.17 brings, loads psycopg for a bare postgresql://; before 2.1 it was "
            "psycopg2: an image with only psycopg2-binary can name it, postgresql+psycopg2://)"
            if driver == "psycopg"
            else ""
        )
        return (
            f"{module} is the database driver SQLAlchemy loads for {service}'s backend store URI, and {service}'s "
            f"image does not install it{bare}. Fix: add {packages[0]}{'[binary]' if driver == 'psycopg' else ''} "
            f"to {service}'s image"
        )
    for pattern, meaning in DATABASE_REFUSALS:
        if match := pattern.search(logs):
            return f"{service} cannot open its backend store: {meaning.format(*match.groups())}"
    return None


DATABASE_REFUSALS = (
    (
        re.compile(r'password authentication failed for user "([^"]+)"'),
        "the database refuses the password of user {0} in the backend store URI. The db service's POSTGRES_PASSWORD "
        "applies only when its data directory is first created: make the two agree (or change it with SQL)",
    ),
    (
        re.compile(r'database "([^"]+)" does not exist'),
        "the database {0} of the backend store URI does not exist in the db service (POSTGRES_DB creates one only "
        "when the data directory is first created)",
    ),
    (
        re.compile(r"Access denied for user '([^']+)'"),
        "MySQL refuses user {0} of the backend store URI (a wrong password, or a user MYSQL_USER did not create)",
    ),
    (
        re.compile(r"Detected out-of-date database schema"),
        "the database's schema is older than this MLflow release (MLflow refuses to migrate it on its own). "
        "Back the database up, then run `mlflow db upgrade <backend store URI>` with this image",
    ),
    (
        re.compile(r"Can't locate revision identified by '(\w+)'"),
        "the database is at schema revision {0}, which this image's MLflow does not know: a newer MLflow migrated "
        "it, and MLflow has no downgrade. Run the server on that newer release, or restore the backup from before",
    ),
)


def _without_prefix(logs: str) -> str:
    """`docker compose logs` lines without their ``api-1  | `` prefix."""
    return "\n".join(re.sub(r"^[\w.-]+\s*\|\s?", "", line) for line in logs.splitlines())


def find_stopped(
    runner: ComposeRunner, model: StackModel, services: tuple[str, ...], states: dict[str, ContainerState]
) -> list[StoppedService]:
    """Which of ``services`` is stopped in ``states``, each with its log and its cause."""
    found = []
    for service in services:
        state = states.get(service)
        if state is None or not state.stopped:
            continue
        logs, cause = log_and_cause(runner, model, service)
        found.append(StoppedService(service, state.name, state.state, state.exit_code, logs, cause))
    return found


def log_and_cause(runner: ComposeRunner, model: StackModel, service: str) -> tuple[str, str | None]:
    """The service's last log lines, and the cause they name (also of a service that still runs, retrying:
    MLflow retries a refused database connection with backoff, and the healthcheck gives up first)."""
    trainer = model.roles.trainer
    logs = _without_prefix(runner.logs([service], lines=LOG_LINES))
    trainer_logs = _without_prefix(runner.logs([trainer], lines=LOG_LINES)) if trainer and trainer != service else ""
    cause = diagnose_refusal(runner, model, service, logs) or interpret(
        service, logs, trainer if trainer != service else None, trainer_logs
    )
    return logs, cause
