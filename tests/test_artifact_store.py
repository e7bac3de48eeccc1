"""artifact-store, static: the services that read or write an S3 store have boto3, its endpoint and credentials.

Shaped like public MinIO stacks (mlflow/mlflow's docker-compose, sachua/mlflow-docker-compose, Toumash/mlflow-docker):
the server's --default-artifact-root s3://mlflow/, MLFLOW_S3_ENDPOINT_URL=http://minio:9000 and AWS_* keys on
the clients, a minio service and an mc job that makes the bucket. Each expected verdict was written before the run.
The live half is in tests/test_live_s3.py.
"""

from __future__ import annotations

from pathlib import Path

from static_helpers import load, verdict

MINIO = """
  minio:
    image: minio/minio:RELEASE.2025-04-22T22-12-26Z
    command: server /data
    environment:
      MINIO_ROOT_USER: mlflow-key
      MINIO_ROOT_PASSWORD: mlflow-secret
"""
KEYS = "      AWS_ACCESS_KEY_ID: mlflow-key\n      AWS_SECRET_ACCESS_KEY: mlflow-secret\n"


def s3_stack(
    project_dir: Path, trainer_env: str = "", api_env: str = "", api_extra: str = "", boto3: bool = True
) -> str:
    """The base project on MinIO: every client has boto3, the endpoint and the keys unless told otherwise."""
    (project_dir / "ml" / "requirements.txt").write_text(
        "mlflow==3.17.2\nscikit-learn\nlibrosa\nresampy\nsoundfile\n" + ("boto3\n" if boto3 else ""), encoding="utf-8"
    )
    endpoint = "      MLFLOW_S3_ENDPOINT_URL: http://minio:9000\n"
    return (
        "services:\n  mlflow:\n    command: >-\n      mlflow server --host 0.0.0.0 --port 5000\n"
        "      --backend-store-uri sqlite:////mlflow_db/mlflow.db\n"
        "      --default-artifact-root s3://mlflow/\n      --allowed-hosts mlflow:5000,localhost:*\n"
        f"    environment:\n{endpoint}{KEYS}"
        f"  trainer:\n    environment:\n{trainer_env or endpoint + KEYS}"
        f"  api:\n{api_extra}    environment:\n{api_env or endpoint + KEYS}" + MINIO
    )


def test_a_local_store_is_not_this_checks(project_dir: Path) -> None:
    assert verdict(load(project_dir), "artifact-store", "n/a").startswith(
        "skipped: the artifacts are not in an S3 store (/mlruns): volume-paths checks a local store"
    )


def test_clients_with_boto3_the_endpoint_and_the_keys_pass(project_dir: Path) -> None:
    model = load(project_dir, s3_stack(project_dir))
    assert verdict(model, "artifact-store", "trainer") == "passed"
    assert verdict(model, "artifact-store", "api") == "passed"


def test_a_client_without_the_endpoint_fails_naming_aws_and_the_fix(project_dir: Path) -> None:
    message = verdict(load(project_dir, s3_stack(project_dir, api_env=KEYS)), "artifact-store", "api")
    assert message.startswith(
        "api cannot use the artifact store: the artifact root is s3://mlflow/ (--default-artifact-root in compose "
        "command): clients read and write it themselves.\n- it has no MLFLOW_S3_ENDPOINT_URL, while the stack names "
        "http://minio:9000 elsewhere: its boto3 goes to AWS's S3"
    ), message
    assert "Fix, in service api:\n    environment:\n      MLFLOW_S3_ENDPOINT_URL: http://minio:9000" in message


def test_a_client_on_localhost_fails_with_the_service_name(project_dir: Path) -> None:
    api = "      MLFLOW_S3_ENDPOINT_URL: http://localhost:9000\n" + KEYS
    message = verdict(load(project_dir, s3_stack(project_dir, api_env=api)), "artifact-store", "api")
    assert "its MLFLOW_S3_ENDPOINT_URL is http://localhost:9000: inside its container, localhost is the container " in (
        message
    )
    assert "MLFLOW_S3_ENDPOINT_URL: http://minio:9000" in message


def test_a_client_without_credentials_fails_on_minio_and_skips_on_aws(project_dir: Path) -> None:
    endpoint_only = "      MLFLOW_S3_ENDPOINT_URL: http://minio:9000\n"
    message = verdict(load(project_dir, s3_stack(project_dir, api_env=endpoint_only)), "artifact-store", "api")
    assert "- it has no credentials for the store" in message and "NoCredentialsError" in message
    # on AWS itself (no endpoint anywhere), an instance role may give the credentials: the files cannot tell
    aws = s3_stack(project_dir, trainer_env="      HOME: /tmp\n", api_env="      HOME: /tmp\n").replace(
        "      MLFLOW_S3_ENDPOINT_URL: http://minio:9000\n", ""
    )
    assert verdict(load(project_dir, aws), "artifact-store", "api").startswith(
        "skipped: the files cannot tell whether api reaches s3://mlflow/: its credentials"
    )


def test_a_mounted_credentials_file_counts(project_dir: Path) -> None:
    api = "      MLFLOW_S3_ENDPOINT_URL: http://minio:9000\n      HOME: /home/app\n"
    mount = "    volumes:\n      - ./aws:/home/app/.aws:ro\n"
    assert verdict(load(project_dir, s3_stack(project_dir, api_env=api, api_extra=mount)), "artifact-store", "api") == (
        "passed"
    )


def test_an_image_without_boto3_fails_naming_its_dependency_file(project_dir: Path) -> None:
    message = verdict(load(project_dir, s3_stack(project_dir, boto3=False)), "artifact-store", "trainer")
    assert "- its image installs no boto3 (read: requirements.txt)" in message, message
    assert "Fix: add boto3 to requirements.txt" in message


def test_a_proxied_store_asks_only_the_server(project_dir: Path) -> None:
    (project_dir / "server" / "Dockerfile").write_text(
        "FROM python:3.12-slim\nRUN pip install mlflow==3.17.2 boto3\nUSER 1000:1000\nWORKDIR /srv\n", encoding="utf-8"
    )
    proxied = (
        "services:\n  mlflow:\n    command: >-\n      mlflow server --host 0.0.0.0 --port 5000 --serve-artifacts\n"
        "      --backend-store-uri sqlite:////mlflow_db/mlflow.db\n      --artifacts-destination s3://mlflow/artifacts\n"
        "      --allowed-hosts mlflow:5000,localhost:*\n"
        f"    environment:\n      MLFLOW_S3_ENDPOINT_URL: http://minio:9000\n{KEYS}" + MINIO
    )
    model = load(project_dir, proxied)
    from pytest_smartmaint.checks import REGISTRY

    subjects = [c.subject for c in REGISTRY.static_cases(model, only=["artifact-store"])]
    assert subjects == ["mlflow"]
    assert verdict(model, "artifact-store", "mlflow") == "passed"


def test_keys_passed_through_from_the_shell_are_unknown_not_missing(project_dir: Path) -> None:
    api = "      MLFLOW_S3_ENDPOINT_URL: http://minio:9000\n      AWS_ACCESS_KEY_ID:\n      AWS_SECRET_ACCESS_KEY:\n"
    message = verdict(load(project_dir, s3_stack(project_dir, api_env=api)), "artifact-store", "api")
    assert message.startswith("skipped: the files cannot tell whether api reaches s3://mlflow/: its credentials"), (
        message
    )


def test_boto3s_own_endpoint_variable_counts(project_dir: Path) -> None:
    api = "      AWS_ENDPOINT_URL_S3: http://minio:9000\n" + KEYS
    assert verdict(load(project_dir, s3_stack(project_dir, api_env=api)), "artifact-store", "api") == "passed"


def test_localhost_is_the_store_in_its_network_namespace(project_dir: Path) -> None:
    api = "      MLFLOW_S3_ENDPOINT_URL: http://localhost:9000\n" + KEYS
    shared = s3_stack(project_dir, api_env=api, api_extra="    network_mode: service:minio\n")
    assert not verdict(load(project_dir, shared), "artifact-store", "api").startswith("api cannot use")


def test_mlflow_extras_bring_boto3(project_dir: Path) -> None:
    text = s3_stack(project_dir, boto3=False)
    (project_dir / "ml" / "requirements.txt").write_text("mlflow[extras]==3.17.2\nscikit-learn\n", encoding="utf-8")
    assert verdict(load(project_dir, text), "artifact-store", "trainer") == "passed"


def test_the_fix_names_the_endpoint_the_network_resolves_not_a_loopback_one(project_dir: Path) -> None:
    trainer = "      MLFLOW_S3_ENDPOINT_URL: http://localhost:9000\n" + KEYS
    message = verdict(
        load(project_dir, s3_stack(project_dir, trainer_env=trainer, api_env=KEYS)), "artifact-store", "api"
    )
    assert "MLFLOW_S3_ENDPOINT_URL: http://minio:9000" in message, message  # the server's, not the trainer's


def test_an_endpoint_with_a_port_that_is_no_number_does_not_crash(project_dir: Path) -> None:
    api = "      MLFLOW_S3_ENDPOINT_URL: http://minio:90OO\n" + KEYS
    assert verdict(load(project_dir, s3_stack(project_dir, api_env=api)), "artifact-store", "api")
