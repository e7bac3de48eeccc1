"""artifact-store, live and static: clients of an S3 artifact store that each miss one thing S3 needs
(tests/variants/s3-clients-broken.yml, on top of s3-artifacts.yml), in one bring-up; a fourth has sound keys
that the store allows nothing in the artifacts' bucket. Each fails artifact-store
with its cause, and model-load, pointing to artifact-store; every other item of the two checks passes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPO, VARIANTS, run_suite

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


def test_each_broken_s3_client_fails_artifact_store_with_its_cause_and_model_load_points_to_it(
    tmp_path: Path,
) -> None:
    result, records = run_suite(
        tmp_path,
        f"--smartmaint-compose-file={REPO / 'docker-compose.test.yml'}",
        f"--smartmaint-compose-file={VARIANTS / 's3-artifacts.yml'}",
        f"--smartmaint-compose-file={VARIANTS / 's3-clients-broken.yml'}",
        "-k",
        "artifact-store or model-load",
    )
    assert result.returncode == 1, result.stdout[-4000:]
    items = {f"{r['check']}[{r['tier']}-{r['subject']}]": r for r in records}
    failed = {name for name, r in items.items() if r["outcome"] == "failed"}
    loads = {f"model-load[live-{c}]" for c in MODEL_LOAD}
    assert failed == set(EXPECTED) | loads, {n: str(items[n]["message"])[:300] for n in failed}
    for name, fragments in EXPECTED.items():
        message = str(items[name]["message"])
        for fragment in fragments:
            assert fragment in message, (name, message)
    for name in loads:
        message = str(items[name]["message"])
        consumer = name.split("live-")[1].rstrip("]")
        assert "its artifacts are in the S3 store s3://mlflow/artifacts/" in message, message
        assert f"See artifact-store[live-{consumer}], which names the layer that broke" in message, message
    # the sound clients still pass both checks, through the same store
    for service in ("notebook_runner", "api"):
        assert items[f"artifact-store[live-{service}]"]["outcome"] == "passed"
        assert items[f"model-load[live-{service}]"]["outcome"] == "passed"
    assert items["artifact-store[static-api-wrong-secret]"]["outcome"] == "passed"  # files cannot tell a secret
    assert items["artifact-store[static-api-denied]"]["outcome"] == "passed"  # nor what a key is allowed
