"""artifact-store, live: the server proxies an S3 store (tests/variants/s3-proxied.yml on top of s3-artifacts.yml)
and alone has its endpoint and keys; the whole suite passes, with artifact-store's items for the server alone.

MLflow 3.17.2 (3.15 to 3.17) clients still fetch the model's files from the store, through URLs the server presigns: the
consumers load the smoke model with no keys of their own. Its own module, so that `pytest tests -n 2 --dist
loadfile` runs it beside the other live modules.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPO, VARIANTS, run_suite

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("no_leftovers")]


def test_a_store_the_server_proxies_needs_the_keys_on_the_server_alone(tmp_path: Path) -> None:
    files = (REPO / "docker-compose.test.yml", VARIANTS / "s3-artifacts.yml", VARIANTS / "s3-proxied.yml")
    result, records = run_suite(tmp_path, *(f"--smartmaint-compose-file={f}" for f in files))
    assert result.returncode == 0, result.stdout[-4000:]
    assert {r["outcome"] for r in records} <= {"passed", "skipped"}
    items = {f"{r['check']}[{r['tier']}-{r['subject']}]": r for r in records}
    assert {name for name in items if name.startswith("artifact-store[")} == {
        "artifact-store[static-mlflow]",
        "artifact-store[live-mlflow]",
    }
    server = items["artifact-store[live-mlflow]"]
    assert server["outcome"] == "passed", server["message"]
    facts = server["facts"]
    assert facts["endpoint"] == "http://s3:9000" and facts["bucket"] == "mlflow", facts
    assert facts["keys"] >= 2 and str(facts["prefix"]).startswith("artifacts/"), facts  # MLmodel and the model
    for consumer in ("notebook_runner", "api"):  # no keys, no endpoint: the server presigns, the store serves
        assert items[f"model-load[live-{consumer}]"]["outcome"] == "passed"
    assert items["serving[live-api]"]["outcome"] == "passed"
    assert "smartmaint: artifact store: S3 s3://mlflow/artifacts at http://s3:9000, proxied by the server (mlflow)" in (
        result.stdout
    )
