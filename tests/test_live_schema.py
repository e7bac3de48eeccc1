"""backend-schema and mlflow-versions, live: registry databases and clients of other MLflow releases than the server's.

The older releases are MLflow 3.3.1 (the server image of tests/stacks/public-shaped) and MLflow 2.22.5
(tests/variants/older-mlflow); the newer one is the reference server's, MLflow 3.17.2. No revision is written here: each
is read from the migrations in the images, by the plugin's own probe. Its own module, so that
`pytest tests -n 2 --dist loadfile` runs it beside the other live modules.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import VARIANTS, Records, run_suite
from pytest_smartmaint.live.facts import MigrationHistory
from pytest_smartmaint.live.probes import source

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("no_leftovers")]

CHECKS = ("-k", "backend-schema or mlflow-versions")


def suite(out: Path, variant: str) -> tuple[subprocess.CompletedProcess[str], dict[str, dict[str, Any]]]:
    files = ("docker-compose.test.yml", str(VARIANTS / variant))
    result, records = run_suite(out, *(f"--smartmaint-compose-file={f}" for f in files), *CHECKS)
    return result, by_item(records)


def by_item(records: Records) -> dict[str, dict[str, Any]]:
    return {f"{r['check']}[{r['tier']}-{r['subject']}]": r for r in records}


def migrations(image: str) -> MigrationHistory:
    """The migrations of the MLflow in ``image``, as the plugin reads them (its probe, in a removed container)."""
    done = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "python3", image, "-c", source("schema_history")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return MigrationHistory.parse(json.loads(done.stdout))


def test_a_database_migrated_by_a_newer_mlflow_is_named_as_the_cause_of_the_failed_bring_up(tmp_path: Path) -> None:
    result, items = suite(tmp_path, "schema-newer-than-server.yml")
    assert result.returncode == 1, result.stdout[-4000:]
    newer = migrations("smartmaint-reference/mlflow:3.17.2")
    older = migrations("smartmaint-variant/mlflow:3.3.1")  # the variant built it
    assert newer.mlflow == "3.17.2" and older.mlflow == "3.3.1" and older.behind(str(newer.head)) is None
    first = items["backend-schema[live-mlflow]"]
    assert first["outcome"] == "error"
    message = str(first["message"])
    assert (
        f"Cause: the database sqlite:////mlflow_db/mlflow.db is at schema revision {newer.head} (the head of MLflow "
        "3.17.2, in the image of " in message
    )
    assert "db-migrate" in message.split("Cause:")[1].split("\n")[0]
    assert f"which mlflow's MLflow 3.3.1 does not know (its migrations end at {older.head})" in message
    assert "a newer MLflow migrated it, and MLflow has no downgrade" in message
    assert "Fix: run mlflow on MLflow 3.17.2 or newer (pin it in its image), or restore the backup" in message
    assert f"Can't locate revision identified by '{newer.head}'" in message  # the log line it explains
    assert message.splitlines()[1] in result.stdout  # the terminal shows it as the report does
    others = [r for name, r in items.items() if name != "backend-schema[live-mlflow]"]
    assert others and all("the diagnosis is reported once" in str(r["message"]) for r in others)
    assert "Traceback (most recent call last)" not in result.stdout.split("What the containers show")[0]


def test_a_database_behind_the_servers_migrations_gets_the_upgrade_command(tmp_path: Path) -> None:
    result, items = suite(tmp_path, "schema-older-than-server.yml")
    assert result.returncode == 1, result.stdout[-4000:]
    server = migrations("smartmaint-reference/mlflow:3.17.2")
    message = str(items["backend-schema[live-mlflow]"]["message"])
    assert (
        f"Cause: the database sqlite:////mlflow_db/mlflow.db is at schema revision {server.revisions[1]}, "
        f"1 migration behind mlflow's MLflow 3.17.2 (head {server.head}): MLflow refuses to open it "
        '("Detected out-of-date database schema").'
    ) in message
    assert (
        "Fix: back the database up, then migrate it with the server's own image:\n"
        "    docker compose run --rm mlflow mlflow db upgrade sqlite:////mlflow_db/mlflow.db"
    ) in message


def test_clients_of_older_releases_and_a_database_an_older_mlflow_created(tmp_path: Path) -> None:
    result, items = suite(tmp_path, "older-mlflow.yml")
    assert result.returncode == 0, result.stdout[-4000:]
    server = migrations("smartmaint-reference/mlflow:3.17.2")
    created = migrations("smartmaint-variant/mlflow:3.3.1")
    assert server.behind(str(created.head)), "3.3.1's head is an older revision of 3.17.2's migrations"
    schema = items["backend-schema[live-mlflow]"]
    assert schema["outcome"] == "passed", schema["message"]  # MLflow 3.17.2 upgraded the 3.3.1 database at start
    assert schema["facts"] == {
        "revision": server.head,
        "head": server.head,
        "mlflow": "3.17.2",
        "migrations": len(server.revisions),
    }
    major = items["mlflow-versions[live-mlflow2-client]"]
    assert major["outcome"] == "passed" and major["facts"] == {
        "client": "2.22.5",
        "client_distribution": "mlflow",
        "server": "3.17.2",
    }
    warned = (
        "SmartmaintWarning: mlflow2-client has mlflow 2.22.5, and mlflow runs MLflow 3.17.2: an older major release."
    )
    assert warned in result.stdout and "what MLflow 3 clients log MLflow 2 cannot read" in result.stdout
    older = items["mlflow-versions[live-legacy-client]"]
    assert older["outcome"] == "passed" and older["facts"] == {
        "client": "3.3.1",
        "client_distribution": "mlflow",
        "server": "3.17.2",
    }
    assert "SmartmaintWarning: legacy-client has mlflow 3.3.1, older than mlflow's MLflow 3.17.2" in result.stdout
    for same in ("api", "notebook_runner"):
        item = items[f"mlflow-versions[live-{same}]"]
        assert item["outcome"] == "passed" and item["facts"] == {**older["facts"], "client": "3.17.2"}
        assert f"SmartmaintWarning: {same} has" not in result.stdout


def test_clients_of_a_newer_major_release_than_the_server_fail_and_explain_the_failed_registration(
    tmp_path: Path,
) -> None:
    files = ("docker-compose.test.yml", str(VARIANTS / "mlflow2-server.yml"))
    result, records = run_suite(
        tmp_path, *(f"--smartmaint-compose-file={f}" for f in files), "-k", "live and (mlflow-versions or model-load)"
    )
    items = by_item(records)
    assert result.returncode == 1, result.stdout[-4000:]
    for client in ("api", "notebook_runner"):
        item = items[f"mlflow-versions[live-{client}]"]
        assert item["outcome"] == "failed"
        assert str(item["message"]) == (
            f"{client} has mlflow 3.17.2, and mlflow runs MLflow 2.22.5: a newer major release. An MLflow 3 client "
            "is meant for an MLflow 3 server (mlflow/mlflow#16215): it logs models through APIs 2.x lacks.\n"
            f"  Fix: move mlflow to MLflow 3.17.2, or pin mlflow==2.22.5 in {client}'s image"
        )
        load = items[f"model-load[live-{client}]"]
        assert load["outcome"] == "failed"  # what the mismatch does: MLflow 3.17.2 cannot log a model there
        cause = "Cause: the trainer's MLflow 3 logs models through the logged-models API, which the server's MLflow 2 "
        assert cause + "lacks (HTTP 404); mlflow-versions names both releases." in str(load["message"])
        assert "/api/2.0/mlflow/logged-models failed with error code 404" in str(load["message"])
