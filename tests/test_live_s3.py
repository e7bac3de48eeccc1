"""artifact-store, live and static: the reference stack on an S3 artifact store (tests/variants/s3-artifacts.yml,
the S3 API of tests/stacks/s3), with clients that each miss one thing S3 needs (tests/variants/s3-clients-broken.yml),
in one bring-up of the whole suite.

- The sound clients (notebook_runner, api) pass every item: the smoke model's artifacts are read from the bucket by
  both, it loads in both through S3, and the api serves it.
- Each broken client fails artifact-store with its cause, and model-load, pointing to artifact-store; a fourth has
  sound keys that the store allows nothing in the artifacts' bucket.
- Nothing else fails: the broken clients' failures are independent of the sound clients' items.
"""

from __future__ import annotations

import pytest

from conftest import REPO, RUN_OUTPUTS, VARIANTS, assert_runs_left_nothing, run_suite

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("no_leftovers")]

# failing item -> fragments its message must contain
EXPECTED = {
    "artifact-store[static-api-no-endpoint]": [
        "api-no-endpoint cannot use the artifact store: the artifact root is s3://mlflow/artifacts",
        "it has no MLFLOW_S3_ENDPOINT_URL, while the stack names http://s3:9000 elsewhere",
        "Fix, in service api-no-endpoint:\n    environment:\n      MLFLOW_S3_ENDPOINT_URL: http://s3:9000",
    ],
    "artifact-store[live-api-no-endpoint]": [
        "api-no-endpoint cannot reach the artifact store s3://mlflow/artifacts",
        "its boto3 would take the store's keys to AWS (nothing was sent)",
        "MLFLOW_S3_ENDPOINT_URL: http://s3:9000",
    ],
    "artifact-store[live-api-wrong-secret]": [
        "the store at http://s3:9000 rejects its credentials (access key smartmaint-key): SignatureDoesNotMatch",
        "The key exists, but the secret is not its secret.",
    ],
    "artifact-store[static-api-no-boto3]": [
        "its Dockerfile Dockerfile uninstalls boto3 (pip uninstall)",
        "Fix: keep boto3 in the image",
    ],
    "artifact-store[live-api-no-boto3]": [
        "boto3 does not import in its container (ModuleNotFoundError: No module named 'boto3')",
    ],
    "artifact-store[live-api-denied]": [
        "the store denies it",
        "AccessDenied",
        "Fix: allow its access key s3:GetObject, s3:PutObject and s3:ListBucket on mlflow",
    ],
}
MODEL_LOAD = ("api-no-endpoint", "api-wrong-secret", "api-no-boto3", "api-denied")
LOADS = {f"model-load[live-{consumer}]" for consumer in MODEL_LOAD}


@pytest.fixture(scope="module")
def s3_run(tmp_path_factory: pytest.TempPathFactory, docker_engine: None) -> tuple[str, dict[str, dict]]:
    """The whole suite on the S3 stack with its broken clients: its output and its records by item."""
    start = len(RUN_OUTPUTS)
    result, records = run_suite(
        tmp_path_factory.mktemp("s3"),
        f"--smartmaint-compose-file={REPO / 'docker-compose.test.yml'}",
        f"--smartmaint-compose-file={VARIANTS / 's3-artifacts.yml'}",
        f"--smartmaint-compose-file={VARIANTS / 's3-clients-broken.yml'}",
    )
    assert_runs_left_nothing(start)
    assert result.returncode == 1, result.stdout[-4000:]
    return result.stdout, {f"{r['check']}[{r['tier']}-{r['subject']}]": r for r in records}


def test_the_sound_clients_of_an_s3_store_pass_every_item(s3_run: tuple[str, dict[str, dict]]) -> None:
    stdout, items = s3_run
    others = {name: r for name, r in items.items() if name not in EXPECTED and name not in LOADS}
    assert {r["outcome"] for r in others.values()} <= {"passed", "skipped"}, {
        n: str(r["message"])[:300] for n, r in others.items() if r["outcome"] not in ("passed", "skipped")
    }
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
    assert f"{header} (notebook_runner, api, " in stdout, stdout[:3000]


def test_each_broken_s3_client_fails_artifact_store_with_its_cause_and_model_load_points_to_it(
    s3_run: tuple[str, dict[str, dict]],
) -> None:
    _, items = s3_run
    failed = {name for name, r in items.items() if r["outcome"] == "failed"}
    assert failed == set(EXPECTED) | LOADS, {n: str(items[n]["message"])[:300] for n in failed}
    for name, fragments in EXPECTED.items():
        message = str(items[name]["message"])
        for fragment in fragments:
            assert fragment in message, (name, message)
    for name in LOADS:
        message = str(items[name]["message"])
        consumer = name.split("live-")[1].rstrip("]")
        assert "its artifacts are in the S3 store s3://mlflow/artifacts/" in message, message
        assert f"See artifact-store[live-{consumer}], which names the layer that broke" in message, message
    assert items["artifact-store[static-api-wrong-secret]"]["outcome"] == "passed"  # files cannot tell a secret
    assert items["artifact-store[static-api-denied]"]["outcome"] == "passed"  # nor what a key is allowed
