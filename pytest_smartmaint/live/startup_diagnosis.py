"""Why a stack did not come up: what a container shows, and the checks' own analyses of the files.

A log tail shows the symptom (a SQLAlchemy traceback); this names the cause: the SQLite
directory the server cannot write (who owns it, who the server runs as), and whatever the
static checks find in the files (the db on no mount, a Host header the server refuses...). Those
analyses are handed in (``FileFindings``): the live layer does not know the checks.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import SmartmaintError
from ..static.stack_model import StackModel
from .compose_runner import ComposeRunner
from .facts import DirectoryAccess

FileFindings = Callable[[StackModel], list[str]]  # what the checks prove wrong in the files, one line each


def no_file_findings(model: StackModel) -> list[str]:
    return []


@dataclass(frozen=True)
class StartupDiagnosis:
    """``causes`` were seen in a container; ``file_findings`` are what the static checks prove wrong in the files.

    The second are kept apart: a wrong file may or may not be what stopped this bring-up (a refused Host header
    does not fail a /health healthcheck), and the containers' own state is shown between the two.
    """

    causes: list[str]
    file_findings: list[str]


def diagnose(runner: ComposeRunner, model: StackModel, file_findings: FileFindings) -> StartupDiagnosis:
    return StartupDiagnosis(_db_directory(runner, model), file_findings(model))


def _db_directory(runner: ComposeRunner, model: StackModel) -> list[str]:
    """Can the server's user write the directory of its SQLite file? Seen in a throwaway container of the service."""
    server = model.server
    if server is None or server.sqlite_path is None:
        return []
    directory = posixpath.dirname(server.sqlite_path)
    try:  # in a one-off container: the server's own may be looping
        done = runner.run_one_off(server.service, DirectoryAccess.command(directory), timeout=60)
    except SmartmaintError:
        return []
    access = DirectoryAccess.parse(done.stdout) if done.rc == 0 else None
    if access is None or access.writable:
        return []
    uid, gid = access.uid, access.gid
    service = model.service(server.service)
    mount = service.mount_covering(directory)
    on = (
        f"on the named volume {mount.label}"
        if mount and mount.kind == "volume"
        else f"on the bind mount {mount.label}"
        if mount and mount.kind == "bind"
        else f"on a {mount.kind} mount"
        if mount
        else "in the container's own filesystem"
    )
    if access.owner is None:
        return [
            f"{server.service} runs as {uid}:{gid} and keeps its SQLite backend at {server.sqlite_path} "
            f"({server.backend_store_uri.source}), but {directory} does not exist in the container and MLflow does not "
            f'create it: the server fails with "sqlite3.OperationalError: unable to open database file".\n'
            f"Fix, in service {server.service}: mount a directory there, owned by {uid}:{gid}:\n"
            f"    volumes:\n      - ./mlflow_db:{directory}"
        ]
    dockerfile_fix = (
        f"  in {server.service}'s Dockerfile, create the directory for that user:\n"
        f"      RUN mkdir -p {directory} && chown {uid}:{gid} {directory}"
    )
    if mount is not None and mount.kind == "bind":
        why = f"\nA bind mount keeps the owner and mode of the host directory {mount.label}."
        fix = f"Fix, on the host: chown {uid}:{gid} {mount.label}   (or give {server.service} the user: that owns it)"
    elif mount is not None and mount.kind == "volume":
        why = (
            f"\nA fresh named volume takes the owner of the directory the image has at {mount.target}; "
            f"where the image has none, Docker creates it owned by root."
        )
        fix = (
            f"Fix, either:\n  -{dockerfile_fix[1:]}\n  - or keep the db under a directory the image already "
            f"creates for {uid}:{gid}"
        )
    else:
        why, fix = "", f"Fix:\n{dockerfile_fix}"
    owner = access.owner
    return [
        f"{server.service} runs as {uid}:{gid}, but the directory of its SQLite backend {directory} ({on}) is owned by "
        f"{owner.owner} with mode {owner.mode or '?'}: the server cannot write {server.sqlite_path} and fails "
        f'with "sqlite3.OperationalError: unable to open database file".{why}\n{fix}'
    ]
