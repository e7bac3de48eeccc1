"""The test stacks' S3 API (tests/stacks/s3/s3server.py), run on the host: it speaks S3 as MLflow uses it, and it
checks credentials as MinIO does. The live tests rely on both: a stack's artifacts go through it, and a wrong
secret must be refused there, not accepted by a mock that checks nothing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import STACKS

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")

KEY, SECRET = "smartmaint-key", "smartmaint-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "S3_ACCESS_KEY": KEY, "S3_SECRET_KEY": SECRET, "S3_PORT": str(port)}
    server = subprocess.Popen(
        [sys.executable, str(STACKS / "s3" / "s3server.py")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr and server.stderr.read()
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def client(endpoint: str, key: str = KEY, secret: str = SECRET) -> object:
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret, region_name="us-east-1"
    )


@pytest.fixture
def mlflow_s3(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """MLflow's S3 settings in this process, as a client of the store has them: its endpoint, the store's keys."""
    settings = {
        "MLFLOW_S3_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return endpoint


def test_mlflow_logs_and_downloads_artifacts_through_it_multipart_included(mlflow_s3: str, tmp_path: Path) -> None:
    from mlflow.store.artifact.s3_artifact_repo import S3ArtifactRepository

    client(mlflow_s3).create_bucket(Bucket="mlflow")  # type: ignore[attr-defined]
    big = tmp_path / "model.bin"
    big.write_bytes(os.urandom(9 * 1024 * 1024))  # over boto3's 8 MB threshold: a multipart upload
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    repo = S3ArtifactRepository("s3://mlflow/artifacts/1/run")
    repo.log_artifact(str(big))
    repo.log_artifact(str(tmp_path / "MLmodel"), "model")
    assert sorted(f.path for f in repo.list_artifacts()) == ["model", "model.bin"]
    (tmp_path / "back").mkdir()
    back = Path(repo.download_artifacts("model.bin", str(tmp_path / "back")))
    assert back.read_bytes() == big.read_bytes()


def test_it_serves_mlflows_presigned_urls_and_refuses_altered_or_expired_ones(mlflow_s3: str, tmp_path: Path) -> None:
    """MLflow 3.15-3.17 servers, proxying an S3 store, hand their clients presigned URLs (their /server-info advertises
    multipart downloads), which the clients fetch from the store themselves, in Range chunks: as MinIO does,
    the store serves them to a client that has no keys, and refuses one whose signature does not hold."""
    import requests
    from mlflow.store.artifact.s3_artifact_repo import S3ArtifactRepository

    client(mlflow_s3).create_bucket(Bucket="presigned")  # type: ignore[attr-defined]
    (tmp_path / "MLmodel").write_text("flavors: {}\n" * 10)
    repo = S3ArtifactRepository("s3://presigned/artifacts/1/models/m-1 a+b")  # a key that needs quoting
    repo.log_artifact(str(tmp_path / "MLmodel"))
    url = repo.get_download_presigned_url("MLmodel").url
    assert "X-Amz-Signature=" in url
    chunk = requests.get(url, headers={"Range": "bytes=0-12"}, timeout=10)  # as MLflow's chunked download asks
    assert chunk.status_code == 206 and chunk.content == b"flavors: {}\nf", chunk.text
    altered = requests.get(url.replace("MLmodel?", "MLmodel2?"), timeout=10)
    assert altered.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in altered.text
    expired = repo.get_download_presigned_url("MLmodel", expiration=-1).url
    assert "<Code>AccessDenied</Code>" in requests.get(expired, timeout=10).text


@pytest.mark.parametrize(
    ("key", "secret", "code"),
    [(KEY, "not-the-secret", "SignatureDoesNotMatch"), ("nobody", SECRET, "InvalidAccessKeyId")],
    ids=["wrong-secret", "unknown-key"],
)
def test_it_refuses_keys_the_store_was_not_set_up_with(endpoint: str, key: str, secret: str, code: str) -> None:
    from botocore.exceptions import ClientError

    client(endpoint).create_bucket(Bucket="guarded")  # type: ignore[attr-defined]
    with pytest.raises(ClientError) as refused:
        client(endpoint, key, secret).list_objects_v2(Bucket="guarded")  # type: ignore[attr-defined]
    assert refused.value.response["Error"]["Code"] == code


def test_a_bucket_no_job_made_is_no_such_bucket(endpoint: str) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as missing:
        client(endpoint).list_objects_v2(Bucket="never-made")  # type: ignore[attr-defined]
    assert missing.value.response["Error"]["Code"] == "NoSuchBucket"


def s3_probe(arg: dict[str, object], **env: str) -> dict[str, object]:
    """The artifact-store probe, run on the host as in a container: with only ``env``'s S3 settings."""
    import json

    from pytest_smartmaint.live.probes import source

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_S3"))}
    done = subprocess.run(
        [sys.executable, "-c", source("s3_access"), json.dumps(arg)],
        env={**clean, "AWS_DEFAULT_REGION": "us-east-1", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(done.stdout))


@pytest.mark.parametrize(
    ("env", "bucket", "layer"),
    [
        ({"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET}, "probed", "ok"),
        ({"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": "not-it"}, "probed", "credentials-rejected"),
        ({"AWS_ACCESS_KEY_ID": "nobody", "AWS_SECRET_ACCESS_KEY": SECRET}, "probed", "credentials-rejected"),
        ({"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET}, "never-made", "bucket-missing"),
        (
            {
                "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "AWS_CONFIG_FILE": "/dev/null",
            },
            "probed",
            "credentials-missing",
        ),
    ],
    ids=["ok", "wrong-secret", "unknown-key", "no-bucket", "no-credentials"],
)
def test_the_probe_names_the_layer_that_broke(endpoint: str, env: dict[str, str], bucket: str, layer: str) -> None:
    client(endpoint).create_bucket(Bucket="probed")  # type: ignore[attr-defined]
    client(endpoint).put_object(Bucket="probed", Key="artifacts/m/MLmodel", Body=b"x")  # type: ignore[attr-defined]
    found = s3_probe({"bucket": bucket, "prefix": "artifacts/"}, MLFLOW_S3_ENDPOINT_URL=endpoint, **env)
    assert found["layer"] == layer, found
    if layer == "ok":
        assert found["keys"] == ["artifacts/m/MLmodel"]


def test_the_probe_tells_unresolvable_from_refused_and_sends_nothing_without_an_endpoint() -> None:
    keys = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET}
    arg = {"bucket": "b", "prefix": ""}
    assert s3_probe(arg, MLFLOW_S3_ENDPOINT_URL="http://no-such-host.invalid:9000", **keys)["layer"] == "unresolvable"
    assert s3_probe(arg, MLFLOW_S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}", **keys)["layer"] == "refused"
    # the stack names an endpoint elsewhere: without its own, the probe does not let boto3 go to AWS
    unset = s3_probe({**arg, "expected": "http://s3:9000"}, **keys)
    assert unset["layer"] == "endpoint-unset", unset
    assert "boto3 would send the request to AWS" in str(unset["detail"])
