"""The running stack as the live checks see it, and the in-container facts they share.

Each fact is gathered once per session (one exec per service, run concurrently across
services) and remembered with its outcome, so a slow step (the smoke model, the audio
round trip) is paid once and a failure is reported by every check that needed it.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import commands
from ..errors import SmartmaintError
from ..static.database import parse_database_uri
from ..static.s3_store import named_endpoint
from ..static.stack_model import TRAINER_NAME, StackModel
from .compose_runner import EXEC_TIMEOUT_S, ComposeRunner, ProbeResult
from .engine_disk import EngineDisk, read_engine_disk
from .engine_endpoint import engine_endpoint
from .facts import (
    AudioRoundTrip,
    HttpAnswer,
    ImageConfig,
    Listener,
    MigrationHistory,
    ModelLoad,
    ProcessSettings,
    Reach,
    RegistryLoads,
    RegistryLookup,
    RunningImage,
    S3Access,
    ServerFacts,
    ServiceFacts,
    ServingAnswer,
    SmokeModel,
    SmokeModelRemoved,
    TestTooling,
    WriteBurst,
    parse_listeners,
)
from .isolation import Isolation
from .once import Once, OnceEach
from .probing import probe, probe_each

if TYPE_CHECKING:
    from testinfra.host import Host

    from .stopped import ContainerState


class LiveStack:
    """The running stack, and the in-container facts every live check shares."""

    def __init__(
        self,
        model: StackModel,
        runner: ComposeRunner,
        owned: bool,
        isolation: Isolation | None = None,
        exclusive: bool = True,
        worker: str | None = None,
        min_free_gb: float = 10.0,
    ) -> None:
        self.model = model
        self.min_free_gb = min_free_gb  # ini smartmaint_min_free_gb
        self.runner = runner
        self.owned = owned  # False for --smartmaint-project: never recreate or stop anything
        self.exclusive = exclusive  # no other process runs checks on it meanwhile (xdist without loadgroup: False)
        self.isolation = isolation
        # one smoke model per process: each xdist worker registers and removes its own
        self.smoke_name = f"smartmaint-smoke-{runner.project}" + (f"-{worker}" if worker else "")
        # what is read once per session, each in a typed cell (its value, or the error every later caller gets)
        self._states: Once[dict[str, ContainerState]] = Once()
        self._facts: OnceEach[str, ServiceFacts] = OnceEach()
        self._smoke: Once[SmokeModel] = Once()
        self._loads: OnceEach[str, ModelLoad] = OnceEach()
        self._audio: OnceEach[str, AudioRoundTrip] = OnceEach()
        self._registry: OnceEach[str, RegistryLoads] = OnceEach()
        self._engine_disk: Once[EngineDisk | None] = Once()
        self._listeners: OnceEach[str, tuple[Listener, ...]] = OnceEach()
        self._migrations: OnceEach[str, MigrationHistory] = OnceEach()
        self.stopped_reported_at: dict[str, str] = {}  # a stopped service -> the item that reported it in full

    def stopped_finding(self, services: Sequence[str], item: str, fresh: bool = False) -> str | None:
        """If one of ``services`` is not running: the finding (in full at the first item that meets it,
        else a pointer to that item); None when they all run. The containers' states are read once
        before the checks, and again (``fresh``) when an item fails."""
        from .stopped import container_states, find_stopped, settled_states

        def settled() -> dict[str, ContainerState]:
            unwatched = {n for n, s in self.model.project.services.items() if not s.has_healthcheck}
            return settled_states(self.runner, unwatched)

        states = container_states(self.runner) if fresh else self._states.get(settled)
        stopped = find_stopped(self.runner, self.model, tuple(dict.fromkeys(services)), states)
        if not stopped:
            return None
        parts = []
        for found in stopped:
            first = self.stopped_reported_at.setdefault(found.service, item)
            parts.append(
                found.message(self.project)
                if first == item
                else f"{found.service} is not running (exit code {found.exit_code}); the finding is reported once, "
                f"at {first}"
            )
        return "\n\n".join(parts)

    @property
    def project(self) -> str:
        return self.runner.project

    def _batch(self, services: Sequence[str]) -> Sequence[str]:
        """The services a costly per-service probe (a model load, the audio round trip) runs in at once, side by
        side: all of them where this process runs every live item; else (other xdist workers run some of the
        items) none but the one asked for, so that no container does that work twice."""
        return services if self.exclusive else ()

    def facts(self, service: str) -> ServiceFacts:
        """uid, gid, mounts, packages and a tracking-API probe: one exec per service per session, every service
        at once (a light probe that the checks of every worker need for most services)."""
        services = sorted(self.model.project.services)
        return self._facts.get(service, services, lambda todo: probe_each(self.runner, todo, ServiceFacts))

    def trainer(self) -> str:
        """The service that trains the smoke model: named or detected from the files, else from the containers."""
        roles = self.model.roles
        if roles.trainer is not None:
            return roles.trainer
        unread = [c for c in roles.clients if c in roles.unread]
        with_mlflow, unreadable = [], []
        for client in unread:
            try:
                if self._has(client, "scikit-learn") and (
                    self._has(client, "mlflow") or self._has(client, "mlflow-skinny")
                ):
                    with_mlflow.append(client)
            except SmartmaintError as exc:  # said, not taken for "it has no mlflow"
                unreadable.append(f"{client}: {str(exc).splitlines()[0]}")
        with_mlflow.sort(key=lambda n: not TRAINER_NAME.search(n))
        if not with_mlflow:
            looked = f" (looked inside {', '.join(unread)}: none has mlflow and scikit-learn)" if unread else ""
            failed = f"; the packages of {'; '.join(unreadable)}" if unreadable else ""
            raise SmartmaintError(
                f"no service can train the smoke model: no MLflow client has mlflow and scikit-learn"
                f"{looked}{failed}. Name one with the ini option smartmaint_trainer."
            )
        return with_mlflow[0]

    def is_audio_service(self, service: str) -> bool:
        """Named or detected from the files, or (prebuilt image) librosa is installed in its container."""
        return service in self.model.roles.audio or (
            service in self.model.roles.unread and self._has(service, "librosa")
        )

    def _audio_or_unknown(self, service: str) -> bool:
        """Another candidate's probe failing is its own item's error, not this one's."""
        try:
            return self.is_audio_service(service)
        except SmartmaintError:
            return False

    def _has(self, service: str, package: str) -> bool:
        """Whether ``service``'s container has ``package``; a probe that fails raises, saying so."""
        return bool(self.facts(service).packages.get(package))

    def smoke_model(self) -> SmokeModel:
        """The smoke model, trained and registered once from the training service."""
        trainer = self.trainer()
        arg = {"name": self.smoke_name, "experiment": "smartmaint-smoke"}
        return self._smoke.get(lambda: probe(self.runner, trainer, SmokeModel, arg))

    def model_load(self, consumer: str) -> ModelLoad:
        """models:/NAME/VERSION of the smoke model as ``consumer`` loads it (once; every consumer at once where
        this process runs every live item)."""
        smoke = self.smoke_model()
        arg = {"name": self.smoke_name, **smoke.as_arg(), "s3_endpoint": named_endpoint(self.model)}
        consumers = self._batch(self.model.roles.consumers)
        return self._loads.get(consumer, consumers, lambda todo: probe_each(self.runner, todo, ModelLoad, arg))

    def reload_smoke_model(self, consumer: str) -> ModelLoad:
        """The smoke model loaded again in ``consumer``, now (not remembered): after a restart or a recreate."""
        arg = {"name": self.smoke_name, **self.smoke_model().as_arg(), "s3_endpoint": named_endpoint(self.model)}
        return probe(self.runner, consumer, ModelLoad, arg)

    def audio_roundtrip(self, service: str) -> AudioRoundTrip:
        """The audio stack's imports and a WAV round trip in ``service`` (once; every audio service at once where this
        process runs every live item)."""
        candidates = self._batch(self.model.roles.audio_candidates)
        services = [s for s in candidates if s == service or self._audio_or_unknown(s)]
        return self._audio.get(service, services, lambda todo: probe_each(self.runner, todo, AudioRoundTrip))

    def listeners(self, service: str) -> tuple[Listener, ...]:
        """The TCP ports ``service`` listens on, and at which address (once per service per session)."""

        def read() -> tuple[Listener, ...]:
            done = self.runner.run(service, "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null", timeout=60)
            if done.rc != 0 and not done.stdout:
                raise SmartmaintError(f"cannot read the listening sockets of {service}: {done.stderr.strip()[-300:]}")
            return parse_listeners(done.stdout)

        return self._listeners.one(service, read)

    def reach(self, source: str, target: str, ports: Sequence[int], http_ports: Sequence[int]) -> Reach:
        """From inside ``source``: resolve ``target`` by name and connect to each port (HTTP ones get a request)."""
        arg = {"host": target, "ports": list(ports), "http_ports": list(http_ports), "timeout": 5}
        return probe(self.runner, source, Reach, arg, timeout=30 + 6 * len(ports))

    def running_image(self, service: str) -> RunningImage | None:
        """The image ``service``'s running container runs, its build config, and the copied files' hashes in it."""
        container = self.runner.container(service)
        if container is None:
            return None
        inspected = commands.run(
            ["docker", "inspect", "--format", "{{.Image}} {{.Config.Image}}", container], timeout=30
        )
        if inspected.returncode != 0 or len(inspected.stdout.split()) != 2:
            raise SmartmaintError(f"cannot inspect the container {container}: {inspected.stderr.strip()[-300:]}")
        image_id, reference = inspected.stdout.split()
        image = commands.run(["docker", "image", "inspect", image_id], timeout=30)
        if image.returncode != 0:
            raise SmartmaintError(f"cannot inspect the image {image_id} of {container}: {image.stderr.strip()[-300:]}")
        current = commands.run(["docker", "image", "inspect", "--format", "{{.Id}}", reference], timeout=30)
        facts = self.model.images.get(service)
        paths = [dest for _, dest in facts.copied_files] if facts else []
        hashes: dict[str, str] = {}
        if paths:
            done = self.runner.run(service, "sha256sum " + " ".join(shlex.quote(p) for p in paths) + " 2>/dev/null")
            for line in done.stdout.splitlines():
                digest, _, path = line.partition("  ")
                if path:
                    hashes[path] = digest
        return RunningImage(
            container,
            reference,
            ImageConfig.parse(json.loads(image.stdout)[0]),
            current.stdout.strip() if current.returncode == 0 else None,
            hashes,
        )

    def test_tooling(self, service: str, plugins: Sequence[str]) -> TestTooling:
        """pytest and the named plugin distributions, imported in ``service``; `pytest --version` run there."""
        return probe(self.runner, service, TestTooling, {"plugins": list(plugins)})

    def engine_disk(self) -> EngineDisk | None:
        """The engine's free disk and reclaimable space, read once per session."""
        return self._engine_disk.get(lambda: read_engine_disk(self.model.image_names()))

    def server_facts(self) -> ServerFacts:
        """The server's running processes and its SQLite file's tables, as its own container sees them."""
        server = self.model.server
        if server is None:
            raise SmartmaintError("the compose project has no MLflow server")
        database = server.backend_store_uri.value if parse_database_uri(server.backend_store_uri.value) else None
        arg = {"db": server.sqlite_path, "uri": database}
        return probe(self.runner, server.service, ServerFacts, arg)

    def migrations(self, service: str) -> MigrationHistory:
        """The MLflow release in ``service`` and the schema revisions its migrations know (once per service)."""
        return self._migrations.one(service, lambda: probe(self.runner, service, MigrationHistory))

    def s3_access(self, service: str, bucket: str, prefix: str, expected_endpoint: str | None) -> S3Access:
        """The S3 artifact store as ``service`` reaches it: ``prefix`` of ``bucket`` listed with its own settings.

        ``expected_endpoint``: the endpoint the stack names elsewhere; without one of its own, the service then
        sends nothing (its boto3 would go to AWS)."""
        arg = {"bucket": bucket, "prefix": prefix, "expected": expected_endpoint}
        return probe(self.runner, service, S3Access, arg, timeout=90)

    def serving_answer(self, caller: str, url: str, body: str, timeout: float) -> ServingAnswer:
        """``body`` POSTed to ``url`` from ``caller``'s container, as another service of the stack calls the API
        (not remembered: each call is a request)."""
        return probe(self.runner, caller, ServingAnswer, {"url": url, "body": body, "timeout": timeout})

    def process_settings(self, service: str) -> ProcessSettings:
        """The MLflow and AWS settings each process of ``service`` was started with (not remembered)."""
        return probe(self.runner, service, ProcessSettings)

    def write_burst(self, client: str, writers: int, runs: int) -> WriteBurst:
        """``writers`` concurrent writers, ``runs`` runs each, from ``client`` to the server (not remembered)."""
        arg = {"writers": writers, "runs": runs, "experiment": f"smartmaint-burst-{self.project}"}
        return probe(self.runner, client, WriteBurst, arg, timeout=300)

    def registry_lookup(self, version: str) -> HttpAnswer:
        """Does the registry hold the smoke model's ``version``? Asked over plain HTTP from an MLflow client."""
        try:
            client = self.trainer()
        except SmartmaintError:
            client = self.model.roles.clients[0]
        return probe(self.runner, client, RegistryLookup, {"name": self.smoke_name, "version": version}).answer

    def cycle_service(self, service: str, step: str) -> str | None:
        """``restart``, ``recreate`` (a new container) or ``renew`` (a new container with new anonymous volumes,
        as `down` then `up` gives) one service, then wait until it and the server are healthy.

        Returns None when they came back, else compose's output. Only on a stack the plugin started.
        """
        server = self.model.server
        if server is None or not self.owned:
            raise SmartmaintError("services are restarted only on a stack the plugin started")
        return self.runner.cycle(service, step, (server.service,))

    # --- the public API (the smartmaint_stack fixture) -------------------------------------

    def exec(self, service: str, command: str | Sequence[str], timeout: float = EXEC_TIMEOUT_S) -> ProbeResult:
        """Run ``command`` (a shell string, or an argv list that is quoted for you) in the service's container.

        A one-shot service that has exited is run with ``docker compose run --rm`` (same image, user, mounts).
        ``.check_output()`` on the result raises, naming the service and command, when it exits non-zero.
        """
        text = command if isinstance(command, str) else shlex.join(command)
        return self.runner.run(service, text, timeout)

    def published(self, service: str, port: int, protocol: str = "tcp") -> str | None:
        """``host:port`` that reaches the service's container ``port`` from this machine; None if unpublished,
        or published only on the loopback of a remote engine's machine. On a remote engine the host is the
        engine's (DOCKER_HOST, the docker context's endpoint)."""
        address = self.runner.port(service, port, protocol)
        if not address or address.endswith(":0"):
            return None
        host, _, bound = address.rpartition(":")  # an address of the engine's machine
        engine = engine_endpoint()
        if engine.remote and not engine.loopback and host in ("127.0.0.1", "::1", "[::1]", "localhost"):
            return None
        if host in ("0.0.0.0", "::", "[::]", "") or (engine.remote and not engine.loopback):
            host = engine.host
        return f"{host}:{bound}"

    def node_of(self, service: str) -> str | None:
        """The swarm node that runs the service's task; None on compose (one engine)."""
        from .swarm_runner import SwarmRunner

        return self.runner.node_of(service) if isinstance(self.runner, SwarmRunner) else None

    def logs(self, service: str, lines: int = 200) -> str:
        """The service's last ``lines`` log lines."""
        return self.runner.logs([service], lines)

    def host(self, service: str) -> Host:
        """A testinfra Host on the service's running container."""
        import testinfra

        container = self.runner.container(service)
        if container is None:
            node = self.node_of(service)
            raise SmartmaintError(
                f"service {service}'s task runs on swarm node {node}, and testinfra reaches this node's engine only: "
                "use smartmaint_stack.exec() instead"
                if node
                else f"service {service} has no running container in project {self.project} "
                "(a one-shot job that exited?): use smartmaint_stack.exec() instead"
            )
        return testinfra.get_host(f"docker://{container}")

    def handle(self, exclusive: bool) -> StackHandle:
        from .swarm_runner import SwarmRunner

        engines = tuple(self.runner.engines.items()) if isinstance(self.runner, SwarmRunner) else None
        return StackHandle(self.project, tuple(str(f) for f in self.runner.files), self.owned, exclusive, engines)

    def registry_loads(self, consumer: str) -> dict[str, str]:
        """The latest version of every registered model as ``consumer`` loads it: "ok", or the error
        (once; every consumer at once where this process runs every live item)."""
        arg = {"skip_prefix": "smartmaint-smoke-"}
        consumers = self._batch(self.model.roles.consumers)
        loads = self._registry.get(consumer, consumers, lambda todo: probe_each(self.runner, todo, RegistryLoads, arg))
        return dict(loads.models)

    def remove_smoke_model(self) -> None:
        """On a stack the plugin did not start: delete what it registered (model, run, artifacts)."""
        smoke = self._smoke.peek()
        if smoke is not None:
            probe(self.runner, self.trainer(), SmokeModelRemoved, {"name": self.smoke_name, **smoke.as_arg()})


@dataclass(frozen=True)
class StackHandle:
    """What another process (an xdist worker) needs to use a stack this one brought up."""

    project: str
    files: tuple[str, ...]
    owned: bool
    exclusive: bool  # False: other processes run checks on it at the same time
    swarm_engines: tuple[tuple[str, str], ...] | None = None  # a swarm stack (the project is its name): node engines

    def attach(self, model: StackModel, worker: str, min_free_gb: float) -> LiveStack:
        from .swarm_runner import SwarmRunner

        files = [Path(f) for f in self.files]
        runner = (
            ComposeRunner(files, self.project)
            if self.swarm_engines is None
            else SwarmRunner(files, self.project, dict(self.swarm_engines))
        )
        return LiveStack(
            model, runner, owned=self.owned, exclusive=self.exclusive, worker=worker, min_free_gb=min_free_gb
        )
