"""uid-mapping: containers that write a shared volume run as the same uid:gid."""

from __future__ import annotations

import functools
import shlex
import uuid
from typing import TYPE_CHECKING

import pytest

from ..live.facts import PathOwner
from ..static.stack_model import StackModel
from .base import Case, Check, LiveCase, StaticCase, fail, table
from .messages import checked_live

if TYPE_CHECKING:
    from ..live.stack import LiveStack

NAME = "uid-mapping"


def shared_writable_sources(model: StackModel) -> list[tuple[str, str]]:
    """(source, label) of every bind or named volume that 2+ services mount, one writable."""
    seen: dict[str, str] = {}
    for service in model.project.services.values():
        for mount in service.mounts:
            if mount.kind in ("bind", "volume"):
                seen.setdefault(mount.source, mount.label)
    result = []
    for source, label in sorted(seen.items(), key=lambda kv: kv[1]):
        sharers = model.project.sharers(source)
        if len({s.name for s, _ in sharers}) >= 2 and any(not m.read_only for _, m in sharers):
            result.append((source, label))
    return result


def static_cases(model: StackModel) -> list[StaticCase]:
    return [
        Case(NAME, "static", label, functools.partial(_check, source=source, label=label))
        for source, label in shared_writable_sources(model)
    ]


def _check(model: StackModel, source: str, label: str) -> None:
    sharers = model.project.sharers(source)
    users = {s.name: model.effective_user(s.name) for s, _ in sharers}
    rows = [
        [
            s.name,
            f"{m.label} -> {m.target}{' (ro)' if m.read_only else ''}",
            str(users[s.name].identity),
            users[s.name].source,
        ]
        for s, m in sharers
    ]
    known = {n: u.identity for n, u in users.items() if u.known}
    unknown = sorted(n for n, u in users.items() if not u.known)
    uids = {i.uid for i in known.values()}
    gids = {i.gid for i in known.values() if i.gid is not None}
    if len(uids) <= 1 and len(gids) <= 1:
        same_image = {users[n].same_image for n in users}
        if not unknown or (not known and len(same_image) == 1 and None not in same_image):
            return  # one user by the files, or one image run with no user: by every sharer
        why = "; ".join(f"{n}: {users[n].source}" for n in unknown)
        pytest.skip(
            f"the files cannot tell who {', '.join(unknown)} run{'s' if len(unknown) == 1 else ''} as ({why}); "
            + checked_live(NAME, label)
        )
    explicit = sorted({str(i) for n, i in known.items() if users[n].source == "compose user:"})
    suggestion = explicit[0] if len(explicit) == 1 else "1000:1000"
    fixes = "\n".join(
        f'    {n}:\n      user: "{suggestion}"' for n, u in users.items() if str(u.identity) != suggestion
    )
    implicit = [n for n, u in users.items() if u.source != "compose user:"]
    why_implicit = (
        f"\n{', '.join(implicit)} set{'s' if len(implicit) == 1 else ''} no user: in compose, so "
        f"{'it runs' if len(implicit) == 1 else 'they run'} as the image says (root unless the Dockerfile has USER)."
        if implicit
        else ""
    )
    fail(
        f"The services sharing {label} run as different users:\n{table(rows)}{why_implicit}\n"
        f"Files one of them creates (MLflow artifacts, registered_model_meta, the SQLite db) are owned by its uid,\n"
        f'so the others get "Permission denied" when they write next to them.\n'
        f"Fix, in the compose file, give every sharer the same user:\n{fixes}"
    )


def live_cases(model: StackModel) -> list[LiveCase]:
    return [
        Case(
            NAME,
            "live",
            label,
            functools.partial(_live, source=source, label=label),
            tuple(dict.fromkeys(s.name for s, _ in model.project.sharers(source))),
        )
        for source, label in shared_writable_sources(model)
    ]


def _live(stack: LiveStack, source: str, label: str) -> None:
    """Ids agree; a file created by one sharer is read, rewritten and removed by the others."""
    server = stack.model.roles.server
    sharers = sorted(
        stack.model.project.sharers(source),  # one-shot services are probed with `docker compose run --rm`
        key=lambda sm: sm[0].name != server,  # the server's user is the reference, when it shares
    )
    if len(sharers) < 2:
        pytest.skip(f"fewer than two services share {label}")
    ids = {s.name: stack.facts(s.name).user for s, _ in sharers}
    writable = [(s, m) for s, m in sharers if not m.read_only]
    creator, creator_mount = writable[0]
    name = f".smartmaint-uid-{uuid.uuid4().hex[:8]}"
    problems: list[str] = []
    created = stack.exec(
        creator.name,
        f"echo created > {shlex.quote(creator_mount.target + '/' + name)} && "
        + PathOwner.command([creator_mount.target, f"{creator_mount.target}/{name}"]),
    )
    owners = [o.owner for o in PathOwner.parse_lines(created.stdout)]
    if created.rc != 0:
        problems.append(
            f"{creator.name} ({ids[creator.name]}) cannot create a file in {creator_mount.target}: "
            f"{created.stderr.strip()}"
        )
    else:
        for service, mount in writable[1:]:
            path = shlex.quote(f"{mount.target}/{name}")
            for step, command in (("read", f"cat {path}"), ("rewrite", f"echo rewritten >> {path}")):
                result = stack.exec(service.name, command)
                if result.rc != 0:
                    problems.append(
                        f"{service.name} ({ids[service.name]}) cannot {step} the file {creator.name} created: "
                        f"{result.stderr.strip()}"
                    )
    last = writable[-1]
    removed = stack.exec(last[0].name, f"rm -f {shlex.quote(last[1].target + '/' + name)}")
    if removed.rc != 0:
        problems.append(f"{last[0].name} ({ids[last[0].name]}) cannot remove it: {removed.stderr.strip()}")
        stack.exec(creator.name, f"rm -f {shlex.quote(creator_mount.target + '/' + name)}")
    if len(set(ids.values())) == 1 and not problems:
        if owners and owners[0] != ids[creator.name]:
            fail(
                f"{label} is owned by {owners[0]} on the volume, but its sharers run as {ids[creator.name]}: they can "
                f"create files only because of the directory's mode. Fix: chown {ids[creator.name]} the directory "
                "(in the Dockerfile that creates it, or on the host for a bind mount)."
            )
        return
    rows = [
        [s.name, f"{m.label} -> {m.target}{' (ro)' if m.read_only else ''}", f"runs as {ids[s.name]}"]
        for s, m in sharers
    ]
    owner = (
        f"\nOn the volume: the directory is owned by {owners[0]}, the created file by {owners[1]}."
        if len(owners) == 2
        else ""
    )
    fail(
        f"The services sharing {label} do not run as one uid:gid (as seen inside the running containers):\n"
        f"{table(rows)}{owner}\n"
        + ("\n".join(f"- {p}" for p in problems) + "\n" if problems else "")
        + "Files MLflow writes (artifacts, registered_model_meta, the SQLite db) belong to whoever wrote them first.\n"
        f'Fix, in the compose file, every sharer of {label}:\n    user: "{ids[creator.name]}"'
    )


CHECK = Check(NAME, static=static_cases, live=live_cases, explains_startup=True)
