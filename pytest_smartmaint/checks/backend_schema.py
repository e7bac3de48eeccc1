"""backend-schema: the registry database's schema revision is the head of the server's own MLflow migrations.

Live only: the revision is in the database, and the head in the server's image (its migration scripts, read
by live/probes/schema_history.py). Which way a mismatch goes, and what MLflow then does, is in
live/schema_mismatch.py; a server that refused its database at start is diagnosed there too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ..errors import SmartmaintError
from ..live.schema_mismatch import SchemaMismatch, heads_of, shown_uri
from ..static.database import parse_database_uri
from ..static.stack_model import StackModel
from .backend_process import stale_server
from .base import Case, Check, LiveCase, fail, not_applicable, record_facts
from .messages import no_server

if TYPE_CHECKING:
    from ..live.facts import MigrationHistory
    from ..live.stack import LiveStack

NAME = "backend-schema"


def live_cases(model: StackModel) -> list[LiveCase]:
    server = model.server
    if server is None:
        return [not_applicable(NAME, "live", no_server(model))]
    if server.sqlite_path is None and parse_database_uri(server.backend_store_uri.value) is None:
        reason = f"the backend store is {server.backend_store_uri}, which has no schema revision (not a database)"
        return [not_applicable(NAME, "live", reason, subject=server.service)]
    return [Case(NAME, "live", server.service, _live_revision, (server.service,))]


def _live_revision(stack: LiveStack) -> None:
    server = stack.model.server
    assert server is not None
    facts = stale_server(stack)
    if facts.revision is None:
        where = facts.db_error or ("it has no alembic_version table" if facts.db_exists else "it does not exist yet")
        pytest.skip(f"the backend {shown_uri(stack.model)} holds no schema revision: {where}")
    try:
        own = stack.migrations(server.service)
    except SmartmaintError as exc:
        fail(f"the migrations of {server.service}'s MLflow could not be read: {exc}")
    if not own.revisions:
        fail(f"the migrations of {server.service}'s MLflow could not be read: {own.error}")
    record_facts(revision=facts.revision, head=own.head, mlflow=own.mlflow, migrations=len(own.revisions))
    if facts.revision == own.head:
        return
    others = _other_histories(stack, server.service)
    mismatch = SchemaMismatch(
        shown_uri(stack.model), facts.revision, server.service, own, heads_of(facts.revision, others)
    )
    fail(mismatch.message())


def _other_histories(stack: LiveStack, server: str) -> dict[str, MigrationHistory]:
    """The migrations of every other service with MLflow installed: one of them may have written the revision."""
    found = {}
    for service in stack.model.roles.clients:
        try:
            if service != server and stack.facts(service).packages.get("mlflow"):  # mlflow-skinny has no alembic
                found[service] = stack.migrations(service)
        except SmartmaintError:
            continue
    return found


CHECK = Check(NAME, live=live_cases)
