"""artifact-store, live: an S3 store whose bucket nothing creates (tests/variants/s3-no-bucket.yml, on top of
s3-artifacts.yml). The files cannot tell (a bucket may be made by hand), so the static items pass; the live items
name the missing bucket and the job that makes it, and model-load points to them.

Its own module, so that `pytest tests -n 2 --dist loadfile` runs it beside the other live modules.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPO, VARIANTS, run_suite

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("no_leftovers")]

CLIENTS = ("notebook_runner", "api")


def test_a_bucket_nothing_creates_is_named_with_the_job_that_makes_it(tmp_path: Path) -> None:
    files = (REPO / "docker-compose.test.yml", VARIANTS / "s3-artifacts.yml", VARIANTS / "s3-no-bucket.yml")
    result, records = run_suite(
        tmp_path, *(f"--smartmaint-compose-file={f}" for f in files), "-k", "artifact-store or model-load"
    )
    assert result.returncode == 1, result.stdout[-4000:]
    items = {f"{r['check']}[{r['tier']}-{r['subject']}]": r for r in records}
    failed = {name for name, r in items.items() if r["outcome"] == "failed"}
    assert failed == {f"{check}[live-{c}]" for check in ("artifact-store", "model-load") for c in CLIENTS}, failed
    for client in CLIENTS:
        assert items[f"artifact-store[static-{client}]"]["outcome"] == "passed"  # the files cannot tell
        message = str(items[f"artifact-store[live-{client}]"]["message"])
        assert "the bucket mlflow does not exist at http://s3:9000: NoSuchBucket" in message, message
        assert "mc mb --ignore-existing <alias>/mlflow" in message and "service_completed_successfully" in message
        loading = str(items[f"model-load[live-{client}]"]["message"])
        assert "NoSuchBucket" in loading, loading  # the trainer could not log it; its own item names the layer
        assert "Cause: notebook_runner could not write the model's artifacts to the S3 artifact store" in loading
        assert "artifact-store[live-notebook_runner] names the layer that broke" in loading
