"""uid-mapping: containers that write a shared volume run as the same uid:gid."""

from __future__ import annotations

import functools

from ..stack_model import StackModel
from .base import Case, fail, table

CHECK = "uid-mapping"


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


def static_cases(model: StackModel) -> list[Case]:
    return [
        Case(CHECK, "static", label, functools.partial(_check, source=source, label=label))
        for source, label in shared_writable_sources(model)
    ]


def _check(model: StackModel, source: str, label: str) -> None:
    sharers = model.project.sharers(source)
    users = {s.name: model.effective_user(s.name) for s, _ in sharers}
    rows = [
        [s.name, f"{m.label} -> {m.target}{' (ro)' if m.read_only else ''}", users[s.name][0] or "?", users[s.name][1]]
        for s, m in sharers
    ]
    distinct = {u for u, _ in users.values()}
    implicit = [n for n, (u, how) in users.items() if how != "compose user:"]
    if len(distinct) == 1 and None not in distinct:
        return
    explicit = sorted({u for u, how in users.values() if u and how == "compose user:"})
    suggestion = explicit[0] if len(explicit) == 1 else "1000:1000"
    fixes = "\n".join(
        f"    {n}:\n      user: \"{suggestion}\"" for n, (u, _) in users.items() if u != suggestion
    )
    why_implicit = (
        f"\n{', '.join(implicit)} set{'s' if len(implicit) == 1 else ''} no user: in compose, so "
        f"{'it runs' if len(implicit) == 1 else 'they run'} as the image says (root unless the Dockerfile has USER)."
        if implicit
        else ""
    )
    fail(
        f"The services sharing {label} run as different users:\n{table(rows)}{why_implicit}\n"
        f"Files one of them creates (MLflow artifacts, registered_model_meta, the SQLite db) are owned by its uid,\n"
        f"so the others get \"Permission denied\" when they write next to them.\n"
        f"Fix, in the compose file, give every sharer the same user:\n{fixes}"
    )
