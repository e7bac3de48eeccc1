"""artifact-store, live: the reference stack on an S3 artifact store (tests/variants/s3-artifacts.yml, the S3 API
of tests/stacks/s3) passes the whole suite, and the smoke model's artifacts are read from the bucket by every
service that reaches it.

Its own module, so that `pytest tests -n 2 --dist loadfile` runs it beside the other live modules. The broken
clients are in tests/test_live_s3_clients.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPO, VARIANTS, run_suite

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("no_leftovers")]


def test_an_s3_artifact_store_passes_the_whole_suite(tmp_path: Path) -> None:
    result, records = run_suite(
        tmp_path,
        f"--smartmaint-compose-file={REPO / 'docker-compose.test.yml'}",
        f"--smartmaint-compose-file={VARIANTS / 's3-artifacts.yml'}",
    )
    assert result.returncode == 0, result.stdout[-4000:]
    items = {f"{r['check']}[{r['tier']}-{r['subject']}]": r for r in records}
    assert {r["outcome"] for r in records} <= {"passed", "skipped"}
    for service in ("notebook_runner", "api"):
        assert items[f"artifact-store[static-{service}]"]["outcome"] == "passed"
        live = items[f"artifact-store[live-{service}]"]
        assert live["outcome"] == "passed", live["message"]
        facts = live["facts"]
        assert facts["endpoint"] == "http://s3:9000" and facts["bucket"] == "mlflow", facts
        assert facts["keys"] >= 2 and str(facts["prefix"]).startswith("artifacts/"), facts  # MLmodel and the model
        assert items[f"model-load[live-{service}]"]["outcome"] == "passed"  # loaded through S3
    assert items["serving[live-api]"]["outcome"] == "passed"  # the api's own endpoint, through S3
    header = "smartmaint: artifact store: S3 s3://mlflow/artifacts at http://s3:9000, direct from each client"
    assert f"{header} (notebook_runner, api)" in result.stdout
