"""sqlite-backend, static: the settings that put more than one writer on one SQLite file are reported (warnings,
not failures: the live write burst measures what they do: tests/test_live.py, sqlite-mlflow-defaults.yml)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from packaging.version import Version

from pytest_smartmaint.checks.sqlite_backend import concurrency_concerns
from pytest_smartmaint.static.mlflow_server import resolve
from static_helpers import load, verdict

ARGV = ["mlflow", "server", "--backend-store-uri", "sqlite:////db/mlflow.db"]


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (ARGV, {}, ("4", "MLflow default")),
        ([*ARGV, "-w", "2"], {}, ("2", "--workers in compose command")),
        (ARGV, {"MLFLOW_WORKERS": "3"}, ("3", "MLFLOW_WORKERS in compose environment")),
    ],
)
def test_workers_come_from_the_flag_the_variable_or_mlflows_default(
    argv: list[str], env: dict[str, str], expected: tuple[str, str]
) -> None:
    workers = resolve("mlflow", argv, "compose command", env, {}, "/srv", Version("3.17.2")).workers
    assert (workers.value, workers.source) == expected


@pytest.mark.parametrize(
    ("version", "env", "expected"),
    [
        ("3.4.0", {}, None),  # no job runner yet
        ("3.8.0", {}, "false"),  # 3.5-3.8: off by default
        ("3.9.0", {}, "true"),  # on by default from 3.9
        ("3.17.2", {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}, "false"),
    ],
)
def test_job_execution_follows_the_variable_else_the_releases_default(
    version: str, env: dict[str, str], expected: str | None
) -> None:
    setting = resolve("mlflow", ARGV, "compose command", env, {}, "/srv", Version(version)).job_execution
    assert setting.value == expected


def test_mlflows_defaults_on_sqlite_are_two_warnings_and_still_a_pass(project_dir: Path) -> None:
    """The base project keeps MLflow 3.17.2's defaults: four workers, and the job runner on."""
    model = load(project_dir)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert verdict(model, "sqlite-backend", "mlflow") == "passed"
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2, messages
    assert messages[0].startswith("mlflow runs 4 worker processes (MLflow default) on one SQLite file")
    assert '"database is locked" (mlflow/mlflow#6490)' in messages[0]
    assert "sqlite-backend[live-mlflow-write-burst] measures it" in messages[0]
    assert messages[1].startswith("mlflow runs MLflow's job runner (the default of MLflow 3.17.2)")
    assert "mlflow/mlflow#22597" in messages[1]


def test_one_worker_and_no_job_runner_raise_no_concern(project_dir: Path) -> None:
    override = (
        "services:\n  mlflow:\n    command: >-\n      mlflow server --host 0.0.0.0 --port 5000 --workers 1\n"
        "      --backend-store-uri sqlite:////mlflow_db/mlflow.db --default-artifact-root /mlruns\n"
        "      --allowed-hosts mlflow:5000,localhost:*\n"
        "    environment:\n      MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false'\n"
    )
    assert concurrency_concerns(load(project_dir, override)) == []


def second_server(volume: str) -> str:
    return (
        "services:\n  mlflow-ui:\n    build: ./server\n    user: '1000:1000'\n    command: >-\n"
        "      mlflow server --host 0.0.0.0 --port 5001 --workers 1 --backend-store-uri sqlite:////db/mlflow.db\n"
        f"      --default-artifact-root /mlruns\n    volumes:\n      - {volume}:/db\n      - ./mlflow_data:/mlruns\n"
    )


def test_two_servers_on_one_sqlite_file_fail(project_dir: Path) -> None:
    """The same file under another mount point is still the same file: the mount's source decides."""
    message = verdict(load(project_dir, second_server("./mlflow_db")), "sqlite-backend", "mlflow")
    assert message.startswith(
        "mlflow and mlflow-ui both run `mlflow server` on one SQLite file (./mlflow_db, /mlflow_db/mlflow.db in "
        "mlflow, /db/mlflow.db in mlflow-ui)."
    ), message
    assert '"database is locked"' in message and "Fix: one server per SQLite file" in message


def test_a_second_server_on_a_file_of_its_own_passes(project_dir: Path) -> None:
    assert verdict(load(project_dir, second_server("./other_db")), "sqlite-backend", "mlflow") == "passed"
