"""The project's own test configuration: engine policy, leak guard and shared fixtures of tests/.

Tests import its helpers (``from conftest import REPO, recorded``); it sits at the top so that
every test directory, and the pytester runs started from the repository, see the same configuration.
"""

from __future__ import annotations

import fcntl
import ipaddress
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from pytest_smartmaint.plugin import LIVE_GROUP

pytest_plugins = ("pytester",)
# Projects and stacks the tests run the plugin on: their own test files are theirs, not ours.
collect_ignore_glob = ["tests/projects/*", "tests/stacks/*"]

REPO = Path(__file__).resolve().parent
PROJECTS = REPO / "tests" / "projects"
VARIANTS = REPO / "tests" / "variants"
STACKS = REPO / "tests" / "stacks"  # live stacks shaped unlike the reference stack


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with live tests first, each file's own order kept. Under `--dist loadfile --no-loadscope-reorder`
    xdist hands files to workers in this order, so the many quick files fill the end of the run. xdist's default
    order (most tests first) hands out the live files, a few tests of minutes each, last: one worker then runs
    the last of them while the other has nothing left."""
    live = {item.path for item in items if item.get_closest_marker("live")}
    items.sort(key=lambda item: item.path not in live)  # a stable sort


@pytest.fixture(autouse=True)
def _docker_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytester moves HOME; keep the docker CLI finding its config and CLI plugins (Compose v2)."""
    monkeypatch.setenv("DOCKER_CONFIG", os.environ.get("DOCKER_CONFIG", str(Path.home() / ".docker")))


def _engine_up() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=15, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


PROJECT_NAME = re.compile(r"\bsmartmaint-[0-9a-f]{10}\b")  # the header names the project a run starts
RUN_OUTPUTS: list[str] = []  # what every `pytest --smartmaint` run of the current test printed


def recorded(output: str) -> str:
    """Remember a run's output, so the leak guard knows which projects this test's runs started."""
    RUN_OUTPUTS.append(output)
    return output


def project_resources(projects: set[str], env: Mapping[str, str] | None = None) -> list[str]:
    """Containers, networks and volumes that still belong to these compose projects, or swarm stacks of those
    names (on the engine ``env`` names, else this machine's)."""
    found = []
    environment = {**os.environ, **env} if env else None
    for project, key in itertools.product(
        sorted(projects), ("com.docker.compose.project", "com.docker.stack.namespace")
    ):
        label = f"label={key}={project}"
        for kind, fmt in (("ps -a", "{{.Names}}"), ("network ls", "{{.Name}}"), ("volume ls", "{{.Name}}")):
            args = ["docker", *kind.split(), "--filter", label, "--format", fmt]
            done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=60, env=environment)
            assert done.returncode == 0, done.stderr  # an engine that does not answer hides nothing
            found += [f"{kind.split()[0]}:{name}" for name in done.stdout.split()]
    return found


def project_of(output: str) -> str:
    """The project a run started, as its header names it."""
    names = PROJECT_NAME.findall(output)
    assert names, output[-3000:]
    return names[0]


def assert_runs_left_nothing(since: int) -> None:
    """The projects that the runs recorded from ``RUN_OUTPUTS[since]`` on started (at least one) left no
    container, network or volume behind: the leak guard of a run shared by several tests."""
    projects = {name for output in RUN_OUTPUTS[since:] for name in PROJECT_NAME.findall(output)}
    left = project_resources(projects)
    assert projects and not left, f"the plugin left resources of {sorted(projects)} behind: {left}"


Run = tuple[set[str], list[tuple[str, str, str, str]]]


XDIST_GROUP_SUFFIX = f"@{LIVE_GROUP}"  # what --dist loadgroup appends to node ids where its mark takes (pytest < 9.2)


def executed(junit: Path, report: Path) -> Run:
    """What a run executed, where users see it: the junitxml testcases' node ids (each once, less
    xdist's ``@group`` suffix, which is xdist's), and the JSON report's records as sorted
    (check, tier, subject, outcome). Every record is one of the ids, and every id one record."""
    cases = ElementTree.parse(junit).getroot().iter("testcase")
    ids = [f"{case.get('classname')}::{case.get('name')}".removesuffix(XDIST_GROUP_SUFFIX) for case in cases]
    assert len(ids) == len(set(ids)), ids
    raw = json.loads(report.read_text())
    records = sorted((r["check"], r["tier"], r["subject"], r["outcome"]) for r in raw)
    assert sorted(ids) == sorted(f"smartmaint::{c}[{t}-{s}]" for c, t, s, _ in records), (ids, records)
    return set(ids), records


def grouped(junit: Path) -> bool:
    """Whether xdist's loadgroup mark took in this run (its suffix on the live items' node ids)."""
    return any(
        (case.get("name") or "").endswith(XDIST_GROUP_SUFFIX)
        for case in ElementTree.parse(junit).getroot().iter("testcase")
    )


@dataclass
class EngineEvents:
    """What the engine did while a ``watching_engine`` block ran: its containers' create and exec events."""

    events: list[dict[str, Any]]

    def created_stacks(self) -> set[str]:
        """The swarm stacks whose task containers were created."""
        return {
            attributes["com.docker.stack.namespace"]
            for action, attributes in self._container_events()
            if action == "create" and "com.docker.stack.namespace" in attributes
        }

    def created_projects(self, config_file_part: str) -> set[str]:
        """The compose projects whose containers were created from compose files that include ``config_file_part``."""
        return {
            attributes["com.docker.compose.project"]
            for action, attributes in self._container_events()
            if action == "create" and config_file_part in attributes.get("com.docker.compose.project.config_files", "")
        }

    def probe_runs(self, projects: set[str], probe: str) -> dict[str, int]:
        """How often the live probe module ``probe`` ran in each service of ``projects`` (compose projects or swarm
        stacks; each run is an exec)."""
        from pytest_smartmaint.live import probes

        docstring = probes.source(probe).split('"""')[1].splitlines()[0]
        marker = docstring.split("'")[0]  # the script is shell-quoted in the exec's command: no quote in the marker
        runs: dict[str, int] = {}
        for action, attributes in self._container_events():
            if action.startswith("exec_create: ") and marker in action:
                stack = attributes.get("com.docker.stack.namespace", "")
                if attributes.get("com.docker.compose.project") in projects:
                    service = attributes["com.docker.compose.service"]
                    runs[service] = runs.get(service, 0) + 1
                elif stack in projects:  # a swarm task: <stack>_<service>
                    service = attributes["com.docker.swarm.service.name"].removeprefix(f"{stack}_")
                    runs[service] = runs.get(service, 0) + 1
        return runs

    def _container_events(self) -> Iterator[tuple[str, dict[str, str]]]:
        for event in self.events:
            yield event.get("Action", ""), event.get("Actor", {}).get("Attributes", {})


# Swarm mode of this machine's engine. Leaving it breaks name resolution in every container then running on a
# network of that engine (moby's embedded DNS forgets their names: "Name or service not known" in a compose stack
# of another xdist worker). So the tests enter it once, when a test first needs it, and leave it only when the
# session that entered it ends, with no stack of any worker running.
SWARM_MARK = "SMARTMAINT_TESTS_SESSION"  # the session that owns the swarm the tests made (set by the outermost run)
_SESSION_OWNER = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    if SWARM_MARK not in os.environ:  # the outermost pytest run: its xdist workers and its subprocesses inherit it
        os.environ[SWARM_MARK] = f"{os.getpid()}-{time.time_ns()}"
        config.stash[_SESSION_OWNER] = True


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(_SESSION_OWNER, False):
        leave_the_tests_swarm()


def _swarm_made_by_tests() -> Path:
    return SECOND_ENGINE_DATA.parent / "swarm-made-by-tests"


@contextmanager
def swarm_mode_held() -> Iterator[None]:
    """The engine's swarm state for the block: the tests that use this machine's swarm (a one-node swarm, the
    two-node one, which joins a worker for its block) may run in two xdist workers at once."""
    SECOND_ENGINE_DATA.parent.mkdir(parents=True, exist_ok=True)
    with open(SECOND_ENGINE_DATA.parent / "swarm-mode.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def bridge_gateway() -> str:
    """This machine's engine's address on its default bridge, where the second engine's container reaches it: the
    bridge's gateway, which a freshly started engine leaves out of its IPAM config (the subnet's first address)."""
    config = json.loads(docker("network", "inspect", "bridge", "--format", "{{json .IPAM.Config}}").stdout)[0]
    return config.get("Gateway") or str(next(ipaddress.ip_network(config["Subnet"]).hosts()))


@contextmanager
def one_node_swarm() -> Iterator[bool]:
    """This machine's engine in a swarm for the block, with the lock held (the plugin never initialises one; CI's
    engine is in none). The first block of a session initialises it, advertised on the default bridge, and the
    session leaves it at its end (pytest_unconfigure); a swarm the tests made in a session that was killed is
    taken over (its other nodes forgotten). An engine already in a swarm the tests did not make (a developer's) is
    used as it is and never left. Yields whether the tests made the swarm."""
    with swarm_mode_held():
        mark = _swarm_made_by_tests()
        if docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip() != "active":
            bridge = docker("network", "inspect", "docker_gwbridge").returncode == 0
            made = docker("swarm", "init", "--advertise-addr", bridge_gateway())
            assert made.returncode == 0, made.stderr
            mark.write_text(json.dumps({"session": os.environ[SWARM_MARK], "bridge": bridge}))
        elif mark.exists() and _killed((made := json.loads(mark.read_text()))["session"]):
            mark.write_text(json.dumps({**made, "session": os.environ[SWARM_MARK]}))
            others = docker("node", "ls", "--filter", "role=worker", "-q").stdout.split()
            if others:  # the worker a killed two-node test joined
                docker("node", "rm", "--force", *others)
        yield mark.exists()


def _killed(session: str) -> bool:
    """Whether the pytest run that set this SWARM_MARK value is gone (never this one, nor one still running)."""
    if session == os.environ.get(SWARM_MARK):
        return False
    try:
        os.kill(int(session.split("-")[0]), 0)
    except (ValueError, ProcessLookupError):
        return True
    except PermissionError:  # a process of another user has that pid now: not ours to judge
        return False
    return False


def leave_the_tests_swarm() -> None:
    """Leave the swarm this session made, and the bridge network swarm mode made if it was not there before. A
    leave that fails keeps the mark, so that the next session takes the swarm over rather than calls it a
    developer's."""
    mark = _swarm_made_by_tests()
    if not mark.exists():  # (most sessions: no lock file made for them)
        return
    with swarm_mode_held():
        try:
            made = json.loads(mark.read_text())
        except (OSError, ValueError):
            return
        if made.get("session") != os.environ.get(SWARM_MARK):
            return
        if docker("swarm", "leave", "--force").returncode != 0:
            return
        if not made.get("bridge"):
            docker("network", "rm", "docker_gwbridge")
        mark.unlink()


@contextmanager
def watching_engine(env: Mapping[str, str] | None = None) -> Iterator[EngineEvents]:
    """Watch the engine's container create and exec events (docker events) for the block's duration; ``env``
    names another engine (DOCKER_HOST, a docker context).

    The events go to a file, not a pipe: every healthcheck is an exec, and a pipe nobody reads fills."""
    watched = EngineEvents([])
    with tempfile.TemporaryFile("w+") as log:
        watcher = subprocess.Popen(
            [
                "docker", "events", "--filter", "type=container", "--filter", "event=create",
                "--filter", "event=exec_create", "--format", "{{json .}}",
            ],
            stdout=log,
            text=True,
            env={**os.environ, **env} if env else None,
        )  # fmt: skip
        try:
            time.sleep(2)  # the watcher is subscribed before the block starts (a busy runner takes its time)
            yield watched
            time.sleep(1)  # the block's last events have arrived
        finally:
            watcher.terminate()
            watcher.wait(timeout=10)
            log.seek(0)
            watched.events += [json.loads(line) for line in log if line.endswith("}\n")]  # (a line cut by the stop)


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Live tests need an engine: in CI its absence is a failure, elsewhere a skip."""
    if _engine_up():
        return
    message = "no Docker engine reachable (`docker info` failed); start one with `bash .ci/provision.sh`"
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the live tests: {message}", pytrace=False)
    pytest.skip(message)


@dataclass(frozen=True)
class SecondEngine:
    """A second, real engine that shares no filesystem with this machine, as the plugin meets a remote one."""

    address: str  # tcp://IP:2375: its address on the first engine's default bridge (published nowhere)
    host: str
    container: str  # its container on the first engine: the engine's machine

    @property
    def env(self) -> dict[str, str]:
        """What to add to the environment of a docker CLI (or a run) that drives this engine through DOCKER_HOST."""
        return {"DOCKER_HOST": self.address}

    def docker(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return docker(*args, timeout=timeout, env=self.env)

    def answers(self) -> bool:
        """Whether its API answers yet. Until its address is up on its network, a connection may hang rather
        than be refused: a `docker info` that times out is a no, not an error."""
        try:
            return self.docker("info", timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def left_by(self, project: str) -> list[str]:
        """The containers, networks and volumes of a compose project still on this engine."""
        return project_resources({project}, self.env)

    def header(self, source: str) -> str:
        """The header line of a run on this engine, chosen by ``source`` ("DOCKER_HOST", "docker context NAME")."""
        return f"smartmaint: engine is remote at {self.address} ({source})"

    def context(self, config: Path) -> dict[str, str]:
        """What to add to the environment of a docker CLI whose current context (made by `docker context create`
        in a configuration of its own, ``config``) is this engine, as a user who switched contexts: DOCKER_HOST
        and DOCKER_CONTEXT are emptied (the CLI then reads the configuration's current context)."""
        config.mkdir(parents=True, exist_ok=True)
        plugins = Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker")) / "cli-plugins"
        if plugins.is_dir() and not (config / "cli-plugins").exists():
            (config / "cli-plugins").symlink_to(plugins)  # Compose v2, where this machine's CLI has it
        env = {"DOCKER_CONFIG": str(config), "DOCKER_HOST": "", "DOCKER_CONTEXT": ""}
        for command in (["create", "second-engine", "--docker", f"host={self.address}"], ["use", "second-engine"]):
            subprocess.run(["docker", "context", *command], env={**os.environ, **env}, check=True, capture_output=True)
        return env


# The second engines' data roots: their images and build cache, kept between sessions as the first engine keeps
# its own (a first session builds the reference images there, some minutes). One slot per engine running at
# once (an xdist worker each); their containers, networks and volumes are checked to be gone before they stop.
SECOND_ENGINE_DATA = Path(
    os.environ.get("SMARTMAINT_TEST_ENGINE_DATA", Path.home() / ".cache" / "pytest-smartmaint-tests" / "engine")
)
SECOND_ENGINE_SLOTS = 2


@contextmanager
def _engine_slot() -> Iterator[tuple[str, Path]]:
    """A data root no other session uses now: the first free slot (its lock held meanwhile), else a throwaway
    one (never a wait: a worker holding a slot may be waiting for this one's reference run)."""
    SECOND_ENGINE_DATA.mkdir(parents=True, exist_ok=True)
    for n in range(SECOND_ENGINE_SLOTS):
        with (SECOND_ENGINE_DATA / f"{n}.lock").open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            yield f"slot{n}", SECOND_ENGINE_DATA / str(n)
            return
    throwaway = Path(tempfile.mkdtemp(prefix="smartmaint-test-engine-"))
    try:
        yield f"pid{os.getpid()}", throwaway
    finally:
        shutil.rmtree(throwaway, ignore_errors=True)


def docker(*args: str, timeout: float = 120, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The docker CLI, on this machine's engine or (``env``: DOCKER_HOST, a context) another one."""
    environment = {**os.environ, **env} if env else None
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False, env=environment
    )


@pytest.fixture(scope="session")
def second_engine(docker_engine: None) -> Iterator[SecondEngine]:
    """dockerd in a container of the first engine (tests/engine), for the session; removed afterwards.

    Not ``--privileged``: this machine's kernel withholds CAP_SYS_RESOURCE, which --privileged asks for, so the
    container gets every other capability, no seccomp or AppArmor profile, every device and the cgroup tree."""
    base = os.environ.get("BASE_IMAGE", "smartmaint-base:bookworm")
    image = "smartmaint-test/engine:latest"
    build = ["docker", "build", "-q", "-t", image, "--build-arg", f"BASE_IMAGE={base}", str(REPO / "tests" / "engine")]
    subprocess.run(build, check=True, capture_output=True, timeout=900)
    with _engine_slot() as (slot, data_root):
        data_root.mkdir(exist_ok=True)
        name = f"smartmaint-test-engine-{slot}"
        docker("rm", "--force", name)  # the slot's engine of a session killed before its teardown (lock released)
        try:
            run = ["run", "--detach", "--name", name, "--cap-add", "ALL", "--cap-drop"]
            run += ["SYS_RESOURCE", "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined"]
            run += ["--security-opt", "systempaths=unconfined", "--device-cgroup-rule", "a *:* rwm", "--tmpfs", "/run"]
            run += ["--volume", "/sys/fs/cgroup:/sys/fs/cgroup", "--volume", f"{data_root}:/var/lib/docker", image]
            started = docker(*run)
            assert started.returncode == 0, started.stderr
            ip = docker("inspect", "--format", "{{.NetworkSettings.IPAddress}}", name)
            engine = SecondEngine(f"tcp://{ip.stdout.strip()}:2375", ip.stdout.strip(), name)
            deadline = time.monotonic() + 120
            while not engine.answers():
                assert time.monotonic() < deadline, docker("logs", name).stderr[-3000:]
                time.sleep(0.5)
            # what a session killed midway left in the data root: this engine's own, nobody else's
            engine.docker("swarm", "leave", "--force")  # a killed two-node test's worker (in no swarm: a no-op)
            for leftover in (["container", "prune", "-f"], ["volume", "prune", "-f"], ["network", "prune", "-f"]):
                engine.docker(*leftover)
            if engine.docker("image", "inspect", base).returncode != 0:  # the stack's Dockerfiles build FROM it
                with subprocess.Popen(["docker", "save", base], stdout=subprocess.PIPE) as saved:
                    load = subprocess.run(
                        ["docker", "load", "-q"],
                        stdin=saved.stdout,
                        env={**os.environ, **engine.env},
                        capture_output=True,
                        timeout=600,
                    )
                assert saved.returncode == 0 and load.returncode == 0, load.stderr
            # the reference images, before any run: the header reads the engine's free space through one of them
            # (a cache hit but for a first session)
            compose = ["docker", "compose", "-f", str(REPO / "docker-compose.test.yml"), "build", "--quiet"]
            subprocess.run(compose, env={**os.environ, **engine.env}, check=True, timeout=1800)
            yield engine
            listed = [engine.docker(*kind, "-q") for kind in (("ps", "-a"), ("volume", "ls"))]
            networks = engine.docker("network", "ls", "--format", "{{.Name}}")
            assert all(done.returncode == 0 for done in (*listed, networks)), "the second engine stopped answering"
            left = [name for done in listed for name in done.stdout.split()]
            left += [n for n in networks.stdout.split() if n not in ("bridge", "host", "none")]
            assert not left, f"the runs left resources on the second engine: {left}"
        finally:
            # a clean stop first: dockerd shuts its containerd down and leaves its data root consistent for the next
            docker("stop", "--time", "30", name)
            docker("rm", "--force", "--volumes", name)


Records = list[dict[str, Any]]
# `pytest --smartmaint` as the live tests run it: the built-in suite only (this repository's own tests are not
# collected, as a user's are not with --smartmaint-only: each run and each of its xdist workers would import them
# all), every outcome in the summary
SUITE = (sys.executable, "-m", "pytest", "--smartmaint", "--smartmaint-only", "-p", "no:cacheprovider", "-rA")


def run_suite(
    out: Path, *args: str, env: Mapping[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], Records]:
    """`pytest --smartmaint --smartmaint-only` in the repository, as a user runs it, with a JSON report and
    junitxml in ``out`` (report.json, junit.xml); ``args`` name the compose files and the rest, ``env``
    is added to the environment."""
    out.mkdir(parents=True, exist_ok=True)
    report = out / "report.json"
    command = [
        *SUITE,
        f"--smartmaint-report={report}",
        f"--junitxml={out / 'junit.xml'}",
        *args,
    ]
    environment = {**os.environ, **env} if env else None
    result = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=1800, check=False, env=environment
    )
    recorded(result.stdout + result.stderr)
    return result, json.loads(report.read_text()) if report.exists() else []


@dataclass(frozen=True)
class ReferenceRun:
    """One full run (static and live) of the reference stack, shared by the tests that compare with it."""

    result: subprocess.CompletedProcess[str]
    records: Records
    out: Path  # report.json and junit.xml

    def outcomes(self, tier: str) -> dict[str, str]:
        return {f"{r['check']}[{r['subject']}]": r["outcome"] for r in self.records if r["tier"] == tier}


@pytest.fixture(scope="session")
def reference_run(
    docker_engine: None, tmp_path_factory: pytest.TempPathFactory, worker_id: str, request: pytest.FixtureRequest
) -> ReferenceRun:
    """Run once per test session, also under xdist: the first worker that needs it runs it, under a lock in
    the directory every worker's temporary directory is in, and the others read what it saved there
    (pytest-xdist's recipe for a session fixture that runs once).

    It runs on the second engine, through DOCKER_HOST, as a user's CI drives a remote engine. Most of the runs
    compared with it (the variant groups, two of the xdist modes) run on this machine's engine: each of those
    comparisons also shows that a remote engine gives the same verdicts as a local one."""
    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent
    out, saved = shared / "reference", shared / "reference" / "run.json"
    with (shared / "reference.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if saved.exists():
            run = json.loads(saved.read_text())
            result = subprocess.CompletedProcess(run["args"], run["returncode"], run["stdout"], run["stderr"])
            return ReferenceRun(result, json.loads((out / "report.json").read_text()), out)
        engine: SecondEngine = request.getfixturevalue("second_engine")
        result, records = run_suite(out, "--smartmaint-compose-file", "docker-compose.test.yml", env=engine.env)
        assert not engine.left_by(project_of(result.stdout))
        fields = ("args", "returncode", "stdout", "stderr")
        saved.write_text(json.dumps({name: getattr(result, name) for name in fields}))
        return ReferenceRun(result, records, out)


@contextmanager
def user_stack_running(
    files: Sequence[Path], project: str, services: Sequence[str] = (), model: str = "fraud-detector"
) -> Iterator[list[str]]:
    """A stack started outside the plugin, as its user runs it (``up --wait`` of ``services``, else all), with
    ``model`` registered from notebook_runner; yields its ``docker compose -f ... -p project`` argv and removes
    the project with its volumes afterwards."""
    from pytest_smartmaint.live.probes import source

    compose = ["docker", "compose", *(arg for f in files for arg in ("-f", str(f))), "-p", project]
    try:
        subprocess.run([*compose, "up", "-d", "--wait", *services], check=True, capture_output=True, timeout=600)
        register = json.dumps({"name": model, "experiment": "production"})
        script = ["exec", "-T", "notebook_runner", "python3", "-c", source("register_model"), register]
        subprocess.run([*compose, *script], check=True, capture_output=True, timeout=300)
        yield compose
    finally:
        subprocess.run([*compose, "down", "--volumes", "--remove-orphans", "--timeout", "5"], capture_output=True)


@pytest.fixture
def no_leftovers(docker_engine: None) -> Iterator[None]:
    """Asserts that the projects this test's runs started left no container, network or volume behind.

    Only those projects are looked at: other runs on the same engine (a shared CI runner, a
    developer's own stack) neither fail this test nor hide a leak of its own.
    """
    RUN_OUTPUTS.clear()
    yield
    projects = {name for output in RUN_OUTPUTS for name in PROJECT_NAME.findall(output)}
    left = project_resources(projects)
    assert not left, f"the plugin left resources of {sorted(projects)} behind: {left}"


@pytest.fixture
def stack(pytester: pytest.Pytester) -> Path:
    """The base project copied into pytester's directory as docker-compose.test.yml."""
    for item in (PROJECTS / "base").iterdir():
        target = pytester.path / item.name
        shutil.copytree(item, target) if item.is_dir() else shutil.copy(item, target)
    (pytester.path / "docker-compose.yml").rename(pytester.path / "docker-compose.test.yml")
    return pytester.path


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """A copy of tests/projects/base: a small sound stack to break one way at a time."""
    target = tmp_path / "stack"
    shutil.copytree(PROJECTS / "base", target)
    return target


@pytest.fixture
def write(project_dir: Path) -> Callable[[str, str], Path]:
    def write(relative: str, text: str) -> Path:
        path = project_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write
