"""The public fixtures, used as a user uses them: from a test file in the user's own project.

The user's test file lives outside this repository; it is run with `pytest --smartmaint` against
the reference stack, with the built-in suite deselected (`-m "not smartmaint"`): the fixtures alone
must bring the stack up, and remove it afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, VARIANTS, SecondEngine, project_of, recorded

USER_TESTS = """
import urllib.request


def test_the_registry_answers_through_mlflow_client(mlflow_client):
    experiments = mlflow_client.search_experiments(max_results=5)
    assert any(e.name == "Default" for e in experiments)


def test_the_ml_image_has_libsndfile(smartmaint_host):
    api = smartmaint_host("api")
    assert api.package("libsndfile1").is_installed
    assert api.file("/mlruns").uid == 1000


def test_the_server_is_published_and_commands_run(smartmaint_stack):
    address = smartmaint_stack.published("mlflow", 5000)
    with urllib.request.urlopen(f"http://{address}/health", timeout=10) as answer:
        assert answer.status == 200
    assert smartmaint_stack.exec("api", ["id", "-u"]).check_output() == "1000"
    failed = smartmaint_stack.exec("api", "ls /nonexistent")
    assert failed.rc != 0 and not failed.succeeded
    assert smartmaint_stack.project.startswith("smartmaint-")
    assert smartmaint_stack.logs("mlflow").strip()


def test_a_failing_command_names_the_service(smartmaint_stack):
    smartmaint_stack.exec("notebook_runner", "echo nope >&2; exit 3").check_output()


def test_the_static_model(smartmaint_model):
    assert smartmaint_model.roles.server == "mlflow"
    assert smartmaint_model.server.sqlite_path == "/mlflow_db/mlflow.db"
"""


def user_run(
    tmp_path: Path, *args: str, files: tuple[Path, ...] = (), env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    project = tmp_path / "user_project"
    project.mkdir(exist_ok=True)
    (project / "test_infra.py").write_text(USER_TESTS)
    compose = [REPO / "docker-compose.test.yml", *files] if "--smartmaint" in args else []
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-rA",
        "-m",
        "not smartmaint",
        *(a for f in compose for a in ("--smartmaint-compose-file", str(f))),
        str(project / "test_infra.py"),
        *args,
    ]
    environment = {**os.environ, **(env or {})}
    result = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=1200, check=False, env=environment
    )
    recorded(result.stdout + result.stderr)
    return result


@pytest.mark.live
@pytest.mark.usefixtures("no_leftovers")
@pytest.mark.parametrize("on_a_remote_engine", [True, False], ids=["one-process-on-a-remote-engine", "xdist"])
def test_users_own_tests_run_on_the_stack_through_the_fixtures(
    tmp_path: Path, request: pytest.FixtureRequest, on_a_remote_engine: bool
) -> None:
    """In one process on a second engine (DOCKER_HOST), and under xdist on this machine's.

    The remote run's stack keeps its MLflow data on bind mounts (bind-mounts.yml), which name paths of the
    engine's machine there: the run redirects them into volumes of that engine. mlflow_client and
    ``published()`` reach the server at the engine's host (its allowed hosts admit that address)."""
    if on_a_remote_engine:
        engine: SecondEngine = request.getfixturevalue("second_engine")
        since = str(int(time.time()) - 1)
        files = (VARIANTS / "bind-mounts.yml", VARIANTS / "remote-engine-allowed-hosts.yml")
        env = {**engine.env, "SMARTMAINT_TEST_ENGINE_HOST": engine.host}
        result = user_run(tmp_path, "--smartmaint", files=files, env=env)
    else:
        result = user_run(tmp_path, "--smartmaint", "-n", "2")
    assert result.returncode == 1, result.stdout[-4000:]
    outcomes = {
        line.split()[1].split("::")[-1]: line.split()[0]
        for line in result.stdout.splitlines()
        if line.startswith(("PASSED ", "FAILED ", "ERROR ", "SKIPPED "))
    }
    assert outcomes == {
        "test_the_registry_answers_through_mlflow_client": "PASSED",
        "test_the_ml_image_has_libsndfile": "PASSED",
        "test_the_server_is_published_and_commands_run": "PASSED",
        "test_a_failing_command_names_the_service": "FAILED",
        "test_the_static_model": "PASSED",
    }, result.stdout[-4000:]
    assert "CommandFailed: `echo nope >&2; exit 3` in service notebook_runner exited 3:" in result.stdout
    assert "nope" in result.stdout
    if on_a_remote_engine:
        assert engine.header("DOCKER_HOST") in result.stdout
        project = project_of(result.stdout)
        volumes = ("events", "--since", since, "--until", str(int(time.time())), "--filter", "type=volume")
        created = engine.docker(*volumes, "--filter", "event=create", "--format", "{{.Actor.ID}}").stdout.split()
        data = sorted({v.rsplit("-", 1)[0] for v in created if v.startswith(f"{project}_smartmaint-data-")})
        assert data == [f"{project}_smartmaint-data-mlflow_data", f"{project}_smartmaint-data-mlflow_db"], created
        # bind-mounts.yml's sources, kept as written, would have been made there; the run made nothing of its own
        # there either (a local run's copies are in a temporary directory of this machine)
        made = ["docker", "exec", engine.container, "sh", "-c", f"ls -d {REPO}/mlflow_* /tmp/{project}-* 2>/dev/null"]
        assert subprocess.run(made, capture_output=True, text=True, timeout=60).stdout == ""
        assert not engine.left_by(project)


def test_live_fixtures_skip_with_the_reason_when_static_or_off(tmp_path: Path) -> None:
    result = user_run(tmp_path, "--smartmaint", "--smartmaint-static")
    assert "4 skipped" in result.stdout and "1 passed" in result.stdout, result.stdout[-3000:]
    assert "--smartmaint-static starts no containers, and this test needs the running stack" in result.stdout
    result = user_run(tmp_path)
    assert "5 skipped" in result.stdout, result.stdout[-3000:]
    assert "this test uses a pytest-smartmaint fixture: run pytest with --smartmaint" in result.stdout
