"""Why a stack did not come up: the checks' own analyses, applied to a failed bring-up.

A log tail shows the symptom (a SQLAlchemy traceback); this names the cause: the SQLite
directory the server cannot write (who owns it, who the server runs as), and whatever the
static checks find in the files (the db on no mount, a Host header the server refuses...).
"""

from __future__ import annotations

import posixpath
import shlex
from dataclasses import dataclass

import pytest

from ..errors import CheckFailure, SmartmaintError
from ..static.stack_model import StackModel
from .compose_runner import ComposeRunner


@dataclass(frozen=True)
class StartupDiagnosis:
    """``causes`` were seen in a container; ``file_findings`` are what the static checks prove wrong in the files.

    The second are kept apart: a wrong file may or may not be what stopped this bring-up (a refused Host header
    does not fail a /health healthcheck), and the containers' own state is shown between the two.
    """

    causes: list[str]
    file_findings: list[str]


def diagnose(runner: ComposeRunner, model: StackModel) -> StartupDiagnosis:
    return StartupDiagnosis(_db_directory(runner, model), _static_findings(model))


def _db_directory(runner: ComposeRunner, model: StackModel) -> list[str]:
    """Can the server's user write the directory of its SQLite file? Seen in a throwaway container of the service."""
    server = model.server
    if server is None or server.sqlite_path is None:
        return []
    directory = posixpath.dirname(server.sqlite_path)
    quoted = shlex.quote(directory)
    script = (
        f"id -u; id -g; stat -c '%u:%g %a' {quoted} 2>/dev/null || echo missing; "
        f"if [ -w {quoted} ]; then echo writable; else echo read-only; fi"
    )
    try:
        done = runner.run_one_off(server.service, script, timeout=60)  # the server's own container may be looping
    except SmartmaintError:
        return []
    lines = done.stdout.split()
    if done.rc != 0 or len(lines) < 4:
        return []
    uid, gid, owner, writable = lines[0], lines[1], lines[2], lines[-1]
    mode = lines[3] if owner != "missing" and len(lines) >= 5 else ""
    if writable == "writable":
        return []
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
    if owner == "missing":
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
    return [
        f"{server.service} runs as {uid}:{gid}, but the directory of its SQLite backend {directory} ({on}) is owned by "
        f"{owner} with mode {mode or '?'}: the server cannot create or write {server.sqlite_path} and fails with "
        f'"sqlite3.OperationalError: unable to open database file".{why}\n{fix}'
    ]


def _static_findings(model: StackModel) -> list[str]:
    """What the checks registered as explaining a failed start prove wrong in the files."""
    from ..checks import REGISTRY

    found = []
    for case in REGISTRY.static_cases(model, only=REGISTRY.explaining_startup()):
        try:
            case.run(model)
        except CheckFailure as failure:
            found.append(f"smartmaint::{case.name} (from the files): {failure}")
        except pytest.skip.Exception:
            continue
    return found
