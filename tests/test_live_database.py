"""database-backend, live: the registry in the stack's own postgres (tests/variants/postgres-*.yml).

Its own module, so that `pytest tests -n 2 --dist loadfile` runs it beside test_live.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import VARIANTS, Records, run_suite

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("no_leftovers")]


def suite(out: Path, variant: str, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Records]]:
    files = ("docker-compose.test.yml", str(VARIANTS / variant))
    result, records = run_suite(out, *(f"--smartmaint-compose-file={f}" for f in files), *args)
    by_name: dict[str, Records] = {}
    for record in records:
        by_name.setdefault(f"{record['check']}[{record['tier']}-{record['subject']}]", []).append(record)
    return result, by_name


def test_a_postgres_backend_on_a_named_volume_passes_every_check(tmp_path: Path) -> None:
    result, items = suite(tmp_path, "postgres-backend.yml")
    assert result.returncode == 0, result.stdout[-4000:]
    assert items["database-backend[static-mlflow]"][0]["outcome"] == "passed"
    assert items["database-backend[static-mlflow]"][0]["facts"]["driver"] == "psycopg"
    uses = items["database-backend[live-mlflow]"][0]
    assert uses["outcome"] == "passed" and uses["facts"]["tables"] > 20 and uses["facts"]["revision"]
    survives = items["database-backend[live-postgres-restart-recreate]"][0]
    assert survives["outcome"] == "passed", survives["message"]
    assert survives["facts"]["survived"] == ["postgres restart", "postgres renew", "mlflow restart", "mlflow recreate"]
    assert items["sqlite-backend[static-mlflow]"][0]["outcome"] == "skipped"  # not SQLite: not its business
    assert {r["outcome"] for rs in items.values() for r in rs} <= {"passed", "skipped"}


def test_a_postgres_data_directory_on_no_volume_loses_the_registry_when_recreated(tmp_path: Path) -> None:
    result, items = suite(tmp_path, "postgres-unmounted.yml", "-k", "database-backend")
    assert result.returncode == 1, result.stdout[-4000:]
    static = items["database-backend[static-mlflow]"][0]
    assert static["outcome"] == "failed"
    assert "postgres keeps its data directory /var/lib/postgresql/data on no volume" in static["message"]
    assert items["database-backend[live-mlflow]"][0]["outcome"] == "passed"  # the server does use it
    lost = items["database-backend[live-postgres-restart-recreate]"][0]
    assert lost["outcome"] == "failed"
    assert "after a recreate with fresh anonymous volumes (what `down` then `up` gives) of postgres" in lost["message"]
    assert "postgres keeps its data directory /var/lib/postgresql/data on no volume" in lost["message"]
    assert "Fix, in service postgres:\n    volumes:\n      - postgres_data:/var/lib/postgresql/data" in lost["message"]


def test_a_server_image_without_the_driver_is_the_cause_of_the_failed_bring_up(tmp_path: Path) -> None:
    result, items = suite(tmp_path, "postgres-without-driver.yml", "-k", "database-backend")
    assert result.returncode == 1, result.stdout[-4000:]
    static = items["database-backend[static-mlflow]"][0]
    assert "SQLAlchemy 2.1.9 (what this build installs) maps a bare postgresql:// to psycopg" in static["message"]
    live = [r for name, rs in items.items() if "[live-" in name for r in rs]
    assert live and {r["outcome"] for r in live} == {"error"}
    first = live[0]["message"]
    assert "psycopg is the database driver SQLAlchemy loads for mlflow's backend store URI" in first
    assert "Fix: add psycopg[binary] to mlflow's image" in first
    assert "Traceback" not in result.stdout


def test_a_password_the_database_does_not_have_is_the_cause_of_the_failed_bring_up(tmp_path: Path) -> None:
    """The server keeps retrying (it never exits): the cause is read from the log of a container still running."""
    result, items = suite(tmp_path, "postgres-wrong-password.yml", "-k", "database-backend")
    assert result.returncode == 1, result.stdout[-4000:]
    assert items["database-backend[static-mlflow]"][0]["outcome"] == "passed"  # its image is not the official one
    first = items["database-backend[live-mlflow]"][0]
    assert first["outcome"] == "error"
    assert (
        "Cause: mlflow cannot open its backend store: the database refuses the password of user postgres in the "
        "backend store URI."
    ) in first["message"]
    assert "make the two agree (or change it with SQL)" in first["message"]
    assert "Cause: mlflow cannot open its backend store" in result.stdout  # in the terminal, as in the report
    assert "not-the-password" not in result.stdout and "the-password" not in first["message"]
