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
from pytest_smartmaint.static.stack_model import StackModel


@pytest.fixture
def fresh_endpoint() -> Iterator[None]:
    engine_endpoint.cache_clear()
    yield
    engine_endpoint.cache_clear()


@pytest.mark.parametrize(
    ("address", "remote", "host", "publish_on"),
    [
        ("unix:///var/run/docker.sock", False, "127.0.0.1", "127.0.0.1"),
        ("tcp://build-box.internal:2376", True, "build-box.internal", ""),  # every interface of that machine
        ("build-box.internal:2375", True, "build-box.internal", ""),  # no scheme: the docker CLI reads it as tcp
        ("ssh://ci@10.0.4.7", True, "10.0.4.7", "10.0.4.7"),  # an address: its interface only
        ("tcp://[fd00::2]:2376", True, "[fd00::2]", ""),
        # through this machine's loopback (a forwarded socket, Docker Desktop's tcp://localhost): no shared files,
        # and its ports are reached here only where they listen on loopback
        ("tcp://127.0.0.1:2375", True, "127.0.0.1", "127.0.0.1"),
        ("tcp://localhost:2375", True, "127.0.0.1", "127.0.0.1"),
    ],
)
def test_docker_host_decides_where_binds_and_ports_are(
    monkeypatch: pytest.MonkeyPatch, fresh_endpoint: None, address: str, remote: bool, host: str, publish_on: str
) -> None:
    monkeypatch.setenv("DOCKER_HOST", address)
    engine = engine_endpoint()
    assert engine == EngineEndpoint(address, "DOCKER_HOST")
    assert (engine.remote, engine.host, engine.publish_on) == (remote, host, publish_on)
    assert engine.env_prefix() == f"DOCKER_HOST={address} "  # what the keep and teardown messages print


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
    assert engine_endpoint() == EngineEndpoint("tcp://gpu-box.lan:2376", "docker context gpu-box", "gpu-box")
    assert engine_endpoint().host == "gpu-box.lan" and engine_endpoint().env_prefix() == "DOCKER_CONTEXT=gpu-box "
    engine_endpoint.cache_clear()
    monkeypatch.delenv("DOCKER_CONTEXT")  # the default context: this machine's socket
    assert not engine_endpoint().remote and engine_endpoint().source == "docker context default"
    assert engine_endpoint().env_prefix() == ""


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


def model_of(stack: Path, override: str) -> tuple[StackModel, tuple[Path, ...]]:
    from pytest_smartmaint.settings import Settings
    from pytest_smartmaint.static.stack_model import build_model

    (stack / "override.yml").write_text(override)
    files = (stack / "docker-compose.test.yml", stack / "override.yml")
    settings = Settings(
        compose_files=files, compose_files_source="test", static_only=False, project=None, keep=False, report=None
    )
    return build_model(settings), files


def test_on_a_remote_engine_the_runs_data_is_in_its_volumes_and_ports_where_this_machine_reaches_them(
    stack: Path,
) -> None:
    from pytest_smartmaint.live.isolation import isolate, unisolated_binds, unredirectable_data_binds
    from pytest_smartmaint.static.compose import load_project

    (stack / "server.toml").write_text("")
    model, files = model_of(stack, BIND_SHAPED)
    by_name = EngineEndpoint("tcp://build-box.internal:2376", "DOCKER_HOST")
    by_address = EngineEndpoint("ssh://ci@10.0.4.7", "docker context lab", "lab")
    local, remote = isolate(model, "smartmaint-0123456789"), isolate(model, "smartmaint-0123456789", by_name)
    at_address = isolate(model, "smartmaint-0123456789", by_address)
    try:
        merged = load_project([*files, remote.override])
        mounts = {(m.kind, m.source, m.target) for m in merged.service("mlflow").mounts}
        data = {m.target: m.source for m in merged.service("mlflow").mounts if m.kind == "volume"}
        assert set(data) == {"/mlflow_db", "/mlruns"} and data["/mlruns"].startswith("smartmaint-data-mlflow_data-")
        compose = ["docker", "compose", *(a for f in [*files, remote.override] for a in ("-f", str(f)))]
        declared = subprocess.run(
            [*compose, "config", "--volumes"], capture_output=True, text=True, timeout=60, check=True
        ).stdout.split()
        assert set(data.values()) <= set(declared)  # volumes of the run's project: `down --volumes` removes them
        assert mounts == {
            ("volume", data["/mlflow_db"], "/mlflow_db"),
            ("volume", data["/mlruns"], "/mlruns"),
            ("bind", f"{stack}/server.toml", "/etc/mlflow/server.toml"),  # a single file: kept as written
        }, mounts
        # the api shares the server's store: the same volume, so what the server writes it reads
        api_store = next(m for m in merged.service("api").mounts if m.target == "/mlruns")
        assert api_store.kind == "volume" and (api_store.kind, api_store.source, "/mlruns") in mounts
        assert [(p.host_ip, p.target) for p in merged.service("mlflow").ports] == [(None, 5000)]  # every interface
        merged = load_project([*files, at_address.override])  # an engine named by its address: that interface
        assert [(p.host_ip, p.target) for p in merged.service("mlflow").ports] == [("10.0.4.7", 5000)]
        assert not any(p.is_dir() for p in remote.run_dir.iterdir())  # nothing prepared on this machine for it
        assert unisolated_binds(model) == [
            f"api: {stack}/src -> /app/src",
            f"mlflow: {stack}/server.toml -> /etc/mlflow/server.toml",
        ]
        assert unredirectable_data_binds(model) == []
        # an engine on this machine: copies in the run's directory, ports on 127.0.0.1, as before
        merged = load_project([*files, local.override])
        assert {m.kind for m in merged.service("mlflow").mounts} == {"bind"}
        assert [(p.host_ip, p.target) for p in merged.service("mlflow").ports] == [("127.0.0.1", 5000)]
    finally:
        for isolation in (local, remote, at_address):
            isolation.remove()


def run_against_an_engine_that_does_not_answer(stack: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`pytest --smartmaint` on the stack and its override.yml, with DOCKER_HOST on the discard port of this
    machine's loopback: a remote engine (no shared files) that refuses every connection at once."""
    files = ("--smartmaint-compose-file", "docker-compose.test.yml", "--smartmaint-compose-file", "override.yml")
    return subprocess.run(
        ["pytest", "--smartmaint", "--smartmaint-only", "-p", "no:cacheprovider", *files, *args],
        cwd=stack,
        env={**os.environ, "DOCKER_HOST": "tcp://127.0.0.1:9"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


SQLITE_FILE_BOUND = """services:
  mlflow:
    volumes: !override
      - ./mlflow.db:/mlflow_db/mlflow.db
      - ./mlflow_data:/mlruns
"""


def test_a_bind_of_the_servers_sqlite_file_stops_a_run_on_a_remote_engine_before_anything_starts(
    stack: Path,
) -> None:
    """A volume is a directory: the registry's own file would be opened as written, on the engine's machine.
    The engine here does not answer (nothing listens on the discard port): the refusal needs none."""
    (stack / "override.yml").write_text(SQLITE_FILE_BOUND)
    result = run_against_an_engine_that_does_not_answer(stack, "-k", "engine-resources")
    assert result.returncode == 1, result.stdout[-3000:]
    assert (
        "nothing was started: the engine is remote at tcp://127.0.0.1:9 (DOCKER_HOST), and the server's SQLite file "
        "is a bind of its own, which the run cannot redirect into a volume of that engine:\n"
        f"    mlflow: {stack}/mlflow.db -> /mlflow_db/mlflow.db\n"
        "Kept as written, it would open that path of the engine's machine"
    ) in result.stdout, result.stdout[-3000:]
    assert "no Docker engine is reachable" not in result.stdout  # the files' verdict comes first


def test_the_header_says_what_a_remote_engine_changes_before_anything_runs(stack: Path) -> None:
    """Collection only, against an engine that does not answer: the header needs no engine to say it."""
    (stack / "override.yml").write_text(BIND_SHAPED)
    (stack / "server.toml").write_text("")  # a file here: bound as written there (a volume is a directory)
    result = run_against_an_engine_that_does_not_answer(stack, "--co")
    header = [line for line in result.stdout.splitlines() if line.startswith("smartmaint: ")]
    assert "smartmaint: engine: not reachable" in header, result.stdout[-3000:]
    assert (
        "smartmaint: engine is remote at tcp://127.0.0.1:9 (DOCKER_HOST): published ports are reached at 127.0.0.1; "
        "the run's own stack keeps its MLflow data in volumes of that engine (each starts with what the image has "
        "at its path, owner included) and publishes its ports on 127.0.0.1 of that machine, for the run only"
    ) in header, header
    assert (
        "smartmaint: binds kept as written, paths of the engine's machine that the plugin cannot copy or clear "
        "there (one that does not exist there is created as an empty directory): "
        f"api: {stack}/src -> /app/src; mlflow: {stack}/server.toml -> /etc/mlflow/server.toml"
    ) in header, header
