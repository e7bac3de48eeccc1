"""A registry database on another schema revision than the server's MLflow: which way, by how much, and the fix.

MLflow's store compares the database's alembic revision with the head of the migrations it ships
(mlflow/store/db/utils.py, ``_verify_schema``). Both directions are in MLflow's tracker:
- The database is older: "Detected out-of-date database schema (found version X, but expected Y)"
  (mlflow/mlflow#6703); the fix is a backup, then `mlflow db upgrade <uri>`. MLflow 3.17 upgrades, at
  start, without a backup, a database that lacks one of its tables (``_all_tables_exist``); the refusal
  stays for one that has them all.
- The database is newer, migrated by a newer MLflow: "Can't locate revision identified by 'X'"
  (mlflow/mlflow#12627, #16517, seen here with MLflow 3.3.1 on a 3.17.2 database), or the same
  "out-of-date" refusal, whose wording then misleads. Alembic has no way back for MLflow's migrations.

No revision is written here: each is read from the migrations in the images of the stack.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..static.stack_model import StackModel
from .compose_runner import ComposeRunner
from .facts import MigrationHistory
from .probing import probe_each

OUT_OF_DATE = re.compile(r"Detected out-of-date database schema \(found version (\w+), but expected (\w+)\)")
UNKNOWN_REVISION = re.compile(r"Can't locate revision identified by '(\w+)'")


@dataclass(frozen=True)
class SchemaMismatch:
    """A database at ``revision``, opened by ``server`` whose MLflow has ``history``."""

    uri: str  # as a message may show it (password masked)
    revision: str
    server: str
    history: MigrationHistory
    known_by: tuple[tuple[str, str], ...] = ()  # (service, MLflow release) whose migrations end at ``revision``

    @property
    def newer(self) -> bool:
        """The server's migrations do not know the revision: a newer MLflow wrote it."""
        return self.history.behind(self.revision) is None

    def message(self) -> str:
        release = self.history.mlflow or "(unknown release)"
        releases: dict[str, list[str]] = {}
        for service, version in self.known_by:
            releases.setdefault(version, []).append(service)
        heads = "; ".join(f"MLflow {v}, in the image of {' and '.join(s)}" for v, s in releases.items())
        whose = f" (the head of {heads})" if heads else ""
        if not self.newer:
            behind = self.history.behind(self.revision)
            return (
                f"the database {self.uri} is at schema revision {self.revision}{whose}, {behind} migration"
                f"{'s' if behind != 1 else ''} behind {self.server}'s MLflow {release} (head {self.history.head}): "
                f'MLflow refuses to open it ("Detected out-of-date database schema").\n'
                "  Fix: back the database up, then migrate it with the server's own image:\n"
                f"    docker compose run --rm {self.server} mlflow db upgrade {self.uri}"
            )
        newest = self.known_by[0][1] if self.known_by else "the release that migrated it"
        return (
            f"the database {self.uri} is at schema revision {self.revision}{whose}, which {self.server}'s MLflow "
            f"{release} does not know (its migrations end at {self.history.head}): a newer MLflow migrated it, and "
            f"MLflow has no downgrade. {self.server} cannot open it (\"Can't locate revision identified by "
            f'\'{self.revision}\'", or a misleading "Detected out-of-date database schema").\n'
            f"  Fix: run {self.server} on MLflow {newest} or newer (pin it in its image), or restore the backup taken "
            "before that upgrade; keep every service that opens the database itself on the server's release."
        )


def shown_uri(model: StackModel) -> str:
    """The server's backend store URI as a message shows it (Setting.shown: a password masked)."""
    server = model.server
    return (server.backend_store_uri.shown if server else None) or "<backend store URI>"


def heads_of(revision: str, histories: Mapping[str, MigrationHistory]) -> tuple[tuple[str, str], ...]:
    """The services whose MLflow's migrations end at ``revision``, with that release."""
    return tuple((s, h.mlflow or "?") for s, h in sorted(histories.items()) if h.head == revision)


def mlflow_services(model: StackModel) -> tuple[str, ...]:
    """Services whose image installs MLflow by the files, or whose image the files do not show: one per image."""
    seen: dict[str, str] = {}
    for name, service in model.project.services.items():
        image = model.images.get(name)
        if image is not None and not (image.declares("mlflow") or image.declares("mlflow-skinny")):
            continue
        seen.setdefault(service.image or name, name)
    return tuple(seen.values())


def read_histories(runner: ComposeRunner, services: Sequence[str]) -> dict[str, MigrationHistory]:
    """Each service's MLflow migrations (an exec, or a one-off container of a stopped service), read at once.

    A service where they cannot be read (no python, no MLflow) is left out: it tells nothing of the revision."""

    found = probe_each(runner, services, MigrationHistory, timeout=60)
    # no python, or it did not answer: it tells nothing
    return {s: h for s, h in found.items() if isinstance(h, MigrationHistory) and h.revisions}


def diagnose_refusal(runner: ComposeRunner, model: StackModel, service: str, logs: str) -> str | None:
    """The cause, when ``service`` (the server) refused its database for its schema revision; else None."""
    server = model.server
    if server is None or service != server.service:
        return None
    match = OUT_OF_DATE.search(logs) or UNKNOWN_REVISION.search(logs)
    if match is None:
        return None
    revision = match.group(1)
    histories = read_histories(runner, tuple(dict.fromkeys((service, *mlflow_services(model)))))
    own = histories.get(service)
    if own is None:
        return None
    return SchemaMismatch(shown_uri(model), revision, service, own, heads_of(revision, histories)).message()
