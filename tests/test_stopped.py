"""The causes a stopped service's log names (pure logic on real log lines; the live path is in test_lifecycle)."""

from __future__ import annotations

from pytest_smartmaint.live.stopped import ContainerState, interpret

MODEL_MISSING = (
    "mlflow.exceptions.RestException: RESOURCE_DOES_NOT_EXIST: Registered Model with name=churn-model not found"
)
SQLALCHEMY = (
    "ImportError: cannot import name 'FallbackAsyncAdaptedQueuePool' from 'sqlalchemy.pool' "
    "(/opt/venv/lib/python3.11/site-packages/sqlalchemy/pool/__init__.py)"
)


def test_a_missing_registered_model_names_the_model_and_the_trainer_and_its_log() -> None:
    cause = interpret("api", f"Traceback ...\n{MODEL_MISSING}", "trainer", "Failed to load data\nexiting")
    assert cause is not None
    assert cause.startswith(
        "api loads the registered model 'churn-model' at startup, and the registry does not have it"
    )
    assert "trainer should have registered it; its last log lines:\n      Failed to load data\n      exiting" in cause


def test_an_mlflow_server_that_dies_at_import_of_sqlalchemy_21_gets_the_pin() -> None:
    cause = interpret("mlflow", SQLALCHEMY, None)
    assert cause is not None and "pin sqlalchemy<2.1 beside mlflow in mlflow's image, or take a newer MLflow" in cause


def test_an_unknown_log_has_no_cause() -> None:
    assert interpret("api", "Segmentation fault", None) is None


def test_a_job_that_finished_is_not_stopped_a_crash_is() -> None:
    assert not ContainerState("train", "p-train-1", "exited", 0).stopped
    assert ContainerState("api", "p-api-1", "exited", 3).stopped
    assert ContainerState("mlflow", "p-mlflow-1", "restarting", 1).stopped
    assert not ContainerState("api", "p-api-1", "running", 0).stopped


def test_a_missing_database_driver_is_named_as_the_backend_stores_with_its_fix() -> None:
    cause = interpret("mlflow", "ModuleNotFoundError: No module named 'psycopg'", None) or ""
    assert cause.startswith("psycopg is the database driver SQLAlchemy loads for mlflow's backend store URI")
    assert "SQLAlchemy 2.1, which MLflow 3.17 brings, loads psycopg for a bare postgresql://" in cause
    assert cause.endswith("Fix: add psycopg[binary] to mlflow's image")
    other = interpret("mlflow", "ModuleNotFoundError: No module named 'MySQLdb'", None) or ""
    assert other.startswith("MySQLdb is the database driver") and other.endswith(
        "Fix: add mysqlclient to mlflow's image"
    )


def test_a_database_that_refuses_the_server_is_named_by_its_reason() -> None:
    refused = 'psycopg.OperationalError: connection failed: FATAL:  password authentication failed for user "mlflow"'
    cause = interpret("mlflow", refused, None) or ""
    assert "the database refuses the password of user mlflow in the backend store URI" in cause
    schema = interpret("mlflow", "Detected out-of-date database schema (found version 1b5f0d9ad7c1, but expected", None)
    assert "run `mlflow db upgrade <backend store URI>`" in (schema or "")


def test_a_revision_the_servers_migrations_do_not_know_is_a_database_a_newer_mlflow_migrated() -> None:
    """The wording when the images cannot be asked (no engine here); with them, tests/test_live_schema.py."""
    log = "alembic.util.exc.CommandError: Can't locate revision identified by 'dc11669786a5'"
    cause = interpret("mlflow", log, None) or ""
    assert "the database is at schema revision dc11669786a5, which this image's MLflow does not know" in cause
    assert "a newer MLflow migrated it" in cause
