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
