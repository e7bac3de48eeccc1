"""What a service's image will contain, read from its Dockerfile without building it.

dockerfile-parse does the parsing; this module reads the final stage (or the build
target) for CMD/ENTRYPOINT, ENV, USER, WORKDIR, the system packages it installs and the
Python dependency files it installs from, and reads those files' declared packages.
"""

from __future__ import annotations

import io
import json
import posixpath
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from dockerfile_parse import DockerfileParser
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..errors import SmartmaintError
from .compose import Build
from .install_steps import commands, install_steps
from .pyproject import read_pyproject

SYSTEM_INSTALLERS = (("apt-get", "install"), ("apt", "install"), ("apk", "add"), ("yum", "install"), ("dnf", "install"))


@dataclass(frozen=True)
class Account:
    """A user that a Dockerfile creates; None where the command leaves the id to the system."""

    uid: str | None
    gid: str | None


@dataclass(frozen=True)
class Identity:
    """Who a container runs as: numeric ids where known, and the text they were resolved from."""

    uid: str | None
    gid: str | None
    spec: str

    def __str__(self) -> str:
        if self.spec == f"{self.uid}:{self.gid}" or self.spec == self.uid:
            return self.spec
        known = ":".join(x for x in (self.uid, self.gid) if x is not None)
        return f"{self.spec} ({known})" if self.uid is not None else self.spec


WELL_KNOWN_USERS = {"root": Account("0", "0"), "nobody": Account("65534", "65534")}
WELL_KNOWN_GROUPS = {"root": "0", "nogroup": "65534"}
# Bases whose images run as root unless a Dockerfile says otherwise (official and common ML bases).
ROOT_BASES = re.compile(
    r"^(docker\.io/)?(library/)?(python|debian|ubuntu|alpine|busybox|buildpack-deps|fedora|rockylinux|"
    r"continuumio/[^:]+|condaforge/[^:]+|nvidia/cuda|pytorch/pytorch|tensorflow/tensorflow|"
    r"ghcr\.io/mlflow/mlflow|scratch)(:|@|$)"
)
# Bases whose working directory is / (no WORKDIR of their own): other images' WORKDIR is not in the files.
WORKDIR_ROOT_BASES = re.compile(
    r"^(docker\.io/)?(library/)?(python|debian|ubuntu|alpine|busybox|buildpack-deps|fedora|rockylinux|"
    r"nvidia/cuda|scratch)(:|@|$)"
)


@dataclass(frozen=True)
class ContextCopy:
    """One COPY/ADD from a build context: what BuildKit transfers, and where it lands in the image."""

    context: Path
    sources: tuple[str, ...]  # as written, relative to the context
    dest: str  # absolute path in the image
    into_dir: bool  # the sources land inside dest (dest ends in / or there are several)

    @property
    def whole_context(self) -> bool:
        """``COPY . .`` and the like: everything that .dockerignore lets through, nothing chosen by name."""
        return any(posixpath.normpath(s) in (".", "/") or s in ("*", "./*") for s in self.sources)

    @property
    def resolvable(self) -> bool:
        return not any("$" in s or "://" in s for s in self.sources)

    def file_at(self, container_path: str) -> Path | None:
        """The context file this copy puts at ``container_path``, if it does."""
        for source in self.sources:
            local = self.context / source
            landing = posixpath.join(self.dest, posixpath.basename(source.rstrip("/"))) if self.into_dir else self.dest
            if local.is_file() and container_path == landing:
                return local
            if local.is_dir() and container_path.startswith(self.dest.rstrip("/") + "/"):
                candidate = local / posixpath.relpath(container_path, self.dest)
                if candidate.is_file():
                    return candidate
        return None


@dataclass(frozen=True)
class ImageFacts:
    dockerfile: Path
    base_image: str
    cmd: tuple[str, ...] | None
    entrypoint: tuple[str, ...] | None
    env: Mapping[str, str]
    user: str | None
    workdir: str
    system_packages: frozenset[str]
    python_packages: Mapping[str, Requirement]  # canonical name -> declared requirement
    dependency_files: tuple[Path, ...] = field(default=())
    removed_python_packages: frozenset[str] = frozenset()  # `pip uninstall`ed in this stage
    sets_workdir: bool = True
    users: Mapping[str, Account] = field(default_factory=dict)  # created by useradd/adduser in its stages
    groups: Mapping[str, str] = field(default_factory=dict)  # group name -> gid (groupadd/addgroup)
    base_runs_as_root: bool = True  # no USER anywhere: the base image's user, root for well-known bases
    # a plain OS or Python base (its WORKDIR is /, it holds no ML packages): what the image holds is in the
    # files; on any other base not built by the stack, the files show only what this Dockerfile adds
    base_workdir_known: bool = True
    exposed_ports: tuple[int, ...] = ()  # EXPOSE in the built stage's FROM chain (tcp)
    literal_env: Mapping[str, str] = field(default_factory=dict)  # ENV values with no $ reference, as written
    copied_files: tuple[tuple[Path, str], ...] = ()  # (build-context file, its path in the image), plain COPY/ADD
    run_lines: tuple[str, ...] = ()  # every RUN of the built chain and the stages it copies from
    context_copies: tuple[ContextCopy, ...] = ()  # every COPY/ADD from a build context, in the built chain
    declared_volumes: tuple[str, ...] = ()  # VOLUME paths of the built chain: anonymous volumes where nothing mounts

    def context_file_at(self, container_path: str) -> Path | None:
        """The build-context file a COPY put at ``container_path`` (the last COPY wins, as in the image)."""
        return next((f for c in reversed(self.context_copies) if (f := c.file_at(container_path))), None)

    def declares(self, package: str) -> bool:
        return canonicalize_name(package) in self.python_packages

    def on_top_of(self, parent: ImageFacts) -> ImageFacts:
        """These facts for a Dockerfile whose FROM is ``parent``'s image (built by another service)."""
        kept = {n: r for n, r in parent.python_packages.items() if n not in self.removed_python_packages}
        return replace(
            self,
            cmd=self.cmd if self.cmd is not None else parent.cmd,
            entrypoint=self.entrypoint if self.entrypoint is not None else parent.entrypoint,
            env={**parent.env, **self.env},
            user=self.user or parent.user,
            workdir=self.workdir if self.sets_workdir else parent.workdir,
            system_packages=parent.system_packages | self.system_packages,
            literal_env={**parent.literal_env, **self.literal_env},
            copied_files=parent.copied_files + self.copied_files,
            run_lines=parent.run_lines + self.run_lines,
            context_copies=parent.context_copies + self.context_copies,
            exposed_ports=tuple(sorted({*parent.exposed_ports, *self.exposed_ports})),
            declared_volumes=tuple(dict.fromkeys(parent.declared_volumes + self.declared_volumes)),
            python_packages={**kept, **self.python_packages},
            dependency_files=parent.dependency_files + self.dependency_files,
            users={**parent.users, **self.users},
            groups={**parent.groups, **self.groups},
            base_runs_as_root=parent.base_runs_as_root,
            base_workdir_known=parent.base_workdir_known,
        )

    @property
    def known_workdir(self) -> str | None:
        """The image's working directory where the files show it; None where its base decides."""
        return self.workdir if self.sets_workdir or self.base_workdir_known else None

    def resolve_user(self, spec: str) -> Identity:
        return resolve_user(spec, self.users, self.groups)


def resolve_user(
    spec: str, users: Mapping[str, Account] | None = None, groups: Mapping[str, str] | None = None
) -> Identity:
    """``USER``/``user:`` text (``name``, ``uid``, ``name:group``) as numeric ids where the files tell.

    Without an image's accounts (a prebuilt image), only numeric ids and the well-known names resolve.
    """
    users, groups = users or {}, groups or {}
    user, _, group = spec.partition(":")
    account = (
        WELL_KNOWN_USERS.get(user)
        or users.get(user)
        or next((a for a in users.values() if user.isdigit() and a.uid == user), None)
    )
    uid = user if user.isdigit() else (account.uid if account else None)
    gid: str | None = None
    if group:
        gid = group if group.isdigit() else (groups.get(group) or WELL_KNOWN_GROUPS.get(group))
    elif account is not None:
        gid = account.gid
    return Identity(uid=uid, gid=gid, spec=spec)


def read_image_facts(build: Build, service: str) -> ImageFacts:
    if build.inline is not None:
        text = build.inline
    elif build.dockerfile.is_file():
        text = build.dockerfile.read_text(encoding="utf-8", errors="replace")
    else:
        raise SmartmaintError(
            f"service {service}: the Dockerfile {build.dockerfile} named by its build section does not exist; "
            "fix `build.dockerfile` (it is relative to `build.context`)."
        )
    # fileobj, not path: dockerfile-parse takes a path that does not end in "Dockerfile"
    # (Dockerfile.ml, ml.Dockerfile) for a directory.
    parser = DockerfileParser(
        fileobj=io.BytesIO(text.encode("utf-8")), build_args=dict(build.args), env_replace=True, cache_content=True
    )
    stages = _stages(parser.structure, parser.parent_images)
    chain = _chain(stages, build.target)
    # what the files show of the base: the FROM as built, or as the Dockerfile's own ARG default names it
    # (`ARG BASE_IMAGE=python:3.12-slim`: CI may pass a local build of the same kind of base)
    defaults = DockerfileParser(fileobj=io.BytesIO(text.encode("utf-8")), env_replace=True).parent_images
    as_written = defaults[stages.index(chain[0])] if stages.index(chain[0]) < len(defaults) else chain[0].base
    readers = [_StageReader(build, stage.body) for stage in chain]
    python_packages: dict[str, Requirement] = {}
    installers = [_StageReader(build, stage.body) for stage in _copied_from(stages, chain)] + readers
    for reader in installers:
        for name, requirement in reader.python_packages().items():
            python_packages[name] = requirement
        for name in reader.removed:
            python_packages.pop(name, None)
    dependency_files = tuple(dict.fromkeys(f for r in installers for f in r.dependency_files))
    users: dict[str, Account] = {}
    groups: dict[str, str] = {}
    for reader in readers:
        reader.accounts(users, groups)
    return ImageFacts(
        dockerfile=build.dockerfile,
        base_image=chain[0].base,
        cmd=next((c for r in reversed(readers) if (c := r.exec_form("CMD")) is not None), None),
        entrypoint=next((e for r in reversed(readers) if (e := r.exec_form("ENTRYPOINT")) is not None), None),
        env=dict(parser.envs),
        user=next((u for r in reversed(readers) if (u := r.last("USER")) is not None), None),
        workdir=_workdir(readers),
        system_packages=frozenset(p for r in readers for p in r.system_packages()),
        python_packages=python_packages,
        dependency_files=dependency_files,
        removed_python_packages=frozenset(n for r in readers for n in r.removed),
        sets_workdir=any(r.last("WORKDIR") is not None for r in readers),
        users=users,
        groups=groups,
        base_runs_as_root=bool(ROOT_BASES.match(chain[0].base)),
        base_workdir_known=any(WORKDIR_ROOT_BASES.match(b) for b in (chain[0].base, as_written))
        or chain[0].base.startswith("$"),
        literal_env={k: v for r in readers for k, v in r.literal_env().items()},
        copied_files=tuple(dict.fromkeys(f for r in readers for f in r.copied_files())),
        run_lines=tuple(line for r in installers for line in r.values("RUN")),
        context_copies=tuple(c for r in readers for c in r.context_copies()),
        declared_volumes=tuple(dict.fromkeys(path for r in readers for path in r.volumes())),
        exposed_ports=tuple(
            sorted(
                {
                    int(m.group(1))
                    for r in readers
                    for value in r.values("EXPOSE")
                    for m in re.finditer(r"\b(\d+)(?:/tcp)?(?=\s|$)", value)
                }
            )
        ),
    )


@dataclass(frozen=True)
class _Stage:
    name: str | None
    base: str  # the FROM image, or the name of an earlier stage
    body: list[dict[str, str]]


def _stages(structure: list[dict[str, str]], bases: list[str]) -> list[_Stage]:
    """The stages in order; ``bases`` are dockerfile-parse's FROM images with build args substituted."""
    stages: list[_Stage] = []
    for instruction in structure:
        if instruction["instruction"] == "FROM":
            words = [w for w in instruction["value"].split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            base = bases[len(stages)] if len(stages) < len(bases) else (words[0] if words else "")
            stages.append(_Stage(name, base, []))
        elif stages:
            stages[-1].body.append(instruction)
    return stages or [_Stage(None, "", [])]


def _chain(stages: list[_Stage], target: str | None) -> list[_Stage]:
    """The built stage (the target, else the last) and the stages it is FROM, oldest first."""
    by_name = {s.name: s for s in stages if s.name}
    stage = by_name.get(target or "", stages[-1])
    chain = [stage]
    while stage.base in by_name and by_name[stage.base] not in chain:
        stage = by_name[stage.base]
        chain.insert(0, stage)
    return chain


def _copied_from(stages: list[_Stage], chain: list[_Stage]) -> list[_Stage]:
    """Stages whose files the chain copies (``COPY --from=builder /opt/venv ...``), with their own chains."""
    by_name = {s.name: s for s in stages if s.name}
    by_index = {str(i): s for i, s in enumerate(stages)}
    found: list[_Stage] = []
    todo = list(chain)
    while todo:
        for instruction in todo.pop().body:
            if instruction["instruction"] not in ("COPY", "ADD"):
                continue
            for word in instruction["value"].split():
                source = by_name.get(word[7:]) or by_index.get(word[7:]) if word.startswith("--from=") else None
                if source is None:
                    continue
                for stage in _chain(stages, source.name) if source.name else [source]:
                    if stage not in found and stage not in chain:
                        found.append(stage)
                        todo.append(stage)
    return found


def _copy_words(value: str) -> list[str]:
    """COPY's words, in shell form or JSON form (``COPY ["a b", "/dst/"]``)."""
    if value.strip().startswith("["):
        try:
            return [str(w) for w in json.loads(value)]
        except json.JSONDecodeError:
            pass
    return value.split()


def _workdir(readers: list[_StageReader]) -> str:
    current = "/"
    for reader in readers:
        current = reader.workdir(current)
    return current


class _StageReader:
    def __init__(self, build: Build, stage: list[dict[str, str]]) -> None:
        self.build = build
        self.stage = stage
        self.dependency_files: list[Path] = []
        self.removed: set[str] = set()

    def values(self, instruction: str) -> Iterator[str]:
        return (i["value"] for i in self.stage if i["instruction"] == instruction)

    def volumes(self) -> list[str]:
        """VOLUME paths, in the JSON form (``["/data"]``) or the plain one (``/data /logs``)."""
        paths: list[str] = []
        for value in self.values("VOLUME"):
            try:
                parsed = json.loads(value) if value.strip().startswith("[") else value.split()
            except json.JSONDecodeError:
                parsed = value.split()
            paths += [posixpath.normpath(str(p)) for p in parsed if str(p).startswith("/")]
        return paths

    def last(self, instruction: str) -> str | None:
        found = list(self.values(instruction))
        return found[-1].strip() if found else None

    def exec_form(self, instruction: str) -> tuple[str, ...] | None:
        value = self.last(instruction)
        if value is None:
            return None
        if value.startswith("["):
            try:
                return tuple(str(v) for v in json.loads(value))
            except json.JSONDecodeError:
                pass
        return ("/bin/sh", "-c", value)

    def workdir(self, start: str = "/") -> str:
        current = start
        for value in self.values("WORKDIR"):
            current = posixpath.normpath(posixpath.join(current, value.strip()))
        return current

    def run_commands(self) -> Iterator[list[str]]:
        for value in self.values("RUN"):
            yield from commands(value)

    def system_packages(self) -> Iterator[str]:
        for words in self.run_commands():
            tool = posixpath.basename(words[0])
            for installer, verb in SYSTEM_INSTALLERS:
                if tool == installer and verb in words[1:]:
                    after = words[words.index(verb, 1) + 1 :]
                    yield from (w.split("=")[0] for w in after if not w.startswith("-"))

    def accounts(self, users: dict[str, Account], groups: dict[str, str]) -> None:
        """Users and groups this stage creates with an explicit id (useradd/adduser/groupadd/addgroup)."""
        for words in self.run_commands():
            tool = posixpath.basename(words[0])
            if tool in ("groupadd", "addgroup"):
                name, options = _account_words(words[1:])
                gid = options.get("-g") or options.get("--gid")
                if name and gid and gid.isdigit():
                    groups[name] = gid
            elif tool in ("useradd", "adduser"):
                name, options = _account_words(words[1:])
                if not name:
                    continue
                uid = options.get("-u") or options.get("--uid")
                group = (
                    options.get("--gid")
                    or options.get("--ingroup")
                    or (options.get("-g") if tool == "useradd" else None)
                )
                group = group or (options.get("-G") if tool == "adduser" else None)  # busybox: -G GROUP
                gid = group if group and group.isdigit() else groups.get(group or "")
                if gid is None and group is None and name in groups:
                    gid = groups[name]  # a group of the same name, created before
                users[name] = Account(uid if uid and uid.isdigit() else None, gid)

    def copies(self) -> list[tuple[list[str], str]]:
        """(sources, destination) of every COPY/ADD from the build context (not --from=)."""
        result = []
        for instruction in self.stage:
            if instruction["instruction"] not in ("COPY", "ADD"):
                continue
            words = [w for w in instruction["value"].split()]
            if any(w.startswith("--from") for w in words):
                continue
            words = [w for w in words if not w.startswith("--")]
            if len(words) >= 2:
                result.append((words[:-1], words[-1]))
        return result

    def literal_env(self) -> dict[str, str]:
        """ENV KEY=VALUE (and legacy ENV KEY VALUE) whose value references no variable."""
        found: dict[str, str] = {}
        for value in self.values("ENV"):
            try:
                words = shlex.split(value)
            except ValueError:
                continue
            pairs = (
                [tuple(w.split("=", 1)) for w in words]
                if words and all("=" in w for w in words)
                else [(words[0], " ".join(words[1:]))]
                if words
                else []
            )
            for key, text in pairs:
                if "$" in text:  # resolved from the base image or an ARG: not comparable as written
                    found.pop(key, None)
                    continue
                found[key] = text
        return found

    def context_copies(self) -> list[ContextCopy]:
        """Each COPY/ADD from the build context, its destination made absolute at the WORKDIR it runs in."""
        result, workdir = [], "/"
        for instruction in self.stage:
            if instruction["instruction"] == "WORKDIR":
                workdir = posixpath.normpath(posixpath.join(workdir, instruction["value"].strip()))
            if instruction["instruction"] not in ("COPY", "ADD"):
                continue
            words = _copy_words(instruction["value"])
            if any(w.startswith("--from") for w in words):
                continue
            words = [w for w in words if not w.startswith("--")]
            if len(words) < 2:
                continue
            dest = posixpath.normpath(posixpath.join(workdir, words[-1]))
            result.append(
                ContextCopy(self.build.context, tuple(words[:-1]), dest, words[-1].endswith("/") or len(words) > 2)
            )
        return result

    def copied_files(self) -> list[tuple[Path, str]]:
        """Build-context files copied to a known path: no globs, no directories, no URLs."""
        result = []
        for sources, dest in self.copies():
            dest_abs = posixpath.normpath(posixpath.join(self.workdir(), dest))
            for source in sources:
                candidate = self.build.context / source
                if any(c in source for c in "*?[") or "://" in source or not candidate.is_file():
                    continue
                into_dir = dest.endswith("/") or len(sources) > 1
                result.append(
                    (candidate, posixpath.join(dest_abs, posixpath.basename(source)) if into_dir else dest_abs)
                )
        return result

    def context_file(self, container_path: str) -> Path | None:
        """Map a path used inside RUN back to the build-context file COPY put there."""
        container_path = posixpath.normpath(posixpath.join(self.workdir(), container_path))
        for sources, dest in self.copies():
            dest_abs = posixpath.normpath(posixpath.join(self.workdir(), dest))
            for source in sources:
                if dest_abs == container_path or posixpath.join(dest_abs, posixpath.basename(source)) == container_path:
                    candidate = self.build.context / source
                    if candidate.is_file():
                        return candidate
                if container_path.startswith(dest_abs.rstrip("/") + "/") and (self.build.context / source).is_dir():
                    candidate = self.build.context / source / posixpath.relpath(container_path, dest_abs)
                    if candidate.is_file():
                        return candidate
        fallback = self.build.context / posixpath.basename(container_path)
        return fallback if fallback.is_file() else None

    def python_packages(self) -> dict[str, Requirement]:
        """What the image's Python gets: pip steps, and the pyproject poetry and uv install from (pipx installs
        applications in venvs of their own: not importable here)."""
        declared: dict[str, Requirement] = {}
        for step in install_steps(self.values("RUN")):
            if step.installer == "pip" and step.verb == "uninstall":
                for name in step.args:
                    if not name.startswith("-"):
                        declared.pop(canonicalize_name(name), None)
                        self.removed.add(canonicalize_name(name))
            elif step.installer == "pip" and step.verb == "install":
                self._pip_install(list(step.args), declared)
            elif step.installer in ("poetry", "uv") and step.installs:
                self._pyproject(self.context_file("pyproject.toml"), declared)
        return declared

    def _pip_install(self, args: list[str], declared: dict[str, Requirement]) -> None:
        i = 0
        while i < len(args):
            arg = args[i]
            if arg in ("-r", "--requirement", "-c", "--constraint") and i + 1 < len(args):
                if arg in ("-r", "--requirement"):
                    self._requirements_file(self.context_file(args[i + 1]), declared)
                i += 2
                continue
            if arg.startswith("-"):
                i += 1
                continue
            if arg in (".", "./") or arg.startswith((".[", "./[")) or arg.endswith(("/", ".")):
                self._pyproject(self.context_file("pyproject.toml"), declared)
            else:
                _add_requirement(arg, declared)
            i += 1

    def _requirements_file(self, path: Path | None, declared: dict[str, Requirement]) -> None:
        if path is None or path in self.dependency_files:
            return
        self.dependency_files.append(path)
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            line = raw.split(" #")[0].strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith(("-r ", "--requirement ")):
                self._requirements_file(path.parent / line.split(None, 1)[1], declared)
            elif not line.startswith("-"):
                _add_requirement(line, declared)

    def _pyproject(self, path: Path | None, declared: dict[str, Requirement]) -> None:
        if path is None or path in self.dependency_files:
            return
        self.dependency_files.append(path)
        for name, spec in read_pyproject(path).runtime().items():
            declared.setdefault(name, spec)


# Options of useradd/adduser/groupadd/addgroup that take a value (Debian, shadow and busybox spellings).
_ACCOUNT_OPTIONS_WITH_VALUE = {
    "-u",
    "--uid",
    "-g",
    "--gid",
    "-G",
    "--groups",
    "-d",
    "--home",
    "--home-dir",
    "-s",
    "--shell",
    "-c",
    "--comment",
    "--gecos",
    "--ingroup",
    "-k",
    "--skel",
    "-e",
    "--expiredate",
    "-f",
    "--inactive",
    "-K",
    "--key",
    "-p",
    "--password",
    "-R",
    "--root",
    "-P",
    "--prefix",
    "-b",
    "--base-dir",
    "-h",
    "--firstuid",
    "--lastuid",
}


def _account_words(args: list[str]) -> tuple[str | None, dict[str, str]]:
    """(the account name, {option: value}) of a useradd/adduser/groupadd command line."""
    options: dict[str, str] = {}
    names: list[str] = []
    i = 0
    while i < len(args):
        word = args[i]
        if word.startswith("-") and "=" in word:
            key, _, value = word.partition("=")
            options[key] = value
        elif word in _ACCOUNT_OPTIONS_WITH_VALUE and i + 1 < len(args):
            options[word] = args[i + 1]
            i += 1
        elif not word.startswith("-"):
            names.append(word)
        i += 1
    return (names[0] if names else None), options


def _add_requirement(text: str, declared: dict[str, Requirement]) -> None:
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return
    declared.setdefault(canonicalize_name(requirement.name), requirement)
