"""The compose project exactly as compose resolves it.

Parsing is left to ``docker compose config --format json``, so interpolation, ``.env``,
profiles, ``extends`` and override files behave as they do for ``docker compose up``.
This module only turns compose's canonical JSON into typed, immutable records.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import commands
from ..errors import SmartmaintError

CONFIG_TIMEOUT_S = 60  # `docker compose config` needs no engine: it takes ~0.1 s
ENV_EXAMPLE_NAMES = (".env.example", ".env.sample", ".env.template", "env.example", ".env.dist")


@dataclass(frozen=True)
class Mount:
    kind: str  # "bind", "volume", "tmpfs", ...
    source: str  # absolute host path for a bind, the volume's key for a named volume
    target: str
    read_only: bool
    label: str  # how a user writes the source: "./mlflow_data" or "mlflow_data"
    declared_in: str = "volumes"  # the service's key that declares it: "volumes" or "tmpfs"

    def covers(self, path: str) -> bool:
        """Whether ``path`` inside the container lies on this mount."""
        target = self.target.rstrip("/") or "/"
        return path == target or path.startswith(target.rstrip("/") + "/")


@dataclass(frozen=True)
class Port:
    target: int
    published: str | None  # None or "": ephemeral
    host_ip: str | None
    protocol: str


@dataclass(frozen=True)
class Build:
    context: Path
    dockerfile: Path
    args: Mapping[str, str]
    target: str | None
    inline: str | None = None  # `dockerfile_inline`: the Dockerfile's text, no file


@dataclass(frozen=True)
class Deploy:
    """The service's ``deploy:`` as Swarm reads it (compose itself reads only replicas and resources)."""

    mode: str = "replicated"  # or "global": one task on every node
    replicas: int | None = None  # None: not written (Swarm's default, 1)
    constraints: tuple[str, ...] = ()  # placement constraints, as written ("node.hostname == a")
    update_order: str | None = None  # update_config.order: None is Swarm's default, stop-first
    rollback_order: str | None = None
    restart_condition: str | None = None  # restart_policy.condition: None is Swarm's default, any


@dataclass(frozen=True)
class TopVolume:
    """A volume of the top-level ``volumes:``."""

    key: str
    driver: str | None = None  # None: the engine's default, local
    driver_opts: Mapping[str, str] = field(default_factory=dict)
    external: bool = False


@dataclass(frozen=True)
class Service:
    name: str
    image: str | None
    build: Build | None
    user: str | None
    environment: Mapping[str, str | None]
    command: tuple[str, ...] | None
    entrypoint: tuple[str, ...] | None
    depends_on: tuple[str, ...]
    mounts: tuple[Mount, ...]
    working_dir: str | None
    aliases: frozenset[str]  # names other containers can reach this service by
    has_healthcheck: bool
    restart: str | None
    ports: tuple[Port, ...] = ()
    networks: frozenset[str] = frozenset({"default"})  # the compose networks it joins
    network_mode: str | None = None  # host, none, service:<name>, container:<id>: no compose networks
    expose: tuple[int, ...] = ()  # `expose:` container ports
    healthcheck: tuple[str, ...] = ()  # the healthcheck's test, as compose gives it
    depends_conditions: Mapping[str, str] = field(default_factory=dict)  # depends_on target -> its condition
    container_name: str | None = None  # a fixed name: one container per engine, whatever the project
    replicas: int = 1  # `deploy.replicas` or `scale`: containers compose starts for the service
    deploy: Deploy = Deploy()

    def declared_ports(self) -> tuple[int, ...]:
        """Container ports the compose file says the service listens on (`expose:`, `ports:`)."""
        return tuple(sorted({*self.expose, *(p.target for p in self.ports if p.protocol == "tcp")}))

    def mount_of(self, source: str) -> Mount | None:
        return next((m for m in self.mounts if m.source == source), None)

    def mount_covering(self, path: str) -> Mount | None:
        """The mount that ``path`` lies on; the deepest one wins, as in the kernel."""
        covering = [m for m in self.mounts if m.covers(path)]
        return max(covering, key=lambda m: len(m.target), default=None)


@dataclass(frozen=True)
class ComposeProject:
    name: str
    directory: Path
    files: tuple[Path, ...]
    services: Mapping[str, Service] = field(default_factory=dict)
    volumes: Mapping[str, TopVolume] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)  # compose's JSON, as given

    def service(self, name: str) -> Service:
        return self.services[name]

    def sharers(self, source: str) -> list[tuple[Service, Mount]]:
        return [(s, m) for s in self.services.values() for m in s.mounts if m.source == source]


def compose_base_command(files: Sequence[Path], project_name: str | None = None) -> list[str]:
    command = ["docker", "compose"]
    for path in files:
        command += ["-f", str(path)]
    if project_name:
        command += ["-p", project_name]
    return command


def load_project(files: Sequence[Path], env: Mapping[str, str] | None = None) -> ComposeProject:
    """Run ``docker compose config`` over ``files`` and parse its JSON."""
    for path in files:
        if not path.is_file():
            raise SmartmaintError(
                f"compose file {path} does not exist. Pass an existing file with "
                "--smartmaint-compose-file PATH, or set smartmaint_compose_files in your pytest config."
            )
    command = compose_base_command(files) + ["config", "--format", "json"]
    if shutil.which(command[0]) is None:
        ensure_compose_v2()  # names what is missing and how to install it
    result = commands.run(command, timeout=CONFIG_TIMEOUT_S, env=env)
    if result.returncode != 0:
        ensure_compose_v2()  # diagnose only on failure: the happy path pays for one compose call
        raise SmartmaintError(_explain_config_error(result.stderr.strip(), files))
    try:
        raw = json.loads(result.stdout)
    except json.JSONDecodeError as exc:  # compose printed something else: report it verbatim
        raise SmartmaintError(f"`{' '.join(command)}` printed no JSON ({exc}): {result.stdout[:500]}") from exc
    return parse_config(raw, files)


def ensure_compose_v2() -> None:
    if shutil.which("docker") is None:
        raise SmartmaintError(
            "the docker CLI is not on PATH. pytest-smartmaint reads the stack with "
            "`docker compose config`: install the docker CLI and the Compose v2 plugin."
        )
    probe = commands.run(["docker", "compose", "version", "--short"], timeout=CONFIG_TIMEOUT_S)
    version = probe.stdout.strip().lstrip("v")
    if probe.returncode != 0 or not version[:1].isdigit() or int(version.split(".")[0]) < 2:
        v1 = " (only the end-of-life docker-compose v1 is installed)" if shutil.which("docker-compose") else ""
        raise SmartmaintError(
            f"Compose v2 (`docker compose`) is not available{v1}. Install the Compose v2 CLI plugin "
            "(e.g. at ~/.docker/cli-plugins/docker-compose) so that `docker compose version` answers v2.x."
        )


def _explain_config_error(stderr: str, files: Sequence[Path]) -> str:
    names = ", ".join(str(f) for f in files) or "compose's default files in the current directory"
    missing_env = re.search(r"env file (\S+) not found", stderr)
    if missing_env:
        env_file = Path(missing_env.group(1))
        example = next((env_file.parent / n for n in ENV_EXAMPLE_NAMES if (env_file.parent / n).is_file()), None)
        how = (
            f"create it from the example: cp {example} {env_file}"
            if example
            else f"create {env_file}, or mark it optional in the compose file (env_file: "
            f"[{{path: ..., required: false}}])"
        )
        return (
            f"the compose project ({names}) names an env_file that does not exist: {env_file}. "
            f"A fresh clone usually has no .env: {how}."
        )
    if "no configuration file provided" in stderr:
        return (
            "no compose file found: there is no docker-compose.test.yml here and compose found none of its "
            "default files (compose.yaml, docker-compose.yml) in the current directory. "
            "Pass --smartmaint-compose-file PATH or set smartmaint_compose_files in your pytest config."
        )
    return f"`docker compose config` rejected the compose project ({names}):\n{stderr}"


def parse_config(raw: Mapping[str, Any], files: Sequence[Path]) -> ComposeProject:
    directory = files[0].resolve().parent if files else Path.cwd()
    services = {name: _parse_service(name, spec, directory) for name, spec in sorted(raw.get("services", {}).items())}
    return ComposeProject(
        name=str(raw.get("name", directory.name)),
        directory=directory,
        files=tuple(f.resolve() for f in files),
        services=services,
        volumes={
            key: TopVolume(
                key,
                (spec or {}).get("driver"),
                {str(k): str(v) for k, v in ((spec or {}).get("driver_opts") or {}).items()},
                bool((spec or {}).get("external")),
            )
            for key, spec in sorted((raw.get("volumes") or {}).items())
        },
        config=raw,
    )


def _parse_service(name: str, spec: Mapping[str, Any], directory: Path) -> Service:
    build_spec = spec.get("build")
    build = None
    if build_spec:
        context = Path(build_spec.get("context", "."))
        dockerfile = Path(build_spec.get("dockerfile", "Dockerfile"))
        build = Build(
            context=context,
            dockerfile=dockerfile if dockerfile.is_absolute() else context / dockerfile,
            args={k: str(v) for k, v in (build_spec.get("args") or {}).items() if v is not None},
            target=build_spec.get("target"),
            inline=build_spec.get("dockerfile_inline"),
        )
    aliases = {name}
    for key in ("container_name", "hostname"):
        if spec.get(key):
            aliases.add(str(spec[key]))
    for network in (spec.get("networks") or {}).values():
        aliases.update((network or {}).get("aliases") or [])
    depends = spec.get("depends_on") or {}
    return Service(
        name=name,
        image=spec.get("image"),
        build=build,
        user=str(spec["user"]) if spec.get("user") is not None else None,
        environment={k: (None if v is None else str(v)) for k, v in (spec.get("environment") or {}).items()},
        command=_argv(spec.get("command")),
        entrypoint=_argv(spec.get("entrypoint")),
        depends_on=tuple(sorted(depends)),
        mounts=tuple(_parse_mount(name, m, directory) for m in spec.get("volumes") or [])
        + tuple(_tmpfs_mount(name, entry) for entry in _as_list(spec.get("tmpfs"))),
        working_dir=spec.get("working_dir"),
        aliases=frozenset(aliases),
        has_healthcheck=bool(spec.get("healthcheck")) and not (spec.get("healthcheck") or {}).get("disable"),
        restart=spec.get("restart"),
        ports=tuple(
            Port(
                int(p["target"]),
                str(p["published"]) if p.get("published") else None,
                p.get("host_ip"),
                str(p.get("protocol", "tcp")),
            )
            for p in spec.get("ports") or []
        ),
        networks=frozenset(spec.get("networks") or ({} if spec.get("network_mode") else {"default": None})),
        network_mode=spec.get("network_mode"),
        expose=tuple(int(str(e).split("/")[0].split("-")[0]) for e in spec.get("expose") or []),
        healthcheck=tuple(str(t) for t in _as_list((spec.get("healthcheck") or {}).get("test"))),
        depends_conditions={str(k): str((v or {}).get("condition", "service_started")) for k, v in depends.items()}
        if isinstance(depends, dict)
        else {str(k): "service_started" for k in depends},
        container_name=str(spec["container_name"]) if spec.get("container_name") else None,
        replicas=_replicas(spec),
        deploy=_deploy(spec.get("deploy") or {}),
    )


def _deploy(spec: Mapping[str, Any]) -> Deploy:
    replicas = spec.get("replicas")
    return Deploy(
        mode=str(spec.get("mode") or "replicated"),
        replicas=int(replicas) if isinstance(replicas, int | str) and str(replicas).isdigit() else None,
        constraints=tuple(str(c) for c in (spec.get("placement") or {}).get("constraints") or []),
        update_order=(spec.get("update_config") or {}).get("order"),
        rollback_order=(spec.get("rollback_config") or {}).get("order"),
        restart_condition=(spec.get("restart_policy") or {}).get("condition"),
    )


def _replicas(spec: Mapping[str, Any]) -> int:
    counts = [spec.get("scale"), (spec.get("deploy") or {}).get("replicas")]
    return max([int(c) for c in counts if isinstance(c, int | str) and str(c).isdigit()] or [1])


def _argv(value: Any) -> tuple[str, ...] | None:
    """compose keeps ``$$`` (its escape for ``$``) in its output; the container sees ``$``."""
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    return tuple(str(v).replace("$$", "$") for v in items)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _tmpfs_mount(service: str, entry: str, declared_in: str = "tmpfs") -> Mount:
    """A ``tmpfs:`` entry (``/path[:options]``): memory of this one container, wiped at every stop."""
    target = os.path.normpath(entry.split(":", 1)[0])
    label = f"(tmpfs at {target})"
    return Mount(
        kind="tmpfs",
        source=f"{label} of {service}",
        target=target,
        read_only=False,
        label=label,
        declared_in=declared_in,
    )


def _parse_mount(service: str, spec: Mapping[str, Any], directory: Path) -> Mount:
    kind = str(spec.get("type", "volume"))
    if kind == "tmpfs":
        return _tmpfs_mount(service, str(spec.get("target", "")), declared_in="volumes")
    source = str(spec.get("source", ""))
    label = source
    if kind == "bind":
        try:
            relative = Path(source).relative_to(directory)
            label = "." if str(relative) == "." else f"./{relative.as_posix()}"
        except ValueError:
            label = source
    elif not source:  # an anonymous volume belongs to its one container
        label = f"(anonymous volume at {spec.get('target')})"
        source = f"{label} of {service}"
    return Mount(
        kind=kind,
        source=source,
        target=os.path.normpath(str(spec.get("target", ""))),
        read_only=bool(spec.get("read_only", False)),
        label=label,
    )
