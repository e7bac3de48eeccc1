"""An engine on another machine (DOCKER_HOST, a docker context): what the run changes for it, read without one.

Where the engine is comes from the docker CLI's own resolution; a bind names a path of the engine's machine,
so the run's MLflow data goes into the engine's volumes; its ports are published where this machine reaches
them, and the header says so before anything runs. The live proof, on a second real engine, is the user's own
tests through the fixtures in tests/test_fixtures.py.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_smartmaint.live.engine_endpoint import EngineEndpoint, engine_endpoint


@pytest.fixture
def fresh_endpoint() -> Iterator[None]:
    engine_endpoint.cache_clear()
    yield
    engine_endpoint.cache_clear()


@pytest.mark.parametrize(
    ("address", "remote", "host"),
    [
        ("unix:///var/run/docker.sock", False, "127.0.0.1"),
        ("tcp://build-box.internal:2376", True, "build-box.internal"),
        ("ssh://ci@10.0.4.7", True, "10.0.4.7"),
        ("tcp://127.0.0.1:2375", True, "127.0.0.1"),  # a socket forwarded to another machine: no shared files
    ],
)
def test_docker_host_decides_where_binds_and_ports_are(
    monkeypatch: pytest.MonkeyPatch, fresh_endpoint: None, address: str, remote: bool, host: str
) -> None:
    monkeypatch.setenv("DOCKER_HOST", address)
    assert engine_endpoint() == EngineEndpoint(address, "DOCKER_HOST")
    assert (engine_endpoint().remote, engine_endpoint().host) == (remote, host)


def test_a_docker_context_is_read_as_the_cli_resolves_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_endpoint: None
) -> None:
    """A real context, made by `docker context create` in a configuration of the test's own."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    subprocess.run(
        ["docker", "context", "create", "gpu-box", "--docker", "host=tcp://gpu-box.lan:2376"],
        check=True,
        capture_output=True,
        timeout=30,
    )
    monkeypatch.setenv("DOCKER_CONTEXT", "gpu-box")
    assert engine_endpoint() == EngineEndpoint("tcp://gpu-box.lan:2376", "docker context gpu-box")
    assert engine_endpoint().host == "gpu-box.lan"
    engine_endpoint.cache_clear()
    monkeypatch.delenv("DOCKER_CONTEXT")  # the default context: this machine's socket
    assert not engine_endpoint().remote and engine_endpoint().source == "docker context default"


BIND_SHAPED = """services:
  mlflow:
    volumes: !override
      - ./mlflow_db:/mlflow_db
      - ./mlflow_data:/mlruns
      - ./server.toml:/etc/mlflow/server.toml:ro
    ports: ["5000:5000"]
  api:
    volumes: !override
      - ./mlflow_data:/mlruns
      - ./src:/app/src
"""


def test_on_a_remote_engine_the_runs_data_is_in_its_volumes_and_ports_on_every_interface(stack: Path) -> None:
    from pytest_smartmaint.live.isolation import isolate, unisolated_binds
    from pytest_smartmaint.settings import Settings
    from pytest_smartmaint.static.compose import load_project
    from pytest_smartmaint.static.stack_model import build_model

    (stack / "override.yml").write_text(BIND_SHAPED)
    (stack / "server.toml").write_text("")
    files = (stack / "docker-compose.test.yml", stack / "override.yml")
    settings = Settings(
        compose_files=files, compose_files_source="test", static_only=False, project=None, keep=False, report=None
    )
    model = build_model(settings)
    local, remote = isolate(model, "smartmaint-0123456789"), isolate(model, "smartmaint-0123456789", remote=True)
    try:
        merged = load_project([*files, remote.override])
        mounts = {(m.kind, m.source, m.target) for m in merged.service("mlflow").mounts}
        data = {m.target: m.source for m in merged.service("mlflow").mounts if m.kind == "volume"}
        assert set(data) == {"/mlflow_db", "/mlruns"} and data["/mlruns"].startswith("smartmaint-data-mlflow_data-")
        declared = subprocess.run(
            [
                "docker",
                "compose",
                *(a for f in [*files, remote.override] for a in ("-f", str(f))),
                "config",
                "--volumes",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()
        assert set(data.values()) <= set(declared)  # volumes of the run's project: `down --volumes` removes them
        assert mounts == {
            ("volume", data["/mlflow_db"], "/mlflow_db"),
            ("volume", data["/mlruns"], "/mlruns"),
            ("bind", f"{stack}/server.toml", "/etc/mlflow/server.toml"),  # not the registry's data: kept
        }, mounts
        # the api shares the server's store: the same volume, so what the server writes it reads
        api_store = next(m for m in merged.service("api").mounts if m.target == "/mlruns")
        assert api_store.kind == "volume" and (api_store.kind, api_store.source, "/mlruns") in mounts
        assert [(p.host_ip, p.target) for p in merged.service("mlflow").ports] == [(None, 5000)]  # every interface
        assert not any(p.is_dir() for p in remote.run_dir.iterdir())  # nothing prepared on this machine for it
        assert unisolated_binds(model) == [
            f"api: {stack}/src -> /app/src",
            f"mlflow: {stack}/server.toml -> /etc/mlflow/server.toml",
        ]
        # an engine on this machine: copies in the run's directory, ports on 127.0.0.1, as before
        merged = load_project([*files, local.override])
        assert {m.kind for m in merged.service("mlflow").mounts} == {"bind"}
        assert [(p.host_ip, p.target) for p in merged.service("mlflow").ports] == [("127.0.0.1", 5000)]
    finally:
        local.remove()
        remote.remove()


def test_the_header_says_what_a_remote_engine_changes_before_anything_runs(
    pytester: pytest.Pytester, stack: Path
) -> None:
    """Collection only, against an engine that does not answer: the header needs no engine to say it."""
    (stack / "override.yml").write_text(BIND_SHAPED)
    env = {**os.environ, "DOCKER_HOST": "tcp://127.0.0.1:9"}  # the discard port: refused at once
    result = subprocess.run(
        ["pytest", "--smartmaint", "--smartmaint-only", "--co", "-p", "no:cacheprovider"]
        + ["--smartmaint-compose-file", "docker-compose.test.yml", "--smartmaint-compose-file", "override.yml"],
        cwd=stack,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    header = [line for line in result.stdout.splitlines() if line.startswith("smartmaint: ")]
    assert "smartmaint: engine: not reachable" in header, result.stdout[-3000:]
    assert (
        "smartmaint: engine is remote at tcp://127.0.0.1:9 (DOCKER_HOST): published ports are reached at 127.0.0.1; "
        "the run's own stack keeps its MLflow data in volumes of that engine and publishes its ports on every "
        "interface of 127.0.0.1, for the run only"
    ) in header, header
    assert (
        "smartmaint: binds kept as written, paths of the engine's machine that the plugin cannot copy or clear "
        f"there: api: {stack}/src -> /app/src; mlflow: {stack}/server.toml -> /etc/mlflow/server.toml"
    ) in header, header
