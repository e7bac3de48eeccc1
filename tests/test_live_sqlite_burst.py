"""sqlite-backend's write burst, live, on MLflow's own concurrency defaults (tests/variants/sqlite-mlflow-defaults.yml).

The reference stack (one worker, no job runner) runs the same burst in test_live.py's reference run. Its own
module, so that `pytest tests -n 2 --dist loadfile` runs it beside the other live modules.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import VARIANTS, run_suite

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("no_leftovers")]


def test_four_workers_and_the_job_runner_are_reported_and_the_burst_measures_them(tmp_path: Path) -> None:
    files = ("docker-compose.test.yml", str(VARIANTS / "sqlite-mlflow-defaults.yml"))
    result, records = run_suite(tmp_path, *(f"--smartmaint-compose-file={f}" for f in files), "-k", "sqlite-backend")
    items = {f"{r['check']}[{r['tier']}-{r['subject']}]": r for r in records}
    assert result.returncode == 0, result.stdout[-4000:]
    assert items["sqlite-backend[static-mlflow]"]["outcome"] == "passed"
    warnings = result.stdout.split("warnings summary")[1].split("short test summary")[0]
    assert "SmartmaintWarning: mlflow runs 4 worker processes (MLflow default) on one SQLite file" in warnings
    assert (
        "SmartmaintWarning: mlflow runs MLflow's job runner (MLFLOW_SERVER_ENABLE_JOB_EXECUTION in compose environment)"
        in warnings
    )
    burst = items["sqlite-backend[live-mlflow-write-burst]"]
    assert burst["outcome"] == "passed", burst["message"]
    facts = burst["facts"]
    assert (facts["writers"], facts["runs"], facts["requests"]) == (8, 160, 481)  # 3 writes a run, 1 experiment
    assert facts["errors"] == 0 and facts["errors_by_kind"] == {}
    assert facts["writes_per_s"] > 0 and facts["seconds"] > 0
    assert (facts["workers"], facts["job_execution"]) == ("4", "true")
    assert items["sqlite-backend[live-mlflow-restart-recreate]"]["outcome"] == "passed"
