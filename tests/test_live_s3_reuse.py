"""Reuse mode on an S3 stack: a user's running stack whose artifacts are in S3 (the reference stack with
tests/variants/s3-artifacts.yml, started outside the plugin, a model of the user's in its registry). Every
registered model's latest version loads in every consumer through the store, and artifact-store lists the smoke
model from each client, as on a stack the plugin starts.

Its own module, so that `pytest tests -n 2 --dist loadfile` runs it beside the other live modules.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO, VARIANTS, run_suite, user_stack_running

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("no_leftovers")]

FILES = (REPO / "docker-compose.test.yml", VARIANTS / "s3-artifacts.yml")
LONG_RUNNING = ("mlflow", "notebook_runner", "api")  # (s3-bucket is a job: `up --wait` would stop at its exit)


@pytest.fixture
def s3_user_stack(docker_engine: None) -> Iterator[str]:
    """The S3 stack as its user runs it, with the model ``fraud-detector`` registered from notebook_runner."""
    with user_stack_running(FILES, f"s3user-{os.getpid()}", LONG_RUNNING) as compose:
        yield compose[-1]


def test_every_registered_model_loads_through_the_store_in_every_consumer(s3_user_stack: str, tmp_path: Path) -> None:
    result, records = run_suite(
        tmp_path,
        *(f"--smartmaint-compose-file={f}" for f in FILES),
        f"--smartmaint-project={s3_user_stack}",
        "-k",
        "live",
    )
    assert result.returncode == 0, result.stdout[-4000:]
    items = {f"{r['check']}[{r['subject']}]": r for r in records}
    for consumer in ("notebook_runner", "api"):
        registry = items[f"model-load[{consumer}-registry]"]
        assert registry["outcome"] == "passed", registry["message"]
        assert registry["facts"]["loaded"] == ["models:/fraud-detector/1"], registry["facts"]
        store = items[f"artifact-store[{consumer}]"]
        assert store["outcome"] == "passed", store["message"]
        assert store["facts"]["bucket"] == "mlflow" and store["facts"]["keys"] >= 2, store["facts"]
