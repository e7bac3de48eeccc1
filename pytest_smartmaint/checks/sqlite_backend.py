"""sqlite-backend: the registry lives in a SQLite file on a mounted directory."""

from __future__ import annotations

import posixpath

from ..stack_model import StackModel
from .base import Case, fail, not_applicable

CHECK = "sqlite-backend"


def static_cases(model: StackModel) -> list[Case]:
    server = model.server
    if server is None:
        return [not_applicable(CHECK, "static", "no MLflow server in the compose project (no service runs `mlflow server`)")]
    uri = server.backend_store_uri.value or ""
    if not uri.startswith("sqlite:"):
        reason = f"the backend store is {uri} ({server.backend_store_uri.source}), not SQLite"
        return [not_applicable(CHECK, "static", reason, subject=server.service)]
    return [Case(CHECK, "static", server.service, _check, (server.service,))]


def _check(model: StackModel) -> None:
    server = model.server
    assert server is not None
    path = server.sqlite_path
    assert path is not None
    service = model.service(server.service)
    directory = posixpath.dirname(path)
    setting = f"{server.backend_store_uri.value} ({server.backend_store_uri.source})"
    fix_mount = (
        f"Fix, in service {server.service}:\n"
        f"    command: mlflow server --backend-store-uri sqlite:///{directory} ...   (four slashes: absolute path)\n"
        f"    volumes:\n      - ./mlflow_db:{directory}"
    )
    mount = service.mount_covering(path)
    if mount is None:
        default_note = (
            f"\nWith no --backend-store-uri, MLflow 3.7+ uses sqlite:///mlflow.db, relative to the working directory "
            f"{server.workdir}."
            if server.backend_store_uri.source == "MLflow default"
            else ""
        )
        fix = fix_mount.replace(f"sqlite:///{directory}", "sqlite:////mlflow_db/mlflow.db").replace(
            f"./mlflow_db:{directory}", "./mlflow_db:/mlflow_db"
        ) if directory in ("/", server.workdir) else fix_mount.replace(f"sqlite:///{directory}", f"sqlite:///{path}")
        fail(
            f"The MLflow backend store {setting} is the file {path} in {server.service}, on no mount.{default_note}\n"
            f"The registry lives in the container's writable layer: every registered model and run is lost when "
            f"{server.service} is recreated\n(docker compose up after a change, a new image, `down`).\n{fix}"
        )
    if mount.target == path:
        fail(
            f"{server.service} mounts only the SQLite file itself ({mount.label} -> {mount.target}), not its directory.\n"
            f"SQLite writes its -journal/-wal files next to the db, which then land in the container layer; and when "
            f"{mount.label} does not exist on the host, Docker creates a directory in its place and MLflow fails "
            f"with \"unable to open database file\".\nFix, in service {server.service}, mount the directory:\n"
            f"    volumes:\n      - {posixpath.dirname(mount.label) or '.'}:{directory}"
        )
    if mount.read_only:
        fail(
            f"{server.service} mounts the directory of its SQLite backend ({mount.label} -> {mount.target}) read-only.\n"
            f"MLflow starts, then every write (create experiment, register model) fails with 503 "
            f"\"attempt to write a readonly database\".\nFix, in service {server.service}: drop :ro from "
            f"{mount.label}:{mount.target}"
        )
    if mount.kind == "tmpfs":
        fail(f"{server.service} keeps its SQLite backend {path} on a tmpfs mount: the registry is lost on every restart.")
