"""Everything the checks know before any container runs: compose model, image facts, roles.

Roles are detected with no configuration (README, "ini settings": the server runs `mlflow server`,
clients set MLFLOW_TRACKING_URI or depend on it...) and can be named in ini options instead;
``Roles.sources`` says, for the report header, where each came from.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import SmartmaintError
from ..settings import ROLE_INI, Settings
from .compose import ComposeProject, Service, load_project
from .image_facts import Identity, ImageFacts, read_image_facts, resolve_user
from .mlflow_server import ServerSettings, image_tag_version, mlflow_version, resolve

_MLFLOW_SERVER = re.compile(r"(^|[\s/])mlflow\s+server(\s|$)")
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

    def service(self, name: str) -> Service:
        return self.project.services[name]

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
        project=project, images=images, roles=roles, server=server, build_context_max_mb=settings.build_context_max_mb
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


def server_settings(service: Service, image: ImageFacts | None) -> ServerSettings:
    argv, source = _argv(service, image)
    spec = None
    version = image_tag_version(service.image) if image is None else None
    if image is not None and image.declares("mlflow"):
        spec = str(image.python_packages["mlflow"].specifier)
        version = mlflow_version(spec)
    workdir = service.working_dir or (image.workdir if image else "/")
    return resolve(service.name, argv, source, service.environment, image.env if image else {}, workdir, version, spec)


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

    servers = [n for n, s in project.services.items() if _MLFLOW_SERVER.search(" ".join(_argv(s, images[n])[0]))]
    server_list = chosen("server", servers[:1], "detected: command runs `mlflow server`")
    server = server_list[0] if server_list else None
    detected_clients = [
        n
        for n, s in project.services.items()
        if n != server and ("MLFLOW_TRACKING_URI" in s.environment or (server and server in s.depends_on))
    ]
    clients = chosen("clients", detected_clients, "detected: MLFLOW_TRACKING_URI or depends_on the server")
    with_mlflow = [n for n in clients if (img := images.get(n)) is not None and img.declares("mlflow")]
    with_mlflow.sort(key=lambda n: not TRAINER_NAME.search(n))  # stable: name hint first, then name order
    unread = tuple(n for n, img in images.items() if img is None)
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
        tests=tuple(tests),
        server=server,
        clients=tuple(clients),
        trainer=trainer[0] if trainer else None,
        consumers=tuple(consumers),
        audio=tuple(audio),
        sources=sources,
        unread=unread,
    )
