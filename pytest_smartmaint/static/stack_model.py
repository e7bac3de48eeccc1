"""Everything the checks know before any container runs: compose model, image facts, roles.

Roles are detected with no configuration (README, "ini settings": the server runs `mlflow server`,
clients set MLFLOW_TRACKING_URI or depend on it...) and can be named in ini options instead;
``Roles.sources`` says, for the report header, where each came from.
"""

from __future__ import annotations

import importlib
import posixpath
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import SmartmaintError
from ..settings import ROLE_INI, ServingRequest, Settings
from .compose import ComposeProject, Service, load_project
from .image_facts import Identity, ImageFacts, read_image_facts, resolve_user
from .mlflow_server import (
    ScriptReader,
    ServerCommand,
    ServerSettings,
    image_tag_version,
    mlflow_version,
    resolve,
    server_command,
)

_PYTEST = re.compile(r"(^|[\s/])(pytest|py\.test)(\s|$)|-m\s+pytest\b")
TRAINER_NAME = re.compile(r"train|notebook|jupyter|runner|worker|job", re.IGNORECASE)


@dataclass(frozen=True)
class Roles:
    server: str | None
    clients: tuple[str, ...]
    trainer: str | None
    consumers: tuple[str, ...]
    audio: tuple[str, ...]
    sources: Mapping[str, str]
    tests: tuple[str, ...] = ()  # services that run the project's tests
    # Services whose images the files do not describe (prebuilt): the live tier reads their roles
    # (trainer, audio) from the running containers.
    unread: tuple[str, ...] = ()
    proxies: tuple[str, ...] = ()  # reverse proxies in front of the server: never clients
    other_servers: tuple[str, ...] = ()  # more `mlflow server`s (an --artifacts-only one): not clients
    unreadable_scripts: tuple[tuple[str, str], ...] = ()  # (service, script) the argv runs, not in the files

    @property
    def audio_candidates(self) -> tuple[str, ...]:
        """Audio services by the files, else every service whose image is not read here."""
        return self.audio if "ini" in self.sources.get("audio", "") else tuple(sorted({*self.audio, *self.unread}))


@dataclass(frozen=True)
class StackModel:
    project: ComposeProject
    images: Mapping[str, ImageFacts | None]  # None: an image we cannot read (no build section)
    roles: Roles
    server: ServerSettings | None
    build_context_max_mb: int = 200
    serving: ServingRequest | None = None  # ini smartmaint_serving_request
    swarm: bool = False  # the stack is meant for Swarm (--smartmaint-swarm, --smartmaint-swarm-stack)
    swarm_nodes: int | None = None  # the nodes of the swarm the run deploys to or checks; None: static only

    def service(self, name: str) -> Service:
        return self.project.services[name]

    def image_name(self, name: str) -> str:
        """The image the service runs: its ``image:``, or for one built with none the name compose gives it
        in the project's own builds (``<project>-<service>``)."""
        service = self.service(name)
        return service.image or f"{self.project.name}-{name}"

    def image_names(self) -> list[str]:
        return [self.image_name(name) for name in sorted(self.project.services)]

    def effective_user(self, name: str) -> EffectiveUser:
        """Who the service's container runs as, as far as the compose file and Dockerfile tell."""
        service = self.service(name)
        image = self.images.get(name)
        if service.user:
            identity = image.resolve_user(service.user) if image else resolve_user(service.user)
            return EffectiveUser(identity, "compose user:")
        same_image = service.image or (
            f"{image.dockerfile}#{service.build.target}" if image and service.build else None
        )
        if image is None:
            return EffectiveUser(
                Identity(None, None, "?"), f"image {service.image} (not built here: USER unknown)", same_image
            )
        if image.user:
            return EffectiveUser(image.resolve_user(image.user), "Dockerfile USER", same_image)
        if image.base_runs_as_root:
            return EffectiveUser(Identity("0", "0", "root"), "image default (root)", same_image)
        return EffectiveUser(
            Identity(None, None, "?"), f"USER of the base image {image.base_image} (not in the files)", same_image
        )


@dataclass(frozen=True)
class EffectiveUser:
    identity: Identity
    source: str  # where it comes from, in the user's terms
    same_image: str | None = None  # no `user:`: services running one image run as one user, known or not

    @property
    def known(self) -> bool:
        return self.identity.uid is not None


def build_model(settings: Settings) -> StackModel:
    # The docker SDK (for its .dockerignore matcher) takes ~0.25 s to import, about what
    # `docker compose config` takes to answer: import it meanwhile, off the main thread.
    prefetch = threading.Thread(target=_import_quietly, args=("docker.utils.build",), daemon=True)
    prefetch.start()
    try:
        project = load_project(settings.compose_files)
    finally:
        prefetch.join()  # nothing of it outlives this call
    images: dict[str, ImageFacts | None] = {}
    by_dockerfile: dict[tuple[Path, tuple[tuple[str, str], ...], str | None, str | None], ImageFacts] = {}
    for name, service in project.services.items():
        if service.build is None:
            images[name] = None
            continue
        key = (
            service.build.dockerfile,
            tuple(sorted(service.build.args.items())),
            service.build.target,
            service.build.inline,
        )
        if not service.build.context.is_dir() or (
            service.build.inline is None and not service.build.dockerfile.is_file()
        ):
            images[name] = None  # it cannot build: build-context says so, naming the service and the path
            continue
        if key not in by_dockerfile:
            by_dockerfile[key] = read_image_facts(service.build, name)
        images[name] = by_dockerfile[key]
    _inherit_sibling_bases(project, images)
    _share_built_images(project, images)
    roles = detect_roles(project, images, settings.roles)
    server = server_settings(project.services[roles.server], images[roles.server]) if roles.server else None
    return StackModel(
        project=project,
        images=images,
        roles=roles,
        server=server,
        build_context_max_mb=settings.build_context_max_mb,
        serving=settings.serving,
        swarm=settings.swarm_target,
    )


def _inherit_sibling_bases(project: ComposeProject, images: dict[str, ImageFacts | None]) -> None:
    """A Dockerfile whose FROM is the image another service builds starts from that image's facts."""
    built = {s.image: images[n] for n, s in project.services.items() if s.image and s.build is not None}
    for name, facts in images.items():
        seen: set[str] = set()
        while facts is not None and facts.base_image in built and facts.base_image not in seen:
            seen.add(facts.base_image)
            parent = built[facts.base_image]
            if parent is None or parent is facts:
                break
            facts = facts.on_top_of(parent)
        images[name] = facts


def _import_quietly(module: str) -> None:
    """Import ahead of use; a failure is left to the import that needs the module, which then reports it."""
    try:
        importlib.import_module(module)
    except Exception:
        pass


def _share_built_images(project: ComposeProject, images: dict[str, ImageFacts | None]) -> None:
    """A service that only names the image another service builds (``image: acme/ml``) runs that image."""
    built = {s.image: images[n] for n, s in project.services.items() if s.image and s.build is not None}
    for name, service in project.services.items():
        if service.build is None and service.image in built:
            images[name] = built[service.image]


def _argv(service: Service, image: ImageFacts | None) -> tuple[tuple[str, ...], str]:
    entrypoint = service.entrypoint if service.entrypoint is not None else (image.entrypoint if image else None)
    command = service.command if service.command is not None else (image.cmd if image else None)
    source = "compose command" if service.command is not None else "Dockerfile CMD"
    if service.entrypoint is not None:
        source = "compose entrypoint/command"
    return tuple(entrypoint or ()) + tuple(command or ()), source


def script_reader(service: Service, image: ImageFacts | None) -> ScriptReader:
    """Read a script the service runs from what the files show: a bind mount over its path (what the
    container sees first), else the build-context file a COPY put there."""
    workdir = service.working_dir or (image.known_workdir if image else None) or "/"

    def read(path: str) -> str | None:
        full = posixpath.normpath(posixpath.join(workdir, path))
        mount = service.mount_covering(full)
        if mount is not None:
            host = Path(mount.source) / posixpath.relpath(full, mount.target) if mount.kind == "bind" else None
            return _text(host) if host is not None and host.is_file() else None
        local = image.context_file_at(full) if image else None
        return _text(local) if local is not None else None

    return read


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def server_settings(service: Service, image: ImageFacts | None) -> ServerSettings:
    argv, source = _argv(service, image)
    spec = None
    version = image_tag_version(service.image) if image is None else image_tag_version(image.base_image)
    if image is not None and image.declares("mlflow"):
        spec = str(image.python_packages["mlflow"].specifier)
        version = mlflow_version(spec)
    workdir = service.working_dir or (image.known_workdir if image else None)
    env = image.env if image else {}
    read = script_reader(service, image)
    return resolve(service.name, argv, source, service.environment, env, workdir, version, spec, read)


PROXY_IMAGES = re.compile(r"(^|/)(nginx|traefik|caddy|haproxy|envoy|httpd|openresty|oauth2-proxy)[^/]*(:|@|$)")


def is_proxy(service: Service, image: ImageFacts | None) -> bool:
    """A reverse proxy or gateway in front of the server: by its image (nginx, traefik, ...)."""
    names = [service.image or "", image.base_image if image else ""]
    return any(PROXY_IMAGES.search(name) for name in names if name)


def talks_to_mlflow(service: Service, image: ImageFacts | None, server: str | None) -> bool:
    """Where the files show a service talks to MLflow: a tracking URI, or a depends_on the server and an
    image that installs mlflow (or one not built here, whose contents the live tier reads)."""
    if "MLFLOW_TRACKING_URI" in service.environment:
        return True
    if not server or server not in service.depends_on:
        return False
    return image is None or image.declares("mlflow") or image.declares("mlflow-skinny")


def _server_command(service: Service, image: ImageFacts | None) -> ServerCommand:
    env = {**(image.env if image else {}), **{k: v for k, v in service.environment.items() if v is not None}}
    return server_command(_argv(service, image)[0], env, script_reader(service, image))


def detect_roles(
    project: ComposeProject, images: Mapping[str, ImageFacts | None], named: Mapping[str, list[str]]
) -> Roles:
    known = set(project.services)
    for role, names in named.items():
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SmartmaintError(
                f"{ROLE_INI[role]} names {', '.join(unknown)}, which the compose project does not define. "
                f"Its services are: {', '.join(sorted(known))}."
            )
    sources: dict[str, str] = {}

    def chosen(role: str, detected: list[str], how: str) -> list[str]:
        if role in named:
            sources[role] = f"ini {ROLE_INI[role]}"
            return named[role]
        sources[role] = how
        return detected

    runs = {n: _server_command(s, images[n]) for n, s in project.services.items()}
    servers = [n for n, run in runs.items() if run.words is not None]
    servers.sort(key=lambda n: runs[n].artifacts_only)  # an --artifacts-only server keeps no tracking data
    how = "detected: command runs `mlflow server`" + (
        f" (through {runs[servers[0]].via})" if servers and runs[servers[0]].via else ""
    )
    server_list = chosen("server", servers[:1], how)
    server = server_list[0] if server_list else None
    proxies = tuple(n for n, s in project.services.items() if n != server and is_proxy(s, images[n]))
    detected_clients = [
        n
        for n, s in project.services.items()
        if n not in servers and n not in proxies and talks_to_mlflow(s, images[n], server)
    ]
    clients = chosen(
        "clients", detected_clients, "detected: MLFLOW_TRACKING_URI, or depends_on the server and has mlflow"
    )
    with_mlflow = [n for n in clients if (img := images.get(n)) is not None and img.declares("mlflow")]
    with_mlflow.sort(key=lambda n: not TRAINER_NAME.search(n))  # stable: name hint first, then name order
    # images the files show only in part: prebuilt, or built FROM an image the stack does not build (a company
    # ML base): the live tier completes their roles (trainer, audio) from the running containers
    unread = tuple(n for n, img in images.items() if img is None or not img.base_workdir_known)
    trainer_how = "detected: first client whose image installs mlflow"
    if not with_mlflow and any(c in unread for c in clients):
        trainer_how = "from the running containers: first client with mlflow and scikit-learn (images not built here)"
    trainer = chosen("trainer", with_mlflow[:1], trainer_how)
    consumers = chosen("consumers", list(clients), "detected: every client")
    audio_detected = [n for n, img in images.items() if img is not None and img.declares("librosa")]
    audio_how = "detected: image declares librosa"
    if unread:
        audio_how += f"; live: also {', '.join(unread)} if their containers have librosa"
    audio = chosen("audio", audio_detected, audio_how)
    runs_pytest = [n for n, s in project.services.items() if _PYTEST.search(" ".join(_argv(s, images[n])[0]))]
    tests = chosen("tests", runs_pytest, "detected: command or entrypoint runs pytest")
    return Roles(
        proxies=proxies,
        other_servers=tuple(n for n in servers if n != server),
        unreadable_scripts=tuple((n, run.unreadable) for n, run in runs.items() if run.unreadable),
        tests=tuple(tests),
        server=server,
        clients=tuple(clients),
        trainer=trainer[0] if trainer else None,
        consumers=tuple(consumers),
        audio=tuple(audio),
        sources=sources,
        unread=unread,
    )
