"""mlflow-versions: each MLflow client's installed mlflow against the server's, read in the running containers.

What MLflow says of mixing releases, and what each verdict rests on:
- A client of a newer major release than the server fails: a 3.x client "is meant to be used with 3.x server"
  (mlflow/mlflow#16215, a 3.1 client failing on a 2.x server); the smoke model shows it live.
- A client of an older major release is a warning: MLflow 3 reads what 2.x wrote, "however, the reverse is not
  true" (the MLflow 3 FAQ: models moved to models/<model_id>, a model version's source became models:/m-<id>).
  What the old client logs itself, it reads back (tests/stacks/public-shaped: a 2.x client on a 3.3 server).
- Within one major release the same version is what MLflow recommends. A newer client "should work, but there
  is a chance that the server doesn't recognize the request parameters sent from the client, and ignore them"
  (mlflow/mlflow#14184); an older one is not documented as failing. Either is a warning.
"""

from __future__ import annotations

import functools
import warnings
from typing import TYPE_CHECKING

import pytest
from packaging.version import InvalidVersion, Version

from ..errors import SmartmaintWarning
from ..static.stack_model import StackModel
from .base import Case, Check, LiveCase, fail, not_applicable, record_facts
from .messages import no_server

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..live.stack import LiveStack

NAME = "mlflow-versions"
DISTRIBUTIONS = ("mlflow", "mlflow-skinny")


def live_cases(model: StackModel) -> list[LiveCase]:
    server = model.server
    if server is None:
        return [not_applicable(NAME, "live", no_server(model))]
    clients = [c for c in model.roles.clients if c != server.service]
    if not clients:
        return [not_applicable(NAME, "live", f"no service of the stack is a client of {server.service}")]
    return [
        Case(NAME, "live", client, functools.partial(_live_pair, client=client), (client, server.service))
        for client in clients
    ]


def installed(packages: Mapping[str, str | None]) -> tuple[str, str] | None:
    """(distribution, version) of the MLflow a container has: full mlflow first, else mlflow-skinny."""
    return next(((d, v) for d in DISTRIBUTIONS if (v := packages.get(d))), None)


def _live_pair(stack: LiveStack, client: str) -> None:
    server = stack.model.server
    assert server is not None
    served = installed(stack.facts(server.service).packages)
    if served is None:
        pytest.skip(
            f"the python on {server.service}'s PATH has no mlflow, though it runs `mlflow server`: its MLflow lives "
            "in another environment, whose release the probe cannot read"
        )
    used = installed(stack.facts(client).packages)
    if used is None:
        pytest.skip(f"{client} has no mlflow installed (it talks to {server.service} without MLflow's client)")
    record_facts(client=used[1], client_distribution=used[0], server=served[1])
    verdict = compare(client, used, server.service, served[1])
    if verdict is None:
        return
    kind, message = verdict
    if kind == "fail":
        fail(message)
    warnings.warn(SmartmaintWarning(message), stacklevel=2)


def compare(client: str, installed: tuple[str, str], server: str, served: str) -> tuple[str, str] | None:
    """None when the client's (distribution, version) agrees with the server's release; else ("fail" | "warn",
    the message)."""
    distribution, used = installed
    has = f"{client} has {distribution} {used}"
    fix = f"Fix: pin {distribution}=={served} in {client}'s image"
    try:
        mine, theirs = Version(used), Version(served)
    except InvalidVersion:
        return None if used == served else ("warn", f"{has}, and {server} runs MLflow {served}. {fix}")
    if mine == theirs:
        return None
    if mine.major != theirs.major:
        newer = mine.major > theirs.major
        which = "a newer" if newer else "an older"
        message = f"{has}, and {server} runs MLflow {served}: {which} major release. {_across(mine, theirs)}."
        if newer:
            return (
                "fail",
                f"{message}\n  Fix: move {server} to MLflow {used}, or pin {distribution}=={served} in "
                f"{client}'s image",
            )
        return ("warn", f"{message} {fix}")
    if mine > theirs:
        why = "request parameters the server does not know are ignored (mlflow/mlflow#14184)"
        return ("warn", f"{has}, newer than {server}'s MLflow {served}: {why}. {fix}")
    why = f"it works for what {used} knows, but MLflow recommends one release for the server and its clients"
    return ("warn", f"{has}, older than {server}'s MLflow {served}: {why} (mlflow/mlflow#14184). {fix}")


def _across(client: Version, server: Version) -> str:
    """Why two major releases do not mix, as MLflow says it."""
    if (client.major, server.major) == (2, 3):
        return (
            "It reads back what it logs itself, but MLflow 3 keeps models as entities of their own (models/<model_id>, "
            "sources models:/m-<id>), and what MLflow 3 clients log MLflow 2 cannot read (the MLflow 3 FAQ)"
        )
    if (client.major, server.major) == (3, 2):
        return (
            "An MLflow 3 client is meant for an MLflow 3 server (mlflow/mlflow#16215): it logs models through APIs "
            "2.x lacks"
        )
    return "MLflow promises its client and server work together within a major release only"


CHECK = Check(NAME, live=live_cases)
