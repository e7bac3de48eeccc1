"""`pytest --smartmaint` against real stacks shaped unlike the reference stack (tests/stacks): prebuilt images,
a server that proxies the artifacts, a public project's shape, images on a base the stack does not build.

Its own module, so that `pytest tests -n 2 --dist loadfile` runs it beside test_live.py's variants.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import STACKS, Records, run_suite

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("no_leftovers")]


def stack_suite(tmp_path: Path, name: str) -> tuple[subprocess.CompletedProcess[str], Records]:
    """The whole suite on tests/stacks/NAME; the ini's test service and serving endpoint are the reference
    stack's, so they are unset."""
    compose = STACKS / name / "docker-compose.yml"
    settings = ("-o", "smartmaint_test_services=", "-o", "smartmaint_serving_request=")
    return run_suite(tmp_path, "--smartmaint-compose-file", str(compose), *settings)


def test_an_image_only_stack_takes_roles_from_its_containers(tmp_path: Path) -> None:
    """Prebuilt images only, other names, a server configured by MLFLOW_* variables, URIs from env_file."""
    result, records = stack_suite(tmp_path, "image-only")
    assert result.returncode == 0, result.stdout[-4000:]
    assert "trainer=- (from the running containers: first client with mlflow and scikit-learn" in result.stdout
    live = {f"{r['check']}[{r['subject']}]": r for r in records if r["tier"] == "live"}
    expected = dict.fromkeys(
        [
            "volume-paths[artifacts]",
            "volume-paths[registry]",
            "uid-mapping[artifacts]",
            "mlflow-reachable[inference]",
            "mlflow-reachable[jobs]",
            "audio-deps[inference]",
            "audio-deps[jobs]",
            "model-load[inference]",
            "model-load[jobs]",
            "sqlite-backend[tracking]",
            "sqlite-backend[tracking-restart-recreate]",
            "engine-resources[engine]",
            "depends-reachable[inference->tracking]",
            "depends-reachable[jobs->tracking]",
        ],
        "passed",
    )
    expected |= dict.fromkeys(
        [
            "audio-deps[tracking]",
            "model-load[inference-registry]",
            "model-load[jobs-registry]",
            "stale-image[inference]",
            "stale-image[jobs]",
            "stale-image[tracking]",
            "test-deps[n/a]",
        ],
        "skipped",
    )
    assert {n: live[n]["outcome"] for n in expected} == expected  # (the run passed: nothing else failed)
    assert "its container has no librosa: not an audio service" in live["audio-deps[tracking]"]["message"]
    static = {f"{r['check']}[{r['subject']}]": r for r in records if r["tier"] == "static"}
    assert static["uid-mapping[artifacts]"]["outcome"] == "skipped"  # the files cannot tell; the live item did
    assert "registered from" not in result.stdout


def test_a_proxied_artifact_stack_needs_no_client_mounts(tmp_path: Path) -> None:
    result, records = stack_suite(tmp_path, "proxied")
    assert result.returncode == 0, result.stdout[-4000:]
    outcomes = {f"{r['tier']}:{r['check']}[{r['subject']}]": r["outcome"] for r in records}
    assert outcomes["static:volume-paths[artifact-root]"] == "skipped"
    assert {
        n
        for n, o in outcomes.items()
        if o == "skipped"
        and n.split(":")[1].partition("[")[0]
        in {"volume-paths", "lock-consistency", "model-load", "stale-image", "test-deps"}
    } == {
        "static:volume-paths[artifact-root]",
        "static:lock-consistency[n/a]",
        "live:model-load[serve-registry]",
        "live:model-load[train-registry]",
        "live:stale-image[registry]",
        "live:stale-image[serve]",
        "live:stale-image[train]",
        "static:test-deps[n/a]",
        "live:test-deps[n/a]",
    }
    assert {o for o in outcomes.values()} == {"passed", "skipped"}
    assert outcomes["live:model-load[serve]"] == "passed"  # loaded through the server: no mount at all


def test_a_public_shaped_stack_names_the_stopped_api_first_on_old_mlflow(tmp_path: Path) -> None:
    """MLflow 3.3 server with its defaults, a 2.x client, a job that exits 0 without registering, an API that
    loads its model at startup and exits (tests/stacks/public-shaped): verdicts written before the first run."""
    result, records = stack_suite(tmp_path, "public-shaped")
    assert result.returncode == 1, result.stdout[-4000:]
    out = result.stdout
    # 7: the first finding is the api's exit and its cause, with what the job that should register it logged
    assert out.split("short test summary info")[0].count("api is not running: its container ") == 1, out[-4000:]
    assert "exited with code 3 after the stack came up" in out
    assert "Cause: api loads the registered model 'churn-model' at startup, and the registry does not have it" in out
    assert "train should have registered it; its last log lines:\n      Failed to load data: " in out
    live = {f"{r['check']}[{r['subject']}]": r for r in records if r["tier"] == "live"}
    api_items = {n: r for n, r in live.items() if r["subject"] == "api" or r["subject"].startswith(("api-", "api->"))}
    assert api_items and all(
        r["outcome"] == "failed" and r["message"].startswith("api is not running") for r in api_items.values()
    ), {n: r["message"][:200] for n, r in api_items.items()}
    # 8: the smoke model registers from the 2.x client on the 3.3 server and loads in the job's container
    assert live["model-load[train]"]["outcome"] == "passed", live["model-load[train]"]["message"][:1500]
    assert live["mlflow-reachable[train]"]["outcome"] == "passed"
    # 9: the store the server really uses (MLflow 3.3's default file store, on no mount) is judged, both tiers
    static = {f"{r['check']}[{r['subject']}]": r for r in records if r["tier"] == "static"}
    assert static["sqlite-backend[mlflow]"]["outcome"] == "failed"
    assert "is the file store /app/mlruns in mlflow, on no mount" in static["sqlite-backend[mlflow]"]["message"]
    recreate = live["sqlite-backend[mlflow-restart-recreate]"]
    assert recreate["outcome"] == "failed", recreate["message"][:1500]
    assert "after a forced recreate of mlflow" in recreate["message"]
    assert "the file store is /app/mlruns, on no mount" in recreate["message"]
    # nothing else fails: no item blames mounts, users or interpreters
    failed = {n for n, r in live.items() if r["outcome"] == "failed"}
    assert failed == set(api_items) | {"sqlite-backend[mlflow-restart-recreate]"}, failed


def test_images_on_a_base_the_stack_does_not_build_take_roles_from_their_containers(tmp_path: Path) -> None:
    """trainer and api build FROM a company ML base and add one ENV: the files show no mlflow, no librosa.
    The static tier skips what the base decides; the live tier finds the trainer and the audio services."""
    result, records = stack_suite(tmp_path, "company-base")
    assert result.returncode == 0, result.stdout[-4000:]
    assert "trainer=- (from the running containers: first client with mlflow and scikit-learn" in result.stdout
    live = {f"{r['check']}[{r['subject']}]": r["outcome"] for r in records if r["tier"] == "live"}
    assert live["model-load[trainer]"] == live["model-load[api]"] == "passed", live
    assert live["audio-deps[trainer]"] == live["audio-deps[api]"] == "passed", live
    static = {f"{r['check']}[{r['subject']}]": r for r in records if r["tier"] == "static"}
    assert static["audio-deps[n/a]"]["outcome"] == "skipped"
    assert (
        "the files do not show all that the images of api, mlflow, trainer hold" in static["audio-deps[n/a]"]["message"]
    )
