"""database-backend, static tier: a PostgreSQL/MySQL registry the server can reach, open and keep.

Each test starts from the sound base project, moves its registry to a database service, and breaks one thing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from static_helpers import load, verdict

Write = Callable[[str, str], Path]
CHECK = "database-backend"


def on_postgres(
    uri: str = "postgresql://mlflow:secret@db:5432/mlflow",
    image: str = "postgres:16",
    db_extra: str = "    volumes:\n      - pgdata:/var/lib/postgresql/data\n",
) -> str:
    """An override: the server's registry in a `db` service of the official image."""
    return (
        "services:\n"
        "  mlflow:\n"
        "    command: >-\n"
        f"      mlflow server --host 0.0.0.0 --port 5000 --backend-store-uri {uri}\n"
        "      --default-artifact-root /mlruns --allowed-hosts mlflow:5000,localhost:*\n"
        "  db:\n"
        f"    image: {image}\n"
        "    environment:\n"
        "      POSTGRES_USER: mlflow\n"
        "      POSTGRES_PASSWORD: secret\n"
        "      POSTGRES_DB: mlflow\n"
        f"{db_extra}"
        "volumes:\n  pgdata:\n"
    )


@pytest.fixture
def with_psycopg(write: Write) -> None:
    write(
        "server/Dockerfile", "FROM python:3.12-slim\nRUN pip install mlflow==3.17.2 'psycopg[binary]'\nUSER 1000:1000\n"
    )


@pytest.mark.usefixtures("with_psycopg")
def test_a_postgres_registry_on_a_named_volume_with_the_driver_and_matching_credentials_passes(
    project_dir: Path,
) -> None:
    assert verdict(load(project_dir, on_postgres()), CHECK, "mlflow") == "passed"


def test_sqlite_is_left_to_sqlite_backend(project_dir: Path) -> None:
    message = verdict(load(project_dir), CHECK, "mlflow")
    assert message.startswith("skipped: the backend store is sqlite:////mlflow_db/mlflow.db")
    assert "sqlite-backend checks SQLite and the file store" in message


def test_only_psycopg2_under_sqlalchemy_2_1_names_the_module_and_both_fixes(project_dir: Path, write: Write) -> None:
    write("server/Dockerfile", "FROM python:3.12-slim\nRUN pip install mlflow==3.17.2 psycopg2-binary\n")
    message = verdict(load(project_dir, on_postgres()), CHECK, "mlflow")
    assert "SQLAlchemy 2.1.9 (what this build installs) maps a bare postgresql:// to psycopg" in message
    assert "\"ModuleNotFoundError: No module named 'psycopg'\"" in message
    assert "Fix: add psycopg[binary] to Dockerfile" in message
    assert "Or keep psycopg2 and name it: postgresql+psycopg2://mlflow:***@db:5432/mlflow" in message
    assert "secret" not in message  # the password is never shown


def test_psycopg2_is_the_driver_where_sqlalchemy_is_pinned_below_2_1(project_dir: Path, write: Write) -> None:
    write(
        "server/Dockerfile", "FROM python:3.12-slim\nRUN pip install mlflow==3.17.2 psycopg2-binary 'sqlalchemy<2.1'\n"
    )
    assert verdict(load(project_dir, on_postgres()), CHECK, "mlflow") == "passed"


def test_mlflow_db_extra_brings_the_drivers(project_dir: Path, write: Write) -> None:
    write("server/Dockerfile", "FROM python:3.12-slim\nRUN pip install 'mlflow[db]==3.17.2'\n")
    assert verdict(load(project_dir, on_postgres()), CHECK, "mlflow") == "passed"
    # but mlflow[db] has PyMySQL, not mysqlclient, which a bare mysql:// needs
    mysql = on_postgres(uri="mysql://root:secret@db:3306/mlflow", image="mysql:8.4").replace("postgresql/data", "mysql")
    message = verdict(load(project_dir, mysql), CHECK, "mlflow")
    assert "maps a bare mysql:// to mysqldb" in message and "No module named 'MySQLdb'" in message
    assert "Or use the PyMySQL it has: mysql+pymysql://root:***@db:3306/mlflow" in message


@pytest.mark.usefixtures("with_psycopg")
def test_a_data_directory_in_the_images_anonymous_volume_says_what_is_lost_and_when(project_dir: Path) -> None:
    message = verdict(load(project_dir, on_postgres(db_extra="")), CHECK, "mlflow")
    assert "db keeps its data directory /var/lib/postgresql/data in an anonymous volume" in message
    assert "It survives `restart` and `up --force-recreate`, but `docker compose down` leaves it behind" in message
    assert "Fix, in service db, a named volume" in message and "- db_data:/var/lib/postgresql/data" in message


@pytest.mark.usefixtures("with_psycopg")
def test_a_built_postgres_without_a_volume_loses_the_registry_at_every_recreate(
    project_dir: Path, write: Write
) -> None:
    write(
        "pg/Dockerfile",
        "FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y postgresql\n"
        'CMD ["postgres", "-D", "/var/lib/postgresql/data"]\n',
    )
    override = on_postgres(db_extra="").replace("    image: postgres:16\n", "    build: ./pg\n")
    message = verdict(load(project_dir, override), CHECK, "mlflow")
    assert (
        "db keeps its data directory /var/lib/postgresql/data on no volume (its image declares none there)" in message
    )
    assert "is lost whenever db is recreated" in message


@pytest.mark.usefixtures("with_psycopg")
def test_postgres_18_with_the_old_data_mount_refuses_to_start(project_dir: Path) -> None:
    message = verdict(load(project_dir, on_postgres(image="postgres:18")), CHECK, "mlflow")
    assert "db runs postgres:18, whose data directory is /var/lib/postgresql/18/docker" in message
    assert "the image refuses to start" in message and message.endswith("- pgdata:/var/lib/postgresql")
    fixed = on_postgres(image="postgres:18", db_extra="    volumes:\n      - pgdata:/var/lib/postgresql\n")
    assert verdict(load(project_dir, fixed), CHECK, "mlflow") == "passed"
    # PGDATA set to the old path is what the image's own message suggests: that works
    pinned = on_postgres(image="postgres:18").replace(
        "      POSTGRES_DB: mlflow\n", "      POSTGRES_DB: mlflow\n      PGDATA: /var/lib/postgresql/data\n"
    )
    assert verdict(load(project_dir, pinned), CHECK, "mlflow") == "passed"


@pytest.mark.usefixtures("with_psycopg")
def test_credentials_that_differ_from_the_db_service_fail_without_showing_them(project_dir: Path) -> None:
    message = verdict(load(project_dir, on_postgres(uri="postgresql://mlflow:other@db:5432/registry")), CHECK, "mlflow")
    assert "its database registry is not the one db creates (POSTGRES_DB: mlflow)" in message
    assert "its password differs from db's POSTGRES_PASSWORD" in message
    assert "other" not in message.replace("another", "") and "secret" not in message


@pytest.mark.usefixtures("with_psycopg")
def test_an_init_script_may_create_the_uris_database_so_that_is_a_skip(project_dir: Path) -> None:
    override = on_postgres(uri="postgresql://mlflow:secret@db:5432/registry").replace(
        "      - pgdata:/var/lib/postgresql/data\n",
        "      - pgdata:/var/lib/postgresql/data\n      - ./init:/docker-entrypoint-initdb.d:ro\n",
    )
    message = verdict(load(project_dir, override), CHECK, "mlflow")
    assert message.startswith("skipped: the files do not show which users and databases the init scripts of db create")
    assert "the live item database-backend[live-mlflow] checks it" in message


@pytest.mark.usefixtures("with_psycopg")
def test_an_external_database_is_a_skip_and_localhost_a_failure(project_dir: Path) -> None:
    external = verdict(
        load(project_dir, on_postgres(uri="postgresql://u:p@db.internal.example:5432/m")), CHECK, "mlflow"
    )
    assert external.startswith("skipped: the files do not show the database host db.internal.example is no service")
    local = verdict(
        load(project_dir, on_postgres(uri="postgresql://mlflow:secret@localhost:5432/mlflow")), CHECK, "mlflow"
    )
    assert "the URI's host is localhost: inside mlflow's container that is mlflow itself" in local


@pytest.mark.usefixtures("with_psycopg")
def test_the_postgres_alias_sqlalchemy_dropped_fails_with_the_spelling_that_works(project_dir: Path) -> None:
    message = verdict(load(project_dir, on_postgres(uri="postgres://mlflow:secret@db:5432/mlflow")), CHECK, "mlflow")
    assert "Can't load plugin: sqlalchemy.dialects:postgres" in message
    assert "Fix: write it postgresql://mlflow:***@db:5432/mlflow" in message


def test_a_prebuilt_server_image_is_a_skip_naming_what_the_files_do_not_show(project_dir: Path) -> None:
    prebuilt = "services:\n  mlflow:\n    build: !reset null\n    image: ghcr.io/mlflow/mlflow:v3.17.2\n"
    message = verdict(load(project_dir, on_postgres(), prebuilt), CHECK, "mlflow")
    assert message.startswith("skipped: the files do not show which database driver mlflow's image holds")


def test_mysql_credentials_are_read_from_its_own_variables(project_dir: Path, write: Write) -> None:
    write("server/Dockerfile", "FROM python:3.12-slim\nRUN pip install mlflow==3.17.2 pymysql\n")
    mysql = (
        "services:\n  mlflow:\n    command: >-\n      mlflow server --host 0.0.0.0 --port 5000 --backend-store-uri "
        "mysql+pymysql://app:secret@db:3306/registry\n  db:\n    image: mariadb:11\n    environment:\n"
        "      MARIADB_USER: mlflow\n      MARIADB_PASSWORD: secret\n      MARIADB_DATABASE: mlflow\n"
        "    volumes:\n      - dbdata:/var/lib/mysql\nvolumes:\n  dbdata:\n"
    )
    message = verdict(load(project_dir, mysql), CHECK, "mlflow")
    assert "its user app is not the one db creates (MYSQL_USER: mlflow)" in message
    assert "its database registry is not the one db creates (MYSQL_DATABASE: mlflow)" in message
    assert '"Access denied for user", or "Unknown database"' in message
