"""What sqlite-backend and database-backend both ask first: does the server run with the configured store?"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..live.facts import ServerFacts
from ..static.mlflow_server import resolve
from .base import fail

if TYPE_CHECKING:
    from ..live.stack import LiveStack


def stale_server(stack: LiveStack) -> ServerFacts:
    """The server's facts, once its running process is shown to use the backend URI the files give.

    A different URI means the container or its image predates the change (a stale image): that fails.
    """
    server = stack.model.server
    assert server is not None
    facts = stack.server_facts()
    if not facts.processes:
        fail(f"no `mlflow server` process runs in {server.service}; see its log below.")
    process = facts.processes[0]
    running = resolve(
        server.service,
        list(process.argv),
        "the running process",
        dict(process.env),
        {},
        process.cwd or server.workdir,
        server.mlflow_version,
        server.mlflow_spec,
    )
    if running.backend_store_uri.value != server.backend_store_uri.value:
        fail(
            f"{server.service} runs with --backend-store-uri {running.backend_store_uri.shown} "
            f"({running.backend_store_uri.source}), but the compose project says {server.backend_store_uri}.\n"
            f"The container or its image is stale: it was created before the change.\n"
            f"Fix: docker compose up -d --build --force-recreate {server.service}"
        )
    return facts
