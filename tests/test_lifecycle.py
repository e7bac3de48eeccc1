"""A lifecycle users can trust: teardown always, isolation, the user's data untouched, reuse.

Real runs of `pytest --smartmaint` in subprocesses, against real containers.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import (
    REPO,
    SUITE,
    VARIANTS,
    Run,
    executed,
    grouped,
    project_resources,
    recorded,
    user_stack_running,
    watching_engine,
)

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("no_leftovers")]
COMPOSE = REPO / "docker-compose.test.yml"


def command(*args: str, variant: Path | None = None) -> list[str]:
    files = ["--smartmaint-compose-file", str(COMPOSE)] + (
        ["--smartmaint-compose-file", str(variant)] if variant else []
    )
    return [*SUITE, *files, *args]


def run(*args: str, variant: Path | None = None, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command(*args, variant=variant), cwd=REPO, capture_output=True, text=True, timeout=timeout)
    recorded(result.stdout + result.stderr)
    return result


def running_projects(prefix: str = "smartmaint-") -> set[str]:
    out = subprocess.run(
        ["docker", "ps", "--format", '{{.Label "com.docker.compose.project"}} {{.Status}}'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line.split()[0] for line in out.splitlines() if line.startswith(prefix) and "(healthy)" in line}


def own_project(process: subprocess.Popen[str]) -> str | None:
    """The project this run started: its watcher (live/reaper.py) names its owner's pid and the project.

    Other runs on the engine (the other xdist worker of this suite, a developer's stack) are not it."""
    out = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        words = line.split()
        if "pytest_smartmaint.live.reaper" in words and words.index("pytest_smartmaint.live.reaper") + 3 < len(words):
            owner, _, project = words[words.index("pytest_smartmaint.live.reaper") + 1 :][:3]
            if owner == str(process.pid):
                return project
    return None


def wait_for_healthy_stack(process: subprocess.Popen[str], timeout: float = 600) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        project = own_project(process)
        if project and project in running_projects():
            return project
        assert process.poll() is None, process.communicate()[0][-3000:]
        time.sleep(0.5)
    raise AssertionError("the stack never came up")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_run_tears_the_stack_down(sig: signal.Signals) -> None:
    process = subprocess.Popen(
        command("-k", "live"), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        project = wait_for_healthy_stack(process)
        process.send_signal(sig)
        output = recorded(process.communicate(timeout=120)[0])
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output[-3000:]
    assert "KeyboardInterrupt" in output
    assert project not in running_projects()  # and no_leftovers checks containers, networks and volumes


def created_projects(prefix: str = "smartmaint-") -> set[str]:
    """Projects with at least one container, in any state: a bring-up under way."""
    out = subprocess.run(
        ["docker", "ps", "-a", "--format", '{{.Label "com.docker.compose.project"}}'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {name for name in out.split() if name.startswith(prefix)}


def commands_naming(project: str) -> list[str]:
    out = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if project in line]


@pytest.mark.parametrize("phase", ["bring-up", "checks"])
def test_a_killed_run_leaves_nothing_for_long(phase: str) -> None:
    """SIGKILL runs no teardown: the run's watcher removes the project once its owner is gone."""
    from pytest_smartmaint.live.reaper import REMOVED_WITHIN_S

    process = subprocess.Popen(
        command("-k", "live"), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        if phase == "bring-up":  # the first container exists, the stack is not up yet
            deadline = time.monotonic() + 600
            while not ((project := own_project(process)) and project in created_projects()):
                assert process.poll() is None, process.communicate()[0][-3000:]
                assert time.monotonic() < deadline, "no container of the run's project was ever created"
                time.sleep(0.2)
            assert project and project not in running_projects()
        else:  # the checks are running: a probe is being exec'd in a container of the project
            project = wait_for_healthy_stack(process)
            deadline = time.monotonic() + 300
            while not any(" exec " in line for line in commands_naming(project)) and time.monotonic() < deadline:
                assert process.poll() is None, process.communicate()[0][-3000:]
                time.sleep(0.2)
            assert any(" exec " in line for line in commands_naming(project))
        process.kill()
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    killed = time.monotonic()
    while project_resources({project}) or commands_naming(project):
        assert time.monotonic() - killed < REMOVED_WITHIN_S, (project_resources({project}), commands_naming(project))
        time.sleep(0.5)
    assert not list(Path(tempfile.gettempdir()).glob(f"{project}-*"))  # the run's directory too


def test_a_teardown_past_its_deadline_is_one_error_with_the_command_to_finish_it() -> None:
    stack = REPO / "tests" / "stacks" / "slow-stop" / "docker-compose.yml"
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "--smartmaint",
        "-m",
        "smartmaint",
        "-k",
        "live",
        "-p",
        "no:cacheprovider",
        f"--smartmaint-compose-file={stack}",
        "-o",
        "smartmaint_test_services=",
        "-o",
        "smartmaint_teardown_timeout=2",
    ]
    started = time.monotonic()
    result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=300)
    recorded(result.stdout)
    assert time.monotonic() - started < 60, "the deadline did not cut `down` short"
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout[-3000:]
    project = re.search(
        r"tearing down project (smartmaint-[0-9a-f]{10}): `docker compose down` did not finish "
        r"within 2 s \(smartmaint_teardown_timeout\) and was cut\.",
        result.stdout,
    )
    assert project, result.stdout[-3000:]
    finish = re.search(
        r"Finish it with: (docker compose .* down --volumes --remove-orphans && rm -rf (\S+))", result.stdout
    )
    assert finish and f"-p {project[1]}" in finish[1], result.stdout[-3000:]
    assert "Traceback" not in result.stdout
    subprocess.run(finish[1], shell=True, check=True, capture_output=True, timeout=120)  # what the user is told works
    assert not project_resources({project[1]}) and not Path(finish[2]).exists()


def test_build_failure_names_the_step_and_leaves_nothing() -> None:
    result = run("-k", "live and mlflow-reachable", variant=VARIANTS / "build-fails.yml")
    assert result.returncode == 1, result.stdout[-3000:]
    assert "the stack's images did not build" in result.stdout
    assert '[api 2/2] RUN echo "installing the model server" && exit 7' in result.stdout
    assert "exit code: 7" in result.stdout
    assert "Traceback" not in result.stdout


def test_crash_looping_server_is_named_with_its_log() -> None:
    result = run(
        "-k", "live and mlflow-reachable", "-o", "smartmaint_startup_timeout=30", variant=VARIANTS / "crash-loop.yml"
    )
    assert result.returncode == 1, result.stdout[-3000:]
    # the inspect may catch the loop waiting to restart or running again: both are named a crash loop
    assert re.search(
        r"-mlflow-1: status (restarting, exit code 2|running again \(it exited at [\d:]+ and was restarted\)), "
        r"restarts \d+   <- crash loop",
        result.stdout,
    ), result.stdout[-3000:]
    assert "Also wrong in the files" not in result.stdout  # the variant breaks the port only: nothing else is blamed
    assert "Error: Invalid value for '--port' / '-p': 'not-a-port' is not a valid integer." in result.stdout


def test_too_little_engine_disk_stops_before_anything_is_built() -> None:
    result = run("-k", "live and (engine-resources or mlflow-reachable)", "-o", "smartmaint_min_free_gb=100000")
    assert result.returncode == 1, result.stdout[-3000:]
    first = result.stdout.split("ERROR at setup of smartmaint::engine-resources[live-engine]")[1]
    assert re.search(
        r"nothing was built: the Docker engine has [\d.]+ GB free on its data root \S+, under the "
        r"100000 GB limit \(ini smartmaint_min_free_gb\)",
        first,
    ), first[:2000]
    assert "pytest-smartmaint prunes nothing" in first and "docker builder prune" in first
    assert "the diagnosis is reported once, at smartmaint::engine-resources[live-engine]" in result.stdout
    assert "Building" not in result.stdout + result.stderr and "Traceback" not in result.stdout


def test_no_engine_is_one_clear_error() -> None:
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    result = subprocess.run(
        command("-k", "mlflow-reachable"), cwd=REPO, capture_output=True, text=True, env=env, timeout=120
    )
    recorded(result.stdout)
    assert result.returncode == 1
    assert "no Docker engine is reachable" in result.stdout and "DOCKER_HOST" in result.stdout
    assert "passed" in result.stdout  # the static items still run: they need no engine
    assert "Traceback" not in result.stdout


def snapshot(directory: Path) -> dict[str, tuple[str, int, int, int]]:
    return {
        str(p.relative_to(directory)): (
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir",
            p.stat().st_mtime_ns,
            p.stat().st_mode,
            p.stat().st_uid,
        )
        for p in sorted(directory.rglob("*"))
    } | {".": ("dir", directory.stat().st_mtime_ns, directory.stat().st_mode, directory.stat().st_uid)}


def users_data(repo: Path) -> list[Path]:
    """The user's MLflow data next to their compose file, as bind-mounts.yml mounts it: a model file and a
    registry (not a valid one) that the plugin's run must leave as they are (owned by the services' uid, 1000)."""
    data, db = repo / "mlflow_data", repo / "mlflow_db"
    (data / "1" / "abc").mkdir(parents=True)
    (data / "1" / "abc" / "model.pkl").write_bytes(b"the user's model")
    db.mkdir()
    (db / "mlflow.db").write_bytes(b"SQLite format 3\0 the user's registry")
    for path in [data, db, *data.rglob("*"), *db.rglob("*")]:
        os.chown(path, 1000, 1000)
    return [data, db]


def test_keep_leaves_the_stack_and_says_how_to_remove_it() -> None:
    result = run("-k", "live and mlflow-reachable", "--smartmaint-keep")
    assert result.returncode == 0, result.stdout[-3000:]
    removal = next(line for line in result.stdout.splitlines() if line.startswith("remove it with: "))
    project = removal.split("-p ")[1].split()[0]
    try:
        assert project in running_projects()
        assert f"project {project}: docker compose -p {project}" in result.stdout
    finally:
        subprocess.run(removal.removeprefix("remove it with: "), shell=True, check=True, capture_output=True)
    assert project not in running_projects()


def test_a_service_that_stopped_is_the_first_finding_and_no_item_guesses_another_cause() -> None:
    """A user's stack whose api exited at startup (it loads a model nobody registered): reuse mode finds it
    before the checks; the first item that needs the api reports the exit, the log and the cause."""
    variant = VARIANTS / "api-exits-at-startup.yml"
    project = f"userexit-{os.getpid()}"
    compose = ["docker", "compose", "-f", str(COMPOSE), "-f", str(variant), "-p", project]
    subprocess.run([*compose, "up", "-d"], check=True, capture_output=True, timeout=600)
    try:
        deadline = time.monotonic() + 180
        ps = [*compose, "ps", "--all", "--format", "{{.Service}} {{.State}}"]
        while "api exited" not in subprocess.run(ps, capture_output=True, text=True).stdout.splitlines():
            assert time.monotonic() < deadline, "the api never exited"
            time.sleep(1)
        result = run("-k", "live", f"--smartmaint-project={project}", variant=variant)
    finally:
        subprocess.run([*compose, "down", "--volumes", "--remove-orphans", "--timeout", "5"], capture_output=True)
    assert result.returncode == 1, result.stdout[-3000:]
    failed = re.findall(r"^FAILED (smartmaint::\S+) - (.*)$", result.stdout, re.MULTILINE)
    assert failed and "smartmaint::model-load[live-api]" in {nodeid for nodeid, _ in failed}, result.stdout[-3000:]
    # every item that needs the api points to its exit, and nothing else fails: no mount, user or interpreter blamed
    assert all(message.startswith("api is not running") for _, message in failed), failed
    errors_section = result.stdout.split("short test summary info")[0]
    assert errors_section.count("api is not running: its container ") == 1
    assert "exited with code 1 after the stack came up" in errors_section
    assert (
        "Cause: api loads the registered model 'churn-model' at startup, and the registry does not have it "
        "(MLflow answered RESOURCE_DOES_NOT_EXIST). notebook_runner should have registered it"
    ) in errors_section
    pointers = errors_section.count("api is not running (exit code 1); the finding is reported once, at smartmaint::")
    assert pointers == len(failed) - 1


# The tests below share the user's stack (module scope): they come last, so that it is down once the last of
# them is done, not idle beside the other tests of this module.
USER_CONTAINER_NAME = "shopfloor-mlflow"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def user_stack(docker_engine: None) -> object:
    """The reference stack started outside the plugin, as its user runs it: a model of the user's in its
    registry, the server under a fixed ``container_name``, the api on a fixed host port (SHOPFLOOR_API_PORT,
    a free one, set while the module's tests run). The tests that use it only read it."""
    project = f"userstack-{os.getpid()}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SHOPFLOOR_API_PORT", str(free_port()))
        with user_stack_running((COMPOSE, VARIANTS / "user-container-name.yml"), project) as compose:
            yield project, compose


def registered_models(compose: list[str]) -> str:
    """The names in the user stack's registry, as its notebook_runner lists them."""
    script = "from mlflow import MlflowClient; print([m.name for m in MlflowClient().search_registered_models()])"
    argv = [*compose, "exec", "-T", "notebook_runner", "python3", "-c", script]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def containers(project: str) -> dict[str, str]:
    out = subprocess.run(
        ["docker", "ps", "--filter", f"label=com.docker.compose.project={project}", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {
        name: subprocess.run(
            ["docker", "inspect", "--format", "{{.Id}} {{.State.StartedAt}} {{.State.Status}}", name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for name in out
    }


def published_ports(project: str) -> str:
    """The host ports the project's containers publish, as `docker ps` shows them."""
    argv = ["docker", "ps", "--filter", f"label=com.docker.compose.project={project}", "--format", "{{.Ports}}"]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def reuse_run(project: str, out: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Run]:
    """The live tier in reuse mode on the user's stack: its result, and what it executed."""
    report, junit = out.with_suffix(".json"), out.with_suffix(".xml")
    result = run(
        "-k", "live", f"--smartmaint-project={project}", f"--smartmaint-report={report}", f"--junitxml={junit}", *args
    )
    return result, executed(junit, report) if report.exists() and junit.exists() else (set(), [])


@pytest.fixture(scope="module")
def reused(user_stack: tuple[str, list[str]], tmp_path_factory: pytest.TempPathFactory) -> ReusedRun:
    """One reuse-mode run without xdist, shared by the tests that judge it: the containers before and after it."""
    project, _ = user_stack
    before = containers(project)
    result, executed_run = reuse_run(project, tmp_path_factory.mktemp("reuse") / "no-xdist")
    return ReusedRun(result, executed_run, before, containers(project))


@dataclass(frozen=True)
class ReusedRun:
    result: subprocess.CompletedProcess[str]
    executed: Run
    before: dict[str, str]
    after: dict[str, str]


def test_reuse_mode_checks_a_running_stack_without_touching_it(
    user_stack: tuple[str, list[str]], reused: ReusedRun
) -> None:
    _, compose = user_stack
    result = reused.result
    assert result.returncode == 0, result.stdout[-4000:]
    assert reused.after == reused.before  # same containers, same start times, still running
    assert "SKIPPED" in result.stdout and "never done to a stack the plugin did not start" in result.stdout
    assert "PASSED smartmaint::model-load[live-api-registry]" in result.stdout  # fraud-detector loads in the api
    assert "PASSED smartmaint::stale-image[live-mlflow]" in result.stdout  # built from the files as they are
    names = registered_models(compose)
    assert "fraud-detector" in names and "smartmaint-smoke" not in names


def test_reuse_mode_names_an_image_older_than_its_files(user_stack: tuple[str, list[str]], tmp_path: Path) -> None:
    """The files change after the running image was built: a copied file and an ENV of the Dockerfile."""
    project, _ = user_stack
    context = tmp_path / "ml"
    shutil.copytree(REPO / "stack" / "ml", context)
    with (context / "api.py").open("a") as api:
        api.write("# changed after the image was built\n")
    dockerfile = context / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text().replace("NUMBA_CACHE_DIR=/tmp/numba\n", "NUMBA_CACHE_DIR=/tmp/numba-cache\n")
    )
    override = tmp_path / "changed.yml"
    override.write_text(f"services:\n  api:\n    build:\n      context: {context}\n")
    before = containers(project)
    result = run("-k", "stale-image", f"--smartmaint-project={project}", variant=override)
    assert result.returncode == 1, result.stdout[-3000:]
    assert containers(project) == before
    message = result.stdout.split("_ smartmaint::stale-image[live-api] _")[1]
    assert re.search(
        r"api runs an image built \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \([0-9a-f]{12}, "
        r"smartmaint-reference/ml:latest\) that is older than its files:",
        message,
    ), message[:1500]
    assert "- ENV NUMBA_CACHE_DIR: the Dockerfile says '/tmp/numba-cache', the image has '/tmp/numba'" in message
    assert f"- api.py: the build context's {context / 'api.py'} differs from /app/api.py in the container" in message
    assert f"docker compose -p {project} up -d --build api" in message
    assert "PASSED smartmaint::stale-image[live-notebook_runner]" in result.stdout  # same image, unchanged files


def test_reuse_mode_under_xdist_runs_the_same_items_and_leaves_no_smoke_model(
    user_stack: tuple[str, list[str]], reused: ReusedRun, tmp_path: Path
) -> None:
    project, compose = user_stack
    assert reused.result.returncode == 0, reused.result.stdout[-3000:]
    runs = {"no-xdist": reused.executed}
    for mode, args in (("loadgroup", ("-n", "2", "--dist", "loadgroup")), ("load", ("-n", "2", "--dist", "load"))):
        if mode == "load" and not grouped((tmp_path / "loadgroup").with_suffix(".xml")):
            # loadgroup's mark did not take (pytest >= 9.2: see README), so that run spread the items as load does
            runs[mode] = runs["loadgroup"]
            continue
        with watching_engine() as engine:
            result, runs[mode] = reuse_run(project, tmp_path / mode, *args)
        assert result.returncode == 0, (mode, result.stdout[-3000:])
        # each consumer loads the registry's models, and each audio service does its round trip, once: in the
        # worker that runs its item, not in both workers
        for probe in ("load_registry", "audio_roundtrip"):
            assert engine.probe_runs({project}, probe) == {"api": 1, "notebook_runner": 1}, (mode, probe)
    assert runs["no-xdist"][0]  # (the ids' agreement with the records is asserted by executed())
    assert runs["loadgroup"] == runs["no-xdist"] and runs["load"] == runs["no-xdist"]
    names = registered_models(compose)
    assert "fraud-detector" in names and "smartmaint-smoke" not in names  # each worker removed its own smoke model


def test_first_contact_in_a_users_repository_beside_their_running_stack(
    user_stack: tuple[str, list[str]], tmp_path: Path
) -> None:
    """A repository as users have it: the stack is docker-compose.yml (its server under the same fixed
    container_name as the user's running copy) and docker-compose.override.yml (their MLflow data in
    ./mlflow_data and ./mlflow_db, the api on the fixed host port that their running copy holds), its own tests
    cannot import here, no option but the two. The run passes on a stack of its own, beside theirs (its fixed port
    re-published on an ephemeral one, which is also what keeps two runs apart), and leaves their data as it was."""
    project, _ = user_stack
    repo = tmp_path / "shopfloor"
    shutil.copytree(REPO / "stack", repo / "stack")
    text = COMPOSE.read_text().replace(
        "  mlflow:\n    build:", f"  mlflow:\n    container_name: {USER_CONTAINER_NAME}\n    build:"
    )
    assert USER_CONTAINER_NAME in text
    (repo / "docker-compose.yml").write_text(text)
    port = os.environ["SHOPFLOOR_API_PORT"]  # the host port the user's api holds: their files name it too
    override = (VARIANTS / "bind-mounts.yml").read_text().replace('"8000:8000"', f'"{port}:8000"')
    assert f'"{port}:8000"' in override
    (repo / "docker-compose.override.yml").write_text(override)
    data = users_data(repo)
    before_data = [snapshot(d) for d in data]
    (repo / "tests").mkdir()
    (repo / "tests" / "test_app.py").write_text("import torch  # the CI runner has no torch\n")
    before = containers(project)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--smartmaint", "--smartmaint-only", "-p", "no:cacheprovider"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    recorded(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-4000:]
    assert (
        f"compose files: {repo / 'docker-compose.yml'}, {repo / 'docker-compose.override.yml'} "
        "(from compose's default files: docker-compose.yml + docker-compose.override.yml)" in result.stdout
    )
    assert (
        f"container_name dropped in the run's own stack, so it never meets yours (each stays a network alias): "
        f"mlflow ({USER_CONTAINER_NAME})" in result.stdout
    )
    assert "the project's own tests are not collected (--smartmaint-only)" in result.stdout
    assert "test_app.py" not in result.stdout and "torch" not in result.stdout
    assert "stack: own project smartmaint-" in result.stdout  # the live tier ran, on a stack of its own
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "error" not in summary and "failed" not in summary, summary
    assert containers(project) == before  # the user's containers: the same ids, start times, still running
    assert USER_CONTAINER_NAME in "".join(before)
    assert f"0.0.0.0:{port}->8000/tcp" in published_ports(project)  # theirs: the port the run's files name too
    assert [snapshot(d) for d in data] == before_data  # their data: same bytes, times, modes and owners
