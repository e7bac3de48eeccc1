"""database-backend: a PostgreSQL/MySQL registry the server can reach, open and keep.

SQLite and the file store are sqlite-backend's. What each rule relies on is cited in static/database.py.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from ..errors import SmartmaintError
from ..static.database import (
    DRIVERS,
    DatabaseService,
    DatabaseUri,
    backend_database,
    database_of,
    database_service,
    default_driver,
    installs_driver,
    official_credentials,
    parse_database_uri,
    sqlalchemy_release,
    unread_installs,
)
from ..static.stack_model import StackModel
from .backend_process import stale_server
from .base import Case, Check, LiveCase, StaticCase, fail, not_applicable, record_facts
from .messages import checked_live, fix_in, no_server, volumes

if TYPE_CHECKING:
    from ..live.stack import LiveStack

NAME = "database-backend"
LOOPBACK = ("localhost", "127.0.0.1", "::1")
MLFLOW_TABLES = ("experiments", "registered_models", "model_versions", "alembic_version")


def static_cases(model: StackModel) -> list[StaticCase]:
    server = model.server
    if server is None:
        return [not_applicable(NAME, "static", no_server(model))]
    if parse_database_uri(server.backend_store_uri.value) is None:
        reason = (
            f"the backend store is {server.backend_store_uri}, not a database server "
            "(sqlite-backend checks SQLite and the file store)"
        )
        return [not_applicable(NAME, "static", reason, subject=server.service)]
    return [Case(NAME, "static", server.service, _check, (server.service,))]


def _check(model: StackModel) -> None:
    server = model.server
    assert server is not None
    uri = parse_database_uri(server.backend_store_uri.value)
    assert uri is not None
    setting = f"{uri.redacted} ({server.backend_store_uri.source})"
    if "$" in (server.backend_store_uri.value or ""):
        pytest.skip(f"the backend URI {setting} is not literal in the files; " + checked_live(NAME, server.service))
    problems: list[str] = []
    unknown: list[str] = []
    dialect = uri.dialect
    if dialect == "postgres":
        problems.append(
            f"the URI's scheme is postgres://, an alias SQLAlchemy 1.4 removed: the server exits at start with "
            '"NoSuchModuleError: Can\'t load plugin: sqlalchemy.dialects:postgres".\n'
            f"  Fix: write it {uri.redacted_as('postgresql')}"
        )
        dialect = "postgresql"
    _driver(model, uri, dialect, problems, unknown)
    if uri.host in LOOPBACK and not (model.service(server.service).network_mode or "").startswith("service:"):
        problems.append(
            f"the URI's host is {uri.host}: inside {server.service}'s container that is {server.service} itself, so "
            'the server cannot connect ("Connection refused").\n'
            "  Fix: name the database's compose service as the host (postgresql://USER:PASSWORD@db:5432/mlflow)"
        )
    db_name = database_of(model.project, uri)
    if db_name is None and uri.host not in LOOPBACK:
        unknown.append(f"the database host {uri.host} is no service of the stack (an external database)")
    if db_name is not None:
        db = database_service(model.service(db_name), model.images.get(db_name))
        _data_directory(db, problems, unknown)
        _credentials(db, uri, problems, unknown)
        record_facts(database_service=db_name, data_dir=db.data_dir, image=db.official)
    if problems:
        fail(
            f"The MLflow backend store of {server.service} is {setting}"
            + (f", served by {db_name}" if db_name else "")
            + ":\n"
            + "\n".join(f"- {p}" for p in problems)
        )
    if unknown:
        pytest.skip("the files do not show " + "; nor ".join(unknown) + "; " + checked_live(NAME, server.service))


def _driver(model: StackModel, uri: DatabaseUri, dialect: str, problems: list[str], unknown: list[str]) -> None:
    server = model.server
    assert server is not None
    image = model.images.get(server.service)
    if image is None or server.service in model.roles.unread:
        unknown.append(f"which database driver {server.service}'s image holds (a prebuilt image or base)")
        return
    if how := unread_installs(image):
        unknown.append(f"which database driver {server.service}'s image holds (it installs through {how})")
        return
    sqlalchemy = sqlalchemy_release(image, server.mlflow_version)
    driver = uri.driver or default_driver(dialect, sqlalchemy)
    if driver not in DRIVERS:
        unknown.append(f"whether {server.service}'s image holds the driver {driver}")
        return
    if installs_driver(image, driver):
        record_facts(driver=driver, sqlalchemy=sqlalchemy)
        return
    packages, module = DRIVERS[driver]
    files = ", ".join(f.name for f in image.dependency_files) or image.dockerfile.name
    why = (
        f"the URI names the driver +{driver}"
        if uri.driver
        else f"SQLAlchemy {sqlalchemy} (what this build installs) maps a bare {dialect}:// to {driver}"
    )
    also = ""
    if dialect == "postgresql" and not uri.driver and driver == "psycopg" and installs_driver(image, "psycopg2"):
        also = (
            f"\n  The image has psycopg2, which SQLAlchemy used for postgresql:// before 2.1; MLflow 3.17 brings 2.1."
            f"\n  Or keep psycopg2 and name it: {uri.redacted_as(uri.scheme + '+psycopg2')}"
        )
    elif dialect in ("mysql", "mariadb") and not uri.driver and installs_driver(image, "pymysql"):
        also = f"\n  Or use the PyMySQL it has: {uri.redacted_as(dialect + '+pymysql')}"
    problems.append(
        f"{why}, and {server.service}'s image installs none of {', '.join(packages)} (read: {files}).\n"
        f"  The server exits at start: \"ModuleNotFoundError: No module named '{module.split('.')[0]}'\".\n"
        f"  Fix: add {packages[-1] if driver == 'psycopg2' else packages[0]}"
        f"{'[binary]' if driver == 'psycopg' else ''} to {files}{also}"
    )


def _data_directory(db: DatabaseService, problems: list[str], unknown: list[str]) -> None:
    name = db.service.name
    if db.kind is None:
        unknown.append(f"what {name} runs (an image the files do not show), so not where it keeps its data")
        return
    if db.data_dir is None:
        unknown.append(f"where {name} keeps its data (no PGDATA, no -D in its command)")
        return
    mount = db.data_mount()
    old_path = "/var/lib/postgresql/data"
    if (
        db.major is not None
        and db.major >= 18
        and "PGDATA" not in db.service.environment
        and any(m.target == old_path for m in db.service.mounts)
    ):
        problems.append(
            f"{name} runs {db.official}, whose data directory is {db.data_dir} (PostgreSQL 18 moved it), but the "
            f'stack mounts {old_path}: the image refuses to start ("Error: in 18+, these Docker images are '
            'configured to store database data in a format which is compatible with pg_ctlcluster").\n  '
            + fix_in(name, volumes("pgdata:/var/lib/postgresql"), how=f"mount /var/lib/postgresql, not {old_path}")
        )
        return
    fix = fix_in(name, volumes(f"{name}_data:{db.data_dir}"), how="a named volume (declare it under `volumes:`)")
    if mount is not None and mount.kind == "tmpfs":
        problems.append(
            f"{name} keeps its data directory {db.data_dir} on a tmpfs ({mount.target}): it is wiped at every stop, "
            f"and the registry with it.\n  {fix}"
        )
        return
    anonymous = db.anonymous_volume()
    if anonymous is not None:
        problems.append(
            f"{name} keeps its data directory {db.data_dir} in an anonymous volume (the image's VOLUME {anonymous}; "
            "nothing of the stack is mounted there).\n"
            "  It survives `restart` and `up --force-recreate`, but `docker compose down` leaves it behind unused: "
            "the next `up` starts an empty database, and the registry is gone.\n  " + fix
        )
        return
    if mount is None:
        problems.append(
            f"{name} keeps its data directory {db.data_dir} on no volume (its image declares none there): the "
            f"registry lives in the container's writable layer and is lost whenever {name} is recreated "
            "(a new image, a changed setting, `down`).\n  " + fix
        )


def _credentials(db: DatabaseService, uri: DatabaseUri, problems: list[str], unknown: list[str]) -> None:
    name = db.service.name
    created = official_credentials(db, uri.user)
    if created is None:
        return
    if db.init_scripts() is not None:
        unknown.append(f"which users and databases the init scripts of {name} create")
        return
    postgres = db.kind == "postgresql"
    prefix, database_variable = ("POSTGRES", "POSTGRES_DB") if postgres else ("MYSQL", "MYSQL_DATABASE")
    refusal = (
        '"password authentication failed", or "database ... does not exist"'
        if postgres
        else ('"Access denied for user", or "Unknown database"')
    )
    wrong = []
    if uri.user and created.user and uri.user != created.user:
        wrong.append(f"its user {uri.user} is not the one {name} creates ({prefix}_USER: {created.user})")
    if uri.database and created.database and uri.database != created.database:
        wrong.append(
            f"its database {uri.database} is not the one {name} creates ({database_variable}: {created.database})"
        )
    if (
        not created.trust
        and uri.password is not None
        and created.password is not None
        and uri.password != created.password
        and (not uri.user or uri.user == created.user)
    ):
        password_variable = f"{prefix}_PASSWORD" if uri.user != "root" else "MYSQL_ROOT_PASSWORD"
        wrong.append(f"its password differs from {name}'s {password_variable}")
    if wrong:
        problems.append(
            "the URI does not match the database service: "
            + "; ".join(wrong)
            + f".\n  The server exits at start ({refusal}).\n"
            "  Fix: use the same values in both (one .env variable for each), and remember that the image applies\n"
            f"  {prefix}_* only when its data directory is empty: for a database created earlier, change it with SQL."
        )


# --- live ------------------------------------------------------------------------------------------


def live_cases(model: StackModel) -> list[LiveCase]:
    server = model.server
    if server is None:
        return [not_applicable(NAME, "live", no_server(model))]
    uri = parse_database_uri(server.backend_store_uri.value)
    if uri is None:
        return [
            not_applicable(
                NAME,
                "live",
                f"the backend store is {server.backend_store_uri.shown}, not a database server",
                subject=server.service,
            )
        ]
    db_name = database_of(model.project, uri)
    services = (server.service, *([db_name] if db_name else []))
    cases = [Case(NAME, "live", server.service, _live_uses_database, services)]
    if db_name:
        cases.append(Case(NAME, "live", f"{db_name}-restart-recreate", _live_survives, services))
    return cases


def _live_uses_database(stack: LiveStack) -> None:
    """The running server uses the configured URI, and the database it names holds MLflow's tables."""
    server = stack.model.server
    assert server is not None
    facts = stale_server(stack)
    uri = parse_database_uri(server.backend_store_uri.value)
    assert uri is not None
    if facts.db_error:
        fail(f"{server.service} cannot open its backend {uri.redacted}: {facts.db_error}")
    missing = [t for t in MLFLOW_TABLES if t not in facts.tables]
    record_facts(tables=len(facts.tables), revision=facts.revision)
    if missing:
        fail(
            f"the database {uri.redacted} lacks MLflow's tables {', '.join(missing)} (it has: "
            f"{', '.join(facts.tables) or 'none'}): it is not the server's database, or its migrations did not run."
        )


def _lookup(stack: LiveStack, version: str, attempts: int = 5) -> tuple[int | None, str]:
    """The registry lookup, a few times: the server's pool may hold a connection the database restart closed."""
    found = stack.registry_lookup(version)
    for _ in range(attempts - 1):
        if found.status == 200:
            break
        time.sleep(1)
        found = stack.registry_lookup(version)
    return found.status, (found.body or found.error or "")[:200]


def _live_survives(stack: LiveStack) -> None:
    """The smoke model is still registered after the database restarts and is recreated, and after the server is."""
    model = stack.model
    server = model.server
    assert server is not None
    db_name = backend_database(model.project, server.backend_store_uri.value)
    assert db_name is not None
    if not stack.owned:
        pytest.skip(
            "restart and recreate are never done to a stack the plugin did not start "
            f"(--smartmaint-project {stack.project})"
        )
    if not stack.exclusive:
        pytest.skip(
            "the live items are not in one xdist worker, so recreating the database would break the checks other "
            "workers run now (use --dist loadgroup, where xdist applies it, or -n 1)"
        )
    try:
        smoke = stack.smoke_model()
    except SmartmaintError as exc:
        fail(f"the smoke model could not be registered, so persistence cannot be checked:\n{exc}")
    db = database_service(model.service(db_name), model.images.get(db_name))
    mount = db.data_mount()
    anonymous = db.anonymous_volume()
    where = (
        f"in an anonymous volume (the image's VOLUME {anonymous})"
        if anonymous
        else f"on {mount.label}"
        if mount is not None and mount.kind != "tmpfs"
        else "on no volume, in the container's writable layer"
    )
    steps = (
        (db_name, "restart", "a restart"),
        (db_name, "renew", "a recreate with fresh anonymous volumes (what `down` then `up` gives)"),
        (server.service, "restart", "a restart"),
        (server.service, "recreate", "a forced recreate"),
    )
    seconds: dict[str, float] = {}
    for service, step, described in steps:
        started = time.monotonic()
        failed = stack.cycle_service(service, step)
        seconds[f"{service} {step}"] = round(time.monotonic() - started, 1)
        if failed is not None:
            fail(f"{service} did not come back healthy after {described}:\n{failed[-1500:]}")
        status, body = _lookup(stack, smoke.version)
        if status != 200:
            fail(
                f"The registry lost {stack.smoke_name} version {smoke.version} after {described} of {service} "
                f"(lookup: HTTP {status} {body}).\n"
                f"{db_name} keeps its data directory {db.data_dir or '(unknown)'} {where}.\n"
                + fix_in(db_name, volumes(f"{db_name}_data:{db.data_dir or '/var/lib/postgresql/data'}"))
            )
    record_facts(survived=list(seconds), seconds=seconds)


CHECK = Check(NAME, static=static_cases, live=live_cases, destructive=True, explains_startup=True)
