"""volume-paths: every container sees the MLflow data at the path MLflow recorded."""

from __future__ import annotations

import functools
import shlex
import uuid
from typing import TYPE_CHECKING

from ..static.compose import Mount
from ..static.stack_model import StackModel
from .base import Case, Check, LiveCase, StaticCase, fail, not_applicable, record_facts, table
from .messages import fix_in, no_server, volumes

if TYPE_CHECKING:
    from ..live.stack import LiveStack

NAME = "volume-paths"


def static_cases(model: StackModel) -> list[StaticCase]:
    server = model.server
    if server is None:
        return [not_applicable(NAME, "static", no_server(model))]
    server_service = model.service(server.service)
    cases = [
        Case(NAME, "static", mount.label, functools.partial(_check_source, server_mount=mount), (server.service,))
        for mount in sorted(server_service.mounts, key=lambda m: m.label)
        if mount.kind in ("bind", "volume")
    ]
    root = server.local_artifact_path
    if root and server_service.mount_covering(root) is None:
        cases.append(Case(NAME, "static", root, _root_not_mounted, (server.service,)))
    destination = server.proxied_destination_path
    if destination is not None and _unmounted(model, server.service, destination):
        cases.append(Case(NAME, "static", destination, _destination_not_mounted, (server.service,)))
    elif root is None:
        reason = (
            f"the artifact root is {server.artifact_mode} ({server.artifact_root}, "
            f"{server.default_artifact_root.source}):"
            " clients need no artifact mount"
        )
        cases.append(not_applicable(NAME, "static", reason, subject="artifact-root"))
    return cases


def _fix(model: StackModel, service: str, mount: Mount, target: str) -> str:
    return (
        f"Fix, in {model.project.files[0].name if model.project.files else 'the compose file'}, service {service}:\n"
        f"    volumes:\n      - {mount.label}:{target}"
    )


def _check_source(model: StackModel, server_mount: Mount) -> None:
    server = model.server
    assert server is not None
    root = server.local_artifact_path
    is_store = root is not None and server_mount.covers(root)
    what = (
        f"the MLflow artifact store {server_mount.label}"
        if is_store
        else f"the MLflow server's volume {server_mount.label}"
    )
    sharers = sorted(model.project.sharers(server_mount.source), key=lambda sm: sm[0].name != server.service)
    # a service that mounts the server's db or other data elsewhere, and talks to no MLflow (a debug toolbox,
    # a backup job), reads no path MLflow recorded: only the artifact store binds every sharer
    differ = [
        (s, m) for s, m in sharers if m.target != server_mount.target and (is_store or s.name in model.roles.clients)
    ]
    rows = []
    for service, mount in sharers:
        note = "<- differs" if mount.target != server_mount.target else ""
        if service.name == server.service:
            note = "server" + (f", artifact root {root}" if is_store else "")
        rows.append([service.name, f"{mount.label} -> {mount.target}", note])
    if differ:
        names = ", ".join(s.name for s, _ in differ)
        writers = [s.name for s, m in sharers if m.target == server_mount.target and s.name != server.service]
        writer = writers[0] if writers else server.service
        cause = (
            f"MLflow records absolute artifact paths ({root}/<experiment>/models/m-<id>/artifacts),\n"
            f'so {names} cannot read what {writer} logs; loading fails with "No such artifact".'
            if is_store
            else f"The same files appear under different paths, so paths recorded by {server.service} "
            f"do not exist in {names}."
        )
        fixes = "\n".join(_fix(model, s.name, server_mount, server_mount.target) for s, _ in differ)
        fail(f"{what[0].upper()}{what[1:]} is mounted at different paths:\n{table(rows)}\n{cause}\n{fixes}")
    if not is_store or root is None:
        return
    mounted = {s.name: m for s, m in sharers}
    missing = [c for c in model.roles.clients if c not in mounted]
    read_only = [c for c in model.roles.clients if c in mounted and mounted[c].read_only]
    if missing:
        fixes = "\n".join(_fix(model, c, server_mount, server_mount.target) for c in missing)
        fail(
            f"{', '.join(missing)} {'is an MLflow client' if len(missing) == 1 else 'are MLflow clients'} "
            f"but {'does' if len(missing) == 1 else 'do'} not mount the artifact store {server_mount.label}:\n"
            f"{table(rows)}\n"
            f"The artifact root is a local path ({root}, {server.default_artifact_root.source}), so clients read "
            f"and write {root}/... themselves:\nwhat {missing[0]} logs stays inside its container, and "
            f'what others log is missing there ("No such artifact" when loading models:/).\n{fixes}'
        )
    if read_only:
        fixes = "\n".join(_fix(model, c, server_mount, server_mount.target) for c in read_only)
        fail(
            f"{', '.join(read_only)} mount{'s' if len(read_only) == 1 else ''} the artifact store "
            f"{server_mount.label} read-only (:ro).\nLoading models:/NAME/VERSION writes a registered_model_meta "
            f"file next to the model under {root}, and logging writes artifacts there: both fail with "
            f'"Read-only file system".\n{fixes}\n(without :ro)'
        )


def _root_not_mounted(model: StackModel) -> None:
    server = model.server
    assert server is not None
    root = server.local_artifact_path
    assert root is not None
    sharing = {c: m for c in model.roles.clients if (m := model.service(c).mount_covering(root)) is not None}
    if sharing and set(sharing) == set(model.roles.clients):
        source = next(iter(sharing.values()))
        fail(
            f"The MLflow artifact root {root} ({server.default_artifact_root.source}) lies on no mount of "
            f"{server.service}, while its clients share it ({', '.join(sorted(sharing))}).\n"
            f"The clients write and read {root}/... themselves, so their models load; but {server.service} sees "
            f"nothing there: the UI shows no artifacts, and artifact downloads through the server fail.\n"
            + fix_in(server.service, volumes(f"{source.label}:{source.target}"))
        )
    fail(
        f"The MLflow artifact root {server.local_artifact_path} ({server.default_artifact_root.source}) lies on no "
        f"mount of {server.service}.\nArtifacts live in the container's writable layer: they vanish when "
        f"{server.service} is recreated, and no client can read them.\n"
        + fix_in(server.service, volumes(f"./mlflow_data:{server.local_artifact_path}"), how="and every MLflow client")
    )


def _unmounted(model: StackModel, service: str, path: str) -> bool:
    mount = model.service(service).mount_covering(path)
    return mount is None or mount.kind == "tmpfs"


def _destination_not_mounted(model: StackModel) -> None:
    """The artifacts a server serves (--serve-artifacts) lie where it writes them: on a mount, or nowhere lasting."""
    server = model.server
    assert server is not None
    path = server.proxied_destination_path
    assert path is not None
    mount = model.service(server.service).mount_covering(path)
    where = f"on a tmpfs at {mount.target} (wiped at every stop)" if mount else "on no mount"
    fail(
        f"{server.service} serves the artifacts (--serve-artifacts, artifact root {server.artifact_root}) and keeps "
        f"them in {path} ({server.artifacts_destination.source}), {where}.\n"
        f"Every logged model lives in {server.service}'s writable layer: after a recreate the registry still lists "
        'its versions, and loading one fails (MLflow: Could not find an "MLmodel" configuration file).\n'
        + fix_in(server.service, volumes(f"mlflow_artifacts:{path}"), how="a named volume (declared under `volumes:`)")
    )


def live_cases(model: StackModel) -> list[LiveCase]:
    server = model.server
    if server is None:
        return [not_applicable(NAME, "live", no_server(model))]
    mounts = [m for m in model.service(server.service).mounts if m.kind in ("bind", "volume")]
    return [
        Case(
            NAME,
            "live",
            mount.label,
            functools.partial(_live, server_mount=mount),
            tuple(dict.fromkeys([server.service, *(s.name for s, _ in model.project.sharers(mount.source))])),
        )
        for mount in sorted(mounts, key=lambda m: m.label)
    ]


def _live(stack: LiveStack, server_mount: Mount) -> None:
    """Mounts (from each container's /proc/self/mountinfo) agree, and a sentinel written through the
    server is seen at the same path by all: read through the containers, so a remote engine works too."""
    model = stack.model
    server = model.server
    assert server is not None
    root = server.local_artifact_path
    is_store = root is not None and server_mount.covers(root)
    server_side = next((m for m in stack.facts(server.service).mounts if m.target == server_mount.target), None)
    if server_side is None:
        fail(
            f"{server.service} is running without a mount at {server_mount.target} (compose declares "
            f"{server_mount.label}); "
            "was it started from another compose file? Recreate it: docker compose up -d --force-recreate"
        )
    identity = server_side.source  # device and path within it: the same for every container mounting it
    expected = sorted(
        {s.name for s, _ in model.project.sharers(server_mount.source)}
        | (set(model.roles.clients) if is_store else set())
    )
    rows, wrong = [], []
    for name in expected:
        if name == server.service:
            continue
        at = [m.target for m in stack.facts(name).mounts if m.source == identity]
        if server_mount.target not in at:
            wrong.append(name)
        rows.append([name, ", ".join(at) or "(not mounted)", "" if server_mount.target in at else "<- differs"])
    sentinel = f"{server_mount.target}/.smartmaint-sentinel-{uuid.uuid4().hex[:8]}"
    written = stack.exec(server.service, f"echo smartmaint > {shlex.quote(sentinel)}")
    unseen = []
    try:
        for name in expected:
            if name != server.service:
                if stack.exec(name, f"test -f {shlex.quote(sentinel)}").rc != 0:
                    unseen.append(name)
    finally:
        stack.exec(server.service, f"rm -f {shlex.quote(sentinel)}")
    if written.rc != 0:
        fail(
            f"{server.service} cannot write to its own mount {server_mount.target} ({server_mount.label}): "
            f"{written.stderr.strip()}\nMLflow cannot store {'artifacts' if is_store else 'data'} there; see "
            "uid-mapping."
        )
    if wrong or unseen:
        what = "The MLflow artifact store" if is_store else "The MLflow server's volume"
        home, apart = _nodes_apart(stack, server_mount, [*dict.fromkeys(wrong + unseen)])
        for row in rows:
            if row[0] in apart:  # mounted where it should be, but another node's volume of that name
                row[1:] = [f"{server_mount.target} (the volume of node {apart[row[0]]})", "<- another volume"]
        fixes = _other_nodes(server.service, home, server_mount, apart) or "\n".join(
            _fix(model, n, server_mount, server_mount.target) for n in dict.fromkeys(wrong + unseen)
        )
        where = "the same volume" if apart else f"at {server_mount.target}"
        home_cell = server_mount.target + (f" (the volume of node {home})" if apart else "")
        fail(
            f"{what} {server_mount.label} is not {where} in every container that needs it "
            f"(as seen inside each container):\n{table([[server.service, home_cell, 'server'], *rows])}\n"
            f"A file written through {server.service} at {sentinel} was not found by: {', '.join(unseen) or '-'}.\n"
            + (
                f"MLflow records absolute artifact paths under {root}, so these services cannot read or write "
                "the models "
                f'others log ("No such artifact").\n'
                if is_store
                else ""
            )
            + fixes
        )


def _nodes_apart(stack: LiveStack, server_mount: Mount, missing: list[str]) -> tuple[str, dict[str, str]]:
    """On Swarm: the server's node, and those of the services in ``missing`` that run on another one (each sees
    that node's volume of the name). Nothing on compose, or for a bind."""
    server = stack.model.server
    assert server is not None
    home = stack.node_of(server.service) if server_mount.kind == "volume" else None
    if not home:
        return "", {}
    return home, {name: node for name in missing if (node := stack.node_of(name)) and node != home}


def _other_nodes(server: str, home: str, server_mount: Mount, elsewhere: dict[str, str]) -> str | None:
    """The cause when services that miss the server's named volume run on other nodes than the server (the local
    driver makes the volume on each node, empty there)."""
    if not elsewhere:
        return None
    record_facts(nodes={server: home, **elsewhere})
    names = ", ".join(elsewhere)
    return (
        f"{names} run{'s' if len(elsewhere) == 1 else ''} on "
        + ", ".join(f"node {node}" for node in dict.fromkeys(elsewhere.values()))
        + f", {server} on node {home}: {server_mount.label} is a volume of the local driver, made on each "
        f"node that runs one of their tasks, so {names} see{'s' if len(elsewhere) == 1 else ''} an empty volume of "
        "that node, not the server's (Swarm places them apart: nothing in the files keeps them together).\n"
        + fix_in(
            ", ".join([server, *elsewhere]),
            "    deploy:\n      placement:\n        constraints: [node.hostname == <one node>]",
            how="pin them to one node",
        )
        + f"\nor give {server_mount.label} a driver every node mounts the same data with (an NFS share, a volume "
        "plugin)."
    )


CHECK = Check(NAME, static=static_cases, live=live_cases, explains_startup=True)
