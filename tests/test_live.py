"""`pytest --smartmaint` against real containers: the reference stack and broken variants.

Each run is a real pytest subprocess in the repository, exactly as a user runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, VARIANTS

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("no_leftovers")]


def smartmaint(tmp_path: Path, *args: str, variant: str | None = None) -> tuple[subprocess.CompletedProcess[str], list[dict[str, str]]]:
    report = tmp_path / "report.json"
    files = ["--smartmaint-compose-file", "docker-compose.test.yml"]
    if variant:
        files += ["--smartmaint-compose-file", str(VARIANTS / variant)]
    command = [sys.executable, "-m", "pytest", "--smartmaint", "-m", "smartmaint", "-p", "no:cacheprovider",
               "-rA", f"--smartmaint-report={report}", *files, *args]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1800, check=False)
    records = json.loads(report.read_text()) if report.exists() else []
    return result, records


def outcomes(records: list[dict[str, str]], tier: str) -> dict[str, str]:
    return {f"{r['check']}[{r['subject']}]": r["outcome"] for r in records if r["tier"] == tier}


def test_reference_stack_passes(tmp_path: Path) -> None:
    result, records = smartmaint(tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]
    assert outcomes(records, "live") == {
        "mlflow-reachable[api]": "passed",
        "mlflow-reachable[notebook_runner]": "passed",
    }
    assert {o for o in outcomes(records, "static").values()} <= {"passed", "skipped"}


def test_server_without_allowed_hosts_fails_reachability_for_each_client(tmp_path: Path) -> None:
    result, records = smartmaint(tmp_path, "-k", "mlflow-reachable", variant="no-allowed-hosts.yml")
    assert result.returncode == 1, result.stdout[-4000:]
    live = {r["subject"]: r for r in records if r["tier"] == "live"}
    assert set(live) == {"api", "notebook_runner"}
    for client, record in live.items():
        assert record["outcome"] == "failed"
        message = record["message"]
        assert f"mlflow refuses {client}: GET http://mlflow:5000/api/2.0/mlflow/experiments/search" in message
        assert 'HTTP 403 "Invalid Host header - possible DNS rebinding attack detected" (while /health answers 200)' in message
        assert "command: mlflow server ... --allowed-hosts mlflow:5000,localhost:*,127.0.0.1:*" in message
    # the failing item shows the server's and the client's last log lines
    assert "logs of api, mlflow" in result.stdout


def test_stack_that_never_gets_healthy_is_reported_and_torn_down(tmp_path: Path) -> None:
    result, records = smartmaint(tmp_path, "-k", "live", "-o", "smartmaint_startup_timeout=30", variant="never-healthy.yml")
    assert result.returncode == 1, result.stdout[-4000:]
    assert {r["outcome"] for r in records} == {"error"}
    message = records[0]["message"]
    assert "the stack did not become healthy" in message
    assert "-api-1: status running" in message and "last healthcheck output: model cache not ready" in message
    assert "Traceback" not in result.stdout
