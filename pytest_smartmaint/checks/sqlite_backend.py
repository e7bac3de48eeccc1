"""sqlite-backend: the registry lives in a SQLite file on a mounted directory."""

from __future__ import annotations

import posixpath
import warnings
from typing import TYPE_CHECKING

import pytest

from ..errors import SmartmaintError, SmartmaintWarning
from ..static.compose import Mount
from ..static.mlflow_server import DEFAULT_WORKERS
from ..static.stack_model import StackModel, server_settings
from .backend_process import stale_server
from .base import Case, Check, LiveCase, StaticCase, fail, not_applicable, record_facts
from .messages import command, fix_in, no_server, volumes

if TYPE_CHECKING:
    from ..live.stack import LiveStack

NAME = "sqlite-backend"


def static_cases(model: StackModel) -> list[StaticCase]:
    server = model.server
    if server is None:
        return [not_applicable(NAME, "static", no_server(model))]
    unknown = server.store_location_unknown
    if unknown:
        reason = f"{unknown}; the live item sqlite-backend[live-{server.service}] reads the running process"
        return [not_applicable(NAME, "static", reason, subject=server.service)]
    uri = server.backend_store_uri.value or ""
    if file_store_path(model) is not None:
        return [Case(NAME, "static", server.service, _check_file_store, (server.service,))]
    if not uri.startswith("sqlite:"):
        reason = f"the backend store is {uri} ({server.backend_store_uri.source}), not SQLite"
        return [not_applicable(NAME, "static", reason, subject=server.service)]
    return [Case(NAME, "static", server.service, _check, (server.service,))]


def file_store_path(model: StackModel) -> str | None:
    """The directory of a file store backend (``./mlruns``, MLflow's default before 3.7), in the container."""
    server = model.server
    uri = server.backend_store_uri.value if server else None
    if server is None or not uri or server.workdir is None or ("://" in uri and not uri.startswith("file:")):
        return None
    path = uri.removeprefix("file://").removeprefix("file:")
    return posixpath.normpath(posixpath.join(server.workdir, path))


def _check_file_store(model: StackModel) -> None:
    server = model.server
    path = file_store_path(model)
    assert server is not None and path is not None
    mount = model.service(server.service).mount_covering(path)
    if mount is None or mount.kind == "tmpfs":
        where = "on no mount" if mount is None else f"on a tmpfs at {mount.target} (wiped at every stop)"
        fail(
            f"The MLflow backend store {server.backend_store_uri} is the file store {path} in {server.service}, "
            f"{where}.\nMLflow before 3.7 defaults to this file store (./mlruns in the working directory); every "
            f"registered model and run is lost when {server.service} is recreated.\n"
            + fix_in(
                server.service,
                command("mlflow server --backend-store-uri sqlite:////mlflow_db/mlflow.db ..."),
                volumes("./mlflow_db:/mlflow_db"),
                how="keep the registry on a mounted directory",
            )
        )


def _check(model: StackModel) -> None:
    server = model.server
    assert server is not None
    path = server.sqlite_path
    assert path is not None
    service = model.service(server.service)
    directory = posixpath.dirname(path)
    setting = f"{server.backend_store_uri.value} ({server.backend_store_uri.source})"
    if service.replicas > 1:
        fail(
            f"{server.service} runs {service.replicas} replicas (deploy.replicas / scale) on one SQLite file, {path}.\n"
            "SQLite takes one writer at a time: at the first start the replicas race to create MLflow's schema (one "
            'exits with "sqlite3.OperationalError: table registered_models already exists"), and concurrent writes '
            'later fail with "database is locked".\n'
            f"Fix, in service {server.service}: one replica (scale the server only on PostgreSQL or MySQL)\n"
            "    deploy:\n      replicas: 1"
        )
    mount = service.mount_covering(path)
    if mount is not None and mount.kind in ("bind", "volume"):
        _one_server_per_file(model, path, mount)
    if mount is None:
        default_note = (
            f"\nWith no --backend-store-uri, MLflow 3.7+ uses sqlite:///mlflow.db, relative to the working directory "
            f"{server.workdir}."
            if server.backend_store_uri.source == "MLflow default"
            else ""
        )
        # a db in / or the working directory gets a directory of its own; otherwise mount the one it is in
        db_dir, db_path = (
            ("/mlflow_db", "/mlflow_db/mlflow.db") if directory in ("/", server.workdir) else (directory, path)
        )
        fix = fix_in(
            server.service,
            command(f"mlflow server --backend-store-uri sqlite:///{db_path} ...   (four slashes: absolute path)"),
            volumes(f"./mlflow_db:{db_dir}"),
        )
        fail(
            f"The MLflow backend store {setting} is the file {path} in {server.service}, on no mount.{default_note}\n"
            f"The registry lives in the container's writable layer: every registered model and run is lost when "
            f"{server.service} is recreated\n(docker compose up after a change, a new image, `down`).\n{fix}"
        )
    if mount.kind == "tmpfs":
        where = "tmpfs:" if mount.declared_in == "tmpfs" else "volumes: (type: tmpfs)"
        fail(
            f"The MLflow backend store {setting} is the file {path} in {server.service}, on a tmpfs mount "
            f"at {mount.target} ({where}).\n"
            f"A tmpfs lives in memory and is wiped at every stop of the container: every registered model and run "
            f"is lost on `docker compose restart`, `stop`, a recreate or a reboot.\n"
            + fix_in(
                server.service,
                volumes(f"./mlflow_db:{directory}"),
                how=f"replace the tmpfs at {mount.target} with a directory on disk",
            )
        )
    if mount.target == path:
        fail(
            f"{server.service} mounts only the SQLite file itself ({mount.label} -> {mount.target}), not its "
            "directory.\n"
            f"SQLite writes its -journal/-wal files next to the db, which then land in the container layer; and when "
            f"{mount.label} does not exist on the host, Docker creates a directory in its place and MLflow fails "
            f'with "unable to open database file".\n'
            + fix_in(
                server.service,
                volumes(f"{posixpath.dirname(mount.label) or '.'}:{directory}"),
                how="mount the directory",
            )
        )
    if mount.read_only:
        fail(
            f"{server.service} mounts the directory of its SQLite backend ({mount.label} -> {mount.target}) "
            "read-only.\n"
            f"MLflow starts, then every write (create experiment, register model) fails with 503 "
            f'"attempt to write a readonly database".\nFix, in service {server.service}: drop :ro from '
            f"{mount.label}:{mount.target}"
        )
    for concern in concurrency_concerns(model):
        warnings.warn(SmartmaintWarning(concern), stacklevel=2)


def _one_server_per_file(model: StackModel, path: str, mount: Mount) -> None:
    """Another `mlflow server` of the stack on the same SQLite file (the same mount source, the same file on it)."""
    server = model.server
    assert server is not None
    relative = posixpath.relpath(path, mount.target)
    for name in model.roles.other_servers:
        other = server_settings(model.service(name), model.images.get(name))
        other_path = other.sqlite_path
        theirs = model.service(name).mount_covering(other_path) if other_path else None
        if "--artifacts-only" in other.argv or theirs is None or theirs.source != mount.source:
            continue
        if posixpath.relpath(str(other_path), theirs.target) == relative:
            fail(
                f"{server.service} and {name} both run `mlflow server` on one SQLite file ({mount.label}, {path} in "
                f"{server.service}, {other_path} in {name}).\nSQLite takes one writer at a time: the two race to "
                'create MLflow\'s schema at the first start, and concurrent writes fail with "database is locked".\n'
                f"Fix: one server per SQLite file (point {name}'s clients at {server.service}), or both on "
                "PostgreSQL or MySQL"
            )


BURST_WRITERS, BURST_RUNS = 8, 20  # 480 writes: a few seconds on one worker, and enough to meet a lock


def concurrency_concerns(model: StackModel) -> list[str]:
    """What MLflow's docs and issues say of the server's settings on one SQLite file (warnings, not failures:
    the write burst of the live tier measures what they do)."""
    server = model.server
    assert server is not None
    concerns = []
    workers = server.worker_count
    if workers is not None and workers > 1:
        concerns.append(
            f"{server.service} runs {workers} worker processes ({server.workers.source}) on one SQLite file: SQLite "
            "takes one writer at a time, MLflow waits up to 20 s for the lock (PRAGMA busy_timeout), and a write that "
            'waits longer fails with "database is locked" (mlflow/mlflow#6490). The live item '
            f"sqlite-backend[live-{server.service}-write-burst] measures it. Keep --workers 1 on SQLite, or move "
            "the registry to PostgreSQL or MySQL"
        )
    if server.job_execution.value == "true":
        concerns.append(
            f"{server.service} runs MLflow's job runner ({server.job_execution.source}): Huey consumers beside the "
            'server, with their queue in a SQLite file of their own, whose threads race on it ("database is '
            'locked" in huey/storage.py even with one worker, mlflow/mlflow#22597). The stack uses no MLflow '
            "jobs unless it runs scorers or other server-side jobs: MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false "
            "turns it off"
        )
    return concerns


EXPECTED_TABLES = ("experiments", "registered_models", "model_versions", "alembic_version")


def live_cases(model: StackModel) -> list[LiveCase]:
    server = model.server
    if server is None:
        return [not_applicable(NAME, "live", no_server(model))]
    sqlite = (server.backend_store_uri.value or "").startswith("sqlite:")
    if not sqlite and file_store_path(model) is None:
        return [
            not_applicable(
                NAME,
                "live",
                f"the backend store is {server.backend_store_uri.shown}, not SQLite nor a file store",
                subject=server.service,
            )
        ]
    services = (server.service, *(model.roles.trainer and [model.roles.trainer] or []))
    survives = Case(NAME, "live", f"{server.service}-restart-recreate", _live_survives, services)
    if not sqlite:  # a file store (MLflow's default before 3.7) has no tables to read: whether it persists is the proof
        return [survives]
    return [
        Case(NAME, "live", server.service, _live_process_and_file, services),
        Case(NAME, "live", f"{server.service}-write-burst", _live_write_burst, services),
        survives,
    ]


def _live_process_and_file(stack: LiveStack) -> None:
    """The running server uses the configured URI (catches stale images); the db has MLflow's tables."""
    server = stack.model.server
    assert server is not None
    facts = stale_server(stack)
    if not facts.db_exists:
        fail(
            f"{server.service} has no SQLite file at {server.sqlite_path} ({server.backend_store_uri}), though its "
            "server runs: the directory is not writable, or MLflow has not started yet; see its log below."
        )
    missing = [t for t in EXPECTED_TABLES if t not in facts.tables]
    if missing:
        fail(
            f"{server.sqlite_path} in {server.service} lacks MLflow's tables {', '.join(missing)} "
            f"({facts.db_error or 'tables: ' + ', '.join(facts.tables)}): it is not the server's "
            "database, or its migrations did not run."
        )


def _live_write_burst(stack: LiveStack) -> None:
    """Concurrent writes from the trainer, as several training jobs make them: "database is locked" fails."""
    server = stack.model.server
    assert server is not None
    if not stack.owned:
        pytest.skip(
            f"a burst of {BURST_WRITERS * BURST_RUNS} runs is never written to a registry the plugin did not start "
            f"(--smartmaint-project {stack.project})"
        )
    try:
        client = stack.trainer()
    except SmartmaintError as exc:
        pytest.skip(f"no service to write from: {exc}")
    burst = stack.write_burst(client, BURST_WRITERS, BURST_RUNS)
    if burst.setup_error:
        fail(
            f"no write reached the registry from {client}: its experiment could not be created "
            f"({burst.setup_error}); mlflow-reachable[live-{client}] says why"
        )
    settings = {"workers": server.workers.value or DEFAULT_WORKERS, "job_execution": server.job_execution.value}
    record_facts(
        writers=burst.writers,
        runs=burst.writers * burst.runs,
        requests=burst.requests,
        errors=burst.failed,
        errors_by_kind=dict(burst.errors),
        seconds=burst.seconds,
        writes_per_s=burst.writes_per_s,
        **settings,
    )
    if not burst.failed:
        return
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(burst.errors.items(), key=lambda e: -e[1]))
    shown = "\n".join(f"    {sample}" for sample in burst.samples.values())
    cause = (
        f"\nSQLite takes one writer at a time: {server.service} runs {server.worker_count or '?'} worker processes "
        f"({server.workers.source}) on {server.sqlite_path}, and MLflow's 20 s busy_timeout did not cover the wait.\n"
        f"Fix: --workers 1 in {server.service}'s command, or the registry on PostgreSQL or MySQL "
        "(database-backend checks it)"
        if burst.locked
        else ""
    )
    fail(
        f"{burst.failed} of {burst.requests} writes failed ({kinds}) when {burst.writers} writers on {client} "
        f"created {burst.writers * burst.runs} runs at once ({burst.writes_per_s} writes/s):\n{shown}{cause}"
    )


def _live_survives(stack: LiveStack) -> None:
    """The smoke model is still registered after `restart` and after a forced recreate of the server."""
    model = stack.model
    server = model.server
    assert server is not None
    if not stack.owned:
        pytest.skip(
            f"restart and recreate are never done to a stack the plugin did not start "
            f"(--smartmaint-project {stack.project})"
        )
    if not stack.exclusive:  # other workers run live items meanwhile: --dist load, or a loadgroup xdist did not apply
        pytest.skip(
            "the live items are not in one xdist worker, so other workers run checks on this stack now and "
            "recreating its server would break them (use --dist loadgroup, where xdist applies it, or -n 1)"
        )
    try:
        smoke = stack.smoke_model()
    except SmartmaintError as exc:
        fail(f"the smoke model could not be registered, so persistence cannot be checked:\n{exc}")
    path = server.sqlite_path or file_store_path(model) or ""
    mount = model.service(server.service).mount_covering(path)
    kind = "the file is" if server.sqlite_path else "the file store is"
    where = f"{path} on {mount.label}" if mount else f"{path}, on no mount"
    for step, how in (("restart", "restart"), ("forced recreate", "recreate")):
        failed = stack.cycle_service(server.service, how)
        if failed is not None:
            fail(f"{server.service} did not come back healthy after a {step}:\n{failed[-1500:]}")
        found = stack.registry_lookup(smoke.version)
        if found.status is None:  # no answer at all: nothing says what the registry holds
            fail(
                f"{server.service} came back after a {step}, but the registry lookup got no answer, so whether "
                f"{stack.smoke_name} version {smoke.version} survived is not known: {found.error[:300]}"
            )
        if found.status != 200:
            fail(
                f"The registry lost {stack.smoke_name} version {smoke.version} after a {step} of {server.service} "
                f"(lookup: HTTP {found.status} {(found.body or found.error)[:200]}).\n"
                f"The backend store is {server.backend_store_uri}: {kind} {where}, so it lives in the "
                f"container's writable layer and goes with the container.\n"
                + fix_in(
                    server.service,
                    command("mlflow server --backend-store-uri sqlite:////mlflow_db/mlflow.db ..."),
                    volumes("./mlflow_db:/mlflow_db"),
                )
            )

    _artifacts_survive(stack, smoke.version)


def _artifacts_survive(stack: LiveStack, version: str) -> None:
    """After the recreate the model's artifacts load too, not only its registry row: a server that serves the
    artifacts (--serve-artifacts) keeps them where it writes them, which may be its own writable layer."""
    from ..live.facts import LoadLayer  # the live tier's types load only when a live item runs

    server = stack.model.server
    assert server is not None
    loader = stack.trainer()
    load = stack.reload_smoke_model(loader)
    if load.layer is LoadLayer.OK:
        record_facts(loaded_after_recreate=loader)
        return
    destination = server.proxied_destination_path
    where = (
        f"{server.service} serves the artifacts and keeps them in {destination} ({server.artifacts_destination.source})"
        if destination
        else f"the artifact root is {server.artifact_root}"
    )
    mount = stack.model.service(server.service).mount_covering(destination) if destination else None
    fix = (
        "\n" + fix_in(server.service, volumes(f"mlflow_artifacts:{destination}"))
        if destination and (mount is None or mount.kind == "tmpfs")
        else ""
    )
    fail(
        f"The registry kept {stack.smoke_name} version {version} through a forced recreate of {server.service}, but "
        f"{loader} can no longer load it: {(load.detail.strip().splitlines() or ['?'])[0][:300]}\n{where}"
        + (", on no mount: the artifacts went with the container." if fix else ".")
        + fix
    )


CHECK = Check(NAME, static=static_cases, live=live_cases, destructive=True, explains_startup=True)
